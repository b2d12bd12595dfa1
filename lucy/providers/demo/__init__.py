"""The local demo provider: the demo catalog's read tools over a generated data set."""

from __future__ import annotations

from lucy.providers.demo.data import DemoData, Event, Issue, Message, Person, generate_demo_data
from lucy.providers.demo.provider import DEMO_TOOLS, DemoProvider

__all__ = [
    "DEMO_TOOLS",
    "DemoData",
    "DemoProvider",
    "Event",
    "Issue",
    "Message",
    "Person",
    "generate_demo_data",
]
