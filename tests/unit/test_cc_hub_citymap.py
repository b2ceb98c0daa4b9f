import json

import pytest
from cc_samples import T0, ack, incident

from vigie.command_center.citymap import load_city_map, sectors_from_geojson
from vigie.command_center.hub import Hub
from vigie.config import REPO_ROOT
from vigie.core.events import NormalizedEvent, Role, Source
from vigie.core.serde import (
    INCIDENT,
    INCIDENT_ACK,
    NORMALIZED_EVENT,
    AvroDeserializer,
    AvroSerializer,
    SchemaCatalogue,
    ack_to_record,
    event_to_record,
    incident_to_record,
)

pytestmark = pytest.mark.unit

CATALOGUE = SchemaCatalogue.load(REPO_ROOT / "schemas" / "avro")
SER = AvroSerializer(CATALOGUE)


def test_hub_decodes_incidents_acks_events_and_notifies():
    hub = Hub(AvroDeserializer(CATALOGUE))
    seen: list[str] = []
    hub.listen(seen.append)
    hub.on_incident(b"inc-1", SER.serialize(INCIDENT, incident_to_record(incident(version=2))))
    hub.on_incident(b"inc-1", SER.serialize(INCIDENT, incident_to_record(incident(version=1))))
    hub.on_ack(b"inc-1", SER.serialize(INCIDENT_ACK, ack_to_record(ack())))
    event = NormalizedEvent(
        "ev-a",
        Source.CAMERA,
        "gunshot",
        Role.EVIDENCE,
        T0,
        T0,
        5.37,
        43.29,
        0,
        0,
        10,
        "13201",
        "r1",
    )
    hub.on_event(None, SER.serialize(NORMALIZED_EVENT, event_to_record(event)))
    # v2, the ack, then ev-a (one of its events): the older version changed nothing
    assert seen == ["inc-1", "inc-1", "inc-1"]
    assert hub.board.incidents["inc-1"].version == 2
    assert hub.board.acks["inc-1"].operator == "alice"
    found = hub.events.get("ev-a")
    assert found is not None
    assert (found.source, found.kind) == ("camera", "gunshot")


def test_event_arriving_after_its_incident_refreshes_it():
    hub = Hub(AvroDeserializer(CATALOGUE))
    hub.on_incident(b"inc-1", SER.serialize(INCIDENT, incident_to_record(incident())))
    seen: list[str] = []
    hub.listen(seen.append)
    for event_id in ("ev-a", "unrelated"):
        event = NormalizedEvent(
            event_id, Source.POLICE, "call", Role.EVIDENCE, T0, T0, 5.3, 43.2, 0, 0, 5, None, "r"
        )
        hub.on_event(None, SER.serialize(NORMALIZED_EVENT, event_to_record(event)))
    assert seen == ["inc-1"]


def test_hub_skips_garbage_and_counts_it():
    hub = Hub(AvroDeserializer(CATALOGUE))
    hub.on_incident(b"x", b"\xc3\x01garbage")
    hub.on_ack(b"x", b"not avro")
    assert hub.rejected == 2
    assert hub.board.incidents == {}


def test_tombstone_removes_the_incident():
    hub = Hub(AvroDeserializer(CATALOGUE))
    hub.on_incident(b"inc-1", SER.serialize(INCIDENT, incident_to_record(incident())))
    seen: list[str] = []
    hub.listen(seen.append)
    hub.on_incident(b"inc-1", None)
    assert hub.board.incidents == {}
    assert seen == ["inc-1"]


def test_state_changes_are_announced_once():
    hub = Hub(AvroDeserializer(CATALOGUE))
    seen: list[str] = []
    hub.listen(seen.append)
    hub.set_state("connected")
    hub.set_state("connected")
    hub.set_state("reconnecting")
    assert seen == ["", ""]
    assert hub.state == "reconnecting"


def test_marseille_map_has_sectors_and_bounds():
    city = load_city_map(REPO_ROOT / "cities" / "marseille")
    assert city["name"] == "Marseille"
    assert len(city["sectors"]) >= 1
    min_lon, min_lat, max_lon, max_lat = city["bounds"]
    assert 5.2 < min_lon < max_lon < 5.6
    assert 43.1 < min_lat < max_lat < 43.4


def test_map_falls_back_to_city_bbox_then_to_nothing(tmp_path):
    (tmp_path / "city.yaml").write_text("name: Testville\nbbox: [1, 2, 3, 4]\n")
    assert load_city_map(tmp_path) == {"name": "Testville", "bounds": [1, 2, 3, 4], "sectors": []}
    empty = tmp_path / "empty"
    empty.mkdir()
    assert load_city_map(empty) == {"name": "empty", "bounds": None, "sectors": []}


def test_multipolygons_and_other_geometries():
    data = {
        "features": [
            {
                "properties": {"sector_id": "a"},
                "geometry": {
                    "type": "MultiPolygon",
                    "coordinates": [[[[0, 0], [1, 0], [1, 1], [0, 0]]], [[[2, 2], [3, 2], [2, 2]]]],
                },
            },
            {"properties": {}, "geometry": {"type": "Point", "coordinates": [0, 0]}},
        ]
    }
    sectors = sectors_from_geojson(json.loads(json.dumps(data)))
    assert [(s["id"], len(s["rings"])) for s in sectors] == [("a", 2)]


def test_once_gives_up_with_a_clear_error_when_kafka_never_answers():
    from vigie.command_center.kafka_io import Follower, KafkaUnavailable
    from vigie.command_center.watch import _wait_caught_up
    from vigie.config import Settings

    settings = Settings(kafka_bootstrap="127.0.0.1:9")
    with pytest.raises(KafkaUnavailable, match="within 0 s"):
        _wait_caught_up(Follower(settings, []), settings, timeout_s=0.1)
