"""Java services' jars, resolved by Maven from a small pom in ``vigie/stack/maven/``.

Kafka and ZooKeeper ship as plain jars on Maven Central; ``mvn dependency:copy-dependencies``
fetches one with everything it needs through the ordinary registry client, once per version.
"""

from __future__ import annotations

import shutil
from importlib import resources
from pathlib import Path

from vigie.stack.process import StackError, run_checked


def resolve_jars(
    *, service: str, pom: str, version_property: str, version: str, libs: Path
) -> bool:
    """Copy ``service``'s jars into ``libs`` unless already done; True when it fetched them.

    Missing Java or Maven is a one-line error naming the package to install, not a trace.
    """
    marker = libs / ".complete"
    if marker.exists():
        return False
    if shutil.which("java") is None:
        msg = f"Java 17+ is needed for {service}: apt-get install openjdk-17-jre-headless"
        raise StackError(msg)
    if shutil.which("mvn") is None:
        msg = f"Maven is needed once to fetch the {service} jars: apt-get install maven"
        raise StackError(msg)
    pom_file = resources.files("vigie.stack").joinpath(f"maven/{pom}")
    with resources.as_file(pom_file) as pom_path:
        run_checked(
            [
                "mvn", "-q", "-B", "-f", str(pom_path), f"-D{version_property}={version}",
                "dependency:copy-dependencies", f"-DoutputDirectory={libs}",
            ],
            f"resolving {service} jars with mvn",
        )  # fmt: skip
    marker.write_text(version)
    return True
