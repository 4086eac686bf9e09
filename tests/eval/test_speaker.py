"""SECS with resemblyzer's bundled encoder: a clip is its own voice, the score is symmetric, and it runs offline."""

import numpy as np
import pytest

from polyvox.data.audio import load_audio
from polyvox.data.manifest import read_manifest
from polyvox.eval.speaker import secs, speaker_embedding


def test_secs_of_real_clips(tiny_corpus):
    rows = read_manifest(tiny_corpus["test"])
    a, b = (load_audio(u.audio, 16000)[0] for u in rows[:2])
    emb = speaker_embedding(a)
    assert emb.shape == (256,) and abs(float(np.linalg.norm(emb)) - 1) < 1e-4
    assert secs(a, a) == pytest.approx(1.0, abs=1e-5)
    assert secs(a, b) == pytest.approx(secs(b, a), abs=1e-5) and -1 <= secs(a, b) < 0.999
    with pytest.raises(ValueError, match="16 kHz"):
        speaker_embedding(a, sample_rate=8000)
