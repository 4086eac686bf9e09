"""The three text forms: native (normalised like char CTC targets), romanized (uroman), IPA words."""

import pytest

from polyvox.data.manifest import Utterance
from polyvox.speech.asr.vocab import text_to_tokens
from polyvox.text.forms import gold_text, ipa_words, to_form
from polyvox.text.romanize import iso639_3, romanize


def utt(**kw):
    base = dict(id="u1", audio="/x.wav", duration=1.0, sample_rate=16000, language="ru", speaker="s",
                text="Включи свет!", phonemes="f k l j u | s v e t")
    return Utterance(**{**base, **kw})


def test_native_is_what_the_char_recognizer_writes():
    assert to_form("Включи, СВЕТ!", "native", "ru") == "включи свет"
    assert "".join(" " if t == "|" else t for t in text_to_tokens("Включи, СВЕТ!")) == "включи свет"


def test_romanized_reads_any_script_in_latin_letters():
    assert to_form("Включи свет", "romanized", "ru") == "vklyuchi svet"
    assert romanize("ΚΑΙΡΟΣ", "el").isascii()
    assert iso639_3("ru") == "rus" and iso639_3("pt-br") == "por" and iso639_3("kat") == "kat"


def test_ipa_words_join_phones_and_keep_word_boundaries():
    assert ipa_words("f k l j u | s v e t") == "fklju svet"
    assert ipa_words(" | h a | | j u | ") == "ha ju"
    assert gold_text(utt(), "ipa") == "fklju svet" and gold_text(utt(), "native") == "включи свет"


def test_empty_fields_and_unknown_forms_are_named():
    with pytest.raises(ValueError, match="u1.*'phonemes' is empty"):
        gold_text(utt(phonemes=""), "ipa")
    with pytest.raises(ValueError, match="text form must be one of"):
        gold_text(utt(), "pinyin")
