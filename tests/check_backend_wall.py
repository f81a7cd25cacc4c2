#!/usr/bin/env python3
"""The walls around the backends and around I/O, checked by the compiler.

1. Every public header outside include/c8y/mtls/wolfssl/, preprocessed on its own, includes no
   wolfSSL header (the umbrella c8y/mtls.hpp, which includes the backend, excepted).
2. The pure protocol headers (everything but the I/O layer, the backend and the umbrella)
   compile on their own with neither wolfSSL nor Asio reachable: every header name of both is
   shadowed by one that stops the compiler.

Usage: check_backend_wall.py CXX SOURCE_ROOT WORK_DIR
"""
import pathlib
import shutil
import subprocess
import sys

# The I/O layer (Asio): these may include Asio but, being outside the backend, never wolfSSL.
IO_HEADERS = {
    "client.hpp", "http.hpp", "transport.hpp", "testing.hpp", "token_keeper.hpp", "token_exchange.hpp",
    "platform_admin.hpp", "enrollment.hpp", "http_token.hpp", "certificate_keeper.hpp", "detail/async_event.hpp", "detail/async_op.hpp", "detail/clock_timer.hpp", "detail/completion.hpp",
    "detail/tls_stream.hpp",
}
# Pieces of another header, included by it after its declarations: compiled through it.
PARTS = {"detail/mqtt_codec.hpp": "mqtt.hpp"}
# The implementation compiled once under separate compilation: it includes the umbrella header
# (and so the backend) and stops unless C8Y_MTLS_SEPARATE_COMPILATION is defined.
ENTRY_POINTS = {"impl/src.hpp"}
SHADOWED = ["asio", "asio.hpp", "wolfssl"]


def public_headers(include):
    base = include / "c8y" / "mtls"
    for path in sorted(base.rglob("*.hpp")):
        relative = path.relative_to(base).as_posix()
        if not relative.startswith("wolfssl/") and relative not in ENTRY_POINTS:
            yield relative, path


def included_files(cxx, include, header, extra=()):
    """The files the preprocessor opens for `header`, or (None, stderr) when it fails."""
    result = subprocess.run([cxx, "-std=c++20", *extra, "-I", str(include), "-M", "-x", "c++", str(header)],
                            capture_output=True, text=True)
    if result.returncode != 0:
        return None, result.stderr
    return result.stdout.replace("\\\n", " ").split()[1:], ""


def make_shadow(work):
    """A directory with every Asio and wolfSSL header name, each an #error."""
    shadow = work / "shadow"
    if shadow.exists():
        shutil.rmtree(shadow)
    for name in SHADOWED:
        system = pathlib.Path("/usr/include") / name
        targets = [system] if system.is_file() else [p for p in system.rglob("*") if p.is_file()]
        if not targets:
            raise SystemExit(f"{system}: not found, so it cannot be shadowed")
        for target in targets:
            out = shadow / target.relative_to("/usr/include")
            out.parent.mkdir(parents=True, exist_ok=True)
            out.write_text(f'#error "{target.relative_to("/usr/include")} included by a pure header"\n')
    return shadow


def main():
    cxx, root, work = sys.argv[1], pathlib.Path(sys.argv[2]), pathlib.Path(sys.argv[3])
    work.mkdir(parents=True, exist_ok=True)
    include = root / "include"
    failures = []

    checked = 0
    for relative, path in public_headers(include):
        files, error = included_files(cxx, include, path)
        if files is None:
            failures.append(f"{relative}: does not preprocess on its own:\n{error}")
            continue
        leaks = [f for f in files if "/wolfssl/" in f and "/c8y/mtls/wolfssl/" not in f]
        backend = [f for f in files if "/c8y/mtls/wolfssl/" in f]
        if leaks or backend:
            failures.append(f"{relative}: includes the backend: {(backend + leaks)[0]}")
        checked += 1
    print(f"{checked} public headers outside include/c8y/mtls/wolfssl/ include no wolfSSL header")

    shadow = make_shadow(work)
    pure = 0
    for relative, path in public_headers(include):
        if relative in IO_HEADERS or relative in PARTS:
            continue
        result = subprocess.run([cxx, "-std=c++20", "-fsyntax-only", "-Wall", "-Wextra", "-I", str(shadow), "-I",
                                 str(include), "-x", "c++", str(path)], capture_output=True, text=True)
        if result.returncode != 0:
            first = next((line for line in result.stderr.splitlines() if "error" in line), result.stderr)
            failures.append(f"{relative}: does not compile without wolfSSL and Asio: {first}")
        pure += 1
    print(f"{pure} pure headers compile with neither wolfSSL nor Asio reachable")

    for failure in failures:
        print("FAIL", failure)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
