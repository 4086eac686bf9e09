"""espeak-ng voices whose output needs more than a symbol table to become IPA, one rule per voice.

:func:`voice_tokens` turns one word of ``espeak-ng --ipa --sep=_`` output into the voice's phoneme tokens (stress and
language flags still on them); :mod:`polyvox.data.ipa` then maps each token to IPA. Three voices need it:

* ``ko`` runs words together and leaves out ``_`` where it joins them (:data:`JOINING_VOICE_PHONEMES`);
* ``yue`` prints Jyutping, whose letters are IPA only by position in the syllable (:func:`jyutping_to_ipa`);
* ``de`` prints ``??`` for its phoneme UR (:func:`german_ur`).

Kept apart from the symbol tables of :mod:`polyvox.data.ipa` because these rules read a word's context.
"""

from __future__ import annotations

import re

from polyvox.data.espeak import base_language

STRESS_MARKS = "ˈˌ"
SWITCH_RE = re.compile(r"\(([a-z]{2,3}(?:-[a-z0-9]+)*)\)")  # espeak's language-switch flag: "(en)"


# espeak-ng voices that run words together and then sometimes leave out --sep's "_" where they join: ko links a
# word's last phoneme to the next word's first ("모습 핑크" -> "s_ˈɯ_pph_ˈi", p + ph; "높 공급" -> "pɡ"). Their tokens
# are split into the voice's own phoneme names (espeak-ng's phsource/ph_korean plus the base phonemes it prints,
# all seen in 5,000 wordfreq words spoken one by one, where nothing is joined).
JOINING_VOICE_PHONEMES: dict[str, frozenset[str]] = {
    "ko": frozenset("ɐ ɛ ʌ o u ɯ i e j w n m ŋ h s t d p b k q ɡ ɫ l ɾ r tɕ dʑ tʃ ph kh".split()),
}


def split_joined(token: str, names: frozenset[str]) -> list[str] | None:
    """``token`` as a sequence of ``names`` (longest first at each step), or None when it is not one."""
    if not token:
        return []
    for end in range(len(token), 0, -1):
        if token[:end] in names and (rest := split_joined(token[end:], names)) is not None:
            return [token[:end], *rest]
    return None


def phoneme_name(token: str) -> str:
    """A token without stress, language flags and espeak's variant marker "-": the phoneme name."""
    return "".join(c for c in SWITCH_RE.sub("", token) if c not in STRESS_MARKS and c != "-")


def joining_names(lang: str | None) -> frozenset[str] | None:
    """The phoneme names of ``lang``'s voice when it joins phonemes (:data:`JOINING_VOICE_PHONEMES`), else None."""
    return JOINING_VOICE_PHONEMES.get(base_language(lang)) if lang else None


# espeak-ng's Cantonese voice (yue) prints Jyutping, not IPA: onsets b d ɡ z unaspirated and p t k c aspirated, a
# rhyme with its tone as a digit or a glued ɜ (tone 3: "aa1", "eoi5", "onɡ4", "oɜ") and codas m n p t k as tokens of
# their own ("ɡ_w_ˈoɜ_k" for 國 gwok3), one space-separated word per syllable. Rewritten by position into IPA
# (Matthews & Yip's values): a p t k after a rhyme is a coda, elsewhere an aspirated onset.
JYUTPING_ONSETS = {"b": "p", "p": "pʰ", "d": "t", "t": "tʰ", "ɡ": "k", "k": "kʰ", "z": "ts", "c": "tsʰ"}
JYUTPING_CODAS = {"p": "p", "t": "t", "k": "k"}  # unreleased p̚ t̚ k̚, written plain: panphon has no ̚
JYUTPING_RHYMES = {
    "aa": "aː", "aai": "aːi", "aau": "aːu", "a": "ɐ", "ai": "ɐi", "au": "ɐu", "e": "ɛː", "ei": "ei", "eu": "ɛːu",
    "i": "iː", "iu": "iːu", "o": "ɔː", "oi": "ɔːi", "ou": "ou", "u": "uː", "ui": "uːy", "oe": "œː", "eo": "ɵ",
    "eoi": "ɵy", "yu": "yː", "m": "m\u0329", "nɡ": "ŋ\u0329", "ŋ": "ŋ\u0329",  # syllabic m, ng (唔 m4, 五 ng5)
}
JYUTPING_BEFORE_VELAR = {"i": "ɪ", "u": "ʊ"}  # ing ik, ung uk: the short lax vowels


def _jyutping_rhyme(token: str) -> str | None:
    """A Jyutping rhyme token without stress and tone ("aa1" -> "aa", "oɜ" -> "o"), or None for any other token."""
    bare = "".join(c for c in token if c not in STRESS_MARKS).rstrip("0123456789")
    if len(bare) > 1 and bare.endswith("ɜ"):
        bare = bare[:-1]
    if bare == token:  # neither tone nor stress: a consonant ("m", "n") or an untoned rhyme espeak never prints
        return None
    return bare if bare in JYUTPING_RHYMES or (bare.endswith("nɡ") and bare[:-2] in JYUTPING_RHYMES) else None


def jyutping_to_ipa(tokens: list[str]) -> list[str]:
    """espeak-ng yue tokens of one word -> IPA tokens: ["ɡ", "w", "ˈoɜ", "k"] -> ["k", "w", "ɔː", "k"]; tones
    dropped, a velar nasal rhyme split like Mandarin's ("inɡ1" -> "ɪ", "ŋ")."""
    rhymes = [_jyutping_rhyme(t) for t in tokens]
    out = []
    for i, (tok, rhyme) in enumerate(zip(tokens, rhymes)):
        nxt = tokens[i + 1] if i + 1 < len(tokens) else ""
        if rhyme is not None:
            vowel, nasal = (rhyme[:-2], ["ŋ"]) if rhyme.endswith("nɡ") and rhyme != "nɡ" else (rhyme, [])
            velar = bool(nasal) or nxt == "k"
            out += [JYUTPING_BEFORE_VELAR.get(vowel, JYUTPING_RHYMES[vowel]) if velar else JYUTPING_RHYMES[vowel],
                    *nasal]
        elif tok in JYUTPING_CODAS and i and rhymes[i - 1] is not None:
            out.append(JYUTPING_CODAS[tok])
        else:
            out.append(JYUTPING_ONSETS.get(tok, tok))
    return out


# espeak-ng 1.51's German phoneme UR (ʊ and r as one phoneme: kurz, durch, Turm) has no IPA spelling, so its de
# voice prints "??" for it. Every "??" of that voice is UR (20,000 wordfreq words checked against its -x mnemonics),
# so it is written as the voice writes O r in dort: ʊ ɾ.
def german_ur(tokens: list[str]) -> list[str]:
    """espeak-ng de tokens of one word with "??" (its phoneme UR) as ʊ ɾ: ["t", "ˈ??", "m"] -> ["t", "ˈʊ", "ɾ", "m"]."""
    out = []
    for tok in tokens:
        if tok.lstrip(STRESS_MARKS) == "??":
            out += [tok[: len(tok) - 2] + "ʊ", "ɾ"]
        else:
            out.append(tok)
    return out


# espeak-ng voices whose phoneme names need the word's context to become IPA: base language -> tokens -> tokens
TOKEN_REWRITES = {"yue": jyutping_to_ipa, "de": german_ur}


def voice_tokens(raw_word: str, lang: str | None) -> list[str]:
    """The phoneme tokens of one espeak ``--sep=_`` word of ``lang``'s voice: split at "_", rewritten by
    :data:`TOKEN_REWRITES`, joined tokens of :data:`JOINING_VOICE_PHONEMES` split (still with stress and flags)."""
    tokens = raw_word.split("_")
    if lang and (rewrite := TOKEN_REWRITES.get(base_language(lang))):
        return rewrite([t for t in tokens if t])
    names = joining_names(lang)
    if not names:
        return tokens
    out = []
    for token in tokens:
        bare = phoneme_name(token)
        if bare and bare not in names and (parts := split_joined(bare, names)):
            out.extend(parts)
        else:
            out.append(token)
    return out
