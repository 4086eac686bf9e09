"""All audio decoding, mixing down, resampling and writing in polyvox goes through this module.

Decoding uses soundfile (libsndfile: wav, flac, ogg, mp3), resampling uses soxr. Every failure
is raised as :class:`AudioError`, which names the file and the reason, instead of a stack trace
from inside a library. ``torchaudio.load`` is not used: it now needs torchcodec.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile as sf
import soxr

DEFAULT_SAMPLE_RATE = 16000
SILENCE_PEAK = 1e-4  # peak |x| below this (about -80 dBFS) counts as silence-only


class AudioError(ValueError):
    """Audio that cannot be used. ``path`` and ``reason`` are kept for reports."""

    def __init__(self, path: str | os.PathLike, reason: str):
        self.path = str(path)
        self.reason = reason
        super().__init__(f"{self.path}: {reason}")


@dataclass(frozen=True)
class AudioInfo:
    sample_rate: int
    frames: int
    channels: int
    format: str

    @property
    def duration(self) -> float:
        return self.frames / self.sample_rate


def _check_file(path: Path) -> None:
    if not path.exists():
        raise AudioError(path, "file not found")
    if path.is_dir():
        raise AudioError(path, "is a directory, expected an audio file")
    if path.stat().st_size == 0:
        raise AudioError(path, "empty file (0 bytes)")


def _explain_decode_error(path: Path, err: Exception) -> AudioError:
    with open(path, "rb") as f:  # only the head: files can be large
        head = f.read(512)
    if head and all(32 <= b < 127 or b in b"\t\r\n" for b in head):
        return AudioError(path, "not an audio file: it contains text")
    if head[:4] == b"RIFF" and len(head) < 44:
        return AudioError(path, f"truncated WAV header ({len(head)} bytes, a header needs 44)")
    return AudioError(path, f"cannot decode audio: corrupt or truncated header or unsupported format ({err})")


def audio_info(path: str | os.PathLike) -> AudioInfo:
    """Header facts without decoding the samples."""
    path = Path(path)
    _check_file(path)
    try:
        info = sf.info(str(path))
    except Exception as e:  # libsndfile raises several types for bad files
        raise _explain_decode_error(path, e) from None
    if info.frames <= 0 or info.samplerate <= 0:
        raise AudioError(path, "no audio samples in file")
    return AudioInfo(int(info.samplerate), int(info.frames), int(info.channels), str(info.format))


def resample(wav: np.ndarray, orig_sr: int, target_sr: int) -> np.ndarray:
    """Resample a float32 signal of shape (time,) from ``orig_sr`` to ``target_sr`` Hz."""
    if orig_sr == target_sr:
        return wav
    return soxr.resample(wav, orig_sr, target_sr, quality="HQ").astype(np.float32, copy=False)


def load_audio(
    path: str | os.PathLike,
    sample_rate: int = DEFAULT_SAMPLE_RATE,
    *,
    expected_duration: float | None = None,
    duration_tolerance: float = 0.1,
    allow_silence: bool = False,
) -> tuple[np.ndarray, float]:
    """Decode ``path`` to mono float32 at ``sample_rate`` Hz.

    Returns ``(wav, duration)``: ``wav`` has shape (time,), ``duration`` is in seconds.
    Multichannel audio is averaged to mono; other rates are resampled. Raises
    :class:`AudioError` for missing, empty, truncated or non-audio files, NaN/inf samples,
    silence-only audio (unless ``allow_silence``), and a duration that differs from
    ``expected_duration`` (e.g. the manifest's) by more than ``duration_tolerance`` seconds.
    """
    path = Path(path)
    _check_file(path)
    try:
        data, sr = sf.read(str(path), dtype="float32", always_2d=True)
    except Exception as e:
        raise _explain_decode_error(path, e) from None
    return _to_mono_checked(
        data, sr, path, sample_rate,
        expected_duration=expected_duration, duration_tolerance=duration_tolerance, allow_silence=allow_silence,
    )


def _to_mono_checked(
    data: np.ndarray,
    sr: int,
    name: str | os.PathLike,
    sample_rate: int,
    *,
    expected_duration: float | None,
    duration_tolerance: float,
    allow_silence: bool,
) -> tuple[np.ndarray, float]:
    """(time, channels) float32 at ``sr`` -> checked mono (time,) at ``sample_rate``, and its duration."""
    if data.shape[0] == 0:
        raise AudioError(name, "no audio samples in file")
    if not np.isfinite(data).all():
        bad = int((~np.isfinite(data)).sum())
        raise AudioError(name, f"{bad} NaN/inf sample(s)")
    wav = data.mean(axis=1) if data.shape[1] > 1 else data[:, 0]
    wav = resample(np.ascontiguousarray(wav, dtype=np.float32), sr, sample_rate)
    duration = len(wav) / sample_rate
    if not allow_silence and float(np.abs(wav).max(initial=0.0)) < SILENCE_PEAK:
        raise AudioError(name, "silence only (peak below -80 dBFS)")
    if expected_duration is not None and abs(duration - expected_duration) > duration_tolerance:
        raise AudioError(
            name,
            f"duration {duration:.3f} s disagrees with the manifest's {expected_duration:.3f} s "
            f"(tolerance {duration_tolerance} s)",
        )
    return wav, duration


def save_audio(path: str | os.PathLike, wav: np.ndarray, sample_rate: int = DEFAULT_SAMPLE_RATE) -> Path:
    """Write a mono float signal of shape (time,) as 16-bit PCM WAV, atomically."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".part")
    sf.write(str(tmp), np.clip(np.asarray(wav, dtype=np.float32), -1.0, 1.0), sample_rate, subtype="PCM_16", format="WAV")
    os.replace(tmp, path)
    return path


def load_audio_bytes(
    data: bytes,
    sample_rate: int = DEFAULT_SAMPLE_RATE,
    name: str = "<bytes>",
    *,
    expected_duration: float | None = None,
    duration_tolerance: float = 0.1,
    allow_silence: bool = False,
) -> tuple[np.ndarray, float]:
    """Decode encoded audio held in memory (e.g. a Hugging Face dataset row). Same contract as load_audio;
    ``name`` stands in for the file name in errors."""
    import io

    if not data:
        raise AudioError(name, "empty audio bytes")
    try:
        arr, sr = sf.read(io.BytesIO(data), dtype="float32", always_2d=True)
    except Exception as e:
        head = bytes(data[:512])
        if all(32 <= b < 127 or b in b"\t\r\n" for b in head):
            raise AudioError(name, "not audio: the bytes are text") from None
        raise AudioError(name, f"cannot decode audio bytes ({e})") from None
    return _to_mono_checked(
        arr, sr, name, sample_rate,
        expected_duration=expected_duration, duration_tolerance=duration_tolerance, allow_silence=allow_silence,
    )


def load_audio_files(paths, sample_rate: int = DEFAULT_SAMPLE_RATE, prog: str = "polyvox"):
    """A command line's audio arguments -> (waveforms, the paths that loaded, status). Each unreadable file is
    reported on stderr with its reason and makes the status 1; the others still load."""
    import sys

    wavs, names, status = [], [], 0
    for path in paths:
        try:
            wavs.append(load_audio(path, sample_rate)[0])
            names.append(path)
        except AudioError as e:  # its message names the file
            print(f"{prog}: {e}", file=sys.stderr)
            status = 1
    return wavs, names, status


def speech_segments(wav: np.ndarray, sample_rate: int = DEFAULT_SAMPLE_RATE, *, min_gap_s: float = 0.4,
                    min_speech_s: float = 0.15, floor_db: float = 35.0, frame_s: float = 0.02) -> list[tuple[float, float]]:
    """(start, end) seconds of the stretches of ``wav`` (S,) louder than ``floor_db`` below its loudest 20 ms frame,
    split where a pause lasts ``min_gap_s`` or more: the records of a context read one after another. An energy
    rule, not a VAD: for clean (synthesized or studio) speech."""
    hop = max(1, int(frame_s * sample_rate))
    n = len(wav) // hop
    if n == 0:
        return []
    rms = np.sqrt(np.mean(np.asarray(wav[: n * hop], dtype=np.float64).reshape(n, hop) ** 2, axis=1)) + 1e-10
    db = 20 * np.log10(rms)
    loud = db > db.max() - floor_db
    segments, start, quiet = [], None, 0
    gap = max(1, int(round(min_gap_s / frame_s)))
    for i, on in enumerate(loud):
        if on:
            start, quiet = (i if start is None else start), 0
        elif start is not None:
            quiet += 1
            if quiet >= gap:
                segments.append((start, i - quiet + 1))
                start, quiet = None, 0
    if start is not None:
        segments.append((start, n - quiet))
    return [(round(a * frame_s, 3), round(b * frame_s, 3)) for a, b in segments if (b - a) * frame_s >= min_speech_s]
