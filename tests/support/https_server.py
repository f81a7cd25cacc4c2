#!/usr/bin/env python3
"""An HTTPS server that plays the platform's REST API for the SDK's HTTPS client tests.

  serve  listens on 127.0.0.1 with the local platform's server certificate, prints
         "PORT PID" on its first line, and serves until killed or until its parent exits
  mint   prints an HS256 JWT signed the way the local platform's plugin signs device tokens

The server checks Bearer tokens as the platform would: HS256 over "header.claims" with the
plugin's secret (plugin_opt_secret, passed as --secret to scripts/local_platform.py start),
"exp" in the future, not logged out. It answers 401 otherwise, with the reason in the body.

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

Standard library only.
"""

import argparse
import base64
import hashlib
import hmac
import http.server
import json
import os
import socketserver
import ssl
import sys
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
        self.log = open(args.log, "a", buffering=1) if args.log else None

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
        if claims.get("exp", 0) <= time.time():
            self.unauthorized("the token expired")
            return None
        if token in self.server.revoked:
            self.unauthorized("the token was logged out")
            return None
        return claims, token

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

    def route(self, method):
        url = urllib.parse.urlsplit(self.path)
        query = dict(urllib.parse.parse_qsl(url.query))
        self.server.note(f"{self.client_address[1]} {method} {self.path}")
        with self.server.lock:
            self.server.requests[url.path] = self.server.requests.get(url.path, 0) + 1
        if getattr(self, "drop_next", False):
            # What a server that closes an idle connection just as a request arrives does.
            if method in ("POST", "PUT"):
                self.body()
            self.close_connection = True
            return
        open_paths = {"/malformed", "/http10", "/slow", "/whoami", "/admin", "/stats"}
        claims = None
        if url.path not in open_paths:
            checked = self.bearer()
            if checked is None:
                if method in ("POST", "PUT"):
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
            certificate = self.connection.getpeercert()
            names = [value for rdn in (certificate or {}).get("subject", ()) for key, value in rdn if key == "commonName"]
            self.send(200, "OK", (names[0] if names else "none").encode())
        elif url.path == "/admin":
            expected = base64.b64encode(f"{self.server.args.basic_user}:{self.server.args.basic_password}".encode())
            given = self.headers.get("Authorization", "").encode()
            if not hmac.compare_digest(given, b"Basic " + expected):
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


def watch_parent():
    """Ends the server when the test program that started it is gone, however it ended."""
    parent = os.getppid()
    while os.getppid() == parent:
        time.sleep(0.5)
    os._exit(0)


def command_serve(args):
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.load_cert_chain(args.cert, args.key)
    if args.client_ca:
        # Asked, not required: the platform's REST endpoints take a token, not a certificate.
        context.verify_mode = ssl.CERT_OPTIONAL
        context.load_verify_locations(args.client_ca)
    server = Server(args, context)
    threading.Thread(target=watch_parent, daemon=True).start()
    print(f"{server.server_address[1]} {os.getpid()}", flush=True)
    server.serve_forever()


def main(argv):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    serve = commands.add_parser("serve", help="serve until killed")
    serve.add_argument("--cert", required=True, help="server certificate (PEM)")
    serve.add_argument("--key", required=True, help="its private key (PEM, unencrypted)")
    serve.add_argument("--client-ca", help="CA whose client certificates are asked for (optional)")
    serve.add_argument("--secret", required=True, help="the plugin's HMAC key for the tokens")
    serve.add_argument("--port", type=int, default=0, help="port on 127.0.0.1 (default 0: a free one)")
    serve.add_argument("--basic-user", default="admin")
    serve.add_argument("--basic-password", default="admin-password")
    serve.add_argument("--log", help="append a line per request and connection event to this file")
    minting = commands.add_parser("mint", help="print a token signed with the secret")
    minting.add_argument("--secret", required=True)
    minting.add_argument("--sub", required=True)
    minting.add_argument("--iat", type=int, required=True)
    minting.add_argument("--exp", type=int, required=True)
    args = parser.parse_args(argv)
    if args.command == "mint":
        print(mint(args.secret, args.sub, args.iat, args.exp))
    else:
        command_serve(args)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
