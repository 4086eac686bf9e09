"""Shared fixtures. Every test works offline: corpora are synthesized with espeak-ng, models are
built from small configs and saved locally. HF_HUB_OFFLINE makes any accidental hub access fail fast."""

import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import pytest


@pytest.fixture(scope="session")
def tiny_corpus(tmp_path_factory):
    """A small built-in corpus: 3 languages x 24 utterances, 4 speakers each, speaker-disjoint splits.

    Returns a dict split name -> manifest path (train/dev/test)."""
    from polyvox.data.synth.corpus import synthesize_corpus

    out = tmp_path_factory.mktemp("tiny_corpus")
    return synthesize_corpus(out, langs=["en", "es", "de"], utts_per_lang=24, seed=0, speakers=4, workers=2)


def pytest_terminal_summary(terminalreporter, config):
    """Show `polyvox doctor`'s report (run once by tests/test_doctor.py) in the CI log."""
    report = getattr(config, "polyvox_doctor_report", None)
    if report:
        terminalreporter.write_sep("=", "polyvox doctor")
        terminalreporter.write(report)
