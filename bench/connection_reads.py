"""What a slow Composio costs ``/v1/retrieve``: retrieval latency while the Composio double
answers connected-account reads only after ``--latency`` seconds.

Run from the repository root::

    HF_HUB_OFFLINE=1 .venv/bin/python bench/connection_reads.py [--latency 1.0] [--requests 200]

The index holds the double's five toolkits (built once, real model, embedded Qdrant); every
workspace has github connected. Three phases, each timed in-process (``CapabilityIndex
.retrieve``, the path the HTTP route runs):

- cold: each request is the first of a new workspace (waits for Composio, at most
  ``LUCY_CONNECTION_COLD_WAIT_SECONDS``);
- warm: the same workspaces again, within the cache TTL;
- stale: again after the TTL expired (served from the last value read, refreshed behind).

It prints p50 / p95 per phase and the connected-account reads the double received.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from pathlib import Path

from lucy.capability_index.service import CapabilityIndex
from lucy.providers.composio import ComposioProvider
from lucy.settings import Settings
from lucy.testing import ComposioDouble
from lucy.testing.composio_double import CONNECTED_ACCOUNTS_LIST


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--latency", type=float, default=1.0, help="seconds per account read")
    parser.add_argument("--requests", type=int, default=200, help="warm and stale requests")
    parser.add_argument("--cold", type=int, default=10, help="new workspaces (cold requests)")
    parser.add_argument("--ttl", type=float, default=1.0, help="LUCY_CACHE_TTL_SECONDS")
    args = parser.parse_args()

    with ComposioDouble() as double, tempfile.TemporaryDirectory() as data:
        workspaces = [f"W{i}" for i in range(args.cold)]
        for workspace in workspaces:
            double.connect(workspace, "github")
        settings = Settings(
            data_dir=Path(data),
            demo_catalog=False,
            cache_ttl_seconds=args.ttl,
            composio_api_key=double.api_key,  # type: ignore[arg-type]
            composio_base_url=double.base_url,
        )
        with ComposioProvider.from_settings(settings) as composio:
            index = CapabilityIndex(settings, readers=[composio])
            index.build(listings=[asyncio.run(composio.list_tools())])
            index.warm()
            double.set_latency(args.latency, endpoints=[CONNECTED_ACCOUNTS_LIST])
            double.reset_counts()
            query = "list the open issues in the web repo"

            def timed(workspace: str) -> float:
                started = time.perf_counter()
                index.retrieve(query, workspace_id=workspace, k=5)
                return (time.perf_counter() - started) * 1000

            cold = [timed(w) for w in workspaces]
            warm = [timed(workspaces[i % len(workspaces)]) for i in range(args.requests)]
            time.sleep(args.ttl + 0.1)
            stale = [timed(workspaces[i % len(workspaces)]) for i in range(args.requests)]
            reads = double.count(CONNECTED_ACCOUNTS_LIST)
            index.close()

    print(f"Composio answers account reads after {args.latency:.2f} s; cache TTL {args.ttl} s")
    for name, times in (("cold", cold), ("warm", warm), ("stale", stale)):
        print(
            f"  {name:5}: {len(times):4} requests  p50 {_pct(times, 50):8.1f} ms  "
            f"p95 {_pct(times, 95):8.1f} ms  max {max(times):8.1f} ms"
        )
    print(f"  connected-account reads at the double: {reads}")


def _pct(values: list[float], q: int) -> float:
    if len(values) < 2:
        return values[0]
    return statistics.quantiles(values, n=100, method="inclusive")[q - 1]


if __name__ == "__main__":
    main()
