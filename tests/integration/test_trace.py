#!/usr/bin/python3
"""netacct trace: per-packet lines against a known exchange.

In an attached test cgroup, one process connects to its own listener on
127.0.0.1, sends 100 bytes, gets 200 back, and both ends close. A trace
running meanwhile must show, each exactly once per direction hook:

  * the client's 100-byte segment leaving (tx) and arriving (rx), and the
    server's 200-byte answer leaving (tx) and arriving (rx) - the ingress of
    a TCP response included - with IP header 20, TCP header 32 (timestamps)
    and flags PA; the SYN with TCP header 40 and flag S; the owner's pid;
  * filters applied in the kernel: --proto udp shows nothing of it, --dir
    rx only rx lines, --port the server's port only its connection;
  * the text lines: a process whose comm holds control characters is shown
    with '?' in their place (no escape sequence reaches the terminal);
  * --rate 1: the end-of-trace summary counts packets over the limit;
  * --count 3: exits 0 after 3 events, and its summary says 3 shown and
    how many matched but were not shown (past --count), so that matched ==
    shown + not shown + over the rate limit + lost (it used to say that
    everything the kernel queued was shown);
  * no cost afterwards: once the trace ends (SIGINT, or kill -9), no trace
    program is attached to the cgroup any more.
"""

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import na_harness as na  # noqa: E402

EXCHANGE = na.LOOPBACK_EXCHANGE + r"""
import os, sys, time
open(sys.argv[1] + "/cgroup.procs", "w").write(str(os.getpid()))
if os.environ.get("NA_TEST_COMM"):
    open("/proc/self/comm", "w").write(os.environ["NA_TEST_COMM"])
s, c, a = exchange()
print(os.getpid(), s.getsockname()[1], c.getsockname()[1])
time.sleep(0.2)
c.close(); a.close(); s.close()
time.sleep(0.3)
"""


class Trace:
    def __init__(self, h, *args, text=False):
        self.text = text
        self.p = subprocess.Popen([h.bin, "--pin-root", h.pin_root, "trace"] +
                                  ([] if text else ["--json"]) + list(args),
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        h.workers.append(na.Worker(self.p, "trace"))
        deadline = time.monotonic() + 10
        self.err = ""
        while "tracing" not in self.err and time.monotonic() < deadline and self.p.poll() is None:
            self.err += self.p.stderr.readline()
        if "tracing" not in self.err:
            raise na.HarnessError("trace did not start: %s" % self.err)

    def stop(self, sig=signal.SIGINT):
        self.p.send_signal(sig)
        out, err = self.p.communicate(timeout=20)
        self.err += err
        if self.text:
            return self.p.returncode, out
        return self.p.returncode, [json.loads(l) for l in out.splitlines() if l.strip()]


def exchange(h, cg, comm=None):
    r = subprocess.run(["/usr/bin/python3", "-c", EXCHANGE, cg.path], capture_output=True, text=True,
                       timeout=30, env=dict(os.environ, NA_TEST_COMM=comm or ""))
    if r.returncode != 0:
        raise na.HarnessError("exchange: %s" % r.stderr)
    pid, sport, cport = (int(x) for x in r.stdout.split())
    return pid, sport, cport


def trace_progs(h, cg):
    progs = h.bpftool_cgroup_progs(cg) or []
    return [p["name"] for p in progs if p.get("name", "").startswith("na_trace")]


def main():
    h = na.Harness("trace")
    with h:
        if not shutil.which("bpftool") and not os.path.exists("/usr/sbin/bpftool"):
            h.skip("bpftool missing")
        A = h.make_cgroup()
        h.attach(A)

        # -- the known exchange -------------------------------------------------------
        t = Trace(h)
        h.eq("while tracing: the two trace programs are on the cgroup", sorted(trace_progs(h, A)),
             ["na_trace_egress", "na_trace_ingress"])
        pid, sport, cport = exchange(h, A)
        rc, ev = t.stop()
        h.eq("trace: SIGINT ends it with exit 0", rc, 0)
        h.eq("after the trace: no trace program on the cgroup (no cost)", trace_progs(h, A), [])
        mine = [e for e in ev if {e["sport"], e["dport"]} == {sport, cport}]

        def find(direction, src_port, payload):
            return [e for e in mine if e["direction"] == direction and e["sport"] == src_port and
                    e["payload_len"] == payload]

        std = na.tcp_standard_options()
        for what, d, src, pay in (("client's 100 B leaving", "tx", cport, 100),
                                  ("client's 100 B arriving", "rx", cport, 100),
                                  ("server's 200 B answer leaving", "tx", sport, 200),
                                  ("server's 200 B answer arriving (ingress of a TCP response)", "rx", sport, 200)):
            got = find(d, src, pay)
            h.check("trace: %s: one line, IP 20, TCP %s, flags PA, owner pid" % (what, "32" if std else "?"),
                    len(got) == 1 and got[0]["ip_hdr_len"] == 20 and (got[0]["l4_hdr_len"] == 32 or not std)
                    and got[0]["tcp_flags"] == "PA" and got[0]["pid"] == pid and got[0]["segs"] == 1
                    and got[0]["len"] == 20 + got[0]["l4_hdr_len"] + pay, repr(got))
        syn = [e for e in mine if e["tcp_flags"] == "S"]
        h.check("trace: the SYN, tx and rx, TCP header 40, no payload",
                len(syn) == 2 and all(e["l4_hdr_len"] == (40 if std else e["l4_hdr_len"]) and
                                      e["payload_len"] == 0 for e in syn), repr(syn))
        h.check("trace: every line of the exchange is TCP over IPv4 in the cgroup",
                mine and all(e["proto"] == "tcp" and e["family"] == "ipv4" and e["cgroup"] == A.rel
                             for e in mine), repr(mine[:2]))
        h.check("trace: summary on stderr, nothing lost", "0 over the rate limit" in t.err and
                "0 lost" in t.err, t.err)

        # -- the text lines: a comm with control characters shows them as '?' -----------
        t = Trace(h, text=True)
        pid, sport, cport = exchange(h, A, comm=na.HOSTILE_COMM)
        rc, out = t.stop()
        lines = [l for l in out.splitlines() if " %d " % pid in l]
        h.check("text: the exchange's lines name the process %r and the cgroup; "
                "no control byte in the output" % na.HOSTILE_COMM_SHOWN,
                rc == 0 and len(lines) >= 8 and
                all(" %s " % na.HOSTILE_COMM_SHOWN in l and A.rel in l for l in lines)
                and not na.control_chars(out), repr(out[:600]))

        # -- filters in the kernel -------------------------------------------------------
        t = Trace(h, "--proto", "udp")
        exchange(h, A)
        rc, ev = t.stop()
        h.eq("--proto udp: nothing of the TCP exchange", (rc, ev), (0, []))
        t = Trace(h, "--dir", "rx")
        pid, sport, cport = exchange(h, A)
        rc, ev = t.stop()
        h.check("--dir rx: only rx lines, and the exchange's are there",
                rc == 0 and ev and all(e["direction"] == "rx" for e in ev), repr(ev[:3]))
        t = Trace(h, "--port", "1")
        exchange(h, A)
        rc, ev = t.stop()
        h.eq("--port 1: nothing (no socket uses port 1)", (rc, ev), (0, []))

        # -- rate limit, count -------------------------------------------------------------
        t = Trace(h, "--rate", "1")
        exchange(h, A)
        rc, ev = t.stop()
        over = [int(w) for w in t.err.replace(",", " ").split() if w.isdigit()]
        h.check("--rate 1: at most one line per CPU and second, the rest counted as over the limit",
                rc == 0 and 0 < len(ev) <= 2 * (os.cpu_count() or 1) and "over the rate limit" in t.err
                and len(over) >= 3 and over[2] > 0, repr((len(ev), t.err[-300:])))
        t = Trace(h, "--count", "3")
        exchange(h, A)
        try:
            rc = t.p.wait(timeout=10)
        except subprocess.TimeoutExpired:
            rc = None
        out = t.p.stdout.read()
        h.eq("--count 3: ends by itself with exit 0 after 3 lines",
             (rc, len([l for l in out.splitlines() if l.strip()])), (0, 3))
        err = t.err + t.p.stderr.read()
        m = re.search(r"(\d+) packets matched, (\d+) shown, (\d+) over the rate limit \(--rate\), "
                      r"(\d+) lost \(ring buffer full\)(?:, (\d+) not shown \(past --count 3\))?", err)
        if h.check("--count 3: a summary on stderr", m is not None, err):
            matched, shown, rate, lost, unshown = (int(x or 0) for x in m.groups())
            h.eq("--count 3: the summary says 3 shown", shown, 3)
            h.eq("--count 3: matched == shown + not shown (past --count) + over the rate limit + lost",
                 matched, shown + unshown + rate + lost)
            h.check("--count 3: the exchange matched more than 3 packets", matched > 3, err)

        # -- kill -9: the programs go with the process --------------------------------------
        t = Trace(h)
        t.p.kill()
        t.p.wait(timeout=10)
        deadline = time.monotonic() + 5
        while trace_progs(h, A) and time.monotonic() < deadline:
            time.sleep(0.1)
        h.eq("trace killed with SIGKILL: no trace program left on the cgroup", trace_progs(h, A), [])


if __name__ == "__main__":
    main()
