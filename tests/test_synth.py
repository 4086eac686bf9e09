"""The built-in espeak-ng corpus (polyvox.data.synth) and its text sources."""

import filecmp
import unicodedata

import pytest

from polyvox.cli import main
from polyvox.data import synth
from polyvox.data.audio import audio_info, load_audio
from polyvox.data.ipa import is_ipa_segment
from polyvox.data.manifest import read_manifest
from polyvox.data.texts import LANGUAGES, make_text, resolve_language, word_pool

# 30+ languages that must keep working (wordfreq words and num2words numbers).
MUST_WORK = ("ar bg bn ca cs da de el en es fa fi fr he hi hbs hu id is it ja lt lv mk ms nb nl pl pt ro "
             "ru sk sl sv ta tr uk ur az be cy eo kk kn te").split()  # fmt: skip


def _all(paths):
    return [u for name in ("train", "dev", "test") for u in read_manifest(paths[name])]


def test_tiny_corpus_rows_and_audio(tiny_corpus):
    utts = _all(tiny_corpus)
    assert len(utts) == 3 * 24 and {u.language for u in utts} == {"en", "es", "de"}
    for u in utts:
        assert u.sample_rate == 16000 and audio_info(u.audio).sample_rate == 16000
        assert audio_info(u.audio).channels == 1
        wav, dur = load_audio(u.audio, 16000, expected_duration=u.duration, duration_tolerance=0.001)
        assert wav.ndim == 1
        assert u.speaker.startswith(f"{u.language}-spk") and set(u.custom) == {"voice", "pitch", "rate", "source"}
        assert u.custom["voice"].startswith(LANGUAGES[u.language].voice + "+")
        assert 2 <= len(u.text.split()) <= 6
        words = u.phonemes.split(" | ")
        assert len(words) >= 2 and all(is_ipa_segment(s) for w in words for s in w.split(" "))
        assert "(" not in u.phonemes and "ˈ" not in u.phonemes


def test_tiny_corpus_speaker_disjoint_2_1_1(tiny_corpus):
    spk = {name: {u.speaker for u in read_manifest(p)} for name, p in tiny_corpus.items()}
    assert not (spk["train"] & spk["dev"]) and not (spk["train"] & spk["test"]) and not (spk["dev"] & spk["test"])
    assert (len(spk["train"]), len(spk["dev"]), len(spk["test"])) == (6, 3, 3)  # 2/1/1 per language


def test_speakers_are_distinct_voices():
    spks = synth.make_speakers("en", 4, seed=0)
    assert [s.id for s in spks] == ["en-spk00", "en-spk01", "en-spk02", "en-spk03"]
    assert len({s.voice for s in spks}) == 4
    assert spks == synth.make_speakers("en", 4, seed=0) and spks != synth.make_speakers("en", 4, seed=1)


def test_deterministic_bytes(tmp_path):
    a = synth.synthesize_corpus(tmp_path / "a", ["es", "hi"], 3, seed=7, speakers=3, workers=2)
    b = synth.synthesize_corpus(tmp_path / "b", ["es", "hi"], 3, seed=7, speakers=3, workers=1)
    for name in a:
        assert a[name].read_bytes() == b[name].read_bytes()
    wavs = sorted(p.relative_to(tmp_path / "a") for p in (tmp_path / "a" / "wavs").rglob("*.wav"))
    assert len(wavs) == 6
    assert all(filecmp.cmp(tmp_path / "a" / w, tmp_path / "b" / w, shallow=False) for w in wavs)
    c = synth.synthesize_corpus(tmp_path / "c", ["es", "hi"], 3, seed=8, speakers=3, workers=2)
    assert c["train"].read_bytes() != a["train"].read_bytes()


def test_rerun_reuses_rows_without_espeak(tmp_path, monkeypatch):
    paths = synth.synthesize_corpus(tmp_path, ["en"], 4, seed=0, speakers=3, workers=2)
    before = {p: p.stat().st_mtime_ns for p in (tmp_path / "wavs").rglob("*.wav")}
    rows = {n: p.read_bytes() for n, p in paths.items()}

    def no_espeak(cmd):
        raise AssertionError("espeak-ng was called on a re-run")

    monkeypatch.setattr(synth, "run_espeak", no_espeak)
    again = synth.synthesize_corpus(tmp_path, ["en"], 4, seed=0, speakers=3, workers=2)
    assert {n: p.read_bytes() for n, p in again.items()} == rows
    assert {p: p.stat().st_mtime_ns for p in (tmp_path / "wavs").rglob("*.wav")} == before


def test_rerun_with_more_utterances_synthesizes_only_new(tmp_path, monkeypatch):
    synth.synthesize_corpus(tmp_path, ["en"], 3, seed=0, speakers=3, workers=1)
    real, calls = synth.run_espeak, []
    monkeypatch.setattr(synth, "run_espeak", lambda cmd: calls.append(cmd) or real(cmd))
    paths = synth.synthesize_corpus(tmp_path, ["en"], 5, seed=0, speakers=3, workers=1)
    assert len(calls) == 2
    assert len(_all(paths)) == 5


def test_at_least_30_languages_synthesize(tmp_path):
    assert len(MUST_WORK) >= 30
    paths = synth.synthesize_corpus(tmp_path, MUST_WORK, 1, seed=0, speakers=1, workers=2, speaker_disjoint=False)
    utts = {u.language: u for u in _all(paths)}
    assert sorted(utts) == sorted(MUST_WORK)
    for u in utts.values():
        assert u.duration > 0.2 and u.phonemes and all(is_ipa_segment(s) for s in u.phonemes.split() if s != "|")


@pytest.mark.parametrize("code", ["hi", "ru", "ar", "el", "ja"])
def test_words_are_in_the_language_script(code):
    scripts = LANGUAGES[code].scripts
    for w in word_pool(code)[:500]:
        assert all(unicodedata.name(c).split()[0] in scripts for c in w), w


def test_english_function_words_filtered_from_other_languages():
    assert "the" not in word_pool("is") and "of" not in word_pool("hu")
    assert "de" in word_pool("es") and "the" in word_pool("en")


def test_texts_deterministic_and_attempts_differ():
    assert make_text("de", 0, 5) == make_text("de", 0, 5)
    assert make_text("de", 0, 5, attempt=1) != make_text("de", 0, 5)
    assert all(c.isalpha() or c == " " for c in make_text("cy", 0, 1))  # num2words, punctuation removed


def test_aliases_and_unknown_language():
    assert resolve_language("sh").code == "hbs" and resolve_language("NO").code == "nb"
    with pytest.raises(ValueError, match="--list-langs"):
        synth.parse_langs("en,xx")
    assert synth.parse_langs("all") == list(LANGUAGES)


def test_missing_espeak_error(tmp_path, monkeypatch):
    monkeypatch.setattr(synth, "ESPEAK", "espeak-ng-not-installed")
    with pytest.raises(synth.SynthError, match="apt-get install espeak-ng"):
        synth.synthesize_corpus(tmp_path, ["en"], 1, speakers=3)


def test_speaker_disjoint_needs_three_speakers(tmp_path):
    with pytest.raises(ValueError, match="--no-speaker-disjoint"):
        synth.synthesize_corpus(tmp_path, ["en"], 2, speakers=2)


def test_cli(tmp_path, capsys):
    out = tmp_path / "c"
    assert main(["synth", "--langs", "en,de", "--utts-per-lang", "3", "--out", str(out), "--speakers", "3",
                 "--workers", "2", "--seed", "1"]) == 0  # fmt: skip
    printed = capsys.readouterr().out
    assert "| en | 1 |" in printed and "### train" in printed
    assert {p.name for p in out.iterdir()} == {"train.jsonl", "dev.jsonl", "test.jsonl", "wavs"}
    assert main(["synth", "--langs", "xx", "--out", str(out)]) == 2
    assert "--list-langs" in capsys.readouterr().err
    assert main(["synth", "--list-langs"]) == 0
    listing = capsys.readouterr().out
    assert "| hi | Hindi | hi | wordfreq |" in listing and f"{len(LANGUAGES)} languages" in listing
