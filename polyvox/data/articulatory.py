"""Articulatory features of IPA segments (panphon's 24 SPE-style features in {-1, 0, +1}) and feature distances.

Pure functions over one shared panphon ``FeatureTable``. Segments are NFC strings; a symbol panphon does not know
raises :class:`UnknownSegmentError` (normalize it first with :func:`polyvox.data.ipa.normalize_token`).
"""

from __future__ import annotations

import functools
import unicodedata
from typing import Sequence

import numpy as np


class UnknownSegmentError(KeyError):
    """A segment panphon has no features for."""



@functools.lru_cache(maxsize=1)
def feature_table():
    """The shared panphon FeatureTable (built once, ~1 s)."""
    import panphon

    return panphon.FeatureTable()


def feature_names() -> list[str]:
    """panphon's feature names in vector order (24: syl, son, cons, ..., hitone, hireg)."""
    return list(feature_table().names)


@functools.lru_cache(maxsize=1)
def feature_weights() -> np.ndarray:
    """panphon's feature saliences aligned to :func:`feature_names` by name, shape (F,).

    panphon's own ``weighted_*`` distances zip its weight file with the feature list although the
    two are in different orders; we align by name. Tone features (no weight in the file) get 0.125.
    """
    import csv
    from importlib.resources import files

    with files("panphon").joinpath("data", "feature_weights.csv").open() as f:
        rows = list(csv.reader(f))
    by_name = dict(zip(rows[0], map(float, rows[1])))
    return np.array([by_name.get(n, 0.125) for n in feature_names()], dtype=np.float64)


def is_known(segment: str) -> bool:
    """True if panphon has features for exactly this segment (``fts`` alone is no test: it
    returns an empty dict rather than failing for unknown symbols)."""
    return bool(segment) and feature_table().seg_known(unicodedata.normalize("NFD", segment))


def feature_vector(segment: str) -> np.ndarray:
    """Articulatory features of one segment, shape (F,) int8 in {-1, 0, +1}.

    Raises UnknownSegmentError for a symbol panphon does not know (normalize it first)."""
    return _feature_vector(unicodedata.normalize("NFC", segment)).copy()


@functools.lru_cache(maxsize=4096)
def _feature_vector(segment: str) -> np.ndarray:
    nfd = unicodedata.normalize("NFD", segment)
    ft = feature_table()
    if not ft.seg_known(nfd):
        raise UnknownSegmentError(f"panphon has no features for segment {segment!r}; "
                                  "normalize it with polyvox.data.ipa.normalize_token first")
    seg = ft.fts(nfd)
    return np.array([seg[n] for n in ft.names], dtype=np.int8)


def feature_matrix(segments: Sequence[str]) -> np.ndarray:
    """Stacked :func:`feature_vector` rows, shape (N, F)."""
    if not segments:
        return np.zeros((0, len(feature_names())), dtype=np.int8)
    return np.stack([feature_vector(s) for s in segments])


def feature_distance(a: str | np.ndarray, b: str | np.ndarray, *, weighted: bool = True) -> float:
    """Distance in [0, 1] between two segments (or feature vectors).

    ``weighted``: panphon-salience-weighted, |a-b|/2 per feature (so 0 vs +/- counts half);
    otherwise Hamming: the share of features that differ (panphon's ``hamming_substitution_cost``).
    """
    va = feature_vector(a) if isinstance(a, str) else np.asarray(a)
    vb = feature_vector(b) if isinstance(b, str) else np.asarray(b)
    if weighted:
        w = feature_weights()
        return float((w * np.abs(va.astype(float) - vb) / 2).sum() / w.sum())
    return float(np.mean(va != vb))

