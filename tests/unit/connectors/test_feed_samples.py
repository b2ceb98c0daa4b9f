"""Every sample file parses completely, and every record fits its raw Avro schema."""

from __future__ import annotations

from datetime import datetime

import pytest
from fastavro.validation import validate
from feed_support import KEY, REPO, SAMPLES

from connectors.base import Rejection, to_avro
from connectors.camera import CameraParser
from connectors.fire import FireParser
from connectors.permits import PermitsParser
from connectors.police import PoliceParser
from connectors.transport import TransportParser
from connectors.weather import WeatherParser
from vigie.core.privacy import IdentifierKind, pseudonymise
from vigie.core.serde import AvroDeserializer, AvroSerializer, SchemaCatalogue

pytestmark = pytest.mark.unit

SCHEMAS = {
    "police": "org.vigie.raw.v1.PoliceCall",
    "fire": "org.vigie.raw.v1.FireDispatch",
    "transport": "org.vigie.raw.v1.TransportEntity",
    "weather": "org.vigie.raw.v1.WeatherRecord",
    "permits": "org.vigie.raw.v1.Permit",
    "camera": "org.vigie.raw.v1.CameraDetection",
}


@pytest.fixture(scope="module")
def catalogue() -> SchemaCatalogue:
    return SchemaCatalogue.load(REPO / "schemas" / "avro")


def _cases(registry, static_gtfs):  # type: ignore[no-untyped-def]
    return [
        ("police", PoliceParser(), "police_calls.csv", 4),
        ("fire", FireParser(), "fire_dispatch.csv", 4),
        ("transport", TransportParser(static_gtfs), "transport_feed.pb", 3),
        ("weather", WeatherParser(), "weather_observations.csv", 3),
        ("weather", WeatherParser(), "weather_observations.json", 2),
        ("weather", WeatherParser(), "weather_alert_cap.xml", 1),
        ("permits", PermitsParser(), "permits.geojson", 3),
        ("camera", CameraParser(registry), "camera_events.jsonl", 4),
    ]


def test_every_sample_record_is_accepted_and_round_trips_avro(
    ctx, registry, static_gtfs, catalogue
):
    serializer, deserializer = AvroSerializer(catalogue), AvroDeserializer(catalogue)
    for feed, parser, name, expected in _cases(registry, static_gtfs):
        results = list(parser.parse((SAMPLES / name).read_bytes(), name, ctx))
        assert [r for r in results if isinstance(r, Rejection)] == [], name
        assert len(results) == expected, name
        assert [r.source_index for r in results] == list(range(1, expected + 1))
        schema = catalogue.get(SCHEMAS[feed])
        for record in results:
            datum = to_avro(record)
            assert validate(datum, schema.parsed, raise_errors=True)
            decoded = deserializer.deserialize(serializer.serialize(SCHEMAS[feed], datum))
            assert _as_millis(decoded.record) == datum


def _as_millis(value):  # type: ignore[no-untyped-def]
    """fastavro reads timestamp-millis as aware datetimes; the records carry ints."""
    if isinstance(value, datetime):
        return round(value.timestamp() * 1000)
    if isinstance(value, dict):
        return {k: _as_millis(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_as_millis(v) for v in value]
    return value


def test_police_sample_values_and_pseudonyms(ctx):
    calls = list(PoliceParser().parse((SAMPLES / "police_calls.csv").read_bytes(), "f", ctx))
    first = calls[0]
    assert first.record_id == "P2026-0112345"
    # 22:14:05 in Paris in November is 21:14:05 UTC.
    assert first.received_at == 1_795_814_045_000
    assert first.caller_phone_pseudonym == pseudonymise("+33612345678", KEY, IdentifierKind.PHONE)
    assert first.caller_name_pseudonym == pseudonymise("jean dupont", KEY, IdentifierKind.NAME)
    raw_text = repr(calls)
    for personal in ("Dupont", "06 12 34 56 78", "Marie Curie", "0491000001"):
        assert personal not in raw_text


def test_transport_sample_is_what_its_generator_builds():
    import importlib.util

    spec = importlib.util.spec_from_file_location(
        "make_transport_sample", SAMPLES / "make_transport_sample.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert module.build() == (SAMPLES / "transport_feed.pb").read_bytes()


def test_plate_is_pseudonymised_and_alert_stops_placed(ctx, static_gtfs):
    payload = (SAMPLES / "transport_feed.pb").read_bytes()
    bus, tram, alert = TransportParser(static_gtfs).parse(payload, "f", ctx)
    assert bus.vehicle.license_plate_pseudonym == pseudonymise("GH123JK", KEY, IdentifierKind.PLATE)
    assert "GH-123" not in repr(bus)
    assert bus.kafka_key() == "2301"
    assert tram.vehicle.license_plate_pseudonym is None
    assert alert.alert.stops[0].stop_id == "NOAILLES"
    assert (alert.alert.stops[0].lon, alert.alert.stops[0].lat) == (5.3812, 43.2974)


def test_cap_polygon_is_read_lat_lon_and_written_lon_lat(ctx):
    (alert,) = WeatherParser().parse((SAMPLES / "weather_alert_cap.xml").read_bytes(), "f", ctx)
    assert alert.alert.area_wkt.startswith("POLYGON ((5.36 43.27, 5.45 43.27")
    assert alert.kafka_key() == alert.record_id
