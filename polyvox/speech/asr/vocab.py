"""CTC output vocabularies: characters or IPA phonemes, shared across languages.

A vocabulary is an ordered token list. Index 0 is the CTC blank, which is also the padding
token (``"<pad>"``, as in Hugging Face's Wav2Vec2CTCTokenizer); ``"<unk>"`` is index 1 and
``"|"`` (the word delimiter) index 2. On disk it is ``vocab.json``: ``{token: id}``, the same
format Hugging Face tokenizers read, so an exported model can reuse the file unchanged.

Target units:

* ``"char"``: normalized orthographic text (NFC, lower case, punctuation removed), one token
  per character, spaces become ``"|"``.
* ``"phoneme"``: the manifest's ``phonemes`` field, one token per IPA segment, ``"|"`` between
  words.
"""

from __future__ import annotations


import json
import os
import unicodedata
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Sequence

from polyvox.data.manifest import Utterance
from polyvox.data.text import normalize_text  # noqa: F401  (the one normaliser; re-exported)

BLANK = "<pad>"
UNK = "<unk>"
WORD = "|"
SPECIALS = (BLANK, UNK, WORD)
UNITS = ("char", "phoneme")

def text_to_tokens(text: str) -> list[str]:
    """Characters of normalized text, word boundaries as ``"|"``: "Hi you" -> h i | y o u."""
    return [WORD if c == " " else c for c in normalize_text(text)]


def phonemes_to_tokens(phonemes: str) -> list[str]:
    """IPA segments of a manifest ``phonemes`` string, ``"|"`` kept, without leading/trailing or
    doubled word boundaries."""
    toks: list[str] = []
    for p in unicodedata.normalize("NFC", phonemes).split():
        if p == WORD and (not toks or toks[-1] == WORD):
            continue
        toks.append(p)
    while toks and toks[-1] == WORD:
        toks.pop()
    return toks


def utterance_tokens(utt: Utterance, unit: str) -> list[str]:
    """Target tokens of one utterance. Raises ValueError naming the utterance if the field is empty."""
    if unit == "char":
        toks = text_to_tokens(utt.text)
        field = "text"
    elif unit == "phoneme":
        toks = phonemes_to_tokens(utt.phonemes)
        field = "phonemes"
    else:
        raise ValueError(f"unknown target unit {unit!r}; expected one of {UNITS}")
    if not [t for t in toks if t != WORD]:
        raise ValueError(f"utterance '{utt.id}' ({utt.audio}): field '{field}' is empty, needed for {unit} targets")
    return toks


def tokens_to_text(tokens: Sequence[str], unit: str) -> str:
    """Inverse of the tokenizers: chars -> "hi you"; phonemes -> "h a | j u" (segments spaced).
    The blank is dropped and ``<unk>`` kept, as ``transformers.pipeline`` prints CTC output."""
    toks = [t for t in tokens if t != BLANK]
    if unit == "char":
        return "".join(" " if t == WORD else t for t in toks).strip()
    return " ".join(toks).strip()


@dataclass(frozen=True)
class Vocab:
    """An ordered token list; ``tokens[0]`` is the blank."""

    tokens: tuple[str, ...]

    def __post_init__(self):
        if tuple(self.tokens[: len(SPECIALS)]) != SPECIALS:
            raise ValueError(f"a vocabulary must start with {SPECIALS}, got {tuple(self.tokens[:3])}")
        if len(set(self.tokens)) != len(self.tokens):
            dup = [t for t, c in Counter(self.tokens).items() if c > 1]
            raise ValueError(f"duplicate tokens in vocabulary: {dup}")
        object.__setattr__(self, "_index", {t: i for i, t in enumerate(self.tokens)})

    blank_id = 0
    unk_id = 1
    word_id = 2

    def __len__(self) -> int:
        return len(self.tokens)

    def __contains__(self, token: str) -> bool:
        return token in self._index

    def encode(self, tokens: Iterable[str]) -> list[int]:
        """Token strings -> ids; unknown tokens become ``<unk>``."""
        return [self._index.get(t, self.unk_id) for t in tokens]

    def decode(self, ids: Iterable[int]) -> list[str]:
        """Ids -> token strings (no CTC collapsing here; see polyvox.speech.ctc)."""
        return [self.tokens[int(i)] for i in ids]

    def extend(self, tokens: Iterable[str]) -> "Vocab":
        """A vocabulary with new tokens appended (ids of existing tokens unchanged)."""
        new = [t for t in dict.fromkeys(tokens) if t not in self._index]
        return Vocab(self.tokens + tuple(new))

    def to_dict(self) -> dict[str, int]:
        return {t: i for i, t in enumerate(self.tokens)}

    def save(self, path: str | os.PathLike) -> Path:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(self.to_dict(), ensure_ascii=False, indent=1), encoding="utf-8")
        return path

    @classmethod
    def load(cls, path: str | os.PathLike) -> "Vocab":
        path = Path(path)
        try:
            mapping = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError) as e:
            raise ValueError(f"{path}: cannot read vocabulary ({e})") from None
        ids = sorted(mapping.values())
        if ids != list(range(len(ids))):
            raise ValueError(f"{path}: token ids must be 0..{len(ids) - 1} without gaps")
        return cls(tuple(sorted(mapping, key=mapping.get)))


def build_vocab(token_seqs: Iterable[Sequence[str]], min_count: int = 1) -> Vocab:
    """Vocabulary of every token seen at least ``min_count`` times, sorted for determinism."""
    counts = Counter(t for seq in token_seqs for t in seq)
    toks = sorted(t for t, c in counts.items() if c >= min_count and t not in SPECIALS)
    return Vocab(SPECIALS + tuple(toks))


def vocab_from_utterances(utts: Iterable[Utterance], unit: str, min_count: int = 1) -> Vocab:
    return build_vocab((utterance_tokens(u, unit) for u in utts), min_count=min_count)
