"""Speaker similarity (SECS): cosine similarity of speaker embeddings from ``resemblyzer``'s pretrained GE2E encoder,
which ships its weights inside the PyPI package (nothing is downloaded). A judge only: no polyvox model is trained on
or conditioned with it."""

from __future__ import annotations

import functools

import numpy as np


@functools.lru_cache(maxsize=1)
def _encoder():
    from resemblyzer import VoiceEncoder

    return VoiceEncoder("cpu", verbose=False)


def speaker_embedding(wav: np.ndarray, sample_rate: int = 16000) -> np.ndarray:
    """(samples,) float at 16 kHz -> a unit-norm (256,) embedding (resemblyzer's own preprocessing: VAD, level)."""
    from resemblyzer import preprocess_wav

    if sample_rate != 16000:
        raise ValueError(f"resemblyzer expects 16 kHz audio, got {sample_rate} Hz")
    return _encoder().embed_utterance(preprocess_wav(np.asarray(wav, dtype=np.float32), source_sr=16000))


def secs(wav_a: np.ndarray, wav_b: np.ndarray) -> float:
    """Speaker-embedding cosine similarity of two 16 kHz clips, in [-1, 1] (1: the same voice)."""
    a, b = speaker_embedding(wav_a), speaker_embedding(wav_b)
    return float(np.dot(a, b) / (np.linalg.norm(a) * np.linalg.norm(b)))
