"""The situations an operator must see handled right, one example each."""

from __future__ import annotations

import functools

import pytest
from fusion_factory import T0, ev, square_wkt

from vigie.core.events import Incident, LinkEvidence, Status
from vigie.core.fusion import CellGrid, FusionEngine, fuse, incident_id_for, link_events
from vigie.core.fusion.batch import latest_versions, run_stream
from vigie.core.fusion.engine import content_of
from vigie.core.fusion.linking import event_key
from vigie.core.rules import load_rules

pytestmark = pytest.mark.unit

RULES = load_rules()
MIN = 60_000


def test_reports_from_three_agencies_make_one_shooting_with_evidence() -> None:
    events = [
        ev("police-1", "shots_fired", 0, 0, 0, uncertainty_m=100),
        ev("cam-1", "gunshot", 40, 30, -20),
        ev("fire-1", "medical", 60, -10, 400),
        ev("cam-far", "gunshot", 5000, 0, 0),
    ]
    incidents = fuse(events, RULES)
    assert len(incidents) == 2
    shooting = next(i for i in incidents if "police-1" in i.event_ids)
    assert shooting.event_ids == ("cam-1", "police-1", "fire-1")
    assert shooting.incident_id == incident_id_for("cam-1")  # the first event names it
    assert shooting.category == "shooting"
    assert shooting.severity == 5
    assert shooting.status == Status.CLOSED
    assert LinkEvidence("cam-1", "police-1", "shooting", 50.0, 20_000) in shooting.links
    lone = next(i for i in incidents if i.event_ids == ("cam-far",))
    # one camera alone is trusted less than three agencies agreeing
    assert lone.confidence < shooting.confidence


def test_links_are_found_with_rule_distance_and_gap() -> None:
    events = [ev("a", "structure_fire", 0, 0, 0), ev("b", "smoke", 200, 0, 120)]
    assert link_events(events, RULES) == [LinkEvidence("a", "b", "fire", 200.0, 120_000)]
    # beyond the distance widened by both uncertainties (100 + 30 + 85): no link
    assert link_events([events[0], ev("c", "smoke", 220, 0, 120)], RULES) == []
    # within the distance but beyond the pair's time gap (15 min): no link
    assert link_events([events[0], ev("d", "smoke", 10, 0, 16 * 60)], RULES) == []


def test_a_huge_claimed_uncertainty_is_capped_so_links_keep_a_bounded_reach() -> None:
    vague = ev("vague", "fire_report", 0, 0, 0, uncertainty_m=5000)
    far = ev("far", "structure_fire", 2000, 0, 60)
    assert link_events([vague, far], RULES) == []
    cap = RULES.max_uncertainty_m
    near = ev("near", "structure_fire", 100 + cap + 30 - 1, 0, 60)  # link + both uncertainties
    assert len(link_events([vague, near], RULES)) == 1


def test_lifecycle_open_updated_closed_in_event_time() -> None:
    engine = FusionEngine(RULES)
    v1 = engine.on_event(ev("a", "structure_fire", 0, 0, 0), T0)
    assert [(i.version, i.status) for i in v1] == [(1, Status.OPEN)]
    v2 = engine.on_event(ev("b", "smoke", 50, 0, 60), T0 + MIN)
    assert [(i.version, i.status, i.event_ids) for i in v2] == [(2, Status.UPDATED, ("a", "b"))]
    # not idle yet: nothing to close
    assert engine.on_watermark(T0 + 20 * MIN) == []
    closed = engine.on_watermark(T0 + 32 * MIN)
    assert [(i.version, i.status) for i in closed] == [(3, Status.CLOSED)]
    assert closed[0].incident_id == v1[0].incident_id


def test_late_event_within_lateness_updates_its_incident_as_a_new_version() -> None:
    engine = FusionEngine(RULES)
    engine.on_event(ev("a", "structure_fire", 0, 0, 0), T0)
    (before,) = engine.on_event(ev("c", "smoke", 60, 0, 10 * 60), T0 + 10 * MIN)
    # a report from minute 5 arrives after the one from minute 10 (within lateness)
    (update,) = engine.on_event(ev("b", "fire_report", 30, 0, 5 * 60), T0 + 12 * MIN)
    assert update.incident_id == before.incident_id
    assert update.version == before.version + 1
    assert update.status == Status.UPDATED
    assert update.event_ids == ("a", "b", "c")


def test_late_event_that_comes_first_renames_the_incident_and_retires_the_old_id() -> None:
    engine = FusionEngine(RULES)
    (first,) = engine.on_event(ev("a", "structure_fire", 0, 0, 0), T0)
    # a camera saw the smoke two minutes before the dispatch; it arrives late
    out = engine.on_event(ev("early", "smoke", 40, 0, -120), T0 + MIN)
    by_id = {i.incident_id: i for i in out}
    renamed = by_id[incident_id_for("early")]
    assert renamed.event_ids == ("early", "a")
    retired = by_id[first.incident_id]
    assert retired.status == Status.MERGED
    assert retired.merged_into == renamed.incident_id
    # and that is exactly what the same events give in event-time order
    (offline,) = fuse(
        [ev("a", "structure_fire", 0, 0, 0), ev("early", "smoke", 40, 0, -120)], RULES
    )
    assert content_of(offline) == content_of(renamed)


def test_event_far_too_late_after_eviction_still_comes_out() -> None:
    engine = FusionEngine(RULES)
    engine.on_event(ev("a", "structure_fire", 0, 0, 0), T0)
    engine.on_watermark(T0 + 300 * MIN)
    assert engine.state_size()["evidence_events"] == 0  # evicted
    (alone,) = engine.on_event(ev("ghost", "smoke", 10, 0, 60), T0 + 300 * MIN)
    assert alone.event_ids == ("ghost",)
    assert alone.status == Status.CLOSED


def test_merge_of_two_incidents_the_younger_points_at_the_survivor() -> None:
    engine = FusionEngine(RULES)
    (west,) = engine.on_event(ev("w", "structure_fire", -150, 0, 0), T0)
    (east,) = engine.on_event(ev("e", "structure_fire", 150, 0, 30), T0 + 30_000)
    assert west.incident_id != east.incident_id
    out = engine.on_event(ev("mid", "smoke", 0, 0, 60), T0 + MIN)
    by_id = {i.incident_id: i for i in out}
    survivor = by_id[west.incident_id]
    merged = by_id[east.incident_id]
    assert survivor.event_ids == ("w", "e", "mid")
    assert survivor.version == 2
    assert merged.status == Status.MERGED
    assert merged.merged_into == west.incident_id
    assert merged.version == 2


def test_anti_chaining_stops_a_street_of_reports_becoming_one_incident() -> None:
    # smoke reports every 200 m along 4 km, each linked to the next
    events = [ev(f"s{i:02d}", "smoke", 200 * i, 0, 10 * i) for i in range(20)]
    assert len(link_events(events, RULES)) >= 19
    incidents = fuse(events, RULES)
    assert 1 < len(incidents) < 20
    for incident in incidents:
        xs = [200 * int(eid[1:]) for eid in incident.event_ids]
        assert max(xs) - min(xs) <= RULES.max_extent_m


def test_permit_explains_roadworks_noise_and_lowers_severity() -> None:
    works = ev(
        "permit-1",
        "roadworks",
        0,
        0,
        -3600,
        area_wkt=square_wkt(-100, -100, 100, 100),
        valid_from=T0 - 3600_000,
        valid_until=T0 + 8 * 3600_000,
    )
    noise = [ev("n1", "noise_complaint", 20, 10, 0), ev("n2", "noise_complaint", -30, 40, 300)]
    elsewhere = [ev(f"o{i}", "noise_complaint", 3000 + 40 * i, 0, 60 * i) for i in range(2)]
    incidents = {i.event_ids[0]: i for i in fuse([works, *noise, *elsewhere], RULES)}
    explained, plain = incidents["n1"], incidents["o0"]
    assert explained.context.permits == ("permit-1",)
    assert explained.explanation is not None and "permit" in explained.explanation
    assert explained.severity == plain.severity - 1
    assert (explained.category, plain.category) == ("roadworks_noise", "gathering")
    assert plain.context.permits == ()
    assert plain.explanation is None


def test_permit_arriving_after_the_noise_updates_the_incident() -> None:
    engine = FusionEngine(RULES)
    (first,) = engine.on_event(ev("n1", "noise_complaint", 0, 0, 0), T0)
    permit = ev(
        "permit-1",
        "roadworks",
        0,
        0,
        -60,
        area_wkt=square_wkt(-100, -100, 100, 100),
        valid_from=T0 - 60_000,
        valid_until=T0 + 3600_000,
    )
    (second,) = engine.on_event(permit, T0)
    assert second.incident_id == first.incident_id
    assert second.severity == first.severity - 1
    assert second.context.permits == ("permit-1",)


def test_weather_alert_raises_flooding_and_observation_and_lines_are_joined() -> None:
    alert = ev(
        "cap-1",
        "weather_alert",
        0,
        0,
        -600,
        area_wkt=square_wkt(-5000, -5000, 5000, 5000),
        valid_from=T0 - 600_000,
        valid_until=T0 + 6 * 3600_000,
    )
    obs_near = ev("obs-near", "weather_observation", 1000, 0, -300)
    obs_far = ev("obs-far", "weather_observation", 9000, 0, -100)
    bus = ev("veh-1", "vehicle_position", 100, 50, 60, attributes={"line": "M1"})
    bus_far = ev("veh-2", "vehicle_position", 2000, 0, 60, attributes={"line": "B2"})
    flood = [ev("f1", "flooding", 0, 0, 0), ev("f2", "transit_weather_alert", 200, 100, 600)]
    (incident,) = fuse([alert, obs_near, obs_far, bus, bus_far, *flood], RULES)
    assert incident.category == "flooding"
    assert incident.severity == 5  # 4, raised by the alert
    assert incident.context.weather_alerts == ("cap-1",)
    assert incident.context.weather_observation == "obs-near"
    assert incident.context.affected_lines == ("M1",)


def test_border_straddling_incident_is_published_once_by_the_anchor_cell() -> None:
    events = [
        ev("a", "structure_fire", -30, 0, 0),  # west of the cell border at x = X0
        ev("b", "smoke", 40, 10, 60),  # east of it
        ev("c", "fire_report", 90, -20, 300),
    ]
    grid = CellGrid.for_rules(
        RULES, bounds_m=(880_000, 6_240_000, 910_000, 6_260_000), cell_size_m=893_000.0
    )
    west, east = grid.home_cell(events[0]), grid.home_cell(events[1])
    assert west != east
    # parallelism 2: one engine per cell, each event sent to every cell its keys name
    engines = {c: FusionEngine(RULES, owns=functools.partial(grid.owns, c)) for c in (west, east)}
    published: list[Incident] = []
    for e in sorted(events, key=event_key):
        keys = grid.cell_keys(e, RULES)
        assert {west, east} <= set(keys)  # replicated across the border
        for key in keys:
            if key in engines:
                published.extend(engines[key].on_event(e, e.event_time))
    for engine in engines.values():
        published.extend(engine.flush())
    assert {i.incident_id for i in published} == {incident_id_for("a")}  # only west publishes
    (two,) = latest_versions(published)
    # parallelism 1: one engine for the whole city
    (one,) = fuse(events, RULES)
    assert two.event_ids == one.event_ids == ("a", "b", "c")
    assert content_of(two) == content_of(one)


def test_duplicate_delivery_changes_nothing() -> None:
    engine = FusionEngine(RULES)
    a = ev("a", "structure_fire", 0, 0, 0)
    assert engine.on_event(a, T0)
    assert engine.on_event(a, T0) == []


def test_state_grows_with_open_incidents_not_with_events_seen() -> None:
    engine = FusionEngine(RULES)
    arrivals = []
    for hour in range(12):
        for k in range(10):
            e = ev(f"h{hour}-{k}", "structure_fire", 5000 * k, 0, 3600 * hour + k)
            arrivals.append((e, e.event_time))
    sizes = []
    for e, wm in arrivals:
        engine.on_event(e, wm)
        engine.on_watermark(wm)
        sizes.append(engine.state_size()["evidence_events"])
    assert max(sizes) <= 40  # a few hours' worth of open incidents, never all 120 events
    assert len(latest_versions(run_stream(FusionEngine(RULES), arrivals))) == 120


def test_an_event_far_ahead_of_the_watermark_waits_and_goes_in_when_time_comes() -> None:
    # Reading a backlog: a camera partition read two hours ahead of the police one.
    hour = 3_600_000
    engine = FusionEngine(RULES, ahead_ms=hour)
    watermark = T0 - 60_000
    assert engine.on_event(ev("police-1", "shots_fired", 0, 0, 0), watermark)
    ahead = ev("camera-1", "gunshot", 20, 0, 2 * 3600)
    assert engine.on_event(ahead, watermark) == []  # waits: nothing published yet
    assert ahead.event_id in engine.held_event_ids()  # ... but held, so checkpointed
    assert engine.state_size()["waiting"] == 1
    not_yet = engine.on_watermark(T0 + hour - 1000)  # still more than an hour ahead
    assert all(ahead.event_id not in i.event_ids for i in not_yet)
    released = engine.on_watermark(T0 + hour + 1000)
    assert [ahead.event_id] in [list(i.event_ids) for i in released]
    assert engine.state_size()["waiting"] == 0


def test_an_engine_without_a_known_watermark_never_holds_events_back() -> None:
    engine = FusionEngine(RULES, ahead_ms=3_600_000)
    assert engine.on_event(ev("camera-1", "gunshot", 0, 0, 0), -(2**62))
    assert engine.state_size()["waiting"] == 0
