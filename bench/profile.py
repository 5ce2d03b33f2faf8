"""Where the services spend their CPU during a benchmark phase: py-spy samples each process
(from outside, without changing it) and writes its stacks collapsed, one line per stack with
its sample count; `hottest` sums them by function, as a flame graph would show them.

    uv run python -m bench.pipeline --profile     (writes bench/results/profile-*.txt)
    uv run python -m bench.profile bench/results/profile-notifier.txt
"""

from __future__ import annotations

import shutil
import signal
import subprocess
import sys
from collections import Counter
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path


@contextmanager
def profiled(processes: Mapping[str, list[int]], folder: Path) -> Iterator[list[Path]]:
    """Sample each named process while the block runs (py-spy, 100 a second)."""
    spy = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
    folder.mkdir(parents=True, exist_ok=True)
    files, spies = [], []
    for name, pids in processes.items():
        for i, pid in enumerate(pids):
            out = folder / f"profile-{name}{'-' + str(i) if i else ''}.txt"
            files.append(out)
            command = [spy, "record", "--pid", str(pid), "--format", "raw", "--rate", "100",
                       "--nonblocking", "-o", str(out)]  # fmt: skip
            quiet = subprocess.DEVNULL
            spies.append(subprocess.Popen(command, stdout=quiet, stderr=quiet))
    try:
        yield files
    finally:
        for process in spies:
            process.send_signal(signal.SIGINT)  # py-spy writes what it sampled, then exits
        for process in spies:
            process.wait(timeout=60)


def hottest(path: Path, top: int = 25) -> tuple[int, list[tuple[str, int, int]]]:
    """(samples, [(function, self samples, samples under it)]) from a collapsed-stack file."""
    own: Counter[str] = Counter()
    under: Counter[str] = Counter()
    total = 0
    for line in path.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack:
            continue
        n = int(count)
        total += n
        frames = stack.split(";")
        own[frames[-1]] += n
        for frame in set(frames):
            under[frame] += n
    ranked = sorted(under, key=lambda f: -own[f])[:top]
    return total, [(f, own[f], under[f]) for f in ranked]


def main() -> None:
    for name in sys.argv[1:]:
        total, ranked = hottest(Path(name))
        print(f"{name}: {total} samples; self% / total% / function")
        for frame, mine, below in ranked:
            print(f"{100 * mine / total:6.1f} {100 * below / total:6.1f}  {frame}")


if __name__ == "__main__":
    main()
