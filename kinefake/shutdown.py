"""A process's exit without the interpreter's final garbage collections."""

from __future__ import annotations

import atexit
import gc

_registered = False


def skip_final_collections() -> None:
    """At this process's exit (an :mod:`atexit` handler), move every object to the garbage
    collector's permanent generation (:func:`gc.freeze`), so that the interpreter's
    finalisation does not collect them again and again as it tears the modules down.
    Idempotent.

    A process that has imported Beam (with its GCP modules, ~180,000 tracked objects) spends
    ~0.45 s in those collections after its last line; frozen, 0.05 s. DirectRunner stops its
    workers one after the other, each once the one before has exited, so a run with N
    workers paid it N times over, and the launcher once more. Nothing else changes: modules
    are still cleared, objects outside reference cycles still freed with their ``__del__``,
    exit handlers (logging's flush, ``weakref.finalize``) and stdio flushing still run; only
    objects in cycles are left to the operating system, as ``os._exit`` would leave all of them.
    """
    global _registered
    if not _registered:
        atexit.register(gc.freeze)
        _registered = True
