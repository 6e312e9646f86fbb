#!/usr/bin/python3
"""A connection belongs to the process that serves it: pre-fork servers,
handed-over sockets, forks.

All in one attached test cgroup, on loopback:

  * real nginx, a master and two workers (the workers accept): for every
    request in nginx's own access log, the connection's `log` record names
    the worker that served it (the log's $pid), never the master, and its
    bytes are the log's ($bytes_sent out, $request_length in); the closed
    rows of the server side name only the workers; the listener's live row
    names the master, which made it;
  * a Python pre-fork server (the parent listens, two forked workers
    accept and answer): every server-side record names the worker that
    says it served that connection; the listener's row the parent;
  * a hand-over: process A connects and sends, passes the socket to B over
    a unix socket (SCM_RIGHTS) and closes its copy; B sends 40 more
    messages: the record names B;
  * a fork: process P accepts, forks, and exits; its child answers 40
    messages: the server-side record names the child.

Each process reports its own pid and the ports it used, the truth the
records are held against.
"""

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import na_harness as na  # noqa: E402
from na_workload import emit, fail, recv_exact, run_role, wait_line  # noqa: E402

LO = "127.0.0.1"
NGINX_REQUESTS = 21
PREFORK_CONNS = 10
MESSAGES = 40          # sent after a hand-over or a fork: over 16 packets


# ==========================================================================
# workers: this file run as "--worker ROLE ..."
# ==========================================================================

def die_with_parent():
    """A forked worker goes when its parent does (the test ends processes it started)."""
    import ctypes
    ctypes.CDLL(None).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG


def close_after_eof(s):
    """Half-close, read to the peer's close, close."""
    s.shutdown(socket.SHUT_WR)
    while s.recv(4096):
        pass
    s.close()


def listener(backlog, timeout=None):
    """A TCP listener on loopback, any port."""
    ls = socket.socket()
    ls.bind((LO, 0))
    ls.listen(backlog)
    if timeout is not None:
        ls.settimeout(timeout)
    return ls


def serve_one(c):
    """Request/answer: 100 bytes in, 200 out, then the peer's close."""
    c.settimeout(20)
    recv_exact(c, 100)
    c.sendall(b"a" * 200)
    close_after_eof(c)


def role_prefork():
    ls = listener(64)
    kids = []
    for _ in range(2):
        pid = os.fork()
        if pid == 0:
            die_with_parent()
            ls.settimeout(60)
            for _ in range(PREFORK_CONNS):
                try:
                    c, peer = ls.accept()
                except OSError:
                    os._exit(0)
                emit(event="served", pid=os.getpid(), rport=peer[1])
                serve_one(c)
            os._exit(0)
        kids.append(pid)
    emit(event="listening", port=ls.getsockname()[1], pid=os.getpid(), workers=kids)
    wait_line("close")
    ls.close()
    for pid in kids:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        os.waitpid(pid, 0)
    emit(event="closed")


def role_handover(port):
    """A connects and sends once, hands the socket to B (a forked child,
    over a socketpair) and closes its copy; B sends MESSAGES more."""
    a, b = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
    pid = os.fork()
    if pid == 0:
        die_with_parent()
        a.close()
        _, fds, _, _ = socket.recv_fds(b, 16, 1)
        s = socket.socket(fileno=fds[0])
        s.settimeout(20)  # the file came non-blocking: A's socket had a timeout
        for _ in range(MESSAGES):
            s.sendall(b"m" * 100)
            recv_exact(s, 100)
        close_after_eof(s)
        os._exit(0)
    b.close()
    s = socket.create_connection((LO, port), timeout=20)
    s.sendall(b"m" * 100)
    recv_exact(s, 100)
    emit(event="connected", lport=s.getsockname()[1], a=os.getpid(), b=pid)
    socket.send_fds(a, [b"x"], [s.fileno()])
    s.close()
    _, status = os.waitpid(pid, 0)
    if status:
        fail("B exited with status %d" % status)
    emit(event="done")


def role_echo_server(n):
    """Answer n connections of 100-byte messages with the same, until EOF."""
    ls = listener(8, 30)
    emit(event="listening", port=ls.getsockname()[1])
    for _ in range(n):
        c, _ = ls.accept()
        c.settimeout(20)
        while True:
            d = c.recv(100)
            if not d:
                break
            c.sendall(d)
        c.close()
    emit(event="done")


def role_forker(port_out):
    """P accepts one connection, forks and exits; its child answers."""
    ls = listener(1, 30)
    emit(event="listening", port=ls.getsockname()[1], pid=os.getpid())
    c, peer = ls.accept()
    ls.close()
    pid = os.fork()
    if pid == 0:
        # The child: P is gone once it answers; then MESSAGES exchanges.
        c.settimeout(20)
        for _ in range(MESSAGES):
            d = recv_exact(c, 100)
            c.sendall(b"r" * 100)
        close_after_eof(c)
        os._exit(0)
    c.close()
    emit(event="forked", child=pid, rport=peer[1])
    os._exit(0)  # P exits; the child is reaped by init


def role_client(port, count, messages):
    """count connections to port: MESSAGES request/answer pairs of 100 bytes each."""
    out = []
    for _ in range(count):
        s = socket.create_connection((LO, port), timeout=20)
        out.append(s.getsockname()[1])
        for _ in range(messages):
            s.sendall(b"q" * 100)
            recv_exact(s, 200 if messages == 1 else 100)
        close_after_eof(s)
    emit(event="done", lports=out, pid=os.getpid())


def worker_main(argv):
    role = argv[0]

    def run():
        if role == "prefork":
            role_prefork()
        elif role == "handover":
            role_handover(int(argv[1]))
        elif role == "echo":
            role_echo_server(int(argv[1]))
        elif role == "forker":
            role_forker(0)
        elif role == "client":
            role_client(int(argv[1]), int(argv[2]), int(argv[3]))
        else:
            fail("unknown role %r" % role)
    return run_role(run)


# ==========================================================================
# the test
# ==========================================================================

def spawn(h, cg, label, *args):
    return h.worker(os.path.abspath(__file__), cg, label, *args, hello=False)


def records(h):
    p = h.netacct_ok("log", "--json")
    return [json.loads(line) for line in p.stdout.splitlines() if line.strip()]


def server_record(recs, lport, rport):
    for r in recs:
        if r["proto"] == "tcp" and r["lport"] == lport and r["rport"] == rport:
            return r
    return None


def listening(port):
    with open("/proc/net/tcp") as f:
        return any(ln.split()[1] == "0100007F:%04X" % port and ln.split()[3] == "0A"
                   for ln in f.readlines()[1:])


def check_prefork(h, cg):
    srv = spawn(h, cg, "prefork", "prefork")
    hello = srv.expect("listening", 30)
    port, parent, workers = hello["port"], hello["pid"], set(hello["workers"])
    cli = spawn(h, cg, "prefork client", "client", port, PREFORK_CONNS, 1)
    lports = cli.expect("done", 60)["lports"]
    served = {}
    for _ in range(PREFORK_CONNS):
        m = srv.expect("served", 30)
        served[m["rport"]] = m["pid"]
    lrow = h.export().socket("tcp", LO, port)
    h.check("pre-fork: the listener's row names the parent that made it",
            lrow is not None and lrow["pid"] == parent, repr(lrow))
    h.wait_tcp_gone({port} | set(lports))
    recs = records(h)
    ok = [server_record(recs, port, rp) for rp in served]
    h.check("pre-fork: every connection has a server-side record",
            all(r is not None for r in ok), repr(served))
    h.eq("pre-fork: each server-side record names the worker that served it (never the parent)",
         {rp: (r or {}).get("pid") for rp, r in zip(served, ok)}, served)
    h.check("pre-fork: the workers are the parent's children", set(served.values()) <= workers,
            repr((served, workers)))
    h.eq("pre-fork: each server-side record: 100 bytes in, 200 out",
         sorted({(r["rx_payload_bytes"], r["tx_payload_bytes"]) for r in ok if r}), [(100, 200)])
    srv.close(30)
    srv.finish()


def check_handover(h, cg):
    echo = spawn(h, cg, "echo", "echo", 1)
    port = echo.expect("listening", 30)["port"]
    w = spawn(h, cg, "handover", "handover", port)
    c = w.expect("connected", 30)
    w.expect("done", 60)
    echo.expect("done", 30)
    h.wait_tcp_gone({port, c["lport"]})
    r = [x for x in records(h) if x["proto"] == "tcp" and x["lport"] == c["lport"]]
    h.check("hand-over: one record for the client socket", len(r) == 1, repr(r))
    if r:
        h.eq("hand-over: the record names B, the process the socket was handed to (A %d)" % c["a"],
             r[0]["pid"], c["b"])
        h.eq("hand-over: its bytes: 41 x 100 each way",
             (r[0]["tx_payload_bytes"], r[0]["rx_payload_bytes"]), (4100, 4100))
    for x in (w, echo):
        x.finish()


def check_fork(h, cg):
    f = spawn(h, cg, "forker", "forker")
    m = f.expect("listening", 30)
    port, p_pid = m["port"], m["pid"]
    cli = spawn(h, cg, "fork client", "client", port, 1, MESSAGES)
    fk = f.expect("forked", 30)
    cli.expect("done", 60)
    h.wait_tcp_gone({port, fk["rport"]})
    r = server_record(records(h), port, fk["rport"])
    if h.check("fork: a server-side record", r is not None):
        h.eq("fork: the record names the child that answered (P %d exited)" % p_pid,
             r["pid"], fk["child"])
        h.eq("fork: its bytes: 40 x 100 each way", (r["tx_payload_bytes"], r["rx_payload_bytes"]),
             (4000, 4000))
    f.finish()
    cli.finish()


NGINX_CONF = """
worker_processes 2;
master_process on;
daemon off;
pid {d}/nginx.pid;
error_log {d}/error.log;
events {{ worker_connections 64; }}
http {{
    log_format na '$remote_port $pid $bytes_sent $request_length $status';
    access_log {d}/access.log na;
    client_body_temp_path {d}/body;
    proxy_temp_path {d}/proxy;
    fastcgi_temp_path {d}/fastcgi;
    uwsgi_temp_path {d}/uwsgi;
    scgi_temp_path {d}/scgi;
    server {{
        listen 127.0.0.1:{port};
        root {d}/www;
        keepalive_timeout 0;
    }}
}}
"""


def check_nginx(h, cg):
    nginx = shutil.which("nginx") or "/usr/sbin/nginx"
    if not os.access(nginx, os.X_OK):
        raise na.SkipTest("nginx not found (install nginx-light)")
    d = h.make_tmpdir("nginx-")
    os.chmod(d, 0o755)
    os.mkdir(os.path.join(d, "www"))
    with open(os.path.join(d, "www", "f.bin"), "wb") as f:
        f.write(os.urandom(10000))
    os.chmod(os.path.join(d, "www", "f.bin"), 0o644)
    os.chmod(os.path.join(d, "www"), 0o755)
    port = na.free_port()
    conf = os.path.join(d, "nginx.conf")
    with open(conf, "w") as f:
        f.write(NGINX_CONF.format(d=d, port=port))
    master = h.spawn([nginx, "-c", conf, "-p", d], cgroup=cg, label="nginx",
                     stderr=subprocess.DEVNULL)
    try:
        for _ in range(100):
            if listening(port) or master.p.poll() is not None:
                break
            time.sleep(0.05)
        time.sleep(0.3)
        workers = set(na.children_of(master.pid))
        h.eq("nginx: a master and two workers", len(workers), 2)
        cli = spawn(h, cg, "nginx client", "http", port, NGINX_REQUESTS)
        got = cli.expect("done", 60)
        lrow = h.export().socket("tcp", LO, port)
        h.check("nginx: the listener's row names the master, which made it",
                lrow is not None and lrow["pid"] == master.pid, repr((lrow, master.pid)))
    finally:
        if master.p.poll() is None:
            master.p.send_signal(signal.SIGQUIT)  # graceful: workers finish and exit
            try:
                master.p.wait(timeout=15)
            except subprocess.TimeoutExpired:
                for pid in na.children_of(master.pid):
                    os.kill(pid, signal.SIGKILL)
                master.p.kill()
    h.wait_tcp_gone({port} | set(got["lports"]))
    with open(os.path.join(d, "access.log")) as f:
        lines = [ln.split() for ln in f if ln.strip()]
    h.eq("nginx: its access log has every request", len(lines), NGINX_REQUESTS)
    recs = records(h)
    served = {}
    for rport, pid, sent, reqlen, status in lines:
        r = server_record(recs, port, int(rport))
        served[int(rport)] = (int(pid), int(sent), int(reqlen),
                              None if r is None else (r["pid"], r["tx_payload_bytes"] - r["tx_retrans_bytes"],
                                                      r["rx_payload_bytes"] - r["rx_dup_bytes"]))
    h.eq("nginx: every connection's record names the worker nginx logged ($pid) and its bytes "
         "($bytes_sent, $request_length)",
         {rp: v[3] for rp, v in served.items()}, {rp: v[:3] for rp, v in served.items()})
    h.check("nginx: the workers served (never the master)",
            {v[0] for v in served.values()} <= workers and master.pid not in
            {(v[3] or (0,))[0] for v in served.values()}, repr(served))
    h.eq("nginx: the client's lports are those of the access log", sorted(got["lports"]),
         sorted(served))
    closed = [r for r in h.export().rows if r["kind"] == "closed" and r["proto"] == "tcp"
              and r["comm"] == "nginx" and r["raddr"]]
    h.check("nginx: the server side's closed rows name workers only, %d connections"
            % NGINX_REQUESTS, sum(r["conns"] for r in closed) == NGINX_REQUESTS and
            all(r["pid"] in workers for r in closed), repr(closed))


def role_http(port, n):
    out = []
    for _ in range(n):
        s = socket.create_connection((LO, port), timeout=20)
        out.append(s.getsockname()[1])
        s.sendall(b"GET /f.bin HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        while s.recv(65536):
            pass
        s.close()
    emit(event="done", lports=out)


def main():
    if len(sys.argv) > 2 and sys.argv[1] == "--worker" and sys.argv[2] == "http":
        try:
            role_http(int(sys.argv[3]), int(sys.argv[4]))
        except OSError as e:
            fail("%s" % e)
        for _ in sys.stdin:
            pass
        sys.exit(0)
    if len(sys.argv) > 1 and sys.argv[1] == "--worker":
        sys.exit(worker_main(sys.argv[2:]))
    h = na.Harness("prefork")
    with h:
        cg = h.make_cgroup()
        h.attach(cg)
        check_prefork(h, cg)
        check_handover(h, cg)
        check_fork(h, cg)
        check_nginx(h, cg)


if __name__ == "__main__":
    main()
