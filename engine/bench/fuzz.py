"""``pixelmend bench fuzz``: load thousands of damaged files and count what comes out.

Each case is a seed file of :mod:`~engine.bench.fuzz_seeds` (every format, mode and depth the
loader reads; the images of ``--data`` too, when given) with one mutation of
:mod:`~engine.bench.fuzz_mutate`, chosen by a generator seeded with ``(--seed, case number)``,
so any case is made again from its number. A few special files follow them (a FIFO, a directory,
a device, a dangling link, an empty file). Each file is loaded by :func:`engine.io.load` in a
worker process (:mod:`~engine.bench.fuzz_worker`) whose address space is capped at
``--memory-limit``, with ``--timeout`` seconds per file. Outcomes:

``loaded``
    Decoded, and the result keeps the loader's contract.
``clean``
    :class:`~engine.io.ImageReadError`: one message that names the file and the cause.
``foreign``, ``invalid``, ``crash``, ``hang``
    Anything else: another exception, a result that breaks the contract, the worker killed by a
    signal (or exiting), no answer in time. The worker is restarted after a crash or a hang.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from engine.bench.common import BenchError, log, write_json_report
from engine.bench.fuzz_mutate import MUTATIONS, mutate
from engine.bench.fuzz_seeds import Seed, seed_files
from engine.bench.fuzz_worker import Worker

__all__ = ["ANYTHING_ELSE", "OUTCOMES", "Case", "FuzzReport", "add_suite_arguments",
           "make_case", "run_cases", "run_fuzz", "suite"]

OUTCOMES = ("loaded", "clean", "foreign", "invalid", "crash", "hang")
ANYTHING_ELSE = ("foreign", "invalid", "crash", "hang")


@dataclass(frozen=True)
class Case:
    """One file to load: a mutated seed (``data``), or a special file made by ``make``."""

    index: int
    seed: str
    mutation: str
    ext: str
    data: bytes | None = None
    make: Callable[[Path], Path] | None = None

    def write(self, folder: Path) -> Path:
        """Create the file in ``folder`` and return its path."""
        if self.make is not None:
            return self.make(folder)
        path = folder / f"{self.index:05d}-{self.seed}-{self.mutation}{self.ext}"
        path.write_bytes(self.data or b"")
        return path


@dataclass(frozen=True)
class Result:
    """What loading one case gave."""

    case: Case
    outcome: str
    detail: str
    seconds: float


def make_case(index: int, seeds: Sequence[Seed], base_seed: int = 0) -> Case:
    """Case number ``index``: the same seed file and mutation for the same arguments."""
    rng = np.random.default_rng([base_seed, index])
    seed = seeds[int(rng.integers(0, len(seeds)))]
    kind = list(MUTATIONS)[int(rng.integers(0, len(MUTATIONS)))]
    return Case(index, seed.name, kind, seed.ext, mutate(seed.data, seed.format, kind, rng))


def _special(index: int, name: str, make: Callable[[Path], Path]) -> Case:
    return Case(index, "special", name, "", make=make)


def special_cases(start: int) -> list[Case]:
    """Files that are not damaged images: each must give a clean error at once."""

    def fifo(folder: Path) -> Path:
        os.mkfifo(folder / "photo.png")
        return folder / "photo.png"

    def link(target: str, name: str) -> Callable[[Path], Path]:
        def make(folder: Path) -> Path:
            (folder / name).symlink_to(target)
            return folder / name
        return make

    def directory(folder: Path) -> Path:
        (folder / "folder.png").mkdir()
        return folder / "folder.png"

    def empty(folder: Path) -> Path:
        (folder / "empty.jpg").write_bytes(b"")
        return folder / "empty.jpg"

    makers: list[tuple[str, Callable[[Path], Path]]] = [("directory", directory),
                                                        ("empty", empty)]
    if hasattr(os, "mkfifo"):
        makers.append(("fifo", fifo))
    if os.name == "posix":
        makers += [("device", link("/dev/zero", "zero.png")),
                   ("dangling_link", link("no-such-file.png", "dangling.png"))]
    return [_special(start + offset, name, make) for offset, (name, make) in enumerate(makers)]


@dataclass
class FuzzReport:
    """The results of a fuzz run, in case order."""

    results: list[Result]
    seconds: float
    restarts: int = 0
    settings: dict[str, Any] = field(default_factory=dict)

    def counts(self, by: str | None = None) -> dict[str, Counter[str]]:
        """Outcome counts, overall (key ``"all"``) or per ``"mutation"`` or ``"format"``."""
        table: dict[str, Counter[str]] = {}
        for result in self.results:
            key = "all" if by is None else (result.case.mutation if by == "mutation"
                                            else result.case.seed.split("-")[0])
            table.setdefault(key, Counter())[result.outcome] += 1
        return table

    @property
    def anything_else(self) -> list[Result]:
        """The results that are neither loaded nor a clean error."""
        return [result for result in self.results if result.outcome in ANYTHING_ELSE]


def run_cases(cases: Sequence[Case], *, memory_limit: int, timeout: float, workers: int = 1,
              loader: str = "engine.io:load", keep: Path | None = None,
              progress: Callable[[int, int], None] | None = None) -> FuzzReport:
    """Load every case in ``workers`` worker processes and collect the outcomes."""
    results: list[Result | None] = [None] * len(cases)
    queue: Iterator[int] = iter(range(len(cases)))
    lock = threading.Lock()
    done = [0]
    pool = [Worker(memory_limit=memory_limit, timeout=timeout, loader=loader)
            for _ in range(max(1, workers))]
    started = time.perf_counter()

    def serve(worker: Worker) -> None:
        with tempfile.TemporaryDirectory(prefix="pixelmend-fuzz-") as scratch:
            while True:
                with lock:
                    index = next(queue, None)
                if index is None:
                    return
                case = cases[index]
                folder = Path(scratch) / str(index)
                folder.mkdir()
                path = case.write(folder)
                worker.ensure_started()  # a restart is not the file's time
                began = time.perf_counter()
                outcome, detail = worker.load(path)
                results[index] = Result(case, outcome, detail, time.perf_counter() - began)
                if keep is not None and outcome in ANYTHING_ELSE and case.data is not None:
                    keep.mkdir(parents=True, exist_ok=True)
                    (keep / path.name).write_bytes(case.data)
                _remove(folder)
                with lock:
                    done[0] += 1
                    if progress is not None:
                        progress(done[0], len(cases))

    threads = [threading.Thread(target=serve, args=(worker,), daemon=True) for worker in pool]
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    finally:
        for worker in pool:
            worker.close()
    finished = [result for result in results if result is not None]
    return FuzzReport(finished, time.perf_counter() - started,
                      sum(max(0, worker.restarts) for worker in pool))


def _remove(folder: Path) -> None:
    for path in folder.iterdir():
        if path.is_dir() and not path.is_symlink():
            path.rmdir()
        else:
            path.unlink()
    folder.rmdir()


def run_fuzz(count: int, *, seed: int = 0, memory_limit: int = 4 << 30, timeout: float = 20.0,
             workers: int = 1, extra_seeds: Sequence[Seed] = (), specials: bool = True,
             keep: Path | None = None, loader: str = "engine.io:load",
             progress: Callable[[int, int], None] | None = None) -> FuzzReport:
    """Make ``count`` mutated files (and the special ones) and load each in a worker.

    Parameters
    ----------
    count : int
        Mutated files.
    seed : int
        Base seed: the same number gives the same files.
    memory_limit : int
        Address-space limit of each worker, in bytes.
    timeout : float
        Seconds a file may take before it counts as a hang.
    workers : int
        Worker processes loading side by side.
    extra_seeds : sequence of Seed
        More seed files (``pixelmend bench fuzz --data``).
    specials : bool
        Also load the special files (FIFO, directory, device, dangling link, empty file).
    keep : Path, optional
        Save each file that was neither loaded nor a clean error here.
    loader : str
        ``module:function`` that loads a path (tests replace :func:`engine.io.load`).
    progress : callable, optional
        ``progress(done, total)`` after each file.

    Returns
    -------
    FuzzReport
    """
    if count < 0:
        raise BenchError("--count must be at least 0")
    seeds = [*seed_files(), *extra_seeds]
    cases = [make_case(index, seeds, seed) for index in range(count)]
    cases += special_cases(count) if specials else []
    report = run_cases(cases, memory_limit=memory_limit, timeout=timeout, workers=workers,
                       loader=loader, keep=keep, progress=progress)
    report.settings = {"count": count, "seed": seed, "seeds": len(seeds),
                       "memory_limit": memory_limit, "timeout": timeout, "workers": workers}
    return report


# ------------------------------------------------------------------------------------- suite

def add_suite_arguments(parser: argparse.ArgumentParser) -> None:
    """The fuzz suite's own options."""
    parser.add_argument("--count", type=int, default=1000, help="mutated files (default 1000)")
    parser.add_argument("--memory-limit", default="4G", metavar="SIZE",
                        help="address-space limit of each loading process (default 4G)")
    parser.add_argument("--timeout", type=float, default=20.0, metavar="S",
                        help="seconds one file may take before it counts as a hang (default 20)")
    parser.add_argument("--workers", type=int, default=1, help="loading processes (default 1)")
    parser.add_argument("--keep", metavar="DIR",
                        help="save the files that were neither loaded nor a clean error here")


def _extra_seeds(args: argparse.Namespace) -> list[Seed]:
    from engine.bench.common import list_images
    from engine.io import format_of

    if not getattr(args, "data", None):
        return []
    seeds = []
    for path in list_images(args.data, args.limit):
        fmt = format_of(path)
        assert fmt is not None
        seeds.append(Seed(f"{fmt.name.lower()}-data:{path.stem}", path.suffix.lower(),
                          path.read_bytes()))
    return seeds


def _table(report: FuzzReport, by: str | None) -> list[str]:
    counts = report.counts(by)
    label = by or "outcome"
    lines = [f"{label:<14}" + "".join(f"{name:>9}" for name in (*OUTCOMES, "total"))]
    for key in sorted(counts):
        row = counts[key]
        lines.append(f"{key:<14}" + "".join(f"{row[name]:>9}" for name in OUTCOMES)
                     + f"{sum(row.values()):>9}")
    return lines


def suite(args: argparse.Namespace) -> int:
    """Run the fuzz suite; exit code 1 when any file was neither loaded nor a clean error."""
    from engine.io import parse_size

    if os.name != "posix":
        raise BenchError("the fuzz suite needs a POSIX system (Linux, macOS): its workers are "
                         "limited with setrlimit and read with select")
    try:
        memory_limit = parse_size(args.memory_limit)
    except ValueError as error:
        raise BenchError(f"--memory-limit: {error}") from None
    if args.workers < 1 or args.timeout <= 0:
        raise BenchError("--workers must be at least 1 and --timeout above 0")
    step = max(1, args.count // 20)

    def progress(done: int, total: int) -> None:
        if done % step == 0 or done == total:
            log(args, f"fuzz: {done} of {total} files")

    report = run_fuzz(args.count, seed=args.seed, memory_limit=memory_limit,
                      timeout=args.timeout, workers=args.workers, extra_seeds=_extra_seeds(args),
                      keep=Path(args.keep) if args.keep else None, progress=progress)
    total = report.counts().get("all", Counter())
    others = report.anything_else
    print(f"fuzz: {len(report.results)} files ({args.count} mutated from "
          f"{report.settings['seeds']} seeds, seed {args.seed}, and "
          f"{len(report.results) - args.count} special), memory limit "
          f"{args.memory_limit}, timeout {args.timeout:g} s, {args.workers} worker(s): "
          f"{report.seconds:.0f} s")
    print(f"loaded {total['loaded']}, clean error {total['clean']}, anything else "
          f"{len(others)} (foreign {total['foreign']}, invalid {total['invalid']}, crash "
          f"{total['crash']}, hang {total['hang']}); worker restarts {report.restarts}")
    for by in ("mutation", "format"):
        print()
        print("\n".join(_table(report, by)))
    for result in others:
        print(f"#{result.case.index} {result.case.seed} {result.case.mutation}: "
              f"{result.outcome}: {result.detail}")
    slowest = sorted(report.results, key=lambda r: r.seconds)[-3:]
    log(args, "slowest: " + ", ".join(f"#{r.case.index} {r.case.seed} {r.case.mutation} "
                                      f"{r.seconds:.2f} s ({r.outcome})" for r in slowest))
    write_json_report(args, "fuzz", [
        {"index": r.case.index, "seed": r.case.seed, "mutation": r.case.mutation,
         "outcome": r.outcome, "detail": r.detail, "seconds": round(r.seconds, 4)}
        for r in report.results], settings=report.settings, seconds=report.seconds)
    return 1 if others else 0
