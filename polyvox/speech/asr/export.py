"""Export a trained run as a Hugging Face model directory.

    export_run("work/runs/asr_ctc/xlsr", "work/export/xlsr")
    pipe = transformers.pipeline("automatic-speech-recognition", model="work/export/xlsr")

The directory holds ``config.json`` + ``model.safetensors`` (the ``*ForCTC`` model), and the
processor: ``preprocessor_config.json`` (``Wav2Vec2FeatureExtractor`` with the same
per-utterance normalization polyvox applies) and the tokenizer (``vocab.json`` unchanged;
``Wav2Vec2CTCTokenizer`` for characters, ``Wav2Vec2PhonemeCTCTokenizer`` without phonemizer for
IPA targets, so the text is the same as ``polyvox transcribe`` prints).

Only Hugging Face backbones (``hf``, ``hf_scratch``) can be exported this way; a Conformer run
has no transformers architecture and raises :class:`ExportError` (use ``polyvox transcribe`` or
:func:`polyvox.speech.asr.load_run` with the run directory instead).
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from polyvox.speech.asr.run import CONFIG_FILE, VOCAB_FILE, load_run
from polyvox.speech.asr.model import HFCTC


class ExportError(ValueError):
    """The run cannot be exported to the Hugging Face format."""


def make_processor(vocab_file: str | os.PathLike, unit: str, return_attention_mask: bool):
    """Feature extractor + tokenizer matching polyvox's preprocessing and text output."""
    from transformers import Wav2Vec2CTCTokenizer, Wav2Vec2FeatureExtractor, Wav2Vec2PhonemeCTCTokenizer, Wav2Vec2Processor

    fe = Wav2Vec2FeatureExtractor(feature_size=1, sampling_rate=16000, padding_value=0.0, do_normalize=True,
                                  return_attention_mask=return_attention_mask)  # fmt: skip
    common = dict(unk_token="<unk>", pad_token="<pad>", bos_token=None, eos_token=None)
    if unit == "char":
        tok = Wav2Vec2CTCTokenizer(str(vocab_file), word_delimiter_token="|", do_lower_case=False, **common)
    else:  # "|" stays a token, segments are joined by spaces: "h a | j u"
        tok = Wav2Vec2PhonemeCTCTokenizer(str(vocab_file), do_phonemize=False, word_delimiter_token=None,
                                          phone_delimiter_token=" ", **common)  # fmt: skip
    return Wav2Vec2Processor(feature_extractor=fe, tokenizer=tok)


def export_run(run_dir: str | os.PathLike, out_dir: str | os.PathLike, weights: str | os.PathLike | None = None) -> Path:
    """Write ``run_dir``'s model as a Hugging Face directory at ``out_dir``; returns ``out_dir``."""
    run = load_run(run_dir, device="cpu", weights=weights)
    if not isinstance(run.model, HFCTC):
        raise ExportError(
            f"{run_dir}: backbone '{run.config.model.backbone}' has no Hugging Face architecture, so it cannot be "
            "exported for transformers.pipeline. Use 'polyvox transcribe RUN audio.wav' or "
            "polyvox.speech.asr.load_run(RUN) with the run directory itself (config.yaml, vocab.json, "
            "model.safetensors), or train with model.backbone=hf / hf_scratch to get an exportable model."
        )
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    hf = run.model.hf
    hf.config.vocab_size = len(run.vocab)
    hf.config.pad_token_id = run.vocab.blank_id
    hf.save_pretrained(out, safe_serialization=True)
    make_processor(Path(run_dir) / VOCAB_FILE, run.unit, run.model.use_attention_mask).save_pretrained(out)
    shutil.copyfile(Path(run_dir) / CONFIG_FILE, out / "polyvox_config.yaml")
    return out
