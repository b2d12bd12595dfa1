"""``DemoProvider``: runs the demo catalog's read tools against the local demo data set.

It serves the tools in ``DEMO_TOOLS`` and nothing else: every tool that is not read-only, and
every read tool not listed there, is unsupported (``supports`` is False), so the executor
answers "no provider can run ..." for it instead of pretending it ran.

Results have the provider's own shape (Google's ``items``/``nextPageToken``, Graph's
``value``/``@odata.nextLink``, Linear's ``nodes``/``pageInfo``...). Page sizes default to the
catalog's documented defaults but are capped at ``page_size_cap`` (10 by default), as real APIs
cap them, so the small data set still spans several pages. Page tokens and cursors are opaque;
a token the provider did not issue, or replayed with other filters, is a 400-style
``PROVIDER_ERROR``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from lucy.models import ToolErrorKind, ToolSpec
from lucy.providers.base import CallContext, ProviderCallError
from lucy.providers.demo import events, issues, jira, messages
from lucy.providers.demo.data import DemoData, generate_demo_data
from lucy.providers.demo.request import ToolRequest

Handler = Callable[[DemoData, ToolRequest], dict[str, Any]]

DEMO_TOOLS: dict[str, Handler] = {
    "GOOGLECALENDAR_LIST_EVENTS": events.google_list_events,
    "GOOGLECALENDAR_GET_EVENT": events.google_get_event,
    "OUTLOOK_LIST_EVENTS": events.outlook_list_events,
    "GITHUB_LIST_ISSUES": issues.github_list_issues,
    "GITHUB_SEARCH_ISSUES": issues.github_search_issues,
    "GITHUB_GET_ISSUE": issues.github_get_issue,
    "GITLAB_LIST_ISSUES": issues.gitlab_list_issues,
    "LINEAR_LIST_ISSUES": issues.linear_list_issues,
    "LINEAR_SEARCH_ISSUES": issues.linear_search_issues,
    "LINEAR_GET_ISSUE": issues.linear_get_issue,
    "JIRA_SEARCH_ISSUES": jira.jira_search_issues,
    "JIRA_GET_ISSUE": jira.jira_get_issue,
    "SLACK_SEARCH_MESSAGES": messages.slack_search_messages,
    "GMAIL_LIST_MESSAGES": messages.gmail_list_messages,
    "GMAIL_SEARCH_MESSAGES": messages.gmail_search_messages,
}


class DemoProvider:
    """Executes the demo read tools in ``DEMO_TOOLS`` over ``data`` (default: seed 0, now)."""

    def __init__(self, data: DemoData | None = None, *, page_size_cap: int = 10) -> None:
        if page_size_cap < 1:
            raise ValueError("page_size_cap must be at least 1")
        self.name = "demo"
        self.accepts_idempotency_key = False
        self.data = data or generate_demo_data()
        self.page_size_cap = page_size_cap

    def supports(self, tool: ToolSpec) -> bool:
        return tool.read_only and tool.slug in DEMO_TOOLS

    async def execute(self, tool: ToolSpec, arguments: dict[str, Any], context: CallContext) -> Any:
        if not self.supports(tool):
            raise ProviderCallError(
                ToolErrorKind.PROVIDER_ERROR,
                f"the demo provider does not implement {tool.slug}",
                details={"supported": False},
            )
        request = ToolRequest(tool.slug, arguments, self.page_size_cap)
        return DEMO_TOOLS[tool.slug](self.data, request)
