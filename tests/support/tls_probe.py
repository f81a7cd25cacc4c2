#!/usr/bin/env python3
"""A TLS peer that speaks only the first flight, for the hostile-server tests.

  tls_probe.py client-hello
      reads the client's ClientHello and prints what it offers, one JSON object:
      {"versions": [...], "suites": [...], "groups": [...], "key_shares": [...],
       "signature_algorithms": [...], "server_name": "..."}, code points as numbers
  tls_probe.py server-hello --suite 0x00A6 [--version 0x0303]
      answers the ClientHello with a ServerHello that chose SUITE (and VERSION), whatever the
      client offered, as a server would that insists on it; then prints what the client sent
      back: "client sent: alert <level> <description>", "client sent: <N> other bytes" or
      "client sent: nothing"

Either way the first line printed is the port it listens on (127.0.0.1). Standard library only.
"""

import argparse
import json
import os
import socket
import struct
import sys


def read_exactly(conn, n):
    data = b""
    while len(data) < n:
        chunk = conn.recv(n - len(data))
        if not chunk:
            raise EOFError("the client closed the connection")
        data += chunk
    return data


def read_client_hello(conn):
    """The ClientHello's body, put together from its handshake records."""
    message = b""
    while len(message) < 4 or len(message) < 4 + int.from_bytes(message[1:4], "big"):
        kind, _, length = struct.unpack("!BHH", read_exactly(conn, 5))
        if kind != 22:
            raise ValueError(f"record type {kind} before the ClientHello")
        message += read_exactly(conn, length)
    if message[0] != 1:
        raise ValueError(f"handshake message {message[0]} is not a ClientHello")
    return message[4:4 + int.from_bytes(message[1:4], "big")]


def u16_list(data):
    return [int.from_bytes(data[i:i + 2], "big") for i in range(0, len(data), 2)]


def describe_client_hello(body):
    at = 2 + 32
    at += 1 + body[at]  # session id
    suites_length = int.from_bytes(body[at:at + 2], "big")
    offer = {"legacy_version": int.from_bytes(body[0:2], "big"),
             "suites": u16_list(body[at + 2:at + 2 + suites_length]),
             "versions": [], "groups": [], "key_shares": [], "signature_algorithms": [], "server_name": None}
    at += 2 + suites_length
    at += 1 + body[at]  # compression methods
    end = at + 2 + int.from_bytes(body[at:at + 2], "big")
    at += 2
    while at + 4 <= end:
        kind, length = struct.unpack("!HH", body[at:at + 4])
        value = body[at + 4:at + 4 + length]
        if kind == 0:  # server_name: list length, type, name length, name
            offer["server_name"] = value[5:].decode("ascii", "replace")
        elif kind == 10:  # supported_groups
            offer["groups"] = u16_list(value[2:])
        elif kind == 13:  # signature_algorithms
            offer["signature_algorithms"] = u16_list(value[2:])
        elif kind == 43:  # supported_versions
            offer["versions"] = u16_list(value[1:])
        elif kind == 51:  # key_share: list length, then group, key length, key
            i = 2
            while i + 4 <= len(value):
                group, key_length = struct.unpack("!HH", value[i:i + 4])
                offer["key_shares"].append(group)
                i += 4 + key_length
        at += 4 + length
    return offer


def server_hello(version, suite, session_id):
    body = struct.pack("!H", min(version, 0x0303)) + os.urandom(32)
    body += bytes([len(session_id)]) + session_id + struct.pack("!HB", suite, 0)
    extensions = b""
    if version >= 0x0304:
        extensions += struct.pack("!HHH", 43, 2, version)
    body += struct.pack("!H", len(extensions)) + extensions
    message = bytes([2]) + len(body).to_bytes(3, "big") + body
    return struct.pack("!BHH", 22, 0x0303, len(message)) + message


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="mode", required=True)
    sub.add_parser("client-hello")
    answer = sub.add_parser("server-hello")
    answer.add_argument("--suite", required=True, type=lambda s: int(s, 0))
    answer.add_argument("--version", default=0x0303, type=lambda s: int(s, 0))
    parser.add_argument("--wait", type=float, default=5.0, help="seconds to wait for the client")
    args = parser.parse_args()

    listener = socket.create_server(("127.0.0.1", 0))
    print(listener.getsockname()[1], flush=True)
    listener.settimeout(args.wait)
    conn, _ = listener.accept()
    conn.settimeout(args.wait)
    with conn:
        body = read_client_hello(conn)
        if args.mode == "client-hello":
            print(json.dumps(describe_client_hello(body)), flush=True)
            return 0
        session_id = body[35:35 + body[34]]
        conn.sendall(server_hello(args.version, args.suite, session_id))
        try:
            head = conn.recv(5)
        except socket.timeout:
            head = b""
        if len(head) == 5 and head[0] == 21:
            alert = read_exactly(conn, struct.unpack("!H", head[3:5])[0])
            print(f"client sent: alert {alert[0]} {alert[1]}", flush=True)
        elif head:
            print(f"client sent: {len(head)} other bytes", flush=True)
        else:
            print("client sent: nothing", flush=True)
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except (EOFError, ValueError, OSError) as e:
        print(f"tls_probe: {e}", file=sys.stderr)
        sys.exit(1)
