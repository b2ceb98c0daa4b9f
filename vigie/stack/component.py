"""What every stack component offers, so ``vigie stack`` can treat them alike."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Protocol


@dataclass(frozen=True)
class ComponentStatus:
    """One line of ``vigie stack status``."""

    name: str
    healthy: bool
    state: str  # "up", "down", "installed", "missing" ...
    version: str
    ports: tuple[int, ...]
    data_dir: Path
    pid: int | None = None
    detail: str = ""


def process_state(pid: int | None, healthy: bool, installed: bool) -> str:
    """What ``vigie stack status`` says of a service from its process and its install."""
    if healthy:
        return "up"
    if pid:
        return "starting"
    return "down" if installed else "missing"


class Component(Protocol):
    """A piece of the local stack."""

    name: str

    @property
    def log_file(self) -> Path:
        """Where the component writes its log."""
        ...

    def install(self) -> bool:
        """Install on first use; True if anything was installed."""
        ...

    def start(self) -> bool:
        """Start unless healthy already; True if it was started."""
        ...

    def stop(self) -> bool:
        """Stop if running; True if something was stopped."""
        ...

    def status(self) -> ComponentStatus:
        """Health, version, ports and data folder."""
        ...
