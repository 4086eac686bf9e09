"""polyvox: cross-lingual speech-and-text research toolkit."""
import sys as _sys

__version__ = "0.1.0"

# Fail here, with both versions and the fix, rather than later with a dlopen traceback from inside torchaudio.
# `polyvox doctor` is exempt: its job is to report this (and everything else) rather than stop at the first problem.
if _sys.argv[1:2] != ["doctor"]:
    from polyvox.compat import check_torch_pair as _check_torch_pair

    _check_torch_pair()

from polyvox._moved import install as _install_moved

_install_moved()
