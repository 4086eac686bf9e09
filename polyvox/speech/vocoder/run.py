"""A trained vocoder run, inference side: ``save_run`` / ``load_run`` (never downloads) / ``vocode``.

    run = load_run("work/runs/vocoder/base")
    wav = vocode(run, mel)     # mel (T, n_mels) log-mel of run.mel -> (T * hop,) float32 at run.mel.sample_rate

The run holds the generator alone (the weight average when the run kept one): ``vocoder.json`` (mel + model
settings) and ``generator.safetensors``; the discriminators stay in the training checkpoints.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path

import torch

from polyvox.data.collate import VocoderMelOptions
from polyvox.speech.vocoder.model import VocoderModelConfig, build_generator
from polyvox.train.runs import inference_device

VOCODER_FILE = "vocoder.json"
GENERATOR_FILE = "generator.safetensors"


@dataclass
class VocoderRun:
    generator: torch.nn.Module
    mel: VocoderMelOptions
    device: torch.device
    path: Path


def save_run(run_dir: str | Path, generator: torch.nn.Module, model: VocoderModelConfig,
             mel: VocoderMelOptions) -> Path:
    from safetensors.torch import save_model

    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    save_model(generator, str(run_dir / GENERATOR_FILE))
    (run_dir / VOCODER_FILE).write_text(json.dumps({"model": asdict(model), "mel": asdict(mel)}, indent=1),
                                        encoding="utf-8")
    return run_dir


def is_vocoder_run(path: str | Path) -> bool:
    return (Path(path) / VOCODER_FILE).is_file()


def load_run(path: str | Path, device: str | None = None) -> VocoderRun:
    from safetensors.torch import load_model

    path = Path(path)
    if not is_vocoder_run(path):
        raise FileNotFoundError(f"{path}: not a vocoder run (no {VOCODER_FILE}); train one with "
                                "polyvox train tts/vocoder_debug (or vocoder_hifigan on a GPU)")
    saved = json.loads((path / VOCODER_FILE).read_text(encoding="utf-8"))
    mel = VocoderMelOptions(**saved["mel"])
    generator = build_generator(VocoderModelConfig(**saved["model"]), mel.n_mels)
    load_model(generator, str(path / GENERATOR_FILE))
    dev = inference_device(device)
    return VocoderRun(generator.to(dev).eval(), mel, dev, path)


def griffin_lim(mels: torch.Tensor, mel: VocoderMelOptions, iters: int = 32) -> torch.Tensor:
    """(B, n_mels, T) log-mel -> (B, 1, T * hop) by torchaudio's Griffin-Lim (seeded phases): the baseline a
    neural vocoder has to beat, and the CPU path's vocoder."""
    import torchaudio

    inverse = torchaudio.transforms.InverseMelScale(mel.n_fft // 2 + 1, mel.n_mels, mel.sample_rate, norm=None,
                                                    mel_scale="htk", driver="gelsd").to(mels.device)
    gl = torchaudio.transforms.GriffinLim(n_fft=mel.n_fft, win_length=mel.win_length, hop_length=mel.hop_length,
                                          power=1.0, n_iter=iters).to(mels.device)
    with torch.random.fork_rng(devices=[]):  # random initial phases, but the same every call
        torch.manual_seed(0)
        wav = gl(inverse(torch.exp(mels.float())).clamp(min=0))
    return wav[:, None]


@torch.no_grad()
def vocode(run: VocoderRun, mel: torch.Tensor) -> torch.Tensor:
    """(T, n_mels) log-mel -> (T * hop,) float32 waveform on the CPU, peak-limited to 0.99."""
    if mel.dim() != 2 or mel.shape[1] != run.mel.n_mels:
        raise ValueError(f"mel must have shape (frames, {run.mel.n_mels}), got {tuple(mel.shape)}")
    wav = run.generator(mel.T[None].float().to(run.device))[0, 0, : mel.shape[0] * run.mel.hop_length].cpu()
    return wav.clamp(-0.99, 0.99)
