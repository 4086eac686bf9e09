"""Corpus loaders on tiny fixtures written in each corpus's real layout: labels, speakers,
speaker-independent splits, skipped files, clear errors, idempotent re-runs."""

import json

import numpy as np
import pytest

import polyvox.data.corpora.emotion as ec
from polyvox.data.corpora.adima import prepare_adima
from polyvox.data.audio import save_audio
from polyvox.data.manifest import read_manifest


def wav(path, seconds=0.2, freq=220.0):
    t = np.arange(int(16000 * seconds)) / 16000
    save_audio(path, 0.3 * np.sin(2 * np.pi * freq * t).astype(np.float32))


def load(paths):
    return {name: read_manifest(p) for name, p in paths.items()}


def speakers(parts):
    return {name: {u.speaker for u in us} for name, us in parts.items()}


def assert_speaker_disjoint(parts):
    s = speakers(parts)
    assert not (s["train"] & s["dev"]) and not (s["train"] & s["test"]) and not (s["dev"] & s["test"])


def test_crema_d(tmp_path, monkeypatch):
    root = tmp_path / "CREMA-D"
    for actor in ("1001", "1002", "1003", "1004", "1005"):
        for emo in ("ANG", "SAD", "NEU"):
            wav(root / "AudioWAV" / f"{actor}_DFA_{emo}_XX.wav")
    wav(root / "AudioWAV" / "1001_IEO_HAP_HI.wav")
    (root / "AudioWAV" / "1006_DFA_ANG_XX.wav").write_bytes(b"")  # empty file (as in the real corpus)
    wav(root / "AudioWAV" / "notes.wav")
    paths = ec.prepare_crema_d(root, tmp_path / "out", seed=0)
    parts = load(paths)
    assert_speaker_disjoint(parts)
    utts = [u for us in parts.values() for u in us]
    assert len(utts) == 16
    hap = next(u for u in utts if u.id == "crema-1001_IEO_HAP_HI")
    assert hap.custom == {"emotion": "happy", "sentence": "IEO", "intensity": "high"}
    assert hap.speaker == "1001" and hap.language == "en" and hap.duration == pytest.approx(0.2)
    skipped = [json.loads(l) for l in (tmp_path / "out" / "skipped.jsonl").read_text().splitlines()]
    assert {s["audio"].rsplit("/", 1)[1] for s in skipped} == {"1006_DFA_ANG_XX.wav", "notes.wav"}
    # idempotent: same call returns without reading audio again
    monkeypatch.setattr(ec, "audio_info", lambda p: pytest.fail("rescanned"))
    assert ec.prepare_crema_d(root, tmp_path / "out", seed=0) == paths


def test_crema_d_explicit_test_speakers(tmp_path):
    root = tmp_path / "c"
    for actor in ("1001", "1002", "1003", "1004"):
        wav(root / "AudioWAV" / f"{actor}_DFA_ANG_XX.wav")
    parts = load(ec.prepare_crema_d(root, tmp_path / "out", test_speakers=["1004"], dev_speakers=["1003"]))
    assert speakers(parts) == {"train": {"1001", "1002"}, "dev": {"1003"}, "test": {"1004"}}
    with pytest.raises(ValueError, match="unknown speaker.*9999"):
        ec.prepare_crema_d(root, tmp_path / "out2", test_speakers=["9999"])


def test_ravdess(tmp_path):
    root = tmp_path / "RAVDESS"
    for actor in range(1, 6):
        for emo in ("01", "05", "08"):
            wav(root / f"Actor_{actor:02d}" / f"03-01-{emo}-02-01-01-{actor:02d}.wav")
        wav(root / f"Actor_{actor:02d}" / f"03-02-03-01-01-01-{actor:02d}.wav")  # song
    parts = load(ec.prepare_ravdess(root, tmp_path / "out"))
    utts = [u for us in parts.values() for u in us]
    assert len(utts) == 15 and {u.custom["emotion"] for u in utts} == {"neutral", "angry", "surprised"}
    u = next(u for u in utts if u.id == "ravdess-03-01-05-02-01-01-03")
    assert u.speaker == "actor03" and u.custom["gender"] == "male" and u.custom["intensity"] == "strong"
    assert_speaker_disjoint(parts)
    with_song = [u for us in load(ec.prepare_ravdess(root, tmp_path / "song", include_song=True)).values() for u in us]
    assert len(with_song) == 20 and any(u.custom["vocal_channel"] == "song" for u in with_song)


def test_emodb(tmp_path):
    root = tmp_path / "emodb"
    for spk in ("03", "08", "09", "10"):
        for letter in "WLEAFTN":
            wav(root / "wav" / f"{spk}a01{letter}a.wav")
    parts = load(ec.prepare_emodb(root, tmp_path / "out"))
    utts = [u for us in parts.values() for u in us]
    assert len(utts) == 28 and all(u.language == "de" for u in utts)
    by_id = {u.id: u for u in utts}
    assert by_id["emodb-03a01Wa"].custom["emotion"] == "angry"
    assert by_id["emodb-08a01La"].custom == {"emotion": "boredom", "text_id": "a01", "gender": "female"}
    assert by_id["emodb-10a01Ta"].custom["emotion"] == "sad" and by_id["emodb-10a01Ta"].speaker == "10"
    assert_speaker_disjoint(parts)


def _iemocap(root):
    labels = ["neu", "exc", "ang", "sad", "fru", "xxx", "hap"]
    for s in range(1, 6):
        dialog = f"Ses0{s}F_impro01"
        lines, trans = ["% [START_TIME - END_TIME] TURN_NAME EMOTION [V, A, D]", ""], []
        for k, lab in enumerate(labels):
            g = "FM"[k % 2]
            uid = f"{dialog}_{g}{k:03d}"
            wav(root / f"Session{s}" / "sentences" / "wav" / dialog / f"{uid}.wav")
            lines += [f"[{k}.0000 - {k}.5000]\t{uid}\t{lab}\t[2.5000, 2.5000, 2.5000]",
                      f"C-E1:\tNeutral;\t()", ""]
            trans.append(f"{uid} [{k:03d}.0000-{k:03d}.5000]: words {k}.")
        ev = root / f"Session{s}" / "dialog" / "EmoEvaluation" / f"{dialog}.txt"
        ev.parent.mkdir(parents=True, exist_ok=True)
        ev.write_text("\n".join(lines))
        tr = root / f"Session{s}" / "dialog" / "transcriptions" / f"{dialog}.txt"
        tr.parent.mkdir(parents=True, exist_ok=True)
        tr.write_text("\n".join(trans))


def test_iemocap_leave_one_session_out(tmp_path):
    root = tmp_path / "IEMOCAP_full_release"
    _iemocap(root)
    parts = load(ec.prepare_iemocap(root, tmp_path / "out", test_session=2, dev_fraction=0.25))
    assert {u.custom["session"] for u in parts["test"]} == {2}
    assert all(u.custom["session"] != 2 for u in parts["train"] + parts["dev"])
    utts = [u for us in parts.values() for u in us]
    assert len(utts) == 25  # 5 of 7 labels kept per session (fru, xxx dropped)
    assert {u.custom["emotion"] for u in utts} == {"neutral", "happy", "angry", "sad"}
    exc = next(u for u in utts if u.id == "Ses03F_impro01_M001")
    assert exc.custom["emotion"] == "happy" and exc.custom["emotion_raw"] == "exc"
    assert exc.speaker == "Ses03M" and exc.text == "words 1."
    assert len(parts["dev"]) == 5  # 25 % of the 20 training-session utterances
    fold = load(ec.prepare_iemocap(root, tmp_path / "f", test_session=5, dev_session=4, four_class=False))
    assert {u.custom["session"] for u in fold["dev"]} == {4}
    assert "frustrated" in {u.custom["emotion"] for u in fold["train"]}
    assert "xxx" not in {u.custom["emotion_raw"] for us in fold.values() for u in us}
    with pytest.raises(ec.CorpusError, match="Session1..Session5"):
        ec.prepare_iemocap(tmp_path, tmp_path / "bad")


def test_adima(tmp_path):
    root = tmp_path / "ADIMA"
    ann = root / "annotations"
    ann.mkdir(parents=True)
    for lang in ("Hindi", "Tamil"):
        for split, n in (("train", 10), ("test", 4)):
            rows = ["filename,label"]
            for i in range(n):
                name = f"{lang[:2]}_{split}_{i}.wav"
                wav(root / f"SC_audio_{lang}" / name)
                rows.append(f"{name},{'Yes' if i % 2 else 'No'}")
            (ann / f"{lang}_{split}.csv").write_text("\n".join(rows) + "\n")
    with open(ann / "Hindi_test.csv", "a") as f:
        f.write("missing.wav,Yes\n")
    parts = load(prepare_adima(root, tmp_path / "out", dev_fraction=0.2))
    assert {u.language for u in parts["test"]} == {"hi", "ta"} and len(parts["test"]) == 8
    assert len(parts["dev"]) == 4 and len(parts["train"]) == 16  # 20 % of each label per language
    u = next(u for u in parts["test"] if u.id == "adima-hi-Hi_test_1")
    assert u.custom == {"label": "abusive", "label_raw": "Yes"}
    assert "missing.wav" in (tmp_path / "out" / "skipped.jsonl").read_text()
    only_ta = load(prepare_adima(root, tmp_path / "ta", languages=["ta"]))
    assert {u.language for us in only_ta.values() for u in us} == {"ta"}
    (ann / "Hindi_train.csv").write_text("filename,label\nHi_train_0.wav,maybe\n")
    with pytest.raises(ec.CorpusError, match=r"Hindi_train.csv:2.*maybe"):
        prepare_adima(root, tmp_path / "out3")
