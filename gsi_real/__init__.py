"""GSI-Real: the pipeline from RGB-D captures to verified edit triplets (not implemented yet)."""
