"""DNSMOS P.835 (Reddy et al., ICASSP 2022): a non-intrusive MOS estimate of speech quality (1-5) from Microsoft's ONNX
models, which ``speechmos`` ships inside its PyPI package (nothing is downloaded). A judge only: no polyvox model is
trained on or conditioned with it.

    dnsmos(wav)  ->  {"ovrl": 2.64, "sig": 2.96, "bak": 3.79, "p808": 3.35}

``ovrl`` is the overall quality, ``sig`` the speech signal, ``bak`` the background (noise) and ``p808`` the P.808
model's single MOS. DNSMOS reads 9 s windows: a shorter clip is tiled to fill one (speechmos's rule), so a 2 s
sentence is scored as that sentence repeated.
"""

from __future__ import annotations

import numpy as np

DNSMOS_RATE = 16000


def dnsmos(wav: np.ndarray, sample_rate: int = DNSMOS_RATE) -> dict[str, float]:
    """MOS estimates of ``wav`` (samples,) float; resampled to 16 kHz when ``sample_rate`` differs, clipped to
    [-1, 1] (speechmos refuses anything outside). An empty or silent clip is a ValueError (DNSMOS has nothing to
    rate)."""
    from speechmos import dnsmos as speechmos_dnsmos

    from polyvox.data.audio import resample

    wav = np.asarray(wav, dtype=np.float32).reshape(-1)
    if sample_rate != DNSMOS_RATE:
        wav = resample(wav, sample_rate, DNSMOS_RATE)
    if wav.size == 0 or not np.any(wav):
        raise ValueError(f"DNSMOS needs speech: got {'an empty' if wav.size == 0 else 'a silent'} clip")
    scores = speechmos_dnsmos.run(np.clip(wav, -1.0, 1.0), DNSMOS_RATE)  # one ONNX session per process, cached
    return {"ovrl": float(scores["ovrl_mos"]), "sig": float(scores["sig_mos"]), "bak": float(scores["bak_mos"]),
            "p808": float(scores["p808_mos"])}
