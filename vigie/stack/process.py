"""Detached service processes: pid files, port checks, health waits, clean stops.

A service started by ``vigie stack up`` must outlive the command that started it, so it runs
in its own session with a pid file; every later command finds it again through that file.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from vigie.errors import VigieError


class StackError(VigieError):
    """A stack component cannot be installed, started or stopped."""


@dataclass(frozen=True)
class ManagedProcess:
    """A long-running service known by its pid file and its log file."""

    name: str
    pid_file: Path
    log_file: Path

    def pid(self) -> int | None:
        """The pid of the running process, or None when it is not running."""
        try:
            pid = int(self.pid_file.read_text().strip())
        except (OSError, ValueError):
            return None
        if not _alive(pid):
            return None
        return pid

    def start(self, argv: Sequence[str], cwd: Path, env: dict[str, str] | None = None) -> int:
        """Start the process detached from this terminal and remember its pid."""
        self.log_file.parent.mkdir(parents=True, exist_ok=True)
        self.pid_file.parent.mkdir(parents=True, exist_ok=True)
        with self.log_file.open("ab") as log:
            try:
                proc = subprocess.Popen(
                    list(argv),
                    cwd=cwd,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    stdin=subprocess.DEVNULL,
                    start_new_session=True,
                    env={**os.environ, **(env or {})},
                )
            except FileNotFoundError as exc:
                msg = f"cannot start {self.name}: {argv[0]} not found"
                raise StackError(msg) from exc
        self.pid_file.write_text(str(proc.pid))
        return proc.pid

    def stop(self, timeout_s: float = 30.0) -> bool:
        """Stop the process group gently, then firmly; True if something was stopped."""
        pid = self.pid()
        if pid is None:
            self.pid_file.unlink(missing_ok=True)
            return False
        _signal_group(pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline and _alive(pid):
            time.sleep(0.2)
        if _alive(pid):
            _signal_group(pid, signal.SIGKILL)
            time.sleep(0.5)
        self.pid_file.unlink(missing_ok=True)
        return True

    def kill(self) -> None:
        """Kill at once, as a crash would: used by tests that prove recovery."""
        pid = self.pid()
        if pid is not None:
            _signal_group(pid, signal.SIGKILL)
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline and _alive(pid):
                time.sleep(0.1)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie still answers kill(0); read its state to tell.
    with contextlib.suppress(OSError):
        stat = Path(f"/proc/{pid}/stat").read_text()
        if stat.rsplit(")", 1)[1].split()[0] == "Z":
            return False
    return True


def _signal_group(pid: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(os.getpgid(pid), sig)
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.kill(pid, sig)


def port_open(host: str, port: int, timeout_s: float = 0.5) -> bool:
    """True when something accepts TCP connections on host:port."""
    try:
        with socket.create_connection((host, port), timeout=timeout_s):
            return True
    except OSError:
        return False


def require_free_port(host: str, port: int, setting: str, grace_s: float = 20.0) -> None:
    """Refuse to start on a port another program holds, naming the setting to change.

    A service of ours that just died may hold its port for a few seconds while the kernel
    tears it down, so the port gets ``grace_s`` to come free first.
    """
    deadline = time.monotonic() + grace_s
    while port_open(host, port) and time.monotonic() < deadline:
        time.sleep(0.5)
    if port_open(host, port):
        msg = (
            f"port {port} on {host} is taken by another program; stop it or choose "
            f"another port with {setting}=<port>"
        )
        raise StackError(msg)


def wait_until(check: Callable[[], bool], timeout_s: float, what: str, log_file: Path) -> None:
    """Poll ``check`` until it holds; on timeout point the user at the log."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.5)
    msg = f"{what} did not become healthy within {timeout_s:.0f}s; see {log_file}"
    raise StackError(msg)


def run_checked(argv: Sequence[str], what: str, cwd: Path | None = None) -> str:
    """Run a short install step; a failure shows the step and the tail of its output."""
    try:
        proc = subprocess.run(
            list(argv), cwd=cwd, capture_output=True, text=True, check=False, timeout=1800
        )
    except FileNotFoundError as exc:
        msg = f"{what}: {argv[0]} is not installed"
        raise StackError(msg) from exc
    if proc.returncode != 0:
        tail = "\n".join((proc.stdout + proc.stderr).strip().splitlines()[-15:])
        msg = f"{what} failed (exit {proc.returncode}):\n{tail}"
        raise StackError(msg)
    return proc.stdout
