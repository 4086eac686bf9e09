"""polyvox.data.manifest: JSONL round trip, immutability, filter/split/stats, and every row error."""

import dataclasses
import json
import math
import os

import pytest

from polyvox.data.manifest import (
    ManifestError,
    Utterance,
    _allocate,
    filter_manifest,
    format_stats,
    manifest_stats,
    read_manifest,
    row_to_utterance,
    split_manifest,
    write_manifest,
)


def utt(i, lang="en", spk="s0", dur=1.0, **kw):
    return Utterance(id=f"{lang}_{i}", audio=f"/data/{lang}_{i}.wav", duration=dur, sample_rate=16000,
                     language=lang, speaker=spk, **kw)


def good_row(**changes):
    row = {"id": "a", "audio": "wavs/a.wav", "duration": 1.5, "sample_rate": 16000, "language": "en"}
    row.update(changes)
    return row


def write_lines(path, lines):
    path.write_text("".join((l if isinstance(l, str) else json.dumps(l)) + "\n" for l in lines), encoding="utf-8")
    return path


def test_round_trip_relative_paths(tmp_path):
    corpus = tmp_path / "corpus"
    (corpus / "wavs").mkdir(parents=True)
    u = Utterance(id="x1", audio=str(corpus / "wavs" / "x1.wav"), duration=1.25, sample_rate=22050,
                  language="hi", speaker="spk", text="नमस्ते", phonemes="n ə m | s t e", custom={"emotion": "happy"})
    m = write_manifest(corpus / "manifests" / "train.jsonl", [u])
    row = json.loads(m.read_text(encoding="utf-8"))
    assert row["audio"] == os.path.join("..", "wavs", "x1.wav")  # relative on disk
    assert "नमस्ते" in m.read_text(encoding="utf-8")  # not \u-escaped
    assert not list(m.parent.glob("*.tmp"))
    (back,) = read_manifest(m)
    assert back == u and os.path.isabs(back.audio)
    # the folder can be moved as a whole
    moved = tmp_path / "moved"
    corpus.rename(moved)
    (back2,) = read_manifest(moved / "manifests" / "train.jsonl")
    assert back2.audio == str((moved / "wavs" / "x1.wav").resolve())


def test_round_trip_many_and_blank_lines(tmp_path):
    utts = [utt(i, spk=f"s{i % 3}", dur=0.5 + i) for i in range(5)]
    m = write_manifest(tmp_path / "m.jsonl", utts)
    m.write_text(m.read_text() + "\n\n", encoding="utf-8")  # trailing blank lines are fine
    assert read_manifest(m) == utts


def test_immutable():
    u = utt(0, custom={"label": 1})
    with pytest.raises(dataclasses.FrozenInstanceError):
        u.text = "changed"
    with pytest.raises(TypeError):
        u.custom["label"] = 2
    source = {"label": 1}
    v = utt(1, custom=source)
    source["label"] = 99  # the record keeps its own copy
    assert v.custom["label"] == 1
    w = u.with_(text="hi")
    assert w.text == "hi" and u.text == "" and w.custom == u.custom


def test_phoneme_list():
    u = utt(0, phonemes="h ə | w ɜː l d")
    assert u.phoneme_list() == ["h", "ə", "|", "w", "ɜː", "l", "d"]
    assert u.phoneme_list(keep_word_boundary=False) == ["h", "ə", "w", "ɜː", "l", "d"]


def test_filter():
    utts = [utt(0, "en", "a", 0.5), utt(1, "en", "b", 2.0), utt(2, "de", "a", 5.0), utt(3, "es", "c", 1.0)]
    assert filter_manifest(utts, languages=["en"]) == utts[:2]
    assert filter_manifest(utts, speakers=["a"]) == [utts[0], utts[2]]
    assert filter_manifest(utts, min_duration=1.0, max_duration=2.0) == [utts[1], utts[3]]
    assert filter_manifest(utts, lambda u: u.id.endswith("3")) == [utts[3]]
    assert filter_manifest(utts, languages=["en", "de"], max_duration=3) == utts[:2]


def test_split_per_language_and_deterministic():
    utts = [utt(i, lang, f"{lang}{i % 4}") for lang in ("en", "de") for i in range(20)]
    parts = split_manifest(utts, seed=3)
    assert [len(parts[k]) for k in ("train", "dev", "test")] == [32, 4, 4]
    for name, part in parts.items():
        assert {u.language for u in part} == {"en", "de"}, name
    ids = [u.id for p in parts.values() for u in p]
    assert sorted(ids) == sorted(u.id for u in utts)  # a partition
    assert split_manifest(utts, seed=3) == parts
    assert split_manifest(utts, seed=4) != parts


def test_split_speaker_disjoint_small():
    # 4 speakers per language at 80/10/10: every part still gets a speaker
    utts = [utt(i, lang, f"{lang}-spk{i % 4}") for lang in ("en", "es") for i in range(16)]
    parts = split_manifest(utts, by_speaker=True, seed=0)
    spk = {k: {u.speaker for u in v} for k, v in parts.items()}
    assert spk["train"].isdisjoint(spk["dev"]) and spk["train"].isdisjoint(spk["test"])
    assert spk["dev"].isdisjoint(spk["test"])
    for name in ("train", "dev", "test"):
        assert {u.language for u in parts[name]} == {"en", "es"}, name
    assert sum(len(v) for v in parts.values()) == len(utts)


def test_split_custom_fractions_and_errors():
    utts = [utt(i) for i in range(10)]
    parts = split_manifest(utts, {"a": 1, "b": 1})
    assert (len(parts["a"]), len(parts["b"])) == (5, 5)
    with pytest.raises(ValueError, match="sum to > 0"):
        split_manifest(utts, {"a": 0})


@pytest.mark.parametrize(
    "n,shares,expected",
    [(4, [0.8, 0.1, 0.1], [2, 1, 1]), (24, [0.8, 0.1, 0.1], [20, 2, 2]), (2, [0.8, 0.1, 0.1], [1, 1, 0]),
     (1, [0.8, 0.1, 0.1], [1, 0, 0]), (7, [0.5, 0.0, 0.5], [4, 0, 3])],
)
def test_allocate(n, shares, expected):
    assert _allocate(n, shares) == expected


def test_stats_and_format():
    utts = [utt(0, "en", "a", 30), utt(1, "en", "b", 60), utt(2, "de", "a", 90)]
    s = manifest_stats(utts)
    assert s["utterances"] == 3 and s["languages"] == 2
    assert s["speakers"] == 3  # (language, speaker) pairs
    assert math.isclose(s["hours"], 180 / 3600)
    assert (s["min_duration"], s["max_duration"], s["mean_duration"]) == (30, 90, 60)
    assert s["per_language"] == {"de": {"utterances": 1, "minutes": 1.5, "speakers": 1},
                                 "en": {"utterances": 2, "minutes": 1.5, "speakers": 2}}
    table = format_stats(s, title="train")
    assert table.splitlines()[0] == "### train"
    assert "| de | 1 | 1.5 | 1 |" in table and "| en | 2 | 1.5 | 2 |" in table
    assert "3 utterances, 3.0 min, 2 languages" in table
    empty = manifest_stats([])
    assert empty["utterances"] == 0 and empty["mean_duration"] == 0.0
    assert format_stats(empty).startswith("0 utterances")


BAD_ROWS = [
    ("[1, 2]", "expected a JSON object, got list", None),
    ('{"id": "a", ', "not valid JSON", None),
    (good_row(emotion="sad"), "unknown field(s) ['emotion']; task fields belong in 'custom'", "emotion"),
    ({k: v for k, v in good_row().items() if k != "audio"}, "missing required field 'audio'", "audio"),
    ({k: v for k, v in good_row().items() if k != "language"}, "missing required field 'language'", "language"),
    (good_row(id=7), "field 'id' must be a string, got 7", "id"),
    (good_row(duration="1.5"), "field 'duration' must be a number, got '1.5'", "duration"),
    (good_row(duration=True), "field 'duration' must be a number, got True", "duration"),
    (good_row(sample_rate=16000.0), "field 'sample_rate' must be an integer, got 16000.0", "sample_rate"),
    (good_row(speaker=3), "field 'speaker' must be a string, got 3", "speaker"),
    (good_row(custom=[1]), "field 'custom' must be an object, got [1]", "custom"),
    (good_row(text=None), "field 'text' must be a string", "text"),
    (good_row(id=""), "field 'id' is empty", "id"),
    (good_row(duration=0), "field 'duration' must be a positive number of seconds, got 0", "duration"),
    (good_row(duration=-1.0), "positive number of seconds", "duration"),
    ('{"id": "a", "audio": "a.wav", "duration": NaN, "sample_rate": 16000, "language": "en"}',
     "field 'duration' must be a positive number of seconds, got nan", "duration"),
    (good_row(sample_rate=0), "field 'sample_rate' must be a positive integer, got 0", "sample_rate"),
    (good_row(language=""), "field 'language' is empty; expected an ISO 639 code", "language"),
]


@pytest.mark.parametrize("bad,message,field", BAD_ROWS, ids=[m[:30] for _, m, _ in BAD_ROWS])
def test_read_errors_name_file_line_and_field(tmp_path, bad, message, field):
    m = write_lines(tmp_path / "m.jsonl", [good_row(id="first"), "", bad])
    with pytest.raises(ManifestError) as e:
        read_manifest(m)
    text = str(e.value)
    assert text.startswith(f"{m}:3: "), text  # blank line 2 still counts
    assert message in text
    if field:
        assert f"'{field}'" in text


def test_duplicate_id_names_both_lines(tmp_path):
    m = write_lines(tmp_path / "m.jsonl", [good_row(id="a"), good_row(id="b"), good_row(id="a")])
    with pytest.raises(ManifestError, match=r"m\.jsonl:3: duplicate id 'a' \(first on line 1\)"):
        read_manifest(m)


def test_missing_manifest(tmp_path):
    with pytest.raises(ManifestError, match="manifest not found"):
        read_manifest(tmp_path / "nope.jsonl")


def test_row_to_utterance_resolves_and_keeps_absolute(tmp_path):
    u = row_to_utterance(good_row(), "x:1", tmp_path)
    assert u.audio == str((tmp_path / "wavs" / "a.wav").resolve()) and u.duration == 1.5
    assert isinstance(row_to_utterance(good_row(duration=2), "x:1").duration, float)
    assert row_to_utterance(good_row(audio="/abs/a.wav"), "x:1", tmp_path).audio == "/abs/a.wav"
    assert ManifestError.__mro__[1] is ValueError


def test_pickle_and_deepcopy():
    import copy
    import pickle

    u = utt(0, text="hi", custom={"label": [1, 2]})
    for v in (pickle.loads(pickle.dumps(u)), copy.deepcopy(u), copy.copy(u)):
        assert v == u and isinstance(v.custom, type(u.custom))
        with pytest.raises(TypeError):
            v.custom["label"] = 0
    row = u.to_row()
    row["custom"]["label"].append(3)  # the row is a copy
    assert u.custom["label"] == [1, 2]
