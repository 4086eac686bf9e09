# Two entry points for a fresh Debian machine with Python 3.11 (see README):
#   make main   installs everything, builds the built-in corpus, trains the default ASR recipe
#   make test   installs everything and runs the whole test suite (what CI runs)
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
comma  := ,
SUDO   := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

LOCK   := requirements.lock
EXTRAS := dev,demo

.PHONY: setup system-deps main test test-fast bench lock doctor clean

# Debian packages that give corpus text but would pull in far more (libreoffice-l10n-tn depends on LibreOffice):
# downloaded and unpacked into the venv, not installed (polyvox.data.synth.text_sources.UNPACKED_DEBS).
UNPACKED_DEBS := libreoffice-l10n-tn
DEB_DIR := $(VENV)/share/polyvox-debs

setup: system-deps $(VENV)/.installed $(addprefix $(DEB_DIR)/,$(UNPACKED_DEBS))

# espeak-ng speaks the built-in corpus (and is its G2P); flite and festival voices (en, it, cs, fi, ca, ru, hi, mr,
# te) speak its other-engine and held-out-engine sets; hunspell dictionaries give Aragonese and Guarani their corpus
# text, Strong's Greek dictionary (a SWORD lexicon) Ancient Greek's, Debian's Lojban word lists Lojban's;
# sox is used by some tests to write real MP3 clips; the demo's browser tests drive chromium-headless-shell.
FESTIVAL_VOICES := festvox-kallpc16k festvox-kdlpc16k festvox-italp16k festvox-itapc16k festvox-czech-dita \
  festvox-czech-ph festvox-suopuhe-lj festvox-suopuhe-mv festvox-ca-ona-hts festvox-ru festvox-hi-nsk festvox-mr-nsk \
  festvox-te-nsk
SYSTEM_PACKAGES := espeak-ng sox libsox-fmt-mp3 flite festival $(FESTIVAL_VOICES) hunspell-an hunspell-gug \
  sword-dict-strongs-greek lojban-common chromium-headless-shell
system-deps:
	@command -v espeak-ng >/dev/null && command -v sox >/dev/null && command -v flite >/dev/null && \
	  command -v text2wave >/dev/null && [ -d /usr/share/festival/voices/hindi ] && \
	  [ -d /usr/share/festival/voices/telugu ] && [ -d /usr/share/festival/voices/czech/czech_ph ] && \
	  [ -f /usr/share/hunspell/gug_PY.dic ] && [ -d /usr/share/sword/modules/lexdict/zld/strongsgreek ] && \
	  [ -f /usr/share/lojban/gismu.txt ] && \
	  command -v chromium-headless-shell >/dev/null || \
	  ($(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq $(SYSTEM_PACKAGES) >/dev/null)

# Every package at the version in the committed lock, so an upstream release cannot change a fresh install.
# Reinstalled only when pyproject.toml or the lock changes.
$(VENV)/.installed: pyproject.toml $(LOCK)
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -c $(LOCK) -e ".[$(EXTRAS)]"
	touch $@

$(DEB_DIR)/%: | $(VENV)/.installed
	rm -rf $@ $@.part && mkdir -p $@.part
	cd $@.part && (apt-get download -qq $* 2>/dev/null || ($(SUDO) apt-get update -qq && apt-get download -qq $*))
	dpkg-deb -x $@.part/*.deb $@ && rm -rf $@.part

# Regenerate the lock from pyproject.toml, for Linux x86_64 + Python 3.11: `make lock` takes the newest versions the
# ranges allow (on purpose, to take upstream releases); `make lock LOCK_UPGRADE=` keeps every pin already in the lock
# and only resolves what changed (a dependency added). Then `make test` and commit both files.
LOCK_UPGRADE ?= --upgrade
lock:
	$(PYTHON) -m venv .venv-lock
	.venv-lock/bin/pip install -q "uv==0.13.9"
	.venv-lock/bin/uv pip compile pyproject.toml $(foreach e,$(subst $(comma), ,$(EXTRAS)),--extra $(e)) \
	  --python-version 3.11 --python-platform x86_64-manylinux_2_28 $(LOCK_UPGRADE) --override lock-overrides.txt \
	  --custom-compile-command "make lock" -o $(LOCK)

doctor: setup
	$(BIN)/polyvox doctor

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
