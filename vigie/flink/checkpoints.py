"""Find the checkpoint a job restarts from, in a retained checkpoint folder.

With ``VIGIE_FLINK_CHECKPOINT_DIR`` set, Flink writes ``<dir>/<job id>/chk-<n>/_metadata``
for every completed checkpoint and keeps the newest ones when the job stops or dies. A
restart sets ``VIGIE_FLINK_RESTORE_FROM`` to the newest complete one (a folder without its
``_metadata`` file is a checkpoint still being written, not one to restore).
"""

from __future__ import annotations

from pathlib import Path


def latest_checkpoint(root: Path) -> Path | None:
    """The newest complete ``chk-N`` folder under ``root``, or None when there is none."""
    if not root.is_dir():
        return None
    complete = [m.parent for m in root.glob("*/chk-*/_metadata") if m.is_file()]
    if not complete:
        return None
    return max(complete, key=lambda p: (p.stat().st_mtime_ns, int(p.name.removeprefix("chk-"))))
