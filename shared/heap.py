"""The garbage collector, tuned for a long-running service.

A service imports some 130,000 objects (FastAPI, pydantic's schemas, FHIR models) that live
as long as the process. CPython's collector scanned them all again at every full collection:
in a benchmark the notifier spent a third of its CPU there (28 full collections of about
145 ms each in 20 s of CPU), intake a tenth. Once start-up is done they are frozen, out of
the collector's sight, and the youngest generation is collected after more allocations, so
that a batch's objects, which die within a batch, are not promoted to be scanned again.
Reference counting frees everything as before; only cycles wait a little longer."""

from __future__ import annotations

import gc

# Allocations (less deallocations) of container objects before the youngest generation is
# collected: CPython's default is 700, sized for small scripts rather than servers.
YOUNG_GENERATION_THRESHOLD = 50_000


def settle() -> None:
    """Collect what start-up left, freeze the rest, then raise the young threshold."""
    gc.collect()
    gc.freeze()
    _, middle, oldest = gc.get_threshold()
    gc.set_threshold(YOUNG_GENERATION_THRESHOLD, middle, oldest)
