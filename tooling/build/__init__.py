"""The build stage: stage + rewrite ``workspace/``, build wheel and sdist, check them."""
