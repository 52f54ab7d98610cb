"""HTTP service: the same ``Verifier.verify`` as the CLI, behind FastAPI."""
