#!/usr/bin/env python3
"""PKCS#11 tokens for tests, made at test time: a SoftHSM token in a directory of its own, and a
software TPM (swtpm) with a tpm2-pkcs11 token on it.

  softhsm         DIR/softhsm2.conf and a fresh token in DIR/tokens (DIR/tokens is emptied
                  first); prints the SOFTHSM2_CONF path
  softhsm-import  a private key (any form `openssl pkey` reads; encrypted with --key-pass-env)
                  into that token with a label and CKA_ID, its public key beside it, and with
                  --cert the certificate under the same label and CKA_ID
  tpm start       swtpm (TPM 2.0) with its state in DIR/state, its server and control channels on
                  free loopback ports N and N+1, started up already; DIR/swtpm.pid, DIR/tcti;
                  prints the TCTI
  tpm stop        stops the swtpm of DIR
  tpm token       a fresh tpm2-pkcs11 store DIR/store with one token (and, with --object, a key:
                  made in the TPM with --key-type, or imported with --key; with --cert its
                  certificate); prints TPM2_PKCS11_STORE=... and TPM2_PKCS11_TCTI=..., the
                  environment libtpm2_pkcs11.so needs
  tpm key         one more key (and certificate) in that token
  tpm cert        a certificate for a key of that token
  tpm public-key  the public key of a key of that token, as PEM
  tpm flush       flushes the TPM's transient objects and sessions (see "No resource manager")
  tpm check       exits 0 when the TPM part can run here, else says why on stderr

PINs and key passwords are read only from the environment variables named by --pin-env,
--so-pin-env and --key-pass-env; they are never printed, and an error message shows them as ***.
Some tools take a PIN only on their command line, so for their short lifetime it is visible to
the processes of the machine (/proc/PID/cmdline): softhsm2-util (--pin, --so-pin) and tpm2_ptool
(--userpin, --sopin; tpm2_ptool hands them on to tpm2_unseal -p and the like). pkcs11-tool and
openssl get theirs as env:VARIABLE.

CKA_ID: softhsm-import's --id and tpm's --id are hex; the object's CKA_ID is those bytes. (tpm2_ptool
itself takes --id as text and stores the text's bytes: `--id 01` would be CKA_ID 3031; this script
sets the bytes with `tpm2_ptool objmod` instead.) Without --id, a TPM key's CKA_ID is the UTF-8
bytes of its --object name.

No resource manager: swtpm holds 3 transient objects, tpm2-tools leave theirs loaded when they
exit, and there is no tpm2-abrmd here. tpm2_ptool runs tpm2-tools through DIR/bin, where each tool
is a shim that flushes the transient objects before and after it (what a resource manager would
do), so `tpm token` and `tpm key` must not run while a program has a session open on the token.
libtpm2_pkcs11.so flushes its own objects at C_Finalize; a client killed before that leaves its
objects loaded and, two of those later, C_Login fails with CKR_GENERAL_ERROR ("out of memory for
object contexts"): `tpm flush` clears them. The same limit allows two clients logged in at once;
a third one's C_Login fails the same way.

Standard library only; softhsm2-util, pkcs11-tool (OpenSC), openssl, swtpm, tpm2-tools and
tpm2_ptool (libtpm2-pkcs11-tools) do the work.
"""

import argparse
import binascii
import os
import re
import secrets as random_source
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

SOFTHSM_MODULE = "/usr/lib/softhsm/libsofthsm2.so"
TPM2_PKCS11_MODULE = "/usr/lib/x86_64-linux-gnu/pkcs11/libtpm2_pkcs11.so"
START_TIMEOUT_S = 10.0
STOP_TIMEOUT_S = 5.0
LABEL_MAX = 32  # CK_TOKEN_INFO.label is 32 bytes
KEY_ALGORITHMS = {"ec": "ecc256", "rsa": "rsa2048"}
# TPM2_GetRandom(8): tag TPM_ST_NO_SESSIONS, size 12, TPM_CC_GetRandom, bytesRequested.
GET_RANDOM = bytes.fromhex("80010000000c0000017b0008")


class Failure(Exception):
    """A step failed; the message says which and why."""


# ---- helpers ---------------------------------------------------------------------------------

def masked(text, hidden):
    for value in hidden:
        if value:
            text = text.replace(value, "***")
    return text


def run(args, env=None, hidden=(), what=None):
    """Runs a command quietly and returns its stdout; on failure raises with the command and
    what it printed, every value of `hidden` (PINs) shown as ***."""
    try:
        result = subprocess.run([str(a) for a in args], env=env, stdin=subprocess.DEVNULL,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    except FileNotFoundError:
        raise Failure(f"{args[0]} not found: install it (Debian: {package_of(args[0])})") from None
    if result.returncode != 0:
        command = masked(" ".join(str(a) for a in args), hidden)
        output = masked((result.stdout + result.stderr).rstrip(), hidden)
        before, traceback, rest = output.partition("Traceback (most recent call last):")
        if traceback:  # tpm2_ptool fails with a Python traceback: its last line says why
            output = (before + "[Python traceback] " + rest.strip().splitlines()[-1]).strip()
        raise Failure(f"{what + ': ' if what else ''}{command} failed (exit {result.returncode}):\n{output}")
    return result.stdout


def package_of(program):
    return {
        "softhsm2-util": "softhsm2",
        "pkcs11-tool": "opensc",
        "openssl": "openssl",
        "swtpm": "swtpm",
        "tpm2_ptool": "libtpm2-pkcs11-tools",
    }.get(Path(str(program)).name, "tpm2-tools" if Path(str(program)).name.startswith("tpm2_") else "?")


def secret_from(variable, option):
    """The value of environment variable `variable`, named by `option`."""
    if not variable:
        raise Failure(f"{option} names no variable")
    value = os.environ.get(variable)
    if value is None:
        raise Failure(f"environment variable {variable} (named by {option}) is not set")
    if value == "":
        raise Failure(f"environment variable {variable} (named by {option}) is empty")
    return value


def check_label(label, what="--label"):
    if not label:
        raise Failure(f"{what} is empty")
    if len(label.encode()) > LABEL_MAX:
        raise Failure(f"{what} {label!r} is longer than {LABEL_MAX} bytes")
    return label


def check_id(id_hex):
    """A CKA_ID in hex, in lower case; refuses odd lengths and other characters."""
    if not re.fullmatch(r"(?:[0-9A-Fa-f]{2})+", id_hex or ""):
        raise Failure(f"--id {id_hex!r} is not hex bytes (an even number of 0-9a-f, at least two)")
    return id_hex.lower()


def write_private(path, data):
    """Writes (or replaces) a file only its owner can read."""
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "wb") as out:
        os.fchmod(out.fileno(), 0o600)
        out.write(data)


def plain_pkcs8(key, work_dir, key_pass_env):
    """The private key `key` as unencrypted PKCS#8 PEM in a 0600 file in work_dir (the caller
    removes it): softhsm2-util reads only PKCS#8."""
    if not Path(key).is_file():
        raise Failure(f"no key file {key}")
    if key_pass_env:
        secret_from(key_pass_env, "--key-pass-env")
    passin = f"env:{key_pass_env}" if key_pass_env else "pass:"
    out = Path(work_dir) / f".key-{os.getpid()}.p8"
    write_private(out, b"")  # 0600 before openssl writes the key into it
    try:
        run(["openssl", "pkey", "-in", key, "-passin", passin, "-out", out],
            what=f"reading the private key {key}" + ("" if key_pass_env else " (encrypted? give --key-pass-env)"))
    except Failure:
        out.unlink(missing_ok=True)
        raise
    return out


def certificate_as(cert, out, form):
    """The certificate `cert` (PEM or DER) written to `out` as `form` (PEM or DER)."""
    if not Path(cert).is_file():
        raise Failure(f"no certificate file {cert}")
    try:
        run(["openssl", "x509", "-in", cert, "-outform", form, "-out", out])
    except Failure:
        run(["openssl", "x509", "-inform", "DER", "-in", cert, "-outform", form, "-out", out],
            what=f"reading the certificate {cert} (neither PEM nor DER)")


# ---- SoftHSM -----------------------------------------------------------------------------------

def softhsm_env(directory):
    conf = Path(directory).resolve() / "softhsm2.conf"
    if not conf.is_file():
        raise Failure(f"no {conf}: run `softhsm --dir {directory}` first")
    env = dict(os.environ)
    env["SOFTHSM2_CONF"] = str(conf)
    return env


def cmd_softhsm(args):
    directory = Path(args.dir).resolve()
    label = check_label(args.label)
    pin = secret_from(args.pin_env, "--pin-env")
    so_pin = secret_from(args.so_pin_env, "--so-pin-env")
    for value, option in ((pin, "--pin-env"), (so_pin, "--so-pin-env")):
        if not 4 <= len(value) <= 255:
            raise Failure(f"SoftHSM takes PINs of 4 to 255 characters: the one of {option} has {len(value)}")
    tokens = directory / "tokens"
    directory.mkdir(parents=True, exist_ok=True)
    shutil.rmtree(tokens, ignore_errors=True)
    tokens.mkdir(parents=True)
    conf = directory / "softhsm2.conf"
    conf.write_text("# Made by scripts/soft_tokens.py\n"
                    f"directories.tokendir = {tokens}\n"
                    "objectstore.backend = file\n"
                    "log.level = ERROR\n")
    env = softhsm_env(directory)
    run(["softhsm2-util", "--init-token", "--free", f"--label={label}", f"--pin={pin}", f"--so-pin={so_pin}"],
        env=env, hidden=(pin, so_pin), what="initialising the SoftHSM token")
    print(conf)


def has_object(module, env, label, pin_env, kind, name, id_hex):
    """Whether the token has an object of `kind` (privkey, pubkey, cert) with CKA_LABEL `name` and
    CKA_ID id_hex. (pkcs11-tool --list-objects filters by --type but not by --id or --label.)"""
    listing = run(["pkcs11-tool", "--module", module, "--token-label", label, "--login", "--pin", f"env:{pin_env}",
                   "--list-objects", "--type", kind], env=env, what="listing the token's objects")
    for block in re.split(r"(?m)^(?=\S)", listing):
        fields = dict(re.findall(r"(?m)^\s+(label|ID):\s*(.*?)\s*$", block))
        if fields.get("label") == name and fields.get("ID", "").lower() == id_hex:
            return True
    return False


def cmd_softhsm_import(args):
    directory = Path(args.dir).resolve()
    label = check_label(args.label)
    name = check_label(args.object, "--object")
    id_hex = check_id(args.id)
    pin = secret_from(args.pin_env, "--pin-env")
    env = softhsm_env(directory)
    env[args.pin_env] = pin
    if args.key_pass_env:
        env[args.key_pass_env] = secret_from(args.key_pass_env, "--key-pass-env")
    pkcs8 = plain_pkcs8(args.key, directory, args.key_pass_env)
    try:
        run(["softhsm2-util", "--import", pkcs8, f"--token={label}", f"--label={name}", f"--id={id_hex}",
             f"--pin={pin}"], env=env, hidden=(pin,), what=f"importing {args.key}")
        made = ["private key"]
        # softhsm2-util 2.6 writes the public key too (unless --no-public-key); make sure.
        if has_object(SOFTHSM_MODULE, env, label, args.pin_env, "pubkey", name, id_hex):
            made.append("public key")
        else:
            public = directory / f".pub-{os.getpid()}.der"
            try:
                run(["openssl", "pkey", "-in", pkcs8, "-pubout", "-outform", "DER", "-out", public])
                run(["pkcs11-tool", "--module", SOFTHSM_MODULE, "--token-label", label, "--login", "--pin",
                     f"env:{args.pin_env}", "--write-object", public, "--type", "pubkey", "--label", name,
                     "--id", id_hex], env=env, what="writing the public key")
            finally:
                public.unlink(missing_ok=True)
            made.append("public key (pkcs11-tool)")
    finally:
        pkcs8.unlink(missing_ok=True)
    if args.cert:
        der = directory / f".cert-{os.getpid()}.der"
        try:
            certificate_as(args.cert, der, "DER")
            run(["pkcs11-tool", "--module", SOFTHSM_MODULE, "--token-label", label, "--login", "--pin",
                 f"env:{args.pin_env}", "--write-object", der, "--type", "cert", "--label", name, "--id", id_hex],
                env=env, what=f"writing the certificate {args.cert}")
        finally:
            der.unlink(missing_ok=True)
        made.append("certificate")
    for kind, wanted in (("privkey", True), ("pubkey", True), ("cert", bool(args.cert))):
        if wanted and not has_object(SOFTHSM_MODULE, env, label, args.pin_env, kind, name, id_hex):
            raise Failure(f"the tools reported success but token {label!r} has no {kind} object "
                          f"labelled {name!r} with CKA_ID {id_hex}")
    print(f"{name} (CKA_ID {id_hex}): {', '.join(made)}")


# ---- swtpm -------------------------------------------------------------------------------------

def tpm_paths(directory):
    directory = Path(directory).resolve()
    return {
        "dir": directory,
        "state": directory / "state",
        "pid": directory / "swtpm.pid",
        "log": directory / "swtpm.log",
        "out": directory / "swtpm.out",
        "tcti": directory / "tcti",
        "store": directory / "store",
        "bin": directory / "bin",
    }


def is_swtpm(pid):
    try:
        return b"swtpm" in Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return False


def running_pid(pid_file):
    """The pid in pid_file when that process is alive and is swtpm, else None."""
    try:
        pid = int(Path(pid_file).read_text().strip())
    except (OSError, ValueError):
        return None
    return pid if is_swtpm(pid) else None


def stop_tpm(paths):
    """Stops the swtpm of paths['pid']: SIGTERM, then SIGKILL. Returns what happened."""
    pid = running_pid(paths["pid"])
    paths["pid"].unlink(missing_ok=True)
    paths["tcti"].unlink(missing_ok=True)
    if pid is None:
        return "not running"
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + STOP_TIMEOUT_S
    while time.monotonic() < deadline:
        if not is_swtpm(pid):
            return "stopped"
        time.sleep(0.05)
    os.kill(pid, signal.SIGKILL)
    return "killed"


def port_pair():
    """A loopback port N, free with N+1: the swtpm TCTI finds the control channel at N+1."""
    for _ in range(50):
        with socket.socket() as first:
            first.bind(("127.0.0.1", 0))
            port = first.getsockname()[1]
            if port >= 65535:
                continue
            with socket.socket() as second:
                try:
                    second.bind(("127.0.0.1", port + 1))
                except OSError:
                    continue
                return port
    raise Failure("found no two consecutive free loopback ports")


def probe(port):
    """Sends TPM2_GetRandom to the TPM on `port`; returns None when it answers success, else why not."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=2.0) as connection:
            connection.sendall(GET_RANDOM)
            answer = b""
            while len(answer) < 10:
                chunk = connection.recv(4096)
                if not chunk:
                    break
                answer += chunk
    except OSError as error:
        return f"cannot talk to 127.0.0.1:{port}: {error}"
    if len(answer) < 10:
        return f"127.0.0.1:{port} closed the connection without a TPM response"
    code = int.from_bytes(answer[6:10], "big")
    return None if code == 0 else f"TPM2_GetRandom answered response code 0x{code:x}"


def check_tpm_path(directory):
    if "," in str(directory):
        raise Failure(f"swtpm's options cannot name a path with ',': {directory}")


def start_tpm(paths):
    check_tpm_path(paths["dir"])
    stop_tpm(paths)
    paths["state"].mkdir(parents=True, exist_ok=True)
    last = ""
    for _ in range(5):  # another process may take a port between port_pair() and swtpm's bind
        port = port_pair()
        args = ["swtpm", "socket", "--tpm2",
                "--tpmstate", f"dir={paths['state']}",
                "--server", f"type=tcp,port={port},bindaddr=127.0.0.1",
                "--ctrl", f"type=tcp,port={port + 1},bindaddr=127.0.0.1",
                "--flags", "not-need-init,startup-clear",
                "--pid", f"file={paths['pid']}",
                "--log", f"file={paths['log']},level=1",
                "--daemon"]
        try:
            with open(paths["out"], "wb") as out:
                # --daemon: swtpm binds, then forks and the parent exits; the daemon keeps `out`.
                code = subprocess.run(args, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT).returncode
        except FileNotFoundError:
            raise Failure("swtpm not found: install it (Debian: swtpm)") from None
        last = paths["out"].read_text(errors="replace").strip()
        if code != 0:
            if "in use" in last:
                continue
            raise Failure(f"swtpm failed to start (exit {code}): {last or '(no output)'}"
                          f"\ncommand: {' '.join(args)}")
        deadline = time.monotonic() + START_TIMEOUT_S
        why = "no pid file"
        while time.monotonic() < deadline:
            if running_pid(paths["pid"]) is not None:
                why = probe(port)
                if why is None:
                    tcti = f"swtpm:host=127.0.0.1,port={port}"
                    paths["tcti"].write_text(tcti + "\n")
                    return tcti
            time.sleep(0.05)
        log = paths["log"].read_text(errors="replace").strip() if paths["log"].exists() else ""
        stop_tpm(paths)
        raise Failure(f"swtpm started but does not answer within {START_TIMEOUT_S:.0f} s: {why}"
                      f"\nswtpm output: {last or '(none)'}\nswtpm log: {log or '(empty)'}")
    raise Failure(f"swtpm could not bind its ports: {last}")


def cmd_tpm_start(args):
    print(start_tpm(tpm_paths(args.dir)))


def cmd_tpm_stop(args):
    print(stop_tpm(tpm_paths(args.dir)))


# ---- tpm2-pkcs11 -------------------------------------------------------------------------------

SHIM = """#!/bin/sh
# Made by scripts/soft_tokens.py: runs /usr/bin/<this name> with the TPM's transient objects
# flushed before and after, as a resource manager would (swtpm alone holds 3).
name=${0##*/}
/usr/bin/tpm2_flushcontext -t >/dev/null 2>&1
/usr/bin/"$name" "$@"
code=$?
/usr/bin/tpm2_flushcontext -t >/dev/null 2>&1
exit $code
"""


def make_shims(paths):
    shutil.rmtree(paths["bin"], ignore_errors=True)
    paths["bin"].mkdir(parents=True)
    shim = paths["bin"] / "tpm2-shim"
    shim.write_text(SHIM)
    shim.chmod(0o755)
    for tool in Path("/usr/bin").glob("tpm2_*"):
        if tool.name != "tpm2_ptool":
            (paths["bin"] / tool.name).symlink_to("tpm2-shim")


def tpm_env(paths, new_shims=False):
    """The environment of tpm2_ptool and tpm2-tools for the swtpm of paths['dir'], with the shims
    made again when new_shims."""
    if not paths["tcti"].is_file():
        raise Failure(f"no {paths['tcti']}: run `tpm start --dir {paths['dir']}` first")
    tcti = paths["tcti"].read_text().strip()
    if running_pid(paths["pid"]) is None:
        raise Failure(f"the swtpm of {paths['dir']} is not running: run `tpm start --dir {paths['dir']}`")
    if new_shims or not (paths["bin"] / "tpm2-shim").exists():
        make_shims(paths)
    env = dict(os.environ)
    env.update({
        "TPM2_PKCS11_STORE": str(paths["store"]),
        "TPM2_PKCS11_TCTI": tcti,
        "TPM2TOOLS_TCTI": tcti,
        "PATH": f"{paths['bin']}:{os.environ.get('PATH', '/usr/bin:/bin')}",
    })
    return env


def ptool(paths, env, command, *args, hidden=(), what=None):
    return run(["tpm2_ptool", command, *args, f"--path={paths['store']}"], env=env, hidden=hidden,
               what=what or f"tpm2_ptool {command}")


def listed_objects(text):
    """(db id, text) of each object in `tpm2_ptool listobjects`'s YAML list."""
    objects = []
    for block in re.split(r"(?m)^- ", text)[1:]:
        found = re.search(r"(?m)^\s*id: (\d+)\s*$", block)
        if found:
            objects.append((found.group(1), block))
    return objects


def add_key(paths, env, args, pin):
    """Adds the key of args (--object, --key-type or --key, --id, --cert) to token args.label."""
    label = args.label
    name = check_label(args.object, "--object")
    id_hex = check_id(args.id) if args.id else binascii.hexlify(name.encode()).decode()
    # tpm2_ptool stores its --id text's bytes: a marker found again below and set to id_hex.
    marker = "c8y-" + random_source.token_hex(8)
    marker_hex = binascii.hexlify(marker.encode()).decode()
    if args.key:
        pkcs8 = plain_pkcs8(args.key, paths["dir"], args.key_pass_env)
        try:
            # tpm2_ptool import cannot tell the key's type itself.
            text = run(["openssl", "pkey", "-in", pkcs8, "-pubout", "-text", "-noout"])
            algorithm = "rsa" if "Modulus:" in text else "ecc"
            ptool(paths, env, "import", f"--label={label}", f"--key-label={name}", f"--id={marker}",
                  f"--userpin={pin}", f"--privkey={pkcs8}", f"--algorithm={algorithm}", hidden=(pin,),
                  what=f"importing {args.key}")
        finally:
            pkcs8.unlink(missing_ok=True)
    else:
        ptool(paths, env, "addkey", f"--label={label}", f"--key-label={name}", f"--id={marker}",
              f"--userpin={pin}", f"--algorithm={KEY_ALGORITHMS[args.key_type]}", hidden=(pin,),
              what=f"making an {args.key_type.upper()} key in the TPM")
    listing = ptool(paths, env, "listobjects", f"--label={label}")
    ids = [db_id for db_id, block in listed_objects(listing) if marker_hex in block]
    if len(ids) != 2:
        raise Failure(f"expected the new key's private and public objects in `tpm2_ptool listobjects`, found "
                      f"{len(ids)}:\n{listing}")
    for db_id in ids:
        ptool(paths, env, "objmod", f"--id={db_id}", "--key=CKA_ID", f"--value={id_hex}", "--type=raw",
              what="setting CKA_ID")
    if args.cert:
        add_cert(paths, env, label, name, args.cert)
    return id_hex


def add_cert(paths, env, label, name, cert):
    pem = paths["dir"] / f".cert-{os.getpid()}.pem"
    try:
        certificate_as(cert, pem, "PEM")
        ptool(paths, env, "addcert", f"--label={label}", f"--key-label={name}", str(pem),
              what=f"adding the certificate {cert}")
    finally:
        pem.unlink(missing_ok=True)


def check_key_args(args):
    if args.key and args.key_type:
        raise Failure("give --key-type (a key made in the TPM) or --key (one imported), not both")
    if (args.key or args.key_type or args.cert or args.id) and not args.object:
        raise Failure("--key-type, --key, --id and --cert need --object")
    if args.object and not (args.key or args.key_type):
        raise Failure("--object needs --key-type ec|rsa (made in the TPM) or --key KEY.pem (imported)")


def cmd_tpm_token(args):
    paths = tpm_paths(args.dir)
    label = check_label(args.label)
    pin = secret_from(args.pin_env, "--pin-env")
    so_pin = secret_from(args.so_pin_env, "--so-pin-env")
    check_key_args(args)
    env = tpm_env(paths, new_shims=True)
    # From scratch: a new store, and no primary key of an earlier store left in the TPM.
    shutil.rmtree(paths["store"], ignore_errors=True)
    paths["store"].mkdir(parents=True)
    for handle in re.findall(r"0x81[0-9a-fA-F]{6}", run(["tpm2_getcap", "handles-persistent"], env=env)):
        run(["tpm2_evictcontrol", "-C", "o", "-c", handle], env=env, what=f"removing the persistent object {handle}")
    run(["tpm2_flushcontext", "-t"], env=env)
    created = ptool(paths, env, "init", what="making the tpm2-pkcs11 store")
    primary = re.search(r"(?m)^id: (\d+)", created)
    if not primary:
        raise Failure(f"tpm2_ptool init printed no primary object id:\n{created}")
    ptool(paths, env, "addtoken", f"--pid={primary.group(1)}", f"--label={label}", f"--sopin={so_pin}",
          f"--userpin={pin}", hidden=(pin, so_pin), what="adding the token")
    if args.object:
        add_key(paths, env, args, pin)
    print(f"TPM2_PKCS11_STORE={paths['store']}")
    print(f"TPM2_PKCS11_TCTI={env['TPM2_PKCS11_TCTI']}")


def cmd_tpm_key(args):
    paths = tpm_paths(args.dir)
    check_label(args.label)
    pin = secret_from(args.pin_env, "--pin-env")
    check_key_args(args)
    if not args.object:
        raise Failure("--object is required")
    env = tpm_env(paths)
    print(f"{args.object} (CKA_ID {add_key(paths, env, args, pin)})")


def cmd_tpm_cert(args):
    paths = tpm_paths(args.dir)
    add_cert(paths, tpm_env(paths), check_label(args.label), check_label(args.object, "--object"), args.cert)


def cmd_tpm_public_key(args):
    paths = tpm_paths(args.dir)
    env = tpm_env(paths)
    der = paths["dir"] / f".pub-{os.getpid()}.der"
    try:
        run(["pkcs11-tool", "--module", TPM2_PKCS11_MODULE, "--token-label", check_label(args.label),
             "--read-object", "--type", "pubkey", "--label", check_label(args.object, "--object"), "-o", der],
            env=env, what=f"reading the public key {args.object}")
        run(["openssl", "pkey", "-pubin", "-inform", "DER", "-in", der, "-out", args.out])
    finally:
        der.unlink(missing_ok=True)
    print(args.out)


def cmd_tpm_flush(args):
    paths = tpm_paths(args.dir)
    env = tpm_env(paths)
    for kind in ("-t", "-l", "-s"):  # transient objects, loaded sessions, saved sessions
        run(["/usr/bin/tpm2_flushcontext", kind], env=env, what="flushing")
    print("flushed")


def cmd_tpm_check(args):
    for program in ("swtpm", "tpm2_ptool", "tpm2_flushcontext", "tpm2_getcap", "tpm2_evictcontrol",
                    "pkcs11-tool", "openssl"):
        if shutil.which(program) is None:
            raise Failure(f"{program} not found (Debian: {package_of(program)})")
    if not Path(TPM2_PKCS11_MODULE).exists():
        raise Failure(f"no {TPM2_PKCS11_MODULE} (Debian: libtpm2-pkcs11-1)")
    # tpm2_ptool is Python: its modules (tpm2_pkcs11, yaml, cryptography, pyasn1) must import.
    run(["tpm2_ptool", "--help"], what="tpm2_ptool cannot run")
    paths = tpm_paths(args.dir)
    start_tpm(paths)
    try:
        env = tpm_env(paths)
        run(["tpm2_getcap", "properties-fixed"], env=env, what="tpm2-tools cannot reach swtpm")
    finally:
        stop_tpm(paths)
    print("ok")


# ---- command line ------------------------------------------------------------------------------

def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)

    p = commands.add_parser("softhsm", help="a fresh SoftHSM token in DIR; prints SOFTHSM2_CONF")
    p.add_argument("--dir", required=True)
    p.add_argument("--label", required=True, help="the token's label")
    p.add_argument("--pin-env", required=True, help="variable holding the user PIN (4-255 characters)")
    p.add_argument("--so-pin-env", required=True, help="variable holding the SO PIN")
    p.set_defaults(run=cmd_softhsm)

    p = commands.add_parser("softhsm-import", help="a private key (and certificate) into the token of DIR")
    p.add_argument("--dir", required=True)
    p.add_argument("--label", required=True, help="the token's label")
    p.add_argument("--pin-env", required=True)
    p.add_argument("--key", required=True, help="private key, any form openssl pkey reads")
    p.add_argument("--key-pass-env", help="variable holding the key's password, when it is encrypted")
    p.add_argument("--object", required=True, help="CKA_LABEL of the objects")
    p.add_argument("--id", required=True, help="CKA_ID of the objects, hex")
    p.add_argument("--cert", help="certificate (PEM or DER) to store with the same label and id")
    p.set_defaults(run=cmd_softhsm_import)

    tpm = commands.add_parser("tpm", help="swtpm and tpm2-pkcs11").add_subparsers(dest="tpm_command", required=True)
    p = tpm.add_parser("start", help="starts swtpm with its state in DIR; prints the TCTI")
    p.add_argument("--dir", required=True)
    p.set_defaults(run=cmd_tpm_start)
    p = tpm.add_parser("stop", help="stops the swtpm of DIR")
    p.add_argument("--dir", required=True)
    p.set_defaults(run=cmd_tpm_stop)

    def key_options(p, required_object):
        p.add_argument("--object", required=required_object, help="CKA_LABEL of the key's objects")
        p.add_argument("--key-type", choices=sorted(KEY_ALGORITHMS), help="made in the TPM: ec (P-256), rsa (2048)")
        p.add_argument("--key", help="imported instead: a private key any form openssl pkey reads")
        p.add_argument("--key-pass-env", help="variable holding --key's password, when it is encrypted")
        p.add_argument("--id", help="CKA_ID, hex (default: the bytes of --object)")
        p.add_argument("--cert", help="certificate (PEM or DER) of the key, stored with its label and id")

    p = tpm.add_parser("token", help="a fresh tpm2-pkcs11 store and token (and key) on the swtpm of DIR")
    p.add_argument("--dir", required=True)
    p.add_argument("--label", required=True, help="the token's label")
    p.add_argument("--pin-env", required=True)
    p.add_argument("--so-pin-env", required=True)
    key_options(p, False)
    p.set_defaults(run=cmd_tpm_token)
    p = tpm.add_parser("key", help="one more key in the token")
    p.add_argument("--dir", required=True)
    p.add_argument("--label", required=True, help="the token's label")
    p.add_argument("--pin-env", required=True)
    key_options(p, True)
    p.set_defaults(run=cmd_tpm_key)
    p = tpm.add_parser("cert", help="a certificate for a key of the token")
    p.add_argument("--dir", required=True)
    p.add_argument("--label", required=True, help="the token's label")
    p.add_argument("--object", required=True, help="CKA_LABEL of the key")
    p.add_argument("--cert", required=True)
    p.set_defaults(run=cmd_tpm_cert)
    p = tpm.add_parser("public-key", help="a key's public key as PEM")
    p.add_argument("--dir", required=True)
    p.add_argument("--label", required=True, help="the token's label")
    p.add_argument("--object", required=True, help="CKA_LABEL of the key")
    p.add_argument("--out", required=True)
    p.set_defaults(run=cmd_tpm_public_key)
    p = tpm.add_parser("flush", help="flushes transient objects and sessions left by killed clients")
    p.add_argument("--dir", required=True)
    p.set_defaults(run=cmd_tpm_flush)
    p = tpm.add_parser("check", help="whether the TPM part can run here (starts and stops a swtpm in DIR)")
    p.add_argument("--dir", required=True)
    p.set_defaults(run=cmd_tpm_check)

    args = parser.parse_args()
    try:
        args.run(args)
    except Failure as failure:
        print(f"soft_tokens.py {args.command}{' ' + args.tpm_command if args.command == 'tpm' else ''}: "
              f"{failure}", file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
