"""The operators' CRD schemas, read from their published jars, as strict JSON schemas.

* Strimzi publishes its CRDs inside ``io.strimzi:api``'s test jar (``crds/v1beta2/``), the
  same files its release installs.
* The Flink Kubernetes Operator ships them in ``flink-kubernetes-operator-api``
  (``META-INF/fabric8/``). The newest release the registries here serve is 1.10.0, whose
  ``flinkVersion`` enum stops at ``v1_20``; Flink 2.2 needs a newer operator, whose enum adds
  ``v2_0``..``v2_2``. :data:`SCHEMA_OVERLAYS` widens exactly that enum and nothing else, and a
  test checks the overlay is still needed, so it goes when the pinned jar is bumped.

An API server prunes unknown fields of a custom resource silently; here every object schema
that lists its properties is closed (``additionalProperties: false``, as kubeconform's strict
mode does) so a misspelt field fails the check instead of vanishing at deploy time.
"""

from __future__ import annotations

import copy
import re
import zipfile
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import yaml
from jsonschema import Draft7Validator

from vigie.deploy.tools import MavenArtifact, ensure_jar

FLINK_OPERATOR_API = MavenArtifact("org.apache.flink", "flink-kubernetes-operator-api", "1.10.0")
STRIMZI_API_TESTS = MavenArtifact("io.strimzi", "api", "0.49.0", classifier="tests")


@dataclass(frozen=True, slots=True)
class CrdSource:
    """Where one custom resource's CRD lives inside a published jar."""

    api_version: str
    kind: str
    artifact: MavenArtifact
    member: str


CRD_SOURCES: tuple[CrdSource, ...] = (
    CrdSource(
        "flink.apache.org/v1beta1",
        "FlinkDeployment",
        FLINK_OPERATOR_API,
        "META-INF/fabric8/flinkdeployments.flink.apache.org-v1.yml",
    ),
    CrdSource(
        "kafka.strimzi.io/v1beta2",
        "KafkaTopic",
        STRIMZI_API_TESTS,
        "crds/v1beta2/043-Crd-kafkatopic.yaml",
    ),
)

#: (apiVersion, kind) -> JSON pointer of an enum -> values the target operator adds to it.
SCHEMA_OVERLAYS: Mapping[tuple[str, str], Mapping[str, tuple[str, ...]]] = {
    ("flink.apache.org/v1beta1", "FlinkDeployment"): {
        "/properties/spec/properties/flinkVersion/enum": ("v2_0", "v2_1", "v2_2"),
    },
}

_DNS_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")


class CrdError(ValueError):
    """A CRD could not be read from its jar."""


def raw_schema(source: CrdSource) -> dict[str, Any]:
    """The openAPIV3Schema of the source's version, exactly as the jar publishes it."""
    jar = ensure_jar(source.artifact)
    with zipfile.ZipFile(jar) as archive:
        try:
            text = archive.read(source.member).decode("utf-8")
        except KeyError as exc:
            msg = f"{jar.name} has no {source.member}"
            raise CrdError(msg) from exc
    crd = yaml.safe_load(text)
    group, version = source.api_version.split("/")
    if crd["spec"]["group"] != group or crd["spec"]["names"]["kind"] != source.kind:
        msg = f"{source.member} defines {crd['spec']['names']['kind']}, not {source.kind}"
        raise CrdError(msg)
    for entry in crd["spec"]["versions"]:
        if entry["name"] == version:
            return dict(entry["schema"]["openAPIV3Schema"])
    msg = f"{source.member} has no version {version}"
    raise CrdError(msg)


def _resolve(schema: dict[str, Any], pointer: str) -> tuple[dict[str, Any], str]:
    parts = pointer.strip("/").split("/")
    node: Any = schema
    for part in parts[:-1]:
        node = node[part]
    return node, parts[-1]


def overlay_needed(schema: Mapping[str, Any], api_version: str, kind: str) -> dict[str, bool]:
    """For each overlay of this kind: does the published schema still lack its values?"""
    needed: dict[str, bool] = {}
    for pointer, values in SCHEMA_OVERLAYS.get((api_version, kind), {}).items():
        node, key = _resolve(dict(schema), pointer)
        needed[pointer] = not set(values) <= set(node[key])
    return needed


def _apply_overlays(schema: dict[str, Any], api_version: str, kind: str) -> None:
    for pointer, values in SCHEMA_OVERLAYS.get((api_version, kind), {}).items():
        node, key = _resolve(schema, pointer)
        node[key] = list(node[key]) + [v for v in values if v not in node[key]]


def _close_objects(node: Any) -> None:
    """additionalProperties: false wherever an object lists its properties and allows no more."""
    if isinstance(node, dict):
        if (
            "properties" in node
            and "additionalProperties" not in node
            and not node.get("x-kubernetes-preserve-unknown-fields")
        ):
            node["additionalProperties"] = False
        for value in node.values():
            _close_objects(value)
    elif isinstance(node, list):
        for item in node:
            _close_objects(item)


def strict_schema(source: CrdSource) -> dict[str, Any]:
    """The published schema with the overlays applied and every listed object closed."""
    schema = copy.deepcopy(raw_schema(source))
    _apply_overlays(schema, source.api_version, source.kind)
    # Every resource has these, whether or not its CRD spells them out (the operator's don't).
    properties = schema.setdefault("properties", {})
    properties.setdefault("apiVersion", {"type": "string"})
    properties.setdefault("kind", {"type": "string"})
    properties.setdefault("metadata", {"type": "object"})
    _close_objects(schema)
    return schema


class CrdValidator:
    """Validates custom resources against the operators' schemas."""

    def __init__(self, sources: tuple[CrdSource, ...] = CRD_SOURCES) -> None:
        self._validators = {
            (s.api_version, s.kind): Draft7Validator(strict_schema(s)) for s in sources
        }

    def handles(self, doc: Mapping[str, Any]) -> bool:
        """Is this a custom resource with a known schema?"""
        return (doc.get("apiVersion"), doc.get("kind")) in self._validators

    def errors(self, doc: Mapping[str, Any]) -> Iterator[str]:
        """Every problem of one custom resource, as ``path: message``."""
        validator = self._validators[(str(doc.get("apiVersion")), str(doc.get("kind")))]
        for error in sorted(validator.iter_errors(doc), key=lambda e: list(e.absolute_path)):
            path = ".".join(str(p) for p in error.absolute_path) or "(root)"
            yield f"{path}: {error.message}"
        name = str((doc.get("metadata") or {}).get("name", ""))
        if not name or len(name) > 253 or not _DNS_SUBDOMAIN.match(name):
            yield f"metadata.name: {name!r} is not a DNS-1123 subdomain"
