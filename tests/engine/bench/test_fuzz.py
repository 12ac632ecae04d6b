"""The fuzz bench: its seeds and mutations, its worker's classification, and a seeded run of 300
damaged files in which every file is either loaded or refused with a clean error."""

from __future__ import annotations

import json
import os
import struct
import zlib

import numpy as np
import pytest

from engine.bench.fuzz import ANYTHING_ELSE, Case, make_case, run_cases, run_fuzz
from engine.bench.fuzz_mutate import MUTATIONS, mutate
from engine.bench.fuzz_seeds import seed_files
from engine.cli import main
from engine.io import ImageReadError, load

SEEDS = seed_files()
posix_only = pytest.mark.skipif(os.name != "posix", reason="the fuzz workers need POSIX")


def test_the_seeds_cover_every_format_depth_and_layout(tmp_path):
    layouts = {}
    for seed in SEEDS:
        path = tmp_path / f"{seed.name}{seed.ext}"
        path.write_bytes(seed.data)
        if seed.name == "tiff-5ch16":
            with pytest.raises(ImageReadError, match="not supported"):
                load(path)
            continue
        image = load(path)
        layouts[seed.name] = (image.format, image.pixels.dtype.itemsize, image.pixels.shape[2])
    assert {fmt for fmt, _, _ in layouts.values()} == {"PNG", "JPEG", "TIFF", "WEBP", "BMP"}
    for fmt in ("PNG", "TIFF"):
        assert {(size, channels) for f, size, channels in layouts.values() if f == fmt} >= {
            (1, 1), (1, 3), (1, 4), (2, 1), (2, 3), (2, 4)}
    assert layouts["jpeg-cmyk"] == ("JPEG", 1, 3) and layouts["tiff-graya16"] == ("TIFF", 2, 4)
    assert layouts["webp-alpha"] == ("WEBP", 1, 4) and layouts["png-pal8-trns"][2] == 4
    assert all(len(seed.data) < 10_000 for seed in SEEDS)  # small: mutations hit the headers


def test_cases_are_made_again_from_their_number():
    first = [make_case(index, SEEDS, 7) for index in range(60)]
    again = [make_case(index, SEEDS, 7) for index in range(60)]
    assert [case.data for case in first] == [case.data for case in again]
    assert [case.data for case in first] != [make_case(i, SEEDS, 8).data for i in range(60)]
    assert {case.mutation for case in first} == set(MUTATIONS)
    seeds = {seed.name: seed.data for seed in SEEDS}
    assert sum(case.data != seeds[case.seed] for case in first) >= 55 and all(
        case.data for case in first)


def test_header_size_edits_a_png_size_and_keeps_its_crc_valid():
    seed = next(s for s in SEEDS if s.name == "png-rgba16")
    sizes, valid = set(), 0
    for index in range(40):
        data = mutate(seed.data, "png", "header_size", np.random.default_rng(index))
        sizes.add(struct.unpack(">II", data[16:24]))
        crc = struct.unpack(">I", data[29:33])[0]
        valid += crc == zlib.crc32(data[12:29])
    assert len(sizes - {(37, 23)}) > 10
    assert valid >= 30  # nine in ten keep the CRC right, so the edit reaches the decoder


_FAKE_LOADER = '''
import os, signal, time
from types import SimpleNamespace
import numpy as np
from engine.io import ImageReadError

def load(path):
    kind = open(path, "rb").read().decode()
    if kind == "hang":
        time.sleep(600)
    if kind == "crash":
        os.kill(os.getpid(), signal.SIGSEGV)
    if kind == "exit":
        os._exit(3)
    if kind == "memory":
        return bytearray(8 << 30)
    if kind == "foreign":
        raise KeyError("not an ImageReadError")
    if kind == "clean":
        raise ImageReadError("Cannot open it: clean")
    pixels = np.zeros((2, 2, 3), np.float32 if kind == "invalid" else np.uint8)
    return SimpleNamespace(pixels=pixels, bit_depth=8, has_alpha=False)
'''


@posix_only
def test_the_worker_classifies_and_survives_crashes_and_hangs(tmp_path, monkeypatch):
    (tmp_path / "fake_loader.py").write_text(_FAKE_LOADER)
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(
        filter(None, [str(tmp_path), os.environ.get("PYTHONPATH")])))
    kinds = ["loaded", "clean", "crash", "loaded", "hang", "foreign", "exit", "memory",
             "invalid", "loaded"]
    cases = [Case(index, "test", kind, ".png", data=kind.encode())
             for index, kind in enumerate(kinds)]
    report = run_cases(cases, memory_limit=2 << 30, timeout=6.0, loader="fake_loader:load",
                       keep=tmp_path / "kept")
    outcomes = [(result.outcome, result.detail) for result in report.results]
    assert [outcome for outcome, _ in outcomes] == [
        "loaded", "clean", "crash", "loaded", "hang", "foreign", "crash", "foreign", "invalid",
        "loaded"]
    assert outcomes[2][1] == "killed by SIGSEGV" and outcomes[4][1] == "no answer in 6 s"
    assert outcomes[5][1] == "KeyError: 'not an ImageReadError'"
    assert outcomes[6][1] == "the worker exited with code 3"
    assert outcomes[7][1].startswith("MemoryError")  # the address-space limit holds
    assert outcomes[8][1] == "pixels has dtype float32"
    assert report.restarts == 3  # after the crash, the hang and the exit
    assert len(report.anything_else) == 6
    assert sorted(p.name.split("-")[-1] for p in (tmp_path / "kept").iterdir()) == sorted(
        f"{kind}.png" for kind in kinds if kind in ANYTHING_ELSE + ("exit", "memory"))


@posix_only
def test_three_hundred_damaged_files_load_or_fail_cleanly():
    report = run_fuzz(300, seed=0, memory_limit=4 << 30, timeout=30.0)
    counts = report.counts()["all"]
    others = [f"#{r.case.index} {r.case.seed} {r.case.mutation}: {r.outcome}: {r.detail}"
              for r in report.anything_else]
    assert others == []
    specials = [r for r in report.results if r.case.seed == "special"]
    assert len(report.results) == 300 + len(specials) and len(specials) >= 2
    assert counts["loaded"] > 30 and counts["clean"] > 150
    assert os.name != "posix" or "fifo" in {r.case.mutation for r in specials}
    assert all(r.outcome == "clean" and r.seconds < 5 for r in specials)
    by_mutation = report.counts("mutation")
    assert all(by_mutation[kind]["clean"] > 0 for kind in MUTATIONS)


@posix_only
def test_the_command_prints_the_counts_and_saves_them(tmp_path, capsys):
    report = tmp_path / "fuzz.json"
    assert main(["bench", "fuzz", "--count", "25", "--seed", "3", "--quiet",
                 "--json", str(report)]) == 0
    out = capsys.readouterr().out
    assert "anything else 0 (foreign 0, invalid 0, crash 0, hang 0)" in out
    assert out.splitlines()[0].startswith("fuzz: ")
    rows = json.loads(report.read_text())["rows"]
    assert len(rows) >= 25 and {row["outcome"] for row in rows} <= {"loaded", "clean"}
    assert main(["bench", "fuzz", "--count", "1", "--memory-limit", "lots", "--quiet"]) == 2
