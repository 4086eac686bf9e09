import json
import logging

import numpy as np
import pytest
import torch

from polyvox.data.audio import AudioError, save_audio
from polyvox.data.collate import collate_audio
from polyvox.data.dataset import AudioDataset, read_skip_report
from polyvox.data.manifest import Utterance, write_manifest
from polyvox.data.sampler import DurationBucketSampler


def tone(seconds, sr=16000, f=220.0):
    t = np.arange(int(seconds * sr)) / sr
    return (0.3 * np.sin(2 * np.pi * f * t)).astype(np.float32)


@pytest.fixture
def rows(tmp_path):
    """Two good files (one at 8 kHz), a text file named .wav, and a file shorter than its manifest row."""
    save_audio(tmp_path / "a.wav", tone(1.0))
    save_audio(tmp_path / "b.wav", tone(0.5, sr=8000), sample_rate=8000)
    (tmp_path / "bad.wav").write_text("this is not audio\n")
    save_audio(tmp_path / "short.wav", tone(0.5))
    mk = lambda i, name, dur, sr=16000: Utterance(i, str(tmp_path / name), dur, sr, "en")
    return [mk("a", "a.wav", 1.0), mk("b", "b.wav", 0.5, 8000), mk("bad", "bad.wav", 1.0), mk("short", "short.wav", 2.0)]


def test_items_are_decoded_at_the_target_rate(rows):
    ds = AudioDataset(rows)
    a, b = ds[0], ds[1]
    assert a["id"] == "a" and a["utt"] is rows[0]
    assert a["wav"].dtype == torch.float32 and a["wav"].shape == (16000,)
    assert b["wav"].shape == (8000,)  # 0.5 s resampled from 8 kHz
    assert ds.durations == [1.0, 0.5, 1.0, 2.0] and len(ds) == 4


def test_skip_returns_none_reports_each_row_and_warns_once(rows, tmp_path, caplog):
    report = tmp_path / "reports" / "skipped.jsonl"
    ds = AudioDataset(rows, report_path=report)
    assert not report.exists()  # created lazily
    with caplog.at_level(logging.WARNING, logger="polyvox.data.dataset"):
        assert ds[2] is None and ds[3] is None and ds[2] is None
    lines = [json.loads(l) for l in report.read_text().splitlines()]
    assert [l["id"] for l in lines] == ["bad", "short"]
    assert lines[0]["audio"] == rows[2].audio and "text" in lines[0]["reason"]
    assert "disagrees with the manifest" in lines[1]["reason"]
    assert sum("'bad'" in r.getMessage() for r in caplog.records) == 1
    assert set(read_skip_report(report)) == {"bad", "short"}


def test_report_appends_across_dataset_copies(rows, tmp_path):
    # Each DataLoader worker holds its own copy; their lines all land in the one file.
    report = tmp_path / "skipped.jsonl"
    AudioDataset(rows, report_path=report)[2]
    AudioDataset(rows, report_path=report)[2]
    assert len(report.read_text().splitlines()) == 2
    assert list(read_skip_report(report)) == ["bad"]


def test_raise_mode_names_the_file_and_row(rows):
    ds = AudioDataset(rows, on_error="raise")
    with pytest.raises(AudioError, match=r"bad\.wav.*row 2.*'bad'"):
        ds[2]
    with pytest.raises(ValueError, match="on_error"):
        AudioDataset(rows, on_error="ignore")


def test_duration_tolerance_and_transform(rows):
    ds = AudioDataset(rows, duration_tolerance=2.0, transform=lambda w: w * 0)
    item = ds[3]
    assert item is not None and not item["wav"].any()


def test_dataloader_with_sampler_and_collate_skips_bad_rows(rows, tmp_path):
    report = tmp_path / "skipped.jsonl"
    path = write_manifest(tmp_path / "m.jsonl", rows)
    ds = AudioDataset.from_manifest(path, report_path=report)
    sampler = DurationBucketSampler(ds.durations, 10.0, seed=0)
    loader = torch.utils.data.DataLoader(ds, batch_sampler=sampler, collate_fn=collate_audio)
    batches = list(loader)
    assert sorted(i for b in batches for i in b["ids"]) == ["a", "b"]
    assert sum(b["skipped"] for b in batches) == 2
    assert set(read_skip_report(report)) == {"bad", "short"}


def test_items_cross_dataloader_worker_processes(rows, tmp_path):
    # Worker processes pickle every item (Utterance included) back to the main process.
    report = tmp_path / "skipped.jsonl"
    ds = AudioDataset(rows, report_path=report)
    # timeout: an item that cannot be pickled makes the loader hang instead of raising
    loader = torch.utils.data.DataLoader(ds, batch_size=2, num_workers=2, collate_fn=collate_audio, timeout=20)
    batches = list(loader)
    assert sorted(i for b in batches for i in b["ids"]) == ["a", "b"]
    assert [u.id for b in batches for u in b["utts"]] == [i for b in batches for i in b["ids"]]
    assert set(read_skip_report(report)) == {"bad", "short"}


@pytest.mark.slow
def test_on_the_builtin_corpus(tiny_corpus, tmp_path):
    from polyvox.data.collate import FbankOptions
    from polyvox.data.manifest import read_manifest
    from polyvox.data.sampler import padding_waste
    import functools

    utts = read_manifest(tiny_corpus["train"])
    ds = AudioDataset(utts, report_path=tmp_path / "skipped.jsonl")
    sampler = DurationBucketSampler(ds.durations, 20.0, num_buckets=10)
    loader = torch.utils.data.DataLoader(
        ds, batch_sampler=sampler, collate_fn=functools.partial(collate_audio, fbank=FbankOptions())
    )
    n_seen = 0
    for b in loader:
        assert b["feats"].shape[0] == len(b["ids"])
        assert b["wav_lens"].max() == b["wavs"].shape[1]
        n_seen += len(b["ids"])
    assert n_seen == len(utts)  # the synthesized corpus has no bad rows
    assert not (tmp_path / "skipped.jsonl").exists()
    assert padding_waste(list(sampler), ds.durations) < 0.25


def test_augmentation_is_seeded_by_utterance_and_epoch_in_workers_and_after_resume(tmp_path):
    """The training loop's BatchStream sets the dataset's epoch; workers and a resumed stream hear the same audio."""
    from polyvox.data.augment import AugmentConfig, Augmenter
    from polyvox.train.loop import BatchStream

    rows = []
    for i in range(6):
        save_audio(tmp_path / f"{i}.wav", tone(0.5, f=200.0 + 50 * i))
        rows.append(Utterance(f"u{i}", str(tmp_path / f"{i}.wav"), 0.5, 16000, "en"))
    aug = Augmenter(AugmentConfig(noise_prob=1.0, eq_prob=0.5), seed=1)

    def loader(workers):
        ds = AudioDataset(rows, augment=aug)
        sampler = DurationBucketSampler(ds.durations, max_seconds=1.0, seed=0)
        return torch.utils.data.DataLoader(ds, batch_sampler=sampler, collate_fn=collate_audio,
                                           num_workers=workers)

    clean = {it["id"]: it["wav"] for it in AudioDataset(rows)}
    stream = BatchStream(loader(workers=1))
    batches = [next(stream) for _ in range(3 * 2)]  # 3 batches per epoch, two epochs
    for b, epoch in zip(batches, [0, 0, 0, 1, 1, 1]):
        for row, utt in enumerate(b["utts"]):
            assert torch.allclose(b["wavs"][row], aug(clean[utt.id], utt.id, epoch), atol=1e-6)
            assert not torch.allclose(b["wavs"][row], aug(clean[utt.id], utt.id, 1 - epoch), atol=1e-3)
    # resume mid-epoch 1 in a fresh stream (in-process loading): the same batches come back
    resumed_from = BatchStream(loader(workers=0))
    for _ in range(4):
        next(resumed_from)
    state = resumed_from.state_dict()
    resumed = BatchStream(loader(workers=0))
    resumed.load_state_dict(state)
    for expected in batches[4:]:
        got = next(resumed)
        assert got["ids"] == expected["ids"] and torch.allclose(got["wavs"], expected["wavs"], atol=1e-6)
