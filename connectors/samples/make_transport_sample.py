"""Rebuild ``transport_feed.pb``, the GTFS-Realtime sample, from readable Python.

A binary sample cannot be reviewed in a diff, so this script is its source of truth and a unit
test checks that the committed bytes are exactly what it builds. Run it from the repository
root: ``.venv/bin/python connectors/samples/make_transport_sample.py``.
"""

from __future__ import annotations

from pathlib import Path

from google.transit import gtfs_realtime_pb2 as rt

#: 2026-11-27T21:15:00Z, the header time of the sample feed.
FEED_TIME = 1_795_814_100


def build() -> bytes:
    """The sample FeedMessage: two vehicle positions and one alert, as the wire bytes."""
    feed = rt.FeedMessage()
    feed.header.gtfs_realtime_version = "2.0"
    feed.header.incrementality = rt.FeedHeader.FULL_DATASET
    feed.header.timestamp = FEED_TIME

    bus = feed.entity.add()
    bus.id = "veh-2301"
    bus.vehicle.trip.trip_id = "B83-T0412"
    bus.vehicle.trip.route_id = "B83"
    bus.vehicle.vehicle.id = "2301"
    bus.vehicle.vehicle.label = "83 Rond-Point du Prado"
    bus.vehicle.vehicle.license_plate = "GH-123-JK"
    bus.vehicle.position.latitude = 43.2930
    bus.vehicle.position.longitude = 5.3735
    bus.vehicle.position.bearing = 180.0
    bus.vehicle.position.speed = 6.5
    bus.vehicle.current_status = rt.VehiclePosition.IN_TRANSIT_TO
    bus.vehicle.stop_id = "VIEUX_PORT"
    bus.vehicle.timestamp = FEED_TIME - 12

    tram = feed.entity.add()
    tram.id = "veh-T2-07"
    tram.vehicle.trip.trip_id = "T2-T0033"
    tram.vehicle.trip.route_id = "T2"
    tram.vehicle.vehicle.id = "T2-07"
    tram.vehicle.position.latitude = 43.3040
    tram.vehicle.position.longitude = 5.3700
    tram.vehicle.current_status = rt.VehiclePosition.STOPPED_AT
    tram.vehicle.stop_id = "JOLIETTE"
    tram.vehicle.timestamp = FEED_TIME - 30

    alert = feed.entity.add()
    alert.id = "alert-m1-noailles"
    period = alert.alert.active_period.add()
    period.start = FEED_TIME - 600
    period.end = FEED_TIME + 3600
    informed = alert.alert.informed_entity.add()
    informed.route_id = "M1"
    informed.stop_id = "NOAILLES"
    alert.alert.cause = rt.Alert.POLICE_ACTIVITY
    alert.alert.effect = rt.Alert.NO_SERVICE
    header = alert.alert.header_text.translation.add()
    header.text = "Station Noailles fermée"
    header.language = "fr"
    description = alert.alert.description_text.translation.add()
    description.text = "Intervention de police en cours, la station n'est pas desservie."
    description.language = "fr"
    return feed.SerializeToString()


if __name__ == "__main__":
    target = Path(__file__).with_name("transport_feed.pb")
    target.write_bytes(build())
    print(f"wrote {target}")
