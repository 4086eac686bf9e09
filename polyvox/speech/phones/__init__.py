"""Zero-shot cross-lingual phone recognition on top of an ASR run: target ``inventory``, decoding ``mapping``
(restrict / articulatory-feature mapping), the three ``zeroshot`` decoding modes and their scoring, ``task`` (the
recipe's config and evaluation data) and ``cli`` (``polyvox phonemes``)."""
