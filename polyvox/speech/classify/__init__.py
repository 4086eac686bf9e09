"""Utterance classification (emotion, abuse detection): ``config``, ``model`` (encoder -> pooling -> head),
``task`` (training side), ``run`` (inference side: ``load_run``, ``classify``), ``fewshot`` (MAML vs fine-tuning)
and ``cli`` (``polyvox classify``)."""
