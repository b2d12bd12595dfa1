"""Where an index build's tools come from: the local catalog and every provider's listing,
merged into one ``Catalog`` with intent tags derived the same way for all of them."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Protocol

from lucy.capability_index.catalog import Catalog, load_catalog
from lucy.capability_index.tags import IntentOverrides, bundled_overrides, derive_tags
from lucy.errors import CatalogError
from lucy.models import SourceListing, ToolkitInfo, ToolSpec
from lucy.settings import Settings

LOCAL_PROVIDER = "demo"


class ListingSource(Protocol):
    """A provider that lists its tools (``lucy.providers.base.ToolSource`` fits)."""

    name: str

    async def list_tools(self) -> SourceListing: ...


def local_listing(settings: Settings) -> SourceListing | None:
    """The local catalog (``LUCY_CATALOG_PATH``, else the bundled demo one) as a listing; None
    when ``LUCY_DEMO_CATALOG`` is off."""
    if not settings.demo_catalog:
        return None
    return catalog_listing(load_catalog(settings.catalog_path))


def catalog_listing(catalog: Catalog, provider: str = LOCAL_PROVIDER) -> SourceListing:
    return SourceListing(
        provider=provider, toolkits=tuple(catalog.toolkits.values()), tools=catalog.tools
    )


async def collect_listings(sources: Sequence[ListingSource]) -> list[SourceListing]:
    """Every source's listing, read concurrently; the first failure is raised."""
    return list(await asyncio.gather(*(s.list_tools() for s in sources)))


def merge_listings(
    listings: Sequence[SourceListing], overrides: IntentOverrides | None = None
) -> Catalog:
    """One catalog from several sources. A slug or toolkit offered by two sources is a
    ``CatalogError`` naming both; every tool's intent tags are derived here."""
    overrides = overrides or bundled_overrides()
    toolkits: dict[str, ToolkitInfo] = {}
    owner: dict[str, str] = {}
    slugs: dict[str, str] = {}
    tools: list[ToolSpec] = []
    for listing in listings:
        source = listing.provider
        for info in listing.toolkits:
            if info.toolkit in owner and owner[info.toolkit] != source:
                raise CatalogError(
                    f"toolkit {info.toolkit!r} is offered by both {owner[info.toolkit]!r} and "
                    f"{source!r}; turn one source off (e.g. LUCY_DEMO_CATALOG=false) or rename "
                    "the toolkit",
                    source=source,
                )
            owner[info.toolkit] = source
            toolkits[info.toolkit] = info
        for spec in listing.tools:
            if spec.provider != source:
                raise CatalogError(
                    f"listed by {source!r} but says provider {spec.provider!r}",
                    source=source,
                    slug=spec.slug,
                )
            if spec.toolkit not in toolkits or owner[spec.toolkit] != source:
                raise CatalogError(
                    f"toolkit {spec.toolkit!r} is not among {source!r}'s toolkits",
                    source=source,
                    slug=spec.slug,
                )
            if spec.slug in slugs:
                raise CatalogError(
                    f"slug offered by both {slugs[spec.slug]!r} and {source!r}; turn one "
                    "source off (e.g. LUCY_DEMO_CATALOG=false)",
                    source=source,
                    slug=spec.slug,
                )
            slugs[spec.slug] = source
            tags = derive_tags(spec.slug, spec.toolkit, spec.name, overrides)
            tools.append(spec if spec.tags == tags else spec.model_copy(update={"tags": tags}))
    return Catalog(tools=tuple(tools), toolkits=toolkits)
