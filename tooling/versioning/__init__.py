"""Versions from history: commits since the last tag, the plan, the changelog, the survey."""
