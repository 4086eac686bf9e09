"""polyvox: cross-lingual speech-and-text research toolkit."""
__version__ = "0.1.0"
