"""``polyvox manifest validate|stats`` through polyvox.cli.main."""

import json

import numpy as np
import pytest
import soundfile as sf

from polyvox.cli import main
from polyvox.data.audio import save_audio


def tone(seconds, sr=16000):
    return (0.3 * np.sin(np.arange(int(seconds * sr)) * 0.05)).astype(np.float32)


def row(uid, audio, duration, sample_rate=16000, language="en", **kw):
    return {"id": uid, "audio": audio, "duration": duration, "sample_rate": sample_rate, "language": language, **kw}


@pytest.fixture
def corpus(tmp_path):
    wavs = tmp_path / "wavs"
    save_audio(wavs / "a.wav", tone(1.0))
    save_audio(wavs / "b.wav", tone(0.5))
    sf.write(wavs / "c22k.wav", tone(1.0, 22050), 22050)
    save_audio(wavs / "silent.wav", np.zeros(8000, np.float32))
    (wavs / "text.wav").write_text("hello\n")
    return tmp_path


def write(path, lines):
    path.write_text("".join((l if isinstance(l, str) else json.dumps(l)) + "\n" for l in lines), encoding="utf-8")
    return path


def test_validate_clean(corpus, capsys):
    m = write(corpus / "clean.jsonl", [
        row("a", "wavs/a.wav", 1.0, speaker="s1", text="hi"),
        row("b", "wavs/b.wav", 0.5, language="de"),
        row("c", "wavs/c22k.wav", 1.0, sample_rate=22050),
    ])
    assert main(["manifest", "validate", str(m)]) == 0
    out = capsys.readouterr().out
    assert out.strip() == f"{m}: OK, 3 rows and audio valid"


def test_validate_lists_every_problem(corpus, capsys):
    m = write(corpus / "bad.jsonl", [
        row("a", "wavs/a.wav", 1.0),                       # 1 ok
        row("b", "wavs/b.wav", 2.0),                       # 2 duration disagrees
        '{"id": "broken", ',                               # 3 not JSON
        row("c", "wavs/missing.wav", 1.0),                 # 4 missing file
        row("a", "wavs/a.wav", 1.0),                       # 5 duplicate id
        row("d", "wavs/text.wav", 1.0),                    # 6 text file
        row("e", "wavs/silent.wav", 0.5),                  # 7 silence
        row("f", "wavs/a.wav", 1.0, emotion="sad"),        # 8 unknown field
        row("g", "wavs/a.wav", -1),                        # 9 bad duration
        row("h", "wavs/c22k.wav", 1.0),                    # 10 sample_rate disagrees with file
        "",                                                # blank line: ignored
        row("i", "wavs/b.wav", 0.5),                       # 12 ok
    ])
    assert main(["manifest", "validate", str(m)]) == 1
    lines = capsys.readouterr().out.strip().splitlines()
    problems, summary = lines[:-1], lines[-1]
    expected = [
        (2, "b", "b.wav: duration 0.500 s disagrees with the manifest's 2.000 s"),
        (3, "?", "not valid JSON"),
        (4, "c", "missing.wav: file not found"),
        (5, "a", "duplicate id 'a' (first on line 1)"),
        (6, "d", "text.wav: not an audio file: it contains text"),
        (7, "e", "silent.wav: silence only"),
        (8, "f", "unknown field(s) ['emotion']"),
        (9, "g", "field 'duration' must be a positive number of seconds, got -1"),
        (10, "h", "c22k.wav: file is 22050 Hz but the row says sample_rate 16000"),
    ]
    assert len(problems) == len(expected), problems
    for line, (lineno, uid, reason) in zip(problems, expected):
        assert line.startswith(f"{m}:{lineno} id={uid}: "), line
        assert reason in line, line
    assert not any(l.startswith(f"{m}:9: ") for l in problems)  # reason is not repeated with the location
    assert summary == f"{m}: 9 problem(s) in 9 of 11 rows"


def test_validate_options(corpus, capsys):
    m = write(corpus / "m.jsonl", [row("b", "wavs/b.wav", 0.7), row("x", "wavs/missing.wav", 1.0)])
    assert main(["manifest", "validate", str(m), "--no-audio"]) == 0
    assert "OK, 2 rows (audio not checked)" in capsys.readouterr().out
    m = write(corpus / "m.jsonl", [row("b", "wavs/b.wav", 0.7)])
    assert main(["manifest", "validate", str(m)]) == 1
    capsys.readouterr()
    assert main(["manifest", "validate", str(m), "--duration-tolerance", "0.25"]) == 0
    capsys.readouterr()
    assert main(["manifest", "validate", str(m), "--sample-rate", "8000", "--duration-tolerance", "0.25"]) == 0
    assert main(["manifest", "validate", str(corpus / "nope.jsonl")]) == 1
    assert "nope.jsonl: manifest not found" in capsys.readouterr().err


def test_stats(corpus, capsys):
    m1 = write(corpus / "train.jsonl", [row("a", "wavs/a.wav", 60.0, speaker="s1"),
                                        row("b", "wavs/b.wav", 30.0, language="de", speaker="s2")])
    m2 = write(corpus / "dev.jsonl", [row("c", "wavs/a.wav", 6.0)])
    assert main(["manifest", "stats", str(m1), str(m2)]) == 0
    out = capsys.readouterr().out
    assert f"### {m1}" in out and f"### {m2}" in out
    assert "2 utterances, 1.5 min, 2 languages, 2 speakers" in out
    assert "| language | utterances | minutes | speakers |" in out
    assert "| de | 1 | 0.5 | 1 |" in out and "| en | 1 | 1.0 | 1 |" in out
    assert main(["manifest", "stats", str(m2), "--json"]) == 0
    stats = json.loads(capsys.readouterr().out)
    assert stats[str(m2)]["utterances"] == 1 and stats[str(m2)]["per_language"]["en"]["minutes"] == 0.1


def test_stats_bad_manifest(corpus, capsys):
    m = write(corpus / "bad.jsonl", [row("a", "wavs/a.wav", 1.0, language="")])
    assert main(["manifest", "stats", str(m)]) == 1
    assert f"{m}:1: field 'language' is empty" in capsys.readouterr().err
