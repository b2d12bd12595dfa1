"""Property: no workspace ever receives a tool from a toolkit it has not connected."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lucy.capability_index.catalog import load_catalog

TOOLKITS = sorted(load_catalog().toolkits)
QUERIES = [
    "open a bug in linear for the login crash",
    "send an email to bob about the launch",
    "what's on my calendar this week",
    "file a bug in Linear and ping #eng",
    "refund the last stripe charge",
    "create a deal in hubspot and schedule a call",
    "upload the report to drive",
    "who is on call right now",
]


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    connected=st.sets(st.sampled_from(TOOLKITS), max_size=8),
    user_extra=st.sets(st.sampled_from(TOOLKITS), max_size=3),
    query=st.sampled_from(QUERIES),
    k=st.integers(min_value=1, max_value=20),
    restrict=st.none() | st.sets(st.sampled_from(TOOLKITS), min_size=1, max_size=5),
)
def test_only_connected_toolkits_are_returned(
    demo_index, connected, user_extra, query, k, restrict
) -> None:
    workspace = "prop-ws"
    index = demo_index
    index.disconnect(workspace, TOOLKITS)
    index.disconnect(workspace, TOOLKITS, "U9")
    if connected:
        index.connect(workspace, sorted(connected))
    if user_extra:
        index.connect(workspace, sorted(user_extra), "U9")
    allowed = connected | user_extra
    result = index.retrieve(
        query,
        workspace_id=workspace,
        user_id="U9",
        k=k,
        toolkits=None if restrict is None else sorted(restrict),
    )
    if restrict is not None:
        allowed &= restrict
    assert {c.toolkit for c in result.candidates} <= allowed
    assert not {m.toolkit for m in result.missing_connections} & (connected | user_extra)
    without_user = index.retrieve(query, workspace_id=workspace, k=k)
    assert {c.toolkit for c in without_user.candidates} <= connected
