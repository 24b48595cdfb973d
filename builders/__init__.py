"""`datasets` builders that write the GSI-Bench Hub layout (not implemented yet)."""
