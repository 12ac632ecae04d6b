"""Training recipes for the shipped models. Run a recipe as ``python -m engine.training.<name>``."""
