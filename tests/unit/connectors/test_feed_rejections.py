"""Malformed inputs: each one is rejected with the exact reason, position and original bytes."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from google.transit import gtfs_realtime_pb2 as rt

from connectors.base import Reason, Rejection, SourcePosition
from connectors.camera import CameraParser
from connectors.fire import FireParser
from connectors.permits import PermitsParser
from connectors.police import PoliceParser
from connectors.transport import TransportParser
from connectors.weather import WeatherParser

pytestmark = pytest.mark.unit

POLICE_HEADER = (
    b"incident_number,call_type_code,call_type_description,priority,received_at,"
    b"dispatched_at,longitude,latitude,address,caller_name,caller_phone,disposition"
)
GOOD_POLICE = b"P1,SHOTS,Shots,1,2026-11-28 22:14:05,,5.37,43.29,Rue X,Jean Dupont,0612345678,"


@pytest.mark.parametrize(
    ("line", "reason", "record_id"),
    [
        (b"P2,SHOTS,Shots,1,2026-11-28 22:14:05,,,,Rue X,,,", Reason.MISSING_COORDINATES, "P2"),
        (
            b"P3,SHOTS,Shots,1,2026-11-28 22:14:05,,abc,43.2,Rue X,,,",
            Reason.INVALID_COORDINATES,
            "P3",
        ),
        (
            b"P4,SHOTS,Shots,1,2026-11-28 22:14:05,,5.37,95,Rue X,,,",
            Reason.INVALID_COORDINATES,
            "P4",
        ),
        (b"P5,SHOTS,Shots,1,2026-11-28 22:14:05,,2.35,48.85,Paris,,,", Reason.OUTSIDE_CITY, "P5"),
        (
            b"P6,SHOTS,Shots,1,2026-03-29 02:30:00,,5.37,43.29,,,,",
            Reason.IMPOSSIBLE_TIMESTAMP,
            "P6",
        ),
        (
            b"P7,SHOTS,Shots,1,1970-01-01 00:00:00,,5.37,43.29,,,,",
            Reason.IMPOSSIBLE_TIMESTAMP,
            "P7",
        ),
        (
            b"P8,SHOTS,Shots,1,2030-01-01 00:00:00,,5.37,43.29,,,,",
            Reason.IMPOSSIBLE_TIMESTAMP,
            "P8",
        ),
        (
            b"P9,SHOTS,Shots,1,2026-11-28 22:14:05,2026-11-28 22:00:00,5.37,43.29,,,,",
            Reason.IMPOSSIBLE_TIMESTAMP,
            "P9",
        ),
        (b"P10,UFO,Saucer,1,2026-11-28 22:14:05,,5.37,43.29,,,,", Reason.UNKNOWN_CODE, "P10"),
        (b"P11,SHOTS,Shots,9,2026-11-28 22:14:05,,5.37,43.29,,,,", Reason.INVALID_VALUE, "P11"),
        (b"P12,SHOTS,Shots,1,2026-11-28 22:14:05,,5.37,43.29,,,,XYZ", Reason.UNKNOWN_CODE, "P12"),
        (b",SHOTS,Shots,1,2026-11-28 22:14:05,,5.37,43.29,,,,", Reason.MISSING_FIELD, None),
        (b"P13,SHOTS,too,few,columns", Reason.UNPARSABLE, None),
        (b'P14,SHOTS,"unclosed,1,2026-11-28 22:14:05,,5.37,43.29,,,,', Reason.UNPARSABLE, None),
        (b"P15,SHOTS,\xff\xfe,1,2026-11-28 22:14:05,,5.37,43.29,,,,", Reason.UNPARSABLE, None),
    ],
)
def test_police_rejections(ctx, line, reason, record_id):
    payload = POLICE_HEADER + b"\r\n" + GOOD_POLICE + b"\r\n\r\n" + line + b"\r\n"
    good, bad = PoliceParser().parse(payload, "calls.csv", ctx)
    assert good.record_id == "P1"
    assert isinstance(bad, Rejection)
    assert (bad.reason, bad.position, bad.original, bad.record_id) == (
        reason,
        SourcePosition("calls.csv", 2),  # the blank line is not a record
        line,
        record_id,
    )


def test_rejection_detail_never_carries_personal_values(ctx):
    line = b"P1,SHOTS,x,1,2026-11-28 22:14:05,,5.37,,Rue X,Jean Dupont,0612345678,"
    (bad,) = PoliceParser().parse(POLICE_HEADER + b"\n" + line, "f", ctx)
    assert bad.reason is Reason.MISSING_COORDINATES
    assert "Dupont" not in bad.detail and "0612" not in bad.detail
    assert bad.original == line  # the DLQ keeps the bytes (documented: dlq holds personal data)


def test_header_without_required_columns_rejects_every_line(ctx):
    payload = b"incident_number,priority\nP1,1\nP2,2\n"
    results = list(PoliceParser().parse(payload, "f", ctx))
    assert [(r.reason, r.position.index, r.original) for r in results] == [
        (Reason.UNPARSABLE, 1, b"P1,1"),
        (Reason.UNPARSABLE, 2, b"P2,2"),
    ]
    assert "call_type_code" in results[0].detail


FIRE_HEADER = (
    b"incident_number,unit_id,unit_type,call_type,priority,alarm_level,received_at,"
    b"dispatched_at,on_scene_at,longitude,latitude,address,final_disposition"
)


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        (b"F1,FPT-1,SUBMARINE,SMOKE,1,1,2026-11-28 21:00:00,,,5.38,43.31,,", Reason.UNKNOWN_CODE),
        (b"F1,FPT-1,,SMOKE,1,1,2026-11-28 21:00:00,,,5.38,43.31,,", Reason.MISSING_FIELD),
        (b"F1,,ENGINE,SMOKE,1,1,2026-11-28 21:00:00,,,5.38,43.31,,", Reason.MISSING_FIELD),
        (
            b"F1,FPT-1,ENGINE,SMOKE,1,1,2026-11-28 21:00:00,2026-11-28 21:05:00,"
            b"2026-11-28 21:01:00,5.38,43.31,,",
            Reason.IMPOSSIBLE_TIMESTAMP,
        ),
        (b"F1,FPT-1,ENGINE,SMOKE,1,7,2026-11-28 21:00:00,,,5.38,43.31,,", Reason.INVALID_VALUE),
        (b"F1,FPT-1,ENGINE,SMOKE,1,1,2026-11-28 21:00:00,,,7.26,43.70,Nice,", Reason.OUTSIDE_CITY),
    ],
)
def test_fire_rejections(ctx, line, reason):
    (bad,) = FireParser().parse(FIRE_HEADER + b"\n" + line, "fire.csv", ctx)
    assert (bad.reason, bad.position, bad.original, bad.record_id) == (
        reason,
        SourcePosition("fire.csv", 1),
        line,
        "F1",
    )


def _camera_line(**changes):  # type: ignore[no-untyped-def]
    event = {
        "event_id": "e1",
        "camera_id": "CAM-0001",
        "type": "gunshot",
        "confidence": 0.9,
        "detected_at": "2026-11-28T22:00:00Z",
    }
    event.update(changes)
    return json.dumps({k: v for k, v in event.items() if v is not ...}).encode()


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        (_camera_line(camera_id="CAM-9999"), Reason.UNKNOWN_CAMERA),
        (_camera_line(type="alien"), Reason.UNKNOWN_CODE),
        (_camera_line(confidence=1.5), Reason.INVALID_VALUE),
        (_camera_line(confidence=...), Reason.MISSING_FIELD),
        (_camera_line(detected_at="yesterday"), Reason.IMPOSSIBLE_TIMESTAMP),
        (_camera_line(detected_at=12345), Reason.IMPOSSIBLE_TIMESTAMP),
        (_camera_line(object_count=-1), Reason.INVALID_VALUE),
        (b'{"event_id": "e1", "camera_id": ', Reason.UNPARSABLE),
        (b"[1, 2]", Reason.UNPARSABLE),
    ],
)
def test_camera_rejections(ctx, registry, line, reason):
    payload = _camera_line(event_id="e0") + b"\n" + line + b"\n"
    good, bad = CameraParser(registry).parse(payload, "cam.jsonl", ctx)
    assert good.record_id == "e0" and good.lon == 5.3712
    assert (bad.reason, bad.position, bad.original) == (
        reason,
        SourcePosition("cam.jsonl", 2),
        line,
    )


def test_camera_array_payload_and_ignored_image_fields(ctx, registry):
    payload = json.dumps(
        [json.loads(_camera_line(snapshot_url="http://x/y.jpg")), {"event_id": "e2"}]
    ).encode()
    good, bad = CameraParser(registry).parse(payload, "http://cams/events", ctx)
    assert "snapshot" not in repr(good)
    assert (bad.reason, bad.position.index, bad.record_id) == (Reason.MISSING_FIELD, 2, "e2")
    assert json.loads(bad.original) == {"event_id": "e2"}


def _collection(*features):  # type: ignore[no-untyped-def]
    return json.dumps({"type": "FeatureCollection", "features": list(features)}).encode()


SQUARE = [[[5.37, 43.29], [5.38, 43.29], [5.38, 43.30], [5.37, 43.30], [5.37, 43.29]]]


def _permit(geometry=..., **props):  # type: ignore[no-untyped-def]
    base = {
        "permit_id": "AR-1",
        "kind": "roadworks",
        "valid_from": "2026-11-28T21:00:00+01:00",
        "valid_until": "2026-11-29T05:00:00+01:00",
    }
    base.update(props)
    geom = {"type": "Polygon", "coordinates": SQUARE} if geometry is ... else geometry
    return {"type": "Feature", "properties": base, "geometry": geom}


@pytest.mark.parametrize(
    ("feature", "reason"),
    [
        (_permit(geometry=None), Reason.MISSING_COORDINATES),
        (
            _permit(geometry={"type": "Polygon", "coordinates": [SQUARE[0][:4]]}),
            Reason.INVALID_COORDINATES,
        ),
        (
            _permit(geometry={"type": "Point", "coordinates": [5.37, 43.29]}),
            Reason.INVALID_COORDINATES,
        ),
        (
            _permit(
                geometry={
                    "type": "Polygon",
                    "coordinates": [[[2.3, 48.8], [2.4, 48.8], [2.4, 48.9], [2.3, 48.8]]],
                }
            ),
            Reason.OUTSIDE_CITY,
        ),
        (
            _permit(
                geometry={
                    "type": "Polygon",
                    "coordinates": [
                        [[5.37, 43.29], [5.38, 43.30], [5.38, 43.29], [5.37, 43.30], [5.37, 43.29]]
                    ],
                }
            ),
            Reason.INVALID_COORDINATES,
        ),
        (_permit(kind="party"), Reason.UNKNOWN_CODE),
        (_permit(valid_until="2026-11-28T20:00:00+01:00"), Reason.IMPOSSIBLE_TIMESTAMP),
        (_permit(noise_expected="yes"), Reason.INVALID_VALUE),
    ],
)
def test_permit_rejections(ctx, feature, reason):
    payload = _collection(_permit(permit_id="AR-0"), feature)
    good, bad = PermitsParser().parse(payload, "permits.geojson", ctx)
    assert good.record_id == "AR-0"
    assert (bad.reason, bad.position, bad.record_id) == (
        reason,
        SourcePosition("permits.geojson", 2),
        "AR-1",
    )
    assert json.loads(bad.original) == feature


def test_permit_valid_in_the_future_is_accepted(ctx):
    (permit,) = PermitsParser().parse(
        _collection(_permit(valid_from="2027-06-01T08:00:00Z", valid_until="2027-06-02T08:00:00Z")),
        "p",
        ctx,
    )
    assert permit.valid_from == int(datetime(2027, 6, 1, 8, tzinfo=UTC).timestamp() * 1000)


@pytest.mark.parametrize("payload", [b"{not json", b'{"type": "Feature"}', b"\xff"])
def test_unreadable_geojson_is_one_whole_payload_rejection(ctx, payload):
    (bad,) = PermitsParser().parse(payload, "p", ctx)
    assert (bad.reason, bad.position.index, bad.original) == (Reason.UNPARSABLE, 0, payload)


CAP = """<?xml version="1.0"?>
<alert xmlns="urn:oasis:names:tc:emergency:cap:1.2"><identifier>cap-1</identifier>
<sender>s</sender><sent>2026-11-28T21:30:00+01:00</sent><status>Actual</status>
<msgType>Alert</msgType><scope>Public</scope><info><event>Vent</event>
<urgency>{urgency}</urgency><severity>Severe</severity><certainty>Likely</certainty>
<area><areaDesc>x</areaDesc>{polygon}</area></info></alert>"""
GOOD_POLYGON = "<polygon>43.27,5.36 43.27,5.45 43.32,5.45 43.27,5.36</polygon>"


@pytest.mark.parametrize(
    ("urgency", "polygon", "reason"),
    [
        ("Now", GOOD_POLYGON, Reason.UNKNOWN_CODE),
        ("Expected", "", Reason.MISSING_COORDINATES),
        (
            "Expected",
            "<polygon>43.27,5.36 43.27,5.45 43.27,5.36</polygon>",
            Reason.INVALID_COORDINATES,
        ),
        ("Expected", "<polygon>43.27;5.36 43.27;5.45</polygon>", Reason.INVALID_COORDINATES),
        ("Expected", "<polygon>48.8,2.3 48.8,2.4 48.9,2.4 48.8,2.3</polygon>", Reason.OUTSIDE_CITY),
    ],
)
def test_cap_rejections(ctx, urgency, polygon, reason):
    payload = CAP.format(urgency=urgency, polygon=polygon).encode()
    (bad,) = WeatherParser().parse(payload, "alert.xml", ctx)
    assert (bad.reason, bad.position, bad.original, bad.record_id) == (
        reason,
        SourcePosition("alert.xml", 1),
        payload,
        "cap-1",
    )


@pytest.mark.parametrize(
    "payload",
    [
        b"<alert>",
        b"<other xmlns='x'/>",
        b'<!DOCTYPE a [<!ENTITY b "c">]><a>&b;</a>',
        b'<?xml version="1.0" encoding="U-1TF-8"?><alert/>',  # found by fuzzing
    ],
)
def test_unreadable_cap_is_unparsable(ctx, payload):
    (bad,) = WeatherParser().parse(payload, "a.xml", ctx)
    assert (bad.reason, bad.original) == (Reason.UNPARSABLE, payload)


def test_observation_out_of_range_value(ctx):
    header = b"station_id,longitude,latitude,observed_at,humidity_pct"
    line = b"S1,5.39,43.30,2026-11-28T21:00:00Z,140"
    (bad,) = WeatherParser().parse(header + b"\n" + line, "obs.csv", ctx)
    assert (bad.reason, bad.original, bad.record_id) == (Reason.INVALID_VALUE, line, "S1")


def _feed(*entities, header_time=1_795_900_500):  # type: ignore[no-untyped-def]
    feed = rt.FeedMessage()
    feed.header.gtfs_realtime_version = "2.0"
    feed.header.timestamp = header_time
    for entity in entities:
        feed.entity.append(entity)
    return feed.SerializeToString()


def _vehicle(entity_id="v1", lon=5.37, lat=43.29, route="M1", with_position=True):  # type: ignore[no-untyped-def]
    entity = rt.FeedEntity(id=entity_id)
    entity.vehicle.vehicle.id = entity_id
    entity.vehicle.trip.route_id = route
    if with_position:
        entity.vehicle.position.longitude = lon
        entity.vehicle.position.latitude = lat
    return entity


@pytest.mark.parametrize(
    ("entity", "reason"),
    [
        (_vehicle(with_position=False), Reason.MISSING_COORDINATES),
        (_vehicle(lon=2.35, lat=48.85), Reason.OUTSIDE_CITY),
        (_vehicle(route="X99"), Reason.UNKNOWN_CODE),
        (
            rt.FeedEntity(id="t1", trip_update=rt.TripUpdate(trip=rt.TripDescriptor(trip_id="x"))),
            Reason.UNKNOWN_CODE,
        ),
        (rt.FeedEntity(id="a1", alert=rt.Alert()), Reason.MISSING_FIELD),
    ],
)
def test_transport_rejections(ctx, static_gtfs, entity, reason):
    payload = _feed(_vehicle("v0"), entity)
    good, bad = TransportParser(static_gtfs).parse(payload, "vp.pb", ctx)
    assert good.record_id == "v0@1795900500"
    assert (bad.reason, bad.position, bad.original) == (
        reason,
        SourcePosition("vp.pb", 2),
        entity.SerializeToString(),
    )


def test_undecodable_protobuf_is_one_whole_payload_rejection(ctx, static_gtfs):
    (bad,) = TransportParser(static_gtfs).parse(b"\x0a\xff\xff", "vp.pb", ctx)
    assert (bad.reason, bad.position.index, bad.original) == (Reason.UNPARSABLE, 0, b"\x0a\xff\xff")


def test_protobuf_string_that_is_not_utf8_is_unparsable(ctx, static_gtfs):
    entity = _vehicle("v1")
    entity.vehicle.trip.trip_id = "Z83-T1"
    payload = _feed(entity).replace(b"Z83-T1", b"\x8083-T1")
    (bad,) = TransportParser(static_gtfs).parse(payload, "vp.pb", ctx)
    assert (bad.reason, bad.position.index, bad.record_id) == (Reason.UNPARSABLE, 1, "v1")
    assert b"\x8083-T1" in bad.original


def test_unknown_code_detail_does_not_echo_the_value(ctx):
    # A misquoted export can put a caller's phone number where the code belongs.
    line = b"P1,0612345678,x,1,2026-11-28 22:14:05,,5.37,43.29,,,,"
    (bad,) = PoliceParser().parse(POLICE_HEADER + b"\n" + line, "f", ctx)
    assert bad.reason is Reason.UNKNOWN_CODE
    assert "0612345678" not in bad.detail and "call_type_code" in bad.detail


def test_projected_coordinates_are_read_in_the_city_crs(ctx):
    from pyproj import Transformer

    x, y = Transformer.from_crs("EPSG:4326", "EPSG:2154", always_xy=True).transform(5.3712, 43.2965)
    header = b"incident_number,call_type_code,priority,received_at,x,y"
    lines = [
        f"P1,SHOTS,1,2026-11-28 22:14:05,{x:.2f},{y:.2f}".encode(),
        b"P2,SHOTS,1,2026-11-28 22:14:05,abc,6240000",
        b"P3,SHOTS,1,2026-11-28 22:14:05,,6240000",
        b"P4,SHOTS,1,2026-11-28 22:14:05,652000,6862000",  # Paris in Lambert-93
    ]
    call, *bad = PoliceParser().parse(b"\n".join([header, *lines]), "f", ctx)
    assert (round(call.lon, 5), round(call.lat, 5)) == (5.3712, 43.2965)
    assert [b.reason for b in bad] == [
        Reason.INVALID_COORDINATES,
        Reason.MISSING_COORDINATES,
        Reason.OUTSIDE_CITY,
    ]


def test_json_observations_rejections(ctx):
    good = {
        "station_id": "S1",
        "longitude": 5.39,
        "latitude": 43.3,
        "observed_at": "2026-11-28T21:00:00Z",
    }
    items = [
        good,
        {**good, "wind_speed_ms": "fast"},
        {**good, "observed_at": 1795900000},
        {**good, "station_id": None},
        "not an object",
    ]
    ok, *bad = WeatherParser().parse(json.dumps(items).encode(), "obs.json", ctx)
    assert ok.record_id == "S1@2026-11-28T21:00:00Z" and ok.source_index == 1
    assert [(b.reason, b.position.index, b.record_id) for b in bad] == [
        (Reason.INVALID_VALUE, 2, "S1"),
        (Reason.IMPOSSIBLE_TIMESTAMP, 3, "S1"),
        (Reason.MISSING_FIELD, 4, None),
        (Reason.UNPARSABLE, 5, None),
    ]
    assert json.loads(bad[0].original) == items[1]
