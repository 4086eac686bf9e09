"""Modules that moved in the layout of docs/architecture.md: importing an old path fails with a message naming the
new place, instead of a bare ModuleNotFoundError (a scripted ``from polyvox.speech.classification import ...`` says
where that code went). Plain data plus one finder; installed by ``polyvox/__init__.py``."""

from __future__ import annotations

import importlib.abc
import sys

MOVED = {
    "polyvox.plotting": "polyvox.eval.plots",
    "polyvox.speech.metrics": "polyvox.eval.error_rates (tables: polyvox.eval.tables, heatmaps: polyvox.eval.plots)",
    "polyvox.speech.cls_metrics": "polyvox.eval.classification (confusion/transfer plots: polyvox.eval.plots)",
    "polyvox.speech.models": "polyvox.speech.asr.model",
    "polyvox.speech.vocab": "polyvox.speech.asr.vocab",
    "polyvox.speech.decoding": "polyvox.speech.asr.decoding",
    "polyvox.speech.export": "polyvox.speech.asr.export",
    "polyvox.speech.asr_cli": "polyvox.speech.asr.cli",
    "polyvox.speech.zeroshot": "polyvox.speech.phones.zeroshot",
    "polyvox.speech.phonemes_cli": "polyvox.speech.phones.cli",
    "polyvox.speech.phonemes": "polyvox.data.ipa (normalisation), polyvox.data.articulatory (features), "
                               "polyvox.data.espeak, polyvox.speech.phones.inventory / .mapping, "
                               "polyvox.eval.phones (PER, PFER)",
    "polyvox.speech.classifier": "polyvox.speech.classify.model (encoders: polyvox.speech.encoders)",
    "polyvox.speech.classification": "polyvox.speech.classify.config / .task / .run / .fewshot",
    "polyvox.speech.classify_cli": "polyvox.speech.classify.cli",
    "polyvox.data.texts": "polyvox.data.synth.words",
    "polyvox.data.synth_tasks": "polyvox.data.synth.tasks",
    "polyvox.data.emotion_corpora": "polyvox.data.corpora.emotion and polyvox.data.corpora.adima",
    "polyvox.text.classifier": "polyvox.text.classify.task / .run",
}


class MovedModuleFinder(importlib.abc.MetaPathFinder):
    def find_spec(self, fullname, path=None, target=None):
        if fullname in MOVED:
            raise ModuleNotFoundError(f"{fullname} moved to {MOVED[fullname]} (see docs/architecture.md)",
                                      name=fullname)
        return None


def install() -> None:
    if not any(isinstance(f, MovedModuleFinder) for f in sys.meta_path):
        sys.meta_path.append(MovedModuleFinder())  # after the real finders: only paths that no longer exist
