"""Train a small subword tokenizer and wrap it for transformers.

:func:`train_tokenizer` trains a Unigram model (the SentencePiece algorithm XLM-R uses) with the
``tokenizers`` library, wraps it as a ``PreTrainedTokenizerFast`` with XLM-R's special tokens
(``<s>``=0, ``<pad>``=1, ``</s>``=2, ``<unk>``=3, ``<mask>`` last) and saves it with
``save_pretrained``, so ``AutoTokenizer.from_pretrained(out_dir)`` loads it back offline.
"""

from __future__ import annotations

from pathlib import Path
from typing import Iterable

SPECIAL_TOKENS = ["<s>", "<pad>", "</s>", "<unk>"]


def train_tokenizer(texts: Iterable[str], vocab_size: int, out_dir: str | Path, *, model: str = "unigram"):
    """Train a ``model`` ("unigram" or "bpe") tokenizer on ``texts``; save to ``out_dir``; return it.

    Text is NFKC-normalised and split on whitespace with the ``▁`` word-start marker, so words
    of any script (no lower-casing) are kept apart."""
    from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, processors, trainers
    from transformers import PreTrainedTokenizerFast

    if model == "unigram":
        tok = Tokenizer(models.Unigram())
        trainer = trainers.UnigramTrainer(vocab_size=vocab_size, special_tokens=SPECIAL_TOKENS + ["<mask>"],
                                          unk_token="<unk>")
    elif model == "bpe":
        tok = Tokenizer(models.BPE(unk_token="<unk>"))
        trainer = trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=SPECIAL_TOKENS + ["<mask>"])
    else:
        raise ValueError(f"tokenizer model must be 'unigram' or 'bpe', got {model!r}")
    tok.normalizer = normalizers.NFKC()
    tok.pre_tokenizer = pre_tokenizers.Metaspace()
    tok.decoder = decoders.Metaspace()
    tok.train_from_iterator(list(texts), trainer=trainer)
    bos, eos = tok.token_to_id("<s>"), tok.token_to_id("</s>")
    tok.post_processor = processors.TemplateProcessing(
        single="<s> $A </s>", pair="<s> $A </s> </s> $B </s>", special_tokens=[("<s>", bos), ("</s>", eos)]
    )
    wrapped = PreTrainedTokenizerFast(
        tokenizer_object=tok, bos_token="<s>", eos_token="</s>", unk_token="<unk>", pad_token="<pad>",
        cls_token="<s>", sep_token="</s>", mask_token="<mask>",
    )
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    wrapped.save_pretrained(str(out_dir))
    return wrapped


def load_tokenizer(path: str | Path):
    """Load a tokenizer saved by :func:`train_tokenizer` (or any local tokenizer directory)."""
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(str(path))
