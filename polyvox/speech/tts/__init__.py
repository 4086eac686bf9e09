"""Multilingual TTS and transcript-free cross-lingual voice cloning: ``task`` (training side), ``run`` (save / load /
synthesize), ``model`` (FastSpeech-style with reference conditioning), ``align`` (durations by CTC forced alignment),
``vocoder`` (Griffin-Lim)."""
