"""Benchmarks, one module per stage; each prints its figures side by side in one run."""
