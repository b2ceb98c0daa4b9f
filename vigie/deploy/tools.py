"""External tools the chart checks need, obtained through the package registries and cached.

helm is built with ``go install`` from the Go module proxy into ``<cache>/helm-<version>/``;
the operators' API jars come from Maven Central with ``mvn dependency:copy``. The cache is
``$VIGIE_TOOLS_DIR`` or ``~/.cache/vigie/tools``: it outlives a CI clone, so only the first
run on a machine pays for the build (a few minutes), later ones find the binary at once.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from vigie.errors import VigieError

#: helm release built from the Go module proxy (module helm.sh/helm/v3).
HELM_VERSION = "v3.22.0"


class ToolError(VigieError):
    """A tool could not be found, built or fetched; the message says what to install."""


@dataclass(frozen=True, slots=True)
class MavenArtifact:
    """One jar on Maven Central."""

    group: str
    artifact: str
    version: str
    classifier: str = ""

    @property
    def coordinates(self) -> str:
        """``group:artifact:version[:jar:classifier]`` as ``mvn dependency:copy`` wants it."""
        base = f"{self.group}:{self.artifact}:{self.version}"
        return f"{base}:jar:{self.classifier}" if self.classifier else base

    @property
    def filename(self) -> str:
        """The jar's file name."""
        suffix = f"-{self.classifier}" if self.classifier else ""
        return f"{self.artifact}-{self.version}{suffix}.jar"


def cache_dir() -> Path:
    """Where built tools and fetched jars are kept between runs."""
    configured = os.environ.get("VIGIE_TOOLS_DIR")
    if configured:
        return Path(configured)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "vigie" / "tools"


def _go() -> str:
    found = shutil.which("go") or next(
        (p for p in ("/usr/local/go/bin/go", "/usr/lib/go/bin/go") if Path(p).exists()), None
    )
    if found is None:
        msg = (
            f"helm {HELM_VERSION} is built from the Go module proxy, and no `go` was found: "
            "install Go 1.22 or newer (the toolchain the module asks for is then fetched "
            "through the proxy)"
        )
        raise ToolError(msg)
    return found


def ensure_helm(version: str = HELM_VERSION) -> Path:
    """The helm binary, built with ``go install`` on first use."""
    target = cache_dir() / f"helm-{version}" / "helm"
    if target.exists():
        return target
    target.parent.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix="helm-", dir=target.parent.parent))
    env = dict(os.environ, GOBIN=str(staging), CGO_ENABLED="0")
    env.setdefault("GOTOOLCHAIN", "auto")
    result = subprocess.run(
        [_go(), "install", f"helm.sh/helm/v3/cmd/helm@{version}"],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0 or not (staging / "helm").exists():
        shutil.rmtree(staging, ignore_errors=True)
        msg = f"go install helm.sh/helm/v3/cmd/helm@{version} failed:\n{result.stderr[-3000:]}"
        raise ToolError(msg)
    # Publish atomically, so a run interrupted mid-build never leaves half a binary behind.
    target.parent.mkdir(parents=True, exist_ok=True)
    os.replace(staging / "helm", target)
    shutil.rmtree(staging, ignore_errors=True)
    return target


def ensure_jar(artifact: MavenArtifact) -> Path:
    """The jar, copied from Maven Central (through ~/.m2) on first use."""
    folder = cache_dir() / "jars"
    target = folder / artifact.filename
    if target.exists():
        return target
    mvn = shutil.which("mvn")
    if mvn is None:
        msg = f"Maven is needed once to fetch {artifact.coordinates}: apt-get install maven"
        raise ToolError(msg)
    folder.mkdir(parents=True, exist_ok=True)
    result = subprocess.run(
        [
            mvn,
            "-q",
            "-B",
            "org.apache.maven.plugins:maven-dependency-plugin:3.6.1:copy",
            f"-Dartifact={artifact.coordinates}",
            f"-DoutputDirectory={folder}",
        ],
        capture_output=True,
        text=True,
        check=False,
        cwd=folder,
    )
    if result.returncode != 0 or not target.exists():
        output = (result.stdout + result.stderr)[-3000:]
        msg = f"mvn could not fetch {artifact.coordinates}:\n{output}"
        raise ToolError(msg)
    return target
