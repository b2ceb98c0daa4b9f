"""Fuzzing every parser: random and mutated inputs never crash it, and nothing goes missing.

For each payload the test counts the records independently of the parser (non-blank lines,
features, entities) and checks that the parser returned exactly one result per record: an
accepted record (which must then fit its Avro schema) or a rejection from the closed set,
whose original bytes come from the payload.
"""

from __future__ import annotations

import json

import pytest
from fastavro.validation import validate
from feed_support import REPO, SAMPLES
from google.protobuf.message import DecodeError
from google.transit import gtfs_realtime_pb2 as rt
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from connectors.base import Reason, Rejection, to_avro
from connectors.camera import CameraParser
from connectors.fire import FireParser
from connectors.permits import PermitsParser
from connectors.police import PoliceParser
from connectors.transport import TransportParser
from connectors.weather import WeatherParser
from vigie.core.serde import SchemaCatalogue

pytestmark = pytest.mark.unit

CATALOGUE = SchemaCatalogue.load(REPO / "schemas" / "avro")
FUZZ = settings(
    max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


def _lines(payload: bytes) -> list[bytes]:
    body = payload.removeprefix(b"\xef\xbb\xbf").split(b"\n")
    return [line.removesuffix(b"\r") for line in body if line.removesuffix(b"\r").strip()]


def _csv_count(payload: bytes) -> int:
    return max(len(_lines(payload)) - 1, 0)


def _jsonl_count(payload: bytes) -> int:
    if payload.lstrip(b"\xef\xbb\xbf \t\r\n").startswith(b"["):
        try:
            items = json.loads(payload.decode("utf-8-sig"))
        except (UnicodeDecodeError, ValueError, RecursionError):
            return 1
        return len(items) if isinstance(items, list) else 1
    return len(_lines(payload))


def _geojson_count(payload: bytes) -> int:
    try:
        doc = json.loads(payload.decode("utf-8-sig"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        return 1
    if isinstance(doc, dict) and doc.get("type") == "FeatureCollection":
        features = doc.get("features")
        if isinstance(features, list):
            return len(features)
    return 1


def _protobuf_count(payload: bytes) -> int:
    feed = rt.FeedMessage()
    try:
        feed.ParseFromString(payload)
    except (DecodeError, RuntimeError, ValueError):
        return 1
    return len(feed.entity) if feed.IsInitialized() else 1


def _weather_count(payload: bytes) -> int:
    start = payload.lstrip(b"\xef\xbb\xbf \t\r\n")[:1]
    if start == b"<":
        return 1
    if start == b"[":
        return _jsonl_count(payload)  # a JSON array: one per item, 1 if unreadable
    return _csv_count(payload)


def _check(parser, payload, count, schema, ctx, line_based=False):  # type: ignore[no-untyped-def]
    results = list(parser.parse(payload, "fuzz", ctx))
    assert len(results) == count(payload)
    for result in results:
        if isinstance(result, Rejection):
            assert result.reason in set(Reason)
            assert result.position.uri == "fuzz"
            if line_based or result.position.index == 0:
                assert result.original in payload
        else:
            assert validate(to_avro(result), CATALOGUE.get(schema).parsed, raise_errors=True)


def _mutated(sample: bytes) -> st.SearchStrategy[bytes]:
    """The sample with a few random edits: byte flips, deletions, insertions, line swaps."""

    @st.composite
    def build(draw: st.DrawFn) -> bytes:
        data = bytearray(sample)
        for _ in range(draw(st.integers(1, 6))):
            op = draw(st.sampled_from(["flip", "delete", "insert", "dup_line", "field"]))
            at = draw(st.integers(0, max(len(data) - 1, 0)))
            if op == "flip" and data:
                data[at] = draw(st.integers(0, 255))
            elif op == "delete" and data:
                end = at + draw(st.integers(1, 20))
                del data[at:end]
            elif op == "insert":
                data[at:at] = draw(st.binary(max_size=8))
            elif op == "dup_line":
                lines = bytes(data).split(b"\n")
                lines.insert(draw(st.integers(0, len(lines))), draw(st.sampled_from(lines)))
                data = bytearray(b"\n".join(lines))
            else:
                junk = draw(st.sampled_from([b",", b'"', b"", b"-1", b"1e400", b"null", b"{"]))
                data[at:at] = junk
        return bytes(data)

    return build()


def _text_payloads(sample: bytes) -> st.SearchStrategy[bytes]:
    return st.one_of(
        _mutated(sample), st.binary(max_size=200), st.text(max_size=200).map(str.encode)
    )


POLICE = (SAMPLES / "police_calls.csv").read_bytes()
FIRE = (SAMPLES / "fire_dispatch.csv").read_bytes()
OBS = (SAMPLES / "weather_observations.csv").read_bytes()
OBS_JSON = (SAMPLES / "weather_observations.json").read_bytes()
CAP = (SAMPLES / "weather_alert_cap.xml").read_bytes()
PERMITS = (SAMPLES / "permits.geojson").read_bytes()
CAMERA = (SAMPLES / "camera_events.jsonl").read_bytes()
TRANSPORT = (SAMPLES / "transport_feed.pb").read_bytes()


@FUZZ
@given(payload=_text_payloads(POLICE))
def test_police_fuzz(ctx, payload):
    _check(PoliceParser(), payload, _csv_count, "org.vigie.raw.v1.PoliceCall", ctx, True)


@FUZZ
@given(payload=_text_payloads(FIRE))
def test_fire_fuzz(ctx, payload):
    _check(FireParser(), payload, _csv_count, "org.vigie.raw.v1.FireDispatch", ctx, True)


@FUZZ
@given(payload=st.one_of(_text_payloads(OBS), _mutated(CAP), _mutated(OBS_JSON)))
def test_weather_fuzz(ctx, payload):
    _check(WeatherParser(), payload, _weather_count, "org.vigie.raw.v1.WeatherRecord", ctx)


@FUZZ
@given(payload=_text_payloads(PERMITS))
def test_permits_fuzz(ctx, payload):
    _check(PermitsParser(), payload, _geojson_count, "org.vigie.raw.v1.Permit", ctx)


@FUZZ
@given(payload=_text_payloads(CAMERA))
def test_camera_fuzz(ctx, registry, payload):
    _check(CameraParser(registry), payload, _jsonl_count, "org.vigie.raw.v1.CameraDetection", ctx)


@FUZZ
@given(payload=st.one_of(_mutated(TRANSPORT), st.binary(max_size=200)))
def test_transport_fuzz(ctx, static_gtfs, payload):
    _check(
        TransportParser(static_gtfs),
        payload,
        _protobuf_count,
        "org.vigie.raw.v1.TransportEntity",
        ctx,
    )


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=10),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=8,
)


@FUZZ
@given(
    events=st.lists(
        st.fixed_dictionaries(
            {},
            optional={
                "event_id": json_values | st.just("e1"),
                "camera_id": json_values | st.sampled_from(["CAM-0001", "CAM-0002"]),
                "type": json_values | st.sampled_from(["gunshot", "crowd"]),
                "confidence": json_values | st.floats(0, 1),
                "detected_at": json_values | st.just("2026-11-28T22:00:00Z"),
                "duration_s": json_values,
                "object_count": json_values,
            },
        )
        | json_values,
        max_size=5,
    )
)
def test_camera_structured_fuzz(ctx, registry, events):
    payload = b"\n".join(json.dumps(e).encode() for e in events)
    _check(
        CameraParser(registry),
        payload,
        _jsonl_count,
        "org.vigie.raw.v1.CameraDetection",
        ctx,
    )


@FUZZ
@given(
    features=st.lists(
        st.fixed_dictionaries(
            {"type": st.just("Feature")},
            optional={
                "properties": st.dictionaries(
                    st.sampled_from(
                        [
                            "permit_id",
                            "kind",
                            "valid_from",
                            "valid_until",
                            "measure",
                            "noise_expected",
                            "applicant",
                        ]
                    ),
                    json_values,
                ),
                "geometry": json_values,
            },
        )
        | json_values,
        max_size=4,
    )
)
def test_permits_structured_fuzz(ctx, features):
    payload = json.dumps({"type": "FeatureCollection", "features": features}).encode()
    _check(PermitsParser(), payload, _geojson_count, "org.vigie.raw.v1.Permit", ctx)


coordinate_text = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.floats(6.2e6, 6.3e6).map(str),
    st.floats(8.7e5, 9.1e5).map(str),
    st.text(alphabet="0123456789.-e", max_size=12),
)


@FUZZ
@given(rows=st.lists(st.tuples(coordinate_text, coordinate_text), max_size=6))
def test_police_projected_coordinates_fuzz(ctx, rows):
    header = b"incident_number,call_type_code,priority,received_at,x,y"
    lines = [f"P{i},SHOTS,1,2026-11-28 22:00:00,{x},{y}".encode() for i, (x, y) in enumerate(rows)]
    payload = b"\n".join([header, *lines])
    _check(PoliceParser(), payload, _csv_count, "org.vigie.raw.v1.PoliceCall", ctx, True)
