"""Markdown tables shared by every task (per-task results tables live beside their metrics)."""

from __future__ import annotations

import math
from typing import Mapping, Sequence


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


def mean_sd(values) -> tuple[float, float]:
    """Mean and sample standard deviation (0 for a single value) of the finite values; (nan, nan) if none."""
    vals = [float(v) for v in values if v is not None and not math.isnan(float(v))]
    if not vals:
        return math.nan, math.nan
    m = sum(vals) / len(vals)
    sd = math.sqrt(sum((v - m) ** 2 for v in vals) / (len(vals) - 1)) if len(vals) > 1 else 0.0
    return m, sd


def seeds_table(cells: Mapping[str, Mapping[str, list[float]]], label: str, *, digits: int = 1,
                row_name: str = "language", marks: Mapping[str, str] | None = None) -> str:
    """Markdown: rows = languages (sorted, then "mean"), columns = systems (``cells`` order), each cell the mean
    +- standard deviation over seeds of ``cells[system][language]`` (fractions, shown in %). ``marks`` appends a
    note to a row name (e.g. "zero-shot")."""
    systems = list(cells)
    langs = sorted({lang for col in cells.values() for lang in col})
    lines = [f"| {row_name} ({label} %, mean ± sd) | " + " | ".join(systems) + " |", "|---|" + "---:|" * len(systems)]

    def cell(values) -> str:
        m, sd = mean_sd(values)
        return "-" if math.isnan(m) else f"{100 * m:.{digits}f} ± {100 * sd:.{digits}f}"

    for lang in langs:
        name = f"{lang} ({marks[lang]})" if marks and lang in marks else lang
        lines.append(f"| {name} | " + " | ".join(cell(cells[s].get(lang, [])) for s in systems) + " |")
    if len(langs) > 1:  # per seed: the mean over languages, then mean +- sd of those
        def over_langs(s):
            per_seed = zip(*[cells[s][lang] for lang in langs if lang in cells[s]])
            return [sum(v) / len(v) for v in per_seed]
        lines.append("| **mean** | " + " | ".join(cell(over_langs(s)) for s in systems) + " |")
    return "\n".join(lines)


def trained_vs_zero_shot_table(scores: Mapping[str, Mapping[str, Mapping[str, Mapping[str, list[float]]]]],
                               zero_shot: Mapping[str, str], metrics: Sequence[str]) -> str:
    """Markdown: one row per task, system and metric of ``scores[task][system][metric][language] = [per seed]``
    (fractions; an "all" language is left out), the mean over the trained languages and over the ``zero_shot`` ones:
    per seed the mean over languages, then mean +- sd over seeds (%)."""
    lines = ["## Summary (mean over languages, then mean ± sd over seeds, %)", "",
             "| task | system | metric | trained languages | zero-shot languages |", "|---|---|---|---:|---:|"]
    for task, columns in scores.items():
        for column, by_metric in columns.items():
            for m in metrics:
                if m not in by_metric:
                    continue
                cells = []
                for unseen in (False, True):
                    langs = [lang for lang in by_metric[m] if lang != "all" and (lang in zero_shot) == unseen]
                    per_seed = [sum(v) / len(v) for v in zip(*[by_metric[m][lang] for lang in langs])]
                    mu, sd = mean_sd(per_seed) if per_seed else (math.nan, 0.0)
                    cells.append("-" if math.isnan(mu) else f"{100 * mu:.1f} ± {100 * sd:.1f}")
                lines.append(f"| {task} | {column} | {m} | {cells[0]} | {cells[1]} |")
    return "\n".join(lines)
