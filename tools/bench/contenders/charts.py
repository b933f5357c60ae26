"""Renders the benchmark's charts (``npm run bench``): reads a JSON list of chart specs on stdin
and writes one PNG per spec into the folder given as the only argument.

A spec (built by tools/bench/lib/harness.mjs ``standardCharts`` or by a scenario):
``{"file": "a-latency.png", "title": "...", "panels": [{"title": "...", "ylabel": "ms",
"log": false, "groups": ["floor", "generated", ...], "series": [{"label": "p50",
"values": [0.1, 0.2, ...]}]}]}``: one grouped bar chart per panel, panels side by side; a
``null`` value is a missing bar. Deterministic: no dates in the files (``metadata``), fixed size.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt


def render(spec: dict, out: Path) -> None:
    panels = spec["panels"]
    width = max(6.0, 1.1 * max(len(p["groups"]) for p in panels) + 2) * len(panels)
    fig, axes = plt.subplots(1, len(panels), figsize=(min(width, 18), 4.6), squeeze=False)
    for ax, panel in zip(axes[0], panels, strict=True):
        groups, series = panel["groups"], panel["series"]
        bar = 0.8 / max(len(series), 1)
        for i, s in enumerate(series):
            xs = [g + (i - (len(series) - 1) / 2) * bar for g in range(len(groups))]
            values = [v if v is not None else 0 for v in s["values"]]
            bars = ax.bar(xs, values, bar, label=s["label"])
            for rect, v in zip(bars, s["values"], strict=True):
                if v is not None:
                    text = f"{v:,.0f}" if v >= 100 else f"{v:.2g}" if v < 1 else f"{v:.1f}"
                    ax.annotate(text, (rect.get_x() + rect.get_width() / 2, rect.get_height()),
                                ha="center", va="bottom", fontsize=7)  # fmt: skip
        ax.set_xticks(range(len(groups)), groups, rotation=20, ha="right", fontsize=8)
        ax.set_ylabel(panel.get("ylabel", ""))
        if panel.get("log"):
            ax.set_yscale("log")
        if panel.get("title"):
            ax.set_title(panel["title"], fontsize=10)
        ax.grid(axis="y", alpha=0.3)
        if len(series) > 1:
            ax.legend(fontsize=8)
    fig.suptitle(spec["title"], fontsize=11)
    fig.tight_layout()
    fig.savefig(out / spec["file"], dpi=110, metadata={"Software": None})
    plt.close(fig)


def main() -> None:
    out = Path(sys.argv[1])
    out.mkdir(parents=True, exist_ok=True)
    for spec in json.load(sys.stdin):
        render(spec, out)
        print(out / spec["file"])


if __name__ == "__main__":
    main()
