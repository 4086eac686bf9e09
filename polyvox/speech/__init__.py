"""Speech models: shared ``encoders`` (HF SSL + featurizer, fbank, ECAPA), ``pooling``, ``ctc`` and articulatory
``attributes`` heads, and one folder per task: ``asr/``, ``phones/``, ``classify/``."""
