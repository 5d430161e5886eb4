"""The smoke stage: install the built wheel in fresh venvs and prove it works."""
