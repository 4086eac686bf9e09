"""The built-in espeak-ng corpus (polyvox.data.synth) and its text sources."""

import filecmp
from pathlib import Path
import unicodedata

import pytest

from polyvox.cli import main
from polyvox.data.synth import corpus as synth
from polyvox.data.audio import audio_info, load_audio
from polyvox.data.ipa import is_ipa_segment
from polyvox.data.manifest import read_manifest
from polyvox.data.synth.words import LANGUAGES, languages, make_text, resolve_language, word_pool

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
    assert synth.parse_langs("all") == list(languages())
    assert synth.parse_langs("all")[:len(LANGUAGES)] == list(LANGUAGES)  # the curated table first


def test_missing_espeak_error(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))  # no espeak-ng (nor espeak) on it
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
    assert "| hi | Hindi | hi | wordfreq |" in listing and f"{len(languages())} corpus languages" in listing
    assert "| pt-br | Portuguese (Brazil) | pt-br | wordfreq |" in listing and "12 regional varieties" in listing
    assert "| sw | Swahili | sw | cldr |" in listing and "| cy | Welsh | cy | num2words | numbers |" in listing
    assert "- piqd: Klingon: only" in listing  # a language with too little text says so


# ---------------------------------------------------------------- --words: utterance length


def _n_words(text):
    return len(text.split())


def test_default_word_range_keeps_the_texts():
    # corpora on disk are reused only if make_text still gives their texts: the default range
    # must draw exactly what polyvox drew before ``words`` existed (2-6 words, 1-3 numbers)
    for code in ("en", "de", "hi", "ja", "cy", "kk"):
        for i in range(40):
            assert make_text(code, 3, i) == make_text(code, 3, i, 0, words=(2, 6))
            assert make_text(code, 3, i, 1) == make_text(code, 3, i, attempt=1, words=[2, 6])
    counts = {_n_words(make_text("en", 0, i)) for i in range(200)}
    assert counts == {2, 3, 4, 5, 6}


def test_wide_word_range_gives_longer_texts():
    for code in ("en", "ru", "cy", "kn"):  # wordfreq and num2words languages
        counts = [_n_words(make_text(code, 0, i, words=(2, 24))) for i in range(300)]
        assert min(counts) == 2 and max(counts) == 24 and 10 < sum(counts) / len(counts) < 16, code
    assert make_text("en", 0, 5, words=(2, 24)) == make_text("en", 0, 5, words=(2, 24))
    assert _n_words(make_text("de", 0, 1, words=(1, 1))) == 1 and _n_words(make_text("cy", 0, 1, words=(7, 7))) == 7
    pool = word_pool("en")
    assert _n_words(make_text("en", 0, 1, words=(len(pool) + 5, len(pool) + 9))) == len(pool)  # capped, no crash


def test_bad_word_ranges_are_clear_errors(tmp_path, capsys):
    for bad in ("6-2", "0-3", "x", "2-", "-3", "2-6-8", ""):
        with pytest.raises(synth.argparse.ArgumentTypeError, match="1 <= MIN <= MAX"):
            synth.parse_words(bad)
    assert synth.parse_words("2-24") == (2, 24) and synth.parse_words(" 8 ") == (8, 8)
    with pytest.raises(SystemExit) as e:
        main(["synth", "--langs", "en", "--out", str(tmp_path), "--words", "6-2"])
    assert e.value.code == 2 and "argument --words: expected MIN-MAX" in capsys.readouterr().err
    with pytest.raises(ValueError, match="1 <= min <= max"):
        synth.synthesize_corpus(tmp_path, ["en"], 1, speakers=3, words=(0, 3))
    with pytest.raises(ValueError, match="words must be"):
        make_text("en", 0, 0, words=(3,))


def test_cli_words_range_and_rerun_is_idempotent(tmp_path, monkeypatch):
    out = tmp_path / "c"
    args = ["synth", "--langs", "en,cy", "--utts-per-lang", "4", "--out", str(out), "--speakers", "3",
            "--workers", "2", "--words", "8-12"]  # fmt: skip
    assert main(args) == 0
    paths = {n: out / f"{n}.jsonl" for n in ("train", "dev", "test")}
    utts = _all(paths)
    assert len(utts) == 8 and {u.language for u in utts} == {"en", "cy"}
    assert all(8 <= _n_words(u.text) <= 12 for u in utts), [u.text for u in utts]
    rows = {n: p.read_bytes() for n, p in paths.items()}
    wavs = {p: p.stat().st_mtime_ns for p in (out / "wavs").rglob("*.wav")}

    real, calls = synth.run_espeak, []
    monkeypatch.setattr(synth, "run_espeak", lambda cmd: calls.append(cmd) or real(cmd))
    assert main(args) == 0  # same range: every row reused
    assert calls == [] and {n: p.read_bytes() for n, p in paths.items()} == rows
    assert {p: p.stat().st_mtime_ns for p in (out / "wavs").rglob("*.wav")} == wavs
    # another range re-synthesizes the rows whose text it changes (all en rows; a cy text may be
    # a single 8-word number, which the default range can give too, and is then rightly reused)
    default = synth.synthesize_corpus(out, ["en", "cy"], 4, seed=0, speakers=3, workers=2)
    assert len([c for c in calls if c[c.index("-v") + 1].startswith("en-us")]) >= 4
    assert all(2 <= _n_words(u.text) <= 6 for u in _all(default) if u.language == "en")


def test_speak_texts_reads_given_texts_and_reuses_the_clips(tmp_path, monkeypatch):
    from polyvox.data.synth import corpus as corpus_mod

    rows = [("q-1", "en", "What is the currency of Japan?"), ("q-2", "en", "Which language is spoken in Peru?")]
    utts = corpus_mod.speak_texts(rows, tmp_path, voices=2)
    assert [u.text for u in utts] == [t for _, _, t in rows]  # never replaced, unlike corpus texts
    assert utts[0].speaker != utts[1].speaker and all(u.duration > 0.5 for u in utts)
    assert Path(utts[0].audio) == (tmp_path / "en" / "q-1.wav").resolve()

    def no_espeak(*a, **k):
        raise AssertionError("espeak-ng called again")

    monkeypatch.setattr(corpus_mod, "run_espeak", no_espeak)
    assert corpus_mod.speak_texts(rows, tmp_path, voices=2) == utts
    with pytest.raises(ValueError, match="q-3: empty text"):
        corpus_mod.speak_texts([("q-3", "en", " ")], tmp_path)


def test_a_text_that_crashes_espeak_is_replaced(tmp_path, monkeypatch):
    """espeak-ng 1.51's kl voice segfaults on "å" (Ålandi): that attempt's text is replaced, the corpus builds."""
    real, crashed = synth.run_espeak, []

    def crash_once(cmd):
        if not crashed:
            crashed.append(cmd[-1])
            raise synth.EspeakError(f"{' '.join(cmd)} failed (-11): ")
        return real(cmd)

    monkeypatch.setattr(synth, "run_espeak", crash_once)
    paths = synth.synthesize_corpus(tmp_path, ["en"], 3, seed=0, speakers=3, workers=1)
    rows = _all(paths)
    assert len(rows) == 3 and crashed and crashed[0] not in {u.text for u in rows}
