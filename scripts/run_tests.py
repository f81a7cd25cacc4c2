#!/usr/bin/env python3
"""Builds c8y-mtls and runs its whole test suite, the way CI does.

Configurations, each in its own build directory under build/:
  gcc        g++ 12, -Wall -Wextra -Wpedantic -Werror: every test, the long loops, the packaging
             tests and the benchmarks' smoke test
  asan       clang++ 16 (same warnings) with AddressSanitizer and UndefinedBehaviorSanitizer:
             everything but the benchmarks built, the SDK's tests run (all but the long loops)
  gcc-asan   g++ 12 with both sanitizers too (g++ 12 has coroutine bugs of its own): the suites
             that drive the client's coroutines (unit, integration, provisioning), and only what
             they need built
then the libFuzzer targets for a bounded time.

Ends with one line "N passed, N failed": doctest test cases plus the other tests (single header,
consumer projects, packaging, the API reference, fuzzers), over every configuration.
"""
import argparse
import json
import os
import pathlib
import re
import shutil
import subprocess
import sys
import tempfile

ROOT = pathlib.Path(__file__).resolve().parent.parent
DOCTEST_SUMMARY = re.compile(r"\[doctest\] test cases:\s*(\d+) \|\s*(\d+) passed \|\s*(\d+) failed")

# The g++ build builds everything and runs everything: the long loops (suite 'long': fault proxy,
# kill -9, blackholes), the tests that do not depend on the compiler (-Dpackaging_tests) and the
# benchmarks' smoke test. The clang build is the one with sanitizers: clang's warnings on every
# file, and ASan and UBSan on every suite but the long loops. The g++ sanitizer build runs the
# suites its compiler can tell something new about ("tests"), building only what they need.
ONE_BUILD_ONLY = ["-Dbenchmarks=false", "-Dpackaging_tests=false"]
CONFIGURATIONS = {
    "gcc": {"CXX": "g++", "options": [], "long": True},
    "asan": {"CXX": "clang++-16", "sanitized": True,
             "options": ["-Db_sanitize=address,undefined", "-Db_lundef=false", "-Dbuildtype=debug", *ONE_BUILD_ONLY]},
    "gcc-asan": {"CXX": "g++", "sanitized": True, "tests": ["unit", "integration", "provisioning"],
                 "options": ["-Db_sanitize=address,undefined", "-Dbuildtype=debug", *ONE_BUILD_ONLY]},
}

FUZZERS = {
    "fuzz_mqtt_decoder": ("tests/fuzz/fuzz_mqtt_decoder.cpp", "tests/fuzz/corpus/mqtt"),
    "fuzz_token_answer": ("tests/fuzz/fuzz_token_answer.cpp", "tests/fuzz/corpus/token"),
    "fuzz_http_response": ("tests/fuzz/fuzz_http_response.cpp", "tests/fuzz/corpus/http"),
    "fuzz_chain_validator": ("tests/fuzz/fuzz_chain_validator.cpp", "tests/fuzz/corpus/chain"),
    "fuzz_server_identity": ("tests/fuzz/fuzz_server_identity.cpp", "tests/fuzz/corpus/server"),
    "fuzz_pkcs7": ("tests/fuzz/fuzz_pkcs7.cpp", "tests/fuzz/corpus/pkcs7"),
    "fuzz_jks": ("tests/fuzz/fuzz_jks.cpp", "tests/fuzz/corpus/jks"),
    "fuzz_pkcs12": ("tests/fuzz/fuzz_pkcs12.cpp", "tests/fuzz/corpus/pkcs12"),
    "fuzz_pkcs11_uri": ("tests/fuzz/fuzz_pkcs11_uri.cpp", "tests/fuzz/corpus/pkcs11_uri"),
}


def log(message):
    print(f"run_tests: {message}", flush=True)


def run(cmd, env=None, cwd=ROOT):
    log(" ".join(str(c) for c in cmd))
    return subprocess.run(cmd, cwd=cwd, env=env).returncode


def count_meson_results(build_dir):
    """(passed, failed) from meson's JSON test log, doctest binaries counted by their test cases."""
    passed = failed = 0
    logfile = build_dir / "meson-logs" / "testlog.json"
    if not logfile.exists():
        return 0, 1
    for line in logfile.read_text().splitlines():
        if not line.strip():
            continue
        entry = json.loads(line)
        ok = entry.get("result") in ("OK", "EXPECTEDFAIL")
        summary = DOCTEST_SUMMARY.search(entry.get("stdout") or "")
        if summary:
            passed += int(summary.group(2))
            failed += int(summary.group(3))
            if not ok and int(summary.group(3)) == 0:
                failed += 1  # the program failed outside its test cases
        elif ok:
            passed += 1
        else:
            failed += 1
    return passed, failed


def configuration(name, settings, plain_plugin):
    build_dir = ROOT / "build" / name
    env = dict(os.environ, CXX=settings["CXX"])
    if plain_plugin:
        # The sanitizer build's plugin cannot load into mosquitto, which is not instrumented.
        env["C8Y_TEST_PLUGIN"] = str(plain_plugin)
    env.setdefault("UBSAN_OPTIONS", "halt_on_error=1:print_stacktrace=1")
    if build_dir.exists():
        shutil.rmtree(build_dir)
    if run(["meson", "setup", str(build_dir), *settings["options"]], env=env) != 0:
        return 0, 1
    # With a selection of tests, `meson test` builds what they need and nothing else.
    if not settings.get("tests") and run(["meson", "compile", "-C", str(build_dir)], env=env) != 0:
        return 0, 1
    selection = settings.get("tests") or ([] if settings.get("long") else ["--no-suite", "long"])
    run(["meson", "test", "-C", str(build_dir), "--print-errorlogs", "--num-processes", "2", *selection], env=env)
    return count_meson_results(build_dir)


def fuzzers(seconds):
    passed = failed = 0
    out_dir = ROOT / "build" / "fuzz"
    out_dir.mkdir(parents=True, exist_ok=True)
    for name, (source, corpus) in FUZZERS.items():
        binary = out_dir / name
        build = ["clang++-16", "-std=c++20", "-g", "-O1", "-fsanitize=fuzzer,address,undefined",
                 "-fno-sanitize-recover=all", f"-I{ROOT / 'include'}", str(ROOT / source), "-o", str(binary)]
        if run(build) != 0:
            failed += 1
            continue
        fuzz_log = out_dir / f"{name}.log"
        with tempfile.TemporaryDirectory() as scratch, open(fuzz_log, "w") as output:
            # New inputs go to the scratch corpus; the seeds in the repository stay as they are.
            cmd = [str(binary), f"-max_total_time={seconds}", "-print_final_stats=1", scratch, str(ROOT / corpus)]
            log(" ".join(cmd) + f"  (output in {fuzz_log})")
            code = subprocess.run(cmd, cwd=ROOT, stdout=output, stderr=subprocess.STDOUT).returncode
        lines = fuzz_log.read_text(errors="replace").splitlines()
        if code == 0:
            passed += 1
            runs = [line for line in lines if line.startswith("stat::number_of_executed_units")]
            log(f"{name}: no failure in {seconds} s ({runs[-1].split(':')[-1].strip() if runs else '?'} inputs)")
        else:
            failed += 1
            print("\n".join(lines[-60:]), flush=True)
    return passed, failed


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", choices=[*CONFIGURATIONS, "fuzz"], action="append",
                        help="run only these parts (repeatable); default: all")
    parser.add_argument("--fuzz-seconds", type=int, default=30, help="time per fuzzer (default 30)")
    args = parser.parse_args()
    parts = args.only or [*CONFIGURATIONS, "fuzz"]

    totals = {}
    plain_plugin = None
    for name, settings in CONFIGURATIONS.items():
        if name not in parts:
            continue
        sanitized = settings.get("sanitized", False)
        if sanitized and plain_plugin is None:
            # A plugin from a build without sanitizers, for mosquitto to load.
            plugin = ROOT / "build" / "gcc" / "platform" / "c8y_platform_plugin.so"
            if plugin.exists():
                plain_plugin = plugin
            else:
                totals["gcc"] = configuration("gcc", CONFIGURATIONS["gcc"], None)
                plain_plugin = ROOT / "build" / "gcc" / "platform" / "c8y_platform_plugin.so"
        totals[name] = configuration(name, settings, plain_plugin if sanitized else None)
        if not sanitized:
            plain_plugin = ROOT / "build" / name / "platform" / "c8y_platform_plugin.so"
    if "fuzz" in parts:
        totals["fuzz"] = fuzzers(args.fuzz_seconds)

    for name, (p, f) in totals.items():
        log(f"{name}: {p} passed, {f} failed")
    passed = sum(p for p, _ in totals.values())
    failed = sum(f for _, f in totals.values())
    print(f"{passed} passed, {failed} failed", flush=True)
    return 0 if failed == 0 and passed > 0 else 1


if __name__ == "__main__":
    sys.exit(main())
