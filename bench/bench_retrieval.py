"""Retrieval benchmark: index build time, peak memory and retrieval latency at N tools.

Run from the repository root::

    .venv/bin/python bench/bench_retrieval.py [--sizes 1000,10000] [--backends torch,onnx]
        [--queries 500] [--http-requests 400] [--concurrency 1,8,32]
        [--out bench/results/retrieval.json]

Each size and embedding backend runs in its own child process (the hidden ``--one-size N``
flag), so peak RSS figures never mix between runs; the backends of a size run back to back,
so each row has the torch figure beside it from the same run. The child writes its figures as
JSON to ``--child-out``; the parent prints a table per run and a side-by-side summary, and
writes everything, plus machine info, to ``--out``. ONNX exports are kept in
``LUCY_MODEL_CACHE_DIR`` (default here: ``.lucy/models``), so only the first run makes them.

For the HTTP phase the size's process closes its index and starts the server in a process of its
own (the hidden ``--serve-one N --data-dir DIR --port P`` flags: the same synthetic catalog, the
already-built index, uvicorn on loopback), so the load-generating client and the server do not
share a GIL.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import os
import platform
import re
import resource
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import uvicorn

from lucy.api.app import create_app
from lucy.capability_index.catalog import Catalog, load_catalog
from lucy.capability_index.embedder import SentenceTransformerEmbedder
from lucy.capability_index.service import CapabilityIndex
from lucy.eval.setup import git_state
from lucy.models import RetrievalResult, ToolkitInfo, ToolSpec
from lucy.settings import Settings

ROOT = Path(__file__).resolve().parent.parent
os.environ.setdefault("LUCY_MODEL_CACHE_DIR", str(ROOT / ".lucy" / "models"))
DEFAULT_OUT = ROOT / "bench" / "results" / "retrieval.json"
WORKSPACE = "demo"  # starts with every toolkit of the catalog connected
K = 5
WARMUP_CALLS = 10
HTTP_CONCURRENCY = (1, 8, 32)
WARM_CACHE_SIZE = 2048  # Settings().query_cache_size, the production default
READY_TIMEOUT_S = 120.0  # the server process loads the model before it answers /readyz
STOP_TIMEOUT_S = 30.0  # grace after SIGTERM before the server process is killed
HTTP_TIMEOUT_S = 120.0

# Realistic requests to a Slack assistant: single and multi-intent, some naming a toolkit.
QUERIES: tuple[str, ...] = (
    "open a bug in linear for the login crash",
    "what's on my calendar this week",
    "send the Q3 report to finance by email",
    "file a bug in Linear and ping #eng",
    "create a github issue for the flaky checkout test",
    "list open pull requests on the payments repo",
    "who is on call for the api service right now",
    "trigger a pagerduty incident for the database outage",
    "show me the latest sentry errors in production",
    "schedule a 30 minute meeting with Dana tomorrow afternoon",
    "book a zoom call with the design team on friday",
    "share the onboarding doc with the new hire",
    "find the contract with Acme in google drive",
    "add a row to the hiring tracker spreadsheet",
    "create a jira ticket for the broken SSO redirect and assign it to me",
    "move the trello card for the launch checklist to done",
    "what tasks are due today in asana",
    "reply to the last support ticket from Globex in zendesk",
    "refund the last stripe charge for customer cus_123",
    "how many orders did the shopify store get yesterday",
    "update the deal stage in hubspot to closed won",
    "log a call with the Initech account in salesforce",
    "draft an email to the board about the fundraising timeline",
    "search my inbox for the invoice from AWS",
    "post the release notes in #announcements",
    "send a direct message to Priya saying I'm running late",
    "create a notion page for the sprint retro",
    "summarise the confluence page about the deploy process",
    "add the new customers to the mailchimp newsletter audience",
    "text the delivery driver the new address",
    "create a new datadog monitor for p99 latency above 500ms",
    "mute the noisy disk alert in datadog for two hours",
    "cancel my 3pm meeting and let the attendees know",
    "open a merge request in gitlab for the hotfix branch",
    "upload the signed NDA to dropbox",
    "list the files in the marketing folder on box",
    "create an airtable record for the new vendor",
    "start a thread in microsoft teams about the outage",
    "post an update in the discord community server",
    "assign the clickup task about pricing to Marco",
    "what's the status of the monday board for the website redesign",
    "show me my calendly bookings for next week",
    "reply to the intercom conversation from the trial user",
    "create a google doc with the meeting notes",
    "resolve the sentry issue and close the linked github issue",
    "create a linear issue for the memory leak, then post it in #backend",
    "find the budget spreadsheet and share it with finance",
    "email the customer a refund confirmation and update the zendesk ticket",
    "schedule the postmortem meeting and create a confluence page for it",
    "create a branch, open a pull request and request a review from Sam",
    "check who's on call, page them and post in #incidents",
    "add this lead to hubspot and send them the pricing deck by email",
    "get the weather in Berlin",
    "remind me to renew the SSL certificate next month",
    "which invoices are still unpaid",
    "merge the approved pull request for the docs site",
    "delete the duplicate contact for John Smith",
    "invite the contractor to the workspace channel",
    "export last month's support tickets to a spreadsheet",
    "set my status to out of office until Monday",
)

_EDITIONS: tuple[tuple[str, str], ...] = (
    ("Enterprise", "Enterprise edition: "),
    ("EU", "EU data residency tenant: "),
    ("Sandbox", "Sandbox account: "),
    ("Self-hosted", "Self-hosted deployment: "),
    ("Partner", "Partner workspace: "),
)
_SLUG = re.compile(r"^[A-Z][A-Z0-9_]*$")
_TOOLKIT = re.compile(r"^[a-z][a-z0-9_]*$")
_REGIONS: tuple[str, ...] = ("eu-west-1", "us-east-1", "ap-southeast-2", "ca-central-1")


# -- catalog synthesis ---------------------------------------------------------------------


def synthesise_catalog(n: int) -> Catalog:
    """The demo catalog's tools, then ``<toolkit>_x2``, ``_x3``... variants, cut to ``n`` tools.

    A variant copies a real toolkit's tools under a new slug prefix, with the description given
    an edition prefix and a region/instance suffix so that no two texts are identical.
    """
    if n < 1:
        raise ValueError("a catalog needs at least one tool")
    base = load_catalog()
    per_toolkit: dict[str, list[ToolSpec]] = {}
    for spec in base.tools:
        per_toolkit.setdefault(spec.toolkit, []).append(spec)
    specs = list(base.tools[:n])
    toolkits = {tk: base.toolkits[tk] for tk in dict.fromkeys(s.toolkit for s in specs)}
    copy = 2
    while len(specs) < n:
        label, prefix = _EDITIONS[(copy - 2) % len(_EDITIONS)]
        region = _REGIONS[(copy - 2) // len(_EDITIONS) % len(_REGIONS)]
        for toolkit, tools in per_toolkit.items():
            if len(specs) >= n:
                break
            info = base.toolkits[toolkit]
            new_id = f"{toolkit}_x{copy}"
            old_prefix, new_prefix = toolkit.upper() + "_", new_id.upper() + "_"
            toolkits[new_id] = ToolkitInfo(
                toolkit=new_id,
                name=f"{info.name} {label} {copy}",
                description=f"{prefix}{info.description}",
            )
            suffix = f"(Hosted in {region}, instance {copy}.)"
            for spec in tools[: n - len(specs)]:
                update = {
                    "slug": new_prefix + spec.slug.removeprefix(old_prefix),
                    "toolkit": new_id,
                    "description": f"{prefix}{spec.description} {suffix}",
                }
                specs.append(spec.model_copy(update=update))
        copy += 1
    _check(specs, toolkits)
    return Catalog(tools=tuple(specs), toolkits=toolkits)


def _check(specs: Sequence[ToolSpec], toolkits: dict[str, ToolkitInfo]) -> None:
    """``model_copy`` skips validation: re-check what the catalog loader would have refused."""
    slugs = [s.slug for s in specs]
    if len(set(slugs)) != len(slugs):
        raise ValueError("synthesised catalog has duplicate slugs")
    if len({s.description for s in specs}) != len(specs):
        raise ValueError("synthesised catalog has identical descriptions")
    for spec in specs:
        if not (_SLUG.match(spec.slug) and _TOOLKIT.match(spec.toolkit)):
            raise ValueError(f"bad slug or toolkit id: {spec.slug} / {spec.toolkit}")
        if spec.toolkit not in toolkits or not spec.slug.startswith(spec.toolkit.upper() + "_"):
            raise ValueError(f"{spec.slug} does not belong to a known toolkit")


def catalog_digest(catalog: Catalog) -> str:
    """A fingerprint of every tool and toolkit, to check two processes synthesised the same one."""
    digest = hashlib.sha256()
    for spec in catalog.tools:
        digest.update(spec.model_dump_json().encode() + b"\n")
    for toolkit in sorted(catalog.toolkits):
        digest.update(catalog.toolkits[toolkit].model_dump_json().encode() + b"\n")
    return digest.hexdigest()


# -- measuring -----------------------------------------------------------------------------


def peak_rss_mib() -> float:
    """This process's peak resident set size so far (ru_maxrss: KiB on Linux, bytes on macOS)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (1024 * 1024) if sys.platform == "darwin" else peak / 1024


def _proc_stat() -> list[int] | None:
    """System-wide CPU jiffies from /proc/stat (user nice system idle iowait irq softirq steal)."""
    try:
        fields = Path("/proc/stat").read_text().split("\n", 1)[0].split()
    except OSError:
        return None
    return [int(x) for x in fields[1:9]]


def _own_cpu_s() -> float:
    """CPU time of this process and of its reaped children (the HTTP server process)."""
    total = 0.0
    for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN):
        usage = resource.getrusage(who)
        total += usage.ru_utime + usage.ru_stime
    return total


class LoadMeter:
    """How busy the machine was with *other* work while this process ran (Linux only).

    "Other" excludes this process and its children once reaped, so the HTTP server process,
    which has exited and been waited for by the time ``read`` is called, counts as our own.
    """

    def __init__(self) -> None:
        self._stat = _proc_stat()
        self._own = _own_cpu_s()
        self._wall = time.perf_counter()

    def read(self) -> dict[str, float] | None:
        end = _proc_stat()
        if self._stat is None or end is None:
            return None
        tick = os.sysconf("SC_CLK_TCK")
        delta = [b - a for a, b in zip(self._stat, end, strict=True)]
        busy_s = (delta[0] + delta[1] + delta[2] + delta[5] + delta[6]) / tick
        own_s = _own_cpu_s() - self._own
        wall = time.perf_counter() - self._wall
        capacity = wall * (os.cpu_count() or 1)
        return {
            "wall_s": wall,
            "own_cpu_s": own_s,
            "other_cpu_s": max(busy_s - own_s, 0.0),
            "steal_s": delta[7] / tick,
            "other_share": max(busy_s - own_s, 0.0) / capacity,
            "steal_share": delta[7] / tick / capacity,
        }


def summarise(samples_ms: Sequence[float]) -> dict[str, float]:
    if len(samples_ms) < 2:
        raise ValueError("need at least two samples for percentiles")
    cuts = statistics.quantiles(samples_ms, n=100, method="inclusive")
    return {
        "n": len(samples_ms),
        "p50_ms": cuts[49],
        "p95_ms": cuts[94],
        "p99_ms": cuts[98],
        "mean_ms": statistics.fmean(samples_ms),
        "max_ms": max(samples_ms),
    }


def cycle(queries: Sequence[str], count: int, start: int = 0) -> Iterator[str]:
    for i in range(count):
        yield queries[(start + i) % len(queries)]


def time_retrievals(
    retrieve: Callable[[str], RetrievalResult], queries: Iterator[str]
) -> dict[str, Any]:
    """Latency of each call, plus the mean of the retriever's own stage timings."""
    latencies: list[float] = []
    embed: list[float] = []
    search: list[float] = []
    rescore: list[float] = []
    intents = 0
    empty = 0
    for query in queries:
        started = time.perf_counter()
        result = retrieve(query)
        latencies.append((time.perf_counter() - started) * 1000)
        embed.append(result.timings.embed_ms)
        search.append(result.timings.search_ms)
        rescore.append(result.timings.rescore_ms)
        intents += len(result.intents)
        empty += not result.candidates
    return {
        **summarise(latencies),
        "stage_mean_ms": {
            "embed": statistics.fmean(embed),
            "search": statistics.fmean(search),
            "rescore": statistics.fmean(rescore),
        },
        "intents_per_query": intents / len(latencies),
        "empty_results": empty,
    }


def bench_in_process(index: CapabilityIndex, settings: Settings, queries: int) -> dict[str, Any]:
    embedder = index.embedder
    assert isinstance(embedder, SentenceTransformerEmbedder)

    def cold(q: str) -> RetrievalResult:
        embedder.clear_cache()  # every call runs the model
        return index.retrieve(q, workspace_id=WORKSPACE, k=K)

    for q in cycle(QUERIES, WARMUP_CALLS):
        cold(q)
    cold_fig = time_retrievals(cold, cycle(QUERIES, queries, start=WARMUP_CALLS))

    def warm(q: str) -> RetrievalResult:
        return index.retrieve(q, workspace_id=WORKSPACE, k=K)

    for q in cycle(QUERIES, len(QUERIES) + WARMUP_CALLS):  # every query's vector is cached
        warm(q)
    warm_fig = time_retrievals(warm, cycle(QUERIES, queries, start=WARMUP_CALLS))
    return {"cold": cold_fig, "warm": warm_fig}


def bench_http(
    n: int,
    data_dir: Path,
    torch_threads: int,
    requests: int,
    digest: str,
    *,
    backend: str,
    concurrency: Sequence[int],
) -> dict[str, Any]:
    """Serve the built index from a separate process; at each of ``concurrency``, that many
    clients POST /v1/retrieve.

    The index in ``data_dir`` must be closed by this process first: the embedded Qdrant shard
    folder is locked by whichever process has it open.
    """
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))  # let the OS pick a free port; the server binds it again
        port = sock.getsockname()[1]
    base = f"http://127.0.0.1:{port}"
    cmd = [
        sys.executable,
        str(Path(__file__).resolve()),
        "--serve-one",
        str(n),
        "--data-dir",
        str(data_dir),
        "--port",
        str(port),
        "--torch-threads",
        str(torch_threads),
        "--catalog-digest",
        digest,
        "--backends",
        backend,
    ]
    t0 = time.perf_counter()
    server = subprocess.Popen(cmd, cwd=ROOT, stdin=subprocess.DEVNULL)
    try:
        _wait_ready(base, server)
        _log(f"[{n}] HTTP: server process {server.pid} ready in {time.perf_counter() - t0:.1f} s")
        return {str(c): asyncio.run(_drive_http(base, requests, c)) for c in concurrency}
    finally:
        _stop(server)


def _wait_ready(base: str, server: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + READY_TIMEOUT_S
    with httpx.Client(base_url=base, timeout=5.0, trust_env=False) as client:
        while time.monotonic() < deadline:
            if server.poll() is not None:
                raise RuntimeError(
                    f"the server process exited with code {server.returncode} before it was ready"
                )
            try:
                if client.get("/readyz").status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.1)
    raise TimeoutError(f"{base}/readyz did not answer 200 within {READY_TIMEOUT_S:.0f}s")


def _stop(server: subprocess.Popen[bytes]) -> None:
    """SIGTERM (uvicorn shuts down gracefully), then SIGKILL if it has not exited in time."""
    if server.poll() is None:
        server.terminate()
        try:
            server.wait(timeout=STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            _log(f"server process {server.pid} ignored SIGTERM for {STOP_TIMEOUT_S:.0f}s; killing")
            server.kill()
            server.wait()
    if server.returncode not in (0, -signal.SIGTERM):
        _log(f"server process {server.pid} exited with code {server.returncode}")


def serve_one(
    n: int,
    data_dir: Path,
    port: int,
    torch_threads: int | None,
    digest: str | None,
    backend: str,
) -> int:
    """The HTTP server process: serve the index the benchmark process built, on ``port``."""
    catalog = synthesise_catalog(n)
    if digest is not None and catalog_digest(catalog) != digest:
        _log("serve-one: the synthesised catalog differs from the benchmark process's one")
        return 2
    settings = Settings(
        data_dir=data_dir,
        query_cache_size=0,
        qdrant_url=None,
        redis_url=None,
        embedding_backend=backend,  # type: ignore[arg-type]
    )
    if torch_threads is not None:
        settings = settings.model_copy(update={"torch_threads": torch_threads})
    index = CapabilityIndex(settings, catalog=catalog)
    try:
        server = uvicorn.Server(
            uvicorn.Config(
                create_app(settings, index=index),
                host="127.0.0.1",
                port=port,
                log_level="warning",
                loop="uvloop",
                http="httptools",
            )
        )
        _exit_with_parent(server)
        server.run()
    finally:
        index.close()
    return 0


def _exit_with_parent(server: uvicorn.Server) -> None:
    """Shut the server down if the benchmark process dies without stopping it."""
    parent = os.getppid()

    def watch() -> None:
        while not server.should_exit:
            if os.getppid() != parent:
                server.should_exit = True
                return
            time.sleep(1.0)

    threading.Thread(target=watch, name="bench-parent-watch", daemon=True).start()


async def _drive_http(base: str, total: int, concurrency: int) -> dict[str, Any]:
    latencies: list[float] = []
    errors: dict[str, int] = {}
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(
        base_url=base, timeout=HTTP_TIMEOUT_S, limits=limits, trust_env=False
    ) as client:

        async def post(query: str) -> float:
            body = {"query": query, "workspace_id": WORKSPACE, "k": K}
            started = time.perf_counter()
            response = await client.post("/v1/retrieve", json=body)
            elapsed = (time.perf_counter() - started) * 1000
            if response.status_code != 200:
                errors[str(response.status_code)] = errors.get(str(response.status_code), 0) + 1
            return elapsed

        # Warm-up: open the connections and the server's thread pool; not counted.
        await asyncio.gather(*(post(q) for q in cycle(QUERIES, concurrency)))
        errors.clear()
        queue = iter(list(cycle(QUERIES, total, start=concurrency)))

        async def worker() -> None:
            for query in queue:  # one shared iterator: each request is sent exactly once
                latencies.append(await post(query))

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        wall = time.perf_counter() - started
    return {
        **summarise(latencies),
        "concurrency": concurrency,
        "query_cache": "off",
        "wall_s": wall,
        "throughput_rps": len(latencies) / wall,
        "errors": errors,
    }


def run_one_size(
    n: int,
    queries: int,
    http_requests: int,
    torch_threads: int | None = None,
    *,
    backend: str = "onnx",
    concurrency: Sequence[int] = HTTP_CONCURRENCY,
) -> dict[str, Any]:
    """Everything for one catalog size, in this (child) process."""
    started = time.perf_counter()
    meter = LoadMeter()
    t0 = time.perf_counter()
    catalog = synthesise_catalog(n)
    synth_s = time.perf_counter() - t0
    _log(f"[{n}] catalog: {len(catalog.tools)} tools, {len(catalog.toolkits)} toolkits")
    with tempfile.TemporaryDirectory(prefix="lucy-bench-") as tmp:
        # Embedded Qdrant and in-process cache whatever LUCY_* says; the production-size query
        # cache, emptied before every cold call
        settings = Settings(
            data_dir=Path(tmp),
            query_cache_size=WARM_CACHE_SIZE,
            qdrant_url=None,
            redis_url=None,
            embedding_backend=backend,  # type: ignore[arg-type]
        )
        if torch_threads is not None:
            settings = settings.model_copy(update={"torch_threads": torch_threads})
        t0 = time.perf_counter()
        index = CapabilityIndex(settings, catalog=catalog)
        load_s = time.perf_counter() - t0
        rss_load = peak_rss_mib()
        try:
            _log(f"[{n}] building (fresh)")
            t0 = time.perf_counter()
            fresh = index.build()
            fresh_s = time.perf_counter() - t0
            _log(f"[{n}] building (unchanged)")
            t0 = time.perf_counter()
            again = index.build()
            again_s = time.perf_counter() - t0
            rss_build = peak_rss_mib()
            _log(f"[{n}] in-process retrieval: {queries} cold + {queries} warm")
            latency = bench_in_process(index, settings, queries)
            status = index.status()
        finally:
            index.close()  # releases the shard folder's lock for the server process
        _log(f"[{n}] HTTP: {http_requests} requests at concurrency {list(concurrency)}")
        http = bench_http(
            n,
            settings.data_dir,
            settings.torch_threads,
            http_requests,
            catalog_digest(catalog),
            backend=backend,
            concurrency=concurrency,
        )
        rss_queries = peak_rss_mib()

    import torch

    return {
        "tools": len(catalog.tools),
        "toolkits": len(catalog.toolkits),
        "catalog_synthesis_s": synth_s,
        "model_load_s": load_s,
        "build_fresh": {
            "seconds": fresh_s,
            "tools_per_s": len(catalog.tools) / fresh_s,
            "embedded": fresh.embedded,
            "reused": fresh.reused,
        },
        "build_unchanged": {
            "seconds": again_s,
            "tools_per_s": len(catalog.tools) / again_s,
            "embedded": again.embedded,
            "reused": again.reused,
        },
        "peak_rss_mib": {
            "after_model_load": rss_load,
            "after_build": rss_build,
            "after_queries": rss_queries,
        },
        "retrieval_in_process": latency,
        "retrieval_http": http,
        "backend": status["backend"],
        "embedding_backend": backend,
        "embedder": status["embedder"],
        "torch": {
            "version": torch.__version__,
            "threads": torch.get_num_threads(),
            "interop_threads": torch.get_num_interop_threads(),
            "settings_torch_threads": settings.torch_threads,
        },
        "machine_load": meter.read(),
        "wall_s": time.perf_counter() - started,
    }


# -- orchestration and output --------------------------------------------------------------


def _log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def machine_info() -> dict[str, Any]:
    state = git_state(ROOT)
    return {
        "cpu_count": os.cpu_count(),
        "cpus_usable": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "machine": platform.machine(),
        "processor": platform.processor() or None,
        "git_commit": state[0] if state else None,
        "git_dirty": state[1] if state else False,
    }


def run_child(n: int, backend: str, args: argparse.Namespace) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="lucy-bench-out-") as tmp:
        out = Path(tmp) / "size.json"
        cmd = [
            sys.executable,
            str(Path(__file__).resolve()),
            "--one-size",
            str(n),
            "--queries",
            str(args.queries),
            "--http-requests",
            str(args.http_requests),
            "--child-out",
            str(out),
            "--backends",
            backend,
            "--concurrency",
            args.concurrency,
        ]
        if args.torch_threads is not None:
            cmd += ["--torch-threads", str(args.torch_threads)]
        subprocess.run(cmd, check=True, cwd=ROOT)
        loaded: dict[str, Any] = json.loads(out.read_text())
        return loaded


def print_table(fig: dict[str, Any]) -> None:
    fresh, again, rss = fig["build_fresh"], fig["build_unchanged"], fig["peak_rss_mib"]
    lat, http = fig["retrieval_in_process"], fig["retrieval_http"]
    rows = [
        ("in-process, cold cache", lat["cold"]),
        ("in-process, warm cache", lat["warm"]),
        *((f"HTTP, concurrency {c}", h) for c, h in http.items()),
    ]
    print()
    print(
        f"== {fig['tools']} tools in {fig['toolkits']} toolkits, {fig['embedding_backend']}"
        f" ({fig['backend']}, {fig['torch']['threads']} threads) =="
    )
    print(f"  model load              {fig['model_load_s']:8.2f} s")
    print(
        f"  build, fresh            {fresh['seconds']:8.2f} s  {fresh['tools_per_s']:8.1f} tools/s"
        f"  (embedded {fresh['embedded']})"
    )
    print(
        f"  build, unchanged        {again['seconds']:8.2f} s  {again['tools_per_s']:8.1f} tools/s"
        f"  (reused {again['reused']})"
    )
    print(
        f"  peak RSS (MiB)          load {rss['after_model_load']:.0f}"
        f"  build {rss['after_build']:.0f}  queries {rss['after_queries']:.0f}"
    )
    print()
    print(f"  {'latency (ms)':<26}{'n':>6}{'p50':>9}{'p95':>9}{'p99':>9}{'mean':>9}{'max':>9}")
    for label, s in rows:
        print(
            f"  {label:<26}{s['n']:>6}{s['p50_ms']:>9.1f}{s['p95_ms']:>9.1f}"
            f"{s['p99_ms']:>9.1f}{s['mean_ms']:>9.1f}{s['max_ms']:>9.1f}"
        )
    for c, h in http.items():
        print(
            f"  HTTP throughput at concurrency {c}: {h['throughput_rps']:.1f} req/s"
            f" ({h['wall_s']:.1f} s wall, errors {h['errors'] or 'none'})"
        )
    print("  HTTP server ran in a separate process from the client (uvicorn, 1 worker)")
    for label in ("cold", "warm"):
        stages = lat[label]["stage_mean_ms"]
        print(
            f"  {label} stage means: embed {stages['embed']:.1f} ms,"
            f" search {stages['search']:.1f} ms, rescore {stages['rescore']:.1f} ms"
            f" ({lat[label]['intents_per_query']:.2f} intents/query)"
        )
    load = fig.get("machine_load")
    if load:
        print(
            f"  other processes used {load['other_share']:.0%} of the CPUs during this size"
            f" ({load['other_cpu_s']:.0f} CPU-s; steal {load['steal_share']:.0%})"
        )


def print_comparison(figs: Sequence[dict[str, Any]]) -> None:
    """One line per figure, a column per (size, backend): the issue's table."""
    cols = [(f"{f['tools']} {f['embedding_backend']}", f) for f in figs]
    if not cols:
        return
    lines: list[tuple[str, Callable[[dict[str, Any]], str]]] = [
        ("build, fresh s", lambda f: f"{f['build_fresh']['seconds']:.1f}"),
        ("build, unchanged s", lambda f: f"{f['build_unchanged']['seconds']:.2f}"),
        ("peak RSS MiB", lambda f: f"{f['peak_rss_mib']['after_queries']:.0f}"),
        ("in-process cold p95 ms", lambda f: f"{f['retrieval_in_process']['cold']['p95_ms']:.1f}"),
        ("in-process warm p95 ms", lambda f: f"{f['retrieval_in_process']['warm']['p95_ms']:.1f}"),
    ]
    for c in figs[0]["retrieval_http"]:
        lines.append(
            (f"HTTP c={c} p95 ms", lambda f, c=c: f"{f['retrieval_http'][c]['p95_ms']:.1f}")
        )
        lines.append(
            (f"HTTP c={c} req/s", lambda f, c=c: f"{f['retrieval_http'][c]['throughput_rps']:.1f}")
        )
    print()
    print(f"  {'':<24}" + "".join(f"{name:>16}" for name, _ in cols))
    for label, cell in lines:
        print(f"  {label:<24}" + "".join(f"{cell(f):>16}" for _, f in cols))


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0] if __doc__ else None)
    parser.add_argument(
        "--sizes", default="1000,10000", help="comma-separated catalog sizes (tools)"
    )
    parser.add_argument("--queries", type=int, default=500, help="timed in-process calls per run")
    parser.add_argument("--http-requests", type=int, default=400, help="timed HTTP requests")
    parser.add_argument(
        "--torch-threads",
        type=int,
        default=None,
        help="override Settings.torch_threads (default: LUCY_TORCH_THREADS or 2)",
    )
    parser.add_argument(
        "--backends",
        default="torch,onnx",
        help="comma-separated embedding backends (LUCY_EMBEDDING_BACKEND values) to run",
    )
    parser.add_argument(
        "--concurrency",
        default=",".join(str(c) for c in HTTP_CONCURRENCY),
        help="comma-separated HTTP client concurrencies",
    )
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="JSON results file")
    parser.add_argument("--one-size", type=int, default=None, help=argparse.SUPPRESS)
    parser.add_argument("--child-out", type=Path, default=None, help=argparse.SUPPRESS)
    parser.add_argument("--serve-one", type=int, default=None, help=argparse.SUPPRESS)
    parser.add_argument("--data-dir", type=Path, default=None, help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, default=None, help=argparse.SUPPRESS)
    parser.add_argument("--catalog-digest", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.queries < 2 or args.http_requests < 2:
        parser.error("--queries and --http-requests need at least 2 (for percentiles)")
    try:
        args.size_list = [int(s) for s in args.sizes.split(",") if s.strip()]
    except ValueError:
        parser.error(f"--sizes must be comma-separated integers, got {args.sizes!r}")
    args.backend_list = [b.strip() for b in args.backends.split(",") if b.strip()]
    unknown = set(args.backend_list) - {"torch", "onnx", "onnx-int8"}
    if unknown or not args.backend_list:
        parser.error(f"--backends takes torch, onnx, onnx-int8; got {args.backends!r}")
    try:
        args.concurrency_list = [int(c) for c in args.concurrency.split(",") if c.strip()]
    except ValueError:
        parser.error(f"--concurrency must be comma-separated integers, got {args.concurrency!r}")
    if not args.concurrency_list or min(args.concurrency_list) < 1:
        parser.error("--concurrency needs positive integers")
    if args.torch_threads is not None and args.torch_threads < 1:
        parser.error("--torch-threads must be at least 1")
    if not args.size_list or min(args.size_list) < 1:
        parser.error("--sizes needs at least one positive size")
    if args.one_size is not None and args.child_out is None:
        parser.error("--one-size needs --child-out")
    if args.serve_one is not None and (args.data_dir is None or args.port is None):
        parser.error("--serve-one needs --data-dir and --port")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    if args.serve_one is not None:
        return serve_one(
            args.serve_one,
            args.data_dir,
            args.port,
            args.torch_threads,
            args.catalog_digest,
            args.backend_list[0],
        )
    if args.one_size is not None:
        fig = run_one_size(
            args.one_size,
            args.queries,
            args.http_requests,
            args.torch_threads,
            backend=args.backend_list[0],
            concurrency=args.concurrency_list,
        )
        args.child_out.write_text(json.dumps(fig))
        return 0

    started = time.perf_counter()
    machine = machine_info()
    load_before = os.getloadavg()
    print(
        f"{machine['cpu_count']} CPUs, Python {machine['python']}, "
        f"load average {load_before[0]:.2f}; sizes {args.size_list}, "
        f"{args.queries} queries, {args.http_requests} HTTP requests"
    )
    sizes: list[dict[str, Any]] = []
    for n in args.size_list:
        for backend in args.backend_list:
            fig = run_child(n, backend, args)
            print_table(fig)
            sizes.append(fig)
    print_comparison(sizes)
    wall = time.perf_counter() - started
    load_after = os.getloadavg()
    if sizes:
        machine["torch"] = sizes[0]["torch"]
    report = {
        "benchmark": "retrieval",
        "finished_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": machine,
        "load_average": {"before": list(load_before), "after": list(load_after)},
        "params": {
            "sizes": args.size_list,
            "queries": args.queries,
            "http_requests": args.http_requests,
            "k": K,
            "workspace_id": WORKSPACE,
            "warmup_calls": WARMUP_CALLS,
            "distinct_queries": len(QUERIES),
            "torch_threads": args.torch_threads,
            "backends": args.backend_list,
            "concurrency": args.concurrency_list,
        },
        "sizes": sizes,
        "wall_s": wall,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n")
    print()
    print(f"total wall time {wall:.1f} s; load average now {load_after[0]:.2f}")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
