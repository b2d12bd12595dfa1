import pytest

from lucy.capability_index.intents import split_intents
from lucy.capability_index.tags import (
    IntentOverrides,
    analyse_request,
    asks_for_action,
    bundled_overrides,
    derive_tags,
    mentioned_toolkits,
)
from lucy.capability_index.text import humanise, singular, words


def test_humanise_splits_identifiers() -> None:
    assert humanise("GITHUB_CREATE_ISSUE") == "github create issue"
    assert humanise("pageToken") == "page token"
    assert words("maxResults, page_token") == ["max", "results", "page", "token"]


def test_singular() -> None:
    assert [singular(w) for w in ["issues", "repositories", "messages", "status", "ss"]] == [
        "issue",
        "repository",
        "message",
        "status",
        "ss",
    ]


def test_tags_from_slug_and_name() -> None:
    tags = derive_tags("LINEAR_CREATE_ISSUE", "linear", "Create issue")
    assert tags.verbs == ("create",)
    assert tags.objects == ("issue",)
    assert tags.domain == "project_management"
    pr = derive_tags("GITHUB_CREATE_PULL_REQUEST", "github", "Create a pull request")
    assert "pull_request" in pr.objects
    quick = derive_tags("GOOGLECALENDAR_QUICK_ADD_EVENT", "googlecalendar", "Quick add event")
    assert quick.verbs[0] == "add"
    assert quick.objects == ("event",)


def test_curated_override_wins() -> None:
    overrides = IntentOverrides(
        toolkit_domains={"x": "tests"},
        tools={"X_FROB_WIDGET": {"verbs": ["update"], "objects": ["widget"]}},
    )
    tags = derive_tags("X_FROB_WIDGET", "x", "Frob widget", overrides)
    assert (tags.verbs, tags.objects, tags.domain) == (("update",), ("widget",), "tests")


def test_request_analysis() -> None:
    intent = analyse_request("open a bug in Linear for the login crash")
    assert intent.verb == "create"
    assert "issue" in intent.objects
    assert intent.toolkits == {"linear"}
    assert analyse_request("what's on my calendar this week").verb == "list"


def test_toolkit_mentions_are_whole_words() -> None:
    overrides = bundled_overrides()
    assert mentioned_toolkits("file it in linear's backlog", overrides) == {"linear"}
    assert mentioned_toolkits("nonlinear dynamics", overrides) == frozenset()
    assert mentioned_toolkits("meet on monday", overrides) == frozenset()
    assert mentioned_toolkits("post to #eng-alerts", overrides) == {"slack"}
    assert mentioned_toolkits("issue #123 is fixed", overrides) == frozenset()
    assert mentioned_toolkits("add it to Google Calendar", overrides) == {"googlecalendar"}


def test_split_intents() -> None:
    assert split_intents("file a bug in Linear and ping #eng") == [
        "file a bug in Linear",
        "ping #eng",
    ]
    assert split_intents("search for bugs and crashes") == ["search for bugs and crashes"]
    assert split_intents("create an issue, then email Bob; also schedule a call") == [
        "create an issue",
        "email Bob",
        "schedule a call",
    ]
    assert split_intents("  list my events  ") == ["list my events"]


def test_split_intents_caps_parts() -> None:
    parts = split_intents("create a; send b; delete c; list d; get e", max_parts=3)
    assert len(parts) == 3
    assert parts[-1] == "delete c list d get e"


def test_request_objects_leave_out_containers_and_join_pairs() -> None:
    from lucy.capability_index.tags import request_objects

    cal = request_objects(words("what's on my calendar this week"))
    assert "calendar" not in cal  # where, not what
    assert "event" in cal  # a time word points at scheduled things
    assert "oncall" in request_objects(words("who is on call"))
    assert "pull_request" in request_objects(words("open a pull request"))
    bug = request_objects(words("open a bug in linear"))
    assert "issue" in bug and "linear" not in bug


def test_action_nouns_add_a_verb() -> None:
    assert derive_tags("STRIPE_CREATE_REFUND", "stripe", "Create refund").verbs == (
        "create",
        "refund",
    )
    comment = derive_tags("ZENDESK_ADD_TICKET_COMMENT", "zendesk", "Add ticket comment")
    assert comment.verbs == ("add", "comment")


def test_request_verb_is_the_opening_action() -> None:
    from lucy.capability_index.tags import request_verb

    assert request_verb(words("Could you please find the Q3 deck")) == "search"
    assert request_verb(words("First, create a ticket")) == "create"
    assert request_verb(words("I'm looking for new restaurants")) is None  # "new" is no verb
    assert request_verb(words("show open issues")) == "list"
    assert request_verb(words("")) is None


@pytest.mark.parametrize(
    ("text", "asks"),
    [
        ("Retrieve the ECG sample of patient 7.", True),
        ("what's on my calendar this week", True),
        ("I would like to borrow a book from the library.", True),
        ("After that, please provide the statistics.", True),
        ("The tomatoes will be planted in loam soil.", False),
        ("I'm interested in the history of jazz.", False),
    ],
)
def test_asks_for_action(text: str, asks: bool) -> None:
    assert asks_for_action(words(text)) is asks


def test_document_views_cover_text_description_and_signature() -> None:
    from lucy.capability_index.documents import document_views
    from lucy.models import IntentTags, ToolSpec

    spec = ToolSpec(
        slug="WEATHER_GET_FORECAST",
        toolkit="weather",
        provider="test",
        name="Get forecast",
        description="The forecast for a place.",
        parameters={
            "type": "object",
            "properties": {"zipCode": {"description": "US zip code"}, "days": {}},
        },
        tags=IntentTags(verbs=("get",), objects=("forecast",), domain="weather"),
    )
    plain, description, signature = document_views(spec, "Weather Co")
    assert plain == "Weather Co: Get forecast. The forecast for a place. zip code US zip code days"
    assert description == "The forecast for a place."
    assert signature == "Get forecast: zip code, days"
