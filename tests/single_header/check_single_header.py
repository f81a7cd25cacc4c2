#!/usr/bin/env python3
"""Compiles single_include/c8y/mtls.hpp on its own, the way the README says, with one compiler.

    check_single_header.py COMPILER

Each case is a translation unit of a few lines compiled with
    COMPILER -std=c++20 -Wall -Wextra -Wpedantic -Werror -I single_include $(pkg-config --cflags wolfssl)
(-fsyntax-only: the templates are instantiated, nothing is linked; single_header_two_units links):
  alone          the single header and nothing else before it, plus a coroutine using the client
  asio first     <asio.hpp> included first, with -DASIO_HAS_CO_AWAIT=1 (what the README tells
                 applications that include Asio first to pass)
  asio first, no ASIO_HAS_CO_AWAIT
                 under g++ this compiles (Asio detects g++'s coroutines); under clang, whose
                 coroutines Asio 1.22 does not detect, it must fail with c8y-mtls's #error naming
                 the fix, not with errors from deep inside the SDK
Exits non-zero, with the compiler's output, when a case does not go as expected.
"""

import shlex
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent.parent
FLAGS = ["-std=c++20", "-Wall", "-Wextra", "-Wpedantic", "-Werror"]
ERROR_TEXT = "compile with -DASIO_HAS_CO_AWAIT=1 or include c8y/mtls.hpp before any Asio header"

BODY = """
static_assert(c8y::mtls::version.major == C8Y_MTLS_VERSION_MAJOR);

asio::awaitable<void> use(c8y::mtls::client& client)
{
    c8y::mtls::connect_options options;
    options.host = "localhost";
    co_await client.connect(options);
    co_await client.publish("s/us", "400,c8y_Heartbeat");
    co_await client.disconnect();
}

int main()
{
    return c8y::mtls::client_id::parse("d:dev-1").device_id == "dev-1" ? 0 : 1;
}
"""


def compile_case(compiler: str, name: str, source: str, extra: list[str], work: Path) -> subprocess.CompletedProcess:
    path = work / (name.replace(" ", "_").replace(",", "") + ".cpp")
    path.write_text(source)
    wolfssl = subprocess.run(["pkg-config", "--cflags", "wolfssl"], check=True, stdout=subprocess.PIPE,
                             text=True).stdout.split()
    command = [compiler, *FLAGS, *extra, "-I", str(ROOT / "single_include"), *wolfssl, "-fsyntax-only", str(path)]
    print(f"[{name}] " + shlex.join(command), flush=True)
    return subprocess.run(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def main() -> int:
    if len(sys.argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    compiler = sys.argv[1]
    version = subprocess.run([compiler, "--version"], stdout=subprocess.PIPE, text=True, check=True).stdout
    clang = "clang" in version.splitlines()[0]
    failures = 0
    with tempfile.TemporaryDirectory(prefix="c8y-single-header-") as tmp:
        work = Path(tmp)
        cases = [
            ("alone", "#include <c8y/mtls.hpp>\n" + BODY, [], True),
            ("asio first", "#include <asio.hpp>\n#include <c8y/mtls.hpp>\n" + BODY, ["-DASIO_HAS_CO_AWAIT=1"], True),
            ("asio first, no ASIO_HAS_CO_AWAIT", "#include <asio.hpp>\n#include <c8y/mtls.hpp>\n" + BODY,
             ["-Wfatal-errors"], not clang),
        ]
        for name, source, extra, should_compile in cases:
            result = compile_case(compiler, name, source, extra, work)
            if should_compile and result.returncode != 0:
                print(result.stdout, end="")
                print(f"[{name}] FAILED: does not compile")
                failures += 1
            elif not should_compile and (result.returncode == 0 or ERROR_TEXT not in result.stdout):
                print(result.stdout, end="")
                print(f"[{name}] FAILED: expected c8y-mtls's #error saying \"{ERROR_TEXT}\"")
                failures += 1
            else:
                print(f"[{name}] ok" + ("" if should_compile else " (fails with the #error naming the fix)"))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
