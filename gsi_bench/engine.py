"""Execution engines: map a function over work units, results back in input order.

Two engines share one interface (:meth:`Engine.map`), so a caller that writes its results in input
order (the GSI-Syn pipeline writes shard ``k`` from units ``[k·U, (k+1)·U)``, the evaluator scores
row groups) produces the same bytes whichever engine ran the units and however many workers it had:

* ``local`` (default, no extra dependency) — a :mod:`multiprocessing` pool on this machine, or
  inline when there is one worker or one unit;
* ``ray`` — one Ray task per unit on a local Ray instance or a cluster (``address="auto"`` or
  ``"ray://HOST:PORT"``). A unit whose worker process or node dies, or that raises, is retried
  (``max_retries``); at most ``max_in_flight`` units are pending, so the driver's memory stays flat
  whatever the number of units.

``fn`` and the items must be picklable (module-level functions; Ray workers import them, so the
package must be installed on every node or shipped with a ``runtime_env``).

>>> with make_engine("local", workers=1) as engine:
...     list(engine.map(abs, [-2, 3, -1]))
[2, 3, 1]
"""

from __future__ import annotations

import multiprocessing as mp
import uuid
from abc import ABC, abstractmethod
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from typing import Any

ENGINES = ("local", "ray")


class Engine(ABC):
    """Ordered parallel map. Use as a context manager; :meth:`close` releases what it started."""

    name: str = ""

    @abstractmethod
    def map(self, fn: Callable[[Any], Any], items: Sequence[Any], *,
            initializer: Callable[..., None] | None = None, initargs: tuple = ()) -> Iterator[Any]:
        """Yield ``fn(item)`` for each item, in the order of ``items``. ``initializer(*initargs)``
        runs once in each worker process before its first item (as in :class:`multiprocessing.Pool`);
        when the local engine runs inline it is not called (the caller's process is already set up)."""

    def describe(self) -> str:
        return self.name

    def close(self) -> None:  # noqa: B027 - optional hook
        pass

    def __enter__(self) -> Engine:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


class LocalEngine(Engine):
    """A process pool on this machine (``workers`` processes; inline when 1).

    ``start_method``: ``spawn`` (fresh interpreters; required by the GL renderer), ``forkserver``
    (workers forked from a fresh server process: as clean as ``spawn``) or ``fork``. ``preload``:
    modules the forkserver imports once before forking the workers, which then start with them
    imported instead of each importing them again (ignored by the other start methods, and when
    this process's forkserver is already running).
    """

    name = "local"

    def __init__(self, workers: int = 1, start_method: str = "spawn", preload: tuple[str, ...] = ()):
        if workers < 1:
            raise ValueError(f"workers must be ≥ 1, got {workers}")
        self.workers, self.start_method, self.preload = workers, start_method, tuple(preload)

    def map(self, fn, items, *, initializer=None, initargs=()):
        items = list(items)
        if self.workers <= 1 or len(items) <= 1:
            yield from map(fn, items)
            return
        ctx = mp.get_context(self.start_method)
        if self.start_method == "forkserver" and self.preload:
            ctx.set_forkserver_preload(list(self.preload))
        pool = ctx.Pool(min(self.workers, len(items)), initializer=initializer, initargs=initargs)
        try:
            yield from pool.imap(fn, items, chunksize=1)
            pool.close()
        finally:
            pool.terminate()  # no-op after close(); stops the workers on an error or early exit
            pool.join()

    def describe(self) -> str:
        return f"local ({self.workers} worker{'s' if self.workers > 1 else ''})"


# -- Ray ----------------------------------------------------------------------------------------
#: Worker-side record of the initialisers already run in this process (key → True).
_INITIALISED: dict[str, bool] = {}


def _ray_unit(fn: Callable, item: Any, init_key: str, init: tuple | None) -> Any:
    """Body of one Ray task: run the map's initialiser once per worker process, then ``fn(item)``."""
    if init is not None and init_key not in _INITIALISED:
        initializer, initargs = init
        initializer(*initargs)
        _INITIALISED[init_key] = True
    return fn(item)


class RayEngine(Engine):
    """One Ray task per item, on the cluster at ``address`` (``None``: ``$RAY_ADDRESS`` if set,
    else a new local instance with ``num_cpus`` CPUs; ``"auto"``: the running local cluster;
    ``"ray://HOST:PORT"``: a remote cluster through Ray Client).

    Each task may be retried ``max_retries`` times: when its worker process or node dies, and when
    it raises (``retry_exceptions``). ``runtime_env`` is passed to :func:`ray.init` (e.g.
    ``{"working_dir": ".", "pip": [...]}``); a job started with ``ray job submit`` already has one.
    """

    name = "ray"

    def __init__(self, address: str | None = None, num_cpus: int | None = None, max_retries: int = 3,
                 max_in_flight: int | None = None, runtime_env: dict | None = None):
        try:
            import ray
        except ModuleNotFoundError as err:
            raise SystemExit("error: --engine ray needs Ray; install it with `pip install 'gsi-bench[ray]'`") from err
        self._ray = ray
        self.started = False
        if not ray.is_initialized():
            kwargs: dict[str, Any] = {"address": address, "include_dashboard": False, "runtime_env": runtime_env,
                                      "logging_level": "WARNING"}
            if address is None and num_cpus is not None:
                kwargs["num_cpus"] = num_cpus
            try:
                ray.init(**kwargs)
            except (ConnectionError, ValueError, RuntimeError) as err:
                raise SystemExit(f"error: cannot connect to the Ray cluster at {address or 'a new local instance'}: "
                                 f"{err}; start one with `ray start --head` or fix --address") from err
            self.started = True
        self.max_retries = max_retries
        self.cpus = max(1, int(ray.cluster_resources().get("CPU", 1)))
        self.max_in_flight = max_in_flight or 2 * self.cpus
        self._task = ray.remote(_ray_unit).options(max_retries=max_retries, retry_exceptions=True)

    def map(self, fn, items, *, initializer=None, initargs=()):
        ray = self._ray
        init = ray.put((initializer, initargs)) if initializer is not None else None
        init_key = uuid.uuid4().hex
        fn_ref = ray.put(fn)
        pending: deque = deque()
        it = iter(items)
        try:
            for item in it:
                pending.append(self._task.remote(fn_ref, item, init_key, init))
                if len(pending) >= self.max_in_flight:
                    yield ray.get(pending.popleft())
            while pending:
                yield ray.get(pending.popleft())
        finally:
            for ref in pending:  # an early exit or an error: drop what is still queued
                ray.cancel(ref)

    def describe(self) -> str:
        return f"ray ({self.cpus} CPUs, {self.max_retries} retries per unit)"

    def close(self) -> None:
        if self.started and self._ray.is_initialized():
            self._ray.shutdown()
            self.started = False


def make_engine(name: str = "local", workers: int = 1, address: str | None = None,
                start_method: str = "spawn", **ray_options: Any) -> Engine:
    """The engine called ``name`` (``local`` or ``ray``).

    ``workers``: local pool size; for ``ray`` without ``address``, the CPUs of the new local
    instance (ignored when connecting to a cluster, whose size rules). ``address`` is only
    meaningful for ``ray``.
    """
    if name == "local":
        if address:
            raise SystemExit("error: --address is for --engine ray; drop it or add --engine ray")
        return LocalEngine(workers, start_method)
    if name == "ray":
        return RayEngine(address=address, num_cpus=workers if workers > 1 else None, **ray_options)
    raise SystemExit(f"error: unknown engine {name!r}; choose one of {', '.join(ENGINES)}")


def add_engine_arguments(parser) -> None:
    """Add ``--engine`` and ``--address`` to an :mod:`argparse` parser (or argument group)."""
    parser.add_argument("--engine", default="local", choices=ENGINES,
                        help="local: a process pool of --workers (default); ray: Ray tasks on a cluster")
    parser.add_argument("--address", default=None,
                        help="Ray cluster address for --engine ray: auto (the running cluster) or ray://HOST:PORT "
                             "(default: $RAY_ADDRESS, else a new local Ray instance of --workers CPUs)")


def engine_from_args(args, start_method: str = "spawn") -> Engine:
    """:func:`make_engine` from parsed ``--engine`` / ``--address`` / ``--workers`` arguments."""
    return make_engine(getattr(args, "engine", "local"), getattr(args, "workers", 1),
                       getattr(args, "address", None), start_method)


__all__ = ["ENGINES", "Engine", "LocalEngine", "RayEngine", "add_engine_arguments", "engine_from_args", "make_engine"]
