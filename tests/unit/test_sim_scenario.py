"""The scenario generator: deterministic by seed, every record accounted for, hard cases present."""

from __future__ import annotations

from collections import Counter, defaultdict
from datetime import datetime
from functools import lru_cache
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from vigie.config import REPO_ROOT
from vigie.sim.city import SimCity, load_city
from vigie.sim.model import Feed, Scenario, TruthRole
from vigie.sim.scenario import LATE_MS, ScenarioConfig, generate

pytestmark = pytest.mark.unit

CITY_DIR = REPO_ROOT / "cities" / "marseille"


@lru_cache(maxsize=1)
def city() -> SimCity:
    return load_city(CITY_DIR)


@lru_cache(maxsize=4)
def default_scenario(seed: int = 0) -> Scenario:
    return generate(city(), ScenarioConfig(seed=seed))


def small(seed: int) -> ScenarioConfig:
    return ScenarioConfig(
        seed=seed,
        duration_s=3600,
        incidents=25,
        background_per_hour=30,
        vehicle_interval_s=600,
        hard_border=2,
        hard_late=2,
        hard_twins=1,
        hard_merge=1,
        malformed_share=0.05,
    )


@settings(max_examples=15, deadline=None)
@given(seed=st.integers(min_value=0, max_value=2**31))
def test_same_seed_same_scenario(seed: int) -> None:
    a = generate(city(), small(seed))
    b = generate(city(), small(seed))
    assert a == b


@settings(max_examples=20, deadline=None)
@given(seed=st.integers(0, 1000), incidents=st.integers(0, 80))
def test_exactly_the_requested_number_of_incidents(seed: int, incidents: int) -> None:
    cfg = ScenarioConfig(
        seed=seed,
        duration_s=1800,
        incidents=incidents,
        vehicle_interval_s=900,
        background_per_hour=10,
    )
    assert len(generate(city(), cfg).incidents) == incidents


def test_different_seeds_differ() -> None:
    a = generate(city(), small(1))
    b = generate(city(), small(2))
    assert [r.source_ref for r in a.records] != [r.source_ref for r in b.records]
    assert [(i.lon, i.lat) for i in a.incidents] != [(i.lon, i.lat) for i in b.incidents]


@settings(max_examples=10, deadline=None)
@given(seed=st.integers(min_value=0, max_value=2**31))
def test_every_record_is_accounted_for(seed: int) -> None:
    check_accounting(generate(city(), small(seed)))


def test_default_scenario_accounting() -> None:
    check_accounting(default_scenario())


def check_accounting(sc: Scenario) -> None:
    incident_ids = {i.incident_id for i in sc.incidents}
    owner: dict[tuple[str, str], set[str | None]] = defaultdict(set)
    for r in sc.records:
        if r.defect is not None:
            assert r.incident is None and r.role is TruthRole.NOISE
            continue
        if r.role is TruthRole.EVIDENCE:
            assert r.incident in incident_ids
        else:
            assert r.incident is None
        owner[(r.source.value, r.source_ref)].add(r.incident)
    # one (source, ref) never belongs to two incidents, nor to an incident and the background
    assert all(len(v) == 1 for v in owner.values()), [k for k, v in owner.items() if len(v) > 1]
    # every incident has evidence
    with_evidence = {r.incident for r in sc.records if r.incident and r.defect is None}
    assert with_evidence == incident_ids
    # duplicates repeat a record that was also sent normally, later
    originals = {(r.feed, r.source_ref): r.publish_time for r in sc.records if not r.duplicate}
    for r in sc.records:
        if r.duplicate:
            assert originals[(r.feed, r.source_ref)] <= r.publish_time
    # records come in publish order
    times = [r.publish_time for r in sc.records]
    assert times == sorted(times)


def test_source_refs_unique_per_source_except_duplicates_and_fire_units() -> None:
    sc = default_scenario()
    counts = Counter(
        (r.source.value, r.source_ref)
        for r in sc.records
        if not r.duplicate and r.feed is not Feed.FIRE
    )
    assert max(counts.values()) == 1
    fire_rows = defaultdict(set)
    for r in sc.records:
        if r.feed is Feed.FIRE:
            fire_rows[r.source_ref].add((r.kind, r.event_time, r.incident))
    assert all(len(v) == 1 for v in fire_rows.values())  # unit rows of one dispatch agree


def test_default_scenario_size_and_variety() -> None:
    sc = default_scenario()
    assert len(sc.incidents) == 300
    cats = Counter(i.category for i in sc.incidents)
    assert set(cats) >= {
        "shooting",
        "structure_fire",
        "road_accident",
        "gathering",
        "flooding",
        "roadworks_noise",
        "fight",
    }
    feeds = Counter(r.feed for r in sc.records)
    assert all(feeds[f] > 0 for f in Feed)
    multi_source = sum(
        1
        for i in sc.incidents
        if len({r.source for r in sc.records if r.incident == i.incident_id}) >= 2
    )
    # single-source: roadworks noise (police only), and incidents out of camera reach
    assert multi_source >= 0.6 * len(sc.incidents)
    assert sum(r.duplicate for r in sc.records) > 0
    assert sum(r.defect is not None for r in sc.records) > 0
    assert len({r.defect for r in sc.records if r.defect}) >= 5


def test_hard_cases_present_in_default_scenario() -> None:
    sc = default_scenario()
    tags = Counter(t for i in sc.incidents for t in i.tags)
    assert tags["border"] >= 3
    assert tags["late"] >= 3
    assert tags["twin"] >= 4
    assert tags["merge"] >= 2


def test_border_incidents_have_reports_in_two_sectors() -> None:
    sc = default_scenario()
    c = city()
    for inc in (i for i in sc.incidents if "border" in i.tags):
        sectors = {
            c.sector_of(r.lon, r.lat)
            for r in sc.records
            if r.incident == inc.incident_id and r.lon is not None and r.lat is not None
        }
        assert len(sectors - {None}) >= 2


def test_late_incidents_have_a_late_report() -> None:
    sc = default_scenario()
    for inc in (i for i in sc.incidents if "late" in i.tags):
        delays = [
            r.publish_time - r.event_time for r in sc.records if r.incident == inc.incident_id
        ]
        assert max(delays) >= LATE_MS


def test_twins_are_close_distinct_incidents() -> None:
    sc = default_scenario()
    by_id = {i.incident_id: i for i in sc.incidents}
    twins = [i for i in sc.incidents if "twin" in i.tags]
    for a in twins:
        b = by_id[a.related[0]]
        assert b.related == (a.incident_id,)
        assert a.category != b.category
        assert 100 <= city().distance_m((a.lon, a.lat), (b.lon, b.lat)) <= 300
        assert abs(a.start - b.start) <= 3 * 60_000


def test_merge_incidents_start_as_two_groups_joined_later() -> None:
    sc = default_scenario()
    c = city()
    for inc in (i for i in sc.incidents if "merge" in i.tags):
        recs = sorted(
            (r for r in sc.records if r.incident == inc.incident_id), key=lambda r: r.event_time
        )
        early = [r for r in recs if r.feed is Feed.POLICE]
        bridge = [r for r in recs if r.feed is Feed.FIRE]
        assert early and bridge
        north = [r for r in early if r.lat is not None and r.lat > inc.lat]
        south = [r for r in early if r.lat is not None and r.lat < inc.lat]
        assert north and south
        gap = min(c.distance_m((a.lon, a.lat), (b.lon, b.lat)) for a in north for b in south)  # type: ignore[arg-type]
        assert gap > 250  # too far apart to link directly ...
        b0 = bridge[0]
        for r in early:  # ... but each group is near the bridging dispatch
            assert c.distance_m((r.lon, r.lat), (b0.lon, b0.lat)) < 260  # type: ignore[arg-type]
        assert b0.event_time > max(r.event_time for r in early)


def test_flooding_happens_under_the_weather_alert() -> None:
    sc = default_scenario()
    alert = next(r for r in sc.records if r.feed is Feed.WEATHER_ALERT)
    x0, y0, x1, y1 = alert.attrs["box"]
    for inc in (i for i in sc.incidents if i.category == "flooding"):
        assert inc.context_refs == (("weather", alert.source_ref),)
        assert alert.attrs["onset"] <= inc.start <= alert.attrs["expires"]
        assert x0 <= inc.lon <= x1 and y0 <= inc.lat <= y1


def test_roadworks_noise_is_inside_its_permit() -> None:
    sc = default_scenario()
    permits = {r.source_ref: r for r in sc.records if r.feed is Feed.PERMIT}
    for inc in (i for i in sc.incidents if i.category == "roadworks_noise"):
        ((source, ref),) = inc.context_refs
        p = permits[ref]
        assert source == "permits" and p.attrs["noise_expected"]
        lons = [x for x, _ in p.attrs["ring"]]
        lats = [y for _, y in p.attrs["ring"]]
        assert min(lons) <= inc.lon <= max(lons) and min(lats) <= inc.lat <= max(lats)
        assert p.attrs["valid_from"] <= inc.start <= p.attrs["valid_until"]
        calls = [r for r in sc.records if r.incident == inc.incident_id]
        assert calls and all(r.kind == "NOISE" for r in calls)
        for r in calls:  # every complaint falls inside the permit's polygon
            assert r.lon is not None and r.lat is not None
            assert min(lons) <= r.lon <= max(lons) and min(lats) <= r.lat <= max(lats)
            assert p.attrs["valid_from"] <= r.event_time <= p.attrs["valid_until"]


def test_gatherings_are_late_at_night() -> None:
    sc = default_scenario()
    tz = ZoneInfo("Europe/Paris")
    for inc in (i for i in sc.incidents if i.category == "gathering"):
        hour = datetime.fromtimestamp(inc.start / 1000, tz=tz).hour
        assert hour >= 22 or hour < 6


def test_report_positions_are_near_the_incident() -> None:
    sc = default_scenario()
    c = city()
    by_id = {i.incident_id: i for i in sc.incidents}
    limits = {Feed.POLICE: 600, Feed.FIRE: 250, Feed.CAMERA: 450, Feed.TRANSPORT: 400}
    for r in sc.records:
        if r.incident and r.lon is not None and r.lat is not None:
            inc = by_id[r.incident]
            assert c.distance_m((r.lon, r.lat), (inc.lon, inc.lat)) <= limits[r.feed], r


def test_evidence_is_on_land_in_a_sector() -> None:
    sc = default_scenario()
    c = city()
    off = [
        r
        for r in sc.records
        if r.role is TruthRole.EVIDENCE
        and (r.lon is None or r.lat is None or c.sector_of(r.lon, r.lat) is None)
    ]
    assert off == []
    assert all(c.sector_of(s.lon, s.lat) for s in c.stops.values())
    assert all(c.sector_of(cam.lon, cam.lat) for cam in c.cameras)
