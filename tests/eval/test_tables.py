"""The one transfer-matrix table and heatmap, in both tasks' styles (error rates with 2 decimals; classification
scores with 1 decimal and the in-language diagonal in bold)."""

import math

from polyvox.eval.plots import plot_transfer_matrix
from polyvox.eval.tables import percent, transfer_table


def test_error_rate_style(tmp_path):
    m = {"en": {"en": 0.05, "es": 0.5}, "es": {"en": 0.6, "es": 0.04}}
    t = transfer_table(m, "PER", digits=2)
    assert t.splitlines()[0] == "| train \\ test (PER %) | en | es |"
    assert "| en | 5.00 | 50.00 |" in t and "| es | 60.00 | 4.00 |" in t
    png = plot_transfer_matrix(m, "PER", tmp_path / "t.png", higher_is_better=False)
    assert png.read_bytes()[:4] == b"\x89PNG"


def test_classification_style_marks_the_diagonal(tmp_path):
    matrix = {"en": {"en": 0.9, "de": 0.5}, "de": {"en": 0.4, "de": 0.8}, "all": {"en": 0.85, "de": 0.75}}
    lines = transfer_table(matrix, "UAR", bold_diagonal=True).splitlines()
    assert lines[0] == "| train \\ test (UAR %) | de | en |"
    assert lines[2] == "| en | 50.0 | **90.0** |"
    assert lines[4] == "| all | 75.0 | 85.0 |"
    assert plot_transfer_matrix(matrix, "UAR", tmp_path / "u.png", higher_is_better=True).is_file()


def test_missing_cells_and_nan_print_a_dash():
    assert percent(None) == "-" and percent(float("nan")) == "-" and percent(0.1234, 2) == "12.34"
    assert transfer_table({"en": {"en": 0.5}, "de": {"de": 0.25}}, "PER").splitlines()[2] == "| en | - | 50.0 |"


def test_ctc_alignment_plot_marks_each_emitted_token():
    import numpy as np

    from polyvox.eval.plots import plot_ctc_alignment

    frames = ["<b>", "h", "h", "<b>", "a", "<b>", "a", "<b>"]  # h, a, a: a repeat after a blank is a new token
    fig = plot_ctc_alignment(np.zeros(16000, dtype=np.float32) + 0.1, frames, 0.125, blank="<b>")
    ax = fig.axes[0]
    assert ax.get_title() == "CTC alignment: 3 tokens" and [t.get_text() for t in ax.texts] == ["h", "a", "a"]


def test_seeds_table_gives_mean_and_spread_per_language_and_overall():
    from polyvox.eval.tables import mean_sd, seeds_table

    assert mean_sd([0.5]) == (0.5, 0.0) and all(math.isnan(x) for x in mean_sd([]))
    m, sd = mean_sd([0.2, 0.4])
    assert abs(m - 0.3) < 1e-12 and abs(sd - 0.1414213) < 1e-6
    table = seeds_table({"e2e": {"en": [0.5, 0.7], "el": [0.1, 0.3]}, "cascade": {"en": [1.0, 1.0]}}, "accuracy",
                        marks={"el": "zero-shot"})
    lines = table.splitlines()
    assert lines[0] == "| language (accuracy %, mean ± sd) | e2e | cascade |"
    assert "| el (zero-shot) | 20.0 ± 14.1 | - |" in lines and "| en | 60.0 ± 14.1 | 100.0 ± 0.0 |" in lines
    assert lines[-1] == "| **mean** | 40.0 ± 14.1 | 100.0 ± 0.0 |"


def test_trained_vs_zero_shot_table_means_per_seed_then_over_seeds():
    from polyvox.eval.tables import trained_vs_zero_shot_table

    scores = {"qa": {"text": {"f1": {"en": [1.0, 0.8], "de": [0.6, 0.8], "sw": [0.2, 0.0], "all": [9.0, 9.0]},
                              "other": {"en": [0.5]}}}}
    md = trained_vs_zero_shot_table(scores, {"sw": "zero-shot"}, ["f1", "record"])
    assert "| qa | text | f1 | 80.0 ± 0.0 | 10.0 ± 14.1 |" in md  # per seed: (1+.6)/2, (.8+.8)/2; "all" left out
    assert "record" not in md.split("\n", 4)[-1] and "other" not in md
