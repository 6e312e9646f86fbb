#!/usr/bin/python3
"""Known loopback traffic for scripts/quickstart (Python 3 standard library only).

One process, three threads, 127.0.0.1 only:
  * TCP: the client writes 16 chunks of 64 KiB, paced over about 7 seconds; the
    server answers each chunk with 64 KiB of its own: 1 MiB each way.
  * UDP: 4 datagrams of 512 bytes to an echo server: 2 KiB each way.

It prints what it sent and received (the application's own count, to compare
with netacct's payload columns), then "exchange done", and keeps its sockets
open for up to --linger seconds (so that netacct shows them as live rows; a
closed socket folds into a kind=closed row) or until SIGTERM/SIGINT, then
closes everything and exits 0.
Every blocking call has a timeout: it cannot hang.
"""

import argparse
import signal
import socket
import sys
import threading
import time

CHUNK = 64 * 1024
CHUNKS = 16
DATAGRAMS = 4
DGRAM_SIZE = 512
IO_TIMEOUT = 10.0


def log(msg):
    print("demo-workload: " + msg, flush=True)


def recv_exact(sock, n):
    buf = bytearray()
    while len(buf) < n:
        part = sock.recv(n - len(buf))
        if not part:
            raise ConnectionError("peer closed after %d of %d bytes" % (len(buf), n))
        buf += part
    return bytes(buf)


class TcpServer(threading.Thread):
    """Accepts one connection and answers every CHUNK it reads with a CHUNK."""

    def __init__(self):
        super().__init__(daemon=True)
        self.lsock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.lsock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.lsock.bind(("127.0.0.1", 0))
        self.lsock.listen(1)
        self.lsock.settimeout(IO_TIMEOUT)
        self.conn = None
        self.sent = self.received = 0
        self.error = None

    def run(self):
        try:
            self.conn, _ = self.lsock.accept()
            self.conn.settimeout(IO_TIMEOUT)
            reply = b"s" * CHUNK
            for _ in range(CHUNKS):
                self.received += len(recv_exact(self.conn, CHUNK))
                self.conn.sendall(reply)
                self.sent += CHUNK
        except Exception as e:  # reported by the main thread
            self.error = e


class UdpEcho(threading.Thread):
    def __init__(self):
        super().__init__(daemon=True)
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.settimeout(IO_TIMEOUT)
        self.error = None

    def run(self):
        try:
            for _ in range(DATAGRAMS):
                data, peer = self.sock.recvfrom(65536)
                self.sock.sendto(data, peer)
        except Exception as e:
            self.error = e


def close_all(*socks):
    for s in socks:
        if s:
            s.close()


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=7.0,
                    help="spread the TCP exchange over this long (default 7)")
    ap.add_argument("--linger", type=float, default=0.0,
                    help="keep the sockets open this long after the exchange (default 0)")
    args = ap.parse_args()

    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())

    server, echo = TcpServer(), UdpEcho()
    server.start()
    echo.start()

    client = socket.create_connection(server.lsock.getsockname(), timeout=IO_TIMEOUT)
    udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    udp.bind(("127.0.0.1", 0))
    udp.settimeout(IO_TIMEOUT)
    cl, sv = client.getsockname(), server.lsock.getsockname()
    log("tcp %s:%d -> %s:%d, udp %s:%d -> %s:%d; running for about %.0f s"
        % (cl + sv + udp.getsockname() + echo.sock.getsockname() + (args.seconds,)))

    sent = received = 0
    chunk = b"c" * CHUNK
    pace = args.seconds / CHUNKS
    start = time.monotonic()
    for i in range(CHUNKS):
        client.sendall(chunk)
        sent += CHUNK
        received += len(recv_exact(client, CHUNK))
        if i == CHUNKS // 2:
            for _ in range(DATAGRAMS):
                udp.sendto(b"u" * DGRAM_SIZE, echo.sock.getsockname())
                if len(udp.recv(65536)) != DGRAM_SIZE:
                    raise RuntimeError("short UDP echo")
        # Pace against the clock, not per chunk, so slow chunks do not add up.
        delay = start + (i + 1) * pace - time.monotonic()
        if delay > 0 and stop.wait(delay):
            log("stopped after %d of %d chunks" % (i + 1, CHUNKS))
            close_all(client, udp, server.conn, server.lsock, echo.sock)
            return 1
    server.join(IO_TIMEOUT)
    echo.join(IO_TIMEOUT)
    for t in (server, echo):
        if t.error:
            raise RuntimeError("%s: %s" % (type(t).__name__, t.error))

    log("tcp client sent %d B, received %d B (payload; the server the reverse)"
        % (sent, received))
    log("udp client sent %d datagrams x %d B, received as many back"
        % (DATAGRAMS, DGRAM_SIZE))
    log("exchange done")
    stop.wait(args.linger)
    close_all(client, udp, server.conn, server.lsock, echo.sock)
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except Exception as e:
        print("demo-workload: %s" % e, file=sys.stderr)
        sys.exit(1)
