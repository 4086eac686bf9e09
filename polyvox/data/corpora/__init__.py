"""Real corpora -> polyvox manifests, one module per corpus family, all idempotent (``common``).

``prepare_<corpus>(source, out_dir, ...) -> {split: manifest path}``. :data:`PREPARERS` maps the utterance
classification corpora's names (the recipes' ``data.prepare.corpus``) to their loaders; the ASR loaders
(common_voice, hf, folder) are run by ``polyvox prepare`` (``cli``).
"""

from polyvox.data.corpora.adima import prepare_adima
from polyvox.data.corpora.emotion import prepare_crema_d, prepare_emodb, prepare_iemocap, prepare_ravdess

PREPARERS = {"crema_d": prepare_crema_d, "ravdess": prepare_ravdess, "emodb": prepare_emodb,
             "iemocap": prepare_iemocap, "adima": prepare_adima}  # fmt: skip
