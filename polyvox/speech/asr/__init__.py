"""Cross-lingual CTC ASR and phone recognition: ``config`` (the YAML sections), ``task`` (training side: data,
targets, evaluation), ``run`` (inference side: ``load_run``, ``transcribe``, scoring), ``model``, ``vocab``,
``decoding``, ``export`` and ``cli`` (``polyvox eval / transcribe / export``).

``polyvox.speech.asr.load_run`` and the other names of the former single module still resolve here (lazily, so
``polyvox --help`` imports no torch).
"""

from importlib import import_module

_MODULES = ("config", "task", "run")


def __getattr__(name):
    for module in _MODULES:
        mod = import_module(f"polyvox.speech.asr.{module}")
        if hasattr(mod, name) and not name.startswith("_"):
            return getattr(mod, name)
    raise AttributeError(f"module 'polyvox.speech.asr' has no attribute {name!r}")
