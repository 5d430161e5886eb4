"""The cascade: consumers, their repositories and pins, converge, drift, fan-out, forge."""
