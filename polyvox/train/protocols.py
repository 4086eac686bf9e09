"""Protocols every task shares, written once; each takes the recipe's ``train_and_test(cfg, run_dir) -> summary``.

* standard: one ``train_and_test`` call (the recipes call it directly);
* transfer matrix (:func:`run_transfer`): one run per training language (``RUN/from-<lang>``), plus optionally one
  multilingual run on all of them (``RUN/from-all``), each tested on every language; the task turns the summaries
  into its matrices (diagonal = in-language, off-diagonal = zero-shot, the ``all`` row = multilingual);
* few-shot: a source run (trained by ``train_and_test`` when missing), then task-specific adaptation (ASR:
  ``init_from`` + ``data.fewshot_minutes``; classification: :mod:`polyvox.speech.classify.fewshot`).

A config passed here only needs ``protocol`` and ``data.train_langs``; protocols never import a task.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any, Callable, Sequence

MULTILINGUAL = "all"  # name of the transfer-matrix row trained on every language

TrainAndTest = Callable[[Any, Path], dict]


def transfer_rows(langs: Sequence[str], multilingual: bool) -> list[list[str]]:
    """One single-language row per language, plus the multilingual row when asked (and there are >= 2)."""
    rows = [[lang] for lang in langs]
    if multilingual and len(langs) > 1:
        rows.append(list(langs))
    return rows


def row_name(train_langs: Sequence[str]) -> str:
    return train_langs[0] if len(train_langs) == 1 else MULTILINGUAL


def run_transfer(train_and_test: TrainAndTest, cfg: Any, langs: Sequence[str], run_dir: str | Path, *,
                 multilingual: bool = False) -> dict[str, dict]:
    """``{row name: train_and_test's summary}`` over :func:`transfer_rows`; each run in ``run_dir/from-<row>``,
    trained with ``protocol: standard`` and its row's ``data.train_langs``."""
    out = {}
    for train_langs in transfer_rows(langs, multilingual):
        sub = copy.deepcopy(cfg)
        sub.protocol, sub.data.train_langs = "standard", list(train_langs)
        name = row_name(train_langs)
        out[name] = train_and_test(sub, Path(run_dir) / f"from-{name}")
    return out
