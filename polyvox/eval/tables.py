"""Markdown tables shared by every task (per-task results tables live beside their metrics)."""

from __future__ import annotations

import math
from typing import Mapping


def percent(x: float | None, digits: int = 1) -> str:
    """``0.1234`` -> ``"12.3"``; None / NaN -> ``"-"``."""
    return "-" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{100 * x:.{digits}f}"


def transfer_table(matrix: Mapping[str, Mapping[str, float]], label: str, *, digits: int = 1,
                   bold_diagonal: bool = False) -> str:
    """Markdown: rows = what each model was trained on (``matrix`` order), columns = sorted test languages, cells =
    ``matrix[train][test]`` in %; ``label`` names the metric. With ``bold_diagonal`` the in-language cells are bold."""
    cols = sorted({c for row in matrix.values() for c in row})
    lines = [f"| train \\ test ({label} %) | " + " | ".join(cols) + " |", "|---|" + "---:|" * len(cols)]
    for train, row in matrix.items():
        cells = [percent(row.get(c), digits) for c in cols]
        if bold_diagonal:
            cells = [f"**{x}**" if c == train else x for c, x in zip(cols, cells)]
        lines.append(f"| {train} | " + " | ".join(cells) + " |")
    return "\n".join(lines)
