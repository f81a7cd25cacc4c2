#!/usr/bin/env python3
"""Compile-time benchmark: a small client program (benchmarks/compile/c8y_client.cpp: connect,
publish, request the token, disconnect) compiled header-only and under separate compilation,
against the same shape on Asio alone (benchmarks/compile/asio_client.cpp), with each compiler at
each optimisation level. A benchmark, not a test: a missed target is reported, never an error.

Each figure is the median wall time of --runs compilations (-c, one translation unit, one job at
a time) of the program's own source. Under separate compilation the program's translation unit
is what is timed, as it is what an application recompiles; the library's one source file
(c8y/mtls/impl/src.hpp), compiled once, is shown beside it, and the program is linked against
it to prove the figures are of a program that builds. Target (issue 14): separate compilation
at most 1.5 times Asio alone.

    benchmarks/compile_bench.py [--compilers g++-12,clang++-16] [--levels -O0,-O2] [--runs 3]
"""
import argparse
import os
import pathlib
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = pathlib.Path(__file__).resolve().parent.parent
PROGRAMS = ROOT / "benchmarks" / "compile"
TARGET = 1.5


def pkg_config(*args):
    return subprocess.run(["pkg-config", *args, "wolfssl"], check=True, capture_output=True, text=True).stdout.split()


def common_flags(compiler):
    flags = ["-std=c++20", f"-I{ROOT / 'include'}", "-DASIO_NO_DEPRECATED", *pkg_config("--cflags")]
    # What the Meson dependency and the CMake target pass for clang (Asio 1.22 does not detect
    # coroutines under clang with libstdc++); the Asio-alone program needs it as much.
    if "clang" in compiler:
        flags.append("-DASIO_HAS_CO_AWAIT=1")
    return flags


def compile_once(compiler, flags, source, output):
    start = time.perf_counter()
    done = subprocess.run([compiler, *flags, "-c", str(source), "-o", str(output)], capture_output=True, text=True)
    elapsed = time.perf_counter() - start
    if done.returncode != 0:
        sys.exit(f"compile_bench: {compiler} {' '.join(flags)} {source} failed:\n{done.stderr}")
    return elapsed


def median_time(compiler, flags, source, output, runs):
    return statistics.median(compile_once(compiler, flags, source, output) for _ in range(runs))


def link(compiler, objects, output):
    done = subprocess.run([compiler, *map(str, objects), *pkg_config("--libs"), "-pthread", "-o", str(output)],
                          capture_output=True, text=True)
    if done.returncode != 0:
        sys.exit(f"compile_bench: linking {output.name} failed:\n{done.stderr}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--compilers", default="g++-12,clang++-16")
    parser.add_argument("--levels", default="-O0,-O2")
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()

    compilers = [c for c in args.compilers.split(",") if c]
    for compiler in compilers:
        if not shutil.which(compiler):
            sys.exit(f"compile_bench: {compiler} not found")
    print(f"machine: {os.cpu_count()} cores, load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}; "
          f"median of {args.runs} compilations, wall seconds")
    header = (f"{'compiler':<12} {'level':<5} {'Asio alone':>10} {'header-only':>12} {'ratio':>6} "
              f"{'separate':>9} {'ratio':>6} {'library':>8}  target <= {TARGET}x")
    print(header)
    print("-" * len(header))
    with tempfile.TemporaryDirectory(prefix="c8y-mtls-compile-bench.") as work:
        work = pathlib.Path(work)
        library_source = work / "c8y_mtls.cpp"
        library_source.write_text("#include <c8y/mtls/impl/src.hpp>\n")
        for compiler in compilers:
            for level in [l for l in args.levels.split(",") if l]:
                flags = [*common_flags(compiler), level]
                separate = [*flags, "-DC8Y_MTLS_SEPARATE_COMPILATION"]
                asio = median_time(compiler, flags, PROGRAMS / "asio_client.cpp", work / "asio.o", args.runs)
                whole = median_time(compiler, flags, PROGRAMS / "c8y_client.cpp", work / "whole.o", args.runs)
                split = median_time(compiler, separate, PROGRAMS / "c8y_client.cpp", work / "split.o", args.runs)
                library = compile_once(compiler, separate, library_source, work / "library.o")
                link(compiler, [work / "asio.o"], work / "asio")
                link(compiler, [work / "whole.o"], work / "whole")
                link(compiler, [work / "split.o", work / "library.o"], work / "split")
                verdict = "met" if split / asio <= TARGET else "missed"
                print(f"{compiler:<12} {level:<5} {asio:>10.2f} {whole:>12.2f} {whole / asio:>5.1f}x "
                      f"{split:>9.2f} {split / asio:>5.1f}x {library:>8.2f}  {verdict}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
