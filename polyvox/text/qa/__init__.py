"""Extractive question answering on text: the answer is a span of the context (XLM-R with a span head)."""
