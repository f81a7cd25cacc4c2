#!/usr/bin/env python3
"""Checks the vcpkg port ports/c8y-mtls and builds the CMake consumer against what it installs.

    vcpkg_port.py WORK_DIR

vcpkg itself cannot be fetched here, so the test does what vcpkg would do with the port:
1. vcpkg.json against the rules of vcpkg's manifest schema that matter for this port: a name of
   lowercase alphanumerics and single dashes, "version" (relaxed semver, here meson.build's
   version exactly), an SPDX "license", and "dependencies" naming asio and wolfssl (strings or
   {"name": ...} objects of valid port names), no unknown top-level fields;
   the files vcpkg requires next to it: portfile.cmake and usage.
2. portfile.cmake run by `cmake -P` with the variables vcpkg sets (PORT, VERSION,
   CURRENT_PACKAGES_DIR, CMAKE_CURRENT_LIST_DIR is the port's) and stand-ins for vcpkg's
   helpers: vcpkg_from_github hands out this checkout as SOURCE_PATH (after checking REPO, REF
   and SHA512 are given), vcpkg_install_copyright copies the licence to share/c8y-mtls/copyright.
3. The layout vcpkg's post-build checks expect: include/c8y/mtls.hpp, share/c8y-mtls/copyright,
   usage, c8y-mtlsConfig.cmake and its version file; nothing in lib/ or bin/ (header-only).
4. tests/consumer/CMakeLists.txt configured with CMAKE_PREFIX_PATH at the installed tree, built
   and run (Asio and wolfSSL from the system, as vcpkg's would be found in its installed tree).
Exits non-zero on failure.
"""

import json
import re
import shutil
import sys
from pathlib import Path

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
from build_consumer import run  # noqa: E402
from build_cmake import SOURCE_ROOT, build_cmake_consumer, project_version  # noqa: E402

PORT_DIR = SOURCE_ROOT / "ports" / "c8y-mtls"
PORT_NAME = re.compile(r"^[a-z0-9]+(-[a-z0-9]+)*$")
RELAXED_SEMVER = re.compile(r"^(0|[1-9]\d*)(\.(0|[1-9]\d*))*"
                            r"(-[0-9A-Za-z-]+(\.[0-9A-Za-z-]+)*)?(\+[0-9A-Za-z-]+(\.[0-9A-Za-z-]+)*)?$")
SPDX = re.compile(r"^[A-Za-z0-9.+-]+( (AND|OR|WITH) [A-Za-z0-9.+-]+)*$")
KNOWN_FIELDS = {"$schema", "name", "version", "version-string", "version-semver", "version-date", "port-version",
                "maintainers", "description", "homepage", "documentation", "license", "supports", "dependencies",
                "default-features", "features", "builtin-baseline", "overrides", "vcpkg-configuration"}

STAND_INS = r"""
# Stand-ins for vcpkg's helpers, for running portfile.cmake outside vcpkg.
function(vcpkg_from_github)
  cmake_parse_arguments(PARSE_ARGV 0 arg "" "OUT_SOURCE_PATH;REPO;REF;SHA512;HEAD_REF" "PATCHES")
  foreach(required IN ITEMS OUT_SOURCE_PATH REPO REF SHA512)
    if(NOT DEFINED arg_${required})
      message(FATAL_ERROR "vcpkg_from_github: ${required} missing")
    endif()
  endforeach()
  if(NOT arg_REF STREQUAL "v${VERSION}")
    message(FATAL_ERROR "vcpkg_from_github: REF ${arg_REF} is not v${VERSION}")
  endif()
  set(${arg_OUT_SOURCE_PATH} "${C8Y_TEST_CHECKOUT}" PARENT_SCOPE)
endfunction()
function(vcpkg_install_copyright)
  cmake_parse_arguments(PARSE_ARGV 0 arg "" "" "FILE_LIST")
  file(MAKE_DIRECTORY "${CURRENT_PACKAGES_DIR}/share/${PORT}")
  set(text "")
  foreach(f IN LISTS arg_FILE_LIST)
    file(READ "${f}" content)
    string(APPEND text "${content}")
  endforeach()
  file(WRITE "${CURRENT_PACKAGES_DIR}/share/${PORT}/copyright" "${text}")
endfunction()
set(CMAKE_CURRENT_LIST_DIR "${C8Y_TEST_PORT_DIR}")
include("${C8Y_TEST_PORT_DIR}/portfile.cmake")
"""


def check_manifest(version: str) -> list[str]:
    problems = []
    manifest = json.loads((PORT_DIR / "vcpkg.json").read_text())
    unknown = set(manifest) - KNOWN_FIELDS
    if unknown:
        problems.append(f"unknown fields {sorted(unknown)}")
    if not PORT_NAME.match(manifest.get("name", "")) or manifest.get("name") != "c8y-mtls":
        problems.append(f"name {manifest.get('name')!r} is not the port name c8y-mtls")
    versions = [k for k in ("version", "version-string", "version-semver", "version-date") if k in manifest]
    if versions != ["version"]:
        problems.append(f"expected exactly one version field, \"version\"; found {versions}")
    elif not RELAXED_SEMVER.match(manifest["version"]):
        problems.append(f"version {manifest['version']!r} is not relaxed semver")
    elif manifest["version"] != version:
        problems.append(f"version {manifest['version']} differs from meson.build's {version}")
    if not isinstance(manifest.get("license"), str) or not SPDX.match(manifest["license"]):
        problems.append(f"license {manifest.get('license')!r} is not an SPDX expression")
    elif manifest["license"] != "MIT":
        problems.append(f"license {manifest['license']} differs from LICENSE (MIT)")
    names = []
    for dependency in manifest.get("dependencies", []):
        name = dependency if isinstance(dependency, str) else dependency.get("name") if isinstance(dependency, dict) else None
        if not isinstance(name, str) or not PORT_NAME.match(name):
            problems.append(f"dependency {dependency!r} names no valid port")
        else:
            names.append(name)
    if sorted(names) != ["asio", "wolfssl"]:
        problems.append(f"dependencies {names} are not asio and wolfssl")
    for required in ("portfile.cmake", "usage"):
        if not (PORT_DIR / required).is_file():
            problems.append(f"{required} missing")
    return problems


def main() -> int:
    if len(sys.argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    work_dir = Path(sys.argv[1]).resolve()
    if work_dir == SOURCE_ROOT or work_dir in SOURCE_ROOT.parents:
        print(f"vcpkg_port.py: refusing to wipe {work_dir}", file=sys.stderr)
        return 2
    if work_dir.exists():
        shutil.rmtree(work_dir)
    work_dir.mkdir(parents=True)
    version = project_version()

    problems = check_manifest(version)
    if problems:
        for p in problems:
            print(f"ports/c8y-mtls/vcpkg.json: {p}", file=sys.stderr)
        return 1
    print(f"vcpkg.json: name c8y-mtls, version {version}, license MIT, dependencies asio and wolfssl")

    packages = work_dir / "packages" / "c8y-mtls_x64-linux"
    script = work_dir / "run_portfile.cmake"
    script.write_text(STAND_INS)
    run(["cmake", "-DPORT=c8y-mtls", f"-DVERSION={version}", f"-DCURRENT_PACKAGES_DIR={packages}",
         f"-DC8Y_TEST_CHECKOUT={SOURCE_ROOT}", f"-DC8Y_TEST_PORT_DIR={PORT_DIR}", "-P", str(script)])

    share = packages / "share" / "c8y-mtls"
    missing = [str(p.relative_to(packages)) for p in
               (packages / "include" / "c8y" / "mtls.hpp", packages / "include" / "c8y" / "mtls" / "version.hpp",
                share / "copyright", share / "usage", share / "c8y-mtlsConfig.cmake",
                share / "c8y-mtlsConfigVersion.cmake") if not p.is_file()]
    extra = [d for d in ("lib", "bin", "debug") if (packages / d).exists()]
    if missing or extra:
        print(f"vcpkg_port.py: the port installed a wrong tree: missing {missing}, unexpected {extra}", file=sys.stderr)
        return 1
    if (share / "copyright").read_text() != (SOURCE_ROOT / "LICENSE").read_text():
        print("vcpkg_port.py: share/c8y-mtls/copyright is not LICENSE", file=sys.stderr)
        return 1
    print(f"portfile.cmake installed headers, CMake package, usage and copyright into {packages}")
    return build_cmake_consumer(packages, work_dir, "the CMake consumer built against the vcpkg port's tree")


if __name__ == "__main__":
    sys.exit(main())
