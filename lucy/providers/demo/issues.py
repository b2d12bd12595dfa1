"""Issue tools over the demo issues, in GitHub's, GitLab's and Linear's shapes (Jira: ``jira``).

List results are newest first unless the tool's sort arguments say otherwise.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from typing import Any
from urllib.parse import unquote

from lucy.providers.demo.data import DemoData, Issue
from lucy.providers.demo.events import rfc3339
from lucy.providers.demo.request import ToolRequest, bad_request, not_found, window
from lucy.providers.demo.search import has_words, parse_query

GITLAB_PROJECT_IDS = {"acme/infra": 7}
LINEAR_TEAMS = {"ENG": ("team-eng", "Engineering")}
_LINEAR_STATE_NAMES = {
    "triage": "Triage",
    "backlog": "Backlog",
    "unstarted": "Todo",
    "started": "In Progress",
    "completed": "Done",
    "canceled": "Canceled",
}


def _of(data: DemoData, toolkit: str) -> list[Issue]:
    return [i for i in data.issues if i.toolkit == toolkit]


def _newest_first(
    issues: Iterable[Issue], field: str = "created", ascending: bool = False
) -> list[Issue]:
    key: Callable[[Issue], Any] = (
        (lambda i: (i.updated_at, i.number))
        if field == "updated"
        else (lambda i: (i.created_at, i.number))
    )
    return sorted(issues, key=key, reverse=not ascending)


def _person_matches(data: DemoData, login: str | None, wanted: str) -> bool:
    person = data.person(wanted)
    return login is not None and person is not None and person.login == login


# --- GitHub ---------------------------------------------------------------------------------


def github_list_issues(data: DemoData, request: ToolRequest) -> dict[str, Any]:
    """GITHUB_LIST_ISSUES: ``{"items", "page", "per_page", "has_more"}``."""
    repo = _github_repo(data, request)
    state = request.string("state") or "open"
    if state not in ("open", "closed", "all"):
        raise bad_request("state must be open, closed or all", argument="state")
    assignee, creator = request.string("assignee"), request.string("creator")
    labels = _split(request.string("labels"))
    since = request.moment("since")
    issues = [
        i
        for i in _of(data, "github")
        if i.container == repo
        and (state == "all" or i.state == state)
        and _assignee_matches(data, i, assignee)
        and (creator is None or _person_matches(data, i.author, creator))
        and all(label in i.labels for label in labels)
        and (since is None or i.updated_at >= since)
    ]
    issues = _newest_first(
        issues,
        "updated" if request.string("sort") == "updated" else "created",
        ascending=request.string("direction") == "asc",
    )
    return _numbered_page(data, request, issues, _github_issue)


def github_search_issues(data: DemoData, request: ToolRequest) -> dict[str, Any]:
    """GITHUB_SEARCH_ISSUES: ``{"total_count", "incomplete_results", "items"}``."""
    query = parse_query(
        request.string("q"),
        operators=(
            "repo",
            "org",
            "user",
            "is",
            "state",
            "label",
            "assignee",
            "author",
            "no",
            "type",
        ),
    )
    issues = [i for i in _of(data, "github") if _github_search_matches(data, i, query.qualifiers)]
    issues = [i for i in issues if has_words(query.words, i.title, i.description)]
    sort = request.string("sort")
    issues = _newest_first(
        issues, "updated" if sort == "updated" else "created", request.string("order") == "asc"
    )
    per_page = request.page_size()
    page = request.integer("page", 1, minimum=1)
    items, _ = window(issues, (page - 1) * per_page, per_page)
    return {
        "total_count": len(issues),
        "incomplete_results": False,
        "items": [_github_issue(data, i) for i in items],
    }


def _github_search_matches(data: DemoData, issue: Issue, qualifiers: list[tuple[str, str]]) -> bool:
    for op, value in qualifiers:
        value_l = value.lower()
        if op == "repo" and issue.container != value_l:
            return False
        if op in ("org", "user") and not issue.container.startswith(value_l + "/"):
            return False
        if op in ("is", "state", "type"):
            if value_l in ("pr", "pull-request", "merged", "draft"):
                return False  # the demo repositories have no pull requests
            if value_l in ("open", "closed") and issue.state != value_l:
                return False
        if op == "label" and value not in issue.labels:
            return False
        if op == "assignee" and not _person_matches(data, issue.assignee, value):
            return False
        if op == "author" and not _person_matches(data, issue.author, value):
            return False
        if op == "no" and value_l == "assignee" and issue.assignee is not None:
            return False
        if op == "no" and value_l == "label" and issue.labels:
            return False
    return True


def github_get_issue(data: DemoData, request: ToolRequest) -> dict[str, Any]:
    """GITHUB_GET_ISSUE: one issue, or 404."""
    repo = _github_repo(data, request)
    number = request.integer("issue_number", 0, minimum=1)
    issue = next(
        (i for i in _of(data, "github") if i.container == repo and i.number == number), None
    )
    if issue is None:
        raise not_found(f"Not Found: {repo} has no issue #{number}")
    return _github_issue(data, issue)


def _github_repo(data: DemoData, request: ToolRequest) -> str:
    owner, name = request.string("owner"), request.string("repo")
    if owner is None or name is None:
        raise bad_request("owner and repo are required")
    repo = f"{owner}/{name}".lower()
    known = sorted({i.container for i in _of(data, "github")})
    if repo not in known:
        raise not_found(f"Not Found: no repository {repo}; the demo has {', '.join(known)}")
    return repo


def _github_issue(data: DemoData, issue: Issue) -> dict[str, Any]:
    def user(login: str) -> dict[str, str]:
        return {"login": login, "html_url": f"https://github.com/{login}"}

    return {
        "id": int(issue.id.split("-")[1], 16),
        "number": issue.number,
        "title": issue.title,
        "body": issue.description,
        "state": issue.state,
        "html_url": f"https://github.com/{issue.container}/issues/{issue.number}",
        "repository_url": f"https://api.github.com/repos/{issue.container}",
        "user": user(issue.author),
        "assignee": user(issue.assignee) if issue.assignee else None,
        "assignees": [user(issue.assignee)] if issue.assignee else [],
        "labels": [{"name": label} for label in issue.labels],
        "comments": 0,
        "created_at": rfc3339(issue.created_at),
        "updated_at": rfc3339(issue.updated_at),
        "closed_at": rfc3339(issue.updated_at) if issue.state == "closed" else None,
    }


# --- GitLab ---------------------------------------------------------------------------------


def gitlab_list_issues(data: DemoData, request: ToolRequest) -> dict[str, Any]:
    """GITLAB_LIST_ISSUES: ``{"items", "page", "per_page", "has_more"}``."""
    project = _gitlab_project(request)
    state = request.string("state") or "all"
    if state not in ("opened", "closed", "all"):
        raise bad_request("state must be opened, closed or all", argument="state")
    labels = _split(request.string("labels"))
    assignee_id = _optional_int(request, "assignee_id")
    author_id = _optional_int(request, "author_id")
    words = (request.string("search") or "").split()
    created_after, updated_after = request.moment("created_after"), request.moment("updated_after")
    issues = [
        i
        for i in _of(data, "gitlab")
        if i.container == project
        and (state == "all" or i.status == state)
        and _gitlab_labels_match(i, labels)
        and (assignee_id is None or _gitlab_user_id(data, i.assignee) == assignee_id)
        and (author_id is None or _gitlab_user_id(data, i.author) == author_id)
        and has_words(words, i.title, i.description)
        and (created_after is None or i.created_at >= created_after)
        and (updated_after is None or i.updated_at >= updated_after)
    ]
    issues = _newest_first(
        issues,
        "updated" if request.string("order_by") == "updated_at" else "created",
        ascending=request.string("sort") == "asc",
    )
    return _numbered_page(data, request, issues, _gitlab_issue)


def _gitlab_project(request: ToolRequest) -> str:
    raw = request.string("id")
    if raw is None:
        raise bad_request("id (the project's id or path) is required", argument="id")
    path = unquote(raw).lower()
    by_id = {str(v): k for k, v in GITLAB_PROJECT_IDS.items()}
    project = by_id.get(path, path)
    if project not in GITLAB_PROJECT_IDS:
        raise not_found(f"404 Project Not Found: {raw}; the demo has acme/infra (id 7)")
    return project


def _gitlab_labels_match(issue: Issue, labels: list[str]) -> bool:
    if labels == ["None"]:
        return not issue.labels
    if labels == ["Any"]:
        return bool(issue.labels)
    return all(label in issue.labels for label in labels)


def _gitlab_user_id(data: DemoData, login: str | None) -> int | None:
    index = next((n for n, p in enumerate(data.people) if p.login == login), None)
    return None if index is None else index + 1


def _gitlab_issue(data: DemoData, issue: Issue) -> dict[str, Any]:
    def user(login: str) -> dict[str, Any]:
        person = data.person(login)
        return {
            "id": _gitlab_user_id(data, login),
            "username": login,
            "name": person.name if person else login,
        }

    return {
        "id": int(issue.id.split("-")[1], 16),
        "iid": issue.number,
        "project_id": GITLAB_PROJECT_IDS[issue.container],
        "title": issue.title,
        "description": issue.description,
        "state": issue.status,
        "labels": list(issue.labels),
        "author": user(issue.author),
        "assignee": user(issue.assignee) if issue.assignee else None,
        "created_at": rfc3339(issue.created_at),
        "updated_at": rfc3339(issue.updated_at),
        "web_url": f"https://gitlab.com/{issue.container}/-/issues/{issue.number}",
    }


# --- Linear ---------------------------------------------------------------------------------


def linear_list_issues(data: DemoData, request: ToolRequest) -> dict[str, Any]:
    """LINEAR_LIST_ISSUES: ``{"nodes", "pageInfo": {"hasNextPage", "endCursor"}}``."""
    team = _linear_team(request)
    assignee = request.string("assignee_id")
    state_type = request.string("state_type")
    label = request.string("label_name")
    # the demo has no projects or cycles: filtering by one finds nothing, as an unknown id would
    nothing = request.string("project_id") is not None or request.string("cycle_id") is not None
    issues = [
        i
        for i in _of(data, "linear")
        if not nothing
        and (team is None or i.container == team)
        and (assignee is None or _person_matches(data, i.assignee, _linear_login(assignee)))
        and (state_type is None or i.status == state_type)
        and (label is None or label.lower() in (x.lower() for x in i.labels))
    ]
    order = "updated" if request.string("order_by") == "updatedAt" else "created"
    return _linear_page(data, request, _newest_first(issues, order))


def linear_search_issues(data: DemoData, request: ToolRequest) -> dict[str, Any]:
    """LINEAR_SEARCH_ISSUES: every word of ``term`` in the title or description."""
    term = request.string("term")
    if term is None:
        raise bad_request("term is required", argument="term")
    team = _linear_team(request)
    issues = [
        i
        for i in _of(data, "linear")
        if (team is None or i.container == team) and has_words(term.split(), i.title, i.description)
    ]
    return _linear_page(data, request, _newest_first(issues))


def linear_get_issue(data: DemoData, request: ToolRequest) -> dict[str, Any]:
    """LINEAR_GET_ISSUE: by id or identifier (ENG-123), or 404."""
    wanted = (request.string("id") or "").upper()
    issue = next((i for i in _of(data, "linear") if wanted in (i.id.upper(), i.key.upper())), None)
    if issue is None:
        raise not_found(f"Entity not found: Issue {wanted!r}")
    return _linear_issue(data, issue)


def _linear_page(data: DemoData, request: ToolRequest, issues: list[Issue]) -> dict[str, Any]:
    offset = request.offset("after")
    items, more = window(issues, offset, request.page_size())
    return {
        "nodes": [_linear_issue(data, i) for i in items],
        "pageInfo": {
            "hasNextPage": more,
            "endCursor": request.token(offset + len(items)) if items else None,
        },
    }


def _linear_team(request: ToolRequest) -> str | None:
    team = request.string("team_id")
    if team is None:
        return None
    for key, (team_id, _) in LINEAR_TEAMS.items():
        if team in (key, team_id):
            return key
    raise not_found(f"Entity not found: Team {team!r}; the demo has team-eng (ENG)")


def _linear_login(user_id: str) -> str:
    return user_id.removeprefix("user-")


def _linear_issue(data: DemoData, issue: Issue) -> dict[str, Any]:
    def user(login: str) -> dict[str, str]:
        person = data.person(login)
        assert person is not None
        return {"id": f"user-{person.login}", "name": person.name, "email": person.email}

    team_id, team_name = LINEAR_TEAMS[issue.container]
    return {
        "id": issue.id,
        "identifier": issue.key,
        "title": issue.title,
        "description": issue.description,
        "url": f"https://linear.app/acme/issue/{issue.key}",
        "state": {"name": _LINEAR_STATE_NAMES[issue.status], "type": issue.status},
        "assignee": user(issue.assignee) if issue.assignee else None,
        "creator": user(issue.author),
        "labels": {"nodes": [{"name": label} for label in issue.labels]},
        "team": {"id": team_id, "key": issue.container, "name": team_name},
        "createdAt": _linear_time(issue.created_at),
        "updatedAt": _linear_time(issue.updated_at),
        "archivedAt": None,
    }


def _linear_time(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z")


# --- shared ---------------------------------------------------------------------------------


def _numbered_page(
    data: DemoData,
    request: ToolRequest,
    issues: list[Issue],
    shape: Callable[[DemoData, Issue], dict[str, Any]],
) -> dict[str, Any]:
    per_page = request.page_size()
    page = request.integer("page", 1, minimum=1)
    items, more = window(issues, (page - 1) * per_page, per_page)
    return {
        "items": [shape(data, i) for i in items],
        "page": page,
        "per_page": per_page,
        "has_more": more,
    }


def _assignee_matches(data: DemoData, issue: Issue, wanted: str | None) -> bool:
    if wanted is None:
        return True
    if wanted == "none":
        return issue.assignee is None
    if wanted == "*":
        return issue.assignee is not None
    return _person_matches(data, issue.assignee, wanted)


def _split(text: str | None) -> list[str]:
    return [part.strip() for part in (text or "").split(",") if part.strip()]


def _optional_int(request: ToolRequest, name: str) -> int | None:
    return request.integer(name, 0) if request.arguments.get(name) is not None else None
