"""Every espeak-ng language with an offline text source: CLDR names through Babel for those wordfreq lacks, with
the languages it cannot serve named and explained."""

import shutil
import unicodedata

import pytest

from polyvox.data.ipa import is_ipa_segment
from polyvox.data.manifest import read_manifest
from polyvox.data.synth import words

needs_espeak = pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="espeak-ng not installed")


def test_cldr_words_are_real_words_in_one_script():
    sw = words.cldr_words("sw")
    assert len(sw) >= words.MIN_CLDR_WORDS and "Afrika" in sw and list(sw) == sorted(sw)
    english = {w.lower() for w in words.cldr_words("en")}
    assert not {w.lower() for w in sw} & english  # English spellings of names are left out for Latin scripts
    ka = words.cldr_words("ka")
    assert all(unicodedata.name(c).startswith("GEORGIAN") for w in ka for c in w)
    assert not any(w.isupper() and len(w) > 1 for w in ka)  # no acronyms
    assert words.cldr_words("xx-not-a-locale") == ()


@needs_espeak
def test_languages_beyond_the_curated_table():
    langs = words.languages()
    assert len(langs) >= 80 and set(words.LANGUAGES) <= set(langs)
    for code in ("sw", "ka", "am", "ml", "mr", "gu", "pa", "hy", "eu", "ga", "mt", "sq", "et", "af", "ne", "si"):
        assert langs[code].source == words.CLDR, code
    assert words.resolve_language("sw").name == "Swahili"
    with pytest.raises(ValueError, match="'cmn' cannot be used for a corpus: .*Han characters"):
        words.resolve_language("cmn")
    with pytest.raises(ValueError, match="'vi' cannot be used for a corpus: .*tone 3 as ɜ"):
        words.resolve_language("vi")
    with pytest.raises(ValueError, match=r"'jbo' cannot be used for a corpus: Lojban: only \d+ offline words"):
        words.resolve_language("jbo")
    with pytest.raises(ValueError, match="unknown language code 'tl'"):
        words.resolve_language("tl")


@needs_espeak
def test_a_corpus_of_cldr_languages_has_clean_ipa(tmp_path):
    from polyvox.data.synth.corpus import synthesize_corpus

    paths = synthesize_corpus(tmp_path, ["sw", "ka", "am", "tk", "ml"], 3, seed=0, speakers=3, workers=2)
    rows = [u for p in paths.values() for u in read_manifest(p)]
    assert {u.language for u in rows} == {"sw", "ka", "am", "tk", "ml"} and len(rows) == 15
    for u in rows:
        assert u.custom["source"] == "cldr" and u.text
        assert all(is_ipa_segment(s) for s in u.phoneme_list(keep_word_boundary=False)), (u.id, u.phonemes)
