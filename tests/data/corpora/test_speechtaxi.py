"""SpeechTaxi in its released layout, as the test writes it: data/<bible>/<bible>-<BOOK>/<chapter>/Verse_<n>.mp3 plus
split tables with verse_ref, text_en, language, transcription, transcription_romanized, label and the audio path.
Checked: rows, labels (by name or index), speakers = the Bible recording, the release's splits, the language filter,
bad rows reported or stopping the run, and a second call reusing the manifests."""

import csv
import json

import numpy as np
import pytest

from polyvox.cli import main as cli
from polyvox.data.audio import load_audio, save_audio
from polyvox.data.corpora.common import CorpusError
from polyvox.data.corpora.slu import SPEECHTAXI_LABELS, prepare_speechtaxi
from polyvox.data.manifest import read_manifest

BIBLES = {"eng": "0a1b2c3d4e5f6789-rev1", "rus": "9f8e7d6c5b4a3210-rev2"}
COLUMNS = ["verse_ref", "text_en", "language", "transcription", "transcription_romanized", "label", "audio"]


def write_speechtaxi(root, rows_per_split=None, *, mp3=True, wav_of=None):
    """root/data/... audio and root/tables/{train,dev,test}.tsv; ``wav_of(lang, text)`` gives the verse's samples
    (default: a short tone); returns {split: [row dicts]}."""
    rows_per_split = rows_per_split or {
        "train": [("1CO 1:10", "Now I beseech you", "eng", "now i beseech you", "now i beseech you", "Recommendation"),
                  ("1CO 1:21", "it pleased God", "eng", "it pleased god", "it pleased god", "Faith"),
                  ("1CO 1:10", "Now I beseech you", "rus", "умоляю вас", "umolyayu vas", "Recommendation")],
        "dev": [("1CO 2:9", "Eye hath not seen", "eng", "eye hath not seen", "eye hath not seen", "Description")],
        "test": [("1CO 3:16", "Know ye not", "rus", "разве не знаете", "razve ne znaete", "Faith")]}
    tables = root / "tables"
    tables.mkdir(parents=True)
    out = {}
    for split, rows in rows_per_split.items():
        out[split] = []
        for verse, text_en, lang, text, romanized, label in rows:
            book, cv = verse.split()
            chapter, n = cv.split(":")
            rel = f"{BIBLES[lang]}/{BIBLES[lang]}-{book}/{int(chapter):03d}/Verse_{n}.{'mp3' if mp3 else 'wav'}"
            samples = wav_of(lang, text) if wav_of else 0.1 * np.sin(np.arange(8000, dtype=np.float32) / 9)
            save_audio(root / "data" / rel, samples)
            out[split].append(dict(zip(COLUMNS, [verse, text_en, lang, text, romanized, label, rel])))
        with open(tables / f"{split}.tsv", "w", encoding="utf-8", newline="") as f:
            w = csv.DictWriter(f, COLUMNS, delimiter="\t")
            w.writeheader()
            w.writerows(out[split])
    return out


def test_speechtaxi_rows_labels_speakers_and_splits(tmp_path):
    root = tmp_path / "SpeechTaxi"
    write_speechtaxi(root)
    out = prepare_speechtaxi(root, tmp_path / "m")
    rows = {s: read_manifest(p) for s, p in out.items()}
    assert {s: len(r) for s, r in rows.items()} == {"train": 3, "dev": 1, "test": 1}
    u = next(r for r in rows["train"] if r.language == "rus")
    assert u.text == "умоляю вас" and u.custom["label"] == "Recommendation" and u.speaker == BIBLES["rus"]
    assert u.custom["verse_ref"] == "1CO 1:10" and u.custom["text_romanized"] == "umolyayu vas"
    assert u.custom["text_en"] == "Now I beseech you" and u.id == "speechtaxi-rus-1CO_1_10"
    assert u.audio.endswith("/001/Verse_10.mp3") and abs(u.duration - 0.5) < 0.1
    assert load_audio(u.audio)[0].shape[0] > 0  # mp3 decodes through polyvox's one audio module
    assert len({r.id for s in rows.values() for r in s}) == 5  # the same verse in two languages: two ids
    # a second call with the same tables reuses the manifests untouched
    before = out["train"].stat().st_mtime_ns
    assert prepare_speechtaxi(root, tmp_path / "m")["train"].stat().st_mtime_ns == before
    only = prepare_speechtaxi(root, tmp_path / "eng", langs=["eng"])
    assert {r.language for p in only.values() for r in read_manifest(p)} == {"eng"}


def test_labels_as_class_indices_jsonl_tables_and_paths_under_data(tmp_path):
    """A `datasets` export: label as the ClassLabel index, a .jsonl table, the audio path relative to data/."""
    root = tmp_path / "st"
    rows = write_speechtaxi(root)
    (root / "tables" / "train.tsv").unlink()
    with open(root / "tables" / "speechtaxi_all_train.jsonl", "w", encoding="utf-8") as f:
        for r in rows["train"]:
            f.write(json.dumps({**r, "label": SPEECHTAXI_LABELS.index(r["label"])}) + "\n")
    train = read_manifest(prepare_speechtaxi(root, tmp_path / "m")["train"])
    assert sorted(u.custom["label"] for u in train) == ["Faith", "Recommendation", "Recommendation"]


def test_bad_rows_are_named_missing_audio_is_skipped_or_stops(tmp_path):
    root = tmp_path / "st"
    rows = write_speechtaxi(root)
    verse = root / "data" / rows["test"][0]["audio"]
    verse.unlink()
    out = prepare_speechtaxi(root, tmp_path / "m")
    assert read_manifest(out["test"]) == []
    report = [json.loads(l) for l in (tmp_path / "m" / "skipped.jsonl").read_text().splitlines()]
    assert report[0]["audio"].endswith("003/Verse_16.mp3") and "test.tsv:2" in report[0]["reason"]
    with pytest.raises(CorpusError, match=r"test\.tsv:2: audio .*Verse_16\.mp3 not found"):
        prepare_speechtaxi(root, tmp_path / "m2", on_error="raise")
    verse.write_bytes(b"not audio")
    out = prepare_speechtaxi(root, tmp_path / "m3")
    assert read_manifest(out["test"]) == []  # unreadable: skipped, reported
    with open(root / "tables" / "dev.tsv", "a", encoding="utf-8") as f:
        f.write("1CO 4:1\tLet a man\teng\tlet a man\tlet a man\tJoy\t" + rows["dev"][0]["audio"] + "\n")
    with pytest.raises(CorpusError, match=r"dev\.tsv:3: label 'Joy' is neither one of"):
        prepare_speechtaxi(root, tmp_path / "m4")
    (root / "tables" / "dev.tsv").write_text("verse_ref\tlanguage\tlabel\n1CO 4:1\teng\tFaith\n")
    with pytest.raises(CorpusError, match=r"dev\.tsv:2: transcription, an audio path .* missing or empty"):
        prepare_speechtaxi(root, tmp_path / "m5")


def test_no_tables_and_the_cli(tmp_path, capsys):
    (tmp_path / "empty" / "data").mkdir(parents=True)
    with pytest.raises(CorpusError, match="no SpeechTaxi tables found .*unpack tables.zip"):
        prepare_speechtaxi(tmp_path / "empty", tmp_path / "m")
    root = tmp_path / "st"
    write_speechtaxi(root)
    assert cli(["prepare", "speechtaxi", str(root), "--out", str(tmp_path / "m"), "--langs", "rus"]) == 0
    printed = capsys.readouterr().out
    assert "train: 1 utterances" in printed and "test: 1 utterances" in printed
    assert cli(["prepare", "speechtaxi", str(tmp_path / "nowhere"), "--out", str(tmp_path / "x")]) == 1
    assert "SpeechTaxi folder not found" in capsys.readouterr().err
