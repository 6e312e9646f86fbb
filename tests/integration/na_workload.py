#!/usr/bin/python3
"""Traffic generator for the netacct integration tests (stdlib only).

Each process is one endpoint. It reports on stdout, one JSON object a line
({"event": ...}), and takes commands on stdin, one a line:

  hello    at start: pid and cgroup (as /proc/self/cgroup shows it)
  listening  servers: the bound port
  ready    the socket(s) are set up (tuple of the data socket)
  done     the exchange finished: application bytes/messages sent and received
  closed   after the "close" command: every socket is closed
  error    something went wrong (message); the process then exits 1

The process exits on stdin EOF (after "closed"), or on its own deadline.

Roles:
  tcp-server FAMILY MODE ARGS     listen on loopback port 0, accept one connection
  tcp-client FAMILY PORT MODE ARGS
    MODE bulk SEND CHUNK EXPECT [PACE_US]
                                   send SEND bytes in CHUNK-sized writes (sleeping
                                   PACE_US microseconds after each) while
                                   receiving EXPECT bytes (two threads)
    MODE rr COUNT [PAUSE]          COUNT request/response exchanges; sizes from
                                   req_size()/resp_size(), shared by both sides.
                                   A client given PAUSE reports "paused" before
                                   exchange PAUSE and waits for "go" on stdin.
    MODE idle                      nothing
  udp-server FAMILY COUNT          unconnected socket: COUNT datagrams in, each
                                   answered with resp_size(i) bytes (sendto)
  udp-client FAMILY PORT COUNT connected|unconnected
                                   COUNT datagrams of req_size(i), each waiting
                                   for its answer (lockstep: no queue overflow)

Test files with workers of their own (test_wire, test_loss, test_overflow,
test_prefork, test_log) import what they need of emit, fail, recv_exact,
wait_line, tuple_of, rr and run_role from here.

Addresses default to 127.0.0.1 / ::1; NA_BIND_ADDR (address to bind) and
NA_PEER_ADDR (address a client sends to) in the environment override them.
Every loop is bounded in count, every wait has a timeout.
"""

import json
import os
import signal
import socket
import sys
import threading
import time

DEADLINE = 120  # seconds; the process kills itself after this
IO_TIMEOUT = 30


def emit(**kw):
    sys.stdout.write(json.dumps(kw) + "\n")
    sys.stdout.flush()


def fail(msg):
    emit(event="error", message=msg)
    os._exit(1)


def req_size(i):
    """Request i of the rr/udp exchanges: 0..1460 bytes, includes 0."""
    return (i * 7919) % 1461


def resp_size(i):
    """Response i: 1..9000 bytes (some over a 1500-byte MTU, all under 64 KiB)."""
    return 1 + (i * 104729) % 9000


def fam(f):
    return socket.AF_INET if int(f) == 4 else socket.AF_INET6


def addr(f):
    """Local address to bind: NA_BIND_ADDR, default the loopback address."""
    return os.environ.get("NA_BIND_ADDR") or ("127.0.0.1" if int(f) == 4 else "::1")


def peer(f):
    """Address a client sends to: NA_PEER_ADDR, default the loopback address."""
    return os.environ.get("NA_PEER_ADDR") or ("127.0.0.1" if int(f) == 4 else "::1")


def tuple_of(s):
    la, lp = s.getsockname()[:2]
    try:
        ra, rp = s.getpeername()[:2]
    except OSError:
        ra, rp = "", 0
    return dict(laddr=la, lport=lp, raddr=ra, rport=rp)


def recv_exact(s, n, buf=None):
    got = 0
    view = memoryview(bytearray(min(n, 1 << 20) or 1))
    while got < n:
        k = s.recv_into(view, min(len(view), n - got))
        if k == 0:
            fail("peer closed after %d of %d bytes" % (got, n))
        got += k
    return got


def bulk(s, send, chunk, expect, pace_us=0):
    result = {}

    def sender():
        data = memoryview(bytes((i * 31) & 0xFF for i in range(chunk)))
        left = send
        while left > 0:
            n = min(chunk, left)
            s.sendall(data[:n])
            left -= n
            if pace_us:
                time.sleep(pace_us / 1e6)
        result["sent"] = send

    t = threading.Thread(target=sender, daemon=True)
    t.start()
    received = recv_exact(s, expect)
    t.join(IO_TIMEOUT * 2)
    if t.is_alive() or "sent" not in result:
        fail("sender did not finish")
    return result["sent"], received


def rr_size(i):
    """TCP's request and response i: a 0-byte write sends nothing, so 1 more."""
    return req_size(i) + 1, resp_size(i)


def rr(s, count, client, pause_after=None, sizes=rr_size):
    """count exchanges of sizes(i) bytes; before exchange pause_after, "paused"
    and a wait for "go"."""
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    sent = received = 0
    for i in range(count):
        if i == pause_after:
            emit(event="paused", sent=sent, received=received)
            wait_line("go")
        q, a = sizes(i)
        if client:
            s.sendall(b"q" * q)
            sent += q
            received += recv_exact(s, a)
        else:
            received += recv_exact(s, q)
            s.sendall(b"a" * a)
            sent += a
    return sent, received


def tcp_exchange(s, mode, args, client):
    if mode == "bulk":
        return bulk(s, *[int(a) for a in args[:4]])
    if mode == "rr":
        # client: COUNT [PAUSE_AFTER] (stops before exchange PAUSE_AFTER until "go")
        return rr(s, int(args[0]), client, int(args[1]) if len(args) > 1 else None)
    if mode == "idle":
        return 0, 0
    fail("unknown mode %r" % mode)


def wait_line(word):
    for line in sys.stdin:
        if line.strip() == word:
            return
    fail("stdin closed before %r" % word)


def run_role(role):
    """A test file's worker: role() with an OSError or ValueError reported as
    its "error"; then EOF on stdin, so the harness decides when the process ends."""
    try:
        role()
    except (OSError, ValueError) as e:
        fail("%s: %s" % (type(e).__name__, e))
    for _ in sys.stdin:
        pass
    return 0


def wait_close():
    wait_line("close")


def role_tcp_server(f, mode, *args):
    ls = socket.socket(fam(f), socket.SOCK_STREAM)
    ls.bind((addr(f), 0))
    ls.listen(8)
    ls.settimeout(IO_TIMEOUT)
    emit(event="listening", port=ls.getsockname()[1])
    s, _ = ls.accept()
    s.settimeout(IO_TIMEOUT)
    emit(event="ready", **tuple_of(s))
    sent, received = tcp_exchange(s, mode, args, client=False)
    emit(event="done", sent=sent, received=received, **tuple_of(s))
    wait_close()
    # The client closes first: read its FIN so that our close sends no RST.
    if s.recv(1) != b"":
        fail("unexpected data before the peer's FIN")
    s.close()
    ls.close()
    emit(event="closed")


def role_tcp_client(f, port, mode, *args):
    s = socket.socket(fam(f), socket.SOCK_STREAM)
    s.settimeout(IO_TIMEOUT)
    if os.environ.get("NA_BIND_ADDR"):
        s.bind((addr(f), 0))
    s.connect((peer(f), int(port)))
    emit(event="ready", **tuple_of(s))
    sent, received = tcp_exchange(s, mode, args, client=True)
    emit(event="done", sent=sent, received=received, **tuple_of(s))
    wait_close()
    s.close()
    emit(event="closed")


def role_udp_server(f, count):
    s = socket.socket(fam(f), socket.SOCK_DGRAM)
    s.bind((addr(f), 0))
    s.settimeout(IO_TIMEOUT)
    emit(event="listening", port=s.getsockname()[1])
    emit(event="ready", **tuple_of(s))
    sent = received = 0
    for i in range(int(count)):
        data, peer = s.recvfrom(65535)
        if len(data) != req_size(i):
            fail("datagram %d: %d bytes, expected %d" % (i, len(data), req_size(i)))
        received += len(data)
        sent += s.sendto(b"r" * resp_size(i), peer)
    emit(event="done", sent=sent, received=received, datagrams=int(count), **tuple_of(s))
    wait_close()
    s.close()
    emit(event="closed")


def role_udp_client(f, port, count, how):
    s = socket.socket(fam(f), socket.SOCK_DGRAM)
    s.bind((addr(f), 0))
    s.settimeout(5)
    dst = (peer(f), int(port))
    if how == "connected":
        s.connect(dst)
    elif how != "unconnected":
        fail("udp-client: connected or unconnected, not %r" % how)
    emit(event="ready", **tuple_of(s))
    sent = received = 0
    for i in range(int(count)):
        data = b"u" * req_size(i)
        sent += s.send(data) if how == "connected" else s.sendto(data, dst)
        try:
            r = s.recv(65535)
        except socket.timeout:
            fail("no answer to datagram %d" % i)
        if len(r) != resp_size(i):
            fail("answer %d: %d bytes, expected %d" % (i, len(r), resp_size(i)))
        received += len(r)
    emit(event="done", sent=sent, received=received, datagrams=int(count), **tuple_of(s))
    wait_close()
    s.close()
    emit(event="closed")


ROLES = {
    "tcp-server": role_tcp_server,
    "tcp-client": role_tcp_client,
    "udp-server": role_udp_server,
    "udp-client": role_udp_client,
}


def main():
    signal.signal(signal.SIGALRM, lambda *a: fail("deadline of %ds exceeded" % DEADLINE))
    signal.alarm(DEADLINE)
    if len(sys.argv) < 2 or sys.argv[1] not in ROLES:
        sys.stderr.write("usage: na_workload.py {%s} ARGS...\n" % "|".join(ROLES))
        return 2
    cg = None
    with open("/proc/self/cgroup") as fh:
        for line in fh:
            if line.startswith("0::"):
                cg = line[3:].rstrip("\n")
    emit(event="hello", pid=os.getpid(), cgroup=cg)
    try:
        ROLES[sys.argv[1]](*sys.argv[2:])
    except (OSError, ValueError, TypeError) as e:
        fail("%s: %s" % (type(e).__name__, e))
    # wait for EOF on stdin, so the harness decides when the process ends
    for _ in sys.stdin:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
