"""Each espeak-ng -> IPA cleaning rule of polyvox.data.ipa, on strings espeak-ng 1.51 really printed
(`espeak-ng -q -v VOICE --ipa --sep=_ TEXT`). The rules are documented in docs/corpus.md."""

import pytest

from polyvox.data.ipa import clean_ipa, invalid_segments, is_ipa_segment, language_switches, parse_espeak


@pytest.mark.parametrize(
    "lang, raw, expected",
    [
        # stress marks removed, "_" separators become spaces, words joined by " | "
        ("en", "ˈɪ_m_ɪ_dʒ_ɪ_z s_ˈuː_p_ə", "ɪ m ɪ dʒ ɪ z | s uː p ə"),
        # empty tokens from a leading "_" or "__" are dropped
        ("nl", "_ˈeː_t_ə_n", "eː t ə n"),
        ("mk", "b__r_ˈa", "b r a"),
        # language-switch flags removed (the corpus regenerates such utterances)
        ("nl", "_ˈeː_t_ə_n (en)_w_ˈɛ_b_s_aɪ_t_(nl)", "eː t ə n | w ɛ b s aɪ t"),
        # Hindi ड़ "r." -> retroflex flap; ढ़ stays "r." + "h" as espeak says it
        ("hi", "b_ˈʌ_r._aː p_ˈʌ_r._h_ə_n_ˌaː", "b ʌ ɽ aː | p ʌ ɽ h ə n aː"),
        # Persian ق/غ "q_1" -> ɢ
        ("fa", "q_1_ˈa_h_v_eː ˈo_t_ɑː_q_1", "ɢ a h v eː | o t ɑː ɢ"),
        # Danish: glottal onset glued to vowels split off
        ("da", "f_ˈʔi_ɡ_u_ˌʔʌ ʋ_ˈʔe_n_ə_", "f ʔ i ɡ u ʔ ʌ | ʋ ʔ e n ə"),
        # Icelandic voiceless sonorant "l#" -> l̥
        ("is", "t_ˈeɪ_ŋ_x_s_l#", "t eɪ ŋ x s l\u0325"),
        # Swedish sj-sound
        ("sv", "sx_ˈøː_n", "ɧ øː n"),
        # Macedonian ќ
        ("mk", "b__r_ˈa_k^_æ", "b r a c æ"),
        # Russian centralised u
        ("ru", 'ɭʲ_u"_b_ˈo_m', "ɭʲ u b o m".replace("u", "ʉ")),
        # trailing "-" variant marker removed
        ("fr", "m_ˈa- s_ə-", "m a | s ə"),
        # segment written twice -> long; doubled modifier collapsed; length kept attached
        ("ja", "s_ˈää ˌä_ɽ_i_ɡ_ä_t_ˈo̞_ɯᵝ", "s äː | ä ɽ i ɡ ä t o̞ ɯᵝ"),
        ("it", "_r_ˈo_ss_a", "r o sː a"),
        ("lt", "k_ˈa_tʲ_ee", "k a tʲ eː"),
        ("ro", "l_ˈu_mʲʲ", "l u mʲ"),
        # bare palatal glide -> j
        ("ta", "ʲ_ˈe_d_ʌ_r__k_ʉ", "j e d ʌ r k ʉ"),
        # tie bars dropped
        ("be", "t__r_ˈɨ_t̻͡s_t̻͡s_a_t̻͡s", "t r ɨ t̻s t̻s a t̻s"),
        # several lines (clauses) are one utterance
        ("en", "ˈɪ_m_ɪ_dʒ\ns_ˈuː_p_ə\n", "ɪ m ɪ dʒ | s uː p ə"),
    ],
)
def test_clean_ipa_rules(lang, raw, expected):
    assert clean_ipa(raw) == expected
    assert all(is_ipa_segment(s) for s in expected.split() if s != "|")


def test_unknown_phoneme_is_dropped_and_reported():
    raw = "v_ˈy_ɾ_ts_b_??_k"  # German "Würzburg": espeak has no IPA for this phoneme
    assert invalid_segments(raw) == ["??"]
    assert clean_ipa(raw) == "v y ɾ ts b k"


def test_language_switches_reported():
    assert language_switches("_ˈeː_t_ə_n (en)_w_ˈɛ_b_s_aɪ_t_(nl)") == ["en", "nl"]
    assert language_switches("ˈɪ_m_ɪ_dʒ_ɪ_z") == []
    assert invalid_segments("_ˈeː_t_ə_n (en)_w_ˈɛ_b_s_aɪ_t_(nl)") == []


@pytest.mark.parametrize("seg, ok", [("tʃʰ", True), ("ɐ̃ʊ̃", True), ("r.", False), ("??", False), ("a1", False), ("ε", False)])
def test_is_ipa_segment(seg, ok):
    assert is_ipa_segment(seg) is ok


def test_kirshenbaum_leftovers_and_tone_numbers():
    # espeak's Kyrgyz prints Kirshenbaum X, tS, dZ and dental "["; Thai and Vietnamese print tone numbers
    assert clean_ipa("_X_a_tS_ɨ d[_a_dZ_ɨ t[_a") == "χ a tʃ ɨ | d̪ a dʒ ɨ | t̪ a"
    assert clean_ipa("_k_a2_uː5") == "k a uː"
    assert invalid_segments("_k_a2") == []
    assert clean_ipa("_q_1_a") == "ɢ a"  # a lone digit after q stays Persian ɢ, not a tone
    # Vietnamese tone 3 prints as ɜ glued to the rhyme (rất: "z_ˈəɜ_t̪"); a vowel ɜ first in a token stays (lb ɜɪ)
    assert clean_ipa("z_ˈəɜ_t̪ k_ˈaːɜ_") == "z ə t̪ | k aː"
    assert clean_ipa("_ɜɪ_ ɜː") == "ɜɪ | ɜː"


def test_mandarin_pinyin_voice_notation():
    # espeak-ng's cmn-latn-pinyin (中古法语 zhong1gu3fa3yu3): "." retroflex, "h" aspirated, tones as digits or a glued
    # ɜ, with ʲ after a tone before y; the variant marker "-" anywhere in a token (o-ɜ, vi e-1)
    assert clean_ipa("ts._ˌonɡ5_k_uɜ_f_ɑɜʲ_ˈy2_") == "ʈʂ oŋ k u f ɑ y"
    assert clean_ipa("tɕh_iɑ5ʲ kh_o-ɜ_ ts.h_ərɜʲ s._i.ɜ") == "tɕʰ iɑ | kʰ o | ʈʂʰ ə˞ | ʂ ɨ"
    assert clean_ipa("_e-1_ p_ˈe-ɜ") == "e | p e"
    assert invalid_segments("ts._ˌonɡ5_ts.h_i̪ɜ") == []


def test_cantonese_jyutping_voice_is_rewritten_by_position():
    from polyvox.data.voice_tokens import jyutping_to_ipa

    # espeak-ng's yue prints Jyutping, one word per syllable: 國 gwok3 -> onset ɡ w, rhyme o + tone 3, coda k
    assert jyutping_to_ipa(["ɡ", "w", "ˈoɜ", "k"]) == ["k", "w", "ɔː", "k"]
    assert jyutping_to_ipa(["k", "ˈei4"]) == ["kʰ", "ei"]  # k before a rhyme: aspirated onset
    assert clean_ipa("h_ˈoenɡ1_ ɡ_ˈonɡ2_ z_ˈunɡ1_ b_ˈaaɜ_t_ c_ˈeoi4_", "yue") == "h œː ŋ | k ɔː ŋ | ts ʊ ŋ | p aː t | tsʰ ɵy"
    assert clean_ipa("ŋ5_ s_ˈi1_k_ m_ˈu4_n_", "yue") == "ŋ̩ | s ɪ k | m uː n"  # syllabic ng; i before k is ɪ
    assert parse_espeak("z_ˈunɡ1_ ɡ_w_ˈoɜ_k_", "yue") == (["t͡s", "ʊ", "ŋ", "|", "k", "w", "ɔː", "k"], [])
    assert clean_ipa("z_ˈunɡ1") == "z unɡ"  # other languages keep their tokens


def test_german_ur_phoneme_without_ipa_is_written_like_its_o_r():
    # espeak-ng 1.51's de voice prints "??" for its phoneme UR (Turm: t_ˈ??_m); other languages keep "??" as unknown
    assert clean_ipa("t_ˈ??_m d_ˈɔ_ɾ_t", "de") == "t ʊ ɾ m | d ɔ ɾ t"
    assert invalid_segments("k_ˈ??_ts", "de") == [] and invalid_segments("k_ˈ??_ts", "om") == ["??"]
    assert parse_espeak("d_ˈ??_ç", "de", warn=False) == (["d", "ʊ", "ɾ", "ç"], [])


def test_korean_joined_phonemes_are_split_into_the_voices_phonemes():
    # espeak-ng's ko voice runs words together and sometimes drops the "_" at the join ("모습 핑크": p + ph)
    assert clean_ipa("m_o_s_ˈɯ_pph_ˈi_ŋ_kh_ɯ", "ko") == "m o s ɯ p pʰ i ŋ kʰ ɯ"
    assert clean_ipa("n_ɐ_w_ˈɐ_t-s_i", "ko") == "n ɐ w ɐ t s i"  # t- (tense) + s
    assert invalid_segments("n_ˈo_pɡ_ˈo_ŋ", "ko") == []
    # a token that is no sequence of the voice's phonemes is reported, so the corpus replaces the text
    assert invalid_segments("n_ˈo_pʃ_o", "ko") == ["pʃ"]
    # other languages keep their tokens whole (ts is one affricate in German)
    assert clean_ipa("ts_aɪ_t") == "ts aɪ t" and invalid_segments("ts_aɪ_t", "de") == []
    # text read partly in another language is reported by language_switches, not as unknown tokens
    assert invalid_segments("(en)h_ˈeɪ_(ko)", "ko") == []
