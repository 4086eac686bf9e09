"""Train a small subword tokenizer and wrap it for transformers.

:func:`train_tokenizer` trains a Unigram model (the SentencePiece algorithm XLM-R uses) with ``sentencepiece``'s
trainer, runs it in the ``tokenizers`` library, wraps it as a ``PreTrainedTokenizerFast`` with XLM-R's special
tokens (``<s>``=0, ``<pad>``=1, ``</s>``=2, ``<unk>``=3, ``<mask>`` after them) and saves it with
``save_pretrained``, so ``AutoTokenizer.from_pretrained(out_dir)`` loads it back offline.
"""

from __future__ import annotations

from pathlib import Path
from typing import Iterable

SPECIAL_TOKENS = ["<s>", "<pad>", "</s>", "<unk>"]


def unigram_pieces(texts: Iterable[str], vocab_size: int) -> list[tuple[str, float]]:
    """(piece, log probability) of a Unigram model of the words of ``texts`` (NFKC-normalised, a word's first piece
    starting with ``▁``), up to ``vocab_size`` pieces and never fewer than the texts' characters. sentencepiece's
    trainer on one thread: the same pieces on every run and machine (the ``tokenizers`` trainers iterate a randomly
    seeded hash map and gave another vocabulary, and other results, on every run; more threads change
    sentencepiece's result too).

    A limit on small corpora: sentencepiece seeds its pieces with the substrings repeated across *distinct* words, so
    a frequent word that is no part of another word never becomes a piece (the 366-word training questions of the
    spoken QA corpus get 408 pieces when 995 are asked for, and "was ist die" is cut "▁wa s ▁is t ▁ die");
    ``tokenizer.name_or_path`` loads a pretrained tokenizer instead. Seeding every repeated whole word as well (a
    sentencepiece seed file) mended that, but cost the language-ID test (tests/text) 0.70 / 0.83 / 0.64 accuracy over
    seeds 0-2 against 0.85 / 0.89 / 0.75: on open-vocabulary text, whole words crowd out the shared subwords."""
    import io
    import unicodedata

    import sentencepiece as spm

    # one "sentence" per word occurrence, as the tokenizer's pre-tokenizer splits its input: word counts, the way
    # the tokenizers trainer counts them (whole sentences gave longer, more letter-by-letter segmentations)
    words = [w for t in texts for w in unicodedata.normalize("NFKC", t).split()]
    if not words:
        raise ValueError("train_tokenizer: no non-empty text to train on")
    chars = {c for w in words for c in w}
    model = io.BytesIO()
    spm.SentencePieceTrainer.train(
        sentence_iterator=iter(words), model_writer=model, model_type="unigram", num_threads=1, minloglevel=2,
        vocab_size=max(vocab_size, len(chars)) + 1, hard_vocab_limit=False,  # + its <unk>; as many as the texts support
        character_coverage=1.0, normalization_rule_name="identity", add_dummy_prefix=True,
        unk_id=0, bos_id=-1, eos_id=-1, pad_id=-1)
    sp = spm.SentencePieceProcessor(model_proto=model.getvalue())
    return [(sp.id_to_piece(i), sp.get_score(i)) for i in range(sp.get_piece_size())
            if not (sp.is_unknown(i) or sp.is_control(i))]


def train_tokenizer(texts: Iterable[str], vocab_size: int, out_dir: str | Path, *, model: str = "unigram"):
    """Train a ``model`` ("unigram" or "bpe") tokenizer on ``texts``; save to ``out_dir``; return it.

    Text is NFKC-normalised and split on whitespace with the ``▁`` word-start marker, so words
    of any script (no lower-casing) are kept apart."""
    from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, processors, trainers
    from transformers import PreTrainedTokenizerFast

    specials = SPECIAL_TOKENS + ["<mask>"]
    if model == "unigram":
        pieces = unigram_pieces(texts, vocab_size - len(specials))
        tok = Tokenizer(models.Unigram([(t, 0.0) for t in specials] + pieces, unk_id=specials.index("<unk>"),
                                       byte_fallback=False))
    elif model == "bpe":
        tok = Tokenizer(models.BPE(unk_token="<unk>"))
    else:
        raise ValueError(f"tokenizer model must be 'unigram' or 'bpe', got {model!r}")
    tok.normalizer = normalizers.NFKC()
    tok.pre_tokenizer = pre_tokenizers.Metaspace()
    tok.decoder = decoders.Metaspace()
    if model == "bpe":  # (tokenizers' BPE trainer is not deterministic either: tokenizers#1794)
        tok.train_from_iterator(list(texts), trainer=trainers.BpeTrainer(vocab_size=vocab_size,
                                                                         special_tokens=specials))
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
