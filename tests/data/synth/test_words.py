"""Every espeak-ng language with an offline text source: CLDR names through Babel for those wordfreq lacks, the
iso-codes names and hunspell dictionaries for small ones, regional varieties, with the languages it cannot serve
named and explained."""

import shutil
import unicodedata
from pathlib import Path

import pytest

from polyvox.data.ipa import is_ipa_segment
from polyvox.data.manifest import read_manifest
from polyvox.data.synth import text_sources, words

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
    with pytest.raises(ValueError, match="'my' cannot be used for a corpus: .*letter by letter"):
        words.resolve_language("my")
    with pytest.raises(ValueError, match="'th' cannot be used for a corpus: .*letter by letter"):
        words.resolve_language("th")
    with pytest.raises(ValueError, match=r"'piqd' cannot be used for a corpus: Klingon: only \d+ offline words"):
        words.resolve_language("piqd")
    with pytest.raises(ValueError, match=r"unknown language code 'tl' \(Filipino\): espeak-ng has no voice for it"):
        words.resolve_language("tl")
    with pytest.raises(ValueError, match="unknown language code 'qqq'; run"):
        words.resolve_language("qqq")


@needs_espeak
def test_small_languages_pool_cldr_iso_codes_and_hunspell():
    langs = words.languages()
    assert langs["ht"].source == "cldr+iso-codes+sample-text" and len(words.word_pool("ht")) >= words.MIN_OFFLINE_WORDS
    assert set(words.iso_words("ht")) - set(words.cldr_words("ht"))  # iso-codes adds words CLDR lacks
    assert langs["kl"].source == "cldr+sample-text"  # under MIN_CLDR_WORDS: gflanguages' UDHR excerpt adds words
    # Hawaiian: 48 CLDR + 15 iso-codes words alone are too few; its UDHR sample text makes 100+
    assert langs["haw"].source == "cldr+iso-codes+sample-text"
    assert len(words.word_pool("haw")) >= words.MIN_OFFLINE_WORDS
    assert {"kānaka", "kānāwai"} <= set(words.sample_text_words("haw")) - set(words.cldr_words("haw"))
    assert words.offline_words("sw", "sw") == (words.cldr_words("sw"), "cldr")  # enough CLDR: pool unchanged
    if words.hunspell_files("gn"):  # hunspell-gug (the Makefile installs it)
        assert "hunspell" in langs["gn"].source and len(words.word_pool("gn")) > 1000
    else:
        assert "apt-get install hunspell-gug" in words.unavailable_languages()["gn"]
    why = words.unavailable_languages()["quc"]
    assert "K'iche': only" in why and "sample texts" in why and f"fewer than {words.MIN_OFFLINE_WORDS}" in why


def test_hunspell_stems_are_read_in_the_dictionarys_encoding(tmp_path, monkeypatch):
    monkeypatch.setattr(text_sources, "HUNSPELL_DIR", tmp_path)
    (tmp_path / "xx_YY.aff").write_bytes(b"SET ISO8859-1\nTRY abc\n")
    (tmp_path / "xx_YY.dic").write_bytes("4\ncaf\u00e9/S\nna\u00efve\tpo:adj\nNATO\nx\n".encode("latin-1"))
    words.hunspell_words.cache_clear()
    assert words.hunspell_words("xx") == ("café", "naïve")  # flags and fields cut; acronyms, 1-letter words dropped
    words.hunspell_words.cache_clear()


def _write_zld(module, blocks):
    """A SWORD zLD lexicon: each block a zlib stream of (count, (offset, size)*, texts), indexed by module.zdx."""
    import struct
    import zlib

    index, data = b"", b""
    for texts in blocks:
        raw = [t.encode() for t in texts]
        header = 4 + 8 * len(raw)
        table, at = b"", header
        for r in raw:
            table += struct.pack("<II", at, len(r))
            at += len(r)
        packed = zlib.compress(struct.pack("<I", len(raw)) + table + b"".join(raw))
        index += struct.pack("<II", len(data), len(packed))
        data += packed
    module.with_name(module.name + ".zdx").write_bytes(index)
    module.with_name(module.name + ".zdt").write_bytes(data)


def test_sword_lexicon_headwords_are_the_words(tmp_path, monkeypatch):
    module = tmp_path / "dict"
    _write_zld(module, [["<entryFree><orth>λόγος</orth><orth type=\"trans\">logos</orth> word</entryFree>",
                         "<orth>Ἄβελ</orth>"], ["<orth>ἀγάπη</orth><def>love, ABC</def>"]])
    monkeypatch.setitem(words.SWORD_LEXICONS, "xx", ("sword-dict-xx", module))
    words.sword_words.cache_clear()
    try:  # transliterations and definitions are not headwords; one-block and multi-block modules alike
        assert words.sword_words("xx") == tuple(sorted(["λόγος", "Ἄβελ", "ἀγάπη"]))
        module.with_name("dict.zdt").write_bytes(b"not zlib at all")
        words.sword_words.cache_clear()
        with pytest.raises(ValueError, match=r"dict\.zdt: block 0 is not a SWORD zLD block"):
            words.sword_words("xx")
    finally:
        words.sword_words.cache_clear()


@needs_espeak
def test_ancient_greek_speaks_strongs_headwords():
    if not words.sword_words("grc"):  # sword-dict-strongs-greek (the Makefile installs it)
        assert "apt-get install sword-dict-strongs-greek" in words.unavailable_languages()["grc"]
        return
    grc = words.languages()["grc"]
    assert grc.source == "sword+sample-text" and grc.scripts == ("GREEK",) and len(words.word_pool("grc")) > 5000


def test_word_lists_take_each_lines_first_word(tmp_path, monkeypatch):
    gismu, lujvo = tmp_path / "gismu.txt", tmp_path / "lujvo.txt"
    gismu.write_text(" 01436 Lojban   gismu list\n bacru   ba'u utter\n badna   banana\n", encoding="utf-8")
    lujvo.write_text("ba'armo'a:barna+morna:pattern\nbanzu'e:banzu+zukte\nsludemcro:slume+cro\n.ai  UI1\n",
                     encoding="utf-8")
    monkeypatch.setitem(words.WORD_LISTS, "xx", ("xx-words", (gismu, lujvo, tmp_path / "absent.txt")))
    words.word_list_words.cache_clear()
    try:  # headers, apostrophes and absent files drop out; cmavo's leading "." goes
        assert words.word_list_words("xx") == ("ai", "bacru", "badna", "sludemcro")
    finally:
        words.word_list_words.cache_clear()


def test_gettext_words_are_the_translations_without_the_sources_words(tmp_path, monkeypatch):
    from babel.messages.catalog import Catalog
    from babel.messages.mofile import write_mo

    catalog = Catalog(locale="en")  # a stand-in language: what matters is the msgid/msgstr pairs
    catalog.add("~Save the file", "~Boloka faele")  # accelerator "~" dropped
    catalog.add("LibreOffice Version", "Version ya LibreOffice")  # source words (names, untranslated) dropped
    catalog.add("Star Chart", "NalediChate")  # words run together dropped
    catalog.add("$(ARG1) lines", "$(ARG1) mela tl <b>dumela</b>")  # placeholders, markup, vowelless fragment
    catalog.add("Same", "Same")
    folder = tmp_path / "xx-l10n" / "usr/share/xx/LC_MESSAGES"
    folder.mkdir(parents=True)
    with (folder / "ui.mo").open("wb") as f:
        write_mo(f, catalog)
    monkeypatch.setattr(text_sources, "UNPACKED_DEBS", tmp_path)
    monkeypatch.setitem(words.GETTEXT_CATALOGS, "xx", ("xx-l10n", "usr/share/xx/LC_MESSAGES"))
    words.gettext_words.cache_clear()
    try:
        assert words.gettext_files("xx") == [folder / "ui.mo"]
        assert words.gettext_words("xx") == ("Boloka", "dumela", "faele", "mela", "ya")
    finally:
        words.gettext_words.cache_clear()


@needs_espeak
def test_setswana_without_its_unpacked_deb_keeps_cldr_and_its_sample_text(tmp_path, monkeypatch):
    if any((Path("/") / words.GETTEXT_CATALOGS["tn"][1]).glob("*.mo")):
        return  # installed system-wide by apt-get: found there whatever the venv holds
    monkeypatch.setattr(text_sources, "UNPACKED_DEBS", tmp_path)  # an empty folder: nothing unpacked
    for cached in (words.gettext_words, words._espeak_candidates, words.cldr_languages):
        cached.cache_clear()
    try:
        assert words.gettext_words("tn") == ()
        tn_words, source = words.offline_words("tn", "tn")
        assert source == "cldr+sample-text" and words.MIN_OFFLINE_WORDS <= len(tn_words) < 300
        assert words.cldr_languages()["tn"].source == "cldr+sample-text"
    finally:
        monkeypatch.undo()
        for cached in (words.gettext_words, words._espeak_candidates, words.cldr_languages):
            cached.cache_clear()


@needs_espeak
def test_setswana_speaks_libreoffices_translations():
    if not words.gettext_files("tn"):  # `make setup` unpacks Debian's libreoffice-l10n-tn into the venv
        assert words.languages()["tn"].source == "cldr+sample-text"
        return
    tn = words.languages()["tn"]
    assert tn.source == "cldr+gettext+sample-text" and len(words.word_pool("tn")) > 2000
    assert {"dumela", "boloka", "faele"} <= set(words.word_pool("tn")) and "LibreOffice" not in words.word_pool("tn")


@needs_espeak
def test_lojban_speaks_its_gismu_and_lujvo():
    if not words.word_list_words("jbo"):  # lojban-common (the Makefile installs it)
        assert "apt-get install lojban-common" in words.unavailable_languages()["jbo"]
        return
    assert "cldr+word-list+sample-text" == words.languages()["jbo"].source and len(words.word_pool("jbo")) > 3000
    assert {"bacru", "klama", "zarci"} <= set(words.word_pool("jbo"))


@needs_espeak
def test_classical_nahuatl_reads_the_nahuatl_iso_names():
    nci = words.languages()["nci"]  # no CLDR locale: the iso-codes "nah" catalogue (pycountry ships it) is its text
    assert nci.source == "iso-codes" and len(words.word_pool("nci")) >= words.MIN_OFFLINE_WORDS
    assert "Mēxihco" in words.word_pool("nci") and "Belgium" not in words.word_pool("nci")


@needs_espeak
def test_regional_varieties_speak_the_base_languages_text():
    langs = words.languages()
    assert len(langs) >= 100
    gb, pt_br = langs["en-gb"], langs["pt-br"]
    assert (gb.voice, gb.source, gb.source_code) == ("en-gb", "wordfreq", "en")
    assert words.word_pool("en-gb") == words.word_pool("en")  # English's own words, not filtered as "English"
    assert words.word_pool("pt-br") == words.word_pool("pt") and pt_br.name == "Portuguese (Brazil)"
    assert words.make_text("en-gb", 0, 3) != words.make_text("en", 0, 3)  # own text slots per language code


@needs_espeak
def test_a_corpus_of_cldr_languages_has_clean_ipa(tmp_path):
    from polyvox.data.synth.corpus import synthesize_corpus

    langs = ["sw", "ka", "am", "tk", "ml", "ht", "io", "pap", "en-gb-scotland", "pt-br", "vi", "cmn"]
    paths = synthesize_corpus(tmp_path, langs, 3, seed=0, speakers=3, workers=2)
    rows = [u for p in paths.values() for u in read_manifest(p)]
    assert {u.language for u in rows} == set(langs) and len(rows) == 3 * len(langs)
    for u in rows:
        assert u.custom["source"] == words.language(u.language).source and u.text
        assert all(is_ipa_segment(s) for s in u.phoneme_list(keep_word_boundary=False)), (u.id, u.phonemes)


@needs_espeak
def test_mandarin_is_written_in_han_and_read_through_pinyin():
    from polyvox.data.espeak import espeak_reading, pinyin
    from polyvox.data.synth.corpus import corpus_phonemes

    cmn = words.resolve_language("cmn")
    assert cmn.voice == "cmn-latn-pinyin" and cmn.scripts == ("CJK",) and "中国" in words.word_pool("cmn")
    assert pinyin("中国 美元") == "zhong1guo2 mei3yuan2"  # one espeak word per word: word boundaries kept
    assert espeak_reading("中国", "cmn-latn-pinyin+f2") == "zhong1guo2" and espeak_reading("中国", "en") == "中国"
    assert corpus_phonemes("中国 美元", "cmn") == "ʈʂ oŋ k uo | m ei yæ n"

@needs_espeak
def test_cantonese_is_written_in_han_and_transcribed_from_its_jyutping_phonemes():
    from polyvox.data.synth.corpus import corpus_phonemes

    yue = words.resolve_language("yue")
    assert yue.source == "cldr" and yue.scripts == ("CJK",) and "yue" not in words.unavailable_languages()
    # one transcript word per syllable, as espeak-ng prints them; Jyutping mapped to IPA (polyvox.data.ipa)
    assert corpus_phonemes("香港 八月", "yue") == "h œː ŋ | k ɔː ŋ | p aː t | j yː t"


@needs_espeak
def test_cherokee_is_written_in_the_syllabary_and_read_through_its_transliteration():
    from polyvox.data.espeak import espeak_reading
    from polyvox.data.synth.corpus import corpus_phonemes

    chr_ = words.resolve_language("chr")
    assert chr_.voice == "chr" and chr_.scripts == ("CHEROKEE",) and "ᏣᎳᎩ" in words.word_pool("chr")
    assert "chr" not in words.unavailable_languages()
    # QU -> gw; the voice listed as chr-US-Qaaa-x-west is rejected by espeak-ng with a +variant, "chr+m5" is not
    assert espeak_reading("ᏣᎳᎩ ᏆᏂᏏ", "chr+m5") == "tsalagi gwanisi" and espeak_reading("ᏣᎳᎩ", "en") == "ᏣᎳᎩ"
    assert corpus_phonemes("ᏣᎳᎩ ᏆᏂᏏ", "chr") == "t s ɒː l ɒː ɡ ĩ | ɡ w ɒː n ĩː s ĩ"


@needs_espeak
def test_korean_corpus_splits_the_phonemes_espeak_joins(tmp_path):
    from polyvox.data.ipa import clean_segment
    from polyvox.data.voice_tokens import JOINING_VOICE_PHONEMES
    from polyvox.data.synth.corpus import corpus_phonemes, synthesize_corpus

    assert words.resolve_language("ko").source == "wordfreq" and "ko" not in words.unavailable_languages()
    # espeak-ng runs 모습 핑크 together and prints "pph" at the join: p + pʰ, one transcript word like espeak's speech
    assert corpus_phonemes("모습 핑크", "ko") == "m o s ɯ p pʰ i ŋ kʰ ɯ"
    assert corpus_phonemes("한국 학교", "ko") == "h ɐ n q u q | h ɐ q k j o"
    allowed = {clean_segment(n) for n in JOINING_VOICE_PHONEMES["ko"]}
    rows = [u for p in synthesize_corpus(tmp_path, ["ko"], 12, seed=0, speakers=3, workers=2).values()
            for u in read_manifest(p)]
    assert len(rows) == 12
    for u in rows:
        assert set(u.phoneme_list(keep_word_boundary=False)) <= allowed, (u.text, u.phonemes)
