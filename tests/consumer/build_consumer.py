#!/usr/bin/env python3
"""Builds and runs the consumer project of tests/consumer against c8y-mtls as a Meson subproject,
through the wrap file users copy (packaging/c8y-mtls.wrap), offline.

    build_consumer.py SOURCE_ROOT WORK_DIR

WORK_DIR is wiped and filled with src/ (a copy of tests/consumer with subprojects/c8y-mtls.wrap,
the wrap file as shipped, and subprojects/c8y-mtls, a symlink to SOURCE_ROOT standing for the
sources the wrap would fetch) and build/. The consumer asks for dependency('c8y-mtls') with no
fallback of its own: only the wrap's [provide] section can map it to the subproject. It is
configured with --wrap-mode=nodownload (nothing may be fetched) and -Dforce_fallback_for=c8y-mtls
(the subproject even where c8y-mtls is installed), then compiled and run, and its output is
compared with the expected one. The compiler is Meson's choice, which honours CXX. Exits
non-zero, with the failing command's output, on failure.
"""

import os
import shutil
import subprocess
import sys
from pathlib import Path

# The device the client id names, then CONNECT per MQTT 3.1.1 §3.1: fixed header with remaining
# length 19, protocol name "MQTT", level 4, clean session, keepalive 60, client id "d:dev-1".
EXPECTED_OUTPUT = (
    "device dev-1, connection type d\n"
    "CONNECT 10 13 00 04 4d 51 54 54 04 02 00 3c 00 07 64 3a 64 65 76 2d 31\n"
)


def run(command: list[str], cwd: Path | None = None) -> str:
    print("+ " + " ".join(command), flush=True)
    result = subprocess.run(command, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    if result.returncode != 0:
        print(result.stdout, end="")
        print(f"build_consumer.py: failed with exit code {result.returncode}: {' '.join(command)}", file=sys.stderr)
        sys.exit(1)
    return result.stdout


def stage_install(build_dir: Path, work_dir: Path) -> Path:
    """Installs what a developer installs from the configured Meson build BUILD_DIR (headers,
    pkg-config file, CMake package: no program is built) into WORK_DIR/root, wiping WORK_DIR
    first, and returns that root. Exits 2 when BUILD_DIR is not a configured build."""
    if not (build_dir / "build.ninja").is_file():
        print(f"{Path(sys.argv[0]).name}: {build_dir} is not a configured Meson build", file=sys.stderr)
        sys.exit(2)
    if work_dir.exists():
        shutil.rmtree(work_dir)
    root = work_dir / "root"
    run(["meson", "install", "-C", str(build_dir), "--no-rebuild", "--quiet", "--tags", "devel", "--destdir", str(root)])
    return root


def run_consumer(program: Path, success: str) -> int:
    """Runs the consumer program and compares what it prints with EXPECTED_OUTPUT."""
    output = run([str(program)])
    print(output, end="")
    if output != EXPECTED_OUTPUT:
        print(f"{Path(sys.argv[0]).name}: the consumer's output differs; expected:", file=sys.stderr)
        print(EXPECTED_OUTPUT, end="", file=sys.stderr)
        return 1
    print(f"{success} and printed what was expected")
    return 0


def main() -> int:
    if len(sys.argv) != 3:
        print(__doc__, file=sys.stderr)
        return 2
    source_root = Path(sys.argv[1]).resolve()
    work_dir = Path(sys.argv[2]).resolve()
    consumer_dir = Path(__file__).resolve().parent
    if not (source_root / "include" / "c8y" / "mtls.hpp").is_file():
        print(f"build_consumer.py: {source_root} is not the c8y-mtls source tree", file=sys.stderr)
        return 2
    if work_dir == source_root or work_dir in source_root.parents or work_dir == consumer_dir:
        print(f"build_consumer.py: refusing to wipe {work_dir}, which holds the sources", file=sys.stderr)
        return 2

    meson = shutil.which("meson")
    if meson is None:
        print("build_consumer.py: meson not found on PATH", file=sys.stderr)
        return 1

    print(f"preparing {work_dir}")
    if work_dir.exists():
        # The symlink first, so that nothing can walk from the work directory into the sources.
        link = work_dir / "src" / "subprojects" / "c8y-mtls"
        if link.is_symlink():
            link.unlink()
        shutil.rmtree(work_dir)
    src_dir = work_dir / "src"
    build_dir = work_dir / "build"
    shutil.copytree(consumer_dir, src_dir, ignore=shutil.ignore_patterns("*.py", "__pycache__", "CMakeLists.txt"))
    (src_dir / "subprojects").mkdir()
    (src_dir / "subprojects" / "c8y-mtls").symlink_to(source_root, target_is_directory=True)
    shutil.copyfile(source_root / "packaging" / "c8y-mtls.wrap", src_dir / "subprojects" / "c8y-mtls.wrap")

    print(f"compiler: {os.environ.get('CXX', 'Meson default (CXX not set)')}")
    run([meson, "setup", "--wrap-mode=nodownload", "-Dforce_fallback_for=c8y-mtls", str(build_dir), str(src_dir)])
    run([meson, "compile", "-C", str(build_dir)])

    return (run_consumer(build_dir / "consumer", "the consumer built with c8y-mtls as a subproject") or
            run_consumer(build_dir / "consumer_compiled", "the consumer built with c8y-mtls-compiled as a subproject"))


if __name__ == "__main__":
    sys.exit(main())
