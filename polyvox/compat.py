"""torch / torchaudio compatibility, checked before anything loads torchaudio's compiled extension.

torchaudio's extension (``libtorchaudio.so``) links against the exact torch release it was built for, and its
wheels do not declare that in their metadata, so pip happily installs a pair that cannot load
(torchaudio 2.11.1 with torch 2.11.0: ``undefined symbol: torch_exception_get_what_without_backtrace``). This module
reads both versions from package metadata (cheap: no torch import) so ``import polyvox`` can fail with one clear
message instead of a dlopen traceback from deep inside torchaudio.
"""

from __future__ import annotations

import os
from importlib import metadata

# The pair pyproject.toml pins; keep in step with it and requirements.lock.
PINNED_TORCH = "2.11.0"
PINNED_TORCHAUDIO = "2.11.0"
FIX = (f'pip install "torch=={PINNED_TORCH}" "torchaudio=={PINNED_TORCHAUDIO}" '
       "(or, in a checkout, `make setup`, which installs from requirements.lock)")
SKIP_ENV = "POLYVOX_SKIP_TORCH_CHECK"  # for a user who built a matching pair from source under other version tags


class TorchPairError(ImportError):
    """torch and torchaudio are installed at releases whose compiled code cannot load together."""


def _release(version: str) -> tuple[int, ...]:
    """'2.11.0+cu130' -> (2, 11, 0): local tags (+cpu, +cu130) do not change the ABI pairing."""
    parts = []
    for piece in version.split("+")[0].split("."):
        digits = "".join(ch for ch in piece if ch.isdigit())
        if not digits:
            break
        parts.append(int(digits))
        if len(parts) == 3:
            break
    return tuple(parts + [0] * (3 - len(parts)))


def installed_version(dist: str) -> str | None:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return None


def torch_pair_problem(torch_version: str | None = None, torchaudio_version: str | None = None) -> str | None:
    """A sentence naming both versions and the fix when the installed pair cannot load, else None.

    Every torchaudio release is built for the torch release with the same number (2.11.0 for 2.11.0), so any other
    pairing is reported. Arguments default to the installed distributions.
    """
    tv = torch_version if torch_version is not None else installed_version("torch")
    av = torchaudio_version if torchaudio_version is not None else installed_version("torchaudio")
    if tv is None:
        return f"torch is not installed. Fix: {FIX}"
    if av is None:
        return f"torchaudio is not installed (torch {tv} is). Fix: {FIX}"
    if _release(tv) != _release(av):
        return (f"torchaudio {av} cannot load with torch {tv}: torchaudio's compiled extension only loads against "
                f"the torch release of the same number. Fix: {FIX}")
    return None


def check_torch_pair() -> None:
    """Raise :class:`TorchPairError` when the installed torch / torchaudio pair cannot load (skipped if
    ``$POLYVOX_SKIP_TORCH_CHECK`` is set)."""
    if os.environ.get(SKIP_ENV):
        return
    problem = torch_pair_problem()
    if problem is not None:
        raise TorchPairError(f"polyvox: {problem}")


def import_torchaudio():
    """``import torchaudio``, turning a failed extension load into one message with both versions and the fix."""
    try:
        import torchaudio
    except OSError as e:  # dlopen of libtorchaudio.so: undefined symbol, missing library
        raise TorchPairError(
            f"polyvox: torchaudio {installed_version('torchaudio')} failed to load with torch "
            f"{installed_version('torch')} ({e}). Fix: {FIX}"
        ) from e
    return torchaudio
