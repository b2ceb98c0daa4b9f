"""The Helm chart: its links to repository files, rendering, linting and validation.

Helm reads only files inside the chart, so the chart reaches the topics, the rules and the
city files through relative symbolic links in ``files/`` (Helm follows them, and packages
their content). :data:`LINKED` says where each points; :func:`out_of_sync` lists any link that
is missing, replaced by a copy or pointing elsewhere (a test fails on it), and :func:`sync`
makes them again. So the chart always deploys exactly what the local stack runs.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import kubernetes_validate
import yaml

from vigie.config import REPO_ROOT
from vigie.deploy.crds import CrdValidator
from vigie.deploy.tools import ensure_helm
from vigie.errors import VigieError

CHART_DIR = REPO_ROOT / "deploy" / "helm" / "vigie"
PRODUCTION_VALUES = CHART_DIR / "values-production.yaml"
#: Kubernetes releases the manifests are checked against: the chart's oldest and the newest.
KUBE_VERSIONS: tuple[str, ...] = ("1.27.0", kubernetes_validate.latest_version())
#: path inside the chart -> the repository path it links to.
LINKED: Mapping[str, str] = {
    "files/topics.yaml": "schemas/topics.yaml",
    "files/rules": "rules",
    "files/cities": "cities",
}


class ChartError(VigieError):
    """helm refused the chart, or a rendered manifest is invalid."""


def out_of_sync(repo: Path = REPO_ROOT, chart: Path = CHART_DIR) -> list[str]:
    """Links that are missing, are not links, or do not lead to their repository path."""
    problems: list[str] = []
    for inside, target in LINKED.items():
        link, source = chart / inside, repo / target
        if not source.exists():
            problems.append(f"{target} is missing from the repository")
        elif not link.is_symlink():
            what = "a copy" if link.exists() else "missing"
            problems.append(f"{inside} is {what}, not a link to {target}")
        elif link.resolve() != source.resolve():
            problems.append(f"{inside} leads to {link.resolve()}, not to {target}")
    return problems


def sync(repo: Path = REPO_ROOT, chart: Path = CHART_DIR) -> list[str]:
    """Make every link (relative, so it holds in any clone); returns those (re)made."""
    made: list[str] = []
    for inside, target in LINKED.items():
        link = chart / inside
        relative = os.path.relpath(repo / target, link.parent)
        if link.is_symlink() and os.readlink(link) == relative:
            continue
        if link.is_dir() and not link.is_symlink():
            shutil.rmtree(link)
        elif link.exists() or link.is_symlink():
            link.unlink()
        link.parent.mkdir(parents=True, exist_ok=True)
        link.symlink_to(relative)
        made.append(f"{inside} -> {relative}")
    return made


def _helm(args: Sequence[str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(ensure_helm()), *args], capture_output=True, text=True, check=False)


def _value_args(values: Sequence[Path], sets: Sequence[str]) -> list[str]:
    args: list[str] = []
    for path in values:
        args += ["--values", str(path)]
    for item in sets:
        args += ["--set", item]
    return args


def lint(chart: Path = CHART_DIR, values: Sequence[Path] = (), sets: Sequence[str] = ()) -> str:
    """``helm lint --strict``: warnings fail too."""
    result = _helm(["lint", "--strict", str(chart), *_value_args(values, sets)])
    if result.returncode != 0:
        msg = f"helm lint failed:\n{result.stdout}{result.stderr}"
        raise ChartError(msg)
    return result.stdout


def render(
    chart: Path = CHART_DIR,
    values: Sequence[Path] = (),
    sets: Sequence[str] = (),
    release: str = "vigie",
    namespace: str = "vigie",
) -> list[dict[str, Any]]:
    """``helm template`` (hooks included), parsed into one dict per manifest."""
    result = _helm(
        [
            "template",
            release,
            str(chart),
            "--namespace",
            namespace,
            "--kube-version",
            KUBE_VERSIONS[-1],
            *_value_args(values, sets),
        ]
    )
    if result.returncode != 0:
        msg = f"helm template failed:\n{result.stderr}"
        raise ChartError(msg)
    return [doc for doc in yaml.safe_load_all(result.stdout) if doc]


@dataclass
class Report:
    """What validation found: every manifest checked, every problem named."""

    checked: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    def raise_if_any(self, what: str) -> None:
        """Fail with every problem at once."""
        if self.problems:
            msg = f"{what}: {len(self.problems)} problem(s)\n  " + "\n  ".join(self.problems)
            raise ChartError(msg)


def describe(doc: Mapping[str, Any]) -> str:
    """``Kind/name`` of a manifest."""
    return f"{doc.get('kind')}/{(doc.get('metadata') or {}).get('name')}"


def validate(docs: Sequence[Mapping[str, Any]], crds: CrdValidator | None = None) -> Report:
    """Check every manifest: core kinds against Kubernetes' schemas, custom ones against CRDs."""
    crds = crds or CrdValidator()
    report = Report()
    for doc in docs:
        name = describe(doc)
        report.checked.append(name)
        if crds.handles(doc):
            report.problems += [f"{name}: {e}" for e in crds.errors(doc)]
            pod = _pod_template(doc)
            if pod is None:
                continue
            # The operator turns the pod template into real pods: check it as one too.
            doc, name = pod, f"{name} podTemplate"
        for version in KUBE_VERSIONS:
            try:
                kubernetes_validate.validate(dict(doc), version, strict=True)
            except kubernetes_validate.ValidationError as exc:
                path = ".".join(str(p) for p in exc.path) or "(root)"
                report.problems.append(f"{name} (Kubernetes {version}): {path}: {exc.message}")
            except kubernetes_validate.SchemaNotFoundError:
                report.problems.append(
                    f"{name}: no schema for {doc.get('apiVersion')} {doc.get('kind')} "
                    f"in Kubernetes {version}, nor an operator CRD"
                )
    return report


def _pod_template(doc: Mapping[str, Any]) -> dict[str, Any] | None:
    template = (doc.get("spec") or {}).get("podTemplate")
    if doc.get("kind") != "FlinkDeployment" or not isinstance(template, dict):
        return None
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "pod-template", **(template.get("metadata") or {})},
        "spec": template.get("spec") or {},
    }


_DOC = re.compile(r"^\s*#\s*([A-Za-z0-9_.]+) -- \S")


def _leaves(node: Any, prefix: str = "") -> Iterator[tuple[str, Any]]:
    if isinstance(node, dict) and node:
        for key, value in node.items():
            yield from _leaves(value, f"{prefix}.{key}" if prefix else str(key))
    else:
        yield prefix, node


def undocumented_values(path: Path) -> list[str]:
    """Keys of a values file without a ``# key -- description`` comment (nor on an ancestor)."""
    text = path.read_text(encoding="utf-8")
    documented = {m.group(1) for line in text.splitlines() if (m := _DOC.match(line))}
    leaves = [key for key, _ in _leaves(yaml.safe_load(text))]
    problems = []
    for key in leaves:
        parts = key.split(".")
        if not any(".".join(parts[:i]) in documented for i in range(len(parts), 0, -1)):
            problems.append(f"{key} has no '# {key} -- description' comment")
    paths = {".".join(key.split(".")[:i]) for key in leaves for i in range(1, key.count(".") + 2)}
    problems += [f"'# {d} --' documents no value" for d in sorted(documented - paths)]
    return problems


def _lookup(values: Any, key: str) -> Any:
    node = values
    for part in key.split("."):
        node = node[part]
    return node


def readme(chart: Path = CHART_DIR) -> str:
    """The chart's README: what it is, then every value with its default and description."""
    text = (chart / "values.yaml").read_text(encoding="utf-8")
    values = yaml.safe_load(text)
    rows = []
    for line in text.splitlines():
        match = _DOC.match(line)
        if match:
            key = match.group(1)
            description = line.split(" -- ", 1)[1].strip().replace("|", "\\|")
            default = json.dumps(_lookup(values, key), ensure_ascii=False).replace("|", "\\|")
            rows.append(f"| `{key}` | `{default}` | {description} |")
    meta = yaml.safe_load((chart / "Chart.yaml").read_text(encoding="utf-8"))
    return "\n".join(
        [
            f"# {meta['name']} {meta['version']}",
            "",
            " ".join(str(meta["description"]).split()),
            "",
            "Generated from the `# key -- description` comments of `values.yaml` by",
            "`python -m vigie.deploy readme`; a test fails when it is stale. How to install the",
            "operators, deploy, scale out and upgrade: `docs/deploy.md`. The city-scale profile:",
            "`values-production.yaml`.",
            "",
            "| key | default | description |",
            "|---|---|---|",
            *rows,
            "",
        ]
    )


def unknown_overrides(override: Any, defaults: Any, prefix: str = "") -> list[str]:
    """Keys a profile sets that values.yaml does not have (a typo is otherwise ignored)."""
    if not isinstance(override, dict) or not isinstance(defaults, dict) or not defaults:
        return []  # a leaf, or a free-form map such as kafka.topics.overrides
    problems: list[str] = []
    for key, value in override.items():
        where = f"{prefix}.{key}" if prefix else str(key)
        if key not in defaults:
            problems.append(f"{where} is not a value of the chart (values.yaml)")
        else:
            problems += unknown_overrides(value, defaults[key], where)
    return problems


def check_all(chart: Path = CHART_DIR) -> list[tuple[str, Report]]:
    """Everything CI checks, for the default values and the production profile."""
    problems = out_of_sync(chart=chart)
    if problems:
        raise ChartError(
            "chart links broken (run `python -m vigie.deploy sync`):\n  " + "\n  ".join(problems)
        )
    doc_problems = undocumented_values(chart / "values.yaml")
    defaults = yaml.safe_load((chart / "values.yaml").read_text(encoding="utf-8"))
    production = chart / "values-production.yaml"
    doc_problems += unknown_overrides(
        yaml.safe_load(production.read_text(encoding="utf-8")), defaults
    )
    if doc_problems:
        raise ChartError("values:\n  " + "\n  ".join(doc_problems))
    crds = CrdValidator()
    reports = []
    for label, values in (("default values", ()), ("production values", (production,))):
        lint(chart, values)
        report = validate(render(chart, values), crds)
        report.raise_if_any(label)
        reports.append((label, report))
    return reports


def chart_copy(chart: Path = CHART_DIR, into: Path | None = None) -> Path:
    """A scratch copy of the chart, links turned into copies (tests break it there)."""
    target = (into or Path(tempfile.mkdtemp(prefix="vigie-chart-"))) / "vigie"
    shutil.copytree(chart, target)
    return target
