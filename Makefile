# Two entry points for a fresh Debian machine with Python 3.11 (see README):
#   make main   installs everything, builds the built-in corpus, trains the default ASR recipe
#   make test   installs everything and runs the whole test suite (what CI runs)
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
SUDO   := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: setup system-deps main test test-fast bench clean

setup: system-deps $(VENV)/.installed

# espeak-ng speaks the built-in corpus; sox is used by some tests to write real MP3 clips.
system-deps:
	@command -v espeak-ng >/dev/null && command -v sox >/dev/null || \
	  ($(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq espeak-ng sox libsox-fmt-mp3 >/dev/null)

# Reinstalled only when pyproject.toml changes.
$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e ".[dev,demo]"
	touch $@

main: setup
	$(BIN)/polyvox train recipes/asr_ctc/configs/base.yaml

test: setup
	HF_HUB_OFFLINE=1 $(BIN)/pytest -q

test-fast: setup
	HF_HUB_OFFLINE=1 $(BIN)/pytest -q -m "not slow"

bench: setup
	$(BIN)/python benchmarks/run_all.py

clean:
	rm -rf work runs .pytest_cache
