#!/usr/bin/env python3
"""Checks that every place that states c8y-mtls's version states meson.build's.

    check_version.py SOURCE_ROOT BUILD_DIR

The one version number is the one in meson.build's project(). It must be repeated by
  include/c8y/mtls/version.hpp      C8Y_MTLS_VERSION_MAJOR/_MINOR/_PATCH/_STRING, and
                                    c8y::mtls::version as a compiled program sees it
  single_include/c8y/mtls.hpp       the banner's first line (and the same macros)
  ports/c8y-mtls/vcpkg.json         "version"
  packaging/c8y-mtls.wrap           revision = v<version>
  BUILD_DIR/meson-private/c8y-mtls.pc            Version:   (the pkg-config file meson installs)
  BUILD_DIR/c8y-mtlsConfigVersion.cmake          PACKAGE_VERSION (the CMake package)
The compiler is $CXX, else c++. Exits 1 naming each place that differs.
"""

import json
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

PROGRAM = r"""
#include <c8y/mtls/version.hpp>
#include <cstdio>
static_assert(c8y::mtls::version.major == C8Y_MTLS_VERSION_MAJOR);
static_assert(C8Y_MTLS_VERSION == C8Y_MTLS_VERSION_MAJOR * 10000 + C8Y_MTLS_VERSION_MINOR * 100 + C8Y_MTLS_VERSION_PATCH);
int main()
{
    constexpr auto v = c8y::mtls::version;
    std::printf("%d.%d.%d %s\n", v.major, v.minor, v.patch, v.string);
}
"""


def macros(text: str) -> str | None:
    found = {name: re.search(rf"^#define C8Y_MTLS_VERSION_{name} (\S+)$", text, re.M) for name in
             ("MAJOR", "MINOR", "PATCH", "STRING")}
    if not all(found.values()):
        return None
    numbers = ".".join(found[n].group(1) for n in ("MAJOR", "MINOR", "PATCH"))
    string = found["STRING"].group(1).strip('"')
    return numbers if numbers == string else f"{numbers} but string {string}"


def main() -> int:
    if len(sys.argv) != 3:
        print(__doc__, file=sys.stderr)
        return 2
    root = Path(sys.argv[1]).resolve()
    build = Path(sys.argv[2]).resolve()
    match = re.search(r"^project\([^)]*?\bversion\s*:\s*'([^']+)'", (root / "meson.build").read_text(), re.S | re.M)
    if not match:
        print("meson.build: no version in project()", file=sys.stderr)
        return 1
    version = match.group(1)

    def search(path: Path, pattern: str) -> str | None:
        found = re.search(pattern, path.read_text(), re.M) if path.is_file() else None
        return found.group(1) if found else None

    single = root / "single_include" / "c8y" / "mtls.hpp"
    stated = {
        "include/c8y/mtls/version.hpp macros": macros((root / "include/c8y/mtls/version.hpp").read_text()),
        "single_include/c8y/mtls.hpp banner": search(single, r"\A// c8y-mtls (\S+): "),
        "single_include/c8y/mtls.hpp macros": macros(single.read_text()),
        "ports/c8y-mtls/vcpkg.json": json.loads((root / "ports/c8y-mtls/vcpkg.json").read_text()).get("version"),
        "packaging/c8y-mtls.wrap revision": search(root / "packaging/c8y-mtls.wrap", r"^revision = v(\S+)$"),
        "pkg-config file": search(build / "meson-private" / "c8y-mtls.pc", r"^Version: (\S+)$"),
        "CMake package version file": search(build / "c8y-mtlsConfigVersion.cmake", r'^set\(PACKAGE_VERSION "([^"]+)"\)'),
    }
    with tempfile.TemporaryDirectory(prefix="c8y-version-") as tmp:
        source = Path(tmp) / "version.cpp"
        source.write_text(PROGRAM)
        program = Path(tmp) / "version"
        compiler = os.environ.get("CXX", "c++")
        subprocess.run([compiler, "-std=c++20", "-Wall", "-Wextra", "-Wpedantic", "-Werror", "-I", str(root / "include"),
                        str(source), "-o", str(program)], check=True)
        printed = subprocess.run([str(program)], check=True, stdout=subprocess.PIPE, text=True).stdout.split()
        stated["c8y::mtls::version"] = printed[0] if printed[0] == printed[1] else " ".join(printed)

    failures = 0
    for place, value in stated.items():
        ok = value == version
        failures += not ok
        print(f"{'ok  ' if ok else 'FAIL'} {place}: {value}")
    print(f"meson.build: {version}; {failures} place(s) differ")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
