"""The built-in intent corpus: templates sampled with hassil in >= 30 languages, every speaker (so every
speaker-disjoint split) has every intent, rows carry the intent and the romanized text, and a re-run reuses it."""

import random

import pytest

from polyvox.data.manifest import read_manifest
from polyvox.data.synth.intents import (DEFAULT_INTENT_LANGS, DEFAULT_INTENTS, IntentTemplateError, check_intents,
                                        sample_sentence, synthesize_intent_corpus)


def test_every_default_language_samples_every_default_intent():
    assert len(DEFAULT_INTENT_LANGS) >= 30 and len(DEFAULT_INTENTS) >= 9
    for code in DEFAULT_INTENT_LANGS:
        for intent in DEFAULT_INTENTS:
            text = sample_sentence(code, intent, random.Random(f"{code}{intent}"))
            assert text and "{" not in text and not any(c.isdigit() for c in text), (code, intent, text)


def test_sampling_is_a_function_of_the_seed_and_varies():
    a = [sample_sentence("en", "HassStartTimer", random.Random(i)) for i in range(8)]
    b = [sample_sentence("en", "HassStartTimer", random.Random(i)) for i in range(8)]
    assert a == b and len(set(a)) >= 4


def test_missing_templates_are_named():
    with pytest.raises(IntentTemplateError, match="ka: .*HassGetWeather"):
        check_intents(["en", "ka"], ["HassTurnOn", "HassGetWeather"])
    with pytest.raises(IntentTemplateError, match="no templates for 'xx'"):
        sample_sentence("xx", "HassTurnOn", random.Random(0))


def test_corpus_splits_are_speaker_disjoint_and_cover_every_intent(tmp_path):
    intents = ["HassTurnOn", "HassTurnOff", "HassGetWeather"]
    paths = synthesize_intent_corpus(tmp_path / "c", ["en", "ru"], 18, intents, speakers=3, workers=2)
    splits = {name: read_manifest(p) for name, p in paths.items()}
    for lang in ("en", "ru"):
        speakers = [{u.speaker for u in utts if u.language == lang} for utts in splits.values()]
        assert sum(map(len, speakers)) == len(set().union(*speakers)) == 3  # disjoint
        for utts in splits.values():
            assert {u.custom["intent"] for u in utts if u.language == lang} == set(intents)
    ru = next(u for u in splits["train"] if u.language == "ru")
    assert ru.custom["synthetic"] and ru.custom["text_romanized"].isascii() and not ru.text.isascii()
    assert ru.phonemes and ru.duration > 0.3
    mtime = {p: p.stat().st_mtime for p in paths.values()}
    again = synthesize_intent_corpus(tmp_path / "c", ["en", "ru"], 18, intents, speakers=3, workers=2)
    assert {p: p.stat().st_mtime for p in again.values()} == mtime  # reused, not respoken
