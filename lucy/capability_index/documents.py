"""The text that represents a tool in the index, and its payload (pure)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from lucy.capability_index.text import humanise
from lucy.capability_index.vocabulary import OBJECT_SYNONYMS, VERB_SYNONYMS
from lucy.models import IntentTags, ToolSpec
from lucy.settings import ALL_VIEWS, View


def render_document(spec: ToolSpec, toolkit_name: str | None = None) -> str:
    """Toolkit, humanised name, description, tags and parameter names, as one text."""
    params = spec.parameters.get("properties", {})
    objects = [o.replace("_", " ") for o in spec.tags.objects]
    also = [w for w, canon in OBJECT_SYNONYMS.items() if canon in spec.tags.objects]
    also = [w for w in also if w not in " ".join(objects).split()]
    said = [w for w, canon in VERB_SYNONYMS.items() if canon in spec.tags.verbs]
    said = [w for w in said if w not in spec.tags.verbs and len(w) > 3][:6]
    parts = [
        f"{toolkit_name or spec.toolkit}: {spec.name}.",
        spec.description,
        f"Action: {' '.join(spec.tags.verbs)}"
        + (f" ({', '.join(said)})" if said else "")
        + f" {', '.join(objects)}"
        + (f" (also called {', '.join(also)})" if also else "")
        + f"; {spec.tags.domain.replace('_', ' ')}.",
    ]
    if params:
        parts.append("Parameters: " + ", ".join(humanise(p) for p in params) + ".")
    return " ".join(parts)


DOCUMENT_FORMAT = "views-2"
"""Names the recipe of the dense vector; an index built with another recipe re-embeds."""


def document_format(views: Sequence[View] = ALL_VIEWS) -> str:
    """The recipe's name for ``views``: ``DOCUMENT_FORMAT`` for all three (as indexes built
    before there was a choice record), else the views it averages."""
    chosen = tuple(v for v in ALL_VIEWS if v in views)
    return DOCUMENT_FORMAT if chosen == ALL_VIEWS else f"{DOCUMENT_FORMAT}:{'+'.join(chosen)}"


def document_views(
    spec: ToolSpec, toolkit_name: str | None = None, views: Sequence[View] = ALL_VIEWS
) -> tuple[str, ...]:
    """The texts whose embeddings are averaged into the tool's dense vector.

    One text per view of the tool: the plain text (toolkit, name, description, each parameter
    with its description), the description alone, and the signature (name and parameter
    names). A request that matches one view well stays close to the average, and no view's
    noise dominates it. The rendered document (with tags) feeds the sparse vector only: as a
    fourth view it lowered dense recall on both public sets (docs/eval.md).
    """
    params = spec.parameters.get("properties", {})
    described = [
        f"{humanise(name)} {schema.get('description', '')}".strip()
        if isinstance(schema, dict)
        else humanise(name)
        for name, schema in params.items()
    ]
    heading = f"{toolkit_name or spec.toolkit}: {spec.name}."
    texts = {
        "plain": " ".join([heading, spec.description, *described]),
        "description": spec.description,
        "signature": f"{spec.name}: {', '.join(humanise(p) for p in params)}",
    }
    return tuple(texts[v] for v in ALL_VIEWS if v in views)


def to_payload(
    spec: ToolSpec,
    *,
    embedder_id: str,
    toolkit_name: str | None = None,
    usage: dict[str, Any] | None = None,
    document_format: str = DOCUMENT_FORMAT,
    runtime: str | None = None,
) -> dict[str, Any]:
    """Everything needed to answer a request without the catalog; flags as 0/1 integers.
    ``usage`` (calls, successes), when the tool has been used, feeds its usage prior."""
    payload = {
        "slug": spec.slug,
        "toolkit": spec.toolkit,
        "toolkit_name": toolkit_name or spec.toolkit,
        "provider": spec.provider,
        "remote_name": spec.remote_name,
        "name": spec.name,
        "description": spec.description,
        "parameters": spec.parameters,
        "scopes": list(spec.scopes),
        "tags": spec.tags.model_dump(mode="json"),
        "read_only": int(spec.read_only),
        "destructive": int(spec.destructive),
        "version": spec.version,
        "content_hash": spec.content_hash,
        "embedder": embedder_id,
        "document_format": document_format,
    }
    if usage is not None:
        payload["usage"] = usage
    if runtime is not None:
        payload["runtime"] = runtime  # what ran the model (torch, onnx, ...), for the record
    return payload


def from_payload(payload: dict[str, Any]) -> ToolSpec:
    return ToolSpec(
        slug=payload["slug"],
        toolkit=payload["toolkit"],
        provider=payload["provider"],
        name=payload["name"],
        description=payload["description"],
        parameters=payload["parameters"],
        scopes=tuple(payload.get("scopes", ())),
        tags=IntentTags.model_validate(payload["tags"]),
        read_only=bool(payload["read_only"]),
        destructive=bool(payload["destructive"]),
        version=str(payload.get("version", "1")),
        remote_name=payload.get("remote_name"),
    )
