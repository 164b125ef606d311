#!/usr/bin/env python3
"""Loopback TCP proxy that emulates a node's inbound link for the demo and the e2e tests.

Listens on 127.0.0.1:PORT and forwards to TARGET. Bytes flowing towards TARGET are paced by a
token bucket whose rate (Mbps; 0 = unlimited) is re-read every 100 ms from RATE_FILE, so a test
can "cut a link's bandwidth" while traffic flows. The agent advertises the proxy's address, so
its peers' activations and the orchestrator's link probes both go through it.
usage: link_proxy.py LISTEN_PORT TARGET_HOST:PORT RATE_FILE
"""
import asyncio
import sys
import time


class Bucket:
    def __init__(self, rate_file):
        self.rate_file = rate_file
        self.mbps = 0.0
        self.tokens = 0.0
        self.last = time.monotonic()
        self.read_at = 0.0

    def rate(self):
        now = time.monotonic()
        if now - self.read_at > 0.1:
            self.read_at = now
            try:
                with open(self.rate_file) as f:
                    self.mbps = float(f.read().strip() or 0)
            except (OSError, ValueError):
                self.mbps = 0.0
        return self.mbps

    async def take(self, n):
        mbps = self.rate()
        if mbps <= 0:
            return
        bps = mbps * 1e6 / 8
        while True:
            now = time.monotonic()
            self.tokens = min(self.tokens + (now - self.last) * bps, max(bps / 50, 65536))
            self.last = now
            if self.tokens >= n:
                self.tokens -= n
                return
            await asyncio.sleep(min(0.05, (n - self.tokens) / bps))


async def pipe(reader, writer, bucket):
    try:
        while True:
            data = await reader.read(65536)
            if not data:
                break
            if bucket is not None:
                await bucket.take(len(data))
            writer.write(data)
            await writer.drain()
    except (ConnectionError, OSError):
        pass
    finally:
        try:
            writer.close()
        except Exception:
            pass


async def main():
    port, target, rate_file = int(sys.argv[1]), sys.argv[2], sys.argv[3]
    host, tport = target.rsplit(":", 1)
    bucket = Bucket(rate_file)

    async def handle(cr, cw):
        try:
            tr, tw = await asyncio.open_connection(host, int(tport))
        except OSError:
            cw.close()
            return
        import socket
        for s in (cw, tw):
            sock = s.get_extra_info("socket")
            if sock is not None:
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        # Small buffers on the throttled side keep the backlog (and so the delay) bounded, as a
        # real slow link with a short queue would.
        sock = cw.get_extra_info("socket")
        if sock is not None:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)
        await asyncio.gather(pipe(cr, tw, bucket), pipe(tr, cw, None))

    server = await asyncio.start_server(handle, "127.0.0.1", port)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    asyncio.run(main())
