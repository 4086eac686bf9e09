"""The built-in corpora, spoken by espeak-ng: ``corpus`` (multilingual read speech, ``polyvox synth``), ``tasks``
(emotion styles, flagged-word abuse), ``words`` (the texts)."""
