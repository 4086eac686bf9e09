"""Run logging: a tqdm bar, ``metrics.jsonl``, TensorBoard events and a loss-curve PNG.

Every row of ``RUN/metrics.jsonl`` is ``{"step": N, "<name>": value, ...}``; training rows carry
``train/*`` keys, evaluation rows the keys ``evaluate()`` returned (``dev/per``, ...). Only the
main process writes; on the other processes :class:`RunLogger` does nothing.
"""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path
from typing import Mapping

METRICS_FILE = "metrics.jsonl"
CURVE_FILE = "loss_curve.png"
TB_DIR = "tb"


def read_metrics(path: str | Path) -> list[dict]:
    """Rows of a metrics.jsonl (a run dir or the file itself); a torn last line is ignored."""
    path = Path(path)
    if path.is_dir():
        path = path / METRICS_FILE
    rows = []
    if path.is_file():
        for line in path.read_text(encoding="utf-8").splitlines():
            try:
                rows.append(json.loads(line))
            except json.JSONDecodeError:
                pass  # a run killed mid-write
    return rows


def truncate_metrics(path: str | Path, after_step: int) -> None:
    """Drop rows logged after ``after_step``: a resumed run re-logs those steps."""
    path = Path(path)
    if path.is_file():
        rows = [r for r in read_metrics(path) if r.get("step", 0) <= after_step]
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
        tmp.replace(path)


class RunLogger:
    """Progress bar + metrics.jsonl + TensorBoard for one run (no-op unless ``enabled``)."""

    def __init__(self, run_dir: str | Path, *, total_steps: int, start_step: int = 0, enabled: bool = True):
        self.enabled = enabled
        self.run_dir = Path(run_dir)
        self.bar = self.tb = self.file = None
        if not enabled:
            return
        from tqdm.auto import tqdm

        self.run_dir.mkdir(parents=True, exist_ok=True)
        truncate_metrics(self.run_dir / METRICS_FILE, start_step)
        self.file = open(self.run_dir / METRICS_FILE, "a", encoding="utf-8")
        try:
            from torch.utils.tensorboard import SummaryWriter

            # purge_step hides events a killed run wrote after its last checkpoint
            self.tb = SummaryWriter(str(self.run_dir / TB_DIR), purge_step=start_step + 1 if start_step else None)
        except ImportError:  # tensorboard is optional at run time
            self.tb = None
        # redirected to a file (CI, nohup, `> log`), redraw every 30 s, not 10 times a second
        interval = 0.1 if sys.stderr.isatty() else 30.0
        self.bar = tqdm(total=total_steps, initial=start_step, unit="step", dynamic_ncols=True, desc="train",
                        mininterval=interval, maxinterval=max(10.0, interval))

    def progress(self, steps: int, loss: float | None = None, items_per_s: float | None = None,
                 lr: float | None = None):
        """Advance the bar by ``steps`` and, if given, show loss / items/s / lr; tqdm adds steps/s and ETA."""
        if not self.enabled:
            return
        if loss is not None:
            post = {"loss": f"{loss:.4f}"}
            if items_per_s is not None:
                post["items/s"] = f"{items_per_s:.1f}"
            if lr is not None:
                post["lr"] = f"{lr:.2e}"
            self.bar.set_postfix(post, refresh=False)
        if steps:
            self.bar.update(steps)

    def log(self, step: int, metrics: Mapping[str, float]):
        """Append one row to metrics.jsonl and the TensorBoard events."""
        if not self.enabled:
            return
        row = {"step": step, **{k: float(v) for k, v in metrics.items()}}
        self.file.write(json.dumps(row) + "\n")
        self.file.flush()
        if self.tb is not None:
            for k, v in metrics.items():
                self.tb.add_scalar(k, float(v), step)

    def write(self, message: str):
        """Print without breaking the progress bar."""
        if self.enabled:
            self.bar.write(message)

    def close(self, plot: bool = True):
        if not self.enabled:
            return
        self.bar.close()
        self.file.close()
        if self.tb is not None:
            self.tb.close()
        if plot:
            plot_loss_curve(self.run_dir / METRICS_FILE, self.run_dir / CURVE_FILE)


def plot_loss_curve(metrics_path: str | Path, out_png: str | Path) -> Path | None:
    """Train loss (left) and evaluation metrics (right) against step, from metrics.jsonl."""
    rows = read_metrics(metrics_path)
    train = [(r["step"], r["train/loss"]) for r in rows if "train/loss" in r]
    evals: dict[str, list] = {}
    for r in rows:
        for k, v in r.items():
            if k != "step" and not k.startswith("train/") and isinstance(v, (int, float)) and math.isfinite(v):
                evals.setdefault(k, []).append((r["step"], v))
    if not train and not evals:
        return None
    import matplotlib

    matplotlib.use("Agg")  # no display on training nodes
    import matplotlib.pyplot as plt

    ncols = 2 if evals else 1
    fig, axes = plt.subplots(1, ncols, figsize=(5 * ncols, 3.5), squeeze=False)
    ax = axes[0][0]
    if train:
        ax.plot(*zip(*train), label="train/loss")
    ax.set_xlabel("step")
    ax.set_ylabel("loss")
    ax.set_title("training loss")
    ax.grid(alpha=0.3)
    if evals:
        ax = axes[0][1]
        for name, points in sorted(evals.items()):
            ax.plot(*zip(*points), marker="o", markersize=3, label=name)
        ax.set_xlabel("step")
        ax.set_title("evaluation")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    fig.tight_layout()
    out_png = Path(out_png)
    fig.savefig(out_png, dpi=100)
    plt.close(fig)
    return out_png
