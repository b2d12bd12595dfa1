"""Replay a Slack assistant's traffic against two Lucy replicas that share one Redis and one
database, and print two figures:

1. the tool-metadata cache hit ratio in steady state (tool schemas + connected toolkits; the SLO
   says >= 80%, Lucy aims >= 95%), with auth events invalidating workspaces and an index refresh
   switching the live version half-way;
2. what Redis stopped, or paused (SIGSTOP: connections open, nothing answers), adds to the p95
   of ``POST /v1/retrieve``, against the same traffic with Redis up.

Everything is real but the provider: the bundled model, the embedded Qdrant engine (one store
both replicas read, as they would a Qdrant server), a redis-server of the benchmark's own, the
SQLite database, uvicorn on loopback, signed events through the HTTP API. The provider that says
which toolkits a workspace connected is simulated in-process (``--provider-ms`` per call, as a
Composio connected-accounts read over the internet takes).

    .venv/bin/python bench/cache_replay.py                 # about 6 minutes on 2 cores
    .venv/bin/python bench/cache_replay.py --steady 600 --latency-requests 150   # quick look
"""

from __future__ import annotations

import argparse
import json
import logging
import random
import statistics
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from bench_retrieval import QUERIES

from lucy.api import create_app
from lucy.api.signatures import SIGNATURE_HEADER, sign
from lucy.capability_index.cache_stats import KindCounts
from lucy.capability_index.catalog import Catalog, load_catalog
from lucy.capability_index.service import CapabilityIndex, make_store
from lucy.models import SourceListing
from lucy.settings import JobSettings, Settings
from lucy.testing import LoopbackServer, OwnRedis

PROVIDER = "remote"
SECRET = "cache-replay-secret"
TOOL_METADATA = ("tools", "conn")

# what people add to a request that makes its text new (a name, a number, a place)
_DETAILS = (
    "for the {n} team",
    "about ticket {n}",
    "before {n} pm",
    "for customer {n}",
    "in project {n}",
    "and mention order #{n}",
)


# -- the simulated provider -------------------------------------------------------------------


class SimulatedProvider:
    """Which toolkits each workspace (and user) connected, answered after ``latency`` seconds;
    the bench changes it and then sends the auth event, as a provider's webhook would."""

    name = PROVIDER

    def __init__(self, toolkits: Sequence[str], latency: float, rng: random.Random) -> None:
        self._toolkits = sorted(toolkits)
        self._latency = latency
        self._rng = rng
        self._state: dict[tuple[str, str | None], set[str]] = {}
        self._lock = threading.Lock()
        self.reads = 0

    def connected_toolkits(self, workspace_id: str, user_id: str | None) -> frozenset[str]:
        found = self.own_toolkits(workspace_id, None)
        return found if user_id is None else found | self.own_toolkits(workspace_id, user_id)

    def own_toolkits(self, workspace_id: str, user_id: str | None) -> frozenset[str]:
        time.sleep(self._latency)
        with self._lock:
            self.reads += 1
            low, high = (3, 12) if user_id is None else (0, 3)
            return frozenset(self._state.setdefault((workspace_id, user_id), self._pick(low, high)))

    def connect_link(self, toolkit: str, workspace_id: str, user_id: str | None) -> str | None:
        return None

    def flip(self, workspace_id: str, user_id: str | None) -> tuple[str, str]:
        """Connect or disconnect one toolkit of the workspace's, or of the user's own:
        (toolkit, change)."""
        toolkit = self._rng.choice(self._toolkits)
        low, high = (3, 12) if user_id is None else (0, 3)
        with self._lock:
            own = self._state.setdefault((workspace_id, user_id), self._pick(low, high))
            if toolkit in own:
                own.discard(toolkit)
                return toolkit, "removed"
            own.add(toolkit)
            return toolkit, "added"

    def _pick(self, low: int, high: int) -> set[str]:
        return set(self._rng.sample(self._toolkits, self._rng.randint(low, high)))


# -- the workload -----------------------------------------------------------------------------


@dataclass
class Workload:
    """Workspaces with Zipf popularity (a few busy teams, a long tail), 1-25 users with Zipf
    popularity inside each (70% of requests name the user), requests from a pool of
    Slack-assistant asks (half of them made new with a detail), and an auth event every
    ``event_every`` requests on average (half of them a person's own connection)."""

    workspaces: int
    event_every: int
    rng: random.Random
    _ws_weights: list[float] = field(init=False)
    _users: dict[str, int] = field(init=False)

    def __post_init__(self) -> None:
        self._ws_weights = [1 / (rank**1.1) for rank in range(1, self.workspaces + 1)]
        self._users = {self.workspace(i): self.rng.randint(1, 25) for i in range(self.workspaces)}

    @staticmethod
    def workspace(i: int) -> str:
        return f"T{i:05d}"

    def pick_workspace(self) -> str:
        (i,) = self.rng.choices(range(self.workspaces), weights=self._ws_weights)
        return self.workspace(i)

    def pick_user(self, workspace: str) -> str:
        users = self._users[workspace]
        (u,) = self.rng.choices(range(users), weights=[1 / (r + 1) for r in range(users)])
        return f"U{u:04d}"

    def event_owner(self) -> tuple[str, str | None]:
        """Whose connections an auth event changes: half the workspace's (an admin), half a
        person's own (their mail, their calendar)."""
        workspace = self.pick_workspace()
        return workspace, self.pick_user(workspace) if self.rng.random() < 0.5 else None

    def request(self) -> dict[str, Any]:
        workspace = self.pick_workspace()
        user = self.pick_user(workspace) if self.rng.random() < 0.7 else None
        query = self.rng.choice(QUERIES)
        if self.rng.random() < 0.5:
            query = f"{query} {self.rng.choice(_DETAILS).format(n=self.rng.randint(1, 9999))}"
        return {"query": query, "workspace_id": workspace, "user_id": user, "k": 5}

    def event_now(self) -> bool:
        return self.rng.random() < 1 / self.event_every


# -- the replicas -----------------------------------------------------------------------------


@dataclass
class Replica:
    index: CapabilityIndex
    server: LoopbackServer
    client: httpx.Client


@dataclass
class Phase:
    name: str
    latencies_ms: list[float] = field(default_factory=list)
    errors: int = 0
    events: int = 0
    event_errors: int = 0
    counts: dict[str, KindCounts] = field(default_factory=dict)

    def summary(self) -> dict[str, Any]:
        xs = sorted(self.latencies_ms)
        return {
            "requests": len(xs),
            "errors": self.errors,
            "events": self.events,
            "event_errors": self.event_errors,
            "p50_ms": round(_quantile(xs, 0.50), 2),
            "p95_ms": round(_quantile(xs, 0.95), 2),
            "p99_ms": round(_quantile(xs, 0.99), 2),
            "mean_ms": round(statistics.fmean(xs), 2) if xs else 0.0,
            "cache": {k: _kind_view(c) for k, c in sorted(self.counts.items())},
            "tool_metadata_hit_ratio": _ratio(self.counts, TOOL_METADATA),
        }


def _quantile(xs: Sequence[float], q: float) -> float:
    if not xs:
        return 0.0
    return xs[min(len(xs) - 1, int(q * len(xs)))]


def _kind_view(c: KindCounts) -> dict[str, Any]:
    return {
        "l1": c.l1,
        "l2": c.l2,
        "misses": c.misses,
        "hit_ratio": None if c.hit_ratio is None else round(c.hit_ratio, 4),
    }


def _ratio(counts: dict[str, KindCounts], kinds: Sequence[str]) -> float | None:
    total = KindCounts()
    for kind in kinds:
        total = total + counts.get(kind, KindCounts())
    return None if total.hit_ratio is None else round(total.hit_ratio, 4)


def _all_counts(replicas: Sequence[Replica]) -> dict[str, KindCounts]:
    summed: dict[str, KindCounts] = {}
    for r in replicas:
        for kind, c in r.index.cache_counts().items():
            summed[kind] = summed.get(kind, KindCounts()) + c
    return summed


def _diff(after: dict[str, KindCounts], before: dict[str, KindCounts]) -> dict[str, KindCounts]:
    return {k: c - before.get(k, KindCounts()) for k, c in after.items()}


class Replay:
    def __init__(
        self,
        replicas: Sequence[Replica],
        provider: SimulatedProvider,
        workload: Workload,
        rate: float,
        rng: random.Random,
    ) -> None:
        self.replicas = replicas
        self.provider = provider
        self.workload = workload
        self.interval = 1 / rate
        self.rng = rng

    def run(self, name: str, requests: int, *, midway: Callable[[], None] | None = None) -> Phase:
        """``requests`` paced at the rate (open loop: a late request goes at once), each to a
        random replica, with auth events mixed in; ``midway`` runs after half of them."""
        phase = Phase(name)
        before = _all_counts(self.replicas)
        next_at = time.monotonic()
        for i in range(requests):
            if midway is not None and i == requests // 2:
                midway()
                next_at = time.monotonic()
            delay = next_at - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            next_at += self.rng.expovariate(1 / self.interval)
            if self.workload.event_now():
                self._auth_event(phase)
            replica = self.rng.choice(self.replicas)
            body = self.workload.request()
            started = time.perf_counter()
            response = replica.client.post("/v1/retrieve", json=body)
            took = (time.perf_counter() - started) * 1000
            if response.status_code == 200:
                phase.latencies_ms.append(took)
            else:
                phase.errors += 1
        phase.counts = _diff(_all_counts(self.replicas), before)
        return phase

    def _auth_event(self, phase: Phase) -> None:
        workspace, user = self.workload.event_owner()
        toolkit, change = self.provider.flip(workspace, user)
        body = json.dumps(
            {
                "event_id": uuid.uuid4().hex,
                "workspace_id": workspace,
                "user_id": user,
                "toolkit": toolkit,
                "change": change,
            }
        ).encode()
        headers = {
            SIGNATURE_HEADER: sign(SECRET.encode(), body, int(time.time())),
            "content-type": "application/json",
        }
        replica = self.rng.choice(self.replicas)
        response = replica.client.post("/v1/events/auth", content=body, headers=headers)
        phase.events += 1
        if response.status_code != 200:
            phase.event_errors += 1


# -- setup ------------------------------------------------------------------------------------


def provider_listing() -> SourceListing:
    """The demo catalog's tools, listed as the remote provider's (so its reader owns their
    connection state, as Composio's would)."""
    catalog = load_catalog(None, provider=PROVIDER)
    return SourceListing(
        provider=PROVIDER, toolkits=tuple(catalog.toolkits.values()), tools=catalog.tools
    )


@dataclass
class Setup:
    redis: OwnRedis
    replicas: list[Replica]
    provider: SimulatedProvider
    listing: SourceListing


def _log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def open_replicas(
    data_dir: Path, redis: OwnRedis, listing: SourceListing, provider: SimulatedProvider
) -> list[Replica]:
    settings = Settings(
        data_dir=data_dir,
        redis_url=redis.url,
        qdrant_url=None,
        database_url=None,
        events_secret=SECRET,  # type: ignore[arg-type]
        jobs=JobSettings(in_api=False),
    )
    store = make_store(settings)  # one engine both replicas read, as they would a server
    empty = Catalog(tools=(), toolkits={})
    replicas: list[Replica] = []
    for i in range(2):
        index = CapabilityIndex(settings, store=store, catalog=empty, readers=[provider])
        if i == 0:
            _log(f"building the index of {len(listing.tools)} tools")
            index.build(listings=[listing])
        server = LoopbackServer(create_app(settings, index=index), name=f"replica-{i}")
        server.start()
        client = httpx.Client(base_url=server.url, timeout=30)
        replicas.append(Replica(index, server, client))
    return replicas


def close(replicas: Sequence[Replica]) -> None:
    for r in replicas:
        r.client.close()
        r.server.stop()
    for r in replicas:
        try:
            r.index.close()
        except Exception as exc:  # the shared store is closed by the first
            logging.getLogger(__name__).debug("closing: %s", exc)


@dataclass
class Figures:
    args: dict[str, Any]
    phases: dict[str, dict[str, Any]] = field(default_factory=dict)
    warmup: list[dict[str, Any]] = field(default_factory=list)

    def added_p95(self, name: str) -> float:
        return round(self.phases[name]["p95_ms"] - self.phases["redis up"]["p95_ms"], 2)


def run(args: argparse.Namespace) -> Figures:
    rng = random.Random(args.seed)
    listing = provider_listing()
    provider = SimulatedProvider(
        sorted({t.toolkit for t in listing.tools}), args.provider_ms / 1000, rng
    )
    workload = Workload(args.workspaces, args.event_every, rng)
    figures = Figures(vars(args))
    with OwnRedis() as redis, tempfile.TemporaryDirectory() as tmp:
        replicas = open_replicas(Path(tmp), redis, listing, provider)
        try:
            replay = Replay(replicas, provider, workload, args.rate, rng)
            _log(f"warm-up: {args.warmup} requests")
            done = 0
            while done < args.warmup:  # in windows, to show how the ratio converges
                size = min(args.window, args.warmup - done)
                window = replay.run("warm-up", size).summary()
                done += size
                figures.warmup.append(
                    {"requests": done, "tool_metadata_hit_ratio": window["tool_metadata_hit_ratio"]}
                )

            def refresh() -> None:
                _log("refresh: a new index version goes live")
                replicas[0].index.build(listings=[listing])

            _log(f"steady state: {args.steady} requests, a refresh half-way")
            steady = replay.run("steady state", args.steady, midway=refresh)
            figures.phases[steady.name] = steady.summary()
            pooled: dict[str, Phase] = {}
            for cycle in range(1, args.cycles + 1):
                for name, before, after, counted in _outages(redis):
                    before()
                    size = args.latency_requests if counted else args.recovery_requests
                    _log(f"cycle {cycle}, {name}: {size} requests")
                    phase = replay.run(name, size)
                    after()
                    if counted:
                        pooled[name] = _pool(pooled.get(name), phase)
            figures.phases.update({name: phase.summary() for name, phase in pooled.items()})
        finally:
            close(replicas)
    return figures


def _outages(
    redis: OwnRedis,
) -> Iterator[tuple[str, Callable[[], None], Callable[[], None], bool]]:
    """One cycle: (phase, before it, after it, counted). After an outage, requests that run
    while the replicas refill their caches are not counted as "redis up"."""
    nothing: Callable[[], None] = lambda: None  # noqa: E731
    yield "redis up", nothing, nothing, True
    yield "redis stopped", redis.stop, redis.start, True
    yield "recovering", nothing, nothing, False
    yield "redis paused", redis.pause, redis.resume, True
    yield "recovering", nothing, nothing, False


def _pool(into: Phase | None, phase: Phase) -> Phase:
    """The same condition's phases of every cycle as one sample (interleaving the conditions
    keeps a drift of the machine's speed from passing for a Redis effect)."""
    if into is None:
        return phase
    into.latencies_ms += phase.latencies_ms
    into.errors += phase.errors
    into.events += phase.events
    into.event_errors += phase.event_errors
    into.counts = {
        k: into.counts.get(k, KindCounts()) + phase.counts.get(k, KindCounts())
        for k in set(into.counts) | set(phase.counts)
    }
    return into


# -- report -----------------------------------------------------------------------------------


def print_report(fig: Figures) -> None:
    a = fig.args
    print()
    print(
        f"cache replay: 2 replicas, {a['workspaces']} workspaces (Zipf), {a['rate']:.0f} req/s, "
        f"an auth event per {a['event_every']} requests, provider reads {a['provider_ms']:.0f} ms"
    )
    print()
    windows = ", ".join(f"{w['requests']}: {w['tool_metadata_hit_ratio']:.1%}" for w in fig.warmup)
    print(f"warm-up, tool-metadata hit ratio per window of {a['window']} ({windows})")
    steady = fig.phases["steady state"]
    print(
        f"steady state ({steady['requests']} requests, {steady['events']} auth events, 1 refresh):"
    )
    for kind, view in steady["cache"].items():
        ratio = "-" if view["hit_ratio"] is None else f"{view['hit_ratio']:.2%}"
        print(
            f"  {kind:<6} hit ratio {ratio:>7}  "
            f"(l1 {view['l1']}, l2 {view['l2']}, misses {view['misses']})"
        )
    ratio = steady["tool_metadata_hit_ratio"]
    print(f"  tool-metadata (tools + conn) hit ratio: {ratio:.2%}   (target >= 95%)")
    print()
    print(
        f"{'phase':<16} {'requests':>8} {'errors':>6} {'p50 ms':>8} {'p95 ms':>8} "
        f"{'p99 ms':>8} {'conn hit':>9}"
    )
    for name, p in fig.phases.items():
        if name == "steady state":
            continue
        conn = p["cache"].get("conn", {}).get("hit_ratio")
        conn_s = "-" if conn is None else f"{conn:.1%}"
        print(
            f"{name:<16} {p['requests']:>8} {p['errors']:>6} {p['p50_ms']:>8.2f} "
            f"{p['p95_ms']:>8.2f} {p['p99_ms']:>8.2f} {conn_s:>9}"
        )
    print(f"(each Redis condition pooled over {a['cycles']} interleaved cycles)")
    print()
    for name in ("redis stopped", "redis paused"):
        print(f"{name}: adds {fig.added_p95(name):+.2f} ms to /v1/retrieve p95   (target < 10 ms)")


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--workspaces", type=int, default=300)
    p.add_argument("--rate", type=float, default=20.0, help="requests per second (Poisson)")
    p.add_argument("--event-every", type=int, default=25, help="requests per auth event")
    p.add_argument("--provider-ms", type=float, default=40.0, help="provider read latency")
    p.add_argument("--warmup", type=int, default=9000)
    p.add_argument("--window", type=int, default=1000, help="warm-up requests per window")
    p.add_argument("--steady", type=int, default=3000)
    p.add_argument("--latency-requests", type=int, default=300, help="per Redis phase")
    p.add_argument("--recovery-requests", type=int, default=100, help="after each outage")
    p.add_argument("--cycles", type=int, default=3, help="up / stopped / paused cycles")
    p.add_argument("--seed", type=int, default=7)
    p.add_argument("--out", type=Path, default=Path("bench/results/cache_replay.json"))
    return p.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    logging.basicConfig(level=logging.ERROR)
    args = parse_args(argv)
    figures = run(args)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(
        json.dumps(
            {
                "args": {**figures.args, "out": str(args.out)},
                "warmup": figures.warmup,
                "phases": figures.phases,
            },
            indent=1,
        )
    )
    print_report(figures)
    print(f"\nJSON: {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
