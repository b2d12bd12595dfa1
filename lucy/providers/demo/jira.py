"""Jira tools over the demo issues, with a small JQL reader.

The reader takes clauses joined by AND, then an optional ORDER BY (created, updated or key; the
default is created DESC). Fields: project, key, status, statusCategory, resolution, assignee,
reporter, labels, issuetype, text / summary / description (``~``), created and updated (with
>, >=, <, <= and a date or a relative "-7d"). Operators: =, !=, ~, IN, NOT IN, IS [NOT] EMPTY.
A clause it cannot read (OR, functions other than currentUser()) is ignored and named in
``warningMessages``; a JQL with no clause it can read is searched as plain text.

Issues carry the fields summary, status, assignee, reporter, labels, created and updated unless
``fields`` asks for others (``*all`` for every one); the real API returns only ids by default,
the demo is friendlier.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from lucy.providers.demo.data import DemoData, Issue
from lucy.providers.demo.request import ToolRequest, bad_request, not_found, window
from lucy.providers.demo.search import has_words

PROJECTS = {"OPS": "Operations"}
DEFAULT_FIELDS = ("summary", "status", "assignee", "reporter", "labels", "created", "updated")
_CATEGORIES = {"To Do": ("new", "To Do"), "In Progress": ("indeterminate", "In Progress")}
_DONE = ("done", "Done")

_CLAUSE = re.compile(
    r"^\s*(?P<field>[A-Za-z]+)\s*"
    r"(?P<op>!=|>=|<=|=|>|<|~|not\s+in\b|in\b|is\s+not\b|is\b)\s*(?P<value>.+?)\s*$",
    re.IGNORECASE,
)
_ORDER = re.compile(r"(?:^|\s)order\s+by\s+(?P<spec>.+)$", re.IGNORECASE)
_TEXT_FIELDS: dict[str, tuple[str, ...]] = {
    "text": ("title", "description"),
    "summary": ("title",),
    "description": ("description",),
}
_RELATIVE = re.compile(r"^-?(?P<n>\d+)(?P<unit>[mhdw])$", re.IGNORECASE)

Predicate = Callable[[Issue], bool]


def jira_search_issues(data: DemoData, request: ToolRequest) -> dict[str, Any]:
    """JIRA_SEARCH_ISSUES: ``{"issues", "nextPageToken"?, "isLast"}`` (+ ``warningMessages``)."""
    jql = request.string("jql")
    if jql is None:
        raise bad_request("jql is required", argument="jql")
    predicates, order, warnings = _read_jql(data, jql)
    issues = [i for i in data.issues if i.toolkit == "jira" and all(p(i) for p in predicates)]
    field, descending = order
    issues.sort(key=_sort_key(field), reverse=descending)
    offset = request.offset("next_page_token")
    items, more = window(issues, offset, request.page_size())
    fields = _wanted_fields(request)
    body: dict[str, Any] = {"issues": [_jira_issue(data, i, fields) for i in items]}
    if more:
        body["nextPageToken"] = request.token(offset + len(items))
    body["isLast"] = not more
    if warnings:
        body["warningMessages"] = warnings
    return body


def jira_get_issue(data: DemoData, request: ToolRequest) -> dict[str, Any]:
    """JIRA_GET_ISSUE: by key (OPS-31) or id, or 404."""
    wanted = (request.string("issue_id_or_key") or "").upper()
    issue = next(
        (i for i in data.issues if i.toolkit == "jira" and wanted in (i.key, _jira_id(i))), None
    )
    if issue is None:
        raise not_found("Issue does not exist or you do not have permission to see it.")
    return _jira_issue(data, issue, _wanted_fields(request))


def _read_jql(data: DemoData, jql: str) -> tuple[list[Predicate], tuple[str, bool], list[str]]:
    order = ("created", True)
    predicates: list[Predicate] = []
    warnings: list[str] = []
    match = _ORDER.search(jql)
    if match:
        first = match["spec"].split(",")[0].split() or ["created"]
        if first[0].lower() in ("created", "updated", "key"):
            order = (first[0].lower(), len(first) > 1 and first[1].lower() == "desc")
        else:
            warnings.append(f"The demo cannot order by {first[0]!r}; ordered by created DESC.")
        jql = jql[: match.start()]
    clauses = [c for c in re.split(r"\s+and\s+", jql.strip(), flags=re.IGNORECASE) if c.strip()]
    for clause in clauses:
        predicate = _clause(data, clause)
        if predicate is None:
            warnings.append(f"The demo JQL reader ignored the clause {clause.strip()!r}.")
        else:
            predicates.append(predicate)
    if clauses and not predicates:
        words = re.sub(r"[\"']", " ", jql).split()
        predicates = [lambda i: has_words(words, i.title, i.description)]
        warnings.append("The demo searched the JQL as plain text.")
    return predicates, order, warnings


def _clause(data: DemoData, clause: str) -> Predicate | None:
    match = _CLAUSE.match(clause)
    if match is None or re.search(r"\sor\s", clause, re.IGNORECASE):
        return None
    field, op = match["field"].lower(), " ".join(match["op"].lower().split())
    raw = match["value"]
    if op in ("is", "is not"):
        if raw.lower() not in ("empty", "null"):
            return None
        present = _presence(field)
        if present is None:
            return None
        return (lambda i: present(i)) if op == "is not" else (lambda i: not present(i))
    if op == "~":
        words = _unquote(raw).split()
        names = _TEXT_FIELDS.get(field)
        if names is None:
            return None
        return lambda i: has_words(words, *(getattr(i, n) for n in names))
    if op in (">", ">=", "<", "<="):
        return _date_clause(data, field, op, _unquote(raw))
    values = _values(raw) if op in ("in", "not in") else [_unquote(raw)]
    test = _equality(data, field, [v.lower() for v in values])
    if test is None:
        return None
    return (lambda i: not test(i)) if op in ("!=", "not in") else test


def _equality(data: DemoData, field: str, values: list[str]) -> Predicate | None:
    if field == "project":
        keys = {k for k, name in PROJECTS.items() if k.lower() in values or name.lower() in values}
        return lambda i: i.container in keys
    if field in ("key", "issuekey", "id"):
        return lambda i: i.key.lower() in values or _jira_id(i) in values
    if field == "status":
        return lambda i: i.status.lower() in values
    if field == "statuscategory":
        return lambda i: bool({c.lower() for c in _category(i)} & set(values))
    if field == "resolution":
        closed = any(v != "unresolved" for v in values)
        return lambda i: (i.state == "closed") == closed
    if field in ("assignee", "reporter"):
        logins = {_login(data, v) for v in values}
        attr = "assignee" if field == "assignee" else "author"
        return lambda i: getattr(i, attr) in logins
    if field == "labels":
        return lambda i: any(label.lower() in values for label in i.labels)
    if field in ("issuetype", "type"):
        return lambda i: "task" in values
    return None


def _presence(field: str) -> Predicate | None:
    if field == "assignee":
        return lambda i: i.assignee is not None
    if field == "labels":
        return lambda i: bool(i.labels)
    if field == "resolution":
        return lambda i: i.state == "closed"
    return None


def _date_clause(data: DemoData, field: str, op: str, raw: str) -> Predicate | None:
    if field not in ("created", "updated"):
        return None
    when = _when(data.now, raw)
    if when is None:
        return None
    attr = "created_at" if field == "created" else "updated_at"
    compare: dict[str, Callable[[datetime], bool]] = {
        ">": lambda t: t > when,
        ">=": lambda t: t >= when,
        "<": lambda t: t < when,
        "<=": lambda t: t <= when,
    }
    check = compare[op]
    return lambda i: check(getattr(i, attr))


def _when(now: datetime, raw: str) -> datetime | None:
    relative = _RELATIVE.match(raw.strip())
    if relative:
        unit = {"m": "minutes", "h": "hours", "d": "days", "w": "weeks"}
        amount = int(relative["n"])
        return now - timedelta(**{unit[relative["unit"].lower()]: amount})
    for pattern in ("%Y-%m-%d %H:%M", "%Y/%m/%d %H:%M", "%Y-%m-%d", "%Y/%m/%d"):
        try:
            return datetime.strptime(raw.strip(), pattern).replace(tzinfo=UTC)
        except ValueError:
            continue
    return None


def _values(raw: str) -> list[str]:
    inner = raw.strip()
    if inner.startswith("(") and inner.endswith(")"):
        inner = inner[1:-1]
    return [_unquote(v) for v in inner.split(",") if v.strip()]


def _unquote(raw: str) -> str:
    text = raw.strip()
    if len(text) >= 2 and text[0] == text[-1] and text[0] in "\"'":
        return text[1:-1]
    return text


def _login(data: DemoData, value: str) -> str | None:
    if value in ("currentuser()", "currentuser"):
        return data.owner.login
    person = data.person(value)
    return person.login if person else None


def _sort_key(field: str) -> Callable[[Issue], Any]:
    if field == "updated":
        return lambda i: (i.updated_at, i.number)
    if field == "key":
        return lambda i: (i.container, i.number)
    return lambda i: (i.created_at, i.number)


def _category(issue: Issue) -> tuple[str, str]:
    return _DONE if issue.state == "closed" else _CATEGORIES.get(issue.status, _CATEGORIES["To Do"])


def _jira_id(issue: Issue) -> str:
    return str(10000 + issue.number)


def _wanted_fields(request: ToolRequest) -> frozenset[str] | None:
    """The fields to return; None means all."""
    fields = request.strings("fields")
    if not fields:
        return frozenset(DEFAULT_FIELDS)
    if "*all" in fields:
        return None
    return frozenset(f.lower() for f in fields)


def _jira_issue(data: DemoData, issue: Issue, wanted: frozenset[str] | None) -> dict[str, Any]:
    def user(login: str | None) -> dict[str, str] | None:
        person = data.person(login) if login else None
        if person is None:
            return None
        return {
            "accountId": f"acc-{person.login}",
            "displayName": person.name,
            "emailAddress": person.email,
        }

    key, name = _category(issue)
    every = {
        "summary": issue.title,
        "description": issue.description,
        "status": {"name": issue.status, "statusCategory": {"key": key, "name": name}},
        "resolution": {"name": "Done"} if issue.state == "closed" else None,
        "assignee": user(issue.assignee),
        "reporter": user(issue.author),
        "labels": list(issue.labels),
        "created": _jira_time(issue.created_at),
        "updated": _jira_time(issue.updated_at),
        "project": {"key": issue.container, "name": PROJECTS[issue.container]},
        "issuetype": {"name": "Task"},
    }
    fields = every if wanted is None else {k: v for k, v in every.items() if k.lower() in wanted}
    return {
        "id": _jira_id(issue),
        "key": issue.key,
        "self": f"https://acme.atlassian.net/rest/api/3/issue/{_jira_id(issue)}",
        "fields": fields,
    }


def _jira_time(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.000+0000")
