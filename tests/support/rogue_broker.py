#!/usr/bin/env python3
"""A rogue MQTT broker for the client's robustness tests: TLS like the local platform, then one
scripted protocol fault.

  rogue_broker.py --pki DIR --scenario NAME [--wait SECONDS]

Listens on a free port of 127.0.0.1 with the local platform's server certificate
(DIR/server/serverCert.pem), requires a client certificate signed by the platform's trusted CA
(DIR/ca/caCert.pem), and prints the port alone on the first line of stdout. It accepts one
connection, reads the client's CONNECT and plays the scenario. Then it prints one line saying
how the connection ended:
  "client closed the connection"   the client hung up after the fault (what it must do)
  "client kept the connection open" it did not within --wait seconds
  "broker closed the connection"   the scenario itself hung up
and exits 0. A client that does not send what the scenario waits for (CONNECT, a QoS 1 PUBLISH,
a SUBSCRIBE) ends it with exit status 1 and the reason on stderr. The whole run is bounded:
the broker gives up after --wait seconds at any step, and after 60 s in all.

The TLS session runs over memory buffers (ssl.MemoryBIO), so that a scenario can send part of
a record, or close without close_notify.
"""
import argparse
import pathlib
import signal
import socket
import ssl
import sys

LIMIT = 16184  # the platform's largest packet, fixed header included
NOT_IN_FLIGHT = 30583  # a packet id far above those a test client allocates


class ScenarioError(Exception):
    """The client did not do what the scenario waits for."""


# ---- MQTT 3.1.1 packets, built by hand so that they can break the rules ----

def remaining_length(n):
    out = bytearray()
    while True:
        digit, n = n % 128, n // 128
        out.append(digit | (0x80 if n else 0))
        if not n:
            return bytes(out)


def packet(first, body=b""):
    return bytes([first]) + remaining_length(len(body)) + body


def string(raw):
    return len(raw).to_bytes(2, "big") + raw


def connack(code=0, flags=0):
    return packet(0x20, bytes([flags, code]))


def publish(topic, payload=b"", first=0x30, packet_id=None):
    body = string(topic) + (packet_id.to_bytes(2, "big") if packet_id is not None else b"") + payload
    return packet(first, body)


def publish_of_size(total, topic=b"big"):
    """A QoS 0 PUBLISH of exactly `total` bytes (the fixed header's length field takes 2 bytes)."""
    payload = b"x" * (total - 3 - len(string(topic)))
    p = publish(topic, payload)
    assert len(p) == total
    return p


def id_bytes(packet_id):
    return packet_id.to_bytes(2, "big")


def ack(first, packet_id):
    return packet(first, id_bytes(packet_id))


# ---- TLS over the socket, by hand ----

class Connection:
    def __init__(self, sock, context, wait):
        self.sock = sock
        self.sock.settimeout(wait)
        self.incoming = ssl.MemoryBIO()
        self.outgoing = ssl.MemoryBIO()
        self.tls = context.wrap_bio(self.incoming, self.outgoing, server_side=True)
        self.plaintext = bytearray()

    def flush(self):
        data = self.outgoing.read()
        if data:
            self.sock.sendall(data)

    def fill(self):
        data = self.sock.recv(65536)
        if not data:
            raise ScenarioError("the client closed the connection before the scenario was played")
        self.incoming.write(data)

    def handshake(self):
        while True:
            try:
                self.tls.do_handshake()
                self.flush()
                return
            except ssl.SSLWantReadError:
                self.flush()
                self.fill()

    def encrypt(self, plaintext):
        """The TLS records carrying `plaintext`, not sent."""
        self.tls.write(plaintext)
        return self.outgoing.read()

    def send(self, plaintext):
        self.sock.sendall(self.encrypt(plaintext))

    def read_packet(self):
        """The next MQTT packet from the client: (first byte, body)."""
        while True:
            parsed = self.parse()
            if parsed:
                return parsed
            try:
                self.plaintext += self.tls.read(65536)
            except ssl.SSLWantReadError:
                self.flush()
                self.fill()

    def parse(self):
        if len(self.plaintext) < 2:
            return None
        length, shift, i = 0, 0, 1
        while True:
            if i >= len(self.plaintext):
                return None
            digit = self.plaintext[i]
            length |= (digit & 0x7F) << shift
            shift += 7
            i += 1
            if not digit & 0x80:
                break
        if len(self.plaintext) < i + length:
            return None
        first, body = self.plaintext[0], bytes(self.plaintext[i:i + length])
        del self.plaintext[:i + length]
        return first, body

    def expect(self, type_bits, name):
        first, body = self.read_packet()
        if first >> 4 != type_bits:
            raise ScenarioError(f"expected {name} from the client, got packet type {first >> 4}")
        return first, body

    def close_notify(self):
        try:
            self.tls.unwrap()
        except ssl.SSLWantReadError:
            pass  # the client's close_notify is not awaited
        self.flush()

    def close(self):
        self.sock.close()

    def wait_for_close(self):
        """Whether the client hung up within the time bound; what it sends meanwhile is ignored."""
        try:
            while self.sock.recv(65536):
                pass
        except socket.timeout:
            return False
        except OSError:
            pass  # reset: hung up too
        return True


# ---- The scenarios: each gets the connection after the client's CONNECT ----

def client_publish_id(c):
    """Reads the client's QoS 1 PUBLISH; returns its packet id."""
    first, body = c.expect(3, "PUBLISH")
    if (first >> 1) & 3 != 1:
        raise ScenarioError(f"expected a QoS 1 PUBLISH, got first byte {first:#04x}")
    topic_length = int.from_bytes(body[:2], "big")
    return int.from_bytes(body[2 + topic_length:4 + topic_length], "big")


def client_subscribe_id(c):
    _, body = c.expect(8, "SUBSCRIBE")
    return int.from_bytes(body[:2], "big")


def half_packet_then_close_notify(c):
    c.send(connack())
    whole = publish(b"s/ds", b"510,device-0001")
    c.send(whole[:len(whole) // 2])
    c.close_notify()


def half_record_then_close(c):
    c.send(connack())
    record = c.encrypt(publish(b"s/ds", b"510,device-0001"))
    c.sock.sendall(record[:len(record) // 2])


def close_notify_after_connack(c):
    c.send(connack())
    c.close_notify()


def sends(*parts):
    """A scenario that answers CONNECT with these bytes."""
    return lambda c: c.send(b"".join(parts))


def answers_publish(answer):
    """CONNACK, then answer(packet id) to the client's QoS 1 PUBLISH."""
    def play(c):
        c.send(connack())
        c.send(answer(client_publish_id(c)))
    return play


def answers_subscribe(answer):
    """CONNACK, then answer(packet id) to the client's SUBSCRIBE."""
    def play(c):
        c.send(connack())
        c.send(answer(client_subscribe_id(c)))
    return play


SCENARIOS = {
    # Answers to CONNECT that are not a CONNACK, or not a valid one.
    "http-answer": sends(b"HTTP/1.1 400 Bad Request\r\n\r\n"),
    "publish-before-connack": sends(publish(b"s/ds", b"510,device-0001")),
    "connack-return-code-6": sends(connack(code=6)),
    "connack-reserved-flags": sends(connack(flags=0x02)),
    "remaining-length-of-5-bytes": sends(b"\x20\xff\xff\xff\xff\x01\x00\x00"),
    # Sizes: the limit itself is fine, one byte over is not, and neither is the largest length
    # MQTT can express, announced without its body.
    "over-the-size-limit": sends(connack(), publish_of_size(LIMIT), publish_of_size(LIMIT + 1)),
    "largest-remaining-length": sends(connack(), b"\x30\xff\xff\xff\x7f"),
    # Out of order.
    "second-connack": sends(connack(), connack()),
    "connack-5-mid-session": sends(connack(), connack(code=5)),
    "broker-sends-subscribe": sends(connack(), packet(0x82, id_bytes(1) + string(b"s/ds") + b"\x00")),
    "puback-not-in-flight": answers_publish(lambda pid: ack(0x40, NOT_IN_FLIGHT)),
    "suback-not-in-flight": answers_subscribe(lambda pid: packet(0x90, id_bytes(NOT_IN_FLIGHT) + b"\x00")),
    "suback-for-a-publish": answers_publish(lambda pid: packet(0x90, id_bytes(pid) + b"\x01")),
    # Malformed packets after CONNACK.
    "publish-qos-3": sends(connack(), publish(b"s/ds", b"510", first=0x36, packet_id=1)),
    "publish-dup-with-qos-0": sends(connack(), publish(b"s/ds", b"510", first=0x38)),
    "publish-wildcard-topic": sends(connack(), publish(b"s/ds/+", b"510")),
    "publish-topic-not-utf8": sends(connack(), publish(b"s/\xc0\xafds", b"510")),
    "packet-type-0": sends(connack(), b"\x00\x00"),
    "packet-type-15": sends(connack(), b"\xf0\x00"),
    "puback-packet-id-0": answers_publish(lambda pid: ack(0x40, 0)),
    "puback-truncated": answers_publish(lambda pid: packet(0x40, b"\x00")),
    "puback-trailing-bytes": answers_publish(lambda pid: packet(0x40, id_bytes(pid) + b"\x00")),
    # Closing: mid-packet, mid-record, with and without close_notify.
    "half-packet": half_packet_then_close_notify,
    "half-record": half_record_then_close,
    "close-without-close-notify": sends(connack()),
    "close-notify-after-connack": close_notify_after_connack,
}

# Scenarios after which the broker hangs up itself; after the others it waits for the client to.
BROKER_CLOSES = {"half-packet", "half-record", "close-without-close-notify", "close-notify-after-connack"}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pki", required=True, type=pathlib.Path, help="the local platform's directory")
    parser.add_argument("--scenario", required=True, choices=sorted(SCENARIOS))
    parser.add_argument("--wait", type=float, default=5.0, help="bound on each wait for the client, seconds")
    args = parser.parse_args()
    signal.alarm(60)  # never outlive a test run, whatever the client does

    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.load_cert_chain(args.pki / "server" / "serverCert.pem", args.pki / "server" / "serverKey.pem")
    context.verify_mode = ssl.CERT_REQUIRED
    context.load_verify_locations(args.pki / "ca" / "caCert.pem")

    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(args.wait)
    print(listener.getsockname()[1], flush=True)
    sock, _ = listener.accept()
    listener.close()

    c = Connection(sock, context, args.wait)
    try:
        c.handshake()
        c.expect(1, "CONNECT")
        SCENARIOS[args.scenario](c)
        if args.scenario in BROKER_CLOSES:
            c.close()
            print("broker closed the connection", flush=True)
        elif c.wait_for_close():
            print("client closed the connection", flush=True)
        else:
            print("client kept the connection open", flush=True)
    except (ScenarioError, ssl.SSLError, OSError) as e:
        print(f"rogue_broker: scenario {args.scenario}: {e}", file=sys.stderr)
        return 1
    finally:
        c.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
