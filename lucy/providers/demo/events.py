"""Calendar tools over the demo events, in Google Calendar's and Microsoft Graph's shapes.

Both list tools return the events that overlap the window (end after its start, start before
its end), recurring events expanded, ordered by start.
"""

from __future__ import annotations

from datetime import UTC, datetime, tzinfo
from typing import Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from lucy.providers.demo.data import DemoData, Event
from lucy.providers.demo.request import ToolRequest, bad_request, not_found, window
from lucy.providers.demo.search import has_words


def rfc3339(moment: datetime) -> str:
    return moment.isoformat(timespec="seconds").replace("+00:00", "Z")


def google_list_events(data: DemoData, request: ToolRequest) -> dict[str, Any]:
    """GOOGLECALENDAR_LIST_EVENTS: ``{"items", "nextPageToken"?, "summary", ...}``."""
    _calendar(data, request)
    zone = _zone(request)
    time_min, time_max = request.moment("time_min"), request.moment("time_max")
    updated_min = request.moment("updated_min")
    words = (request.string("q") or "").split()
    events = [
        e
        for e in data.events
        if (time_min is None or e.end > time_min)
        and (time_max is None or e.start < time_max)
        and (updated_min is None or e.updated >= updated_min)
        and has_words(words, e.summary, e.description, e.location, e.organizer, *e.attendees)
    ]
    offset = request.offset("page_token")
    items, more = window(events, offset, request.page_size())
    body: dict[str, Any] = {
        "kind": "calendar#events",
        "summary": data.owner.email,
        "timeZone": str(zone),
        "items": [google_event(data, e, zone) for e in items],
    }
    if more:
        body["nextPageToken"] = request.token(offset + len(items))
    return body


def google_get_event(data: DemoData, request: ToolRequest) -> dict[str, Any]:
    """GOOGLECALENDAR_GET_EVENT: one event, or 404."""
    _calendar(data, request)
    event_id = request.string("event_id")
    event = next((e for e in data.events if e.id == event_id), None)
    if event is None:
        raise not_found(f"no event with id {event_id!r} on this calendar")
    return google_event(data, event, _zone(request))


def google_event(data: DemoData, event: Event, zone: tzinfo) -> dict[str, Any]:
    body: dict[str, Any] = {
        "kind": "calendar#event",
        "id": event.id,
        "status": "confirmed",
        "htmlLink": f"https://calendar.google.com/calendar/event?eid={event.id}",
        "updated": rfc3339(event.updated),
        "summary": event.summary,
        "description": event.description,
        "location": event.location,
        "organizer": {"email": event.organizer},
        "start": {"dateTime": rfc3339(event.start.astimezone(zone)), "timeZone": str(zone)},
        "end": {"dateTime": rfc3339(event.end.astimezone(zone)), "timeZone": str(zone)},
        "attendees": [
            {
                "email": email,
                "displayName": _name(data, email),
                "responseStatus": "accepted",
                **({"organizer": True} if email == event.organizer else {}),
            }
            for email in event.attendees
        ],
    }
    if event.recurring_id:
        body["recurringEventId"] = event.recurring_id
    return body


def outlook_list_events(data: DemoData, request: ToolRequest) -> dict[str, Any]:
    """OUTLOOK_LIST_EVENTS (calendarView): ``{"value", "@odata.nextLink"?}``."""
    start, end = request.moment("start_date_time"), request.moment("end_date_time")
    if start is None or end is None:
        raise bad_request("start_date_time and end_date_time are both required")
    if end <= start:
        raise bad_request("end_date_time must be after start_date_time")
    events = [e for e in data.events if e.end > start and e.start < end]
    skip = request.integer("skip", 0)
    top = request.page_size()
    items, more = window(events, skip, top)
    body: dict[str, Any] = {
        "@odata.context": "https://graph.microsoft.com/v1.0/$metadata#users('me')/calendarView",
        "value": [_outlook_event(data, e) for e in items],
    }
    if more:
        query = {
            "startDateTime": rfc3339(start),
            "endDateTime": rfc3339(end),
            "$top": top,
            "$skip": skip + len(items),
        }
        body["@odata.nextLink"] = (
            f"https://graph.microsoft.com/v1.0/me/calendarView?{urlencode(query)}"
        )
    return body


def _outlook_event(data: DemoData, event: Event) -> dict[str, Any]:
    def address(email: str) -> dict[str, str]:
        return {"name": _name(data, email), "address": email}

    return {
        "id": event.id,
        "subject": event.summary,
        "bodyPreview": event.description,
        "start": {"dateTime": _graph_time(event.start), "timeZone": "UTC"},
        "end": {"dateTime": _graph_time(event.end), "timeZone": "UTC"},
        "isAllDay": False,
        "type": "occurrence" if event.recurring_id else "singleInstance",
        "seriesMasterId": event.recurring_id,
        "location": {"displayName": event.location},
        "organizer": {"emailAddress": address(event.organizer)},
        "attendees": [
            {"type": "required", "status": {"response": "accepted"}, "emailAddress": address(a)}
            for a in event.attendees
        ],
        "webLink": f"https://outlook.office365.com/owa/?itemid={event.id}",
    }


def _graph_time(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.0000000")


def _calendar(data: DemoData, request: ToolRequest) -> None:
    calendar = request.string("calendar_id") or "primary"
    if calendar not in ("primary", data.owner.email):
        raise not_found(f"no calendar {calendar!r}; use 'primary' ({data.owner.email})")


def _zone(request: ToolRequest) -> tzinfo:
    name = request.string("time_zone")
    if name is None:
        return UTC
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise bad_request(f"unknown time zone {name!r}", argument="time_zone") from None


def _name(data: DemoData, email: str) -> str:
    person = data.person(email)
    return person.name if person else email
