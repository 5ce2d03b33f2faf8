"""What the stand-ins received, and the faults a test asked them to inject."""

from __future__ import annotations

import threading
from typing import Any


class Recorder:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._records: dict[str, list[dict[str, Any]]] = {}
        self._keys: dict[str, set[str]] = {}
        self._faults: dict[str, list[dict[str, Any]]] = {}

    def add(self, kind: str, record: dict[str, Any]) -> None:
        with self._lock:
            self._records.setdefault(kind, []).append(record)

    def add_once(self, kind: str, key: str, record: dict[str, Any]) -> None:
        """Record it unless one with this key was recorded before (a set, not a scan: a
        benchmark sends tens of thousands)."""
        with self._lock:
            seen = self._keys.setdefault(kind, set())
            if key not in seen:
                seen.add(key)
                self._records.setdefault(kind, []).append(record)

    def all(self, kind: str) -> list[dict[str, Any]]:
        with self._lock:
            return list(self._records.get(kind, []))

    def inject(self, target: str, fault: dict[str, Any], times: int) -> None:
        with self._lock:
            self._faults.setdefault(target, []).extend([fault] * times)

    def next_fault(self, target: str) -> dict[str, Any] | None:
        with self._lock:
            queue = self._faults.get(target) or []
            return queue.pop(0) if queue else None

    def reset(self) -> None:
        with self._lock:
            self._records.clear()
            self._keys.clear()
            self._faults.clear()
