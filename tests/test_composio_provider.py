"""Contract tests of the Composio provider: the real ``composio`` SDK against the API double
over real HTTP, calls run through ``ToolExecutor`` (retries, breaker) on a fake clock."""

from __future__ import annotations

import asyncio
import random
import threading
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from lucy.errors import AuthenticationError, ConfigurationError
from lucy.models import ToolError, ToolErrorKind, ToolResult, ToolSpec
from lucy.providers.base import (
    CallContext,
    ConnectionReader,
    ProviderCallError,
    ToolProvider,
    ToolSource,
)
from lucy.providers.breaker import BreakerConfig, BreakerState
from lucy.providers.composio import ComposioProvider
from lucy.providers.composio.errors import error_from_result
from lucy.providers.composio.mapping import toolkit_id
from lucy.providers.executor import ResiliencePolicy, ToolExecutor
from lucy.settings import Settings
from lucy.testing.composio_double import (
    ACCOUNT_STATUSES,
    AUTH_CONFIGS_LIST,
    CONNECTED_ACCOUNTS_LIST,
    DEFAULT_VERSION,
    TOOLKITS_LIST,
    TOOLS_EXECUTE,
    TOOLS_LIST,
    TOOLS_RETRIEVE,
    VALIDATION_MESSAGE,
    ComposioDouble,
)

K = ToolErrorKind
READ = "GITHUB_GET_REPOSITORY"  # read-only, needs owner and repo
WRITE = "GITHUB_CREATE_ISSUE"  # a write
ARGS: dict[str, Any] = {"owner": "acme", "repo": "api", "title": "Login crash"}


class FakeClock:
    """A monotonic clock that only moves when told to; ``sleep`` moves it and is recorded."""

    def __init__(self, now: float = 1000.0) -> None:
        self.now = now
        self.sleeps: list[float] = []
        self.on_sleep: Callable[[], None] | None = None

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds
        if self.on_sleep is not None:
            self.on_sleep()


@pytest.fixture
def double() -> Iterator[ComposioDouble]:
    with ComposioDouble(page_size=4) as running:
        yield running


def make_provider(double: ComposioDouble, **kwargs: Any) -> ComposioProvider:
    options: dict[str, Any] = {"base_url": double.base_url, "timeout_seconds": 2.0}
    options.update(kwargs)
    return ComposioProvider(options.pop("api_key", double.api_key), **options)


@pytest.fixture
def provider(double: ComposioDouble) -> Iterator[ComposioProvider]:
    with make_provider(double) as made:
        yield made


@pytest.fixture
def tools(provider: ComposioProvider) -> dict[str, ToolSpec]:
    listing = asyncio.run(provider.list_tools())
    return {tool.slug: tool for tool in listing.tools}


def executor(
    provider: ComposioProvider, clock: FakeClock, policy: ResiliencePolicy | None = None
) -> ToolExecutor:
    return ToolExecutor([provider], policy, clock=clock, sleep=clock.sleep, rng=random.Random(7))


def run(
    ex: ToolExecutor,
    clock: FakeClock,
    tool: ToolSpec,
    arguments: dict[str, Any] | None = None,
    *,
    user: str | None = None,
) -> ToolResult:
    context = CallContext(workspace_id="W1", user_id=user, deadline=clock.now + 30.0)
    return asyncio.run(
        ex.run(tool, dict(ARGS if arguments is None else arguments), context, call_id="c1")
    )


def error_of(result: ToolResult) -> ToolError:
    assert result.error is not None, result
    assert result.error.kind.user_message.endswith(".")  # a sentence for the person in Slack
    return result.error


def test_it_is_all_three_provider_kinds(provider: ComposioProvider) -> None:
    source: ToolSource = provider
    reader: ConnectionReader = provider
    runner: ToolProvider = provider
    assert source.name == reader.name == runner.name == "composio"
    assert runner.accepts_idempotency_key is False


# --- listing --------------------------------------------------------------------------------


def test_lists_every_tool_across_pages(double: ComposioDouble, provider: ComposioProvider) -> None:
    listing = asyncio.run(provider.list_tools())
    assert listing.provider == "composio"
    assert [t.toolkit for t in listing.toolkits] == double.toolkit_slugs()
    assert [t.slug for t in listing.tools] == double.tool_slugs()
    # four a page: every page of both listings was read
    assert double.count(TOOLKITS_LIST) == 2
    assert double.count(TOOLS_LIST) == -(-len(listing.tools) // 4) > 1


def test_many_toolkits_are_listed_in_batches(
    double: ComposioDouble, provider: ComposioProvider
) -> None:
    for n in range(12):  # 17 toolkits: more than one toolkit filter per tools request
        double.add_toolkit(f"extra{n}", f"Extra {n}")
        double.add_tool(f"EXTRA{n}_PING", f"extra{n}", read_only=True)
    listing = asyncio.run(provider.list_tools())
    assert len(listing.toolkits) == 17
    assert [t.slug for t in listing.tools] == double.tool_slugs()


def test_tools_map_to_lucy_specs(tools: dict[str, ToolSpec]) -> None:
    read, write = tools[READ], tools[WRITE]
    assert (read.toolkit, read.provider, read.version) == ("github", "composio", DEFAULT_VERSION)
    assert read.read_only and not write.read_only
    assert read.parameters["type"] == "object" and read.parameters["required"] == ["owner", "repo"]
    assert read.scopes == ("repo",)
    assert read.tags.verbs == () and read.remote_name is None
    assert any(t.destructive for t in tools.values())


def test_toolkit_limit(double: ComposioDouble) -> None:
    with make_provider(double, toolkits=["github", "Slack"]) as limited:
        listing = asyncio.run(limited.list_tools())
    assert {t.toolkit for t in listing.toolkits} == {"github", "slack"}
    assert {t.toolkit for t in listing.tools} == {"github", "slack"}
    assert len(listing.tools) == len(double.tool_slugs(["github", "slack"]))


def test_from_settings(double: ComposioDouble) -> None:
    settings = Settings(
        composio_api_key=double.api_key,
        composio_base_url=double.base_url,
        composio_toolkits="linear, gmail",  # as LUCY_COMPOSIO_TOOLKITS arrives
        composio_timeout_seconds=3.0,
    )
    with ComposioProvider.from_settings(settings) as configured:
        listing = asyncio.run(configured.list_tools())
    assert {t.toolkit for t in listing.toolkits} == {"linear", "gmail"}
    with pytest.raises(ConfigurationError, match="LUCY_COMPOSIO_API_KEY"):
        ComposioProvider.from_settings(Settings(composio_api_key=None))


def test_toolkit_slugs_become_lucy_ids(double: ComposioDouble, provider: ComposioProvider) -> None:
    double.add_toolkit("google-maps", "Google Maps")
    double.add_tool("GOOGLE_MAPS_TEXT_SEARCH", "google-maps", read_only=True)
    listing = asyncio.run(provider.list_tools())
    maps = next(t for t in listing.tools if t.slug == "GOOGLE_MAPS_TEXT_SEARCH")
    assert maps.toolkit == "google_maps"
    double.connect("W1", "google-maps")
    assert "google_maps" in provider.connected_toolkits("W1", None)
    link = provider.connect_link("google_maps", "W1", "U1")
    assert link is not None and link.startswith(double.base_url)
    clock = FakeClock()
    assert run(executor(provider, clock), clock, maps, {}).ok


def test_a_failed_listing_raises_a_provider_error(double: ComposioDouble) -> None:
    double.fail(503, endpoints=[TOOLS_LIST])
    with make_provider(double) as failing, pytest.raises(ProviderCallError) as caught:
        asyncio.run(failing.list_tools())
    assert caught.value.kind is K.PROVIDER_UNAVAILABLE


# --- connections ----------------------------------------------------------------------------


def test_only_active_accounts_count(double: ComposioDouble, provider: ComposioProvider) -> None:
    for status in ACCOUNT_STATUSES:  # INACTIVE, EXPIRED, FAILED, INITIATED, INITIALIZING
        if status != "ACTIVE":
            for toolkit in double.toolkit_slugs():
                double.connect("W1", toolkit, status)
                double.connect("W1:U1", toolkit, status)
    assert provider.connected_toolkits("W1", None) == frozenset()
    double.connect("W1", "linear")
    double.connect("W1:U1", "slack")
    double.connect("W1:U2", "gmail")
    double.connect("W2", "github")
    assert provider.connected_toolkits("W1", None) == {"linear"}
    assert provider.connected_toolkits("W1", "U1") == {"linear", "slack"}
    assert provider.connected_toolkits("W1", "U3") == {"linear"}
    # each owner's part alone (the index caches them one by one)
    assert provider.own_toolkits("W1", None) == {"linear"}
    assert provider.own_toolkits("W1", "U1") == {"slack"}
    assert provider.own_toolkits("W1", "U3") == frozenset()


def test_connections_are_read_across_pages(
    double: ComposioDouble, provider: ComposioProvider
) -> None:
    for toolkit in double.toolkit_slugs():
        for status in ("EXPIRED", "ACTIVE"):
            double.connect("W1", toolkit, status)
    double.reset_counts()
    assert provider.connected_toolkits("W1", None) == set(double.toolkit_slugs())
    assert double.count(CONNECTED_ACCOUNTS_LIST) == 2  # five ACTIVE accounts, four a page


def test_connections_keep_to_the_configured_toolkits(double: ComposioDouble) -> None:
    double.connect("W1", "github")
    double.connect("W1", "slack")
    with make_provider(double, toolkits=["slack"]) as limited:
        assert limited.connected_toolkits("W1", None) == {"slack"}


def test_connect_link_connects(double: ComposioDouble, provider: ComposioProvider) -> None:
    link = provider.connect_link("linear", "W1", "U1")
    assert link is not None and link.startswith(double.base_url)
    assert provider.connected_toolkits("W1", "U1") == frozenset()
    assert httpx.get(link).status_code == 200  # the person completes the flow
    assert provider.connected_toolkits("W1", None) == frozenset()
    assert provider.connected_toolkits("W1", "U1") == {"linear"}
    workspace_link = provider.connect_link("gmail", "W1", None)
    assert workspace_link is not None and httpx.get(workspace_link).status_code == 200
    assert provider.connected_toolkits("W1", None) == {"gmail"}


def test_connect_link_never_raises(double: ComposioDouble, provider: ComposioProvider) -> None:
    assert provider.connect_link("notion", "W1", None) is None  # no auth config for it
    double.fail(500, endpoints=[AUTH_CONFIGS_LIST])
    assert provider.connect_link("github", "W1", None) is None
    double.clear_faults()
    double.refuse_connections()
    assert provider.connect_link("github", "W1", None) is None


def test_a_failed_connection_read_raises(
    double: ComposioDouble, provider: ComposioProvider
) -> None:
    double.fail(401, endpoints=[CONNECTED_ACCOUNTS_LIST])
    with pytest.raises(ProviderCallError) as caught:
        provider.connected_toolkits("W1", None)
    assert caught.value.kind is K.AUTH


def test_telemetry_stays_off_in_other_threads(
    double: ComposioDouble, provider: ComposioProvider
) -> None:
    from composio.core.models import _telemetry

    worker = threading.Thread(target=provider.connected_toolkits, args=("W1", "U1"))
    worker.start()
    worker.join()
    assert double.count(CONNECTED_ACCOUNTS_LIST) == 2
    assert _telemetry._thread is None  # no event queued for telemetry.composio.dev


# --- execution ------------------------------------------------------------------------------


def test_execute_sends_the_index_version(
    double: ComposioDouble, provider: ComposioProvider, tools: dict[str, ToolSpec]
) -> None:
    double.connect("W1", "github")
    clock = FakeClock()
    result = run(executor(provider, clock), clock, tools[READ])
    assert result.ok and result.attempts == 1
    assert result.data["tool"] == READ
    (call,) = double.executions
    assert (call.version, call.user_id, call.arguments) == (DEFAULT_VERSION, "W1", ARGS)


def test_execute_runs_as_the_person_when_they_connected(
    double: ComposioDouble, provider: ComposioProvider, tools: dict[str, ToolSpec]
) -> None:
    double.connect("W1", "github")
    double.connect("W1", "slack")
    double.connect("W1:U1", "github")
    clock = FakeClock()
    ex = executor(provider, clock)
    assert run(ex, clock, tools[READ], user="U1").ok
    assert run(ex, clock, tools["SLACK_LIST_CHANNELS"], {}, user="U1").ok
    assert run(ex, clock, tools[READ], user="U2").ok
    assert [c.user_id for c in double.executions] == ["W1:U1", "W1", "W1"]


def test_an_account_going_inactive(
    double: ComposioDouble, provider: ComposioProvider, tools: dict[str, ToolSpec]
) -> None:
    person = double.connect("W1:U1", "github")
    clock = FakeClock()
    ex = executor(provider, clock)
    assert run(ex, clock, tools[READ], user="U1").ok
    double.set_account_status(person, "INACTIVE")
    error = error_of(run(ex, clock, tools[READ], user="U1"))  # the cached read said ACTIVE
    assert error.kind is K.CONNECTION_REQUIRED
    assert error.details["toolkit"] == "github"
    assert error.details["connect_link"].startswith(double.base_url)
    double.connect("W1", "github")
    assert run(ex, clock, tools[READ], user="U1").ok  # the stale read was dropped
    assert [c.user_id for c in double.executions] == ["W1:U1", "W1:U1", "W1"]


def test_a_stale_version_is_an_unknown_tool(
    double: ComposioDouble, provider: ComposioProvider, tools: dict[str, ToolSpec]
) -> None:
    double.connect("W1", "github")
    double.set_tool_version(READ, "20260101_00")
    clock = FakeClock()
    error = error_of(run(executor(provider, clock), clock, tools[READ]))
    assert error.kind is K.UNKNOWN_TOOL
    assert [c.version for c in double.executions] == [DEFAULT_VERSION]


def test_an_unknown_slug_never_reaches_execute(
    double: ComposioDouble, provider: ComposioProvider
) -> None:
    ghost = ToolSpec(
        slug="GITHUB_SUMMON_GHOST", toolkit="github", provider="composio", name="x", description=""
    )
    clock = FakeClock()
    result = run(executor(provider, clock), clock, ghost)
    assert error_of(result).kind is K.UNKNOWN_TOOL
    assert result.attempts == 1
    assert double.count(TOOLS_RETRIEVE) == 1 and double.count(TOOLS_EXECUTE) == 0


Setup = Callable[[ComposioDouble], None]

FAULTS: list[tuple[str, Setup, str, ToolErrorKind, int]] = [
    # name, what the double does, tool, expected kind, attempts made
    ("no connected account", lambda d: None, READ, K.CONNECTION_REQUIRED, 1),
    ("401", lambda d: d.fail(401), READ, K.AUTH, 1),
    ("403", lambda d: d.fail(403), WRITE, K.AUTH, 1),
    ("429 storm", lambda d: d.rate_limit(retry_after=2), READ, K.RATE_LIMITED, 3),
    ("503 storm on a read", lambda d: d.fail(503), READ, K.PROVIDER_UNAVAILABLE, 3),
    ("validation failure", lambda d: d.fail_tool(VALIDATION_MESSAGE), READ, K.INVALID_ARGUMENTS, 1),
    ("tool failure", lambda d: d.fail_tool("GitHub API error: 500"), WRITE, K.EXECUTION_ERROR, 1),
    ("malformed JSON on a read", lambda d: d.malformed_json(), READ, K.PROVIDER_UNAVAILABLE, 3),
    ("timeout on a read", lambda d: d.set_latency(1.0), READ, K.TIMEOUT, 2),
    ("connection refused", lambda d: d.refuse_connections(), WRITE, K.PROVIDER_UNAVAILABLE, 3),
    ("400 other", lambda d: d.fail(400, message="Bad request"), WRITE, K.PROVIDER_ERROR, 1),
]


@pytest.mark.parametrize(
    ("setup", "slug", "kind", "attempts"),
    [pytest.param(*case[1:], id=case[0]) for case in FAULTS],
)
def test_each_fault_ends_in_its_kind(
    double: ComposioDouble,
    tools: dict[str, ToolSpec],
    setup: Setup,
    slug: str,
    kind: ToolErrorKind,
    attempts: int,
) -> None:
    with make_provider(double, timeout_seconds=0.3) as quick:
        clock = FakeClock()
        ex = executor(quick, clock)
        if kind is not K.CONNECTION_REQUIRED:
            double.connect("W1", "github")
            assert run(ex, clock, tools[slug]).ok  # warm: the SDK has read the tool's schema
            double.reset_counts()
        setup(double)
        result = run(ex, clock, tools[slug])
    error = error_of(result)
    assert (error.kind, result.attempts) == (kind, attempts)
    assert "outcome_unknown" not in error.details
    if kind is K.CONNECTION_REQUIRED:
        assert error.details["connect_link"].startswith(double.base_url)
    if kind is K.RATE_LIMITED:
        assert error.retry_after == 2.0 and clock.sleeps == [2.0, 2.0]  # Retry-After honoured


def test_wrong_api_key_is_auth(double: ComposioDouble, tools: dict[str, ToolSpec]) -> None:
    with make_provider(double, api_key="revoked") as wrong:
        clock = FakeClock()
        error = error_of(run(executor(wrong, clock), clock, tools[READ]))
    assert error.kind is K.AUTH


@pytest.mark.parametrize("fault", ["503", "429", "malformed"])
def test_a_read_recovers_after_one_fault(
    double: ComposioDouble, provider: ComposioProvider, tools: dict[str, ToolSpec], fault: str
) -> None:
    double.connect("W1", "github")
    {
        "503": lambda: double.fail(503, count=1),
        "429": lambda: double.rate_limit(count=1, retry_after=0),
        "malformed": lambda: double.malformed_json(count=1),
    }[fault]()
    clock = FakeClock()
    result = run(executor(provider, clock), clock, tools[READ])
    assert result.ok and result.attempts == 2


@pytest.mark.parametrize("fault", ["503", "timeout", "malformed"])
def test_a_write_that_may_have_run_is_attempted_once(
    double: ComposioDouble, tools: dict[str, ToolSpec], fault: str
) -> None:
    double.connect("W1", "github")
    with make_provider(double, timeout_seconds=0.3) as quick:
        clock = FakeClock()
        ex = executor(quick, clock)
        assert run(ex, clock, tools[WRITE]).ok  # warm the schema read
        double.reset_counts()
        {
            "503": lambda: double.fail(503),
            "timeout": lambda: double.set_latency(1.0),
            "malformed": lambda: double.malformed_json(),
        }[fault]()
        result = run(ex, clock, tools[WRITE])
    error = error_of(result)
    assert result.attempts == 1 and double.count(TOOLS_EXECUTE) == 1
    assert error.details["outcome_unknown"] is True


@pytest.mark.parametrize("warm", [False, True], ids=["schema read refused", "execute refused"])
def test_a_refused_write_is_retried(
    double: ComposioDouble, provider: ComposioProvider, tools: dict[str, ToolSpec], warm: bool
) -> None:
    double.connect("W1", "github")
    clock = FakeClock()
    ex = executor(provider, clock)
    if warm:
        assert run(ex, clock, tools[WRITE]).ok
        double.reset_counts()
    double.refuse_connections()
    clock.on_sleep = double.accept_connections  # listening again before the retry
    result = run(ex, clock, tools[WRITE])
    assert result.ok and result.attempts == 2
    assert double.count(TOOLS_EXECUTE) == 1


def test_a_503_storm_opens_the_breaker_then_it_closes(
    double: ComposioDouble, provider: ComposioProvider, tools: dict[str, ToolSpec]
) -> None:
    double.connect("W1", "github")
    clock = FakeClock()
    config = BreakerConfig(window_size=10, min_calls=4, open_seconds=30.0, half_open_calls=2)
    ex = executor(provider, clock, ResiliencePolicy(breaker=config))
    assert run(ex, clock, tools[READ]).ok
    double.fail(503)
    for _ in range(3):
        run(ex, clock, tools[READ])
        if ex.breakers.state("composio:github") is BreakerState.OPEN:
            break
    assert ex.breakers.state("composio:github") is BreakerState.OPEN
    before = double.total()
    for _ in range(5):
        result = run(ex, clock, tools[READ])
        error = error_of(result)
        assert (error.kind, error.details["breaker"], result.attempts) == (
            K.PROVIDER_UNAVAILABLE,
            "open",
            0,
        )
    assert double.total() == before  # failed fast: no request reached Composio
    double.clear_faults()
    clock.now += 30.0
    assert ex.breakers.state("composio:github") is BreakerState.HALF_OPEN
    assert run(ex, clock, tools[READ]).ok
    assert run(ex, clock, tools[READ]).ok
    assert ex.breakers.state("composio:github") is BreakerState.CLOSED


# --- the pure parts -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("slug", "made"),
    [
        ("github", "github"),
        ("google-maps", "google_maps"),
        ("Zoho Books", "zoho_books"),
        ("1x", None),
    ],
)
def test_toolkit_ids(slug: str, made: str | None) -> None:
    assert toolkit_id(slug) == made


@pytest.mark.parametrize(
    ("message", "kind"),
    [
        (VALIDATION_MESSAGE, K.INVALID_ARGUMENTS),
        ("1 validation error for Request\nowner\n  Field required", K.INVALID_ARGUMENTS),
        ("'repo' is a required property", K.INVALID_ARGUMENTS),
        ("Parameter 'channel' is required", K.INVALID_ARGUMENTS),
        ("No connected account found for this user", K.CONNECTION_REQUIRED),
        ("Authentication is required by the upstream API", K.EXECUTION_ERROR),
        ("Repository not found", K.EXECUTION_ERROR),
        (None, K.EXECUTION_ERROR),
    ],
)
def test_failed_results_are_classified(message: str | None, kind: ToolErrorKind) -> None:
    error = error_from_result({"data": {}, "error": message, "successful": False})
    assert error.kind is kind and error.sent and str(error)


def test_webhooks_report_each_owner_an_account_event_could_name(double: ComposioDouble) -> None:
    account = double.connect("W7:U1", "slack")
    with make_provider(double, webhook_secret="s3cret") as hooked:
        body, headers = double.account_webhook(account, "s3cret")
        changes = hooked.connection_changes(body, headers)
        assert [(c.workspace_id, c.user_id, c.toolkit, c.change) for c in changes] == [
            ("W7:U1", None, "slack", "expired"),
            ("W7", "U1", "slack", "expired"),
        ]
        assert len({c.event_id for c in changes}) == 1
        message, signed = double.account_webhook(
            account, "s3cret", event="composio.trigger.message"
        )
        assert hooked.connection_changes(message, signed) == []  # not about connections
        with pytest.raises(AuthenticationError, match="does not hold"):
            hooked.connection_changes(body.replace(b"slack", b"gmail"), headers)
    with make_provider(double) as unhooked, pytest.raises(AuthenticationError, match="SECRET"):
        unhooked.connection_changes(body, headers)


def test_lapsed_owners_are_those_whose_accounts_stopped_being_active_since(
    double: ComposioDouble,
) -> None:
    from datetime import UTC, datetime, timedelta

    kept = double.connect("W8", "github")
    lapsing = double.connect("W8:U2", "slack")
    with make_provider(double) as provider:
        assert ("W8", "U2") not in provider.lapsed_owners(None)
        before = datetime.now(UTC)
        double.set_account_status(lapsing, "EXPIRED")
        assert provider.lapsed_owners(before) == [("W8:U2", None), ("W8", "U2")]
        assert provider.lapsed_owners(datetime.now(UTC) + timedelta(hours=1)) == []
        assert ("W8", None) not in provider.lapsed_owners(None)  # github is still ACTIVE
    assert double.account_status(kept) == "ACTIVE"
