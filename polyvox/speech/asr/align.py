"""Where each word of a transcript is spoken in a clip: CTC forced alignment
(``torchaudio.functional.forced_align``) of a char run's posteriors against the words' characters.

    times = word_times(load_run("work/runs/asr_ctc/chars"), wav, ["the", "euro", "is", "used"])
    # [(0.12, 0.31), (0.36, 0.70), ...] seconds; None for a word with no character the run knows

Spoken-SQuAD's contexts are released as transcripts beside their audio, with no timing: this is how the spoken QA
recipe learns which pause-delimited piece of a context holds the answer.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
import torch

from polyvox.data.text import normalize_text
from polyvox.speech.asr.vocab import WORD


def word_tokens(vocab, words: Sequence[str]) -> tuple[list[int], list[int]]:
    """(token ids, owner word index per id) of ``words``: each word's normalized characters that ``vocab`` knows,
    ``|`` between words; a word none of whose characters the vocabulary knows gets no tokens (and no boundary)."""
    ids, owner = [], []
    for k, w in enumerate(words):
        chars = [c for c in normalize_text(w) if c != " " and c in vocab]
        if not chars:
            continue
        if ids:
            ids.append(vocab.word_id)
            owner.append(-1)
        ids += vocab.encode(chars)
        owner += [k] * len(chars)
    return ids, owner


def align_words(log_probs: torch.Tensor, vocab, words: Sequence[str], frame_s: float
                ) -> list[tuple[float, float] | None]:
    """(start, end) seconds of each word from one clip's CTC log-probabilities (F, V) at ``frame_s`` seconds per
    frame; None for a word with no known character. ValueError when the words need more frames than the clip has."""
    import torchaudio

    ids, owner = word_tokens(vocab, words)
    times: list[tuple[float, float] | None] = [None] * len(words)
    if not ids:
        return times
    repeats = sum(a == b for a, b in zip(ids, ids[1:]))  # CTC puts a blank between repeated tokens
    if len(ids) + repeats > log_probs.shape[0]:
        raise ValueError(f"{len(ids)} tokens ({len(words)} words) need more than the clip's {log_probs.shape[0]} "
                         f"frames: the transcript is longer than the speech")
    path, scores = torchaudio.functional.forced_align(log_probs[None].float().cpu(),
                                                     torch.tensor([ids], dtype=torch.int32), blank=vocab.blank_id)
    spans = torchaudio.functional.merge_tokens(path[0], scores[0].exp())
    for span, k in zip(spans, owner):  # one span per target token, in order
        if k < 0:
            continue
        a, b = span.start * frame_s, span.end * frame_s
        times[k] = (a, b) if times[k] is None else (times[k][0], b)
    return times


@torch.inference_mode()
def word_times(run, wav: np.ndarray, words: Sequence[str], sample_rate: int = 16000
               ) -> list[tuple[float, float] | None]:
    """(start, end) seconds of each of ``words`` in ``wav`` (S,) at ``sample_rate``, aligned by the char
    :class:`~polyvox.speech.asr.run.AsrRun` ``run``; None for a word with no character the run knows."""
    if run.unit != "char":
        raise ValueError(f"word_times needs a char run; {run.run_dir} predicts {run.unit}s")
    if WORD not in run.vocab:
        raise ValueError(f"{run.run_dir}: its vocabulary has no word boundary {WORD!r}")
    x = torch.as_tensor(np.asarray(wav, dtype=np.float32))[None].to(run.device)
    was = run.model.training
    run.model.eval()
    try:
        log_probs, lens = run.model(x, torch.tensor([x.shape[1]], device=run.device))
    finally:
        run.model.train(was)
    n = int(lens[0])
    return align_words(log_probs[0, :n], run.vocab, words, frame_s=x.shape[1] / sample_rate / max(n, 1))
