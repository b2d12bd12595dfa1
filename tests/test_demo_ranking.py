"""Ranking on the demo catalog: requests with one clearly right tool find it near the top.

A regression guard for the retriever's defaults (fusion, re-scoring, splitting); the offline
evaluation (``lucy eval``) is where the weights are measured properly.
"""

from __future__ import annotations

import pytest

TOP1 = [
    ("open a bug in linear for the login crash", "LINEAR_CREATE_ISSUE"),
    ("send an email to bob about the launch", "GMAIL_SEND_EMAIL"),
    ("refund the last stripe charge", "STRIPE_CREATE_REFUND"),
    ("who is on call right now", "PAGERDUTY_LIST_ONCALLS"),
    ("upload the report to google drive", "GOOGLEDRIVE_UPLOAD_FILE"),
    ("open a pull request in github for the fix branch", "GITHUB_CREATE_PULL_REQUEST"),
    ("schedule a zoom meeting with the design team tomorrow", "ZOOM_CREATE_MEETING"),
    ("post the release notes in #general", "SLACK_SEND_MESSAGE"),
    ("acknowledge the pagerduty incident", "PAGERDUTY_ACKNOWLEDGE_INCIDENT"),
    ("create a new contact in salesforce", "SALESFORCE_CREATE_CONTACT"),
    ("archive the old trello card", "TRELLO_ARCHIVE_CARD"),
    ("DM sarah that the build is green", "SLACK_SEND_MESSAGE"),
]

TOP3 = [
    ("what's on my calendar this week", {"GOOGLECALENDAR_LIST_EVENTS", "OUTLOOK_LIST_EVENTS"}),
    ("find the onboarding doc in notion", {"NOTION_SEARCH_WORKSPACE"}),
    ("reply to the customer ticket in zendesk", {"ZENDESK_ADD_TICKET_COMMENT"}),
    ("list my unread emails in gmail", {"GMAIL_LIST_MESSAGES"}),
    ("add a row to the budget spreadsheet", {"GOOGLESHEETS_APPEND_VALUES"}),
    ("what errors happened in sentry today", {"SENTRY_LIST_ISSUES", "SENTRY_LIST_ISSUE_EVENTS"}),
]

MULTI = [
    ("file a bug in Linear and ping #eng", {"LINEAR_CREATE_ISSUE", "SLACK_SEND_MESSAGE"}),
    (
        "create a jira ticket for the payment outage and assign it to alice",
        {"JIRA_CREATE_ISSUE", "JIRA_ASSIGN_ISSUE"},
    ),
    ("create a deal in hubspot and email the customer", {"HUBSPOT_CREATE_DEAL"}),
    (
        "list my calendar events this week and the open github issues in acme/web",
        {"GOOGLECALENDAR_LIST_EVENTS", "GITHUB_LIST_ISSUES"},
    ),
]

# a part that opens with an action verb reaches the shortlist even when the other part's
# tools score higher (here GitHub, named, lifts every GitHub tool)
CALENDAR_AND_GITHUB = "what's on my calendar this week and which github issues are open?"


@pytest.mark.parametrize(("query", "slug"), TOP1)
def test_first(demo_index, query: str, slug: str) -> None:
    result = demo_index.retrieve(query, workspace_id="demo", k=5)
    assert result.candidates[0].slug == slug, [c.slug for c in result.candidates]


@pytest.mark.parametrize(("query", "slugs"), TOP3)
def test_in_top_three(demo_index, query: str, slugs: set[str]) -> None:
    result = demo_index.retrieve(query, workspace_id="demo", k=3)
    assert slugs & {c.slug for c in result.candidates}, [c.slug for c in result.candidates]


@pytest.mark.parametrize(("query", "slugs"), MULTI)
def test_every_intent_reaches_the_shortlist(demo_index, query: str, slugs: set[str]) -> None:
    result = demo_index.retrieve(query, workspace_id="demo", k=5)
    assert len(result.intents) >= 2
    assert slugs <= {c.slug for c in result.candidates}, [c.slug for c in result.candidates]


def test_a_commanding_part_reaches_the_shortlist(demo_index) -> None:
    result = demo_index.retrieve(CALENDAR_AND_GITHUB, workspace_id="demo", k=5)
    domains = {demo_index.tool(c.slug).tags.domain for c in result.candidates}
    assert "calendar" in domains, [c.slug for c in result.candidates]
    assert result.candidates[0].slug == "GITHUB_LIST_ISSUES"
