"""Old import paths keep working (polyvox.speech.asr.load_run) or fail with a message naming the new place."""

import importlib

import pytest

from polyvox._moved import MOVED


@pytest.mark.parametrize("old", sorted(MOVED))
def test_moved_module_names_its_new_place(old):
    with pytest.raises(ModuleNotFoundError, match=f"{old} moved to .*docs/architecture.md"):
        importlib.import_module(old)


def test_every_new_place_exists():
    for target in MOVED.values():
        for name in (t.split(" ")[0].strip("(),") for t in target.replace(" and ", ", ").split(", ")):
            if name.startswith("polyvox."):
                importlib.import_module(name.split(" /")[0].rstrip("."))


def test_former_asr_module_names_still_resolve():
    from polyvox.speech import asr
    from polyvox.speech.asr.config import AsrConfig
    from polyvox.speech.asr.run import load_run, transcribe

    assert asr.load_run is load_run and asr.transcribe is transcribe and asr.AsrConfig is AsrConfig
    with pytest.raises(AttributeError, match="has no attribute 'nope'"):
        asr.nope
