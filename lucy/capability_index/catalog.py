"""Reading a tool catalog: a folder of ``<toolkit>.yaml`` files (the demo one ships here)."""

from __future__ import annotations

from dataclasses import dataclass
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import Any

import yaml
from jsonschema import Draft202012Validator
from jsonschema.exceptions import SchemaError
from pydantic import ValidationError

from lucy.capability_index.tags import IntentOverrides, bundled_overrides, derive_tags
from lucy.capability_index.yaml_text import load_yaml
from lucy.errors import CatalogError
from lucy.models import ToolkitInfo, ToolSpec

_TOOL_KEYS = frozenset(
    {"slug", "name", "description", "parameters", "scopes", "read_only", "destructive", "version"}
)


@dataclass(frozen=True)
class Catalog:
    tools: tuple[ToolSpec, ...]
    toolkits: dict[str, ToolkitInfo]

    def by_slug(self) -> dict[str, ToolSpec]:
        return {t.slug: t for t in self.tools}


def demo_catalog_dir() -> Traversable:
    return resources.files(__package__).joinpath("catalog")


def load_catalog(
    folder: Path | Traversable | None = None,
    *,
    provider: str = "demo",
    overrides: IntentOverrides | None = None,
) -> Catalog:
    """Load every ``*.yaml`` in ``folder`` (the bundled demo catalog when None).

    Raises ``CatalogError`` naming the file and tool on the first malformed entry.
    """
    root = demo_catalog_dir() if folder is None else folder
    if not root.is_dir():
        raise CatalogError("catalog folder does not exist", source=str(root))
    files = sorted((f for f in root.iterdir() if f.name.endswith(".yaml")), key=lambda f: f.name)
    if not files:
        raise CatalogError("no .yaml files in the catalog folder", source=str(root))
    overrides = overrides or bundled_overrides()
    tools: list[ToolSpec] = []
    toolkits: dict[str, ToolkitInfo] = {}
    seen: dict[str, str] = {}
    for file in files:
        info, specs = _read_toolkit(file.name, file.read_text(), provider, overrides)
        if info.toolkit in toolkits:
            raise CatalogError(f"toolkit {info.toolkit!r} defined twice", source=file.name)
        toolkits[info.toolkit] = info
        for spec in specs:
            if spec.slug in seen:
                raise CatalogError(
                    f"slug also defined in {seen[spec.slug]}", source=file.name, slug=spec.slug
                )
            seen[spec.slug] = file.name
            tools.append(spec)
    return Catalog(tools=tuple(tools), toolkits=toolkits)


def _read_toolkit(
    source: str, text: str, provider: str, overrides: IntentOverrides
) -> tuple[ToolkitInfo, list[ToolSpec]]:
    try:
        raw = load_yaml(text)
    except yaml.YAMLError as exc:
        raise CatalogError(f"not valid YAML: {exc}", source=source) from exc
    if not isinstance(raw, dict) or not isinstance(raw.get("tools"), list):
        raise CatalogError(
            "expected a mapping with 'toolkit', 'name' and a 'tools' list", source=source
        )
    try:
        info = ToolkitInfo.model_validate(
            {k: raw[k] for k in ("toolkit", "name", "description") if k in raw}
        )
    except ValidationError as exc:
        raise CatalogError(f"bad toolkit header: {exc}", source=source) from exc
    return info, [_tool(source, info.toolkit, entry, provider, overrides) for entry in raw["tools"]]


def _tool(
    source: str, toolkit: str, entry: Any, provider: str, overrides: IntentOverrides
) -> ToolSpec:
    if not isinstance(entry, dict) or "slug" not in entry:
        raise CatalogError("each tool must be a mapping with a slug", source=source)
    slug = str(entry["slug"])
    unknown = set(entry) - _TOOL_KEYS
    if unknown:
        raise CatalogError(f"unknown keys {sorted(unknown)}", source=source, slug=slug)
    params = entry.get("parameters") or {"type": "object", "properties": {}}
    try:
        Draft202012Validator.check_schema(params)
    except SchemaError as exc:
        raise CatalogError(
            f"parameters are not a JSON schema: {exc.message}", source=source, slug=slug
        ) from exc
    if params.get("type") != "object":
        raise CatalogError(
            "parameters must be a JSON schema of type object", source=source, slug=slug
        )
    missing = set(params.get("required", [])) - set(params.get("properties", {}))
    if missing:
        raise CatalogError(
            f"required fields {sorted(missing)} are not properties", source=source, slug=slug
        )
    try:
        return ToolSpec(
            slug=slug,
            toolkit=toolkit,
            provider=provider,
            name=str(entry.get("name", "")),
            description=" ".join(str(entry.get("description", "")).split()),
            parameters=params,
            scopes=tuple(entry.get("scopes") or ()),
            tags=derive_tags(slug, toolkit, str(entry.get("name", "")), overrides),
            read_only=bool(entry.get("read_only", False)),
            destructive=bool(entry.get("destructive", False)),
            version=str(entry.get("version", "1")),
        )
    except ValidationError as exc:
        raise CatalogError(str(exc), source=source, slug=slug) from exc
