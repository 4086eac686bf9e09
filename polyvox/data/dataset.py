"""A torch Dataset over manifest rows that decodes audio and reports rows it cannot use.

Bad audio (missing, truncated, non-audio, NaN, silence-only, or a duration that disagrees with
the manifest) raises :class:`~polyvox.data.audio.AudioError` in ``load_audio``. With
``on_error="skip"`` the item becomes ``None`` (dropped by :func:`polyvox.data.collate.collate_audio`),
a warning is logged and one JSON line ``{"id", "audio", "reason"}`` is appended to
``report_path`` (both once per row and process), so nothing is lost silently. With
``on_error="raise"`` the error is raised again naming the manifest row.
"""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path
from typing import Callable, Sequence

import torch
from torch.utils.data import Dataset

from polyvox.data.audio import DEFAULT_SAMPLE_RATE, AudioError, load_audio
from polyvox.data.manifest import Utterance, read_manifest

log = logging.getLogger(__name__)

ON_ERROR = ("skip", "raise")


def append_report_line(path: str | os.PathLike, record: dict) -> None:
    """Append one JSON line to ``path`` (created with its folder if missing).

    One ``write`` per line on a file opened in append mode, so lines from several DataLoader
    workers do not interleave.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    line = json.dumps(record, ensure_ascii=False) + "\n"
    with open(path, "a", encoding="utf-8") as f:
        f.write(line)


def read_skip_report(path: str | os.PathLike) -> dict[str, dict]:
    """Rows in a skip report by id (a row skipped in several epochs or workers appears once)."""
    path = Path(path)
    if not path.exists():
        return {}
    out: dict[str, dict] = {}
    with open(path, encoding="utf-8") as f:
        for line in f:
            if line.strip():
                rec = json.loads(line)
                out.setdefault(rec["id"], rec)
    return out


class AudioDataset(Dataset):
    """Manifest rows -> ``{"id": str, "wav": FloatTensor (time,), "utt": Utterance}`` (or ``None``).

    Args:
        utts: manifest rows (e.g. from :func:`~polyvox.data.manifest.read_manifest`).
        sample_rate: rate the audio is resampled to.
        on_error: ``"skip"`` (return None, log, report) or ``"raise"``.
        report_path: JSONL file that skipped rows are appended to (created on the first skip).
        duration_tolerance: allowed difference, in seconds, from the manifest's duration.
        transform: optional ``f(wav: FloatTensor (time,)) -> FloatTensor (time',)``.
        augment: optional ``f(wav (time,), utterance id, epoch) -> wav (time,)``, e.g. a
            :class:`polyvox.data.augment.Augmenter`; ``epoch`` is what :meth:`set_epoch` last set (the training
            loop sets it before each epoch's iterator, so DataLoader workers see it too).
    """

    def __init__(
        self,
        utts: Sequence[Utterance],
        sample_rate: int = DEFAULT_SAMPLE_RATE,
        *,
        on_error: str = "skip",
        report_path: str | os.PathLike | None = None,
        duration_tolerance: float = 0.1,
        transform: Callable[[torch.Tensor], torch.Tensor] | None = None,
        augment: Callable[[torch.Tensor, str, int], torch.Tensor] | None = None,
    ):
        if on_error not in ON_ERROR:
            raise ValueError(f"on_error must be one of {ON_ERROR}, got {on_error!r}")
        self.utts = list(utts)
        self.sample_rate = int(sample_rate)
        self.on_error = on_error
        self.report_path = Path(report_path) if report_path is not None else None
        self.duration_tolerance = float(duration_tolerance)
        self.transform = transform
        self.augment = augment
        self.epoch = 0
        self._warned: set[str] = set()

    @classmethod
    def from_manifest(cls, path: str | os.PathLike, **kwargs) -> "AudioDataset":
        """Read a JSONL manifest and wrap its rows."""
        return cls(read_manifest(path), **kwargs)

    @property
    def durations(self) -> list[float]:
        """Manifest durations in seconds, by index (for :class:`~polyvox.data.sampler.DurationBucketSampler`)."""
        return [u.duration for u in self.utts]

    def set_epoch(self, epoch: int) -> None:
        """The epoch augmentation draws for (part of each utterance's seed)."""
        self.epoch = int(epoch)

    def __len__(self) -> int:
        return len(self.utts)

    def __getitem__(self, index: int) -> dict | None:
        utt = self.utts[index]
        try:
            wav, _ = load_audio(
                utt.audio,
                self.sample_rate,
                expected_duration=utt.duration,
                duration_tolerance=self.duration_tolerance,
            )
        except AudioError as e:
            if self.on_error == "raise":
                raise AudioError(e.path, f"{e.reason} (manifest row {index}, id '{utt.id}')") from e
            self._skip(utt, e.reason)
            return None
        wav_t = torch.from_numpy(wav)
        if self.transform is not None:
            wav_t = self.transform(wav_t)
        if self.augment is not None:
            wav_t = self.augment(wav_t, utt.id, self.epoch)
        return {"id": utt.id, "wav": wav_t, "utt": utt}

    def _skip(self, utt: Utterance, reason: str) -> None:
        # Once per row and process; worker processes restarted each epoch may repeat a line,
        # which read_skip_report folds together.
        if utt.id not in self._warned:
            self._warned.add(utt.id)
            if self.report_path is not None:
                append_report_line(self.report_path, {"id": utt.id, "audio": utt.audio, "reason": reason})
            where = f"; listed in {self.report_path}" if self.report_path is not None else ""
            log.warning("skipping utterance '%s' (%s): %s%s", utt.id, utt.audio, reason, where)


def eval_batches(utts: Sequence[Utterance], max_batch_seconds: float, *, collate_fn: Callable | None = None,
                 on_error: str = "skip", report_path: str | os.PathLike | None = None, num_workers: int = 0):
    """The one evaluation batching loop: manifest rows in deterministic duration buckets (no shuffling, every row
    once, on every process), decoded and collated (default :func:`polyvox.data.collate.collate_audio`), unusable
    clips skipped and reported (or raised) as :class:`AudioDataset` does. Yields only batches with rows left."""
    from polyvox.data.collate import collate_audio, is_empty_batch
    from polyvox.data.sampler import DurationBucketSampler

    ds = AudioDataset(utts, on_error=on_error, report_path=report_path)
    sampler = DurationBucketSampler(ds.durations, max_batch_seconds, shuffle=False, rank=0, world_size=1)
    loader = torch.utils.data.DataLoader(ds, batch_sampler=sampler, collate_fn=collate_fn or collate_audio,
                                         num_workers=num_workers)
    for batch in loader:
        if not is_empty_batch(batch):  # every clip of it skipped and reported
            yield batch
