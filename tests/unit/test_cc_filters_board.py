import json

import pytest
from cc_samples import T0, ack, incident
from hypothesis import given
from hypothesis import strategies as st

from vigie.command_center.board import (
    Board,
    EventIndex,
    EventSummary,
    format_age,
    incident_view,
    status_text,
    table_row,
)
from vigie.command_center.filters import BBox, FilterError, IncidentFilter, parse_bbox
from vigie.core.events import AckAction, Status

pytestmark = pytest.mark.unit


def test_empty_filter_passes_everything():
    assert IncidentFilter().matches(incident(severity=1, sector=None))


@pytest.mark.parametrize(
    ("flt", "expected"),
    [
        (IncidentFilter.build(min_severity=4), True),
        (IncidentFilter.build(min_severity=5), False),
        (IncidentFilter.build(categories=["fire,shooting"]), True),
        (IncidentFilter.build(categories=["fire"]), False),
        (IncidentFilter.build(sectors=["13201"]), True),
        (IncidentFilter.build(sectors=["13202", "13203"]), False),
        (IncidentFilter.build(bbox="5.36,43.29,5.38,43.30"), True),
        (IncidentFilter.build(bbox="5.37,43.29,5.38,43.30"), False),
        (IncidentFilter.build(min_severity=3, categories=["shooting"], sectors=["13201"]), True),
    ],
)
def test_each_criterion(flt, expected):
    assert flt.matches(incident()) is expected


@pytest.mark.parametrize("status", [Status.CLOSED, Status.MERGED])
def test_closed_and_merged_are_hidden_unless_asked_for(status):
    done = incident(status=status)
    assert not IncidentFilter().matches(done)
    assert IncidentFilter.build(include_closed=True).matches(done)
    assert IncidentFilter().matches(incident(status=Status.UPDATED))


def test_sector_filter_excludes_incidents_outside_every_sector():
    assert not IncidentFilter.build(sectors=["13201"]).matches(incident(sector=None))


def test_bbox_edges_are_inside():
    box = parse_bbox("5.3698,43.2965,5.4,43.3")
    assert box.contains(5.3698, 43.2965)
    assert not box.contains(5.3697, 43.2965)


@pytest.mark.parametrize(
    "text", ["1,2,3", "a,b,c,d", "5.4,43.2,5.3,43.3", "5,43.3,6,43.2", "200,0,201,1", "0,-91,1,0"]
)
def test_bad_bbox_is_refused(text):
    with pytest.raises(FilterError):
        parse_bbox(text)


@pytest.mark.parametrize("severity", [0, 6])
def test_min_severity_range(severity):
    with pytest.raises(FilterError, match=r"1\.\.5"):
        IncidentFilter.build(min_severity=severity)


@given(
    severity=st.integers(1, 5),
    minimum=st.integers(1, 5),
    lon=st.floats(-180, 180),
    lat=st.floats(-90, 90),
)
def test_filter_is_conjunction_of_criteria(severity, minimum, lon, lat):
    inc = incident(severity=severity, lon=lon, lat=lat)
    box = BBox(0, 0, 10, 50)
    flt = IncidentFilter(min_severity=minimum, bbox=box)
    assert flt.matches(inc) == (severity >= minimum and box.contains(lon, lat))


def test_board_keeps_highest_version_whatever_the_order():
    board = Board()
    assert board.apply_incident(incident(version=2, severity=5))
    assert not board.apply_incident(incident(version=1, severity=1))
    assert not board.apply_incident(incident(version=2, severity=1))
    assert board.incidents["inc-1"].severity == 5
    assert board.apply_incident(incident(version=3, status=Status.CLOSED))
    assert board.incidents["inc-1"].status is Status.CLOSED


def test_board_keeps_latest_ack():
    board = Board()
    assert board.apply_ack(ack(at=T0 + 5))
    assert not board.apply_ack(ack(at=T0 + 1, ack_id="00000000-0000-4000-8000-000000000002"))
    assert board.apply_ack(
        ack(
            at=T0 + 9,
            action=AckAction.ASSIGN,
            assignee="unit 12",
            ack_id="00000000-0000-4000-8000-000000000003",
        )
    )
    assert board.acks["inc-1"].assignee == "unit 12"


def test_select_orders_by_severity_then_recency_and_filters():
    board = Board()
    board.apply_incident(incident(incident_id="a", severity=2, last_event_time=T0 + 9))
    board.apply_incident(incident(incident_id="b", severity=5, last_event_time=T0))
    board.apply_incident(incident(incident_id="c", severity=2, last_event_time=T0 + 99))
    assert [i.incident_id for i in board.select(IncidentFilter())] == ["b", "c", "a"]
    assert [i.incident_id for i in board.select(IncidentFilter(min_severity=3))] == ["b"]


@pytest.mark.parametrize(
    ("ms", "text"),
    [(-5, "0s"), (59_999, "59s"), (185_000, "3m05s"), (8_040_000, "2h14m"), (273_600_000, "3d04h")],
)
def test_format_age(ms, text):
    assert format_age(ms) == text


def test_status_text_says_who_did_what():
    inc = incident()
    assert status_text(inc, None) == "open"
    assert status_text(inc, ack()) == "open, acked by alice"
    assigned = ack(action=AckAction.ASSIGN, assignee="unit 12")
    assert status_text(inc, assigned) == "open, assigned to unit 12 by alice"
    merged = incident(status=Status.MERGED, merged_into="inc-9")
    assert (
        status_text(merged, ack(action=AckAction.RELEASE)) == "merged into inc-9, released by alice"
    )


def test_table_row():
    row = table_row(incident(), None, T0 + 185_000)
    assert (row.severity, row.category, row.sector, row.sources, row.age, row.status) == (
        4,
        "shooting",
        "13201",
        "police,camera",
        "3m05s",
        "open",
    )
    assert table_row(incident(sector=None), None, T0).sector == "-"


def test_view_explains_the_incident_with_known_events_in_time_order():
    index = EventIndex()
    index.add(EventSummary("ev-a", "camera", "gunshot", T0, "13201"))
    index.add(EventSummary("ev-b", "police", "call_shots", T0 + 60_000, "13201"))
    view = incident_view(incident(), ack(), T0 + 90_000, index)
    json.dumps(view)  # JSON-able as it is
    assert [(e["event_id"], e["source"], e["kind"]) for e in view["timeline"]] == [
        ("ev-a", "camera", "gunshot"),
        ("ev-b", "police", "call_shots"),
    ]
    assert view["timeline"][0]["time"] == "2026-05-28T20:26:40.000+00:00"
    assert view["links"] == [
        {
            "event_a": "ev-a",
            "event_b": "ev-b",
            "rule": "shots_call_camera",
            "distance_m": 120.0,
            "time_gap_s": 60.0,
        }
    ]
    assert view["context"]["affected_lines"] == ["M1"]
    assert view["context"]["permits"] == ["permit-1"]
    assert view["ack"]["operator"] == "alice"
    assert view["age_s"] == 90


def test_view_lists_unknown_events_last_without_details():
    index = EventIndex()
    index.add(EventSummary("ev-b", "police", "call_shots", T0, None))
    view = incident_view(incident(), None, T0, index)
    assert [(e["event_id"], e["source"]) for e in view["timeline"]] == [
        ("ev-b", "police"),
        ("ev-a", None),
    ]
    assert view["ack"] is None


def test_event_index_is_bounded_and_forgets_the_oldest():
    index = EventIndex(capacity=2)
    for name in ("a", "b", "c"):
        index.add(EventSummary(name, "police", "k", T0, None))
    assert len(index) == 2
    assert index.get("a") is None
    assert index.get("c") is not None
