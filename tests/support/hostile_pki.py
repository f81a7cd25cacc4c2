#!/usr/bin/env python3
"""Server certificates a device must refuse (and a few it must accept), made with the OpenSSL CLI.

  hostile_pki.py --dir DIR --ca-cert serverCaCert.pem --ca-key serverCaKey.pem

For every variant below, DIR/NAME/leaf.pem (the server certificate), chain.pem (the
certificates the server sends after it, maybe none), cert.pem (both) and key.pem. They are signed by the given CA, the one the devices
trust, unless the variant is about its signer. Idempotent: a variant that exists is kept.
Standard library only.
"""

import argparse
import secrets
import subprocess
import sys
import tempfile
from pathlib import Path

GOOD = {"san": "DNS:localhost", "ku": "critical, digitalSignature, keyEncipherment", "eku": "serverAuth"}

# name: (key, overrides of GOOD; None leaves the extension out), plus "subject", "md", "dates".
# EC keys where the key does not matter: they are made in no time.
VARIANTS = {
    "good-rsa": ("rsa:2048", {}),
    "good-ec": ("ec:P-256", {}),
    "cn-only": ("ec:P-256", {"san": None}),
    "ip-san": ("ec:P-256", {"san": "IP:127.0.0.1"}),
    "rsa1024": ("rsa:1024", {}),
    "sha1": ("ec:P-256", {"md": "sha1"}),
    "san-star": ("ec:P-256", {"san": "DNS:*"}),
    "san-partial-suffix": ("ec:P-256", {"san": "DNS:local*"}),
    "san-partial-prefix": ("ec:P-256", {"san": "DNS:*host"}),
    "san-ip-as-dns": ("ec:P-256", {"san": "DNS:127.0.0.1"}),
    "wildcard": ("ec:P-256", {"san": "DNS:*.example.test"}),
    "wildcard-localhost": ("ec:P-256", {"san": "DNS:*.localhost"}),
    "wildcard-com": ("ec:P-256", {"san": "DNS:*.com"}),
    "other-name": ("ec:P-256", {"san": "DNS:localhost.evil.com"}),
    "san-over-cn": ("ec:P-256", {"san": "DNS:other.example"}),
    "ku-no-digital-signature": ("rsa:2048", {"ku": "critical, keyEncipherment"}),
    "eku-client-only": ("ec:P-256", {"eku": "clientAuth"}),
    "expired": ("ec:P-256", {"dates": ("20200101000000Z", "20210101000000Z")}),
    "not-yet-valid": ("ec:P-256", {"dates": ("20900101000000Z", "20910101000000Z")}),
}


def run(*args, stdin=None):
    result = subprocess.run(args, input=stdin, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    if result.returncode != 0:
        raise RuntimeError(f"{' '.join(args)} failed:\n{result.stdout}")
    return result.stdout


def new_key(spec, path):
    kind, size = spec.split(":")
    if kind == "rsa":
        run("openssl", "genpkey", "-algorithm", "RSA", "-pkeyopt", f"rsa_keygen_bits:{size}", "-out", str(path))
    else:
        run("openssl", "genpkey", "-algorithm", "EC", "-pkeyopt", f"ec_paramgen_curve:{size}", "-out", str(path))


def extensions_text(settings, ca=False):
    lines = ["subjectKeyIdentifier = hash", "authorityKeyIdentifier = keyid,issuer"]
    if ca:
        if settings.get("bc", "critical, CA:true") is not None:
            lines.append("basicConstraints = " + settings.get("bc", "critical, CA:true"))
        lines.append("keyUsage = critical, keyCertSign, cRLSign")
        return "\n".join(lines) + "\n"
    lines.append("basicConstraints = critical, CA:false")
    for field, name in (("ku", "keyUsage"), ("eku", "extendedKeyUsage"), ("san", "subjectAltName")):
        value = settings.get(field, GOOD[field])
        if value is not None:
            lines.append(f"{name} = {value}")
    return "\n".join(lines) + "\n"


def sign(csr, ca_cert, ca_key, out, extensions, md="sha256", dates=None, v1=False):
    """Signs a CSR; `dates` (notBefore, notAfter) needs `openssl ca`, which takes them."""
    with tempfile.TemporaryDirectory() as scratch:
        scratch = Path(scratch)
        ext = scratch / "ext.cnf"
        ext.write_text("[ ext ]\n" + extensions)
        if dates is None:
            args = ["openssl", "x509", "-req", "-in", str(csr), "-CA", str(ca_cert), "-CAkey", str(ca_key),
                    "-set_serial", "0x" + secrets.token_hex(8), "-days", "365", f"-{md}",
                    "-out", str(out)]
            if not v1:
                args += ["-extfile", str(ext), "-extensions", "ext"]
            run(*args)
            return
        (scratch / "index.txt").write_text("")
        (scratch / "serial").write_text(secrets.token_hex(8) + "\n")
        config = scratch / "ca.cnf"
        config.write_text(f"""[ ca ]
default_ca = this
[ this ]
dir = {scratch}
database = $dir/index.txt
serial = $dir/serial
new_certs_dir = $dir
policy = anything
unique_subject = no
copy_extensions = none
[ anything ]
commonName = supplied
""" + "[ ext ]\n" + extensions)
        run("openssl", "ca", "-batch", "-notext", "-config", str(config), "-cert", str(ca_cert), "-keyfile",
            str(ca_key), "-in", str(csr), "-out", str(out), "-md", md, "-startdate", dates[0], "-enddate",
            dates[1], "-extensions", "ext")


def make_leaf(directory, key_spec, settings, ca_cert, ca_key, chain_after=()):
    directory.mkdir(parents=True, exist_ok=True)
    key, csr, cert = directory / "key.pem", directory / "csr.pem", directory / "cert.pem"
    new_key(key_spec, key)
    run("openssl", "req", "-new", "-key", str(key), "-subj", settings.get("subject", "/CN=localhost"),
        "-out", str(csr))
    leaf = directory / "leaf.pem"
    sign(csr, ca_cert, ca_key, leaf, extensions_text(settings), settings.get("md", "sha256"), settings.get("dates"))
    chain = "".join(Path(p).read_text() for p in chain_after)
    (directory / "chain.pem").write_text(chain)
    cert.write_text(leaf.read_text() + chain)


def make_ca(directory, subject, key_spec, signer=None, settings=None, v1=False):
    """A CA certificate in DIRECTORY/ca.pem with its key ca.key: self-signed, or signed by
    `signer` (cert, key)."""
    directory.mkdir(parents=True, exist_ok=True)
    key, cert = directory / "ca.key", directory / "ca.pem"
    new_key(key_spec, key)
    if signer is None:
        run("openssl", "req", "-x509", "-key", str(key), "-subj", subject, "-days", "365", "-sha256",
            "-addext", "basicConstraints=critical,CA:true", "-addext", "keyUsage=critical,keyCertSign,cRLSign",
            "-out", str(cert))
        return cert, key
    csr = directory / "ca.csr"
    run("openssl", "req", "-new", "-key", str(key), "-subj", subject, "-out", str(csr))
    sign(csr, signer[0], signer[1], cert, extensions_text(settings or {}, ca=True), v1=v1)
    return cert, key


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dir", required=True)
    parser.add_argument("--ca-cert", required=True)
    parser.add_argument("--ca-key", required=True)
    args = parser.parse_args()
    root = Path(args.dir)
    trusted = (Path(args.ca_cert), Path(args.ca_key))

    for name, (key_spec, settings) in VARIANTS.items():
        if not (root / name / "cert.pem").exists():
            make_leaf(root / name, key_spec, settings, *trusted)

    # Signers a server certificate must not be accepted under, each sent after the certificate.
    signers = {
        "signer-not-ca": {"bc": "critical, CA:false"},
        "signer-no-basic-constraints": {"bc": None},
        "signer-v1": None,
    }
    for name, settings in signers.items():
        if (root / name / "cert.pem").exists():
            continue
        cert, key = make_ca(root / name, f"/CN=c8y-mtls test {name}", "ec:P-256", trusted, settings or {},
                            v1=settings is None)
        make_leaf(root / name, "ec:P-256", {}, cert, key, chain_after=[cert])

    # An intermediate CA with a 1024-bit key, sent after the certificate it signed.
    if not (root / "weak-intermediate" / "cert.pem").exists():
        cert, key = make_ca(root / "weak-intermediate", "/CN=c8y-mtls test weak intermediate", "rsa:1024", trusted)
        make_leaf(root / "weak-intermediate", "ec:P-256", {}, cert, key, chain_after=[cert])

    # A CA of its own that bears the trusted CA's name.
    if not (root / "fake-ca" / "cert.pem").exists():
        subject = run("openssl", "x509", "-in", str(trusted[0]), "-noout", "-subject", "-nameopt", "compat")
        subject = subject.strip().removeprefix("subject=")
        cert, key = make_ca(root / "fake-ca", subject, "ec:P-256")
        make_leaf(root / "fake-ca", "ec:P-256", {}, cert, key, chain_after=[cert])

    # A CA with a 1024-bit key, trusted by the device in its test, and a good certificate below it.
    if not (root / "weak-ca" / "cert.pem").exists():
        cert, key = make_ca(root / "weak-ca", "/CN=c8y-mtls test weak CA", "rsa:1024")
        make_leaf(root / "weak-ca", "ec:P-256", {}, cert, key)
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except RuntimeError as e:
        print(f"hostile_pki: {e}", file=sys.stderr)
        sys.exit(1)
