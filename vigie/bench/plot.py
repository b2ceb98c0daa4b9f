"""The PNG of a bench report: end-to-end latency (p50, p99) against the offered rate."""

from __future__ import annotations

from pathlib import Path
from typing import Any


def plot_latency(report: dict[str, Any], path: Path) -> None:
    """Write the plot; matplotlib's Agg backend, so no display is needed."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4.5), dpi=110)
    kinds = (("pipeline", "tab:red"), ("apart", "tab:orange"), ("passthrough", "tab:blue"))
    for kind, colour in kinds:
        phases = [p for p in report.get(kind, []) if p["latency_s"]["p50"] is not None]
        if not phases:
            continue
        rates = [p["offered_rate"] for p in phases]
        ax.plot(rates, [p["latency_s"]["p50"] for p in phases], "o-", color=colour,
                label=f"{kind} p50")  # fmt: skip
        ax.plot(rates, [p["latency_s"]["p99"] for p in phases], "s--", color=colour,
                label=f"{kind} p99")  # fmt: skip
    ax.axhline(1.0, color="grey", linewidth=0.8, linestyle=":")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("offered rate (raw records/s)")
    ax.set_ylabel("ingest → output latency (s)")
    ax.set_title("Vigie on the local stack: latency against offered rate")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
