"""GSI-Bench core: schema, geometry, operations, hub I/O and the CLI."""

__version__ = "0.1.0"
