"""Rules validation (clear errors) and city geometry look-ups."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from vigie.config import REPO_ROOT
from vigie.core.geo import AreaIndex, CityGeometry, GeometryError
from vigie.core.rules import DEFAULT_RULES_PATH, Rules, RulesError, load_rules, rules_for_city

pytestmark = pytest.mark.unit

MARSEILLE = REPO_ROOT / "cities" / "marseille"


def shipped() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load(DEFAULT_RULES_PATH.read_text(encoding="utf-8"))
    return data


def test_shipped_rules_load_and_link_tables_are_symmetric() -> None:
    rules = load_rules()
    assert rules.max_gap_ms == max(r.max_gap_ms for rs in rules.pairs.values() for r in rs)
    for (a, b), found in rules.pairs.items():
        assert rules.pairs[(b, a)] == found
    assert rules.pair_rules("gunshot", "shots_fired")[0].name == "shooting"
    assert rules.pair_rules("gunshot", "structure_fire") == ()
    assert rules.pair_rules("mystery", "mystery")[0].name == "same_kind"
    assert rules_for_city(MARSEILLE).spec == rules.spec
    # raw codes the normalise step looks up, with the finer split for transport alerts
    assert rules.kind_for("police", "SHOTS") == "shots_fired"
    assert rules.kind_for("transport", "ALERT", "ACCIDENT") == "transit_accident_alert"
    assert rules.kind_for("transport", "ALERT", "OTHER_CAUSE") == "service_alert"
    assert rules.kind_for("police", "UFO") is None


@pytest.mark.parametrize(
    ("mutate", "expected"),
    [
        (lambda d: d["links"][0]["kinds"].append("unicorn"), "links[0] (shooting).kinds"),
        (lambda d: d["bounds"].pop("max_extent_m"), "bounds.max_extent_m"),
        (lambda d: d["kinds"]["gunshot"].update(role="rumour"), "kinds.gunshot.role"),
        (lambda d: d["links"][0].update(between=[["gunshot"], ["scream"]]), "exactly one"),
        (lambda d: d["links"][0].update(max_distance_m=5000), "exceeds bounds.max_extent_m"),
        (lambda d: d["explanations"][0]["context_kinds"].append("gunshot"), "is evidence"),
        (lambda d: d["categories"][0].update(severity=9), "categories.0.severity"),
        (lambda d: d.update(colour="blue"), "colour"),
        (lambda d: d["kinds"]["scream"]["codes"].append("police:SHOTS"), "already maps"),
        (lambda d: d["kinds"]["scream"]["codes"].append("SHOTS"), "not 'source:CODE'"),
    ],
)
def test_invalid_rules_name_the_key(mutate: Any, expected: str) -> None:
    data = copy.deepcopy(shipped())
    mutate(data)
    with pytest.raises(RulesError, match="invalid fusion rules") as info:
        Rules.from_dict(data, source="fusion.yaml")
    assert expected in str(info.value)
    assert str(info.value).startswith("fusion.yaml:")


def test_unreadable_and_unparsable_rules_files(tmp_path: Path) -> None:
    with pytest.raises(RulesError, match="cannot read"):
        load_rules(tmp_path / "missing.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("version: [1\n", encoding="utf-8")
    with pytest.raises(RulesError, match="not valid YAML"):
        load_rules(bad)


@pytest.fixture(scope="module")
def city() -> CityGeometry:
    return CityGeometry.load(MARSEILLE)


def test_marseille_projection_sectors_and_area(city: CityGeometry) -> None:
    x, y = city.project(5.3698, 43.2965)  # Vieux-Port
    assert 890_000 < x < 895_000 and 6_245_000 < y < 6_250_000
    lon, lat = city.unproject(x, y)
    assert abs(lon - 5.3698) < 1e-7 and abs(lat - 43.2965) < 1e-7
    assert city.sector_of(5.3698, 43.2965) is not None
    assert city.sector_of(2.35, 48.85) is None  # Paris
    assert city.contains_city(5.3698, 43.2965)
    assert not city.contains_city(2.35, 48.85)
    assert len(city.sector_ids) == 16


@settings(max_examples=60, deadline=None)
@given(lon=st.floats(5.30, 5.50), lat=st.floats(43.22, 43.36), d=st.floats(1.0, 500.0))
def test_projected_distances_are_metres(
    city: CityGeometry, lon: float, lat: float, d: float
) -> None:
    x, y = city.project(lon, lat)
    x2, y2 = city.project(lon, lat + d / 111_132.0)  # d metres north, near enough
    assert abs(((x2 - x) ** 2 + (y2 - y) ** 2) ** 0.5 - d) < 0.01 * d + 0.5


def test_geometry_errors_name_the_file(tmp_path: Path) -> None:
    with pytest.raises(GeometryError, match=r"city\.yaml"):
        CityGeometry.load(tmp_path)
    (tmp_path / "city.yaml").write_text("crs: EPSG:2154\nbbox: [1, 2, 3, 4]\n", encoding="utf-8")
    (tmp_path / "sectors.geojson").write_text('{"features": [{"properties": {}}]}')
    with pytest.raises(GeometryError, match="sector_id"):
        CityGeometry.load(tmp_path)


def test_area_index_covers_points_and_ignores_broken_areas() -> None:
    areas = AreaIndex()
    square = "POLYGON((5 43, 5.1 43, 5.1 43.1, 5 43.1, 5 43))"
    assert areas.covers(square, 5.05, 43.05)
    assert areas.covers(square, 5.0, 43.05)  # the border counts
    assert not areas.covers(square, 5.2, 43.05)
    assert not areas.covers("POLYGON((oops", 5.05, 43.05)
