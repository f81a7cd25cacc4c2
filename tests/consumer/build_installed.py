#!/usr/bin/env python3
"""Installs c8y-mtls from a configured build into a scratch prefix, then builds and runs the
consumer program against it with nothing but `pkg-config --cflags --libs c8y-mtls`.

    build_installed.py BUILD_DIR WORK_DIR

WORK_DIR is wiped; the installation goes to WORK_DIR/root (meson install --destdir) and
pkg-config finds the prefix from where the .pc file lies (--define-prefix). The compiler is
$CXX, else c++. Exits non-zero, with the failing command's output, on failure.
"""

import os
import sys
from pathlib import Path

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
from build_consumer import run, run_consumer, stage_install  # noqa: E402


def main() -> int:
    if len(sys.argv) != 3:
        print(__doc__, file=sys.stderr)
        return 2
    work_dir = Path(sys.argv[2]).resolve()
    root = stage_install(Path(sys.argv[1]).resolve(), work_dir)

    pc_files = sorted(root.rglob("c8y-mtls.pc"))
    if len(pc_files) != 1:
        print(f"build_installed.py: expected one c8y-mtls.pc under {root}, found {len(pc_files)}", file=sys.stderr)
        return 1
    os.environ["PKG_CONFIG_PATH"] = str(pc_files[0].parent)
    flags = run(["pkg-config", "--define-prefix", "--cflags", "--libs", "c8y-mtls"]).split()
    if not any(flag.startswith("-I" + str(root)) for flag in flags):
        print(f"build_installed.py: the flags do not point into the installation: {flags}", file=sys.stderr)
        return 1

    program = work_dir / "consumer"
    compiler = os.environ.get("CXX", "c++")
    source = Path(__file__).resolve().parent / "main.cpp"
    run([compiler, "-std=c++20", "-Wall", "-Wextra", "-Wpedantic", "-Werror", str(source), *flags,
         "-o", str(program)])
    return run_consumer(program, "the consumer built against the installed headers and pkg-config file")


if __name__ == "__main__":
    sys.exit(main())
