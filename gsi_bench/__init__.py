"""GSI-Bench core: schema, geometry, operations, hub I/O and the CLI."""

__version__ = "0.1.0"


def evaluate(data, predictions, **kwargs):
    """Score predictions on GSI-Bench; see :func:`validation.evaluator.api.evaluate`.

    A lazy entry point: the evaluator (package ``validation``) is imported only when called, so
    ``import gsi_bench`` stays light and depends on nothing above it.
    """
    from validation.evaluator.api import evaluate as _evaluate

    return _evaluate(data, predictions, **kwargs)
