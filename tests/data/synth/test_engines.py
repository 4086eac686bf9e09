"""Speakers from other engines (flite, festival voices built from recordings of people), phonemized by espeak-ng;
the held-out-engine test set; a missing engine is reported and the corpus still builds."""

import shutil

import pytest

from polyvox.data.ipa import is_ipa_segment
from polyvox.data.manifest import read_manifest
from polyvox.data.synth import engines
from polyvox.data.synth.corpus import synthesize_corpus

needs_engines = pytest.mark.skipif(not (shutil.which("flite") and shutil.which("text2wave")),
                                   reason="flite / festival not installed (make system-deps installs them)")


@needs_engines
def test_voices_of_installed_engines():
    assert engines.voices("flite", "en") == ["awb", "kal16", "rms", "slt"]
    assert "kal_diphone" in engines.voices("festival", "en")
    assert engines.voices("flite", "de") == [] and engines.missing("flite") is None
    with pytest.raises(ValueError, match="unknown speech engine"):
        engines.check_engines(["espeak", "coqui"])


@needs_engines
def test_multi_engine_corpus_and_heldout_engine(tmp_path):
    plain = synthesize_corpus(tmp_path / "plain", ["en"], 12, seed=0, speakers=3, workers=2)
    paths = synthesize_corpus(tmp_path / "multi", ["en"], 12, seed=0, speakers=3, workers=2, engines=["espeak", "flite"],
                              heldout_engines=["festival"], heldout_utts_per_lang=3)
    rows = [u for name in ("train", "dev", "test") for u in read_manifest(paths[name])]
    by_engine = {}
    for u in rows:
        by_engine.setdefault(u.custom.get("engine", "espeak"), set()).add(u.speaker)
    assert set(by_engine) == {"espeak", "flite"}
    assert by_engine["flite"] <= {"en-flite-awb", "en-flite-kal16", "en-flite-rms", "en-flite-slt"}
    assert len({u.speaker for u in rows}) == len({(u.custom.get("engine"), u.custom["voice"]) for u in rows})
    heldout = read_manifest(paths["heldout"])
    assert len(heldout) == 3 and {u.custom["engine"] for u in heldout} == {"festival"}
    assert not {u.text for u in heldout} & {u.text for u in rows}  # texts of their own
    for u in rows + heldout:  # espeak-ng's IPA of the same text, cleaned alike
        assert u.phonemes and all(is_ipa_segment(s) for s in u.phoneme_list(keep_word_boundary=False))
    # a held-out set leaves the training corpus as it is without one
    only_heldout = synthesize_corpus(tmp_path / "plain", ["en"], 12, seed=0, speakers=3, workers=2,
                                     heldout_engines=["festival"], heldout_utts_per_lang=3)
    for name in ("train", "dev", "test"):
        assert only_heldout[name].read_bytes() == plain[name].read_bytes()
    with pytest.raises(ValueError, match="both trained on and held out"):
        synthesize_corpus(tmp_path / "x", ["en"], 3, speakers=3, engines=["espeak", "flite"], heldout_engines=["flite"])


def test_missing_engine_is_reported_and_left_out(tmp_path, monkeypatch, capsys):
    monkeypatch.setitem(engines.ENGINES, "flite", engines.Engine("flite", "flite-not-installed", "flite"))
    paths = synthesize_corpus(tmp_path, ["en"], 3, speakers=3, workers=1, engines=["espeak", "flite"])
    assert "flite: flite-not-installed not found on PATH; install it with 'apt-get install flite'" in capsys.readouterr().err
    rows = [u for p in paths.values() for u in read_manifest(p)]
    assert len(rows) == 3 and all("engine" not in u.custom for u in rows)


@needs_engines
def test_festival_voices_of_other_languages_read_their_own_script(tmp_path):
    """Each language folder gets the text encoding its front end reads: with the wrong one festival spells the bytes
    out (Czech in UTF-8 took 18 s for a 3 s sentence), so speech per character of text stays short."""
    langs = [c for c in ("cs", "fi", "ru", "hi", "mr", "te", "ca", "it") if engines.voices("festival", c)]
    if len(langs) < 2:
        pytest.skip("festvox voices of other languages not installed (make system-deps installs them)")
    assert engines.festival_encoding("czech_dita") == "iso-8859-2" or "cs" not in langs
    assert all("." not in v for c in langs for v in engines.voices("festival", c))  # no "suopuhe.common"
    paths = synthesize_corpus(tmp_path, langs, 3, seed=0, speakers=3, workers=2, heldout_engines=["festival"],
                              heldout_utts_per_lang=2)
    heldout = read_manifest(paths["heldout"])
    assert {u.language for u in heldout} == set(langs)
    for u in heldout:
        assert u.duration / len(u.text) < 0.2, (u.language, u.custom["voice"], u.text, u.duration)


def test_missing_festival_voice_names_its_debian_package():
    assert "apt-get install festvox-czech-dita" in engines.install_hint("festival", "cs")
    assert engines.install_hint("festival", "xx") == "" and engines.install_hint("flite", "cs") == ""
