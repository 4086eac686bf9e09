"""The three text forms a text model of polyvox reads, from gold transcripts or from a recognizer's output:

* ``native``: the language's own script, normalised as the character ASR writes it (lower case, no punctuation);
* ``romanized``: the native form through uroman (:mod:`polyvox.text.romanize`), Latin letters for every script;
* ``ipa``: the phones of the text (espeak-ng's IPA in manifests, or what a polyvox phone recognizer emits), one
  "word" per spoken word with its phones joined ("h a | j u" -> "ha ju"), so a subword tokenizer can learn
  phone n-grams while word boundaries stay.
"""

from __future__ import annotations

from polyvox.data.text import normalize_text

TEXT_FORMS = ("native", "romanized", "ipa")
def ipa_words(phones: str) -> str:
    """Segments spaced, words split by ``|`` (manifest ``phonemes`` and phone-recognizer output) -> one token
    string per word: ``"h a | j u"`` -> ``"ha ju"``."""
    return " ".join(w for w in ("".join(part.split()) for part in phones.split("|")) if w)


def check_form(form: str) -> str:
    if form not in TEXT_FORMS:
        raise ValueError(f"text form must be one of {TEXT_FORMS}, got {form!r}")
    return form


def gold_text(utt, form: str) -> str:
    """An utterance's reference text in ``form``; ValueError naming the utterance and field when it is empty."""
    check_form(form)
    if form == "ipa":
        if not utt.phonemes:
            raise ValueError(f"utterance {utt.id!r}: field 'phonemes' is empty, needed for the ipa text form")
        return ipa_words(utt.phonemes)
    if not utt.text:
        raise ValueError(f"utterance {utt.id!r}: field 'text' is empty, needed for the {form} text form")
    return to_form(utt.text, form, utt.language)


def to_form(text: str, form: str, language: str) -> str:
    """Recognized (or gold) text -> ``form``: ``native`` normalises, ``romanized`` normalises then romanizes,
    ``ipa`` expects phone-recognizer output ("h a | j u")."""
    check_form(form)
    if form == "ipa":
        return ipa_words(text)
    native = normalize_text(text)
    if form == "native":
        return native
    from polyvox.text.romanize import romanize

    return normalize_text(romanize(native, language))


def written_in_form(texts, form: str, languages) -> list[str]:
    """Written text (a typed question, a written context) -> ``form``: native and romanized as :func:`to_form`,
    IPA through espeak-ng as the G2P (the corpus's own cleaning), one "word" per spoken word."""
    check_form(form)
    if form != "ipa":
        return [to_form(t, form, lang or "") for t, lang in zip(texts, languages, strict=True)]
    from polyvox.data.ipa import clean_ipa
    from polyvox.data.synth.corpus import g2p_raw

    return [ipa_words(clean_ipa(g2p_raw(t, lang or "en"), lang or "en")) if t.strip() else ""
            for t, lang in zip(texts, languages, strict=True)]
