"""Re-aligning phone durations at the decoder's frame rate (polyvox.speech.tts.realign)."""

import numpy as np
import pytest

from polyvox.data.audio import save_audio
from polyvox.data.manifest import Utterance
from polyvox.speech.tts.config import MelConfig
from polyvox.speech.tts.realign import (edge_silence, frame_labels, log_normal_prior, realign, segment_durations)


def _emissions(lead, durs, trail, off=-5.0):
    """log-probs (T, N + 2) that favour exactly this segmentation: 0 on the true column, ``off`` elsewhere."""
    cols = [0] * lead + [i + 1 for i, d in enumerate(durs) for _ in range(d)] + [len(durs) + 1] * trail
    out = np.full((len(cols), len(durs) + 2), off)
    out[np.arange(len(cols)), cols] = 0.0
    return out


def test_segment_durations_recovers_a_clear_segmentation_with_edge_silence():
    flat = np.zeros((3, 31))
    flat[:, 0] = -np.inf
    assert segment_durations(_emissions(2, [5, 4, 6], 3), flat) == (2, [5, 4, 6], 3)
    assert segment_durations(_emissions(0, [1, 7], 0), flat[:2]) == (0, [1, 7], 0)


def test_segment_durations_duration_prior_decides_when_frames_say_nothing():
    """Frames that favour no token: without a prior any split is as good; a prior peaked at 4 gives 4, 4, 4."""
    even = np.zeros((12, 5))
    even[:, [0, 4]] = -10.0  # not silence
    prior = np.tile(log_normal_prior(np.log(4.0), 0.3, 20), (3, 1))
    assert segment_durations(even, prior) == (0, [4, 4, 4], 0)


def test_segment_durations_rejects_too_few_frames_and_too_short_a_maximum():
    prior = np.tile(log_normal_prior(1.0, 0.5, 3), (4, 1))
    with pytest.raises(ValueError, match="4 tokens to 3 frames"):
        segment_durations(np.zeros((3, 6)), prior)
    with pytest.raises(ValueError, match="durations <= 3"):
        segment_durations(_emissions(0, [10, 1, 1, 1], 0, off=-np.inf), prior)  # only a 10-frame first token fits


def test_log_normal_prior_is_normalized_and_peaks_near_its_median():
    p = log_normal_prior(np.log(5.0), 0.4, 40)
    assert p[0] == -np.inf
    assert np.isclose(np.exp(p[1:]).sum(), 1.0)
    assert 3 <= int(np.argmax(p)) <= 5


def test_edge_silence_and_frame_labels():
    energy = np.array([-11.5, -11.5, -3.0, -9.0, -2.0, -11.5, -11.5, -11.5])
    assert edge_silence(energy) == (2, 3)  # the quiet frame inside (a stop's closure) is not an edge
    assert edge_silence(np.full(4, -11.5)) == (0, 0)
    assert frame_labels([3, 2, 3], [7, 8, 9], 1, 2).tolist() == [0, 7, 7, 8, 8, 9, 0, 0]


TONES = {"a": 300.0, "e": 700.0, "i": 1500.0, "s": 2800.0, "u": 4500.0}


def _tone_corpus(tmp_path, n=40, seed=0):
    """Utterances whose 'phones' are tones of known durations (decoder frames of 20 ms), after 0-3 frames of
    silence and before 4-9 frames of it; returns (rows, true durations with the silences folded in)."""
    rng = np.random.default_rng(seed)
    rows, truth = [], {}
    hop = 320  # one decoder frame: 2 mel frames of 10 ms at 16 kHz
    for k in range(n):
        toks = list(rng.choice(list(TONES), size=int(rng.integers(3, 6))))
        toks = [t for i, t in enumerate(toks) if i == 0 or t != toks[i - 1]]
        durs = rng.integers(3, 9, size=len(toks)).tolist()
        lead, trail = int(rng.integers(0, 4)), int(rng.integers(4, 10))
        parts = [np.zeros(lead * hop)]
        for t, d in zip(toks, durs):
            time = np.arange(d * hop) / 16000
            parts.append(0.3 * np.sin(2 * np.pi * TONES[t] * time))
        parts.append(np.zeros(trail * hop + 192))  # + the 32 ms window's tail, so the frame count is exact
        wav = np.concatenate(parts).astype(np.float32)
        path = save_audio(tmp_path / f"u{k}.wav", wav)
        rows.append(Utterance(id=f"u{k}", audio=str(path), duration=len(wav) / 16000, sample_rate=16000,
                              language="xx", speaker="s", phonemes=" ".join(toks)))
        truth[f"u{k}"] = [durs[0] + lead, *durs[1:-1], durs[-1] + trail] if len(durs) > 1 else [lead + durs[0] + trail]
    return rows, truth


def _boundary_error(a, b):
    return float(np.mean([np.abs(np.cumsum(a[k])[:-1] - np.cumsum(b[k])[:-1]).mean() for k in a if len(a[k]) > 1]))


def test_realign_moves_late_boundaries_back_onto_the_tones(tmp_path):
    """CTC-like durations whose boundaries come 3 frames late (the last tone's frames given to the one before,
    the trailing silence to the last): re-alignment finds the tone changes again."""
    rows, truth = _tone_corpus(tmp_path)
    late = {}
    for k, d in truth.items():
        shifted = list(d)
        if len(d) > 1:
            shifted[0] += 3
            shifted[-1] -= 3
        late[k] = shifted
    assert _boundary_error(late, truth) == pytest.approx(3.0)
    mel = MelConfig().fbank()
    new = realign(rows, late, mel=mel, reduction=2, rounds=2, epochs=25, lr=3e-3, log=lambda m: None)
    assert set(new) == set(truth)
    assert all(sum(new[k]) == sum(truth[k]) for k in truth)  # every frame still belongs to a token
    assert _boundary_error(new, truth) < 1.0
