"""Synthetic emotion and abuse corpora: labels in custom, prosody actually differs between
classes, flagged words only in the positive class, speaker-disjoint splits, idempotent re-runs."""

import numpy as np
import pytest

from polyvox.data.audio import load_audio
from polyvox.data.manifest import read_manifest
from polyvox.data.synth.tasks import (
    ABUSIVE,
    CLEAN,
    EMOTION_STYLES,
    abuse_text,
    flagged_words,
    synthesize_abuse_corpus,
    synthesize_emotion_corpus,
)


def _all(paths):
    return {name: read_manifest(p) for name, p in paths.items()}


@pytest.fixture(scope="module")
def emotion_corpus(tmp_path_factory):
    out = tmp_path_factory.mktemp("emo")
    return out, synthesize_emotion_corpus(out, ["en", "de"], utts_per_lang=24, emotions=["neutral", "sad", "angry"],
                                          speakers=4, jitter=0.0, workers=2)


def test_emotion_corpus_labels_and_splits(emotion_corpus):
    _, paths = emotion_corpus
    parts = _all(paths)
    utts = [u for p in parts.values() for u in p]
    assert len(utts) == 48
    assert all(u.custom["synthetic"] is True for u in utts)
    assert {u.custom["emotion"] for u in utts} == {"neutral", "sad", "angry"}
    spk = {name: {u.speaker for u in p} for name, p in parts.items()}
    assert not (spk["train"] & spk["test"]) and not (spk["train"] & spk["dev"])
    # every speaker speaks every class
    for s in {u.speaker for u in utts}:
        assert {u.custom["emotion"] for u in utts if u.speaker == s} == {"neutral", "sad", "angry"}


def test_emotion_styles_change_the_audio(emotion_corpus):
    _, paths = emotion_corpus
    utts = [u for p in _all(paths).values() for u in p if u.language == "en"]
    by = {e: [u for u in utts if u.custom["emotion"] == e] for e in ("sad", "angry")}
    rms = {e: np.mean([np.sqrt(np.mean(load_audio(u.audio)[0] ** 2)) for u in us]) for e, us in by.items()}
    assert rms["angry"] > 1.5 * rms["sad"]
    for e, us in by.items():
        base = EMOTION_STYLES[e]
        assert all(u.custom["amplitude"] == base.amplitude for u in us)  # jitter 0
    words_per_s = {e: np.mean([len(u.text.split()) / u.duration for u in us]) for e, us in by.items()}
    assert words_per_s["angry"] > words_per_s["sad"]


def test_emotion_corpus_rerun_is_a_no_op(emotion_corpus, monkeypatch):
    out, paths = emotion_corpus
    import polyvox.data.synth.tasks as st

    monkeypatch.setattr(st, "run_espeak", lambda cmd: pytest.fail("espeak called on an identical re-run"))
    again = synthesize_emotion_corpus(out, ["en", "de"], utts_per_lang=24, emotions=["neutral", "sad", "angry"],
                                      speakers=4, jitter=0.0, workers=2)
    assert again == paths


def test_flagged_words_and_texts():
    f = flagged_words("hi", 10, seed=0)
    assert len(set(f)) == 10 and f == flagged_words("hi", 10, seed=0) and f != flagged_words("hi", 10, seed=1)
    for i in range(30):
        pos, w = abuse_text("hi", 0, i, 0, f, True)
        neg, none = abuse_text("hi", 0, i, 0, f, False)
        assert w in f and w in pos.split() and none == ""
        assert not set(neg.split()) & set(f)
    with pytest.raises(ValueError, match="word list"):
        flagged_words("kn")


def test_abuse_corpus(tmp_path):
    paths = synthesize_abuse_corpus(tmp_path, ["hi", "en"], utts_per_lang=16, speakers=3, workers=2)
    utts = [u for p in _all(paths).values() for u in p]
    assert len(utts) == 32 and {u.custom["label"] for u in utts} == {ABUSIVE, CLEAN}
    for u in utts:
        flagged = set(flagged_words(u.language, 20, 0))
        has = bool(set(u.text.split()) & flagged)
        assert has == (u.custom["label"] == ABUSIVE)
        assert (u.custom["flagged_word"] != "") == has


@pytest.mark.skipif(not __import__("shutil").which("flite"), reason="flite not installed (make system-deps)")
def test_abuse_corpus_with_other_engines(tmp_path):
    paths = synthesize_abuse_corpus(tmp_path, ["en", "hi"], utts_per_lang=14, speakers=3, workers=2,
                                    engines=["espeak", "flite"])
    utts = [u for p in _all(paths).values() for u in p]
    flite = [u for u in utts if u.custom.get("engine") == "flite"]
    assert flite and {u.language for u in flite} == {"en"}  # flite speaks English only; Hindi stays espeak
    assert {u.speaker for u in flite} <= {f"en-flite-{v}" for v in ("awb", "kal16", "rms", "slt")}
    for u in flite:  # the label is still the words: a flagged word exactly in the abusive rows
        has = bool(set(u.text.split()) & set(flagged_words("en", 20, 0)))
        assert has == (u.custom["label"] == ABUSIVE) and u.phonemes
    by_split = {name: {u.speaker for u in rows} for name, rows in _all(paths).items()}
    assert not by_split["train"] & by_split["test"]  # still speaker-disjoint
    with pytest.raises(ValueError, match="needs espeak"):
        synthesize_abuse_corpus(tmp_path / "x", ["en"], 6, speakers=3, engines=["flite"])


def test_emotion_task_refuses_other_engines():
    from polyvox.speech.classify.config import SynthConfig
    from polyvox.speech.classify.task import synthesize
    from polyvox.train.config import ConfigError

    with pytest.raises(ConfigError, match="espeak-ng prosody styles"):
        synthesize(SynthConfig(task="emotion", engines=["espeak", "flite"]), "emotion")
