"""Text classification (XLM-R style): ``task`` (training side) and ``run`` (inference side)."""
