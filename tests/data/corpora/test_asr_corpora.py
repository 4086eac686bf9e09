"""Corpus loaders: Common Voice release folder, Hugging Face datasets, folder + CSV.

Each fixture is written in the corpus's real on-disk layout with real (tiny) audio."""

import io
import json
import os

import numpy as np
import pytest
import soundfile as sf

from polyvox.cli import main
from polyvox.data.corpora.common import INFO_NAME, REPORT_NAME, CorpusError
from polyvox.data.corpora.common_voice import prepare_common_voice
from polyvox.data.corpora.folder import prepare_folder
from polyvox.data.corpora.hf import prepare_hf
from polyvox.data.manifest import read_manifest


def tone(seconds, sr, freq=330.0):
    t = np.arange(int(seconds * sr)) / sr
    return (0.4 * np.sin(2 * np.pi * freq * t)).astype(np.float32)


def snapshot(manifests):
    return {k: (p.read_bytes(), p.stat().st_mtime_ns) for k, p in manifests.items()}


# ------------------------------------------------------------------------- Common Voice

CV_HEADER_17 = ["client_id", "path", "sentence_id", "sentence", "sentence_domain", "up_votes", "down_votes",
                "age", "gender", "accents", "variant", "locale", "segment"]
CV_HEADER_OLD = ["client_id", "path", "sentence", "up_votes", "down_votes", "age", "gender", "accents",
                 "variant", "locale", "segment"]


def make_cv(root, header=CV_HEADER_17, lang="cy"):
    """cv-corpus-17.0-2024-03-15/<lang>/ with clips/*.mp3 (48 kHz, as released) and the split TSVs."""
    d = root / "cv-corpus-17.0-2024-03-15" / lang
    (d / "clips").mkdir(parents=True)
    plan = {
        "train": [("aaa1", 1, 0.6), ("aaa1", 2, 0.7), ("bbb2", 3, 0.5), ("bbb2", 4, 0.8)],
        "dev": [("ccc3", 5, 0.6)],
        "test": [("ddd4", 6, 0.9)],
    }
    for split, rows in plan.items():
        lines = ["\t".join(header)]
        for client, n, secs in rows:
            name = f"common_voice_{lang}_{1000 + n}.mp3"
            sf.write(d / "clips" / name, tone(secs, 48000, 200 + 40 * n), 48000, format="MP3")
            values = {
                "client_id": client * 10, "path": name, "sentence_id": f"sid{n}",
                "sentence": f'Brawddeg "rhif" {n}.', "sentence_domain": "", "up_votes": "2", "down_votes": "0",
                "age": "twenties" if n % 2 else "", "gender": "", "accents": "", "variant": "",
                "locale": lang, "segment": "",
            }
            lines.append("\t".join(values[c] for c in header))
        (d / f"{split}.tsv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    # files a release also has, which the loader must ignore
    (d / "validated.tsv").write_text("\t".join(header) + "\n", encoding="utf-8")
    (d / "clip_durations.tsv").write_text("clip\tduration[ms]\n", encoding="utf-8")
    return d


@pytest.mark.parametrize("header", [CV_HEADER_17, CV_HEADER_OLD], ids=["v17", "old"])
def test_common_voice(tmp_path, header):
    cv = make_cv(tmp_path, header)
    out = tmp_path / "out"
    manifests = prepare_common_voice(cv, out)
    assert set(manifests) == {"train", "dev", "test"}
    train = read_manifest(manifests["train"])
    assert [u.id for u in train] == [f"common_voice_cy_{1000 + n}" for n in (1, 2, 3, 4)]
    u = train[0]
    assert u.language == "cy" and u.speaker == "aaa1" * 10 and u.sample_rate == 48000
    assert u.text == 'Brawddeg "rhif" 1.'  # quotes kept: CV TSVs are unquoted
    assert abs(u.duration - 0.6) < 0.06
    assert u.audio == str(cv / "clips" / "common_voice_cy_1001.mp3")
    assert u.custom["up_votes"] == "2" and u.custom["age"] == "twenties" and "gender" not in u.custom
    assert "locale" not in u.custom and "client_id" not in u.custom
    if "sentence_id" in header:
        assert u.custom["sentence_id"] == "sid1"
    # audio not copied; on disk the path is relative to the manifest
    row = json.loads(manifests["train"].read_text().splitlines()[0])
    assert not os.path.isabs(row["audio"]) and row["audio"].endswith("clips/common_voice_cy_1001.mp3")
    assert not list(out.rglob("*.mp3"))
    assert [len(read_manifest(manifests[s])) for s in ("dev", "test")] == [1, 1]
    assert (out / REPORT_NAME).read_text() == ""


def test_common_voice_idempotent(tmp_path):
    cv = make_cv(tmp_path)
    out = tmp_path / "out"
    first = prepare_common_voice(cv, out)
    snap = snapshot(first)
    again = prepare_common_voice(cv, out)
    assert again == first and snapshot(again) == snap  # reused: not even rewritten
    forced = prepare_common_voice(cv, out, force=True)
    assert {k: p.read_bytes() for k, p in forced.items()} == {k: v[0] for k, v in snap.items()}
    # changed inputs are noticed: a new language override redoes the work
    other = prepare_common_voice(cv, out, language="cy-GB")
    assert read_manifest(other["dev"])[0].language == "cy-GB"
    # a changed TSV too
    tsv = cv / "dev.tsv"
    tsv.write_text(tsv.read_text().splitlines()[0] + "\n")
    redone = prepare_common_voice(cv, out, language="cy-GB")
    assert read_manifest(redone["dev"]) == []


def test_common_voice_bad_clips_skip_and_raise(tmp_path):
    cv = make_cv(tmp_path)
    (cv / "clips" / "common_voice_cy_1002.mp3").unlink()
    (cv / "clips" / "common_voice_cy_1003.mp3").write_bytes(b"")
    (cv / "clips" / "common_voice_cy_1004.mp3").write_text("<html>404 not found</html>")
    with open(cv / "train.tsv", "a", encoding="utf-8") as f:
        f.write("only\ttwo\n")
    out = tmp_path / "out"
    manifests = prepare_common_voice(cv, out)
    assert [u.id for u in read_manifest(manifests["train"])] == ["common_voice_cy_1001"]
    report = [json.loads(l) for l in (out / REPORT_NAME).read_text().splitlines()]
    assert len(report) == 4
    tsv = str(cv / "train.tsv")
    assert [r["where"] for r in report] == [f"{tsv}:3", f"{tsv}:4", f"{tsv}:5", f"{tsv}:6"]
    assert "common_voice_cy_1002.mp3: file not found" in report[0]["reason"]
    assert report[0]["audio"].endswith("common_voice_cy_1002.mp3") and report[0]["id"] == "common_voice_cy_1002"
    assert "common_voice_cy_1003.mp3: empty file (0 bytes)" in report[1]["reason"]
    assert "common_voice_cy_1004.mp3: not an audio file: it contains text" in report[2]["reason"]
    assert "malformed row: 2 tab-separated fields, header has 13" in report[3]["reason"]

    with pytest.raises(CorpusError) as e:
        prepare_common_voice(cv, tmp_path / "out2", on_error="raise")
    assert str(e.value).startswith(f"{tsv}:3: ") and "common_voice_cy_1002.mp3: file not found" in str(e.value)
    assert not (tmp_path / "out2" / INFO_NAME).exists()


def test_common_voice_layout_errors(tmp_path):
    with pytest.raises(CorpusError, match="no Common Voice split files"):
        prepare_common_voice(tmp_path, tmp_path / "out")
    cv = make_cv(tmp_path)
    (cv / "train.tsv").write_text("client_id\tsentence\nx\ty\n")
    with pytest.raises(CorpusError, match=r"train\.tsv:1: missing column\(s\) \['path'\]"):
        prepare_common_voice(cv, tmp_path / "out")
    with pytest.raises(ValueError, match="on_error"):
        prepare_common_voice(cv, tmp_path / "out", splits=["dev"], on_error="ignore")


def test_common_voice_cli(tmp_path, capsys):
    cv = make_cv(tmp_path)
    (cv / "clips" / "common_voice_cy_1006.mp3").unlink()
    out = tmp_path / "out"
    assert main(["prepare", "common_voice", str(cv), "--out", str(out), "--splits", "train,test"]) == 0
    text = capsys.readouterr().out
    assert "train: 4 utterances" in text and "test: 0 utterances" in text
    assert f"skipped 1 row(s); reasons in {out / REPORT_NAME}" in text
    assert main(["prepare", "common_voice", str(cv), "--out", str(tmp_path / "o2"), "--on-error", "raise"]) == 1
    err = capsys.readouterr().err
    assert "test.tsv:2" in err and "file not found" in err


# ------------------------------------------------------------------------- Hugging Face datasets


def _wav_bytes(x, sr, channels=1):
    buf = io.BytesIO()
    sf.write(buf, np.stack([x] * channels, 1) if channels > 1 else x, sr, format="WAV")
    return buf.getvalue()


def make_hf(root):
    """A DatasetDict with an Audio column (wav bytes at 22.05/8 kHz, one stereo), saved with save_to_disk.

    Built from a plain struct column then cast to Audio: encoding into Audio would need torchcodec."""
    from datasets import Audio, ClassLabel, Dataset, DatasetDict, Features, Value

    feats = Features({
        "audio": {"bytes": Value("binary"), "path": Value("string")},
        "sentence": Value("string"), "speaker_id": Value("string"), "lang": Value("string"),
        "emotion": ClassLabel(names=["neutral", "happy"]), "snr": Value("float32"),
    })

    def split(rows):
        cols = {k: [r[k] for r in rows] for k in feats}
        return Dataset.from_dict(cols, features=feats).cast_column("audio", Audio())

    def row(i, sr=22050, secs=0.5, lang="en", channels=1, data=None):
        return {"audio": {"bytes": data if data is not None else _wav_bytes(tone(secs, sr), sr, channels),
                          "path": f"clip{i}.wav"},
                "sentence": f"sentence {i}", "speaker_id": f"spk{i % 2}", "lang": lang, "emotion": i % 2,
                "snr": 20.0 + i}

    dd = DatasetDict({
        "train": split([row(0), row(1, sr=8000, secs=1.0), row(2, channels=2, lang="fr"),
                        row(3, data=b"not audio, text"), row(4, data=_wav_bytes(np.zeros(800, np.float32), 8000))]),
        "validation": split([row(5)]),
        "test": split([row(6, lang="")]),
    })
    path = root / "hf_saved"
    dd.save_to_disk(str(path))
    return path


def test_hf_saved_dataset(tmp_path):
    src = make_hf(tmp_path)
    out = tmp_path / "out"
    manifests = prepare_hf(src, out, language_column="lang", language="en")
    assert set(manifests) == {"train", "dev", "test"}  # validation -> dev
    train = read_manifest(manifests["train"])
    assert [u.id for u in train] == ["train_000000", "train_000001", "train_000002"]
    u0, u1, u2 = train
    assert (u0.text, u0.speaker, u0.language, u0.sample_rate) == ("sentence 0", "spk0", "en", 16000)
    assert u0.custom == {"emotion": "neutral", "snr": 20.0} and u1.custom["emotion"] == "happy"
    assert u2.language == "fr"
    assert abs(u0.duration - 0.5) < 1e-3 and abs(u1.duration - 1.0) < 1e-3
    for u in train:  # decoded by us, written as 16 kHz mono wav under out/wavs
        info = sf.info(u.audio)
        assert (info.samplerate, info.channels) == (16000, 1)
        assert os.path.dirname(u.audio) == str((out / "wavs").resolve())
    assert read_manifest(manifests["test"])[0].language == "en"  # empty column value -> default
    report = [json.loads(l) for l in (out / REPORT_NAME).read_text().splitlines()]
    assert [r["id"] for r in report] == ["train_000003", "train_000004"]
    assert report[0]["where"].endswith("[train] row 3") and "clip3.wav: not audio: the bytes are text" in report[0]["reason"]
    assert "clip4.wav: silence only" in report[1]["reason"]

    snap = snapshot(manifests)
    assert snapshot(prepare_hf(src, out, language_column="lang", language="en")) == snap  # reused
    forced = prepare_hf(src, out, language_column="lang", language="en", force=True)
    assert {k: p.read_bytes() for k, p in forced.items()} == {k: v[0] for k, v in snap.items()}


def test_hf_options_and_errors(tmp_path):
    src = make_hf(tmp_path)
    out = tmp_path / "out"
    m = prepare_hf(src, out, language="xx", text_column="speaker_id", speaker_column="lang",
                   split_map={"validation": "dev"}, sample_rate=8000)
    assert set(m) == {"dev"}
    (u,) = read_manifest(m["dev"])
    assert (u.text, u.speaker, u.language, u.sample_rate) == ("spk1", "en", "xx", 8000)
    assert sf.info(u.audio).samplerate == 8000
    with pytest.raises(CorpusError, match="no language given"):
        prepare_hf(src, out)
    with pytest.raises(CorpusError, match=r"no text column 'words'; columns are \['audio'"):
        prepare_hf(src, out, language="en", text_column="words")
    with pytest.raises(CorpusError, match=r"split\(s\) \['dev'\] not in the dataset"):
        prepare_hf(src, out, language="en", split_map={"dev": "dev"})
    with pytest.raises(CorpusError, match=r"\[train\] row 3: .*not audio"):
        prepare_hf(src, tmp_path / "o3", language="en", on_error="raise")


def test_hf_cli(tmp_path, capsys):
    src = make_hf(tmp_path)
    out = tmp_path / "out"
    rc = main(["prepare", "hf", str(src), "--out", str(out), "--language", "en", "--language-column", "lang",
               "--split-map", "train=train,test=test", "--id-column", "sentence"])
    assert rc == 0
    text = capsys.readouterr().out
    assert "train: 3 utterances" in text and "test: 1 utterances" in text and "skipped 2 row(s)" in text
    assert read_manifest(out / "train.jsonl")[0].id == "sentence 0"
    assert (out / "wavs" / "sentence_0.wav").exists()


# ------------------------------------------------------------------------- folder + CSV


def make_folder(root, with_split=True):
    audio = root / "my_corpus" / "audio"
    rows = []
    for i in range(8):
        spk = f"s{i % 4}"
        rel = f"{spk}/utt{i}.flac" if i % 2 else f"{spk}/utt{i}.wav"
        (audio / spk).mkdir(parents=True, exist_ok=True)
        sr = 16000 if i % 2 else 24000
        sf.write(audio / rel, tone(0.3 + 0.1 * i, sr), sr)
        split = "train" if i < 6 else "test"
        rows.append([rel, f"text, number {i}", spk, "de" if i % 3 else "", split, "angry" if i == 1 else ""])
    header = ["file", "text", "speaker", "language", "split", "emotion"]
    if not with_split:
        header.remove("split")
        rows = [r[:4] + r[5:] for r in rows]
    import csv

    with open(root / "my_corpus" / "metadata.csv", "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(header)
        w.writerows(rows)
    return audio, root / "my_corpus" / "metadata.csv"


def test_folder_with_split_column(tmp_path):
    audio, csv_path = make_folder(tmp_path)
    out = tmp_path / "out"
    m = prepare_folder(audio, csv_path, out, language="en")
    assert set(m) == {"train", "test"}
    train = read_manifest(m["train"])
    assert [u.id for u in train] == ["s0/utt0", "s1/utt1", "s2/utt2", "s3/utt3", "s0/utt4", "s1/utt5"]
    u0, u1 = train[:2]
    assert (u0.language, u1.language) == ("en", "de")  # empty column value -> default
    assert (u0.sample_rate, u1.sample_rate) == (24000, 16000)
    assert u1.text == "text, number 1" and u1.speaker == "s1" and u1.custom == {"emotion": "angry"}
    assert u0.custom == {} and abs(u1.duration - 0.4) < 1e-6
    assert u1.audio == str(audio / "s1" / "utt1.flac")
    snap = snapshot(m)
    assert snapshot(prepare_folder(audio, csv_path, out, language="en")) == snap


def test_folder_made_splits_speaker_disjoint(tmp_path):
    audio, csv_path = make_folder(tmp_path, with_split=False)
    out = tmp_path / "out"
    m = prepare_folder(audio, csv_path, out, language="de", by_speaker=True, seed=1)
    parts = {k: read_manifest(p) for k, p in m.items()}
    spk = {k: {u.speaker for u in v} for k, v in parts.items()}
    assert set(parts) == {"train", "dev", "test"}
    assert spk["train"].isdisjoint(spk["dev"] | spk["test"]) and spk["dev"].isdisjoint(spk["test"])
    assert sum(map(len, parts.values())) == 8
    forced = prepare_folder(audio, csv_path, out, language="de", by_speaker=True, seed=1, force=True)
    assert {k: p.read_bytes() for k, p in forced.items()} == {k: p.read_bytes() for k, p in m.items()}


def test_folder_bad_rows(tmp_path):
    audio, csv_path = make_folder(tmp_path)
    (audio / "s2" / "utt2.wav").write_bytes(b"RIFF\x00\x00")
    with open(csv_path, "a", encoding="utf-8") as f:
        f.write("s0/missing.wav,hi,s0,de,train,\n")
        f.write("s0/utt0.wav,dup,s0,de,train,\n")
    out = tmp_path / "out"
    m = prepare_folder(audio, csv_path, out, language="en")
    assert len(read_manifest(m["train"])) == 5
    report = [json.loads(l) for l in (out / REPORT_NAME).read_text().splitlines()]
    assert [r["where"] for r in report] == [f"{csv_path}:4", f"{csv_path}:10", f"{csv_path}:11"]
    assert "utt2.wav: truncated WAV header (6 bytes" in report[0]["reason"]
    assert "missing.wav: file not found" in report[1]["reason"]
    assert "duplicate id 's0/utt0'" in report[2]["reason"]
    with pytest.raises(CorpusError, match=r"metadata\.csv:1: no 'lang' column; pass language"):
        prepare_folder(audio, csv_path, out, language_column="lang")
    with pytest.raises(CorpusError, match=r"no audio path column; expected one of \['path', 'file'"):
        prepare_folder(audio, csv_path, out, language="en", audio_column=None, delimiter=";")


def test_folder_cli(tmp_path, capsys):
    audio, csv_path = make_folder(tmp_path, with_split=False)
    out = tmp_path / "out"
    rc = main(["prepare", "folder", str(audio), "--csv", str(csv_path), "--out", str(out), "--language", "en",
               "--fractions", "train=0.5,test=0.5", "--speaker-disjoint"])
    assert rc == 0
    text = capsys.readouterr().out
    assert "train: 4 utterances" in text and "test: 4 utterances" in text
    assert main(["prepare", "folder", str(audio), "--csv", str(tmp_path / "none.csv"), "--out", str(out)]) == 1
    assert "none.csv: CSV file not found" in capsys.readouterr().err


def test_hf_local_data_folder_via_load_dataset(tmp_path):
    """A folder of parquet files goes through datasets.load_dataset(path), not load_from_disk."""
    from datasets import load_from_disk

    saved = load_from_disk(str(make_hf(tmp_path)))
    data = tmp_path / "pq" / "data"
    data.mkdir(parents=True)
    for split, ds in saved.items():
        ds.to_parquet(str(data / f"{split}-00000-of-00001.parquet"))
    out = tmp_path / "out"
    m = prepare_hf(tmp_path / "pq", out, language="en", cache_dir=tmp_path / "cache")
    assert set(m) == {"train", "dev", "test"}
    train = read_manifest(m["train"])
    assert [u.text for u in train] == ["sentence 0", "sentence 1", "sentence 2"]
    assert train[0].custom["emotion"] == "neutral"  # ClassLabel survives parquet
    assert len((out / REPORT_NAME).read_text().splitlines()) == 2


def test_hf_unloadable_local_folder(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(CorpusError, match=r"empty: cannot load it as a local dataset folder"):
        prepare_hf(tmp_path / "empty", tmp_path / "out", language="en", cache_dir=tmp_path / "cache")


def test_hf_single_split_release_is_resplit_minds14_style(tmp_path):
    """MINDS-14's shape: one "train" split, intent_class a ClassLabel, transcription as text, no speaker column:
    --fractions re-splits it (seeded, per language); a speaker-disjoint re-split without speakers is refused."""
    from datasets import Audio, ClassLabel, Dataset, Features, Value

    feats = Features({"audio": {"bytes": Value("binary"), "path": Value("string")},
                      "transcription": Value("string"), "lang_id": Value("string"),
                      "intent_class": ClassLabel(names=["abroad", "balance", "card_issues"])})
    rows = [{"audio": {"bytes": _wav_bytes(tone(0.3, 8000), 8000), "path": f"c{i}.wav"},
             "transcription": f"call {i}", "lang_id": "en-US", "intent_class": i % 3} for i in range(20)]
    ds = Dataset.from_dict({k: [r[k] for r in rows] for k in feats}, features=feats).cast_column("audio", Audio())
    ds.save_to_disk(str(tmp_path / "minds14"))
    fractions = {"train": 0.6, "dev": 0.2, "test": 0.2}
    m = prepare_hf(tmp_path / "minds14", tmp_path / "out", text_column="transcription", language="en",
                   fractions=fractions, seed=3)
    parts = {s: read_manifest(p) for s, p in m.items()}
    assert sorted(len(v) for v in parts.values()) == [4, 4, 12]
    assert {u.custom["intent_class"] for v in parts.values() for u in v} == {"abroad", "balance", "card_issues"}
    assert len({u.id for v in parts.values() for u in v}) == 20  # every row in exactly one split
    again = prepare_hf(tmp_path / "minds14", tmp_path / "out2", text_column="transcription", language="en",
                       fractions=fractions, seed=3)
    assert [u.id for u in read_manifest(again["test"])] == [u.id for u in parts["test"]]  # seeded
    with pytest.raises(CorpusError, match="speaker-disjoint split needs a speaker on every row"):
        prepare_hf(tmp_path / "minds14", tmp_path / "out3", text_column="transcription", language="en",
                   fractions=fractions, by_speaker=True)
