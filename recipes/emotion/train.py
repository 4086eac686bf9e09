"""Speech emotion recognition (utterance classification), in one language or across languages.

    polyvox train recipes/emotion/configs/base.yaml [key=value ...]

The config picks the data (a prepared corpus, or the SYNTHETIC espeak-ng emotion corpus), the
model (``polyvox.speech.classifier``) and the protocol; the work is done by
``polyvox.speech.classification``, shared with ``recipes/abuse_detection``:

* ``standard``: train on ``data.train_langs``, test on ``data.eval_langs`` (zero-shot marked);
* ``transfer``: one model per training language + a multilingual one -> transfer matrix;
* ``fewshot``: MAML / FOMAML vs fine-tuning with k shots per class of an unseen language;
* ``all``: transfer then few-shot, one ``results.md``.
"""

from __future__ import annotations

import sys

from polyvox.speech.classification import ClassificationConfig, run_protocol
from polyvox.train.config import load_config


def main(config_path: str, overrides: list[str]) -> int:
    cfg = load_config(ClassificationConfig, config_path, overrides)
    run_protocol(cfg)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2:]))
