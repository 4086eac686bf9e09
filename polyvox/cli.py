"""``polyvox`` command line.

Each subcommand lives in its own module, which defines ``add_arguments(parser)`` and
``run(args) -> int``. The table below is plain data; a module is imported only when its
subcommand runs, so ``polyvox --help`` stays fast and does not import torch.
"""

from __future__ import annotations

import argparse
import importlib
import sys

# name -> (module, one-line help)
COMMANDS: dict[str, tuple[str, str]] = {
    "synth": ("polyvox.data.synth.corpus", "build the built-in multilingual espeak-ng corpus"),
    "prepare": ("polyvox.data.corpora.cli", "turn a real corpus (Common Voice, HF datasets, folder+CSV) into manifests"),
    "manifest": ("polyvox.data.manifest_cli", "validate a manifest and its audio, or print its statistics"),
    "train": ("polyvox.train.cli", "train a recipe from a YAML config with key=value overrides"),
    "average": ("polyvox.train.cli", "average the weights of a run's last or best K checkpoints"),
    "eval": ("polyvox.speech.asr.cli", "evaluate a trained ASR run on a manifest"),
    "transcribe": ("polyvox.speech.asr.cli", "transcribe audio files with a trained ASR run"),
    "export": ("polyvox.speech.asr.cli", "export an ASR run as a Hugging Face model directory"),
    "classify": ("polyvox.speech.classify.cli", "label audio files with a trained emotion / abuse classifier"),
    "understand": ("polyvox.multimodal.cli", "what a spoken request asks for: a cascade (ASR -> text) or end-to-end run"),
    "phonemes": ("polyvox.speech.phones.cli", "transcribe audio into IPA for any espeak-ng language"),
    "tts": ("polyvox.speech.tts.cli", "speak text in a language, in the voice of a reference clip (a trained TTS run)"),
    "tts-augment": ("polyvox.speech.tts.augment", "ASR training speech from a TTS run: new sentences in many voices"),
    "eval-tts": ("polyvox.speech.tts.eval_cli", "score a TTS run: judge PER, speaker similarity, real-time factor"),
    "demo": ("polyvox.demo", "a Gradio app over every trained run (transcribe, phonemes, classify, speak), local only"),
    "recipes": ("polyvox.train.recipes", "list the shipped recipes and their configs, or copy one to edit (cp)"),
    "doctor": ("polyvox.doctor", "check the install (torch pair, espeak-ng, decoders, GPU, demo extras) with fixes"),
}


def _parser(name: str | None = None) -> tuple[argparse.ArgumentParser, dict]:
    parser = argparse.ArgumentParser(
        prog="polyvox",
        description="polyvox: cross-lingual speech-and-text research toolkit. "
        "Run 'polyvox COMMAND --help' for a command's options.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    modules = {}
    for cmd, (module_name, help_text) in COMMANDS.items():
        p = sub.add_parser(cmd, help=help_text, description=help_text)
        if cmd == name:
            module = importlib.import_module(module_name)
            adder = getattr(module, f"add_{cmd}_arguments", None) or module.add_arguments
            adder(p)
            modules[cmd] = module
    return parser, modules


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    name = next((a for a in argv if not a.startswith("-")), None)
    parser, modules = _parser(name if name in COMMANDS else None)
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 0
    module = modules[args.command]
    runner = getattr(module, f"run_{args.command}", None) or module.run
    return int(runner(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
