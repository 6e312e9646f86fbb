#!/usr/bin/python3
"""Owners of sockets that existed before attach (agent/owners.c).

Sockets opened before `netacct attach` got no sock_create/connect event, so
their rows start without an owner; `netacct export` resolves them the way
`ss -p` does (sock_diag cookie -> inode, /proc/PID/fd inode -> process),
once per socket. In one test cgroup, before attach:

  srv  (comm na-own-srv)  TCP listener, the connections it accepts, and one
                          end of a connected UDP pair
  cli  (comm na-own-cli)  a TCP connection to srv, the other UDP end
  par  (comm na-own-par)  a second TCP connection to srv

then attach, traffic on every socket (plus one new connection from cli, so
that the pre-attach listener sees a handshake), and:

  * export shows pid and comm of the owning process and uid 0 on every row:
    srv for the listener, the accepted sockets and its UDP end; cli and par
    for their client sockets (truth: the pids the workers report, /proc).
    The kernel names the owner of a socket that sends from its process
    (docs/accounting.md); the listener, which no hook names, is resolved in
    user space;
  * a live connection that no process holds (its only reference an
    SCM_RIGHTS message nobody reads) gets no pid and no comm, uid 0;
  * the first reader resolves: `top` by socket, whose rows are top's
    figures (NETACCT_READ=walk; its -v line says how much work that was:
    the listener at least, and that one unknown), shows the listener's pid
    and comm; export then does no owner work at all, not even for that
    unknown one, and a process renamed after that keeps its old comm on its
    rows: the row is the cache;
  * par forks, resolution already done; par exits, its child keeps the
    socket and sends on it: the row is live (counters grow), and once the
    child has sent 16 packets on it, it names the child.
"""

import json
import os
import re
import signal
import socket
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import na_harness as na  # noqa: E402

WORKER_DEADLINE = 90  # seconds; a worker (and the forked child) ends itself after this
LO = "127.0.0.1"
TCP_MSG = 1000
UDP_MSG = 200

# --------------------------------------------------------------------------
# worker side: `test_owners.py worker ROLE ARGS`, JSON lines on stdout
# --------------------------------------------------------------------------

_out_lock = threading.Lock()


def emit(**kw):
    with _out_lock:
        os.write(1, (json.dumps(kw) + "\n").encode())


def fail(msg):
    emit(event="error", message=msg)
    os._exit(1)


def set_comm(name):
    """The comm /proc/PID/comm shows (main thread = thread group leader)."""
    with open("/proc/self/comm", "w") as f:
        f.write(name)


def read_cmd():
    """One line from fd 0, unbuffered: a forked child must not inherit a
    half-read buffer. '' at EOF."""
    line = b""
    while True:
        c = os.read(0, 1)
        if not c:
            return ""
        if c == b"\n":
            return line.decode()
        line += c


def commands(last=None):
    """The words of each command line; the worker exits at EOF (or at last)."""
    while True:
        cmd = read_cmd().split()
        if not cmd or cmd[0] == last:
            os._exit(0)
        yield cmd


def recv_exact(s, n):
    got = 0
    while got < n:
        b = s.recv(n - got)
        if not b:
            fail("peer closed after %d of %d bytes" % (got, n))
        got += len(b)


def tcp_xchg(s):
    s.sendall(b"x" * TCP_MSG)
    recv_exact(s, TCP_MSG)


def udp_xchg(u):
    u.send(b"u" * UDP_MSG)
    if len(u.recv(65536)) != UDP_MSG:
        fail("short UDP echo")


def tuple_of(s):
    la, lp = s.getsockname()[:2]
    ra, rp = s.getpeername()[:2]
    return dict(laddr=la, lport=lp, raddr=ra, rport=rp)


def echo_tcp(c):
    while True:
        try:
            b = c.recv(65536)
        except OSError:
            return
        if not b:
            return
        c.sendall(b)


def role_server():
    set_comm("na-own-srv")
    lst = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    lst.bind((LO, 0))
    lst.listen(16)
    udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    udp.bind((LO, 0))
    conns = []

    def acceptor():
        while True:
            c, _ = lst.accept()
            conns.append(c)
            emit(event="accepted", **tuple_of(c))
            threading.Thread(target=echo_tcp, args=(c,), daemon=True).start()

    def udp_echo():
        while True:
            b = udp.recv(65536)
            udp.send(b)

    threading.Thread(target=acceptor, daemon=True).start()
    emit(event="listening", tcp=lst.getsockname()[1], udp=udp.getsockname()[1])
    for cmd in commands():
        if cmd[0] == "udp-peer":
            udp.connect((LO, int(cmd[1])))  # connected: send(), no sendmsg hook
            threading.Thread(target=udp_echo, daemon=True).start()
            emit(event="udp-connected", **tuple_of(udp))
        elif cmd[0] == "rename":
            set_comm(cmd[1])
            emit(event="renamed")
        elif cmd[0] == "push":  # unsolicited data to the peer at port cmd[1]
            for c in conns:
                if c.getpeername()[1] == int(cmd[1]):
                    c.sendall(b"p" * TCP_MSG)
            emit(event="pushed")


def role_client(tcp_port, udp_port):
    set_comm("na-own-cli")
    t = socket.create_connection((LO, int(tcp_port)))
    u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    u.bind((LO, 0))
    u.connect((LO, int(udp_port)))
    # A connection that no process holds: its only reference is an SCM_RIGHTS
    # message queued on a unix socket that nobody reads. Alive, able to
    # receive, but in no /proc/PID/fd.
    t3 = socket.create_connection((LO, int(tcp_port)))
    tcp_xchg(t3)
    t3_tuple = tuple_of(t3)
    pair = socket.socketpair()
    socket.send_fds(pair[0], [b"f"], [t3.fileno()])
    t3.close()
    emit(event="ready", tcp=tuple_of(t), udp=tuple_of(u), inflight=t3_tuple)
    keep = []
    for cmd in commands():
        if cmd[0] == "xchg":
            tcp_xchg(t)
            udp_xchg(u)
            emit(event="xchged")
        elif cmd[0] == "connect2":
            t2 = socket.create_connection((LO, int(tcp_port)))
            keep.append(t2)
            tcp_xchg(t2)
            emit(event="conn2", **tuple_of(t2))


def role_parent(tcp_port):
    set_comm("na-own-par")
    t = socket.create_connection((LO, int(tcp_port)))
    emit(event="ready", tcp=tuple_of(t))
    for cmd in commands():
        if cmd[0] == "xchg":
            tcp_xchg(t)
            emit(event="xchged")
        elif cmd[0] == "fork":
            parent = os.getpid()
            rd, wr = os.pipe()
            kid = os.fork()
            if kid == 0:
                os.close(rd)
                child(t, parent, wr)
            os.close(wr)
            os.read(rd, 1)  # the child's event first: the test reads them in order
            os.close(rd)
            emit(event="forked", child=kid)
        elif cmd[0] == "exit":
            os._exit(0)


def child(t, parent, ready):
    """Owns the inherited socket once the parent is gone; reads stdin only then."""
    set_comm("na-own-kid")
    signal.alarm(WORKER_DEADLINE)
    emit(event="child", pid=os.getpid())
    os.write(ready, b"x")
    os.close(ready)
    while os.getppid() == parent:
        time.sleep(0.02)
    for cmd in commands("quit"):
        if cmd[0] == "xchg":
            tcp_xchg(t)
            emit(event="xchged", pid=os.getpid())


def worker(role, *args):
    signal.alarm(WORKER_DEADLINE)
    emit(event="hello", pid=os.getpid(), cgroup=na.proc_cgroup2())
    try:
        {"server": role_server, "client": role_client, "parent": role_parent}[role](*args)
    except Exception as e:  # report, never hang the test
        fail("%s: %s: %s" % (role, type(e).__name__, e))


# --------------------------------------------------------------------------
# test side
# --------------------------------------------------------------------------

def spawn(h, cg, role, *args):
    w = h.spawn([na.PYTHON, os.path.abspath(__file__), "worker", role] + [str(a) for a in args],
                cgroup=cg, label=role)
    hello = w.expect("hello", 30)
    if hello.get("cgroup") != cg.rel:
        raise na.HarnessError("%s runs in %r, expected %r" % (role, hello.get("cgroup"), cg.rel))
    return w


def tup(d):
    return (d["laddr"], d["lport"], d["raddr"], d["rport"])


def rev(d):
    return (d["raddr"], d["rport"], d["laddr"], d["lport"])


def owners_line(stderr):
    m = re.search(r"^netacct: owners: .*$", stderr, re.M)
    return m.group(0) if m else None


def check_owner(h, exp, what, proto, t, pid, comm):
    row = exp.socket(proto, *t)
    if not h.check("%s has a row" % what, row is not None, "no %s row %s" % (proto, t)):
        return None
    h.eq("%s pid" % what, row["pid"], pid)
    h.eq("%s comm" % what, row["comm"], comm)
    h.eq("%s uid" % what, na._to_int(row.get("uid")), 0)
    return row


def alive(pid):
    return os.path.exists("/proc/%d" % pid)


def main():
    h = na.Harness("owners")
    kids = []
    with h:
        try:
            run(h, kids)
        finally:
            # The forked child is no harness worker: end it here (it also ends
            # at stdin EOF and on its own deadline).
            for kid in kids:
                try:
                    with open("/proc/%d/comm" % kid) as f:
                        ours = f.read().strip() == "na-own-kid"
                    if ours:
                        os.kill(kid, signal.SIGKILL)
                except OSError:
                    pass


def run(h, kids):
    A = h.make_cgroup()

    # -- before attach: every socket exists and has carried data ---------------
    srv = spawn(h, A, "server")
    ports = srv.expect("listening")
    cli = spawn(h, A, "client", ports["tcp"], ports["udp"])
    cready = cli.expect("ready")
    srv.send("udp-peer %d" % cready["udp"]["lport"])
    srv.expect("udp-connected")
    par = spawn(h, A, "parent", ports["tcp"])
    pready = par.expect("ready")
    cli.send("xchg")
    cli.expect("xchged")
    par.send("xchg")
    par.expect("xchged")

    # -- attach, traffic on every socket, one new connection --------------------
    h.attach(A)
    cli.send("xchg")
    cli.expect("xchged")
    par.send("xchg")
    par.expect("xchged")
    cli.send("connect2")
    conn2 = cli.expect("conn2")
    inflight = cready["inflight"]
    srv.send("push %d" % inflight["lport"])
    srv.expect("pushed")

    # The first reader resolves: top by socket, its rows read as top's figures (what a large
    # table gets; NETACCT_READ=walk here), which carry no comm: the listener's is looked up.
    p = h.netacct_ok("-v", "top", "--batch", "-n", "1", "-d", "0.2", "--limit", "20", env={"NETACCT_READ": "walk"})
    h.check("top: the rows read as figures (-v)", "live rows (figures)" in p.stderr, p.stderr[-1500:])
    line = owners_line(p.stderr)
    h.check("top, the first reader: the owner pass ran (-v)", line is not None,
            "no 'owners:' line in stderr: %r" % p.stderr[-500:])
    if line:
        h.note(line)
        m = re.search(r"(\d+) resolved", line)
        # The listener at least: the rest sent from their processes after attach,
        # which named them in the kernel; the in-flight one unknown.
        h.check("top resolved the rows the kernel could not name (the listener)",
                m is not None and int(m.group(1)) >= 1, line)
        m = re.search(r"(\d+) unknown", line)
        h.check("... and found 1 listed socket that no process holds",
                m is not None and int(m.group(1)) == 1, line)
    lrow = [l.split() for l in p.stdout.splitlines()
            if re.search(r"\s%s:%d\s+\*\s" % (re.escape(LO), ports["tcp"]), l)]
    h.eq("top: the pre-attach listener's row, its PID and COMM", [r[:2] for r in lrow],
         [[str(srv.pid), "na-own-srv"]])

    p = h.netacct_ok("-v", "export", "--csv")
    exp = na.Export(na.parse_export_csv(p.stdout))
    h.eq("export after top: no owner work left (no 'owners:' line with -v)", owners_line(p.stderr), None)

    S, C, P = srv.pid, cli.pid, par.pid
    t = cready["tcp"]
    rows = {}
    rows["listener"] = check_owner(h, exp, "listener (pre-attach)", "tcp",
                                   (LO, ports["tcp"], "", None), S, "na-own-srv")
    rows["cli"] = check_owner(h, exp, "TCP client (pre-attach)", "tcp", tup(t), C, "na-own-cli")
    rows["acc"] = check_owner(h, exp, "TCP accepted (pre-attach)", "tcp", rev(t), S, "na-own-srv")
    rows["ucli"] = check_owner(h, exp, "UDP client end (pre-attach)", "udp", tup(cready["udp"]), C,
                               "na-own-cli")
    rows["usrv"] = check_owner(h, exp, "UDP server end (pre-attach)", "udp", rev(cready["udp"]), S,
                               "na-own-srv")
    rows["par"] = check_owner(h, exp, "parent's TCP client (pre-attach)", "tcp", tup(pready["tcp"]),
                              P, "na-own-par")
    rows["pacc"] = check_owner(h, exp, "parent's TCP accepted (pre-attach)", "tcp",
                               rev(pready["tcp"]), S, "na-own-srv")
    check_owner(h, exp, "new connection, client (connect hook)", "tcp", tup(conn2), C, "na-own-cli")
    check_owner(h, exp, "new connection, accepted from the pre-attach listener", "tcp", rev(conn2),
                S, "na-own-srv")
    rows["pacc3"] = check_owner(h, exp, "accepted end of the in-flight connection", "tcp",
                                rev(inflight), S, "na-own-srv")
    row = exp.socket("tcp", *tup(inflight))
    if h.check("in-flight socket (held by no process) has a row", row is not None,
               "no row %s" % (tup(inflight),)):
        h.eq("in-flight socket: no pid, no comm, the socket's uid",
             (row["pid"], row["comm"], na._to_int(row.get("uid"))), (None, "", 0))
        rows["inflight"] = row
    for r in rows.values():
        if r:
            h.check("row %s:%s carried traffic after attach" % (r["lport"], r["rport"]),
                    r["tx_packets"] + r["rx_packets"] > 0, "%r" % r)

    # -- cached: no second lookup, a later rename is not picked up ---------------
    srv.send("rename na-own-renamed")
    srv.expect("renamed")
    with open("/proc/%d/comm" % S) as f:
        h.eq("server's comm is now na-own-renamed", f.read().strip(), "na-own-renamed")
    p = h.netacct_ok("-v", "export", "--csv")
    exp = na.Export(na.parse_export_csv(p.stdout))
    h.eq("second export: no owner work, not even for the unknown one (no 'owners:' line with -v)",
         owners_line(p.stderr), None)
    check_owner(h, exp, "accepted socket after the owner's rename (cached)", "tcp", rev(t), S,
                "na-own-srv")
    check_owner(h, exp, "UDP server end after the owner's rename (cached)", "udp",
                rev(cready["udp"]), S, "na-own-srv")

    # -- a child that goes on with a socket after its owner exited ----------------
    par.send("fork")
    kid = par.expect("child")["pid"]
    kids.append(kid)
    par.expect("forked")
    before = exp.socket("tcp", *tup(pready["tcp"]))
    par.send("exit")
    rc = par.p.wait(timeout=30)
    h.eq("parent exited (status 0)", rc, 0)
    h.check("parent %d is gone from /proc" % P, not alive(P))
    for _ in range(20):  # read by the child now: at least one packet out each, past a 16th
        par.send("xchg")
        got = par.expect("xchged")
    h.eq("the child (not the parent) sent on the inherited socket", got.get("pid"), kid)
    exp = na.Export(na.parse_export_csv(h.netacct_ok("export", "--csv").stdout))
    row = check_owner(h, exp, "inherited socket after its owner exited: the child that uses it",
                      "tcp", tup(pready["tcp"]), kid, "na-own-kid")
    if row and before:
        h.check("... and the row is live: tx_packets grew after the exit",
                row["tx_packets"] > before["tx_packets"],
                "%d -> %d" % (before["tx_packets"], row["tx_packets"]))
    par.send("quit")


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "worker":
        worker(*sys.argv[2:])
    else:
        main()
