"""Text models: subword tokenizers, the three text forms (native, romanized, IPA) and a small XLM-R classifier,
trained with the same fit() as speech."""

from polyvox.text.classify.run import predict
from polyvox.text.classify.task import classifier_evaluate, classifier_loss_step, text_collate, tiny_xlmr_classifier
from polyvox.text.tokenizer import load_tokenizer, train_tokenizer

__all__ = [
    "classifier_evaluate",
    "classifier_loss_step",
    "load_tokenizer",
    "predict",
    "text_collate",
    "tiny_xlmr_classifier",
    "train_tokenizer",
]
