"""Dataset integrity checks, the 3D-consistency re-run and the reference evaluator (not implemented yet)."""
