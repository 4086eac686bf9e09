"""Compositions of speech and text models (cascades: an ASR run feeding a text run through native, romanized or
IPA text; end-to-end spoken QA). Empty until the spoken language understanding recipes land; see
docs/architecture.md for where they go."""
