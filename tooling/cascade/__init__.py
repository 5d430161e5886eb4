"""The cascade: consumers, their repositories and pins, converge, drift, fan-out, forge.

Also drift's heal (heal, `--fix`), held consumers (needs), the token preflight (preflight),
the job-summary sections (summaries) and the state names in one enum (outcome).
"""
