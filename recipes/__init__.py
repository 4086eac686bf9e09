"""The shipped recipes, installed as ``polyvox.recipes`` (see pyproject.toml): one folder per recipe with train.py,
configs/ and a README. They are scripts, not modules: ``polyvox train`` loads a train.py by path."""
