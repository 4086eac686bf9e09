import pytest

from polyvox.eval.qa import (agreement, cross_lingual_consistency, exact_match, normalize_answer, qa_scores,
                             token_f1)


def test_normalize_answer_is_squad_and_script_neutral():
    assert normalize_answer("The  Euro!") == "euro"
    assert normalize_answer("«Евро»,") == "евро"  # Unicode punctuation goes too, not only ASCII
    assert normalize_answer("la moneda") == "la moneda"  # only English articles are dropped, as in SQuAD


def test_exact_match_and_f1():
    assert exact_match("the Yen", "yen") == 1.0 and exact_match("yen", ["euro", "Yen."]) == 1.0
    assert exact_match("japanese yen", "yen") == 0.0
    assert token_f1("japanese yen", "yen") == pytest.approx(2 / 3)
    assert token_f1("", "yen") == 0.0 and token_f1("", "") == 1.0
    s = qa_scores(["yen", "euro"], ["yen", "real"])
    assert s == {"em": 0.5, "f1": 0.5, "n": 2}
    with pytest.raises(ValueError, match="2 predictions for 1"):
        qa_scores(["a", "b"], ["a"])


def test_cross_lingual_consistency_counts_agreement_not_correctness():
    answers = {"currency:JP": {"en": "JPY", "de": "JPY", "ru": "JPY"},
               "currency:FR": {"en": "EUR", "de": "EUR", "ru": "USD"},
               "currency:BR": {"en": "BRL"}}  # one language only: not counted
    c = cross_lingual_consistency(answers)
    assert c["n"] == 2 and c["all_same"] == 0.5
    assert c["pairwise"] == pytest.approx((1 + 1 / 3) / 2)
    assert agreement(["a", "b", "c", "d"], ["a", "b", "x", "d"]) == 0.75


def test_piece_of_finds_the_record_a_span_comes_from():
    from polyvox.eval.qa import piece_of

    pieces = ["france euro", "japan japanese yen", "brazil real"]
    assert piece_of("japanese yen", pieces) == 1 and piece_of("real", pieces) == 2 and piece_of("france", pieces) == 0
    assert piece_of("", pieces) == -1 and piece_of("peso", pieces) == -1
