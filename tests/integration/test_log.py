#!/usr/bin/python3
"""netacct log: one record per closed socket, consumed once, never lost.

  * usage errors exit 2; with nothing attached, log exits 1 and says so;
  * 50 TCP connections (request/response, both ends in the attached cgroup)
    and 10 UDP pairs (20 sockets), all closed: `log --json` prints exactly
    one record per closed socket (client, accepted server side, listener,
    UDP sockets) with payload bytes == ss bytes_sent (== the application's
    bytes + bytes_retrans) each way, the owner's pid/comm/uid, the leaf
    cgroup, side, and end times inside the window in which the sockets were
    closed;
  * the table keeps its columns: a nested cgroup's path
    longer than its column is cut from the start ("..", the leaf kept); a
    comm with control characters shows them as '?', never raw (and so does
    top --batch);
  * a log whose stdout is a closed pipe exits 1 (not killed by SIGPIPE) and
    consumes nothing: the next log still prints every record;
  * a second log prints nothing (reading consumed them); status shows 0
    bytes waiting;
  * --csv: the header, CRLF line ends, the same records; the table prints a
    header and one line per record;
  * the cgroup path of a cgroup made after attach and removed before the
    log is read, and of one made after a --follow reader started;
  * --follow in the background prints a new connection's records within a
    second of its close, and exits 0 on SIGTERM;
  * kill -9 of `log --follow` in the middle of a stream of 1500 short
    connections, then `log` again: every record appears over the two runs
    (counted by cookie), none lost; none printed twice, except what the man
    page allows: the record being written when the kill came may be printed
    again, and then only that one, as the last record of the first run and
    the first of the rerun. A follower killed while blocked writing into a
    full pipe has written nothing of its record: there every record appears
    exactly once;
  * a 4 KiB ring buffer (attach --log-size 4096) that overflows: log prints
    what fits and reports the dropped records on stderr (printed + dropped
    == sockets closed, == status log_dropped), and says so again next time;
    a --follow reader that was stopped (SIGSTOP) while the buffer overflowed
    reports the drops "while reading";
  * --follow ends by itself (exit 0) on detach --all, after printing the
    records written before it.

Run as `test_log.py churn N` it is the churn workload instead: a listener and
N sequential short connections (100 bytes each way, client closes first).
"""

import json
import os
import selectors
import signal
import socket
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import na_harness as na  # noqa: E402
from na_workload import emit as _emit  # noqa: E402

LOG_COLUMNS = (
    "end_time,start_time,duration_ms,cookie,cgroup_id,cgroup,pid,uid,comm,proto,family,"
    "laddr,lport,raddr,rport,side,"
    "tx_packets,tx_ip_hdr_bytes,tx_l4_hdr_bytes,tx_payload_bytes,"
    "rx_packets,rx_ip_hdr_bytes,rx_l4_hdr_bytes,rx_payload_bytes,"
    "tx_retrans_bytes,rx_dup_bytes,"
    "unit,container,container_id,pod,pod_uid,namespace,qos,peer_class,peer_name").split(",")
N_TCP = 50
N_UDP_PAIRS = 10
BATCH = 10
N_CHURN = 1500


# --------------------------------------------------------------------------
# churn workload (a child process in the attached cgroup)
# --------------------------------------------------------------------------

def _recv_exact(s, n):
    got = b""
    while len(got) < n:
        b = s.recv(n - len(got))
        if not b:
            raise OSError("peer closed after %d of %d bytes" % (len(got), n))
        got += b
    return got


def churn_main(n):
    signal.alarm(120)
    if os.environ.get("NA_TEST_COMM"):  # a comm of the test's choosing, before any socket
        with open("/proc/self/comm", "w") as f:
            f.write(os.environ["NA_TEST_COMM"])
    n = int(n)
    ls = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    ls.bind(("127.0.0.1", 0))
    ls.listen(128)
    ls.settimeout(30)
    port = ls.getsockname()[1]
    errors = []

    def server():
        try:
            for _ in range(n):
                s, _ = ls.accept()
                s.settimeout(30)
                _recv_exact(s, 100)
                s.sendall(b"s" * 100)
                if s.recv(1) != b"":  # the client's FIN: our close sends no RST
                    raise OSError("data before FIN")
                s.close()
        except OSError as e:
            errors.append(str(e))

    _emit(event="hello", pid=os.getpid(), port=port)
    if sys.stdin.readline().strip() != "go":
        return 1
    t = threading.Thread(target=server, daemon=True)
    t.start()
    ports = []
    for _ in range(n):
        c = socket.create_connection(("127.0.0.1", port), timeout=30)
        ports.append(c.getsockname()[1])
        c.sendall(b"c" * 100)
        _recv_exact(c, 100)
        c.close()
    t.join(60)
    if errors or t.is_alive():
        _emit(event="error", message="server: %s" % (errors or "did not finish"))
        return 1
    _emit(event="done", ports=ports)
    sys.stdin.readline()  # "close"
    ls.close()
    _emit(event="closed")
    sys.stdin.read()
    return 0


# --------------------------------------------------------------------------
# helpers
# --------------------------------------------------------------------------

def churn_spawn(h, cg, n, label, **kw):
    """This file as the churn workload in cg, greeted (its "hello" in .hello)."""
    churn = h.spawn([na.PYTHON, os.path.abspath(__file__), "churn", str(n)], cgroup=cg,
                    label=label, **kw)
    churn.hello = churn.expect("hello")
    return churn


def churn_close(churn):
    churn.send("close")
    churn.expect("closed")
    churn.p.stdin.close()
    churn.p.wait(timeout=30)


def churn_run(h, cg, n, label):
    """A churn of n connections start to end: its sockets all closed."""
    churn = churn_spawn(h, cg, n, label)
    churn.send("go")
    churn.expect("done", 60)
    churn_close(churn)


def parse_json_lines(text):
    """Complete lines only: a reader killed mid-line leaves a partial last one."""
    lines = text.split("\n")
    recs = []
    for line in lines[:-1]:
        if line.strip():
            recs.append(json.loads(line))
    return recs, lines[-1]


def check_resumed(h, what, recs1, recs2):
    """The records of a reader killed by SIGKILL (recs1) and of the rerun
    (recs2), checked against what cli/cmd_log.c promises: a record counts as
    read only after it is written, so the one being written when the kill came
    (written, not yet marked read) may be printed again by the rerun. Only
    that one: the last complete record of the first run, and the first record
    of the rerun. Anything else printed twice is a bug. Returns the records
    over both runs, one per cookie."""
    c1 = [r["cookie"] for r in recs1]
    c2 = [r["cookie"] for r in recs2]
    h.eq(what + ": no record printed twice by one run",
         (len(c1) - len(set(c1)), len(c2) - len(set(c2))), (0, 0))
    again = set(c1) & set(c2)
    if again:
        h.note("%s: the record being written at the kill (cookie %s) was printed again"
               % (what, sorted(again)))
    h.check(what + ": printed by both runs: none, or only the last of the first run as the"
            " first of the rerun",
            not again or (again == {c1[-1]} and c2[0] == c1[-1]),
            "%d printed by both (%r); first run ends with %r, rerun starts with %r"
            % (len(again), sorted(again)[:5], c1[-1:], c2[:1]))
    seen = set()
    out = []
    for r in recs1 + recs2:
        if r["cookie"] not in seen:
            seen.add(r["cookie"])
            out.append(r)
    return out


def key_of(r):
    return (r["proto"], r["laddr"] or "", r["lport"], r["raddr"] or "", r["rport"])


def index_records(recs):
    """{(proto, laddr, lport, raddr, rport, pid): [records]}. The pid is part of
    the key: a later batch's listener or UDP server may get a port an earlier,
    closed one had, but every flow has its own worker processes."""
    idx = {}
    for r in recs:
        idx.setdefault(key_of(r) + (r["pid"],), []).append(r)
    return idx


def wall_of(iso):
    """'2026-11-21T23:59:01.123Z' -> Unix seconds (float)."""
    import calendar
    base, frac = iso.rstrip("Z").split(".")
    return calendar.timegm(time.strptime(base, "%Y-%m-%dT%H:%M:%S")) + int(frac) / 1000.0


def proc_comm(pid):
    with open("/proc/%d/comm" % pid) as f:
        return f.read().rstrip("\n")


class Expected:
    """One socket that must appear exactly once in the log."""

    def __init__(self, label, key, pid, comm, side, tx=None, rx=None, tx_retrans=None,
                 packets=None):
        self.label, self.key, self.pid, self.comm, self.side = label, key, pid, comm, side
        self.tx, self.rx, self.tx_retrans, self.packets = tx, rx, tx_retrans, packets


def check_records(h, what, recs, expected, cg, window):
    """Exactly one record per expected socket, nothing else; exact fields."""
    idx = index_records(recs)
    h.eq("%s: %d records, one per closed socket" % (what, len(expected)), len(recs), len(expected))
    cookies = [r["cookie"] for r in recs]
    h.eq("%s: cookies are unique" % what, len(set(cookies)), len(cookies))
    bad = []
    for e in expected:
        got = idx.get(e.key + (e.pid,), [])
        if len(got) != 1:
            bad.append("%s %r: %d records" % (e.label, e.key, len(got)))
            continue
        r = got[0]
        want = {"pid": e.pid, "comm": e.comm, "uid": 0, "side": e.side, "cgroup_id": cg.id,
                "cgroup": cg.rel}
        if e.tx is not None:
            want["tx_payload_bytes"] = e.tx
        if e.rx is not None:
            want["rx_payload_bytes"] = e.rx
        if e.tx_retrans is not None:
            want["tx_retrans_bytes"] = e.tx_retrans
        if e.packets is not None:
            want["tx_packets"], want["rx_packets"] = e.packets
        diff = {k: (r.get(k), v) for k, v in want.items() if r.get(k) != v}
        if diff:
            bad.append("%s %r: (actual, expected) %r" % (e.label, e.key, diff))
        end, start = wall_of(r["end_time"]), wall_of(r["start_time"])
        if not (window[0] - 0.05 <= end <= window[1] + 0.05 and start <= end):
            bad.append("%s: start %s end %s outside the close window %.3f..%.3f"
                       % (e.label, r["start_time"], r["end_time"], window[0], window[1]))
        if abs((end - start) * 1000 - r["duration_ms"]) > 1.5:
            bad.append("%s: duration_ms %r vs end - start %.3f ms"
                       % (e.label, r["duration_ms"], (end - start) * 1000))
    extra = [k for k in idx if k not in {e.key + (e.pid,) for e in expected}]
    h.check("%s: every socket's record has the exact owner, cgroup, side, payload bytes, "
            "times" % what, not bad, "\n    " + "\n    ".join(bad[:20]))
    h.check("%s: no record for a socket that was not expected" % what, not extra, repr(extra[:10]))


def ss_ports(ports):
    """ss -tinH of the sockets on these local ports only: the kernel filters,
    so a host with many other sockets (a concurrent scale test) answers fast."""
    expr = " or ".join("sport = :%d" % p for p in sorted(ports))
    r = subprocess.run(["ss", "-tinH", "( %s )" % expr], capture_output=True, text=True,
                       timeout=30)
    if r.returncode != 0:
        raise na.HarnessError("ss failed: %s" % r.stderr.strip())
    return na.parse_ss(r.stdout)


def ss_ports_settled(ports, settle=0.25, tries=20):
    """ss_ports() once two readings agree (pending delayed ACKs sent)."""
    return na.ss_settled(lambda: ss_ports(ports), ports, settle, tries)


def tcp_batch(h, cg, n, fam_of, label):
    """n TCP rr connections in cg; returns (expected sockets, close window)."""
    flows = []
    for i in range(n):
        f = na.TcpFlow(h, fam_of(i), "rr", (20 + i,), (20 + i,), cg, cg, "%s %d" % (label, i))
        flows.append(f)
    ports = na.flows_done(flows)
    socks = ss_ports_settled(ports)
    exp = []
    for f in flows:
        ct, st = f.client_tuple(), f.server_tuple()
        c, s = na.ss_find(socks, *ct), na.ss_find(socks, *st)
        if c is None or s is None:
            raise na.HarnessError("%s: ss does not show %s / %s" % (f.label, ct, st))
        for who, w, me, tup, peer, side, done in (
                ("client", f.client, c, ct, s, "client", f.cdone),
                ("server", f.server, s, st, c, "server", f.sdone)):
            if me.bytes_sent != done["sent"] + me.bytes_retrans:
                h.note("%s %s: ss bytes_sent %d != written %d + retrans %d"
                       % (f.label, who, me.bytes_sent, done["sent"], me.bytes_retrans))
            exp.append(Expected("%s %s" % (f.label, who), ("tcp",) + tuple(tup), w.pid,
                                proc_comm(w.pid), side, tx=me.bytes_sent, rx=peer.bytes_sent,
                                tx_retrans=me.bytes_retrans))
        # The listener saw the SYN and the handshake's ACK, and sent the SYN-ACK.
        exp.append(Expected("%s listener" % f.label, ("tcp", st[0], st[1], "", None),
                            f.server.pid, proc_comm(f.server.pid), "server", tx=0, rx=0,
                            packets=(1, 2)))
    t0 = time.time()
    for f in flows:
        f.close()
    return exp, (t0, time.time())


def udp_batch(h, cg, n, label):
    flows = [na.UdpFlow(h, 4 if i % 2 else 6, 5 + i, "connected" if i % 3 else "unconnected",
                        cg, cg, "%s %d" % (label, i)) for i in range(n)]
    exp = []
    for f in flows:
        f.wait_done()
        c, s = f.cready, f.sready
        if f.how == "connected":
            ckey = ("udp", c["laddr"], c["lport"], c["raddr"] or "", c["rport"] or None)
        else:  # an unconnected socket's record has its one peer, without an ephemeral port
            ckey = ("udp", c["laddr"], c["lport"]) + na.one_peer(s["laddr"], f.port)
        exp.append(Expected("%s client" % f.label, ckey, f.client.pid, proc_comm(f.client.pid),
                            "client" if f.how == "connected" else None, tx=f.cdone["sent"],
                            rx=f.cdone["received"],
                            packets=(f.cdone["datagrams"], f.cdone["datagrams"])))
        exp.append(Expected("%s server" % f.label,
                            ("udp", s["laddr"], s["lport"]) + na.one_peer(c["laddr"], c["lport"]),
                            f.server.pid, proc_comm(f.server.pid), None, tx=f.sdone["sent"],
                            rx=f.sdone["received"],
                            packets=(f.sdone["datagrams"], f.sdone["datagrams"])))
    t0 = time.time()
    for f in flows:
        f.close()
    return exp, (t0, time.time())


def log_run(h, *args):
    return h.netacct("log", *args)


class Follow:
    """`netacct log --follow --json` in the background, stdout to a pipe or a file."""

    def __init__(self, h, out_path=None):
        self.h = h
        argv = [h.bin, "--pin-root", h.pin_root, "log", "--follow", "--json"]
        self.out_path = out_path
        self.out = open(out_path, "wb") if out_path else subprocess.PIPE
        self.p = subprocess.Popen(argv, stdout=self.out, stderr=subprocess.PIPE)
        h.workers.append(na.Worker(self.p, "log --follow"))  # killed by the harness's cleanup
        self.buf = b""
        self.recs = []

    def read_until(self, pred, timeout):
        """Read records until pred(records) or timeout; returns the time it took."""
        t0 = time.monotonic()
        sel = selectors.DefaultSelector()
        sel.register(self.p.stdout, selectors.EVENT_READ)
        while not pred(self.recs):
            left = t0 + timeout - time.monotonic()
            if left <= 0:
                return None
            if not sel.select(left):
                continue
            chunk = os.read(self.p.stdout.fileno(), 65536)
            if not chunk:
                return None
            self.buf += chunk
            while b"\n" in self.buf:
                line, _, self.buf = self.buf.partition(b"\n")
                self.recs.append(json.loads(line))
        return time.monotonic() - t0

    def lines_in_file(self):
        with open(self.out_path, "rb") as f:
            return f.read().count(b"\n")

    def stop(self, sig=signal.SIGTERM, timeout=10):
        if self.p.poll() is None:
            self.p.send_signal(sig)
        try:
            rc = self.p.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.p.kill()
            rc = self.p.wait()
        err = self.p.stderr.read().decode()
        if self.out_path:
            self.out.close()
        else:
            rest = self.p.stdout.read()
            self.buf += rest
        return rc, err


# --------------------------------------------------------------------------
# the test
# --------------------------------------------------------------------------

def main():
    h = na.Harness("log")
    # Where it was, should the harness's deadline strike.
    import faulthandler
    faulthandler.dump_traceback_later(
        max(int(os.environ.get("NETACCT_TEST_DEADLINE", "150")) - 3, 1), exit=False)
    follow = None
    with h:
        # -- usage and nothing attached ------------------------------------------
        p = h.netacct("log", "--bogus")
        h.eq("log --bogus: exit 2", p.returncode, 2)
        p = h.netacct("log", "extra")
        h.eq("log with an argument: exit 2", p.returncode, 2)
        p = h.netacct("log", "--help")
        h.check("log --help: exit 0, text on stdout", p.returncode == 0 and
                "--follow" in p.stdout and "consume" in p.stdout.lower(), repr(p))
        p = h.netacct("log")
        h.eq("log with nothing attached: exit 1", p.returncode, 1)
        h.check("... says nothing is attached", "nothing attached" in p.stderr and
                p.stdout == "", repr((p.stdout, p.stderr)))

        A = h.make_cgroup()
        h.attach(A)
        p = log_run(h, "--json")
        h.check("log of an empty buffer: exit 0, nothing printed",
                p.returncode == 0 and p.stdout == "" and p.stderr == "", repr(p))

        # -- 50 TCP connections, 20 UDP sockets, closed --------------------------
        expected, window = [], [time.time(), 0]
        for b in range(N_TCP // BATCH):
            e, w = tcp_batch(h, A, BATCH, lambda i: 4 if (i + b) % 2 == 0 else 6, "tcp%d" % b)
            expected += e
        e, w = udp_batch(h, A, N_UDP_PAIRS, "udp")
        expected += e
        window[1] = time.time()
        h.note("%d sockets closed: %d TCP connections (client, server, listener), %d UDP"
               % (len(expected), N_TCP, 2 * N_UDP_PAIRS))

        # -- a reader whose stdout is a closed pipe consumes nothing ------------
        rfd, wfd = os.pipe()
        os.close(rfd)
        p = subprocess.run([h.bin, "--pin-root", h.pin_root, "log", "--json"], stdout=wfd,
                           stderr=subprocess.PIPE, text=True, timeout=60)
        os.close(wfd)
        h.eq("log into a closed pipe: exit 1 (EPIPE handled, not killed by SIGPIPE)",
             p.returncode, 1)
        h.eq("... quietly (a pipeline's reader went away)", p.stderr, "")

        p = log_run(h, "--json")
        h.eq("log --json: exit 0", p.returncode, 0)
        h.eq("log --json: no diagnostics", p.stderr, "")
        recs, tail = parse_json_lines(p.stdout)
        h.eq("log --json: output ends with a newline", tail, "")
        check_records(h, "first log", recs, expected, A, window)
        h.check("records carry every CSV column as a JSON key",
                all(list(r.keys()) == LOG_COLUMNS for r in recs), repr(recs[:1]))
        h.check("unknown values are null, numbers are numbers",
                all(r["rport"] is None for r in recs  # an unconnected socket's peer's ephemeral port
                    if r["side"] is None) and all(isinstance(r["duration_ms"], (int, float))
                                                  for r in recs))

        p = log_run(h, "--json")
        h.check("second log: exit 0, prints nothing (the first one consumed them)",
                p.returncode == 0 and p.stdout == "", repr(p.stdout[:300]))
        st = na.netacct_status(h)
        h.eq("status: no bytes waiting in the log", st.get("log_pending_bytes"), 0)
        h.eq("status: every record written, none dropped",
             (st.get("log_written"), st.get("log_dropped")), (len(expected), 0))

        # -- CSV and the table --------------------------------------------------
        e, w = tcp_batch(h, A, 1, lambda i: 6, "csv")
        # Bytes, not text: text mode would turn the CRLFs into newlines.
        p = subprocess.run([h.bin, "--pin-root", h.pin_root, "log", "--csv"], capture_output=True,
                           timeout=60)
        h.eq("log --csv: exit 0", p.returncode, 0)
        raw = p.stdout.decode()
        h.check("log --csv: every line ends in CRLF", raw.endswith("\r\n") and
                raw.count("\n") == raw.count("\r\n"), repr(raw[:200]))
        lines = raw.split("\r\n")
        h.eq("log --csv: header", lines[0].split(","), LOG_COLUMNS)
        import csv
        import io
        rows = [na.normalize_row(r) for r in csv.DictReader(io.StringIO(raw, newline=""))]
        for r in rows:
            for k in ("cookie", "cgroup_id", "pid", "uid", "lport", "rport", "tx_packets",
                      "rx_packets", "tx_payload_bytes", "rx_payload_bytes", "tx_retrans_bytes"):
                r[k] = na._to_int(r.get(k))
            r["raddr"] = r["raddr"] or None
            r["side"] = r["side"] or None
            r["duration_ms"] = float(r["duration_ms"])
        check_records(h, "log --csv", rows, e, A, w)

        e, w = tcp_batch(h, A, 1, lambda i: 4, "table")
        p = log_run(h)
        tl = p.stdout.splitlines()
        h.check("table: header and one line per record",
                p.returncode == 0 and len(tl) == 1 + len(e) and tl[0].split()[:4] ==
                ["TIME", "PID", "COMM", "CGROUP"] and tl[0].split()[-1] == "DURATION_MS",
                repr(p.stdout))
        h.check("table: every line names the cgroup and the server port",
                all(A.rel in l and ":%d" % e[0].key[4] in l for l in tl[1:]), repr(tl))
        # A path longer than its column (a nested cgroup, 44 characters) is
        # cut to fit, keeping the leaf, so that the cells after it stay under
        # their headings (figures are never cut; these are small).
        child = h.make_cgroup(parent=A)
        e, w = tcp_batch(h, child, 1, lambda i: 6, "table, nested")
        p = log_run(h)
        tl = p.stdout.splitlines()
        at = {k: tl[0].index(k) for k in ("CGROUP", "PROTO", "TX_BYTES", "DURATION_MS")} if tl else {}
        cells = [(l[at["CGROUP"]:at["PROTO"]].rstrip(), l[at["PROTO"]:at["PROTO"] + 5].rstrip(),
                  len(l)) for l in tl[1:]] if at else []
        want = ".." + child.rel[-22:]
        h.check("table, long path: %d lines, the path cut to %r, every column under its heading"
                % (len(e), want),
                p.returncode == 0 and len(cells) == len(e) and len(child.rel) > 24 and
                all(c == (want, "tcp", len(tl[0])) for c in cells), repr(tl))
        h.remove_cgroup(child)
        # A comm with control characters (a process names itself): no byte of
        # it reaches the terminal raw; each shows as '?'.
        churn = churn_spawn(h, A, 2, "hostile comm", env={"NA_TEST_COMM": na.HOSTILE_COMM})
        churn.send("go")
        churn.expect("done", 30)
        # its listener is still open: a live row for top --batch
        p = h.netacct("top", "--batch", "-n", "1", "-d", "0.2", A.path)
        h.check("top --batch, a comm with control characters: shown as %r, "
                "no control byte in the output" % na.HOSTILE_COMM_SHOWN,
                p.returncode == 0 and " %s " % na.HOSTILE_COMM_SHOWN in p.stdout and
                not na.control_chars(p.stdout), repr(p.stdout))
        churn_close(churn)
        p = log_run(h)
        tl = p.stdout.splitlines()
        at = tl[0].index("COMM") if tl else 0
        comms = [l[at:at + 15].rstrip() for l in tl[1:]]
        h.check("table, a comm with control characters: 5 records, each %r, "
                "no control byte in the output" % na.HOSTILE_COMM_SHOWN,
                p.returncode == 0 and comms == [na.HOSTILE_COMM_SHOWN] * 5 and
                not na.control_chars(p.stdout), repr(p.stdout))

        # -- cgroup paths: made after attach, removed before the log is read ------
        class Pinned:
            """A Cgroup whose id outlives its directory."""
            def __init__(self, cg):
                self.id, self.rel = cg.id, cg.rel
        child = h.make_cgroup(parent=A)
        e, w = tcp_batch(h, child, 1, lambda i: 4, "removed child")
        gone = Pinned(child)
        h.remove_cgroup(child)
        p = log_run(h, "--json")
        recs, _ = parse_json_lines(p.stdout)
        check_records(h, "cgroup made after attach, removed before log", recs, e, gone, w)

        follow = Follow(h)
        time.sleep(0.3)
        child = h.make_cgroup(parent=A)  # made after the follower walked the tree
        e, w = tcp_batch(h, child, 1, lambda i: 6, "new child")
        follow.read_until(lambda rs: len(rs) >= len(e), 5)
        rc, err = follow.stop(signal.SIGINT)
        check_records(h, "--follow, cgroup made after it started", follow.recs, e, child, w)
        h.remove_cgroup(child)

        # -- --follow -------------------------------------------------------------
        follow = Follow(h)
        time.sleep(0.3)
        e, w = tcp_batch(h, A, 1, lambda i: 4, "follow")
        keys = {x.key for x in e}
        took = follow.read_until(lambda rs: keys <= {key_of(r) for r in rs}, 5)
        h.check("--follow: a new connection's 3 records arrive within 1 s of its close",
                took is not None and took < 1.0, "took %r s" % took)
        rc, err = follow.stop(signal.SIGTERM)
        follow = None
        h.eq("--follow: SIGTERM ends it with exit 0", rc, 0)
        h.eq("--follow: no diagnostics", err, "")

        # -- kill -9 mid-stream, then rerun: every record, at most one repeated -----
        out = "/tmp/netacct-test-log-%d.jsonl" % os.getpid()
        follow = Follow(h, out)
        churn = churn_spawn(h, A, N_CHURN, "churn")
        hello = churn.hello
        time.sleep(0.3)
        churn.send("go")
        total = 2 * N_CHURN + 1
        deadline = time.monotonic() + 60
        while follow.lines_in_file() < total // 3 and time.monotonic() < deadline:
            time.sleep(0.005)
        os.kill(follow.p.pid, signal.SIGKILL)
        rc, _ = follow.stop()
        follow = None
        with open(out) as f:
            text1 = f.read()
        os.unlink(out)
        recs1, partial = parse_json_lines(text1)
        done = churn.expect("done", 90)
        churn_close(churn)
        h.eq("kill -9: the follower died of SIGKILL", rc, -signal.SIGKILL)
        h.note("killed after %d of %d records%s" % (len(recs1), total,
                                                    " (and a partial line)" if partial else ""))
        h.check("kill -9 came in the middle of the stream",
                0 < len(recs1) < total - 1, "%d of %d printed" % (len(recs1), total))
        p = log_run(h, "--json")
        recs2, tail = parse_json_lines(p.stdout)
        h.eq("rerun after kill -9: exit 0, no diagnostics", (p.returncode, p.stderr), (0, ""))
        recs = check_resumed(h, "kill -9 + rerun", recs1, recs2)
        h.eq("kill -9 + rerun: every record printed (2 x %d connections + the listener)"
             % N_CHURN, len(recs), total)
        cport = hello["port"]
        got = sorted(r["lport"] for r in recs if r["rport"] == cport)
        want = sorted(done["ports"])
        h.check("kill -9 + rerun: one client record per connection, by its port", got == want,
                "%d client records for %d connections; missing ports %r, unexpected %r"
                % (len(got), len(want), sorted(set(want) - set(got))[:10],
                   sorted(set(got) - set(want))[:10]))
        h.check("kill -9 + rerun: 100 bytes each way on every connection",
                all((r["tx_payload_bytes"], r["rx_payload_bytes"]) == (100, 100)
                    for r in recs if r["rport"]),
                repr([r for r in recs if r["rport"] and
                      (r["tx_payload_bytes"], r["rx_payload_bytes"]) != (100, 100)][:3]))

        # -- kill -9 while blocked writing a record: that record is not consumed ---
        # Nobody reads the follower's pipe: once 64 KiB are in it, the follower
        # blocks in write() inside the callback, its record not yet consumed.
        follow = Follow(h)
        n = 300
        churn_run(h, A, n, "churn blocked reader")
        time.sleep(0.5)
        os.kill(follow.p.pid, signal.SIGKILL)
        follow.stop()
        recs1, partial = parse_json_lines(follow.buf.decode())
        p = log_run(h, "--json")
        recs2, _ = parse_json_lines(p.stdout)
        h.note("blocked follower killed with %d records in its pipe; the rerun printed %d"
               % (len(recs1), len(recs2)))
        cookies = [r["cookie"] for r in recs1 + recs2]
        h.check("kill -9 while blocked in write: every record exactly once over the two runs",
                partial == "" and len(cookies) == len(set(cookies)) == 2 * n + 1 and
                0 < len(recs1) < 2 * n + 1,
                "%d + %d records, %d distinct, expected %d; partial line %r"
                % (len(recs1), len(recs2), len(set(cookies)), 2 * n + 1, partial[:80]))

        # -- a ring buffer too small: drops are reported, never silent -------------
        h.netacct_ok("detach", "--all")
        h.attach(A, extra=("--log-size", "4096"))
        n = 30
        churn_run(h, A, n, "churn small")
        st = na.netacct_status(h)
        p = log_run(h, "--json")
        recs, _ = parse_json_lines(p.stdout)
        dropped = st.get("log_dropped")
        h.note("4 KiB buffer: %d records printed, status says %s dropped" % (len(recs), dropped))
        h.eq("small buffer: exit 0", p.returncode, 0)
        h.check("small buffer: some records were dropped", dropped and dropped > 0, repr(st))
        h.eq("small buffer: printed + dropped == sockets closed", len(recs) + (dropped or 0),
             2 * n + 1)
        h.check("small buffer: stderr reports the dropped records and the fix",
                ("%d connection records were dropped" % (dropped or -1)) in p.stderr and
                "--log-size" in p.stderr and p.stderr.startswith("netacct: log: "),
                repr(p.stderr))
        p = log_run(h, "--json")
        h.check("small buffer, next log: nothing new, but the drops are reported again",
                p.stdout == "" and "were dropped" in p.stderr, repr((p.stdout, p.stderr)))

        # --follow reports drops as they happen: stop the reader, overflow, let it go on.
        follow = Follow(h)
        time.sleep(0.5)
        os.kill(follow.p.pid, signal.SIGSTOP)
        churn_run(h, A, n, "churn stopped reader")
        os.kill(follow.p.pid, signal.SIGCONT)
        follow.read_until(lambda rs: len(rs) >= 22, 5)
        time.sleep(1.5)  # the drop counter is read every second
        rc, err = follow.stop(signal.SIGINT)
        st2 = na.netacct_status(h)
        new = st2.get("log_dropped", 0) - (dropped or 0)
        h.eq("stopped follower: SIGINT ends it with exit 0", rc, 0)
        h.eq("stopped follower: printed + dropped while stopped == sockets closed",
             len(follow.recs) + new, 2 * n + 1)
        h.check("stopped follower: stderr reports the drops while reading",
                ("%d connection records were dropped (ring buffer full) while reading" % new)
                in err, repr(err))

        # --follow ends by itself when the state goes, after printing what it held.
        follow = Follow(h)
        time.sleep(0.3)
        os.kill(follow.p.pid, signal.SIGSTOP)  # the records wait in the buffer
        e, w = tcp_batch(h, A, 1, lambda i: 6, "detach")
        h.netacct_ok("detach", "--all")
        os.kill(follow.p.pid, signal.SIGCONT)
        try:
            rc = follow.p.wait(timeout=5)
        except subprocess.TimeoutExpired:
            rc = None  # still running 5 s later
        follow.read_until(lambda rs: False, 0.5)
        err = follow.stop()[1]
        h.eq("--follow after detach --all: exits 0 by itself", rc, 0)
        h.check("... saying the log was detached", "detached" in err, repr(err))
        h.eq("... after printing the records written before the detach",
             sorted(key_of(r) for r in follow.recs), sorted(x.key for x in e))
    # (h.finish() runs on leaving the block)


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "churn":
        sys.exit(churn_main(sys.argv[2]))
    main()
