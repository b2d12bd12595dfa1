"""Message tools over the demo messages, in Slack's and Gmail's shapes, newest first.

Slack search reads ``in:``, ``from:``, ``before:``, ``after:``, ``on:`` and ``has:`` (the demo
messages have no links, files or reactions, so ``has:`` matches nothing). Gmail search reads
``from:``, ``to:``, ``subject:``, ``label:``, ``is:``, ``in:``, ``after:``, ``before:``,
``newer_than:``, ``older_than:`` and ``has:``. Other words must all appear in the message.

Gmail list and search results carry each message's labels, snippet and From/To/Subject/Date
headers; the real ``users.messages.list`` returns only ids, which would make every demo answer
one GMAIL_GET_MESSAGE call per message.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from email.utils import format_datetime
from typing import Any

from lucy.providers.demo.data import DemoData, Message
from lucy.providers.demo.request import ToolRequest, bad_request, window
from lucy.providers.demo.search import has_words, parse_query

SLACK_CHANNEL_IDS = {
    "general": "C01GENERAL",
    "engineering": "C02ENGINEERING",
    "incidents": "C03INCIDENTS",
    "design": "C04DESIGN",
    "random": "C05RANDOM",
}
_AGE = re.compile(r"^(?P<n>\d+)(?P<unit>[dmy])$")
_AGE_DAYS = {"d": 1, "m": 30, "y": 365}

Predicate = Callable[[Message], bool]


# --- Slack ----------------------------------------------------------------------------------


def slack_search_messages(data: DemoData, request: ToolRequest) -> dict[str, Any]:
    """SLACK_SEARCH_MESSAGES: ``{"ok", "query", "messages": {"matches", "total", "paging"}}``."""
    text = request.string("query")
    if text is None:
        raise bad_request("query is required", argument="query")
    query = parse_query(text, operators=("in", "from", "before", "after", "on", "has"))
    checks = [_slack_check(data, op, value) for op, value in query.qualifiers]
    found = [
        m
        for m in data.messages
        if m.source == "slack" and has_words(query.words, m.text) and all(c(m) for c in checks)
    ]
    if request.string("sort_dir") == "asc":
        found.reverse()
    count = request.page_size()
    page = request.integer("page", 1, minimum=1)
    items, _ = window(found, (page - 1) * count, count)
    return {
        "ok": True,
        "query": text,
        "messages": {
            "total": len(found),
            "matches": [_slack_match(data, m) for m in items],
            "paging": {
                "count": count,
                "total": len(found),
                "page": page,
                "pages": math.ceil(len(found) / count),
            },
        },
    }


def _slack_check(data: DemoData, op: str, value: str) -> Predicate:
    if op == "in":
        channel = value.strip("<>#").split("|")[-1].lower()
        by_id = {v.lower(): k for k, v in SLACK_CHANNEL_IDS.items()}
        channel = by_id.get(channel, channel)
        return lambda m: m.channel == channel
    if op == "from":
        who = value.strip("<>@")
        person = data.owner if who == "me" else data.person(who)
        return lambda m: person is not None and m.author == person.login
    if op == "has":
        return lambda m: False
    day = _day(value, "query")
    if op == "before":
        return lambda m: m.ts.date() < day
    if op == "after":
        return lambda m: m.ts.date() > day
    return lambda m: m.ts.date() == day  # on:


def _slack_match(data: DemoData, message: Message) -> dict[str, Any]:
    channel = message.channel or "general"
    person = data.person(message.author)
    return {
        "type": "message",
        "ts": message.id,
        "text": message.text,
        "user": person.slack_id if person else message.author,
        "username": message.author,
        "channel": {"id": SLACK_CHANNEL_IDS[channel], "name": channel, "is_channel": True},
        "permalink": (
            f"https://acme.slack.com/archives/{SLACK_CHANNEL_IDS[channel]}/"
            f"p{message.id.replace('.', '')}"
        ),
    }


# --- Gmail ----------------------------------------------------------------------------------


def gmail_list_messages(data: DemoData, request: ToolRequest) -> dict[str, Any]:
    """GMAIL_LIST_MESSAGES: ``{"messages", "nextPageToken"?, "resultSizeEstimate"}``."""
    labels = {label.upper() for label in request.strings("label_ids")}
    request.flag("include_spam_trash")  # the demo mailbox has no spam or trash
    found = [m for m in _mail(data) if labels <= set(m.labels)]
    return _gmail_page(data, request, found)


def gmail_search_messages(data: DemoData, request: ToolRequest) -> dict[str, Any]:
    """GMAIL_SEARCH_MESSAGES: like the list, filtered by the Gmail query ``q``."""
    text = request.string("q")
    if text is None:
        raise bad_request("q is required", argument="q")
    request.flag("include_spam_trash")
    query = parse_query(
        text,
        operators=(
            "from",
            "to",
            "subject",
            "label",
            "is",
            "in",
            "after",
            "before",
            "newer_than",
            "older_than",
            "has",
        ),
    )
    checks = [_gmail_check(data, op, value) for op, value in query.qualifiers]
    found = [
        m
        for m in _mail(data)
        if has_words(query.words, m.subject, m.text, m.author) and all(c(m) for c in checks)
    ]
    return _gmail_page(data, request, found)


def _mail(data: DemoData) -> list[Message]:
    return [m for m in data.messages if m.source == "gmail"]


def _gmail_check(data: DemoData, op: str, value: str) -> Predicate:
    wanted = value.lower()
    if op == "from":
        return lambda m: wanted in m.author.lower() or wanted in _display(data, m.author).lower()
    if op == "to":
        return lambda m: any(wanted in address.lower() for address in m.to)
    if op == "subject":
        return lambda m: wanted in (m.subject or "").lower()
    if op in ("label", "in", "is"):
        if wanted in ("anywhere", "all"):
            return lambda m: True
        if wanted == "read":
            return lambda m: "UNREAD" not in m.labels
        label = wanted.upper().replace("-", "_")
        return lambda m: label in m.labels
    if op in ("newer_than", "older_than"):
        age = _AGE.match(wanted)
        if age is None:
            raise bad_request(f"{op}: takes a number and d, m or y, e.g. 7d", argument="q")
        since = data.now - timedelta(days=int(age["n"]) * _AGE_DAYS[age["unit"]])
        if op == "newer_than":
            return lambda m: m.ts > since
        return lambda m: m.ts <= since
    if op == "has":
        return lambda m: False  # no attachments, stars or user labels in the demo mailbox
    when = _gmail_moment(value)
    if op == "after":
        return lambda m: m.ts >= when
    return lambda m: m.ts < when  # before:


def _gmail_moment(value: str) -> datetime:
    if value.isdigit():
        return datetime.fromtimestamp(int(value), UTC)
    return datetime.combine(_day(value, "q"), datetime.min.time(), tzinfo=UTC)


def _gmail_page(data: DemoData, request: ToolRequest, found: list[Message]) -> dict[str, Any]:
    offset = request.offset("page_token")
    items, more = window(found, offset, request.page_size())
    body: dict[str, Any] = {"messages": [_gmail_message(data, m) for m in items]}
    if more:
        body["nextPageToken"] = request.token(offset + len(items))
    body["resultSizeEstimate"] = len(found)
    return body


def _gmail_message(data: DemoData, message: Message) -> dict[str, Any]:
    headers = {
        "From": _display(data, message.author, with_address=True),
        "To": ", ".join(message.to),
        "Subject": message.subject or "",
        "Date": format_datetime(message.ts),
    }
    return {
        "id": message.id,
        "threadId": message.thread_id or message.id,
        "labelIds": list(message.labels),
        "snippet": message.text,
        "internalDate": str(int(message.ts.timestamp() * 1000)),
        "payload": {"headers": [{"name": k, "value": v} for k, v in headers.items()]},
    }


def _display(data: DemoData, address: str, *, with_address: bool = False) -> str:
    person = data.person(address)
    if person is None:
        return address
    return f"{person.name} <{address}>" if with_address else person.name


def _day(value: str, argument: str) -> date:
    try:
        return date.fromisoformat(value.replace("/", "-"))
    except ValueError:
        raise bad_request(
            f"{value!r} is not a date (YYYY-MM-DD or YYYY/MM/DD)", argument=argument
        ) from None
