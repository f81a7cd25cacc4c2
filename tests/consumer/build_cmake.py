#!/usr/bin/env python3
"""Builds and runs the CMake consumer project of tests/consumer against an installed c8y-mtls.

    build_cmake.py BUILD_DIR WORK_DIR

WORK_DIR is wiped; c8y-mtls is installed from the configured Meson build BUILD_DIR into
WORK_DIR/root (meson install --destdir), then tests/consumer/CMakeLists.txt is configured with
CMAKE_PREFIX_PATH at the staged prefix, so that find_package(c8y-mtls <meson.build's version>
EXACT CONFIG) must find the package installed there, and the consumer is built and run. The
compiler is CMake's choice, which honours CXX. Exits non-zero on failure.
"""

import re
import shutil
import sys
from pathlib import Path

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
from build_consumer import run, run_consumer, stage_install  # noqa: E402

CONSUMER_DIR = Path(__file__).resolve().parent
SOURCE_ROOT = CONSUMER_DIR.parent.parent


def project_version(source_root: Path = SOURCE_ROOT) -> str:
    """The one version number of c8y-mtls, from meson.build's project()."""
    match = re.search(r"^project\([^)]*?\bversion\s*:\s*'([^']+)'", (source_root / "meson.build").read_text(),
                      re.S | re.M)
    if not match:
        raise SystemExit("no version in meson.build's project()")
    return match.group(1)


def build_cmake_consumer(prefix: Path, work_dir: Path, success: str) -> int:
    """Configures, builds and runs the CMake consumer with CMAKE_PREFIX_PATH=prefix."""
    cmake = shutil.which("cmake")
    if cmake is None:
        print("cmake not found on PATH (scripts/install-deps installs it)", file=sys.stderr)
        return 1
    build = work_dir / "cmake-build"
    output = run([cmake, "-S", str(CONSUMER_DIR), "-B", str(build), f"-DCMAKE_PREFIX_PATH={prefix}",
                  "-DCMAKE_FIND_USE_PACKAGE_REGISTRY=OFF", "-DCMAKE_FIND_USE_SYSTEM_PACKAGE_REGISTRY=OFF",
                  f"-DC8Y_MTLS_EXPECTED_VERSION={project_version()}"])
    print(output, end="")
    found = re.search(r"c8y-mtls (\S+) from (\S+)", output)
    if not found or not Path(found.group(2)).resolve().is_relative_to(prefix.resolve()):
        print(f"the package was not found under {prefix}", file=sys.stderr)
        return 1
    run([cmake, "--build", str(build), "-j1"])
    # consumer_compiled: the same program with c8y::mtls_compiled (separate compilation).
    return run_consumer(build / "consumer", success) or run_consumer(build / "consumer_compiled", success)


def main() -> int:
    if len(sys.argv) != 3:
        print(__doc__, file=sys.stderr)
        return 2
    work_dir = Path(sys.argv[2]).resolve()
    root = stage_install(Path(sys.argv[1]).resolve(), work_dir)
    configs = sorted(root.rglob("c8y-mtlsConfig.cmake"))
    if len(configs) != 1:
        print(f"build_cmake.py: expected one c8y-mtlsConfig.cmake under {root}, found {len(configs)}", file=sys.stderr)
        return 1
    # <prefix>/share/cmake/c8y-mtls/c8y-mtlsConfig.cmake
    prefix = configs[0].parent.parent.parent.parent
    if not (prefix / "include" / "c8y" / "mtls.hpp").is_file():
        print(f"build_cmake.py: no include/c8y/mtls.hpp next to the package in {prefix}", file=sys.stderr)
        return 1
    return build_cmake_consumer(prefix, work_dir, "the CMake consumer built against the staged installation")


if __name__ == "__main__":
    sys.exit(main())
