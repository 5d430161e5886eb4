"""The public API: its model, the diff and the bump it requires, ``compat.json``, consumer needs."""
