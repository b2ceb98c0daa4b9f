"""The Helm chart renders and validates with both profiles, and fails on what is wrong.

helm comes from the project's own install step (``vigie.deploy.tools.ensure_helm``: built
from the Go module proxy once, then cached); the operators' CRDs from their jars on Maven
Central. Nothing is skipped: without Go or Maven these tests fail and say what to install.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest
import yaml

from vigie.config import REPO_ROOT, Settings
from vigie.deploy import chart
from vigie.deploy.crds import CRD_SOURCES, CrdValidator, overlay_needed, raw_schema
from vigie.kafka.topics import parse_topics

pytestmark = pytest.mark.unit

PROFILES = {"default": (), "production": (chart.PRODUCTION_VALUES,)}


@pytest.fixture(scope="module")
def crds() -> CrdValidator:
    return CrdValidator()


@pytest.fixture(scope="module")
def rendered() -> dict[str, list[dict[str, Any]]]:
    return {name: chart.render(values=values) for name, values in PROFILES.items()}


def _values(profile: str) -> dict[str, Any]:
    values = yaml.safe_load((chart.CHART_DIR / "values.yaml").read_text(encoding="utf-8"))
    for path in PROFILES[profile]:
        values = _merge(values, yaml.safe_load(path.read_text(encoding="utf-8")))
    return values


def _merge(base: Any, override: Any) -> Any:
    if isinstance(base, dict) and isinstance(override, dict):
        merged = dict(base)
        for key, value in override.items():
            merged[key] = _merge(base.get(key), value)
        return merged
    return override


def _kind(docs: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [d for d in docs if d["kind"] == kind]


def test_chart_links_lead_to_the_repository_files(tmp_path: Path) -> None:
    assert chart.out_of_sync() == [], "run `python -m vigie.deploy sync`"
    copied = chart.chart_copy(
        into=tmp_path
    )  # copytree turns the links into copies, which may drift
    assert chart.out_of_sync(chart=copied) == [
        "files/topics.yaml is a copy, not a link to schemas/topics.yaml",
        "files/rules is a copy, not a link to rules",
        "files/cities is a copy, not a link to cities",
    ]
    chart.sync(chart=copied)
    assert chart.out_of_sync(chart=copied) == []


def test_every_value_is_documented_and_profiles_set_only_known_values() -> None:
    assert chart.undocumented_values(chart.CHART_DIR / "values.yaml") == []
    defaults = yaml.safe_load((chart.CHART_DIR / "values.yaml").read_text(encoding="utf-8"))
    production = yaml.safe_load(chart.PRODUCTION_VALUES.read_text(encoding="utf-8"))
    assert chart.unknown_overrides(production, defaults) == []
    assert chart.unknown_overrides({"flink": {"jobs": {"fuse": {"paralelism": 3}}}}, defaults) == [
        "flink.jobs.fuse.paralelism is not a value of the chart (values.yaml)"
    ]


def test_chart_readme_is_generated_from_the_values() -> None:
    readme = (chart.CHART_DIR / "README.md").read_text(encoding="utf-8")
    assert readme == chart.readme(), "run `python -m vigie.deploy readme`"
    assert "| `flink.jobs.fuse.parallelism` | `2` |" in readme


@pytest.mark.parametrize("profile", sorted(PROFILES))
def test_helm_lint_passes(profile: str) -> None:
    chart.lint(values=PROFILES[profile])


@pytest.mark.parametrize("profile", sorted(PROFILES))
def test_every_manifest_is_valid(
    profile: str, rendered: dict[str, list[dict[str, Any]]], crds: CrdValidator
) -> None:
    docs = rendered[profile]
    report = chart.validate(docs, crds)
    assert report.problems == []
    kinds = {d["kind"] for d in docs}
    assert {"FlinkDeployment", "KafkaTopic", "Job", "Deployment", "ConfigMap"} <= kinds
    assert len(_kind(docs, "FlinkDeployment")) == 2


def test_production_profile_runs_connectors_both_ways(
    rendered: dict[str, list[dict[str, Any]]],
) -> None:
    docs = rendered["production"]
    names = {d["metadata"]["name"] for d in _kind(docs, "CronJob")}
    assert names == {"vigie-connect-weather", "vigie-connect-permits"}
    deployments = {d["metadata"]["name"] for d in _kind(docs, "Deployment")}
    assert {"vigie-connect-police", "vigie-connect-transport", "vigie-sink"} <= deployments
    assert _settings(docs)["VIGIE_CLICKHOUSE_CLUSTER"] == "vigie"
    assert not _kind(docs, "Secret"), "production uses an existing Secret"


def _settings(docs: list[dict[str, Any]]) -> Mapping[str, str]:
    (cm,) = [d for d in _kind(docs, "ConfigMap") if d["metadata"]["name"].endswith("-settings")]
    return cm["data"]


@pytest.mark.parametrize("profile", sorted(PROFILES))
def test_kafka_topics_are_generated_from_the_topic_file(
    profile: str, rendered: dict[str, list[dict[str, Any]]]
) -> None:
    values = _values(profile)["kafka"]["topics"]
    doc = yaml.safe_load((REPO_ROOT / "schemas" / "topics.yaml").read_text(encoding="utf-8"))
    specs = parse_topics(doc, values["partitions"], values["replicas"])
    topics = {t["spec"]["topicName"]: t["spec"] for t in _kind(rendered[profile], "KafkaTopic")}
    assert sorted(topics) == sorted(s.name for s in specs)
    for spec in specs:
        override = values["overrides"].get(spec.name, {})
        got = topics[spec.name]
        assert got["partitions"] == override.get("partitions", spec.partitions), spec.name
        assert got["replicas"] == override.get("replicas", spec.replication_factor), spec.name
        assert got["config"] == dict(spec.config) | override.get("config", {}), spec.name


def test_production_partitions_match_the_jobs_parallelism(
    rendered: dict[str, list[dict[str, Any]]],
) -> None:
    docs = rendered["production"]
    parallelism = max(d["spec"]["job"]["parallelism"] for d in _kind(docs, "FlinkDeployment"))
    topics = {t["spec"]["topicName"]: t["spec"] for t in _kind(docs, "KafkaTopic")}
    inputs = [n for n in topics if n.startswith("raw.") or n == "events.normalized"]
    assert inputs and all(topics[n]["partitions"] == parallelism for n in inputs)
    assert _settings(docs)["VIGIE_TOPIC_PARTITIONS"] == str(parallelism)


@pytest.mark.parametrize("profile", sorted(PROFILES))
def test_job_arguments_and_mounted_files_exist_in_the_repository(
    profile: str, rendered: dict[str, list[dict[str, Any]]]
) -> None:
    docs = rendered[profile]
    jobs_dir = _values(profile)["flink"]["jobsDir"]
    for deployment in _kind(docs, "FlinkDeployment"):
        job = deployment["spec"]["job"]
        assert job["entryClass"] == "org.apache.flink.client.python.PythonDriver"
        flag, script = job["args"]
        assert flag == "-py" and script.startswith(jobs_dir + "/")
        in_repo = REPO_ROOT / "jobs" / Path(script).relative_to(jobs_dir)
        assert in_repo.is_file(), f"{deployment['metadata']['name']} runs {script}: no {in_repo}"
    (city_cm,) = [d for d in _kind(docs, "ConfigMap") if d["metadata"]["name"].endswith("-city")]
    city = _values(profile)["city"]["name"]
    for key, content in city_cm["data"].items():
        source = (
            REPO_ROOT / "rules" / "fusion.yaml"
            if key == "rules.yaml"
            else REPO_ROOT / "cities" / city / key.replace("__", "/")
        )
        assert source.is_file(), key
        assert content == source.read_text(encoding="utf-8").rstrip("\n"), key


@pytest.mark.parametrize("profile", sorted(PROFILES))
def test_every_variable_the_chart_sets_is_a_setting(
    profile: str, rendered: dict[str, list[dict[str, Any]]]
) -> None:
    names = set(_settings(rendered[profile]))
    for doc in rendered[profile]:
        for container in _containers(doc):
            names |= {e["name"] for e in container.get("env", [])}
    known = {f"VIGIE_{field.upper()}" for field in Settings.model_fields}
    assert names and names <= known, sorted(names - known)


def _containers(doc: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    spec = doc.get("spec") or {}
    for path in (("template",), ("jobTemplate", "spec", "template"), ("podTemplate",)):
        node: Any = spec
        for part in path:
            node = (node or {}).get(part)
        if node:
            return list(node.get("spec", {}).get("containers", []))
    return []


def test_flink_prometheus_reporter_is_enabled(rendered: dict[str, list[dict[str, Any]]]) -> None:
    for doc in _kind(rendered["default"], "FlinkDeployment"):
        conf = doc["spec"]["flinkConfiguration"]
        assert conf["metrics.reporter.prom.factory.class"].endswith("PrometheusReporterFactory")
        assert conf["metrics.reporter.prom.port"] == "9249"


def test_the_flink_enum_overlay_is_still_needed() -> None:
    # Remove the overlay (vigie/deploy/crds.py) once the pinned operator jar knows v2_2.
    flink = next(s for s in CRD_SOURCES if s.kind == "FlinkDeployment")
    assert all(overlay_needed(raw_schema(flink), flink.api_version, flink.kind).values())


# --- it fails on what is wrong -------------------------------------------------------------


def test_a_broken_template_fails_rendering(tmp_path: Path) -> None:
    broken = chart.chart_copy(into=tmp_path)
    sink = broken / "templates" / "sink.yaml"
    sink.write_text(sink.read_text(encoding="utf-8").replace("{{- end }}", "", 1))
    with pytest.raises(chart.ChartError, match="helm template failed"):
        chart.render(broken)
    with pytest.raises(chart.ChartError, match="helm lint failed"):
        chart.lint(broken)


@pytest.mark.parametrize(
    ("sets", "message"),
    [
        (["flink.jobs.fuse.upgradeMode=sometimes"], "upgradeMode must be"),
        (["flink.jobs.fuse.parallelism=8"], "fewer than the largest job parallelism 8"),
        (["connectors.feeds.transport.enabled=true"], "transport.url is required"),
        (["connectors.feeds.police.enabled=true"], "police.volume is required"),
        (["city.name=atlantis"], "no files/cities/atlantis/city.yaml"),
        (["secrets.create=false"], "secrets.existingSecret is required"),
    ],
)
def test_bad_values_are_refused_by_the_chart(sets: list[str], message: str) -> None:
    with pytest.raises(chart.ChartError, match=message):
        chart.render(sets=sets)


def test_a_value_outside_the_operator_schema_is_rejected(crds: CrdValidator) -> None:
    docs = chart.render(sets=["flink.version=v1_12"])
    problems = chart.validate(docs, crds).problems
    assert any("flinkVersion: 'v1_12' is not one of" in p for p in problems), problems


def _mutated(docs: list[dict[str, Any]], kind: str, change: Any) -> list[dict[str, Any]]:
    doc = copy.deepcopy(_kind(docs, kind)[0])
    change(doc)
    return [doc]


@pytest.mark.parametrize(
    ("kind", "change", "message"),
    [
        ("FlinkDeployment", lambda d: d["spec"]["job"].update(paralelism=4), "paralelism"),
        ("FlinkDeployment", lambda d: d["spec"]["job"].update(upgradeMode="x"), "upgradeMode"),
        (
            "FlinkDeployment",
            lambda d: d["spec"]["podTemplate"]["spec"]["containers"][0].update(volumeMount=[]),
            "volumeMount",
        ),
        ("KafkaTopic", lambda d: d["spec"].update(partitions="twelve"), "partitions"),
        ("KafkaTopic", lambda d: d["spec"].update(replication=3), "replication"),
        ("KafkaTopic", lambda d: d["metadata"].update(name="Raw_Police"), "metadata.name"),
        ("Deployment", lambda d: d["spec"].update(replicas="three"), "replicas"),
        ("Deployment", lambda d: d["spec"]["template"]["spec"].update(container=[]), "container"),
        ("Job", lambda d: d["spec"].update(backoffLimit=[1]), "backoffLimit"),
    ],
)
def test_an_invalid_field_fails_validation(
    rendered: dict[str, list[dict[str, Any]]],
    crds: CrdValidator,
    kind: str,
    change: Any,
    message: str,
) -> None:
    problems = chart.validate(_mutated(rendered["default"], kind, change), crds).problems
    assert problems and any(message in p for p in problems), problems


@pytest.mark.parametrize("profile", sorted(PROFILES))
def test_container_commands_are_vigie_commands(
    profile: str, rendered: dict[str, list[dict[str, Any]]]
) -> None:
    from vigie.cli.main import build_parser

    parser = build_parser()
    commands = []
    for doc in rendered[profile]:
        for container in _containers(doc):
            command = [*container.get("command", []), *container.get("args", [])]
            if command and command[0] == "vigie":
                commands.append(command[1:])
    assert any(c[0] == "sink" for c in commands) and any(
        c[:2] == ["db", "migrate"] for c in commands
    )
    for command in commands:
        args = parser.parse_args(command)  # exits (SystemExit) on an unknown command or flag
        assert callable(args.func), command


def test_grafana_dashboard_charts_declared_metrics() -> None:
    import json
    import re

    from vigie.metrics import REGISTRY

    dashboard = json.loads(
        (REPO_ROOT / "deploy" / "grafana" / "vigie-pipeline.json").read_text(encoding="utf-8")
    )
    exprs = [t["expr"] for p in dashboard["panels"] for t in p["targets"]]
    used = {m for e in exprs for m in re.findall(r"\b(vigie_[a-z_]+)", e)}
    declared = {m.name for m in REGISTRY.metrics()}
    assert used and used <= declared, sorted(used - declared)
    assert any("flink_jobmanager_job_lastCheckpointDuration" in e for e in exprs)
    titles = " ".join(p["title"] for p in dashboard["panels"]).lower()
    for topic in ("feed", "dead letters", "incidents", "lag", "checkpoint", "sink"):
        assert topic in titles


def test_image_and_chart_agree_on_versions_and_paths() -> None:
    import re

    dockerfile = (REPO_ROOT / "deploy" / "docker" / "Dockerfile").read_text(encoding="utf-8")
    pyproject = (REPO_ROOT / "pyproject.toml").read_text(encoding="utf-8")
    values = _values("default")["flink"]
    (flink,) = re.findall(r'"apache-flink==([0-9.]+)"', pyproject)
    assert f"ARG FLINK_VERSION={flink}" in dockerfile
    assert values["pythonJar"] == f"local:///opt/flink/opt/flink-python-{flink}.jar"
    assert values["version"] == "v" + "_".join(flink.split(".")[:2])
    _, artifact, version = Settings.model_fields["flink_kafka_connector"].default.split(":")
    assert artifact == "flink-sql-connector-kafka"
    assert f"ARG KAFKA_CONNECTOR={version}" in dockerfile
    assert "VIGIE_DATA_DIR=/opt/vigie/data" in dockerfile
    assert "/opt/vigie/data/flink/jars/" in dockerfile  # where vigie.stack.flink looks
    assert (
        values["pythonExecutable"].startswith("/opt/vigie/venv/")
        and "/opt/vigie/venv" in dockerfile
    )
    assert values["jobsDir"] == "/opt/vigie/jobs" and "COPY jobs jobs" in dockerfile
