"""The schema refresh: list the providers' tools again and make a new index version live.

A plain async function: the scheduler, ``lucy jobs run refresh`` and the tests call it alike.
A full refresh lists every source; a targeted one (``toolkits``, from sync events or MCP
``tools/list_changed``) lists only the providers that own those toolkits and keeps every other
provider's tools as the live index has them. Either way the build re-embeds only tools whose
content changed, writes a new collection, and moves the live alias only after checking that
this runner still holds the job's lock: a crash or a lost lock at any step leaves the last
complete version live, and a rerun converges to what a clean run would have built.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass

from lucy.capability_index.build import BuildReport
from lucy.capability_index.service import CapabilityIndex
from lucy.capability_index.sources import ListingSource, collect_listings
from lucy.jobs.lock import Lease


@dataclass(frozen=True)
class RefreshReport:
    build: BuildReport
    listed: tuple[str, ...]
    """The providers whose tools were listed again."""
    kept: tuple[str, ...]
    """The providers whose tools were taken from the live index as they were."""

    def counts(self) -> dict[str, int]:
        return {
            "tools": self.build.tools,
            "toolkits": self.build.toolkits,
            "embedded": self.build.embedded,
            "reused": self.build.reused,
        }


async def refresh_index(
    index: CapabilityIndex,
    sources: Sequence[ListingSource],
    lease: Lease,
    *,
    toolkits: set[str] | None = None,
) -> RefreshReport:
    """A new live version from the sources (only those owning ``toolkits``, when given)."""
    chosen = list(sources)
    kept: list[str] = []
    if toolkits is not None:
        owners = index.toolkit_owners()
        wanted = {owners[t] for t in toolkits if t in owners}
        chosen = [s for s in sources if s.name in wanted]
        kept = sorted({s.name for s in sources} - wanted)
    listings = await collect_listings(chosen)
    listings += await asyncio.to_thread(index.live_listings, set(kept))
    lease.check()
    report = await asyncio.to_thread(index.build, listings=listings, before_live=lease.check)
    return RefreshReport(report, tuple(s.name for s in chosen), tuple(kept))
