"""F5-style runs, inference side: load a user's local F5-TTS checkpoint or a polyvox run, extend its vocabulary to a
new language, save, and synthesize (never downloads).

    model, vocab, mel = from_pretrained("ckpts/F5TTS_v1_Base/model_1250000.safetensors")  # vocab.txt beside it
    model, vocab = extend_vocab(model, vocab, ipa_tokens)        # new rows for tokens the checkpoint never saw
    save_pretrained("work/runs/f5/sw", model, vocab, mel)
    run = load_run("work/runs/f5/sw");  wav = synthesize(run, "habari", "sw", reference="voice.wav")

A checkpoint is F5-TTS's own file: a ``.pt`` holding ``ema_model_state_dict`` (``ema_model.transformer.*``, its
weights average) or ``model_state_dict``, or a ``.safetensors`` of the EMA weights; the vocabulary is F5-TTS's
``vocab.txt`` (one token per line, line number = id). The architecture is read from the tensor shapes; the one thing
shapes cannot tell, the number of heads, defaults to width / 64 (F5-TTS's Base and Small) unless given.
F5-TTS v0 checkpoints (``F5TTS_Base``, ``F5TTS_Small``) differ from v1 in two settings shapes cannot tell either:
pass ``**V0_ARCH`` (``text_mask_padding=False, pe_attn_head=1``).
A polyvox run directory holds ``f5_config.json`` (model + mel), ``model.safetensors`` and ``vocab.txt``.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Sequence

import numpy as np
import torch

from polyvox.data.collate import VocoderMelOptions, vocoder_mel
from polyvox.speech.f5tts.model import F5TTS, F5Config
from polyvox.train.runs import MODEL_FILE, inference_device

F5_CONFIG_FILE = "f5_config.json"
V0_ARCH = {"text_mask_padding": False, "pe_attn_head": 1}  # F5-TTS v0's settings (its F5TTS_Base / _Small yaml)
VOCAB_FILE = "vocab.txt"
WORD_BOUNDARY = " "  # polyvox's phoneme word boundary "|" is F5-TTS's space token
_BLOCK_KEY = "transformer.transformer_blocks.{}.attn_norm.linear.weight"


class CheckpointError(ValueError):
    pass


# ---- vocabulary


def read_vocab(path: str | Path) -> list[str]:
    """F5-TTS's ``vocab.txt``: token i is line i (a line may be a single space: the word boundary)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no vocabulary file (F5-TTS's vocab.txt, one token per line)")
    tokens = path.read_text(encoding="utf-8").split("\n")
    tokens = tokens[:-1] if tokens and tokens[-1] == "" else tokens
    if len(set(tokens)) != len(tokens):
        dup = next(t for t in tokens if tokens.count(t) > 1)
        raise CheckpointError(f"{path}: token {dup!r} is listed twice")
    return tokens


def write_vocab(path: str | Path, tokens: Sequence[str]) -> None:
    bad = [t for t in tokens if "\n" in t or not t]
    if bad:
        raise ValueError(f"vocabulary tokens must be non-empty and hold no newline: {bad[:3]}")
    Path(path).write_text("".join(t + "\n" for t in tokens), encoding="utf-8")


def phoneme_tokens(phonemes: str) -> list[str]:
    """polyvox IPA (``"h ə l oʊ | w ɜː l d"``) -> tokens, the word boundary as F5-TTS's space."""
    return [WORD_BOUNDARY if p == "|" else p for p in phonemes.split()]


def encode(tokens: Sequence[str], vocab: Sequence[str]) -> tuple[list[int], list[str]]:
    """Token strings -> (ids, the tokens the vocabulary lacks). Unknown tokens are dropped, not mapped to a
    guess (F5-TTS maps them to id 0)."""
    index = {t: i for i, t in enumerate(vocab)}
    ids = [index[t] for t in tokens if t in index]
    return ids, sorted({t for t in tokens if t not in index})


def pad_ids(rows: Sequence[Sequence[int]], device=None) -> torch.Tensor:
    """Id lists -> (B, N) long, -1 = padding (what the DiT's text embedding expects)."""
    out = torch.full((len(rows), max((len(r) for r in rows), default=0) or 1), -1, dtype=torch.long)
    for i, r in enumerate(rows):
        out[i, : len(r)] = torch.tensor(list(r), dtype=torch.long)
    return out.to(device) if device is not None else out


def extend_vocab(model: F5TTS, vocab: Sequence[str], new_tokens: Sequence[str], *, seed: int = 0
                 ) -> tuple[F5TTS, list[str]]:
    """Append the tokens ``vocab`` lacks (in order of first appearance) and grow the text embedding by as many rows.

    Every old row is kept as it was; new rows are drawn from a normal with the old rows' mean and std (a seeded
    generator: the same call gives the same model). Returns the model (changed in place) and the new vocabulary."""
    vocab = list(vocab)
    added = [t for t in dict.fromkeys(new_tokens) if t not in set(vocab)]
    if not added:
        return model, vocab
    embed = model.transformer.text_embed.text_embed
    old = embed.weight.data
    gen = torch.Generator().manual_seed(seed)
    rows = torch.randn(len(added), old.shape[1], generator=gen) * old[1:].std() + old[1:].mean()
    grown = torch.nn.Embedding(old.shape[0] + len(added), old.shape[1]).to(old.device, old.dtype)
    grown.weight.data = torch.cat([old, rows.to(old.device, old.dtype)])
    model.transformer.text_embed.text_embed = grown
    model.cfg.text_num_embeds += len(added)
    model.transformer.cfg.text_num_embeds = model.cfg.text_num_embeds
    return model, vocab + added


# ---- F5-TTS checkpoints


def f5_weights(state: dict) -> dict[str, torch.Tensor]:
    """The model weights (``transformer.*``) of an F5-TTS checkpoint dict, EMA first."""
    if "ema_model_state_dict" in state:
        state = {k.removeprefix("ema_model."): v for k, v in state["ema_model_state_dict"].items()}
    elif "model_state_dict" in state:
        state = state["model_state_dict"]
    else:
        state = {k.removeprefix("ema_model."): v for k, v in state.items()}
    weights = {k: v for k, v in state.items() if k.startswith("transformer.")}
    if _BLOCK_KEY.format(0) not in weights:
        raise CheckpointError("not an F5-TTS DiT checkpoint: no 'transformer.transformer_blocks.0.*' weights "
                              f"(found {sorted(state)[:5]} ...)")
    return weights


def config_from_weights(weights: dict[str, torch.Tensor], **overrides) -> F5Config:
    """The DiT's shape read off its tensors; ``overrides`` (heads, dim_head, dropout, ...) win."""
    dim = weights["transformer.time_embed.time_mlp.0.weight"].shape[0]
    embed = weights["transformer.text_embed.text_embed.weight"]
    q_norm = weights.get("transformer.transformer_blocks.0.attn.q_norm.weight")
    inner = weights["transformer.transformer_blocks.0.attn.to_q.weight"].shape[0]
    if "dim_head" in overrides:
        dim_head = overrides.pop("dim_head")
    elif q_norm is not None:
        dim_head = q_norm.shape[0]
    else:
        dim_head = inner // overrides["heads"] if "heads" in overrides else 64
    found = dict(
        dim=dim, depth=sum(1 for i in range(1000) if _BLOCK_KEY.format(i) in weights),
        heads=inner // dim_head, dim_head=dim_head,
        ff_mult=weights["transformer.transformer_blocks.0.ff.ff.0.0.weight"].shape[0] / dim,
        mel_dim=weights["transformer.proj_out.weight"].shape[0],
        text_num_embeds=embed.shape[0] - 1, text_dim=embed.shape[1],
        conv_layers=sum(1 for i in range(100) if f"transformer.text_embed.text_blocks.{i}.dwconv.weight" in weights),
        qk_norm="rms_norm" if q_norm is not None else None,
        long_skip_connection="transformer.long_skip_connection.weight" in weights)
    found.update(overrides)
    if found["heads"] * found["dim_head"] != inner:
        raise CheckpointError(f"heads ({found['heads']}) x dim_head ({found['dim_head']}) must be the attention width "
                              f"{inner} of this checkpoint")
    return F5Config(**found)


def model_from_f5_state(state: dict, **overrides) -> F5TTS:
    """An :class:`F5TTS` holding an F5-TTS checkpoint dict's weights (strict: every tensor must match)."""
    weights = f5_weights(state)
    model = F5TTS(config_from_weights(weights, **overrides))
    expected = model.state_dict()
    missing = sorted(set(expected) - set(weights))
    unexpected = sorted(set(weights) - set(expected))
    if missing or unexpected:
        raise CheckpointError(f"checkpoint and model differ: missing {missing[:5]}, unexpected {unexpected[:5]}")
    model.load_state_dict(weights)
    return model


def read_checkpoint(path: Path) -> dict:
    if path.suffix == ".safetensors":
        from safetensors.torch import load_file

        return load_file(str(path))
    if path.suffix in (".pt", ".pth", ".ckpt"):
        return torch.load(path, map_location="cpu", weights_only=True)
    raise CheckpointError(f"{path}: expected an F5-TTS .pt or .safetensors checkpoint")


def is_f5_run(path: str | Path) -> bool:
    """A polyvox F5 run directory (F5-TTS's own checkpoint files do not record their mel settings)."""
    return (Path(path) / F5_CONFIG_FILE).is_file()


def from_pretrained(path: str | Path, *, vocab: str | Path | None = None, **overrides
                    ) -> tuple[F5TTS, list[str], VocoderMelOptions]:
    """(model, vocabulary, mel settings) from a polyvox run directory or a local F5-TTS checkpoint file (or a folder
    holding one ``model_*`` file and ``vocab.txt``). F5-TTS checkpoints use its 24 kHz / 100-mel Vocos mel."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{path}: no such checkpoint or run directory (nothing is downloaded)")
    if is_f5_run(path):
        from safetensors.torch import load_model

        saved = json.loads((path / F5_CONFIG_FILE).read_text(encoding="utf-8"))
        model = F5TTS(F5Config(**{**saved["model"], **overrides}))
        load_model(model, str(path / MODEL_FILE))
        return model, read_vocab(vocab or path / VOCAB_FILE), VocoderMelOptions(**saved["mel"])
    if path.is_dir():
        files = sorted(p for p in path.iterdir() if p.suffix in (".pt", ".safetensors") and p.name.startswith("model"))
        if len(files) != 1:
            raise CheckpointError(f"{path}: expected one model_*.pt / .safetensors checkpoint, found "
                                  f"{[p.name for p in files] or 'none'}; pass the file itself")
        path = files[0]
    model = model_from_f5_state(read_checkpoint(path), **overrides)
    tokens = read_vocab(vocab or path.parent / VOCAB_FILE)
    if len(tokens) != model.cfg.text_num_embeds:
        raise CheckpointError(f"{vocab or path.parent / VOCAB_FILE}: {len(tokens)} tokens, but {path} embeds "
                              f"{model.cfg.text_num_embeds}")
    return model, tokens, VocoderMelOptions()


def save_pretrained(run_dir: str | Path, model: F5TTS, vocab: Sequence[str], mel: VocoderMelOptions, *,
                    frames_per_token: float | None = None, languages: Sequence[str] = (), vocoder: str = "") -> Path:
    """Write a run. ``frames_per_token`` (the training data's speaking rate), ``languages`` and ``vocoder`` (a
    vocoder run) are what :func:`synthesize` uses when it is not told otherwise."""
    from safetensors.torch import save_model

    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    save_model(model, str(run_dir / MODEL_FILE))
    write_vocab(run_dir / VOCAB_FILE, vocab)
    info = {"model": asdict(model.cfg), "mel": asdict(mel), "frames_per_token": frames_per_token,
            "languages": list(languages), "vocoder": vocoder}
    (run_dir / F5_CONFIG_FILE).write_text(json.dumps(info, indent=1, ensure_ascii=False), encoding="utf-8")
    return run_dir


# ---- synthesis


DEFAULT_FRAMES_PER_TOKEN = 6.0  # ~15 phones/s at 93.75 frames/s, for a run that did not measure its data's rate


@dataclass
class F5Run:
    model: F5TTS
    vocab: list[str]
    mel: VocoderMelOptions
    device: torch.device
    path: Path
    frames_per_token: float = DEFAULT_FRAMES_PER_TOKEN
    languages: tuple[str, ...] = ()
    vocoder: str = ""


def load_run(path: str | Path, device: str | None = None) -> F5Run:
    """A polyvox F5 run or an F5-TTS checkpoint, on ``device`` (default: the GPU when there is one), in eval mode."""
    model, vocab, mel = from_pretrained(path)
    dev = inference_device(device)
    info = json.loads((Path(path) / F5_CONFIG_FILE).read_text(encoding="utf-8")) if is_f5_run(path) else {}
    return F5Run(model.to(dev).eval(), vocab, mel, dev, Path(path),
                 info.get("frames_per_token") or DEFAULT_FRAMES_PER_TOKEN, tuple(info.get("languages", ())),
                 info.get("vocoder", ""))


def generate_mel(run: F5Run, tokens: Sequence[str], prompt_wav: torch.Tensor, *, frames: int | None = None,
                 frames_per_token: float | None = None, steps: int = 32, method: str = "euler", cfg_strength: float = 2.0,
                 sway: float | None = -1.0, seed: int = 0) -> torch.Tensor:
    """New mel frames (T, n_mels) for ``tokens``, in the voice of ``prompt_wav`` (samples,) at ``run.mel``'s rate.

    The prompt needs no transcript: the text is filled over prompt + new frames. The new length is ``frames`` or,
    without it, ``frames_per_token`` per token (default: the rate the run measured on its training data)."""
    ids, unknown = encode(tokens, run.vocab)
    if unknown:
        raise ValueError(f"tokens not in the vocabulary of {run.path}: {unknown[:10]}; extend_vocab() and fine-tune")
    from polyvox.speech.f5tts import flow

    wav = prompt_wav.float().to(run.device)[None]
    prompt, prompt_lens = vocoder_mel(wav, torch.tensor([wav.shape[1]], device=run.device), run.mel)
    rate = frames_per_token if frames_per_token is not None else run.frames_per_token
    new = int(frames if frames is not None else round(rate * max(len(ids), 1)))
    out = flow.sample(run.model, prompt, prompt_lens, pad_ids([ids], run.device), prompt_lens + new, steps=steps,
                      method=method, cfg_strength=cfg_strength, sway=sway, seed=seed)
    return out[0, int(prompt_lens[0]):]


def synthesize(run: F5Run, text: str, lang: str, reference, *, steps: int = 16, cfg_strength: float = 2.0,
               seed: int = 0) -> np.ndarray:
    """Speech (samples,) float32 at ``run.mel.sample_rate`` of ``text`` in ``lang``, in the voice of ``reference``
    (a path, or samples at that rate), whose transcript is not needed. Text is phonemized by espeak-ng as the corpus
    is; the length is the run's measured speaking rate; vocoded by the run's vocoder run, else Griffin-Lim.
    ValueError (naming what) for empty text, an unknown language, phones outside the vocabulary, a bad reference."""
    from polyvox.data.audio import load_audio
    from polyvox.data.synth.corpus import corpus_phonemes
    from polyvox.data.synth.words import resolve_language

    if not text or not text.strip():
        raise ValueError("text is empty; give the words to speak")
    code = resolve_language(lang).code
    if run.languages and code not in run.languages:
        raise ValueError(f"language {lang!r}: this run was trained on {list(run.languages)}")
    tokens = phoneme_tokens(corpus_phonemes(text.strip(), code))
    unknown = encode(tokens, run.vocab)[1]
    if unknown:
        raise ValueError(f"phones {unknown} of this text are not in the vocabulary of {run.path}")
    if reference is None:
        raise ValueError("no reference clip: give a recording of the voice to speak in (any language)")
    wav = load_audio(reference, run.mel.sample_rate)[0] if isinstance(reference, (str, Path)) else reference
    mel = generate_mel(run, tokens, torch.as_tensor(np.asarray(wav, dtype=np.float32)), steps=steps,
                       cfg_strength=cfg_strength, seed=seed)
    if run.vocoder and Path(run.vocoder).is_dir():
        from polyvox.speech.vocoder.run import load_run as load_vocoder, vocode

        return vocode(load_vocoder(run.vocoder, str(run.device)), mel).numpy()
    from polyvox.speech.vocoder.run import griffin_lim

    return griffin_lim(mel.T[None].cpu(), run.mel)[0, 0].clamp(-0.99, 0.99).numpy()
