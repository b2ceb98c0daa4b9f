"""The Apache Avro Java library reads the single-object bytes our Python serde writes.

A tiny Java program is compiled at test time against ``org.apache.avro:avro`` (resolved from
Maven Central with ``vigie/stack/maven/avro-check.pom.xml``). For each message it decodes the
bytes with ``org.apache.avro.message.BinaryMessageDecoder`` (which checks the C3 01 marker and
looks the writer up by its CRC-64-AVRO fingerprint), prints the record as JSON, and encodes it
again with ``BinaryMessageEncoder`` so the test can also check Java writes the same bytes.
"""

from __future__ import annotations

import json
import math
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from vigie.config import REPO_ROOT
from vigie.core.events import (
    AckAction,
    Incident,
    IncidentAck,
    IncidentContext,
    LinkEvidence,
    NormalizedEvent,
    Role,
    Source,
    Status,
)
from vigie.core.serde import (
    INCIDENT,
    INCIDENT_ACK,
    NORMALIZED_EVENT,
    AvroSerializer,
    SchemaCatalogue,
    ack_to_record,
    event_to_record,
    incident_to_record,
)

pytestmark = pytest.mark.integration

POM = REPO_ROOT / "vigie" / "stack" / "maven" / "avro-check.pom.xml"
CATALOGUE = SchemaCatalogue.load(REPO_ROOT / "schemas" / "avro")

JAVA = r"""
import java.io.*;
import java.nio.ByteBuffer;
import java.util.*;
import org.apache.avro.Schema;
import org.apache.avro.generic.GenericData;
import org.apache.avro.message.*;

public class AvroCheck {
  public static void main(String[] args) throws Exception {
    // args: schema files (self-contained JSON); stdin: "<schema full name> <hex>" lines
    SchemaStore.Cache store = new SchemaStore.Cache();
    Map<String, Schema> byName = new HashMap<>();
    for (String path : args) {
      Schema s = new Schema.Parser().parse(new File(path));
      store.addSchema(s);
      byName.put(s.getFullName(), s);
    }
    BufferedReader in = new BufferedReader(new InputStreamReader(System.in, "UTF-8"));
    PrintStream out = new PrintStream(System.out, true, "UTF-8");
    String line;
    while ((line = in.readLine()) != null) {
      if (line.isBlank()) continue;
      String[] parts = line.trim().split(" ");
      Schema reader = byName.get(parts[0]);
      BinaryMessageDecoder<Object> decoder =
          new BinaryMessageDecoder<>(GenericData.get(), reader, store);
      Object record = decoder.decode(HexFormat.of().parseHex(parts[1]));
      BinaryMessageEncoder<Object> encoder = new BinaryMessageEncoder<>(GenericData.get(), reader);
      ByteBuffer again = encoder.encode(record);
      byte[] bytes = new byte[again.remaining()];
      again.get(bytes);
      out.println(HexFormat.of().formatHex(bytes) + "\t" + GenericData.get().toString(record));
    }
  }
}
"""


@pytest.fixture(scope="module")
def avro_check(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Compile AvroCheck.java against avro 1.12.2; returns the folder holding class + jars."""
    for tool in ("mvn", "javac", "java"):
        assert shutil.which(tool), f"{tool} is needed (Debian: maven, openjdk-17-jdk-headless)"
    work = tmp_path_factory.mktemp("avro-check")
    subprocess.run(
        ["mvn", "-q", "-B", "-f", str(POM), "dependency:copy-dependencies",
         f"-DoutputDirectory={work / 'lib'}"],
        check=True, timeout=540,
    )  # fmt: skip
    (work / "AvroCheck.java").write_text(JAVA)
    subprocess.run(
        ["javac", "-cp", str(work / "lib" / "*"), "-d", str(work), str(work / "AvroCheck.java")],
        check=True, timeout=300,
    )  # fmt: skip
    return work


def _java_decode(work: Path, messages: list[tuple[str, bytes]]) -> list[tuple[bytes, Any]]:
    schema_files = []
    for name in sorted({n for n, _ in messages}):
        path = work / f"{name}.avsc"
        path.write_text(CATALOGUE.get(name).json)
        schema_files.append(str(path))
    stdin = "".join(f"{name} {data.hex()}\n" for name, data in messages)
    done = subprocess.run(
        ["java", "-cp", f"{work}:{work / 'lib' / '*'}", "AvroCheck", *schema_files],
        input=stdin, capture_output=True, text=True, check=False, timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    out = []
    for line in done.stdout.splitlines():
        hex_bytes, text = line.split("\t", 1)
        out.append((bytes.fromhex(hex_bytes), json.loads(text)))
    return out


EVENTS = [
    NormalizedEvent(
        event_id="police:2026-000123",
        source=Source.POLICE,
        kind="gunshot",
        role=Role.EVIDENCE,
        event_time=1_780_000_000_123,
        ingest_time=1_780_000_004_000,
        lon=5.3698,
        lat=43.2965,
        x=893_012.25,
        y=6_246_977.5,
        uncertainty_m=35.0,
        sector="S07",
        source_ref="CAD-7781",
        attributes={"unit": "BAC-3", "priorité": "1"},
    ),
    NormalizedEvent(
        event_id="permits:roadworks-9",
        source=Source.PERMITS,
        kind="roadworks",
        role=Role.CONTEXT,
        event_time=-1,
        ingest_time=0,
        lon=-0.0,
        lat=1e-300,
        x=1.5e300,
        y=-2.0,
        uncertainty_m=0.0,
        sector=None,
        source_ref="",
        area_wkt="POLYGON ((5.36 43.29, 5.37 43.29, 5.37 43.30, 5.36 43.29))",
        valid_from=1_779_999_000_000,
        valid_until=1_790_000_000_000,
    ),
]
INCIDENTS = [
    Incident(
        incident_id="inc-6f1c2e7a",
        version=3,
        status=Status.UPDATED,
        category="shooting",
        severity=5,
        confidence=0.93,
        first_event_time=1_780_000_000_123,
        last_event_time=1_780_000_060_000,
        created_at=1_780_000_005_000,
        updated_at=1_780_000_065_000,
        lon=5.3699,
        lat=43.2964,
        sector="S07",
        sources=(Source.POLICE, Source.CAMERA),
        kinds=("gunshot", "scream"),
        event_ids=("police:2026-000123", "camera:c12:889"),
        links=(
            LinkEvidence("police:2026-000123", "camera:c12:889", "gunshot~scream", 41.7, 59_877),
        ),
        context=IncidentContext(weather_alerts=("weather:cap-1",), affected_lines=("M1", "B2")),
        explanation="gunshot reported by police and detected by camera c12",
    ),
    Incident(
        incident_id="inc-0",
        version=1,
        status=Status.MERGED,
        category="noise",
        severity=1,
        confidence=0.0,
        first_event_time=0,
        last_event_time=0,
        created_at=0,
        updated_at=2**62,
        lon=0.0,
        lat=0.0,
        sector=None,
        sources=(),
        kinds=(),
        event_ids=(),
        links=(),
        merged_into="inc-6f1c2e7a",
    ),
]
ACKS = [
    IncidentAck(
        ack_id="6f1c2e7a-0b5d-4c1e-9a3f-2d8e4b7c1a90",
        incident_id="inc-6f1c2e7a",
        action=AckAction.ASSIGN,
        operator="op.durand",
        at=1_780_000_070_000,
        assignee="BMPM-12",
        note="engin envoyé",
    )
]


def _same(java: Any, ours: Any) -> bool:
    """JSON from Java vs our record: numbers by value, everything else exactly."""
    if isinstance(ours, float) or isinstance(java, float):
        return math.isclose(float(java), float(ours), rel_tol=0, abs_tol=0) or java == ours
    if isinstance(ours, dict):
        return set(java) == set(ours) and all(_same(java[k], ours[k]) for k in ours)
    if isinstance(ours, list | tuple):
        return len(java) == len(ours) and all(_same(j, o) for j, o in zip(java, ours, strict=True))
    return bool(java == ours)


def test_java_binary_message_decoder_reads_our_single_object_bytes(avro_check: Path) -> None:
    serializer = AvroSerializer(CATALOGUE)
    records: list[tuple[str, dict[str, Any]]] = (
        [(NORMALIZED_EVENT, event_to_record(e)) for e in EVENTS]
        + [(INCIDENT, incident_to_record(i)) for i in INCIDENTS]
        + [(INCIDENT_ACK, ack_to_record(a)) for a in ACKS]
    )
    messages = [(name, serializer.serialize(name, record)) for name, record in records]
    decoded = _java_decode(avro_check, messages)
    assert len(decoded) == len(messages)
    for (name, record), (_, ours), (java_bytes, java_json) in zip(
        records, messages, decoded, strict=True
    ):
        assert _same(java_json, record), f"{name}: Java read {java_json}, we wrote {record}"
        assert java_bytes == ours, f"{name}: Java re-encodes to different bytes"


def test_java_rejects_a_fingerprint_it_does_not_know(avro_check: Path) -> None:
    data = AvroSerializer(CATALOGUE).serialize(INCIDENT_ACK, ack_to_record(ACKS[0]))
    bad = data[:2] + bytes(8) + data[10:]
    schema = avro_check / "ack.avsc"
    schema.write_text(CATALOGUE.get(INCIDENT_ACK).json)
    done = subprocess.run(
        ["java", "-cp", f"{avro_check}:{avro_check / 'lib' / '*'}", "AvroCheck", str(schema)],
        input=f"{INCIDENT_ACK} {bad.hex()}\n", capture_output=True, text=True, timeout=300,
        check=False,
    )  # fmt: skip
    assert done.returncode != 0
    assert "MissingSchemaException" in done.stderr
