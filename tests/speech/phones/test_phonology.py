"""Phonology layer: espeak IPA normalization, features, inventories, zero-shot decoding helpers, PER/PFER."""

import json
import shutil

import numpy as np
import pytest

from polyvox.data import articulatory
from polyvox.data import espeak
from polyvox.data import ipa
from polyvox.data.synth import words
from polyvox.eval import phones as phone_metrics
from polyvox.speech.phones import inventory
from polyvox.speech.phones import mapping as phone_mapping

needs_espeak = pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="espeak-ng not installed")


# --------------------------------------------------------------------------- normalization

@pytest.mark.parametrize("token,lang,expected", [
    ("tʃ", "en", ["t͡ʃ"]),                 # affricate inside one espeak phoneme gets a tie bar
    ("t͡ʃ", "en", ["t͡ʃ"]),
    ("dʒ", "en", ["d͡ʒ"]),
    ("ts", "de", ["t͡s"]),
    ("tsʰ", "ka", ["t͡sʰ"]),
    ("ˈaɪ", "en", ["a", "ɪ"]),             # stress removed, diphthong split into known parts
    ("ɚ", "en-us", ["ə˞"]),
    ("ɝ", "en-us", ["ɜ˞"]),
    ("ᵻ", "en-us", ["ɨ"]),
    ("ɐ̃ʊ̃", "pt", ["ɐ̃", "ʊ̃"]),
    ("r.", "gu", ["ɽ"]),                   # Kirshenbaum "." = retroflex
    ("ts.h", "cmn", ["ʈ͡ʂʰ"]),
    ("s.", "cmn", ["ʂ"]),
    ("i.ɜ", "cmn", ["ɨ"]),                 # tone 3 printed as "ɜ" in tonal languages
    ("ˈa5", "cmn", ["a"]),                 # tone digits dropped
    ("aːɜ", "vi", ["aː"]),
    ("ɜː", "en", ["ɜː"]),                  # ...but not in non-tonal languages
    ("a:", "en", ["aː"]),
    ("sx", "sv", ["ɧ"]),
    ("tl#", "is", ["t", "l̥"]),
    ("t`", "am", ["tʼ"]),
    ("tS", "ky", ["t͡ʃ"]),
    ("ss", "it", ["sː"]),                  # doubled letter = long
    ("t̻͡st̻͡s", "be", ["t͡sː"]),
    ("d̻͡z̪ʲ", "be", ["d̪͡z̪ʲ"]),
    ("ʦ", "lb", ["t͡s"]),
    ("g", None, ["ɡ"]),
    ("ɯᵝ", "ja", ["ɯ"]),
    ("t-", "ko", ["t"]),
    ("ja", "ru", ["j", "a"]),
    ("k^", "mk", ["c"]),                   # same spelling as polyvox.data.ipa
    ("a.", "ar", ["ɑ"]),
])
def test_normalize_espeak_tokens(token, lang, expected):
    segs, unknown = ipa.normalize_token(token, lang)
    assert segs == expected and unknown == []
    assert all(articulatory.is_known(s) for s in segs)


def test_nfd_input_gives_nfc_segments():
    import unicodedata
    segs, _ = ipa.normalize_token(unicodedata.normalize("NFD", "ẽː"), "pt")
    assert segs == [unicodedata.normalize("NFC", "ẽː")]


def test_unknown_symbols_are_kept_reported_and_warned():
    with pytest.warns(UserWarning, match="☃"):
        segs, unknown = ipa.normalize_segments("a ☃ | b", "en")
    assert segs == ["a", "☃", "|", "b"] and unknown == ["☃"]
    assert not articulatory.is_known("☃")
    assert articulatory.feature_table().fts("☃") == {}  # why is_known exists: fts() does not fail
    with pytest.raises(articulatory.UnknownSegmentError, match="☃"):
        articulatory.feature_vector("☃")


def test_strict_mode_reports_diacritics_instead_of_stripping():
    assert ipa.normalize_token("ŋ̃", "bpy") == (["ŋ"], [])
    assert ipa.normalize_token("ŋ̃", "bpy", strict=True)[1] == ["ŋ̃"]


@needs_espeak
def test_parse_real_espeak_outputs():
    segs, unk = ipa.phonemize("church judge", "en")
    assert segs == ["t͡ʃ", "ɜː", "t͡ʃ", "|", "d͡ʒ", "ʌ", "d͡ʒ"] and unk == []
    segs, _ = ipa.phonemize("perro ciudad", "es")
    assert segs == ["p", "e", "r", "o", "|", "θ", "j", "u", "ð", "a", "d"]
    segs, _ = ipa.phonemize("Zeit", "de")
    assert segs[0] == "t͡s"
    segs, _ = ipa.phonemize("better", "en-us")
    assert segs[-1] == "ə˞"
    segs, _ = ipa.phonemize("щука", "ru")
    assert all(articulatory.is_known(s) for s in segs) and "|" not in segs
    # plain --ipa output without separators: affricates only where espeak wrote a tie (ZWJ here)
    segs, unk = ipa.parse_espeak("t\u200dʃˈɜːt\u200dʃ hˈɒthaʊs", "en")
    assert segs[:3] == ["t͡ʃ", "ɜː", "t͡ʃ"] and "t" in segs[4:] and unk == []


def test_fa_q1_and_lone_modifiers():
    assert ipa.parse_espeak("f_ˈa_q_1_a_t", "fa")[0] == ["f", "a", "ɢ", "a", "t"]
    assert ipa.parse_espeak("m_ˈaː_n_ː", "hi")[0] == ["m", "aː", "nː"]


def test_language_switch_markers():
    out = "ʂ_ˈɨ5_ (en)_ɡ_j_uː2_ (cmn)_ts._ˈonɡ5_"
    segs, _ = ipa.parse_espeak(out, "cmn")
    assert "(" not in "".join(segs) and segs.count("|") == 2
    segs, _ = ipa.parse_espeak(out, "cmn", drop_foreign=True)
    assert segs == ["ʂ", "ɨ", "|", "ʈ͡ʂ", "o", "ŋ"]


COVERAGE_LANGS = ["en-us", "de", "fr-fr", "es", "ru", "pl", "cmn", "vi", "hi", "ar", "ja", "ko",
                  "pt", "sv", "cs", "ta", "fi", "tr", "be", "is"]


@needs_espeak
def test_every_espeak_segment_is_known_to_panphon():
    unknown = {}
    for lang in COVERAGE_LANGS:
        sample, _ = words.sample_words(lang, n_words=40)
        segs, unk = ipa.parse_espeak(espeak.espeak_ipa(sample, lang), lang, warn=False)
        assert len(segs) > 30, lang
        bad = sorted({s for s in segs if s != "|" and not articulatory.is_known(s)})
        if bad or unk:
            unknown[lang] = bad + unk
    assert unknown == {}, f"segments panphon does not know after normalization: {unknown}"


# --------------------------------------------------------------------------- features


def test_feature_vectors_and_distances():
    names = articulatory.feature_names()
    v = articulatory.feature_vector("a")
    assert v.shape == (len(names),) and set(np.unique(v)) <= {-1, 0, 1}
    assert v[names.index("syl")] == 1 and articulatory.feature_vector("t")[names.index("syl")] == -1
    assert articulatory.feature_matrix(["p", "b"]).shape == (2, len(names))
    assert articulatory.feature_distance("s", "s") == 0.0
    # voicing is one feature: p/b are close; p/a are far
    assert articulatory.feature_distance("p", "b") < articulatory.feature_distance("p", "a")
    assert articulatory.feature_distance("p", "b", weighted=False) == pytest.approx(1 / len(names))
    assert articulatory.feature_weights()[names.index("syl")] == 1.0  # aligned by name, not by file order


# --------------------------------------------------------------------------- mapping / decoding

TARGET = ["a", "e", "i", "o", "u", "p", "t", "k", "b", "d", "ɡ", "s", "ʃ", "z", "m", "n", "l", "r", "j", "w", "t͡ʃ"]


def test_nearest_mapping_is_linguistically_sensible():
    m = phone_mapping.nearest_phone_mapping(["ʂ", "ʐ", "ɳ", "ʈ", "ɨ", "y", "ɛ̃", "t͡ɕ", "aɪ", "s", "x", "ɣ"], TARGET)
    assert m["s"] == "s"                       # shared phones map to themselves
    assert m["ʂ"] in {"ʃ", "s"}                # unseen retroflex -> closest coronal
    assert m["ʐ"] in {"ʒ", "z"} and m["ɳ"] == "n" and m["ʈ"] == "t"
    assert m["t͡ɕ"] == "t͡ʃ" and m["ɣ"] in {"ɡ", "w"} and m["x"] in {"k", "ɡ"}
    assert m["ɨ"] in {"i", "u"} and m["ɛ̃"] == "e" and m["y"] in {"i", "u"}
    assert m["aɪ"] in {"a", "e"}
    assert phone_mapping.nearest_phone_mapping(["ʂ"], ["s", "t", "a"], weighted=False) == {"ʂ": "s"}


def test_vowels_never_map_to_consonants():
    vowels = ["ɨ", "ʉ", "ɯ", "ø", "œ", "ɐ", "ɜ", "ɵ", "ɤ", "æ", "ə˞"]
    consonants = ["ʔ", "ʕ", "ħ", "ɦ", "ɰ", "ɻ", "ʋ", "ɥ"]
    m = phone_mapping.nearest_phone_mapping(vowels + consonants, ["a", "i", "u", "ə", "k", "n", "l", "j"])
    syl = articulatory.feature_names().index("syl")
    for src, dst in m.items():
        assert (articulatory.feature_vector(src)[syl] > 0) == (articulatory.feature_vector(dst)[syl] > 0), (src, dst)


VOCAB = ["<blank>", "|", "a", "i", "s", "ʂ", "ʃ", "t"]


def test_restrict_mask_and_apply():
    mask = phone_mapping.restrict_to_inventory(VOCAB, ["a", "s", "t", "o"])
    assert mask.tolist() == [True, True, True, False, True, False, False, True]
    rng = np.random.default_rng(0)
    lp = rng.normal(size=(5, len(VOCAB)))
    lp = lp - np.log(np.exp(lp).sum(-1, keepdims=True))
    out = phone_mapping.apply_mask(lp, mask)
    assert np.all(np.isneginf(out[:, ~mask]))
    assert np.allclose(np.exp(out).sum(-1), 1.0)
    torch = pytest.importorskip("torch")
    out_t = phone_mapping.apply_mask(torch.tensor(lp), mask)
    assert isinstance(out_t, torch.Tensor) and np.allclose(out_t.numpy(), out)
    with pytest.raises(ValueError):
        phone_mapping.restrict_to_inventory(["x", "y"], ["a"], keep=())
    # the corpus spells affricates without tie bars; espeak inventories with them
    assert phone_mapping.restrict_to_inventory(["<pad>", "tʃ", "ts"], ["t͡ʃ"]).tolist() == [True, True, False]
    assert phone_mapping.nearest_phone_mapping(["tʃ"], ["t͡ʃ", "t"]) == {"tʃ": "t͡ʃ"}
    assert phone_metrics.oov_rate(["tʃ a"], ["t͡ʃ", "a"]) == 0.0


def test_mapping_matrix_sums_posteriors():
    target_vocab = ["<blank>", "|", "a", "s", "t"]
    mapping = phone_mapping.nearest_phone_mapping(["a", "i", "s", "ʂ", "ʃ", "t"], ["a", "s", "t"])
    assert mapping["ʂ"] == "s" and mapping["ʃ"] == "s" and mapping["i"] == "a"
    m = phone_mapping.mapping_matrix(VOCAB, target_vocab, mapping)
    assert m.shape == (len(VOCAB), len(target_vocab)) and set(np.unique(m)) <= {0, 1}
    assert m[VOCAB.index("<blank>"), 0] == 1 and m[VOCAB.index("|"), 1] == 1
    assert m[:, 3].sum() == 3  # s, ʂ, ʃ all feed "s"
    rng = np.random.default_rng(1)
    lp = rng.normal(size=(4, len(VOCAB)))
    lp = lp - np.log(np.exp(lp).sum(-1, keepdims=True))
    out = phone_mapping.map_log_probs(lp, m)
    p = np.exp(lp)
    assert np.allclose(np.exp(out[:, 3]), p[:, 4] + p[:, 5] + p[:, 6])
    assert np.allclose(np.exp(out).sum(-1), 1.0)  # every train token mapped: mass preserved
    torch = pytest.importorskip("torch")
    assert np.allclose(phone_mapping.map_log_probs(torch.tensor(lp), m).numpy(), out)
    with pytest.raises(ValueError, match="not in target_vocab"):
        phone_mapping.mapping_matrix(VOCAB, target_vocab, {"a": "o"})


# --------------------------------------------------------------------------- metrics


def test_per_pfer_hand_checked():
    refs = ["p a t a | k a"]
    assert phone_metrics.phone_error_rate(refs, ["b a t a | k a"]) == pytest.approx(1 / 6)     # one substitution
    assert phone_metrics.phone_error_rate(refs, ["a t a k a"]) == pytest.approx(1 / 6)         # one deletion, "|" ignored
    assert phone_metrics.phone_error_rate(refs, [["p", "a", "t", "a", "k", "a"]]) == 0.0
    near = phone_metrics.phone_feature_error_rate(refs, ["b a t a k a"])                       # p->b: voicing only
    assert near == pytest.approx((1 / 24) / 6)
    assert near < phone_metrics.phone_error_rate(refs, ["b a t a k a"])
    far = phone_metrics.phone_feature_error_rate(refs, ["i a t a k a"])
    assert near < far < 1 / 6
    assert phone_metrics.phone_feature_error_rate(refs, ["a t a k a"]) == pytest.approx(1 / 6)  # deletion costs 1
    # matches panphon's own Hamming feature edit distance on plain strings
    from panphon.distance import Distance
    d = Distance().hamming_feature_edit_distance("pataka", "bitaka")
    assert phone_metrics.feature_edit_distance(list("pataka"), list("bitaka")) == pytest.approx(d)
    assert phone_metrics.phone_error_rate(["a b", "c"], ["a b", "d e"]) == pytest.approx(2 / 3)  # corpus-level
    with pytest.raises(TypeError):
        phone_metrics.phone_error_rate("a b", "a b")


def test_oov_rate():
    assert phone_metrics.oov_rate(["a ʂ | t a", "ʂ"], ["a", "t", "s"]) == pytest.approx(2 / 5)
    assert phone_metrics.oov_rate([], ["a"]) == 0.0


# --------------------------------------------------------------------------- inventories


def test_inventory_from_manifest_and_files(tmp_path):
    from polyvox.data.manifest import Utterance, write_manifest

    utts = [Utterance(id=f"u{i}", audio=f"{i}.wav", duration=1.0, sample_rate=16000, language=lang,
                      phonemes=p) for i, (lang, p) in enumerate([("es", "p e | r o"), ("de", "t͡s a ɪ t"),
                                                                  ("es", "θ j u")])]
    path = write_manifest(tmp_path / "m.jsonl", utts)
    assert inventory.inventory_from_manifest(path) == sorted({"p", "e", "r", "o", "t͡s", "a", "ɪ", "t", "θ", "j", "u"})
    assert inventory.inventory_from_manifest(utts, language="es") == sorted({"p", "e", "r", "o", "θ", "j", "u"})
    (tmp_path / "inv.json").write_text(json.dumps(["a", "ʂ", "a"]), encoding="utf-8")
    assert inventory.read_inventory(tmp_path / "inv.json") == ["a", "ʂ"]
    (tmp_path / "inv.txt").write_text("# comment\na\n\nt͡ʃ  # affricate\n", encoding="utf-8")
    assert inventory.read_inventory(tmp_path / "inv.txt") == ["a", "t͡ʃ"]
    inventory.write_inventory(tmp_path / "w.txt", ["b", "a"])
    assert inventory.read_inventory(tmp_path / "w.txt") == ["a", "b"]
    (tmp_path / "bad.txt").write_text("a\nb c\n", encoding="utf-8")
    with pytest.raises(ValueError, match="bad.txt:2"):
        inventory.read_inventory(tmp_path / "bad.txt")
    (tmp_path / "bad.json").write_text('{"x": 1}', encoding="utf-8")
    with pytest.raises(ValueError, match="bad.json"):
        inventory.read_inventory(tmp_path / "bad.json")


@needs_espeak
def test_espeak_inventory_for_unconfigured_languages(tmp_path, monkeypatch):
    sw = inventory.espeak_inventory("sw", cache_dir=tmp_path)
    assert {"a", "i", "u", "m", "n", "t͡ʃ", "ɲ", "ŋ"} <= set(sw)
    assert not {"ɪ", "ʊ", "ə", "ɹ"} & set(sw)  # syllables read as English were dropped
    eu = inventory.espeak_inventory("eu", cache_dir=tmp_path)
    assert {"s̺", "s̻", "ʎ", "ɾ"} <= set(eu) and all(articulatory.is_known(p) for p in eu)
    assert len(list((tmp_path / "inventories").glob("*-sw-*.json"))) == 1
    monkeypatch.setattr(inventory, "espeak_ipa", lambda *a, **k: pytest.fail("cache not used"))
    assert inventory.espeak_inventory("Swahili", cache_dir=tmp_path) == sw  # voice name resolves, cache hit


@needs_espeak
def test_resolve_espeak_language():
    assert espeak.resolve_espeak_language("sw") == "sw"
    assert espeak.resolve_espeak_language("basque") == "eu"
    assert espeak.resolve_espeak_language("de-AT") == "de"
    with pytest.raises(ValueError, match="espeak-ng has no language 'xx-nonsense'"):
        espeak.resolve_espeak_language("xx-nonsense")


@needs_espeak
def test_inventories_come_from_real_words_where_the_corpus_has_them(tmp_path):
    sw_words, source = words.sample_words("sw", n_words=50)
    assert source == "cldr+digits" and set(sw_words[:50]) <= set(words.cldr_words("sw"))  # then numbers as digits
    # Mandarin: Han words (wordfreq's zh) read by espeak-ng's pinyin voice: its phones, no tone ɜ, no English
    cmn = inventory.espeak_inventory("cmn", cache_dir=tmp_path)
    assert {"ʈ͡ʂ", "t͡ɕʰ", "kʰ", "ʂ", "y", "ŋ"} <= set(cmn) and not {"ɜ", "ɹ", "ɪ"} & set(cmn)
    stale = next((tmp_path / "inventories").glob("*-cmn-*.json"))
    stale.write_text(stale.read_text().replace('"source": "wordfreq:zh', '"source": "syllables'))
    assert inventory.espeak_inventory("cmn", cache_dir=tmp_path) == cmn  # a cache from other words is redone
