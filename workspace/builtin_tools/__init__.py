"""Tools every workspace has: a persistent memory store and an audit log."""
