#!/usr/bin/env python3
"""A TCP proxy between a client and a broker that makes the network misbehave, for the delivery
tests.

  fault_proxy.py --target PORT [--mode pass|cut|fragment] [--latency-ms MS] [--seed N]

  pass       forwards as it is (the blackhole below still applies)
  cut        cuts every connection (both sides closed at once) at a random moment 0.5 to 2 s after
             it was accepted
  fragment   forwards one byte per write, both ways
  --latency-ms  holds every chunk that long, each way, before forwarding it

SIGUSR1 turns the blackhole on: the connections open then stop forwarding both ways, their
sockets kept open, until SIGUSR2 resumes them (connections accepted meanwhile pass). The first
line printed is the port it listens on (127.0.0.1); then one line per event, with the time in
seconds: "accepted N T", "cut N T", "blackhole on T", "blackhole off T". Standard library only.
"""

import argparse
import asyncio
import random
import signal
import sys
import time


class Proxy:
    def __init__(self, args):
        self.args = args
        self.rng = random.Random(args.seed)
        self.count = 0
        self.blackholed = set()  # connections held by the blackhole
        self.resume = asyncio.Event()
        self.resume.set()
        self.open = {}  # number -> (client writer, upstream writer)

    def say(self, text):
        print(f"{text} {time.monotonic():.3f}", flush=True)

    async def handle(self, reader, writer):
        self.count += 1
        number = self.count
        try:
            up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.args.target)
        except OSError:
            writer.close()
            return
        self.say(f"accepted {number}")
        self.open[number] = (writer, up_writer)
        pumps = [asyncio.ensure_future(self.pump(number, reader, up_writer)),
                 asyncio.ensure_future(self.pump(number, up_reader, writer))]
        if self.args.mode == "cut":
            pumps.append(asyncio.ensure_future(self.cut_later(number)))
        await asyncio.wait(pumps, return_when=asyncio.FIRST_COMPLETED)
        for task in pumps:
            task.cancel()
        self.close(number)

    def close(self, number):
        for w in self.open.pop(number, ()):
            w.close()

    async def cut_later(self, number):
        await asyncio.sleep(self.rng.uniform(0.5, 2.0))
        self.say(f"cut {number}")

    async def pump(self, number, reader, writer):
        delay = self.args.latency_ms / 1000.0
        pending = asyncio.Queue()

        async def deliver():
            while True:
                due, data = await pending.get()
                if data is None:
                    return
                wait = due - time.monotonic()
                if wait > 0:
                    await asyncio.sleep(wait)
                while number in self.blackholed:
                    await self.resume.wait()
                if self.args.mode == "fragment":
                    for i in range(len(data)):
                        writer.write(data[i:i + 1])
                        await writer.drain()
                else:
                    writer.write(data)
                    await writer.drain()

        sender = asyncio.ensure_future(deliver())
        try:
            while True:
                data = await reader.read(65536)
                if not data:
                    break
                await pending.put((time.monotonic() + delay, data))
            await pending.put((0, None))
            await sender
        except (ConnectionError, OSError):
            pass
        finally:
            sender.cancel()

    def blackhole(self, on):
        if on:
            self.blackholed = set(self.open)
            self.resume.clear()
        else:
            self.blackholed = set()
            self.resume.set()
        self.say("blackhole " + ("on" if on else "off"))


async def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--target", type=int, required=True)
    parser.add_argument("--mode", choices=["pass", "cut", "fragment"], default="pass")
    parser.add_argument("--latency-ms", type=float, default=0.0)
    parser.add_argument("--seed", type=int, default=None)
    args = parser.parse_args()
    proxy = Proxy(args)
    server = await asyncio.start_server(proxy.handle, "127.0.0.1", 0)
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGUSR1, proxy.blackhole, True)
    loop.add_signal_handler(signal.SIGUSR2, proxy.blackhole, False)
    loop.add_signal_handler(signal.SIGTERM, server.close)
    print(server.sockets[0].getsockname()[1], flush=True)
    async with server:
        try:
            await server.serve_forever()
        except asyncio.CancelledError:
            pass
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
