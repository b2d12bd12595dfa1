"""The demo data set: a calendar, issues and messages, generated from a seed and a "now".

Everything is placed relative to the reference ``now`` (UTC): events this week and next
(Monday 00:00 of ``now``'s week onwards), issues created over the 60 days before ``now``,
messages over the 14 days before it. The same seed and ``now`` give the same data.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta

WEEKDAYS = 5


@dataclass(frozen=True)
class Person:
    name: str
    email: str
    login: str
    """Handle on GitHub, GitLab, Slack and Jira alike (the demo keeps one)."""
    slack_id: str


@dataclass(frozen=True)
class Event:
    id: str
    summary: str
    description: str
    location: str
    start: datetime
    end: datetime
    organizer: str
    attendees: tuple[str, ...]
    """Attendee emails, the organizer included."""
    recurring_id: str | None
    updated: datetime


@dataclass(frozen=True)
class Issue:
    id: str
    toolkit: str
    """github, gitlab, linear or jira."""
    container: str
    """Repository ("acme/web"), GitLab project path, Linear team key or Jira project key."""
    number: int
    title: str
    description: str
    state: str
    """open or closed."""
    status: str
    """The tracker's own workflow state: "In Progress", "started", "opened"..."""
    assignee: str | None
    author: str
    labels: tuple[str, ...]
    created_at: datetime
    updated_at: datetime

    @property
    def key(self) -> str:
        """How people name it: acme/web#12, acme/infra#3, ENG-104, OPS-7."""
        if self.toolkit in ("github", "gitlab"):
            return f"{self.container}#{self.number}"
        return f"{self.container}-{self.number}"


@dataclass(frozen=True)
class Message:
    id: str
    source: str
    """slack or gmail."""
    author: str
    """Slack: the author's login; Gmail: the sender's address."""
    text: str
    ts: datetime
    channel: str | None = None
    subject: str | None = None
    to: tuple[str, ...] = ()
    labels: tuple[str, ...] = ()
    thread_id: str | None = None


@dataclass(frozen=True)
class DemoData:
    seed: int
    now: datetime
    owner: Person
    """Whose calendar and mailbox this is."""
    people: tuple[Person, ...]
    events: tuple[Event, ...]
    """Sorted by start."""
    issues: tuple[Issue, ...]
    messages: tuple[Message, ...]
    """Sorted newest first."""

    @property
    def week_start(self) -> datetime:
        """Monday 00:00 UTC of ``now``'s week."""
        return week_start(self.now)

    def person(self, handle: str) -> Person | None:
        """The person with this login, email, Slack id or name (case-insensitive)."""
        wanted = handle.strip().lstrip("@").lower()
        return next(
            (
                p
                for p in self.people
                if wanted in (p.login, p.email.lower(), p.slack_id.lower(), p.name.lower())
            ),
            None,
        )


def _utc(moment: datetime) -> datetime:
    """``moment`` in UTC; a naive one is taken to be UTC already."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def week_start(now: datetime) -> datetime:
    day = _utc(now).date()
    return datetime.combine(day - timedelta(days=day.weekday()), time(), tzinfo=UTC)


PEOPLE = (
    Person("Alex Kim", "alex@acme.example", "alex", "U01ALEX"),
    Person("Maria Lopez", "maria@acme.example", "maria", "U02MARIA"),
    Person("Sam Patel", "sam@acme.example", "sam", "U03SAM"),
    Person("Jordan Lee", "jordan@acme.example", "jordan", "U04JORDAN"),
    Person("Priya Nair", "priya@acme.example", "priya", "U05PRIYA"),
    Person("Tom Becker", "tom@acme.example", "tom", "U06TOM"),
)

_MEETINGS = (
    ("Design review: onboarding flow", "Walk through the new onboarding screens."),
    ("Customer call: Northwind", "Quarterly check-in with Northwind's ops team."),
    ("Interview: backend engineer", "Second-round technical interview."),
    ("Incident retro: checkout outage", "Blameless review of last week's outage."),
    ("Roadmap sync", "Align Q3 priorities across teams."),
    ("Lunch with Priya", "Catch up over lunch."),
    ("Security training", "Annual security awareness session."),
    ("Demo day rehearsal", "Dry run of the team demos."),
    ("Budget review", "Review the infrastructure budget with finance."),
    ("Hiring committee", "Decide on this week's candidates."),
    ("API deprecation planning", "Plan the v1 API sunset."),
    ("Pairing: search ranking", "Pair on the ranking experiment."),
    ("Vendor call: Datadog", "Renewal terms and usage review."),
    ("Architecture office hours", "Open questions on service boundaries."),
    ("Sprint demo", "Show what shipped this sprint."),
    ("Offsite planning", "Agenda and logistics for the offsite."),
    ("Mobile release go/no-go", "Decide whether 4.2 ships."),
    ("Data retention policy review", "Legal and engineering walk through retention."),
)
_LOCATIONS = ("Zoom", "Google Meet", "Room Fjord (3F)", "Room Delta (2F)", "Café Nord")

_ISSUES = (  # title, labels
    ("Login page crashes on Safari 17", ("bug", "ui")),
    ("Export to CSV times out for large workspaces", ("bug", "performance")),
    ("Add dark mode to the settings page", ("feature", "ui")),
    ("Webhook retries are not idempotent", ("bug", "backend")),
    ("Search results ignore the date filter", ("bug",)),
    ("Upgrade the Postgres driver", ("backend", "infra")),
    ("Flaky test: test_checkout_refund", ("bug",)),
    ("Rate limit the public API per token", ("feature", "security")),
    ("Onboarding emails sent twice", ("bug",)),
    ("Document the deployment runbook", ("docs",)),
    ("Memory leak in the notification worker", ("bug", "performance")),
    ("Support SSO with Okta", ("feature", "security")),
    ("Dashboard charts render blank on first load", ("bug", "ui")),
    ("Migrate cron jobs to the scheduler service", ("infra",)),
    ("Typo in the billing page footer", ("ui",)),
    ("Slow query on the invoices endpoint", ("performance", "backend")),
    ("Add audit log for admin actions", ("feature", "security")),
    ("Mobile app logs users out after update", ("bug",)),
    ("Broken link in the API reference", ("docs",)),
    ("Pagination returns duplicates on page 2", ("bug", "backend")),
    ("Set up alerts for queue backlog", ("infra",)),
    ("Remove the legacy v1 upload endpoint", ("backend",)),
    ("Timezone bug in weekly report emails", ("bug",)),
    ("Improve error message for expired invites", ("ui",)),
    ("Cache invalidation misses team renames", ("bug", "backend")),
    ("Add retry budget to the payment client", ("backend",)),
    ("Accessibility: focus order in the sign-up form", ("ui",)),
    ("Rotate the staging database credentials", ("security", "infra")),
    ("Feature flag cleanup for Q2 experiments", ()),
    ("Crash when uploading HEIC images", ("bug",)),
    ("Kubernetes nodes run out of disk", ("infra",)),
    ("Add CSV import for contacts", ("feature",)),
    ("Refund webhook payload missing currency", ("bug", "backend")),
    ("Reduce Docker image size", ("infra", "performance")),
    ("Calendar sync skips recurring events", ("bug",)),
    ("Invite link expires too early", ("bug",)),
    ("Billing emails show the wrong tax rate", ("bug",)),
    ("Upgrade Terraform to 1.9", ("infra",)),
    ("Search index rebuild takes 4 hours", ("performance",)),
    ("Password reset email lands in spam", ("bug",)),
)

_SLACK_TEXTS = (
    ("engineering", "Deploy of api v2.14 is done, watching the error rates."),
    ("engineering", "Can someone review the webhook retry PR? It's small."),
    ("engineering", "Heads up: the staging database restarts at 17:00 UTC."),
    ("engineering", "The flaky checkout test failed again on main."),
    ("engineering", "I'm picking up the CSV export timeout issue."),
    ("engineering", "Postgres driver upgrade is merged, no regressions so far."),
    ("incidents", "Checkout latency is up, investigating."),
    ("incidents", "Root cause found: a slow query on invoices. Mitigated."),
    ("incidents", "Queue backlog alert fired for the notification worker."),
    ("incidents", "All clear, error rates are back to normal."),
    ("general", "Welcome Tom to the team!"),
    ("general", "Reminder: the offsite agenda is in the shared drive."),
    ("general", "Office closed on Friday afternoon for maintenance."),
    ("general", "The quarterly all-hands recording is up."),
    ("design", "New onboarding mockups are ready for feedback."),
    ("design", "Dark mode palette v3, comments welcome."),
    ("design", "Accessibility audit found focus order issues in sign-up."),
    ("random", "Who's up for lunch at Café Nord?"),
    ("random", "Photos from the hike are in the album."),
    ("random", "Coffee machine on 3F is fixed."),
    ("engineering", "Budget for the search cluster needs sign-off this week."),
    ("engineering", "The Kubernetes nodes are running out of disk again."),
    ("incidents", "Password reset emails are landing in spam for some users."),
    ("general", "Demo day is next Thursday, sign up for a slot."),
    ("design", "Invite flow copy is updated, please check."),
    ("engineering", "Calendar sync skips recurring events, repro in the thread."),
)
_EMAILS = (
    ("Your Acme Cloud invoice", "Your Acme Cloud invoice is ready: $1,240.00 due in 14 days."),
    ("Northwind: renewal questions", "Could we get the renewal quote before the call?"),
    ("Interview schedule for Thursday", "Here is the schedule for the backend candidate."),
    ("Security training reminder", "Please complete the annual training by Friday."),
    ("Offsite: hotel booking", "Rooms are booked, confirmation numbers attached."),
    ("Weekly metrics report", "Signups are up 8% week over week; churn is flat."),
    ("PagerDuty: incident resolved", "Incident #482 checkout latency was resolved."),
    ("Datadog renewal proposal", "Attached is the renewal proposal for next year."),
    ("Re: API deprecation timeline", "Customers need 90 days notice for the v1 sunset."),
    ("Lunch next week?", "Are you free for lunch on Wednesday?"),
    ("Expense report approved", "Your expense report for the conference was approved."),
    ("New login to your account", "We noticed a new login from Berlin, Germany."),
    ("Board deck draft", "First draft of the board deck, comments by Monday please."),
    ("Welcome to the beta program", "Thanks for joining the beta of our mobile app."),
)
_MAIL_SENDERS = (
    "billing@acmecloud.example",
    "ops@northwind.example",
    "recruiting@acme.example",
    "security@acme.example",
    "travel@acme.example",
    "metrics@acme.example",
    "alerts@pagerduty.example",
    "sales@datadog.example",
)


def generate_demo_data(seed: int = 0, now: datetime | None = None) -> DemoData:
    """The demo data set for ``seed`` around ``now`` (default: the current time, UTC)."""
    now = _utc(now or datetime.now(UTC))
    rng = random.Random(seed)
    owner = PEOPLE[0]
    return DemoData(
        seed=seed,
        now=now,
        owner=owner,
        people=PEOPLE,
        events=_events(rng, now, owner),
        issues=_issues(rng, now),
        messages=_messages(rng, now, owner),
    )


def _events(rng: random.Random, now: datetime, owner: Person) -> tuple[Event, ...]:
    monday = week_start(now)
    others = [p.email for p in PEOPLE[1:]]
    team = (owner.email, *others[:4])
    events: list[Event] = []

    def add(
        summary: str,
        about: str,
        start: datetime,
        minutes: int,
        *,
        recurring: str | None = None,
        attendees: tuple[str, ...] | None = None,
        organizer: str | None = None,
        location: str | None = None,
    ) -> None:
        guests = attendees or (owner.email, *rng.sample(others, rng.randint(1, 3)))
        stamp = start.strftime("%Y%m%dT%H%M%SZ")
        events.append(
            Event(
                id=f"{recurring}_{stamp}" if recurring else f"evt{rng.getrandbits(40):010x}",
                summary=summary,
                description=about,
                location=location or rng.choice(_LOCATIONS),
                start=start,
                end=start + timedelta(minutes=minutes),
                organizer=organizer or owner.email,
                attendees=guests,
                recurring_id=recurring,
                updated=now - timedelta(days=rng.randint(1, 20), minutes=rng.randint(0, 600)),
            )
        )

    days = [monday + timedelta(days=week * 7 + d) for week in (0, 1) for d in range(WEEKDAYS)]
    for day in days:  # 10 daily stand-ups
        standup = _at(day, 9, 30)
        add(
            "Daily standup",
            "Yesterday, today, blockers.",
            standup,
            15,
            recurring="standup",
            attendees=team,
            location="Zoom",
        )
    for week in (0, 1):
        planning = _at(monday + timedelta(days=7 * week), 11, 0)
        add(
            "Weekly planning",
            "Plan the week's priorities.",
            planning,
            60,
            recurring="planning",
            attendees=team,
            location="Room Fjord (3F)",
        )
        one_on_one = _at(monday + timedelta(days=7 * week + 3), 15, 0)
        add(
            "1:1 Alex / Maria",
            "Weekly one-on-one.",
            one_on_one,
            30,
            recurring="oneonone",
            attendees=(owner.email, others[0]),
            organizer=others[0],
            location="Room Delta (2F)",
        )
    busy = {(e.start, e.end) for e in events}
    # one meeting every weekday, six more on random ones: 16 in all
    meeting_days = days + [rng.choice(days) for _ in range(6)]
    for (summary, about), day in zip(rng.sample(_MEETINGS, 16), meeting_days, strict=True):
        while True:
            start = _at(day, rng.randint(10, 16), rng.choice((0, 30)))
            minutes = rng.choice((30, 45, 60))
            end = start + timedelta(minutes=minutes)
            if all(end <= s or start >= e for s, e in busy):
                break
        busy.add((start, end))
        add(summary, about, start, minutes, organizer=rng.choice((owner.email, *others)))
    return tuple(sorted(events, key=lambda e: (e.start, e.id)))


def _at(day: datetime, hour: int, minute: int) -> datetime:
    return day.replace(hour=hour, minute=minute)


_TRACKERS = (  # toolkit, container, count, first number, open statuses, closed status
    ("github", "acme/web", 7, 101, ("open",), "closed"),
    ("github", "acme/api", 5, 40, ("open",), "closed"),
    ("gitlab", "acme/infra", 8, 12, ("opened",), "closed"),
    ("linear", "ENG", 10, 201, ("backlog", "unstarted", "started"), "completed"),
    ("jira", "OPS", 10, 31, ("To Do", "In Progress"), "Done"),
)


def _issues(rng: random.Random, now: datetime) -> tuple[Issue, ...]:
    titles = list(_ISSUES)
    rng.shuffle(titles)
    logins = [p.login for p in PEOPLE]
    issues: list[Issue] = []
    for toolkit, container, count, first, open_statuses, closed_status in _TRACKERS:
        for number in range(first, first + count):
            title, labels = titles.pop()
            created = now - timedelta(days=rng.uniform(1, 60))
            created = created.replace(second=0, microsecond=0)
            closed = rng.random() < 0.35
            issues.append(
                Issue(
                    id=f"{toolkit}-{rng.getrandbits(32):08x}",
                    toolkit=toolkit,
                    container=container,
                    number=number,
                    title=title,
                    description=f"{title}. Reported by the team; see the linked thread.",
                    state="closed" if closed else "open",
                    status=closed_status if closed else rng.choice(open_statuses),
                    assignee=None if rng.random() < 0.15 else rng.choice(logins),
                    author=rng.choice(logins),
                    labels=labels,
                    created_at=created,
                    updated_at=created + (now - created) * rng.random(),
                )
            )
    return tuple(issues)


def _messages(rng: random.Random, now: datetime, owner: Person) -> tuple[Message, ...]:
    messages: list[Message] = []
    for channel, text in _SLACK_TEXTS:
        ts = now - timedelta(seconds=rng.randint(600, 14 * 86400))
        messages.append(
            Message(
                id=f"{ts.timestamp():.6f}",
                source="slack",
                author=rng.choice(PEOPLE).login,
                text=text,
                ts=ts,
                channel=channel,
            )
        )
    for index, (subject, body) in enumerate(_EMAILS):
        ts = now - timedelta(seconds=rng.randint(600, 14 * 86400))
        labels = ["INBOX"]
        if rng.random() < 0.4:
            labels.append("UNREAD")
        if rng.random() < 0.25:
            labels.append("IMPORTANT")
        sender = _MAIL_SENDERS[index] if index < len(_MAIL_SENDERS) else rng.choice(PEOPLE).email
        message_id = f"{rng.getrandbits(64):016x}"
        messages.append(
            Message(
                id=message_id,
                source="gmail",
                author=sender,
                text=body,
                ts=ts,
                subject=subject,
                to=(owner.email,),
                labels=tuple(labels),
                thread_id=message_id,
            )
        )
    return tuple(sorted(messages, key=lambda m: (m.ts, m.id), reverse=True))
