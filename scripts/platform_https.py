#!/usr/bin/env python3
"""The local platform's REST side: an HTTPS server that plays the platform's REST API, for the
SDK's tests and for `scripts/local_platform.py start --https` (the demo).

  serve  listens on 127.0.0.1 with the local platform's server certificate, prints
         "PORT PID" on its first line, and serves until killed or until its parent exits
         (with --outlive-parent: until killed)
  mint   prints an HS256 JWT signed the way the local platform's plugin signs device tokens

The server checks Bearer tokens as the platform would: HS256 over "header.claims" with the
plugin's secret (plugin_opt_secret, passed as --secret to scripts/local_platform.py start),
"exp" in the future, not logged out. It answers 401 otherwise, with the reason in the body.
The secret and the administrator's password can come from the environment (--secret-env,
--basic-password-env), out of the process list. With --clock-offset-file (the plugin's test
hook) the whole seconds written in that file are added to the clock of the tokens it makes and
checks, as the plugin adds them.

With --tenant-ca DIR the tenant has its certificate authority from the start, as if the feature
had been switched on and POST /certificate-authority had run: DIR/caCert.pem (self-signed,
CA:TRUE) and DIR/caKey.pem (unencrypted), as `scripts/local_platform.py pki` makes them. Its
certificate is listed among the trusted certificates and asked of clients for mutual TLS.

Paths (Bearer unless said otherwise):
  GET  /fixed            200, a Content-Length body naming the token's subject (HEAD too)
  GET  /chunked          200, a chunked body with a chunk extension and a trailer field
  POST /echo             200, the request body back; X-Request-Framing says how it came
  GET  /redirect         302 to /fixed
  GET  /big?bytes=N      200 with a Content-Length body of N bytes
  GET  /big-chunked?bytes=N  the same, chunked
  GET  /close            200 with Connection: close, then the connection is closed
  GET  /close-after?ms=N 200 (kept alive), then the server closes the idle connection N ms later
  GET  /drop-next        200 (kept alive); the next request on the connection is read, then the
                         connection is closed without an answer
  GET  /malformed        (no token) a response whose status code is "2OO"
  GET  /http10           (no token) an HTTP/1.0 response whose body ends with the connection
  GET  /slow?ms=N        (no token) 200 after N ms
  GET  /whoami           (no token) the CN of the client certificate the TLS handshake brought
  GET  /admin            Basic authentication with --basic-user and --basic-password
  POST /user/logout      logs the token out: the server refuses it from then on
  GET  /stats            (no token) JSON: connections accepted, 401 answers, requests by path

Provisioning paths (/tenant/...), as the platform's REST API for provisioning answers them:
HTTP Basic authentication with --basic-user and --basic-password (the user name may carry the
tenant, "TENANT/USER"), JSON answers, errors as the platform's
{"error":"<area>/<Kind>","message":...,"info":...}; state in memory. {tenant} must be --tenant
(404 otherwise); {fp} is a certificate's SHA-1 fingerprint, lowercase hex.
  GET    /tenant/currentTenant                       200 {"name","domainName",...}
  POST   /tenant/tenants/{tenant}/trusted-certificates
                         201 the certificate; 409 same fingerprint stored; 422 invalid body, not a
                         certificate, or not a CA (no BasicConstraints CA:TRUE)
  GET    /tenant/tenants/{tenant}/trusted-certificates?pageSize=N&currentPage=P
                         200 {"certificates":[...],"statistics":{...},"self":...}, upload order,
                         pageSize 5 by default, at most 2000; withTotalPages=true adds totalPages
  GET    /tenant/tenants/{tenant}/trusted-certificates/{fp}     200, 404
  PUT    /tenant/tenants/{tenant}/trusted-certificates/{fp}     200 (name, status,
                         autoRegistrationEnabled changed), 404, 422
  DELETE /tenant/tenants/{tenant}/trusted-certificates/{fp}     204 (no body), 404
  POST   /tenant/tenants/{tenant}/trusted-certificates-pop/{fp}/verification-code
                         200 the certificate with a new proofOfPossessionUnsignedVerificationCode,
                         usable for 10 minutes; 404
  POST   /tenant/tenants/{tenant}/trusted-certificates-pop/{fp}/pop
                         {"proofOfPossessionSignedVerificationCode":"<base64>"}: 200 the
                         certificate, proofOfPossessionValid true; 400 not base64 or a wrong
                         signature (SHA-256 over the code's bytes, the certificate's key); 404;
                         422 no (or an expired) code, or no such field
  POST   /tenant/options {"category","key","value"}: 201 the option; 422 invalid, or a
                         device-token.lifespan.seconds (category oauth.internal) not in decimal
  GET    /tenant/options/{category}/{key}                       200 the option, 404

The platform as certificate authority and the bulk registration (PLATFORM.md), Basic too:
  GET    /features/certificate-authority             200 {"key","phase","active","strategy"}; the
                         feature is off until switched on, as on the platform
  PUT    /features/certificate-authority/by-tenant   {"active":true|false}: 200 the feature
  POST   /certificate-authority                      201 the tenant CA (self-signed, EC P-256,
                         O=Cumulocity, CN=<tenant>, 3 years), listed among the trusted certificates
                         with "tenantCertificateAuthority":true; 403 the feature is off; 409 the
                         tenant has one already
  POST   /devicecontrol/bulkNewDeviceRequests        multipart/form-data, the CSV in the field
                         "file" (separator ',', ';' or tab; columns by the header's names): 201
                         {"numberOfAll","numberOfCreated","numberOfFailed","numberOfSuccessful",
                         "credentialUpdatedList":[..],"failedCreationList":[{"bulkNewDeviceStatus":
                         "FAILED","deviceId","failureReason","line"}]}; a row of a device already
                         requested updates its one-time password; 422 no "file" field or no ID column

The device token over HTTP (PLATFORM.md "Device token over HTTP"):
  POST   /devicecontrol/deviceAccessToken            mutual TLS: the client certificate (of --client-ca,
                         or of the tenant CA) names the device by its CN; 200
                         {"accessToken":"<JWT>"} signed with the secret, valid --token-lifespan
                         seconds (3600); 401 without a client certificate

Enrollment by the tenant CA (EST, RFC 7030), as PLATFORM.md describes the platform's:
  POST   /.well-known/est/simpleenroll               Basic: the device id (or "TENANT/ID") and the
                         one-time password of its bulk registration row; the body the base64 DER
                         of a PKCS#10 request whose CN is the device id. 200
                         application/pkcs7-mime certs-only, base64 (--est-answer pem: a PEM
                         certificate, as the platform's documentation shows), the certificate
                         valid --certificate-days (365) and signed by the tenant CA; the one-time
                         password is spent. 401 wrong password; 404 "No newDeviceRequest found for
                         this ID"; 400 no tenant CA ("Tenant CA certificate is either missing,
                         expired, ...") or a request that is not valid (signature, CN)
  POST   /.well-known/est/simplereenroll             Bearer: the device's token (its "sub" the
                         request's CN); otherwise as simpleenroll: a new certificate for the key
                         of the request (a new key, or the current one)

The test paths above (/fixed ... /stats) stay in the local platform's server too: they answer
nothing a device or an operator asks the platform for.

Standard library only (and the openssl command-line program, for the certificates).
"""

import argparse
import base64
import binascii
import csv
import datetime
import hashlib
import hmac
import http.server
import json
import os
import re
import secrets
import socketserver
import ssl
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse


def b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def b64url_decode(text):
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def mint(secret, sub, iat, exp, tenant="t0"):
    """A JWT as platform/c8y_platform_plugin.cpp makes it: HS256 over base64url(header).base64url(claims)."""
    header = json.dumps({"alg": "HS256", "typ": "JWT"}, separators=(",", ":")).encode()
    claims = json.dumps({"iss": "c8y-mtls-local-platform", "sub": sub, "ten": tenant, "iat": iat, "nbf": iat,
                         "exp": exp}, separators=(",", ":")).encode()
    signing_input = b64url(header) + "." + b64url(claims)
    mac = hmac.new(secret.encode(), signing_input.encode(), hashlib.sha256).digest()
    return signing_input + "." + b64url(mac)


# ---- provisioning: the platform's tenant REST API -----------------------------------------------

ERROR_INFO = "https://cumulocity.com/guides/reference/rest-implementation"
DEVICE_TOKEN_OPTION = ("oauth.internal", "device-token.lifespan.seconds")
DEFAULT_PAGE_SIZE = 5  # the platform's default: a client that does not page sees only 5
MAX_PAGE_SIZE = 2000
VERIFICATION_CODE_MINUTES = 10
CA_FEATURE = "certificate-authority"
CA_DAYS = 3 * 365
MAX_ONE_TIME_PASSWORD = 32  # the platform's limit on ENROLLMENT_OTP
ADMIN_PREFIXES = ("/tenant/", "/features/", "/certificate-authority", "/devicecontrol/bulkNewDeviceRequests")
PEM_BLOCK = re.compile(r"-----BEGIN CERTIFICATE-----(.*?)-----END CERTIFICATE-----", re.S)


class Problem(Exception):
    """An error answer in the platform's shape."""

    def __init__(self, status, kind, message):
        super().__init__(message)
        self.status = status
        self.payload = {"error": kind, "message": message, "info": ERROR_INFO}


def unprocessable(message, area="tenant"):
    return Problem(422, f"{area}/Unprocessable Entity", message)


def iso_time(moment):
    """2026-11-24T10:00:00.000Z"""
    return moment.astimezone(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.") + \
        f"{moment.microsecond // 1000:03d}Z"


def openssl(args, data):
    """Runs the openssl program with data on stdin; its output, or None when it failed."""
    try:
        result = subprocess.run(["openssl", *args], input=data, capture_output=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return result.stdout.decode(errors="replace") if result.returncode == 0 else None


def certificate_der(text):
    """The DER of certInPemFormat: a PEM block (line breaks optional) or its bare base64 body."""
    match = PEM_BLOCK.search(text)
    if match is None and "-----" in text:
        raise unprocessable("Cannot parse certificate")
    body = re.sub(r"\s+", "", match.group(1) if match else text)
    try:
        der = base64.b64decode(body, validate=True)
    except (binascii.Error, ValueError):
        raise unprocessable("Cannot parse certificate") from None
    if not der:
        raise unprocessable("Cannot parse certificate")
    return der


def algorithm_name(openssl_name):
    """The Java name the platform answers with (SHA256withRSA), else openssl's own."""
    rsa = re.fullmatch(r"(sha\d+)WithRSAEncryption", openssl_name)
    if rsa:
        return rsa.group(1).upper() + "withRSA"
    ecdsa = re.fullmatch(r"ecdsa-with-(SHA\d+)", openssl_name)
    if ecdsa:
        return ecdsa.group(1) + "withECDSA"
    return {"ED25519": "Ed25519", "ED448": "Ed448", "rsassaPss": "RSASSA-PSS"}.get(openssl_name, openssl_name)


def inspect_certificate(der):
    """The read-only fields of an uploaded certificate; Problem 422 when it is no CA certificate."""
    fields = openssl(["x509", "-inform", "DER", "-noout", "-nameopt", "RFC2253", "-subject", "-issuer", "-serial",
                      "-startdate", "-enddate"], der)
    text = openssl(["x509", "-inform", "DER", "-noout", "-text"], der)
    constraints = openssl(["x509", "-inform", "DER", "-noout", "-ext", "basicConstraints"], der)
    if fields is None or text is None or constraints is None:
        raise unprocessable("Cannot parse certificate")
    values = {}
    for line in fields.splitlines():
        name, _, value = line.partition("=")
        values.setdefault(name.strip(), value.strip())
    try:
        not_before, not_after = (
            datetime.datetime.strptime(values[name], "%b %d %H:%M:%S %Y GMT").replace(tzinfo=datetime.timezone.utc)
            for name in ("notBefore", "notAfter"))
        serial = str(int(values["serial"], 16))  # decimal, as Java's BigInteger prints it
        subject, issuer = values["subject"], values["issuer"]
    except (KeyError, ValueError):
        raise unprocessable("Cannot parse certificate") from None
    if not re.search(r"\bCA:TRUE\b", constraints):
        raise unprocessable("Certificate is not a CA certificate (BasicConstraints CA:TRUE missing)")
    algorithm = re.search(r"Signature Algorithm:\s*(\S+)", text)
    version = re.search(r"Version:\s*(\d+)", text)
    return {"subject": subject, "issuer": issuer, "serialNumber": serial, "notBefore": iso_time(not_before),
            "notAfter": iso_time(not_after), "algorithmName": algorithm_name(algorithm.group(1)) if algorithm else "",
            "version": int(version.group(1)) if version else 3}


def verify_possession(der, code, signature):
    """Whether signature is the SHA-256 signature of code's bytes with the certificate's key."""
    public_key = openssl(["x509", "-inform", "DER", "-pubkey", "-noout"], der)
    if public_key is None:
        return False
    with tempfile.TemporaryDirectory(prefix="https-server-pop-") as directory:
        paths = {name: os.path.join(directory, name) for name in ("pub.pem", "sig.bin", "code")}
        for name, content in (("pub.pem", public_key.encode()), ("sig.bin", signature), ("code", code.encode())):
            with open(paths[name], "wb") as out:
                out.write(content)
        return openssl(["dgst", "-sha256", "-verify", paths["pub.pem"], "-signature", paths["sig.bin"],
                        paths["code"]], b"") is not None


def json_object(data, area="tenant"):
    """The request body as a JSON object, or Problem 422."""
    try:
        value = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        raise unprocessable("The request body is not valid JSON", area) from None
    if not isinstance(value, dict):
        raise unprocessable("The request body is not a JSON object", area)
    return value


def string_field(body, name, area="tenant"):
    value = body.get(name)
    if not isinstance(value, str):
        raise unprocessable(f"Field '{name}' is missing or not a string", area)
    return value


def status_field(body):
    value = string_field(body, "status")
    if value not in ("ENABLED", "DISABLED"):
        raise unprocessable("Field 'status' must be ENABLED or DISABLED")
    return value


def flag_field(body, name):
    value = body.get(name)
    # The platform's guide sends "true" as a string, and the platform (Jackson) takes it.
    if isinstance(value, str) and value in ("true", "false"):
        return value == "true"
    if not isinstance(value, bool):
        raise unprocessable(f"Field '{name}' is missing or not a boolean")
    return value


def positive_int(query, name, default):
    text = query.get(name)
    if text is None:
        return default
    if not re.fullmatch(r"[0-9]+", text) or int(text) < 1:
        raise unprocessable(f"Query parameter '{name}' must be a positive integer", "general")
    return int(text)


class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, args, context):
        super().__init__(("127.0.0.1", args.port), Handler)
        self.args = args
        self.context = context
        self.lock = threading.Lock()
        self.connections = 0
        self.unauthorized = 0
        self.requests = {}
        self.revoked = set()
        self.certificates = {}  # fingerprint -> {"fields": {...}, "der": bytes, "code": str, "until": datetime}
        self.options = {}  # (category, key) -> value
        self.ca_feature = False
        self.tenant_ca = None  # {"fingerprint": str, "key": bytes (PEM), "der": bytes}
        self.device_requests = {}  # device id -> {"otp": str, "type": str, "name": str}
        self.log = open(args.log, "a", buffering=1) if args.log else None
        if args.tenant_ca:
            self.adopt_tenant_ca(args.tenant_ca)

    def now(self):
        """The platform's clock in whole seconds: the system's, plus the offset in --clock-offset-file."""
        now = int(time.time())
        if self.args.clock_offset_file:
            try:
                with open(self.args.clock_offset_file) as file:
                    now += int(file.read().split()[0])
            except (OSError, ValueError, IndexError):
                pass  # no file (yet), or not a number: the plugin reads it the same way
        return now

    def adopt_tenant_ca(self, directory):
        """The tenant CA of --tenant-ca, as if POST /certificate-authority had made it; Startup when unusable."""
        cert_file, key_file = os.path.join(directory, "caCert.pem"), os.path.join(directory, "caKey.pem")
        try:
            with open(cert_file, "rb") as cert, open(key_file, "rb") as key:
                cert_pem, key_pem = cert.read(), key.read()
        except OSError as failure:
            raise Startup(f"--tenant-ca {directory}: {failure.filename}: {failure.strerror}") from None
        converted = subprocess.run(["openssl", "x509", "-outform", "DER"], input=cert_pem, capture_output=True,
                                   timeout=30)
        if converted.returncode != 0 or not converted.stdout:
            raise Startup(f"--tenant-ca {directory}: {cert_file} holds no PEM certificate")
        der = converted.stdout
        try:
            fields = inspect_certificate(der)
        except Problem as problem:
            raise Startup(f"--tenant-ca {directory}: {cert_file}: {problem.payload['message']}") from None
        if openssl(["pkey", "-pubout"], key_pem) != openssl(["x509", "-noout", "-pubkey"], cert_pem):
            raise Startup(f"--tenant-ca {directory}: {key_file} is not the private key of {cert_file} "
                          "(or is encrypted: the platform's CA key is used without a password)")
        fingerprint = hashlib.sha1(der).hexdigest()
        self.certificates[fingerprint] = {
            "fields": {"fingerprint": fingerprint, "name": f"{self.args.tenant} certificate authority",
                       "status": "ENABLED", "autoRegistrationEnabled": False,
                       "certInPemFormat": base64.b64encode(der).decode(), **fields,
                       "proofOfPossessionValid": True, "tenantCertificateAuthority": True},
            "der": der, "code": None, "until": None}
        self.tenant_ca = {"fingerprint": fingerprint, "key": key_pem, "der": der}
        self.ca_feature = True
        if self.context.verify_mode == ssl.CERT_NONE:
            self.context.verify_mode = ssl.CERT_OPTIONAL  # asked, not required, as with --client-ca
        self.context.load_verify_locations(cadata=der)

    def note(self, text):
        if self.log:
            self.log.write(time.strftime("%H:%M:%S ") + text + "\n")

    def finish_request(self, request, client_address):
        # The TLS handshake runs here, in the connection's thread, so a slow client holds up no one.
        try:
            connection = self.context.wrap_socket(request, server_side=True)
        except (ssl.SSLError, OSError) as failure:
            self.note(f"TLS handshake with {client_address} failed: {failure}")
            return
        with self.lock:
            self.connections += 1
        try:
            Handler(connection, client_address, self)
        finally:
            connection.close()


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    timeout = 30  # an idle kept-alive connection is closed after this many seconds

    def log_message(self, format, *args):
        self.server.note(f"{self.client_address[1]} " + format % args)

    def handle(self):
        try:
            super().handle()
        except (ConnectionError, ssl.SSLError, TimeoutError) as failure:
            self.server.note(f"connection ended: {failure!r}")

    # ---- answers -------------------------------------------------------------------------

    def send(self, status, reason, body=b"", headers=(), head=False):
        lines = [f"HTTP/1.1 {status} {reason}", f"Content-Length: {len(body)}", *headers]
        if self.close_connection:
            lines.append("Connection: close")
        self.wfile.write(("\r\n".join(lines) + "\r\n\r\n").encode() + (b"" if head else body))
        self.wfile.flush()

    def unauthorized(self, why, scheme="Bearer"):
        with self.server.lock:
            self.server.unauthorized += 1
        body = json.dumps({"error": "security/Unauthorized", "message": why}).encode()
        challenge = 'Basic realm="Cumulocity"' if scheme == "Basic" else 'Bearer error="invalid_token"'
        self.send(401, "Unauthorized", body, ["Content-Type: application/json", f"WWW-Authenticate: {challenge}"])

    def bearer(self):
        """The token's claims and the token, or None after answering 401."""
        authorization = self.headers.get("Authorization", "")
        if not authorization.startswith("Bearer "):
            self.unauthorized("no Bearer token")
            return None
        token = authorization[len("Bearer "):]
        parts = token.split(".")
        if len(parts) != 3:
            self.unauthorized("the token is not a JWS")
            return None
        expected = b64url(hmac.new(self.server.args.secret.encode(), f"{parts[0]}.{parts[1]}".encode(),
                                   hashlib.sha256).digest())
        if not hmac.compare_digest(expected, parts[2]):
            self.unauthorized("the token's signature is invalid")
            return None
        try:
            header = json.loads(b64url_decode(parts[0]))
            claims = json.loads(b64url_decode(parts[1]))
        except ValueError:
            self.unauthorized("the token is not JSON")
            return None
        if header.get("alg") != "HS256":
            self.unauthorized("the token is not HS256")
            return None
        if claims.get("exp", 0) <= self.server.now():
            self.unauthorized("the token expired")
            return None
        if token in self.server.revoked:
            self.unauthorized("the token was logged out")
            return None
        return claims, token

    def basic(self, tenant_prefix=False):
        """Whether the request carries the Basic credentials; with tenant_prefix "TENANT/USER" counts too."""
        args = self.server.args
        given = self.headers.get("Authorization", "").encode()
        if hmac.compare_digest(given, b"Basic " + base64.b64encode(f"{args.basic_user}:{args.basic_password}".encode())):
            return True
        return tenant_prefix and hmac.compare_digest(
            given, b"Basic " + base64.b64encode(f"{args.tenant}/{args.basic_user}:{args.basic_password}".encode()))

    def body(self):
        """The request body, and how it was framed."""
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            data = b""
            while True:
                size = int(self.rfile.readline().split(b";")[0], 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    return data, "chunked"
                data += self.rfile.read(size)
                self.rfile.readline()
        length = int(self.headers.get("Content-Length", "0"))
        return self.rfile.read(length), f"length:{length}"

    # ---- paths ---------------------------------------------------------------------------

    def do_GET(self):
        self.route("GET")

    def do_HEAD(self):
        self.route("HEAD")

    def do_POST(self):
        self.route("POST")

    def do_PUT(self):
        self.route("PUT")

    def do_DELETE(self):
        self.route("DELETE")

    def route(self, method):
        url = urllib.parse.urlsplit(self.path)
        query = dict(urllib.parse.parse_qsl(url.query))
        self.server.note(f"{self.client_address[1]} {method} {self.path}")
        with self.server.lock:
            self.server.requests[url.path] = self.server.requests.get(url.path, 0) + 1
        if getattr(self, "drop_next", False):
            # What a server that closes an idle connection just as a request arrives does.
            if method in ("POST", "PUT", "DELETE"):
                self.body()
            self.close_connection = True
            return
        if url.path.startswith(ADMIN_PREFIXES):
            self.provisioning(method, url, query)
            return
        if url.path == "/.well-known/est/simpleenroll" and method == "POST":
            self.simple_enroll()
            return
        if url.path == "/.well-known/est/simplereenroll" and method == "POST":
            self.simple_reenroll()
            return
        if url.path == "/devicecontrol/deviceAccessToken" and method == "POST":
            self.body()
            device = self.client_common_name()
            if device is None:
                self.unauthorized("no client certificate: the device token needs the device's certificate")
                return
            now = self.server.now()
            token = mint(self.server.args.secret, device, now, now + self.server.args.token_lifespan,
                         self.server.args.tenant)
            self.send(200, "OK", json.dumps({"accessToken": token}).encode(), ["Content-Type: application/json"])
            return
        open_paths = {"/malformed", "/http10", "/slow", "/whoami", "/admin", "/stats"}
        claims = None
        if url.path not in open_paths:
            checked = self.bearer()
            if checked is None:
                if method in ("POST", "PUT", "DELETE"):
                    self.body()  # read what was sent so the connection stays usable
                return
            claims, token = checked

        if url.path == "/fixed" and method in ("GET", "HEAD"):
            self.send(200, "OK", f"fixed-length body for {claims['sub']}".encode(), ["Content-Type: text/plain"],
                      head=method == "HEAD")
        elif url.path == "/chunked":
            parts = [b"hello", b" ", b"chunked", b" world"]
            out = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nTrailer: X-Trailer\r\n\r\n"
            for i, part in enumerate(parts):
                out += f"{len(part):x}{';ext=' + str(i) if i == 1 else ''}\r\n".encode() + part + b"\r\n"
            out += b"0\r\nX-Trailer: done\r\n\r\n"
            self.wfile.write(out)
            self.wfile.flush()
        elif url.path == "/echo" and method in ("POST", "PUT"):
            data, framing = self.body()
            self.send(200, "OK", data, [f"X-Request-Framing: {framing}", f"X-Request-Method: {method}"])
        elif url.path == "/redirect":
            self.send(302, "Found", b"see /fixed", ["Location: /fixed"])
        elif url.path == "/big":
            size = int(query.get("bytes", "0"))
            self.wfile.write(f"HTTP/1.1 200 OK\r\nContent-Length: {size}\r\n\r\n".encode())
            for start in range(0, size, 65536):
                self.wfile.write(b"x" * min(65536, size - start))
            self.wfile.flush()
        elif url.path == "/big-chunked":
            size = int(query.get("bytes", "0"))
            self.wfile.write(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")
            for start in range(0, size, 16384):
                piece = min(16384, size - start)
                self.wfile.write(f"{piece:x}\r\n".encode() + b"y" * piece + b"\r\n")
            self.wfile.write(b"0\r\n\r\n")
            self.wfile.flush()
        elif url.path == "/close":
            self.close_connection = True
            self.send(200, "OK", b"closing")
        elif url.path == "/close-after":
            self.send(200, "OK", b"closing soon")
            time.sleep(int(query.get("ms", "100")) / 1000)
            self.close_connection = True
        elif url.path == "/drop-next":
            self.send(200, "OK", b"the next request on this connection goes unanswered")
            self.drop_next = True
        elif url.path == "/malformed":
            self.close_connection = True
            self.wfile.write(b"HTTP/1.1 2OO OK\r\nContent-Length: 0\r\n\r\n")
            self.wfile.flush()
        elif url.path == "/http10":
            self.close_connection = True
            self.wfile.write(b"HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n\r\nthe body ends with the connection")
            self.wfile.flush()
        elif url.path == "/slow":
            time.sleep(int(query.get("ms", "1000")) / 1000)
            self.send(200, "OK", b"slow answer")
        elif url.path == "/whoami":
            self.send(200, "OK", (self.client_common_name() or "none").encode())
        elif url.path == "/admin":
            if not self.basic():
                self.unauthorized("wrong user name or password", scheme="Basic")
                return
            self.send(200, "OK", b"hello admin")
        elif url.path == "/user/logout" and method == "POST":
            self.body()
            self.server.revoked.add(token)
            self.send(200, "OK")
        elif url.path == "/stats":
            with self.server.lock:
                stats = {"connections": self.server.connections, "unauthorized": self.server.unauthorized,
                         "requests": dict(self.server.requests)}
            self.send(200, "OK", json.dumps(stats).encode(), ["Content-Type: application/json"])
        else:
            self.send(404, "Not Found", f"no {method} {url.path}".encode())


    # ---- provisioning ----------------------------------------------------------------------

    def provisioning(self, method, url, query):
        """The /tenant/ paths: Basic authentication, JSON in and out, the platform's error shape."""
        data, _ = self.body()  # read whatever comes, so that the connection stays usable
        if not self.basic(tenant_prefix=True):
            self.unauthorized("wrong user name or password", scheme="Basic")
            return
        try:
            status, payload = self.provision(method, [urllib.parse.unquote(part) for part in url.path.split("/")[1:]],
                                             query, data)
        except Problem as problem:
            status, payload = problem.status, problem.payload
        except Exception as failure:  # a bug here must not look like a dead server
            self.server.note(f"provisioning failed: {failure!r}")
            status, payload = 500, {"error": "general/Internal Server Error", "message": repr(failure),
                                    "info": ERROR_INFO}
        reason = http.HTTPStatus(status).phrase
        if status == 204:
            lines = ["HTTP/1.1 204 No Content"] + (["Connection: close"] if self.close_connection else [])
            self.wfile.write(("\r\n".join(lines) + "\r\n\r\n").encode())
            self.wfile.flush()
            return
        self.send(status, reason, json.dumps(payload).encode(), ["Content-Type: application/json"])

    def client_common_name(self):
        """The CN of the client certificate the TLS handshake brought (verified), or None."""
        certificate = self.connection.getpeercert()
        names = [value for rdn in (certificate or {}).get("subject", ()) for key, value in rdn if key == "commonName"]
        return names[0] if names else None

    def est_refuse(self, status, message):
        self.send(status, http.HTTPStatus(status).phrase, json.dumps(
            {"error": "certificate-authority/" + http.HTTPStatus(status).phrase, "message": message}).encode(),
            ["Content-Type: application/json"])

    def est_issue(self, data, device):
        """Answers an EST request of `device` (authenticated) with its certificate; True when issued."""
        with self.server.lock:
            ca = self.server.tenant_ca
        if ca is None:
            self.est_refuse(400, "Tenant CA certificate is either missing, expired, or has a validity of less than "
                                 "one year")
            return False
        try:
            csr = base64.b64decode(b"".join(data.split()), validate=True)
        except (binascii.Error, ValueError):
            self.est_refuse(400, "The request body is not base64")
            return False
        answer = issue_certificate(ca, csr, device, self.server.args.certificate_days, self.server.args.est_answer)
        if isinstance(answer, str):
            self.est_refuse(400, answer)
            return False
        headers = ["Content-Type: application/pkcs7-mime; smime-type=certs-only"]
        if self.server.args.est_answer != "pem":
            headers.append("Content-Transfer-Encoding: base64")
        self.send(200, "OK", answer, headers)
        return True

    def simple_reenroll(self):
        """EST simplereenroll: the device's token instead of a one-time password."""
        data, _ = self.body()
        checked = self.bearer()
        if checked is not None:
            self.est_issue(data, checked[0].get("sub", ""))

    def simple_enroll(self):
        """EST simpleenroll: the plain-text answers of the platform's EST endpoint."""
        data, _ = self.body()
        refuse = self.est_refuse
        authorization = self.headers.get("Authorization", "")
        try:
            user, _, password = base64.b64decode(authorization[len("Basic "):], validate=True).decode().partition(":")
        except (binascii.Error, ValueError, UnicodeDecodeError):
            user = password = None
        if not authorization.startswith("Basic ") or user is None:
            self.unauthorized("no Basic credentials", scheme="Basic")
            return
        device = user.split("/", 1)[1] if user.startswith(self.server.args.tenant + "/") else user
        with self.server.lock:
            request = self.server.device_requests.get(device)
        if request is None:
            refuse(404, "No newDeviceRequest found for this ID")
            return
        if not request["otp"] or not hmac.compare_digest(request["otp"].encode(), password.encode()):
            self.unauthorized("Invalid one-time password", scheme="Basic")
            return
        if self.est_issue(data, device):
            with self.server.lock:
                self.server.device_requests.pop(device, None)  # the one-time password is spent

    def base_url(self):
        return "https://" + (self.headers.get("Host") or f"127.0.0.1:{self.server.server_address[1]}")

    def certificate_json(self, fingerprint, record):
        """What the platform answers for a stored certificate (call with the server's lock held)."""
        answer = dict(record["fields"])
        if record["code"] is not None:
            answer["proofOfPossessionUnsignedVerificationCode"] = record["code"]
            answer["proofOfPossessionVerificationCodeUsableUntil"] = iso_time(record["until"])
        answer["self"] = (f"{self.base_url()}/tenant/tenants/{urllib.parse.quote(self.server.args.tenant, safe='')}"
                          f"/trusted-certificates/{urllib.parse.quote(fingerprint, safe='')}")
        return answer

    def option_json(self, category, key, value):
        return {"category": category, "key": key, "value": value,
                "self": f"{self.base_url()}/tenant/options/{urllib.parse.quote(category, safe='')}/"
                        f"{urllib.parse.quote(key, safe='')}"}

    def provision(self, method, parts, query, data):
        """(status, JSON) for /<parts>, or raises Problem."""
        tenant = self.server.args.tenant

        def allow(*methods):
            if method not in methods:
                raise Problem(405, "general/Method Not Allowed", f"{method} is not supported here")

        if parts == ["features", CA_FEATURE]:
            allow("GET")
            return 200, self.feature_json()
        if parts == ["features", CA_FEATURE, "by-tenant"]:
            allow("PUT")
            body = json_object(data, "feature")
            active = body.get("active")
            if not isinstance(active, bool):
                raise unprocessable("Field 'active' must be true or false", "feature")
            with self.server.lock:
                self.server.ca_feature = active
            return 200, self.feature_json()
        if parts == ["certificate-authority"]:
            allow("POST")
            return self.create_tenant_ca()
        if parts == ["devicecontrol", "bulkNewDeviceRequests"]:
            allow("POST")
            return self.bulk_registration(data)
        if parts[:1] != ["tenant"]:
            raise Problem(404, "general/Not Found", f"no {method} /{'/'.join(parts)}")
        parts = parts[1:]

        if parts == ["currentTenant"]:
            allow("GET")
            domain = urllib.parse.urlsplit(self.base_url()).hostname or "localhost"
            return 200, {"name": tenant, "domainName": domain, "allowCreateTenants": False, "customProperties": {},
                         "self": f"{self.base_url()}/tenant/currentTenant"}
        if parts == ["options"]:
            allow("POST")
            return self.create_option(data)
        if len(parts) == 3 and parts[0] == "options":
            allow("GET")
            with self.server.lock:
                value = self.server.options.get((parts[1], parts[2]))
            if value is None:
                raise Problem(404, "options/Not Found", f"Unable to find option by given key: {parts[1]}/{parts[2]}")
            return 200, self.option_json(parts[1], parts[2], value)
        if len(parts) >= 3 and parts[0] == "tenants":
            if parts[1] != tenant:
                raise Problem(404, "tenant/Not Found", f"Tenant {parts[1]} not found")
            rest = parts[2:]
            if rest == ["trusted-certificates"]:
                allow("GET", "POST")
                return self.list_certificates(query) if method == "GET" else self.upload_certificate(data)
            if len(rest) == 2 and rest[0] == "trusted-certificates":
                allow("GET", "PUT", "DELETE")
                return {"GET": self.get_certificate, "PUT": self.update_certificate,
                        "DELETE": self.delete_certificate}[method](rest[1], data)
            if len(rest) == 3 and rest[0] == "trusted-certificates-pop" and rest[2] in ("verification-code", "pop"):
                allow("POST")
                if rest[2] == "verification-code":
                    return self.new_verification_code(rest[1])
                return self.proof_of_possession(rest[1], data)
        raise Problem(404, "general/Not Found", f"no {method} /tenant/{'/'.join(parts)}")

    def feature_json(self):
        with self.server.lock:
            active = self.server.ca_feature
        return {"key": CA_FEATURE, "phase": "PUBLIC_PREVIEW", "active": active, "strategy": "TENANT"}

    def create_tenant_ca(self):
        tenant = self.server.args.tenant
        with self.server.lock:
            if not self.server.ca_feature:
                raise Problem(403, "certificate-authority/Forbidden",
                              f"The feature {CA_FEATURE} is not active for tenant {tenant}")
            if self.server.tenant_ca is not None:
                raise Problem(409, "certificate-authority/Conflict",
                              f"Tenant {tenant} has a certificate authority already")
        with tempfile.TemporaryDirectory() as scratch:
            key, der = os.path.join(scratch, "ca.key"), os.path.join(scratch, "ca.der")
            made = subprocess.run(
                ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                 "-keyout", key, "-subj", f"/O=Cumulocity/CN={tenant}", "-days", str(CA_DAYS), "-sha256",
                 "-addext", "basicConstraints=critical,CA:TRUE",
                 "-addext", "keyUsage=critical,keyCertSign,cRLSign,digitalSignature",
                 "-outform", "DER", "-out", der], capture_output=True, timeout=30)
            if made.returncode != 0:
                raise Problem(500, "certificate-authority/Internal Server Error", "Failed to create tenant keypair")
            with open(key, "rb") as k, open(der, "rb") as d:
                key_pem, der_bytes = k.read(), d.read()
        fields = inspect_certificate(der_bytes)
        fingerprint = hashlib.sha1(der_bytes).hexdigest()
        record = {"fields": {"fingerprint": fingerprint, "name": f"{tenant} certificate authority",
                             "status": "ENABLED", "autoRegistrationEnabled": False,
                             "certInPemFormat": base64.b64encode(der_bytes).decode(), **fields,
                             "proofOfPossessionValid": True, "tenantCertificateAuthority": True},
                  "der": der_bytes, "code": None, "until": None}
        with self.server.lock:
            if self.server.tenant_ca is not None:
                raise Problem(409, "certificate-authority/Conflict",
                              f"Tenant {tenant} has a certificate authority already")
            self.server.tenant_ca = {"fingerprint": fingerprint, "key": key_pem, "der": der_bytes}
            if self.server.context.verify_mode != ssl.CERT_NONE:
                # Devices it certifies authenticate with their certificate from now on.
                self.server.context.load_verify_locations(cadata=der_bytes)
            self.server.certificates[fingerprint] = record
            return 201, self.certificate_json(fingerprint, record)

    def bulk_registration(self, data):
        """The CSV of the multipart field "file", row by row as the platform takes it."""
        text = multipart_field(self.headers.get("Content-Type", ""), data, "file")
        if text is None:
            raise unprocessable("The request holds no file: send the CSV as the multipart field 'file'",
                                "devicecontrol")
        lines = text.decode("utf-8", errors="replace").splitlines()
        if not lines:
            raise unprocessable("The file is empty", "devicecontrol")
        separator = next((c for c in (";", "\t", ",") if c in lines[0]), ",")
        rows = list(csv.reader(lines, delimiter=separator))
        header = [name.strip().upper() for name in rows[0]]
        if "ID" not in header:
            raise unprocessable("The file has no ID column", "devicecontrol")
        created, updated, failed = 0, [], []
        for number, row in enumerate(rows[1:], start=2):
            if not any(cell.strip() for cell in row):
                continue
            fields = dict(zip(header, row))
            device = fields.get("ID", "").strip()
            otp = fields.get("ENROLLMENT_OTP", "")
            reason = None
            if len(row) != len(header):
                reason = f"Line {number} has {len(row)} fields, the header {len(header)}"
            elif not device:
                reason = "The device ID is missing"
            elif ":" in device:
                reason = f"The device ID {device} contains ':'"
            elif otp and fields.get("AUTH_TYPE", "").strip() != "CERTIFICATES":
                reason = "ENROLLMENT_OTP needs AUTH_TYPE CERTIFICATES"
            elif len(otp) > MAX_ONE_TIME_PASSWORD:
                reason = f"ENROLLMENT_OTP is longer than {MAX_ONE_TIME_PASSWORD} characters"
            if reason is not None:
                failed.append({"bulkNewDeviceStatus": "FAILED", "deviceId": device, "failureReason": reason,
                               "line": lines[number - 1] if number - 1 < len(lines) else ""})
                continue
            with self.server.lock:
                known = device in self.server.device_requests
                self.server.device_requests[device] = {"otp": otp, "type": fields.get("TYPE", ""),
                                                       "name": fields.get("NAME", "")}
            if known:
                updated.append({"bulkNewDeviceStatus": "CREDENTIAL_UPDATED", "deviceId": device})
            else:
                created += 1
        total = created + len(updated) + len(failed)
        return 201, {"numberOfAll": total, "numberOfCreated": created, "numberOfFailed": len(failed),
                     "numberOfSuccessful": created + len(updated), "credentialUpdatedList": updated,
                     "failedCreationList": failed}

    def missing_certificate(self, fingerprint):
        return Problem(404, "tenant/Not Found", f"Certificate with fingerprint {fingerprint} not found")

    def upload_certificate(self, data):
        body = json_object(data)
        status = status_field(body)
        name = string_field(body, "name")
        auto_registration = flag_field(body, "autoRegistrationEnabled")
        der = certificate_der(string_field(body, "certInPemFormat"))
        fields = inspect_certificate(der)  # outside the lock: it runs openssl
        fingerprint = hashlib.sha1(der).hexdigest()
        record = {"fields": {"fingerprint": fingerprint, "name": name, "status": status,
                             "autoRegistrationEnabled": auto_registration,
                             "certInPemFormat": base64.b64encode(der).decode(), **fields,
                             "proofOfPossessionValid": False},
                  "der": der, "code": None, "until": None}
        with self.server.lock:
            if fingerprint in self.server.certificates:
                raise Problem(409, "tenant/Conflict", f"Certificate with fingerprint {fingerprint} already exists")
            self.server.certificates[fingerprint] = record
            return 201, self.certificate_json(fingerprint, record)

    def list_certificates(self, query):
        page_size = min(positive_int(query, "pageSize", DEFAULT_PAGE_SIZE), MAX_PAGE_SIZE)
        current_page = positive_int(query, "currentPage", 1)
        with self.server.lock:
            everything = list(self.server.certificates.items())
            start = (current_page - 1) * page_size
            page = [self.certificate_json(fingerprint, record)
                    for fingerprint, record in everything[start:start + page_size]]
        collection = f"{self.base_url()}/tenant/tenants/{urllib.parse.quote(self.server.args.tenant, safe='')}" \
                     f"/trusted-certificates"
        answer = {"certificates": page, "statistics": {"pageSize": page_size, "currentPage": current_page},
                  "self": f"{collection}?pageSize={page_size}&currentPage={current_page}"}
        if query.get("withTotalPages") == "true":
            answer["statistics"]["totalPages"] = -(-len(everything) // page_size)
        if len(page) == page_size:  # as the platform does: a full page links to the next one
            answer["next"] = f"{collection}?pageSize={page_size}&currentPage={current_page + 1}"
        if current_page > 1:
            answer["prev"] = f"{collection}?pageSize={page_size}&currentPage={current_page - 1}"
        return 200, answer

    def get_certificate(self, fingerprint, data):
        with self.server.lock:
            record = self.server.certificates.get(fingerprint)
            if record is None:
                raise self.missing_certificate(fingerprint)
            return 200, self.certificate_json(fingerprint, record)

    def update_certificate(self, fingerprint, data):
        body = json_object(data)
        changes = {}
        if "name" in body:
            changes["name"] = string_field(body, "name")
        if "status" in body:
            changes["status"] = status_field(body)
        if "autoRegistrationEnabled" in body:
            changes["autoRegistrationEnabled"] = flag_field(body, "autoRegistrationEnabled")
        with self.server.lock:
            record = self.server.certificates.get(fingerprint)
            if record is None:
                raise self.missing_certificate(fingerprint)
            record["fields"].update(changes)
            return 200, self.certificate_json(fingerprint, record)

    def delete_certificate(self, fingerprint, data):
        with self.server.lock:
            if self.server.certificates.pop(fingerprint, None) is None:
                raise self.missing_certificate(fingerprint)
        return 204, None

    def new_verification_code(self, fingerprint):
        with self.server.lock:
            record = self.server.certificates.get(fingerprint)
            if record is None:
                raise self.missing_certificate(fingerprint)
            record["code"] = secrets.token_hex(32)
            record["until"] = datetime.datetime.now(datetime.timezone.utc) + \
                datetime.timedelta(minutes=VERIFICATION_CODE_MINUTES)
            return 200, self.certificate_json(fingerprint, record)

    def proof_of_possession(self, fingerprint, data):
        with self.server.lock:
            record = self.server.certificates.get(fingerprint)
            if record is None:
                raise self.missing_certificate(fingerprint)
            code, until, der = record["code"], record["until"], record["der"]
        body = json_object(data)
        signed = string_field(body, "proofOfPossessionSignedVerificationCode")
        if code is None:
            raise unprocessable("No verification code was generated for this certificate")
        if datetime.datetime.now(datetime.timezone.utc) > until:
            raise unprocessable("The verification code has expired: generate a new one")
        try:
            signature = base64.b64decode(signed.strip(), validate=True)
        except (binascii.Error, ValueError):
            raise Problem(400, "tenant/Bad Request", "The signed verification code is not base64") from None
        if not verify_possession(der, code, signature):  # outside the lock: it runs openssl
            raise Problem(400, "tenant/Bad Request", "Proof of possession verification failed")
        with self.server.lock:
            record = self.server.certificates.get(fingerprint)
            if record is None:
                raise self.missing_certificate(fingerprint)
            if record["code"] != code:
                raise Problem(400, "tenant/Bad Request", "Proof of possession verification failed")
            record["code"] = record["until"] = None
            record["fields"]["proofOfPossessionValid"] = True
            return 200, self.certificate_json(fingerprint, record)

    def create_option(self, data):
        body = json_object(data, "options")
        category = string_field(body, "category", "options")
        key = string_field(body, "key", "options")
        value = string_field(body, "value", "options")
        if not category or not key:
            raise unprocessable("Fields 'category' and 'key' must not be empty", "options")
        if (category, key) == DEVICE_TOKEN_OPTION and not re.fullmatch(r"[0-9]+", value):
            raise unprocessable(f"The value of {category}/{key} must be a number of seconds in decimal", "options")
        with self.server.lock:
            self.server.options[(category, key)] = value
        return 201, self.option_json(category, key, value)


def issue_certificate(ca, csr_der, device, days, form):
    """The device certificate for a PKCS#10 request, signed by the tenant CA with openssl, as the
    EST answer's body (base64 PKCS#7 certs-only, or PEM); a str saying why the request is refused."""
    with tempfile.TemporaryDirectory() as scratch:
        paths = {name: os.path.join(scratch, name) for name in ("csr.der", "ca.der", "ca.key", "ext.cnf", "cert.pem")}
        for name, content in (("csr.der", csr_der), ("ca.der", ca["der"]), ("ca.key", ca["key"]),
                              ("ext.cnf", b"basicConstraints=critical,CA:FALSE\n"
                                          b"keyUsage=critical,digitalSignature,keyEncipherment\n"
                                          b"extendedKeyUsage=clientAuth\n"
                                          b"subjectKeyIdentifier=hash\nauthorityKeyIdentifier=keyid\n")):
            with open(paths[name], "wb") as out:
                out.write(content)
        subject = subprocess.run(["openssl", "req", "-inform", "DER", "-in", paths["csr.der"], "-verify", "-noout",
                                  "-subject", "-nameopt", "RFC2253"], capture_output=True, timeout=30)
        if subject.returncode != 0 or b"verify OK" not in subject.stdout + subject.stderr:
            return "The request is not a PKCS#10 certificate signing request with a valid signature"
        if subject.stdout.decode(errors="replace").strip().splitlines()[-1] != f"subject=CN={device}":
            return f"The request's subject must be CN={device}"
        signed = subprocess.run(["openssl", "x509", "-req", "-inform", "DER", "-in", paths["csr.der"],
                                 "-CAform", "DER", "-CA", paths["ca.der"], "-CAkey", paths["ca.key"],
                                 "-set_serial", str(secrets.randbits(63)), "-days", str(days), "-sha256",
                                 "-extfile", paths["ext.cnf"], "-out", paths["cert.pem"]],
                                capture_output=True, timeout=30)
        if signed.returncode != 0:
            return "Failed to sign the request"
        if form == "pem":
            with open(paths["cert.pem"], "rb") as pem:
                return pem.read()
        pkcs7 = subprocess.run(["openssl", "crl2pkcs7", "-nocrl", "-certfile", paths["cert.pem"], "-outform", "DER"],
                               capture_output=True, timeout=30)
        return base64.encodebytes(pkcs7.stdout) if pkcs7.returncode == 0 else "Failed to sign the request"


def multipart_field(content_type, data, name):
    """The content of the form field `name` of a multipart/form-data body, or None."""
    match = re.search(r'boundary="?([^";]+)"?', content_type)
    if not content_type.lower().startswith("multipart/form-data") or not match:
        return None
    delimiter = b"--" + match.group(1).encode()
    for part in data.split(delimiter)[1:]:
        if part.startswith(b"--"):
            break
        head, _, content = part.partition(b"\r\n\r\n")
        disposition = re.search(rb'content-disposition:\s*form-data;\s*name="([^"]*)"', head, re.I)
        if disposition and disposition.group(1).decode() == name:
            return content[:-2] if content.endswith(b"\r\n") else content
    return None


def watch_parent():
    """Ends the server when the test program that started it is gone, however it ended."""
    parent = os.getppid()
    while os.getppid() == parent:
        time.sleep(0.5)
    os._exit(0)


class Startup(Exception):
    """The server cannot start; the message says why."""


def from_environment(variable, flag):
    """The value of the environment variable a --*-env flag names; Startup when unset or empty."""
    value = os.environ.get(variable)
    if not value:
        raise Startup(f"{flag} {variable}: the variable is not set or empty")
    return value


def command_serve(args):
    if args.secret_env:
        args.secret = from_environment(args.secret_env, "--secret-env")
    if args.basic_password_env:
        args.basic_password = from_environment(args.basic_password_env, "--basic-password-env")
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    try:
        context.load_cert_chain(args.cert, args.key)
    except (OSError, ssl.SSLError) as failure:
        raise Startup(f"--cert {args.cert} --key {args.key}: {failure}") from None
    if args.client_ca:
        # Asked, not required: the platform's REST endpoints take a token, not a certificate.
        context.verify_mode = ssl.CERT_OPTIONAL
        try:
            context.load_verify_locations(args.client_ca)
        except (OSError, ssl.SSLError) as failure:
            raise Startup(f"--client-ca {args.client_ca}: {failure}") from None
    try:
        server = Server(args, context)
    except OSError as failure:
        if failure.errno is None:
            raise
        raise Startup(f"cannot listen on 127.0.0.1:{args.port}: {failure.strerror}") from None
    if not args.outlive_parent:
        threading.Thread(target=watch_parent, daemon=True).start()
    print(f"{server.server_address[1]} {os.getpid()}", flush=True)
    server.serve_forever()


def main(argv):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    serve = commands.add_parser("serve", help="serve until killed")
    serve.add_argument("--cert", required=True, help="server certificate (PEM)")
    serve.add_argument("--key", required=True, help="its private key (PEM, unencrypted)")
    serve.add_argument("--client-ca", help="CA(s) whose client certificates are asked for (optional)")
    secret = serve.add_mutually_exclusive_group(required=True)
    secret.add_argument("--secret", help="the plugin's HMAC key for the tokens")
    secret.add_argument("--secret-env", metavar="VAR", help="the environment variable that holds it")
    serve.add_argument("--port", type=int, default=0, help="port on 127.0.0.1 (default 0: a free one)")
    serve.add_argument("--basic-user", default="admin", help="the administrator's user name (default admin)")
    password = serve.add_mutually_exclusive_group()
    password.add_argument("--basic-password", default="admin-password",
                          help="the administrator's password (default admin-password)")
    password.add_argument("--basic-password-env", metavar="VAR", help="the environment variable that holds it")
    serve.add_argument("--tenant", default="t0", help="the tenant id of the provisioning paths (default t0)")
    serve.add_argument("--tenant-ca", metavar="DIR",
                       help="the tenant's CA from the start (DIR/caCert.pem, DIR/caKey.pem unencrypted): the "
                            "feature on and the CA present, as if POST /certificate-authority had run")
    serve.add_argument("--clock-offset-file", metavar="PATH",
                       help="test hook: the whole seconds written in PATH (when it exists) are added to the clock "
                            "of the tokens made and checked, as the plugin does")
    serve.add_argument("--log", help="append a line per request and connection event to this file")
    serve.add_argument("--certificate-days", type=int, default=365, help="validity of enrolled certificates")
    serve.add_argument("--token-lifespan", type=int, default=3600,
                       help="seconds a token of /devicecontrol/deviceAccessToken is valid (default 3600)")
    serve.add_argument("--est-answer", choices=("pkcs7", "pem"), default="pkcs7",
                       help="the EST answer's form (default pkcs7: base64 certs-only)")
    serve.add_argument("--outlive-parent", action="store_true",
                       help="keep serving when the program that started it exits (local_platform.py start; "
                            "stop ends it)")
    minting = commands.add_parser("mint", help="print a token signed with the secret")
    minting.add_argument("--secret", required=True)
    minting.add_argument("--sub", required=True)
    minting.add_argument("--iat", type=int, required=True)
    minting.add_argument("--exp", type=int, required=True)
    args = parser.parse_args(argv)
    if args.command == "mint":
        print(mint(args.secret, args.sub, args.iat, args.exp))
        return 0
    if args.certificate_days < 1:
        parser.error(f"--certificate-days {args.certificate_days}: at least 1")
    try:
        command_serve(args)
    except Startup as failure:
        print(f"platform_https serve: {failure}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
