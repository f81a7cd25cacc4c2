#!/usr/bin/env python3
"""The local platform: certificates made the way the platform's guide makes them, a mosquitto
broker that plays the platform's MQTT endpoint for certificate devices, and, with `start
--https`, an HTTPS listener that plays the platform's REST side (scripts/platform_https.py): its
certificate authority (EST enrollment with one-time passwords, re-enrollment with the device's
token), the device token over HTTP and the administrator's calls.

  pki    makes (idempotently) the trusted CA, device certificates, the server side, a rogue CA
         and the tenant CA
  start  writes DIR/mosquitto.conf, starts mosquitto in the background, prints its port; with
         --https also starts the HTTPS listener and prints its port on a second line
  stop   stops the broker and the HTTPS listener started in DIR

Layout made by `pki --dir DIR`:
  DIR/ca/                    the CA "uploaded to the platform": the broker trusts it
                             (caConfig.cnf, caKey.pem, password.txt, caCert.pem, database.txt,
                             serial, deviceCertificates/, crl/)
  DIR/devices/NAME/          deviceKey.pem (aes256, password in password.txt), deviceCert.pem,
                             deviceCertChain.pem (certificate then caCert.pem), deviceKeystore.p12
  DIR/server/                serverCaCert.pem (what devices trust), serverCert.pem (CN=localhost,
                             SAN DNS:localhost only, so that connecting to 127.0.0.1 shows a name mismatch), serverKey.pem (unencrypted)
  DIR/rogue/                 a CA the broker does not trust, same layout as DIR/ca/, with its
                             device in DIR/rogue/devices/rogue-device/
  DIR/intermediate/          with --intermediate-device: an intermediate CA signed by DIR/ca
                             (the guide's "Creating an intermediate certificate"; same file names
                             as DIR/ca/ plus caChain.pem), its devices in DIR/intermediate/devices/
                             NAME/ whose chain is certificate, intermediate, CA
  DIR/tenant-ca/             the tenant CA, made the way the platform makes it when its
                             certificate-authority feature creates one: self-signed,
                             O=Cumulocity, CN=<tenant id> (--tenant, default t0), EC P-256,
                             CA:TRUE, 3 years; caCert.pem, caKey.pem (unencrypted, mode 0600).
                             The broker trusts it; the HTTPS listener signs enrolled devices with it

Made by `start` (`stop` removes the pid files and DIR/https.port; the rest stays to be read):
  DIR/mosquitto.conf, mosquitto.pid, mosquitto.log, mosquitto.out    the broker
  DIR/trusted.pem            what the broker trusts when it is more than DIR/ca/caCert.pem:
                             that, each --trust file, the tenant CA; the HTTPS listener asks
                             clients for certificates of the same CAs (mutual TLS, optional)
  DIR/https.pid, https.port  with --https: the listener's process and port
  DIR/https.log, https.out   its requests (never a password or a token) and its own output
  DIR/admin-password.txt     with --https: the administrator's password (mode 0600): the value of
                             --admin-password-env, else the file's, else a random one made then

Standard library only; the OpenSSL and mosquitto command-line programs do the work.
"""

import argparse
import os
import pwd
import secrets
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

ROGUE_DEVICE = "rogue-device"
CA_DAYS = 7300  # the guide's values
DEVICE_DAYS = 365
TENANT_CA_DAYS = 3 * 365  # the platform's tenant CA is valid 3 years
START_TIMEOUT_S = 10.0
STOP_TIMEOUT_S = 30.0  # a clean stop saves the persistence file: it is worth waiting for
HTTPS_STOP_TIMEOUT_S = 10.0
HTTPS_SCRIPT = Path(__file__).resolve().parent / "platform_https.py"
# The HTTPS listener takes its secrets from these variables, never from its command line.
SECRET_VARIABLE = "C8Y_LOCAL_PLATFORM_SECRET"
ADMIN_PASSWORD_VARIABLE = "C8Y_LOCAL_PLATFORM_ADMIN_PASSWORD"


class Failure(Exception):
    """A step failed; the message says which and why."""


# ---- helpers ---------------------------------------------------------------------------------

def run(args, cwd=None, env_extra=None):
    """Runs a command quietly; on failure raises with the command and everything it printed."""
    env = dict(os.environ)
    if env_extra:
        env.update(env_extra)
    try:
        result = subprocess.run(args, cwd=cwd, env=env, stdin=subprocess.DEVNULL,
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    except FileNotFoundError:
        raise Failure(f"{args[0]} not found: install it (scripts/install-deps does)") from None
    if result.returncode != 0:
        raise Failure(f"{' '.join(str(a) for a in args)} failed (exit {result.returncode}):\n"
                      f"{result.stdout.rstrip()}")
    return result.stdout


def write_new(path, text, mode=0o644):
    """Writes a file only if it does not exist yet (every step of `pki` is idempotent)."""
    if path.exists():
        return
    path.write_text(text)
    path.chmod(mode)


def write_private(path, text):
    """Writes (or replaces) a file only its owner can read."""
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w") as out:
        os.fchmod(out.fileno(), 0o600)  # an existing file keeps its mode through O_CREAT
        out.write(text)


def password_of(directory):
    """The password of the key in `directory`, made on first use."""
    path = directory / "password.txt"
    # Written without a newline so that the file holds exactly the password.
    write_new(path, secrets.token_hex(16), 0o600)
    return path.read_text()


def subject(common_name):
    """An -subj argument; characters that -subj treats specially are escaped."""
    escaped = "".join("\\" + c if c in "\\/+=" else c for c in common_name)
    return f"/CN={escaped}"


def device_directory_name(name):
    """Device directories replace ':' (allowed in a test CN, not wanted in paths) with '_'."""
    return name.replace(":", "_")


# ---- pki -------------------------------------------------------------------------------------

def ca_config(ca_dir):
    """The guide's caConfig.cnf, with `dir` pointing at ca_dir."""
    return f"""\
# The platform guide's CA configuration (device-certificates, "Creating a self-signed CA
# certificate"), made by scripts/local_platform.py.
[ ca ]
default_ca = CA_default

[ CA_default ]
dir               = {ca_dir}
certs             = $dir
crl_dir           = $dir/crl
new_certs_dir     = $dir/deviceCertificates
database          = $dir/database.txt
serial            = $dir/serial
private_key       = $dir/caKey.pem
certificate       = $dir/caCert.pem
default_md        = sha256
default_days      = 375
preserve          = no
policy            = signing_policy
crl               = $crl_dir/caCrl.pem
crlnumber         = $crl_dir/crlnumber
crl_extensions    = crl_ext
default_crl_days  = 30
# Not in the guide: lets a device get a new certificate for the same CN (a lost key, a test
# rerun after an interrupted one) instead of `openssl ca` refusing a second one.
unique_subject    = no

[ req ]
default_bits        = 4096
distinguished_name  = req_distinguished_name
string_mask         = utf8only
default_md          = sha256
x509_extensions     = v3_ca

[ req_distinguished_name ]
countryName                     = Country Name (2 letter code)
stateOrProvinceName             = State or Province Name
localityName                    = Locality Name
organizationName                = Organization Name
organizationalUnitName          = Organizational Unit Name
commonName                      = Common Name
emailAddress                    = Email Address

[ v3_ca ]
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid:always,issuer
basicConstraints = critical, CA:true, pathlen:10
keyUsage = digitalSignature, cRLSign, keyCertSign

[ v3_signed ]
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid,issuer
basicConstraints = critical, CA:false
keyUsage = nonRepudiation, digitalSignature, keyEncipherment

[ crl_ext ]
authorityKeyIdentifier=keyid:always

[ signing_policy ]
countryName             = optional
stateOrProvinceName     = optional
organizationName        = optional
organizationalUnitName  = optional
commonName              = supplied
emailAddress            = optional
"""


def prepare_ca_directory(ca_dir):
    """The guide's CA directory: configuration, database, serial, certificate and CRL folders."""
    ca_dir.mkdir(parents=True, exist_ok=True)
    (ca_dir / "deviceCertificates").mkdir(exist_ok=True)
    (ca_dir / "crl").mkdir(exist_ok=True)
    write_new(ca_dir / "caConfig.cnf", ca_config(ca_dir.resolve()))
    write_new(ca_dir / "database.txt", "")
    write_new(ca_dir / "serial", "1000\n")


def make_ca(ca_dir, common_name, key_bits):
    """A self-signed CA made as the guide does, ready to sign device certificates."""
    prepare_ca_directory(ca_dir)
    # OpenSSL reads passwords from the environment, so they never show up in a process list.
    env = {"C8Y_PKI_PASSWORD": password_of(ca_dir)}
    if not (ca_dir / "caKey.pem").exists():
        run(["openssl", "genrsa", "-aes256", "-passout", "env:C8Y_PKI_PASSWORD",
             "-out", "caKey.pem", str(key_bits)], cwd=ca_dir, env_extra=env)
    if not (ca_dir / "caCert.pem").exists():
        run(["openssl", "req", "-config", "caConfig.cnf", "-key", "caKey.pem",
             "-passin", "env:C8Y_PKI_PASSWORD", "-new", "-x509", "-days", str(CA_DAYS), "-sha256",
             "-extensions", "v3_ca", "-subj", subject(common_name), "-out", "caCert.pem"],
            cwd=ca_dir, env_extra=env)


def make_intermediate(root_dir, inter_dir, common_name, key_bits):
    """An intermediate CA as the guide makes it: its own key and CSR, signed by the root's
    configuration with -extensions v3_ca; caChain.pem is its certificate then the root's."""
    prepare_ca_directory(inter_dir)
    env = {"C8Y_PKI_PASSWORD": password_of(inter_dir), "C8Y_PKI_CA_PASSWORD": password_of(root_dir)}
    key, csr, cert = inter_dir / "caKey.pem", inter_dir / "caCsr.pem", inter_dir / "caCert.pem"
    if not key.exists():
        run(["openssl", "genrsa", "-aes256", "-passout", "env:C8Y_PKI_PASSWORD", "-out", str(key),
             str(key_bits)], env_extra=env)
    if not cert.exists():
        run(["openssl", "req", "-config", str(inter_dir / "caConfig.cnf"), "-new", "-sha256", "-key", str(key),
             "-passin", "env:C8Y_PKI_PASSWORD", "-subj", subject(common_name), "-out", str(csr)], env_extra=env)
        partial = inter_dir / "caCert.pem.partial"
        run(["openssl", "ca", "-batch", "-config", str(root_dir / "caConfig.cnf"), "-passin",
             "env:C8Y_PKI_CA_PASSWORD", "-extensions", "v3_ca", "-days", "3650", "-notext", "-md", "sha256",
             "-in", str(csr), "-out", str(partial)], env_extra=env)
        partial.rename(cert)
    write_new(inter_dir / "caChain.pem", cert.read_text() + (root_dir / "caCert.pem").read_text())


def make_device(ca_dir, devices_dir, name, key_bits):
    """A device key, certificate, chain and keystore, signed by the CA in ca_dir."""
    device_dir = devices_dir / device_directory_name(name)
    device_dir.mkdir(parents=True, exist_ok=True)
    env = {"C8Y_PKI_PASSWORD": password_of(device_dir),
           "C8Y_PKI_CA_PASSWORD": password_of(ca_dir)}
    key, csr, cert = device_dir / "deviceKey.pem", device_dir / "deviceCsr.pem", device_dir / "deviceCert.pem"
    chain, keystore = device_dir / "deviceCertChain.pem", device_dir / "deviceKeystore.p12"
    config = ca_dir / "caConfig.cnf"
    if not key.exists():
        run(["openssl", "genrsa", "-aes256", "-passout", "env:C8Y_PKI_PASSWORD",
             "-out", str(key), str(key_bits)], env_extra=env)
    if not cert.exists():
        run(["openssl", "req", "-config", str(config), "-new", "-sha256", "-key", str(key),
             "-passin", "env:C8Y_PKI_PASSWORD", "-subj", subject(name), "-out", str(csr)],
            env_extra=env)
        # Signed into a temporary name first, so an interrupted run never leaves half a file.
        partial = device_dir / "deviceCert.pem.partial"
        run(["openssl", "ca", "-batch", "-config", str(config), "-passin", "env:C8Y_PKI_CA_PASSWORD",
             "-extensions", "v3_signed", "-days", str(DEVICE_DAYS), "-notext", "-md", "sha256",
             "-in", str(csr), "-out", str(partial)], env_extra=env)
        partial.rename(cert)
    if not chain.exists():
        # The guide's `cat deviceCert.pem [intermediateCert.pem] caCert.pem > deviceCertChain.pem`.
        signer_chain = ca_dir / "caChain.pem"
        if not signer_chain.exists():
            signer_chain = ca_dir / "caCert.pem"
        chain.write_text(cert.read_text() + signer_chain.read_text())
    if not keystore.exists():
        run(["openssl", "pkcs12", "-export", "-name", "devicekeyentry", "-inkey", str(key),
             "-passin", "env:C8Y_PKI_PASSWORD", "-in", str(chain), "-passout", "env:C8Y_PKI_PASSWORD",
             "-out", str(keystore)], env_extra=env)


SERVER_EXTENSIONS = """\
[ server ]
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid,issuer
basicConstraints = critical, CA:false
keyUsage = critical, digitalSignature, keyEncipherment
extendedKeyUsage = serverAuth
subjectAltName = DNS:localhost
"""


def make_server(server_dir, key_bits):
    """The broker's side: its own CA (what devices trust) and a certificate for localhost."""
    server_dir.mkdir(parents=True, exist_ok=True)
    ca_key, ca_cert = server_dir / "serverCaKey.pem", server_dir / "serverCaCert.pem"
    key, csr, cert = server_dir / "serverKey.pem", server_dir / "serverCsr.pem", server_dir / "serverCert.pem"
    if not ca_cert.exists():
        run(["openssl", "req", "-x509", "-newkey", f"rsa:{key_bits}", "-noenc", "-keyout", str(ca_key),
             "-days", str(CA_DAYS), "-sha256", "-subj", "/CN=c8y-mtls local platform server CA",
             "-addext", "basicConstraints=critical,CA:true",
             "-addext", "keyUsage=critical,keyCertSign,cRLSign", "-out", str(ca_cert)])
    if not cert.exists():
        # Unencrypted: mosquitto cannot be given a password for its key.
        if not key.exists():
            run(["openssl", "genrsa", "-out", str(key), str(key_bits)])
        write_new(server_dir / "serverExtensions.cnf", SERVER_EXTENSIONS)
        run(["openssl", "req", "-new", "-sha256", "-key", str(key), "-subj", "/CN=localhost",
             "-out", str(csr)])
        partial = server_dir / "serverCert.pem.partial"
        run(["openssl", "x509", "-req", "-in", str(csr), "-CA", str(ca_cert), "-CAkey", str(ca_key),
             "-CAcreateserial", "-days", str(DEVICE_DAYS), "-sha256",
             "-extfile", str(server_dir / "serverExtensions.cnf"), "-extensions", "server",
             "-out", str(partial)])
        partial.rename(cert)


def certificate_common_name(path):
    """The CN of the certificate in path, as openssl reads it."""
    line = run(["openssl", "x509", "-in", str(path), "-noout", "-subject", "-nameopt", "RFC2253"]).strip()
    for part in line.partition("=")[2].split(","):
        name, _, value = part.partition("=")
        if name.strip() == "CN":
            return value.strip()
    return None


def make_tenant_ca(ca_dir, tenant):
    """The tenant CA as the platform's POST /certificate-authority makes it (PLATFORM.md)."""
    key, cert = ca_dir / "caKey.pem", ca_dir / "caCert.pem"
    if cert.exists():
        made_for = certificate_common_name(cert)
        if made_for != tenant:
            raise Failure(f"{cert} is the CA of tenant {made_for}, not of {tenant}: give --tenant {made_for}, "
                          f"another --dir, or remove {ca_dir} (devices it enrolled will no longer connect)")
        if not key.exists():
            raise Failure(f"{key} is missing next to {cert}: remove {ca_dir} to make a new tenant CA")
        return
    ca_dir.mkdir(parents=True, exist_ok=True)
    partial_key, partial_cert = ca_dir / "caKey.pem.partial", ca_dir / "caCert.pem.partial"
    run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-noenc",
         "-keyout", str(partial_key), "-subj", "/O=Cumulocity" + subject(tenant), "-days", str(TENANT_CA_DAYS),
         "-sha256", "-addext", "basicConstraints=critical,CA:TRUE",
         "-addext", "keyUsage=critical,keyCertSign,cRLSign,digitalSignature", "-out", str(partial_cert)])
    partial_key.chmod(0o600)
    partial_key.rename(key)
    partial_cert.rename(cert)


def check_tenant(tenant):
    if not tenant or any(c in tenant for c in "/\\,+=:\n") or tenant.strip() != tenant:
        raise Failure(f"tenant id {tenant!r}: a tenant id is a name like t0 or t12345 (no '/', ',', '+', '=', "
                      "':', spaces around it)")


def check_device_name(name):
    if not name or "/" in name or name in (".", "..") or "\n" in name:
        raise Failure(f"device name {name!r} cannot be a certificate CN and a directory name")


def command_pki(args):
    if args.key_bits < 2048:
        raise Failure(f"--key-bits {args.key_bits}: the platform's guide calls RSA keys of "
                      "1024 bits or fewer unsafe; use at least 2048")
    for name in args.device + (args.intermediate_device or []):
        check_device_name(name)
    check_tenant(args.tenant)
    directory = Path(args.dir)
    directory.mkdir(parents=True, exist_ok=True)
    make_ca(directory / "ca", "c8y-mtls local platform CA", args.key_bits)
    for name in args.device:
        make_device(directory / "ca", directory / "devices", name, args.key_bits)
    make_server(directory / "server", args.key_bits)
    make_ca(directory / "rogue", "c8y-mtls rogue CA", args.key_bits)
    make_device(directory / "rogue", directory / "rogue" / "devices", ROGUE_DEVICE, args.key_bits)
    if args.intermediate_device:
        make_intermediate(directory / "ca", directory / "intermediate", "c8y-mtls intermediate CA", args.key_bits)
        for name in args.intermediate_device:
            make_device(directory / "intermediate", directory / "intermediate" / "devices", name, args.key_bits)
    make_tenant_ca(directory / "tenant-ca", args.tenant)


# ---- broker ----------------------------------------------------------------------------------

def running_pid(directory):
    """The pid of the broker started in directory, if it still runs."""
    try:
        pid = int((directory / "mosquitto.pid").read_text().strip())
    except (FileNotFoundError, ValueError):
        return None
    return pid if is_mosquitto(pid) else None


def is_mosquitto(pid):
    """Whether pid is a live (not zombie) mosquitto: guards against a recycled pid."""
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")[0]
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError, IndexError):
        return False
    return os.path.basename(cmdline) == b"mosquitto" and state != "Z"


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def broker_config(directory, port, args):
    d = directory.resolve()
    lines = [
        "# Written by scripts/local_platform.py: the local platform's broker.",
        # Started as root, mosquitto would switch to the `mosquitto` user, which cannot read
        # the keys here.
        f"user {pwd.getpwuid(os.geteuid()).pw_name}",
        "per_listener_settings false",
        *(["persistence true", f"persistence_location {d}/", "autosave_interval 1",
           "max_queued_messages 100000"]  # a session offline during a long test keeps it all
          if args.persistence else ["persistence false"]),
        f"pid_file {d / 'mosquitto.pid'}",
        f"log_dest file {d / 'mosquitto.log'}",
        "log_type error", "log_type warning", "log_type notice", "log_type information",
        "connection_messages true",
        "log_timestamp_format %Y-%m-%dT%H:%M:%S",
    ]
    if args.plugin:
        lines += [
            "allow_anonymous false",
            f"plugin {Path(args.plugin).resolve()}",
            f"plugin_opt_lifespan {args.lifespan}",
            f"plugin_opt_tenant {args.tenant}",
        ]
        if args.secret:
            lines.append(f"plugin_opt_secret {args.secret}")
        if args.clock_offset_file:
            lines.append(f"plugin_opt_clock_offset_file {Path(args.clock_offset_file).resolve()}")
    else:
        # The plain broker: certificates are still required, but without the plugin nobody sets
        # a username, so certificate clients are let in as anonymous.
        lines.append("allow_anonymous true")
    lines += [
        "",
        f"listener {port} 127.0.0.1",
        f"cafile {trusted_cas(d, args.trust)}",
        f"certfile {d / 'server' / 'serverCert.pem'}",
        f"keyfile {d / 'server' / 'serverKey.pem'}",
        "require_certificate true",
        "tls_version tlsv1.2",  # the minimum: TLS 1.3 is accepted too
    ]
    return "\n".join(lines) + "\n"


def trusted_cas(directory, extra):
    """The file of CAs "uploaded to the platform": DIR/ca/caCert.pem, each --trust file, then the
    tenant CA (a directory made before `pki` made one has none)."""
    tenant_ca = directory / "tenant-ca" / "caCert.pem"
    if not extra and not tenant_ca.exists():
        return directory / "ca" / "caCert.pem"
    bundle = directory / "trusted.pem"
    parts = [(directory / "ca" / "caCert.pem").read_text()]
    for path in extra:
        try:
            text = Path(path).read_text()
        except OSError as failure:
            raise Failure(f"--trust {path}: {failure.strerror}") from None
        if "-----BEGIN CERTIFICATE-----" not in text:
            raise Failure(f"--trust {path}: no PEM certificate in it")
        parts.append(text)
    if tenant_ca.exists():
        parts.append(tenant_ca.read_text())
    bundle.write_text("".join(part if part.endswith("\n") else part + "\n" for part in parts))
    return bundle


def tail(path, lines=30):
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except FileNotFoundError:
        return "(none)"


def wait_until_ready(process, port, log):
    """None once mosquitto runs and its port accepts TCP, else why not."""
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            return f"mosquitto exited with status {process.returncode}"
        # "running" is logged after every listener is open: a TCP answer alone could come from
        # another program that owns the port.
        if log.exists() and " running" in log.read_text(errors="replace"):
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                    return None
            except OSError:
                pass
        time.sleep(0.05)
    return f"mosquitto was not ready within {START_TIMEOUT_S:.0f} s"


def start_once(directory, port, args):
    log, out = directory / "mosquitto.log", directory / "mosquitto.out"
    conf = directory / "mosquitto.conf"
    write_private(conf, broker_config(directory, port, args))  # it may hold the tokens' secret
    for stale in (log, out, directory / "mosquitto.pid"):
        stale.unlink(missing_ok=True)
    with open(out, "w") as output:
        # Not daemonised and without a pipe to us, so whoever reads our stdout gets EOF when
        # we exit; the broker stays in the caller's process group, which test runners kill.
        process = subprocess.Popen(["mosquitto", "-c", str(conf)], stdin=subprocess.DEVNULL,
                                   stdout=output, stderr=subprocess.STDOUT)
    failure = wait_until_ready(process, port, log)
    if failure and process.poll() is None:
        process.kill()
        process.wait()
    return failure


# ---- the HTTPS listener ----------------------------------------------------------------------

def running_https_pid(directory):
    """The pid of the HTTPS listener started in directory, if it still runs."""
    try:
        pid = int((directory / "https.pid").read_text().strip())
    except (FileNotFoundError, ValueError):
        return None
    return pid if is_platform_https(pid) else None


def is_platform_https(pid):
    """Whether pid is a live platform_https.py server: guards against a recycled pid."""
    try:
        arguments = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError, IndexError):
        return False
    return any(os.path.basename(a) == b"platform_https.py" for a in arguments) and state != "Z"


def admin_password(directory, args):
    """The administrator's password: --admin-password-env's, else DIR/admin-password.txt's, else
    a new random one; kept in DIR/admin-password.txt (0600) for the caller to read."""
    path = directory / "admin-password.txt"
    if args.admin_password_env:
        value = os.environ.get(args.admin_password_env, "")
        if not value:
            raise Failure(f"--admin-password-env {args.admin_password_env}: the variable is not set or empty")
        write_private(path, value)
        return value
    try:
        value = path.read_text()
    except FileNotFoundError:
        value = ""
    if not value:
        value = secrets.token_urlsafe(18)
        write_private(path, value)
    return value


def https_command(directory, args, trusted):
    d = directory.resolve()
    command = [sys.executable, str(HTTPS_SCRIPT), "serve",
               "--cert", str(d / "server" / "serverCert.pem"), "--key", str(d / "server" / "serverKey.pem"),
               "--client-ca", str(Path(trusted).resolve()), "--tenant-ca", str(d / "tenant-ca"),
               "--tenant", args.tenant, "--secret-env", SECRET_VARIABLE,
               "--basic-user", args.admin_user, "--basic-password-env", ADMIN_PASSWORD_VARIABLE,
               "--token-lifespan", str(args.lifespan), "--certificate-days", str(args.certificate_days),
               "--est-answer", args.est_answer, "--port", str(args.https_port),
               "--log", str(d / "https.log"), "--outlive-parent"]
    if args.clock_offset_file:
        command += ["--clock-offset-file", str(Path(args.clock_offset_file).resolve())]
    return command


def start_https(directory, args, trusted, password):
    """Starts the HTTPS listener in the background; its port, or raises Failure saying why not."""
    out = directory / "https.out"
    for stale in (out, directory / "https.pid", directory / "https.port"):
        stale.unlink(missing_ok=True)
    env = dict(os.environ)
    env[SECRET_VARIABLE] = args.secret
    env[ADMIN_PASSWORD_VARIABLE] = password
    with open(out, "w") as output:
        # Like the broker: in the caller's process group, without a pipe to us.
        process = subprocess.Popen(https_command(directory, args, trusted), stdin=subprocess.DEVNULL,
                                   stdout=output, stderr=subprocess.STDOUT, env=env)
    port, failure = https_port_of(process, out)
    if failure:
        if process.poll() is None:
            process.kill()
            process.wait()
        raise Failure(f"{failure}\n--- {out}:\n{tail(out)}")
    (directory / "https.pid").write_text(f"{process.pid}\n")
    (directory / "https.port").write_text(f"{port}\n")
    return port


def https_port_of(process, out):
    """(port, None) once the listener printed its first line, "PORT PID", which it does once it
    listens; (None, why) when it exited or stayed silent."""
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        first, newline, _ = out.read_text(errors="replace").partition("\n")
        words = first.split()
        if newline and words and words[0].isdigit():
            return int(words[0]), None
        if process.poll() is not None:
            return None, f"the HTTPS listener exited with status {process.returncode}"
        time.sleep(0.05)
    return None, f"the HTTPS listener did not listen within {START_TIMEOUT_S:.0f} s"


def stop_https(directory):
    pid = running_https_pid(directory)
    if pid is not None:
        for sig in (signal.SIGTERM, signal.SIGKILL):
            try:
                os.kill(pid, sig)
            except ProcessLookupError:
                break
            deadline = time.monotonic() + HTTPS_STOP_TIMEOUT_S
            while is_platform_https(pid) and time.monotonic() < deadline:
                time.sleep(0.05)
            if not is_platform_https(pid):
                break
        else:
            raise Failure(f"the HTTPS listener (pid {pid}) survived SIGKILL")
    for name in ("https.pid", "https.port"):
        (directory / name).unlink(missing_ok=True)


# ---- start and stop --------------------------------------------------------------------------

def command_start(args):
    directory = Path(args.dir)
    serves_tokens = args.plugin or args.https
    if not serves_tokens and (args.lifespan is not None or args.tenant is not None or args.secret
                              or args.clock_offset_file):
        raise Failure("--lifespan, --tenant, --secret and --clock-offset-file need --plugin or --https")
    if not args.https and (args.https_port is not None or args.certificate_days is not None
                           or args.est_answer is not None or args.admin_user is not None
                           or args.admin_password_env is not None):
        raise Failure("--https-port, --certificate-days, --est-answer, --admin-user and --admin-password-env "
                      "need --https")
    if args.plugin and not Path(args.plugin).is_file():
        raise Failure(f"plugin {args.plugin} not found: build the project first "
                      "(it is platform/c8y_platform_plugin.so in the build directory)")
    if serves_tokens:
        if args.lifespan is None:
            args.lifespan = 3600
        if args.lifespan < 300:
            raise Failure(f"--lifespan {args.lifespan}: the platform's minimum is 300 seconds")
        args.tenant = args.tenant or "t0"
        check_tenant(args.tenant)
    needed = ["ca/caCert.pem", "server/serverCert.pem", "server/serverKey.pem"]
    if args.https:
        args.https_port = args.https_port or 0
        args.certificate_days = 365 if args.certificate_days is None else args.certificate_days
        args.est_answer = args.est_answer or "pkcs7"
        args.admin_user = args.admin_user or "admin"
        if args.certificate_days < 1:
            raise Failure(f"--certificate-days {args.certificate_days}: at least 1")
        if not args.admin_user or ":" in args.admin_user:
            raise Failure(f"--admin-user {args.admin_user!r}: a user name with no ':' (HTTP Basic splits there)")
        # The plugin and the listener sign and check the same tokens: one secret for both.
        args.secret = args.secret or secrets.token_hex(32)
        needed += ["tenant-ca/caCert.pem", "tenant-ca/caKey.pem"]
    for name in needed:
        if not (directory / name).is_file():
            raise Failure(f"{directory / name} missing: run `{sys.argv[0]} pki --dir {directory}` first")
    if args.https:
        made_for = certificate_common_name(directory / "tenant-ca" / "caCert.pem")
        if made_for != args.tenant:
            raise Failure(f"{directory / 'tenant-ca'} is the CA of tenant {made_for}, not of --tenant {args.tenant}: "
                          f"run `{sys.argv[0]} pki --dir DIR --tenant {args.tenant}` with another DIR")
    pid = running_pid(directory)
    if pid:
        raise Failure(f"a broker started in {directory} still runs (pid {pid}): stop it first")
    pid = running_https_pid(directory)
    if pid:
        raise Failure(f"an HTTPS listener started in {directory} still runs (pid {pid}): stop it first")
    password = admin_password(directory, args) if args.https else None

    # A free port can be taken between our look and mosquitto's bind: try a few.
    attempts = 5 if args.port == 0 else 1
    for _ in range(attempts):
        port = args.port or free_port()
        failure = start_once(directory, port, args)
        if not failure:
            break
    else:
        raise Failure(f"{failure} (port {port})\n"
                      f"--- {directory / 'mosquitto.out'}:\n{tail(directory / 'mosquitto.out')}\n"
                      f"--- {directory / 'mosquitto.log'}:\n{tail(directory / 'mosquitto.log')}")
    https_port = None
    if args.https:
        try:
            https_port = start_https(directory, args, trusted_cas(directory.resolve(), args.trust), password)
        except (Failure, OSError):
            stop_broker(directory)  # all or nothing: no broker left without its REST side
            raise
    print(port)
    if https_port is not None:
        print(https_port)


def stop_broker(directory):
    pid = running_pid(directory)
    if pid is not None:
        try:
            os.kill(pid, signal.SIGCONT)  # a stopped (SIGSTOP) broker acts on SIGTERM only once continued
        except ProcessLookupError:
            pass
        for sig, timeout in ((signal.SIGTERM, STOP_TIMEOUT_S), (signal.SIGKILL, STOP_TIMEOUT_S)):
            try:
                os.kill(pid, sig)
            except ProcessLookupError:
                break
            deadline = time.monotonic() + timeout
            while is_mosquitto(pid) and time.monotonic() < deadline:
                time.sleep(0.05)
            if not is_mosquitto(pid):
                break
            if sig == signal.SIGTERM:
                print(f"local_platform stop: mosquitto (pid {pid}) ignored SIGTERM for {timeout:.0f} s: "
                      "killed; its persistence file was not saved", file=sys.stderr)
        else:
            raise Failure(f"mosquitto (pid {pid}) survived SIGKILL")
    (directory / "mosquitto.pid").unlink(missing_ok=True)


def command_stop(args):
    directory = Path(args.dir)
    stop_https(directory)
    stop_broker(directory)


# ---- command line ----------------------------------------------------------------------------

def parse_args(argv):
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)

    pki = commands.add_parser(
        "pki", help="make the certificates (skips what exists)",
        description="Makes the trusted CA, the devices, the server certificate and a rogue CA "
                    "with its device, with the OpenSSL CLI as the platform's guide does, and the "
                    "tenant CA as the platform makes it. Files that exist are kept.")
    pki.add_argument("--dir", required=True, help="the local platform's directory")
    pki.add_argument("--device", action="append", metavar="NAME",
                     help="a device certificate CN (repeatable; default: device-0001). A ':' in "
                          "NAME is kept in the CN (for tests of the CN rule) but becomes '_' in "
                          "the directory name: --device a:b is in DIR/devices/a_b/")
    pki.add_argument("--intermediate-device", action="append", metavar="NAME",
                     help="a device signed by an intermediate CA that DIR/ca signed (repeatable)")
    pki.add_argument("--key-bits", type=int, default=2048, metavar="N",
                     help="RSA key size of every key (default 2048, the minimum)")
    pki.add_argument("--tenant", default="t0", metavar="T",
                     help="the tenant id, the CN of the tenant CA in DIR/tenant-ca/ (default t0)")

    start = commands.add_parser(
        "start", help="start the broker, print its port",
        description="Writes DIR/mosquitto.conf and starts mosquitto in the background: TLS on "
                    "127.0.0.1, client certificates signed by DIR/ca, a --trust CA or the tenant CA "
                    "required. Prints the port. Without --plugin it is a plain broker that accepts "
                    "any trusted certificate and never answers token requests. With --https it also "
                    "starts the platform's REST side (scripts/platform_https.py) on 127.0.0.1 and "
                    "prints its port on a second line (and in DIR/https.port).")
    start.add_argument("--dir", required=True, help="the directory `pki` made")
    start.add_argument("--port", type=int, default=0, help="listener port (default 0: a free one)")
    start.add_argument("--plugin", metavar="PATH", help="c8y_platform_plugin.so to load")
    start.add_argument("--lifespan", type=int, metavar="S",
                       help="device token lifespan in seconds, over MQTT and over HTTP (default 3600, "
                            "at least 300)")
    start.add_argument("--tenant", metavar="T",
                       help="tenant id in the tokens and of the HTTPS listener (default t0; with "
                            "--https, the tenant CA's CN)")
    start.add_argument("--secret", metavar="KEY",
                       help="HMAC key of the tokens, the plugin's and the HTTPS listener's (default: "
                            "random per start)")
    start.add_argument("--clock-offset-file", metavar="PATH",
                       help="test hook: the plugin and the HTTPS listener add the whole seconds "
                            "written in PATH (when it exists) to their clock when they issue and "
                            "check tokens")
    start.add_argument("--trust", action="append", metavar="CA.pem", default=[],
                       help="also trust device certificates signed by this CA (as one uploaded to "
                            "the platform); repeatable")
    start.add_argument("--persistence", action="store_true",
                       help="keep sessions and queued messages in DIR/mosquitto.db across restarts "
                            "(written every second and on a clean stop)")
    start.add_argument("--https", action="store_true",
                       help="also start the HTTPS listener: EST enrollment by the tenant CA, the "
                            "device token over HTTP, the administrator's calls")
    start.add_argument("--https-port", type=int, metavar="P",
                       help="the HTTPS listener's port (default 0: a free one)")
    start.add_argument("--certificate-days", type=int, metavar="N",
                       help="validity of the certificates the tenant CA issues (default 365, the "
                            "platform's)")
    start.add_argument("--est-answer", choices=("pkcs7", "pem"),
                       help="the EST answer's form: pkcs7 (default, base64 certs-only) or pem")
    start.add_argument("--admin-user", metavar="U",
                       help="the administrator's user name for HTTP Basic (default admin)")
    start.add_argument("--admin-password-env", metavar="VAR",
                       help="the administrator's password is in this environment variable (default: "
                            "the one in DIR/admin-password.txt, made random on the first start)")

    stop = commands.add_parser("stop", help="stop the broker and the HTTPS listener (no error if "
                                             "they are not running)")
    stop.add_argument("--dir", required=True, help="the directory given to start")

    args = parser.parse_args(argv)
    if args.command == "pki" and not args.device:
        args.device = ["device-0001"]
    return args


def main(argv):
    args = parse_args(argv)
    try:
        {"pki": command_pki, "start": command_start, "stop": command_stop}[args.command](args)
    except Failure as failure:
        print(f"local_platform {args.command}: {failure}", file=sys.stderr)
        return 1
    except OSError as error:
        print(f"local_platform {args.command}: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
