"""Where polyvox keeps what it generates: built-in corpora (per working directory) and caches (per user)."""

from __future__ import annotations

import os
from pathlib import Path

# Built-in corpora and runs are relative to the current directory, like the recipes' run_dir: a checkout or a
# scratch folder keeps its own (and `make clean` removes them).
CORPUS_ROOT = Path("work/corpus")


def default_cache_dir() -> Path:
    """``$POLYVOX_CACHE``, else ``$XDG_CACHE_HOME/polyvox``, else ``~/.cache/polyvox``."""
    if os.environ.get("POLYVOX_CACHE"):
        return Path(os.environ["POLYVOX_CACHE"])
    return Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "polyvox"
