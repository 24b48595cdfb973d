"""Scoring protocols: one module per protocol (``official``: the paper's evaluator)."""
