#!/usr/bin/python3
"""Attach and detach while connections flow.

The workload is na_churn (NA_CHURN_BIN) paced with --rate to 1 000
exchanges a second: three client threads at 333 a second each, TCP
connections to 127.0.0.1 (from 127.0.1.1) and to ::1, and UDP exchanges
with 127.0.0.1, for LOAD_S seconds, server and client in the same cgroup. Each TCP
connection writes and reads 100 bytes each way; the workload reports its
own TCP_INFO sums, taken once every socket is in TCP_CLOSE. While it runs,
netacct attaches and detaches a cgroup over and over (random pauses of
0-200 ms, seeded). Everywhere: every attach and detach exits 0, and every
exchange of the workload completes with its exact byte counts (zero failed
connections: accounting never drops a packet, not even while programs come
and go).

1. Child cycles: P attached throughout, the workload in C = P/child, C
   attached and detached again and again. Rows move between C's and P's
   programs at every step. Afterwards (C detached): P's cgroup row == the
   workload's sums exactly (packets, IP header and payload bytes, both
   directions; tx == rx); the closed rows == the TCP_INFO sums of exactly
   the sockets folded into each; sum(rows) + norow + overflow == P's totals,
   norow == overflow == 0: every packet counted once, none twice.
2. Parent cycles: the other way round: C attached throughout, its parent
   attached and detached again and again; C's row and closed rows exact
   as above.
3. Top-level cycles: the workload's own cgroup Q attached and detached
   again and again for the first 60 % of the load, the last attach stays:
   the last attachment, which saw sockets made before it and only part of
   the load, counts some and sum(rows) + norow + overflow == its totals,
   per packet and byte; no program of netacct left on Q after its detach.
"""

import os
import random
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import na_harness as na  # noqa: E402
from na_churnlib import (  # noqa: E402
    Churn, churn_model, check_app, check_closed_rows, check_totals, closed_rows, drop_counters,
    drop_delta, identity, settled)

RATE = 1000 / 3     # exchanges a second per client thread (na_churn --rate), 3 threads
LOAD_S = 8


def layout():
    n = int(RATE * LOAD_S)
    return [("127.0.0.1", "127.0.1.1", n), ("::1", None, n)], [("127.0.0.1", n)]


def netacct_progs(h, cg):
    return [p for p in (h.bpftool_cgroup_progs(cg) or []) if p.get("name", "").startswith("na_")]


def paced_churn(h, cg, label):
    tcp, udp = layout()
    return Churn(h, cg, tcp, udp, wait_go=True, label=label, rate="%.3f" % RATE)


def cycle(h, what, cg, ch, rng, stop_s=None):
    """Attach and detach cg until the workload is done, ending detached (every
    command must exit 0). With stop_s: until stop_s seconds into the load,
    ending attached while the load goes on."""
    t_go = time.monotonic()
    ch.go()
    fails, cycles, attached = [], 0, False
    times = {"attach": [], "detach": []}
    deadline = t_go + LOAD_S + 30
    while time.monotonic() < deadline:
        verb = "detach" if attached else "attach"
        t = time.monotonic()
        p = h.netacct(verb, cg.path)
        times[verb].append(time.monotonic() - t)
        if p.returncode != 0:
            fails.append("%s: exit %d: %s" % (verb, p.returncode, p.stderr.strip()[:200]))
            break
        attached = not attached
        if not attached:
            cycles += 1
        time.sleep(rng.uniform(0, 0.2))
        if stop_s is None and ch.client_done() and not attached:
            break
        if stop_s is not None and time.monotonic() - t_go >= stop_s and attached:
            break
    ran = time.monotonic() - t_go
    ch.wait_done(60)
    h.eq("%s: every attach and detach of %s exits 0" % (what, cg.rel), fails, [])
    h.note("%s: %d attach/detach cycles in %.1fs; attach %.0f-%.0f ms, detach %.0f-%.0f ms"
           % (what, cycles, ran, 1e3 * min(times["attach"]), 1e3 * max(times["attach"]),
              1e3 * min(times["detach"] or [0]), 1e3 * max(times["detach"] or [0])))
    load = min(s["seconds"] for s in ch.cdone["specs"])
    if stop_s is None:
        ok = ran >= load * 0.8
    else:
        ok = ran < load * 0.9 and attached
    h.check("%s: the cycles overlapped the load (%d cycles in %.1fs, client threads ran %.1fs)"
            % (what, cycles, ran, load), ok and cycles >= 5 and load >= LOAD_S * 0.9,
            "cycles %d, cycling %.1fs, load %.1fs" % (cycles, ran, load))


def check_exact(h, what, counted_by, leaf, ch, d0):
    """counted_by's attachment saw the whole workload, which ran in leaf."""
    dd = drop_delta(d0)
    h.note("%s: kernel counters (global) during the load: %s"
           % (what, ", ".join("%s %+d" % kv for kv in dd.items())))
    tcp, udp = layout()
    check_app(h, what, ch, tcp, udp)
    st, att, exp = settled(h, counted_by, what)
    row = exp.cgroup(counted_by)
    if row is None:
        raise na.HarnessError("%s: no cgroup row for %s" % (what, counted_by.rel))
    model, info = churn_model(ch)
    check_totals(h, what, na.counters(row), model, info, dd["Tcp RetransSegs"])
    crs = closed_rows(exp, leaf)
    ended = check_closed_rows(h, what, ch, crs, ch.server.pid, ch.client.pid)
    ntcp = sum(n for _, _, n in tcp)
    nudp = sum(n for _, n in udp)
    h.eq("%s: sockets folded into closed rows == 2 x %d TCP + %d UDP" % (what, ntcp, nudp),
         (ended, sum(r["conns"] for r in crs.values())), (2 * ntcp + nudp,) * 2)
    h.eq("%s: norow and overflow == 0" % what,
         (att["norow_packets"], att["overflow_packets"]), (0, 0))
    live = [r for r in exp.sockets if r["cgroup_id"] == leaf.id]
    identity(h, what, row, att, list(crs.values()) + live)


def nested_cycles(h, rng, what, cycled):
    """P and C = P/child, the workload in C; one of them attached throughout,
    the other (cycled) attached and detached under the load."""
    P = h.make_cgroup()
    C = h.make_cgroup(P)
    stays, moves = (P, C) if cycled == "child" else (C, P)
    h.attach(stays)
    ch = paced_churn(h, C, what)
    d0 = drop_counters()
    cycle(h, what, moves, ch, rng)
    h.eq("%s: no program of netacct left on %s" % (what, moves.rel), netacct_progs(h, moves), [])
    check_exact(h, what, stays, C, ch, d0)
    ch.close_servers()
    ch.finish()
    h.detach(stays)


def main():
    h = na.Harness("hotplug")
    seed = int(os.environ.get("NA_HOTPLUG_SEED", "20261122"))
    rng = random.Random(seed)
    with h:
        h.note("seed %d (NA_HOTPLUG_SEED); load: %d s, 3 client threads at %.0f exchanges/s"
               % (seed, LOAD_S, RATE))

        nested_cycles(h, rng, "child cycles", cycled="child")
        nested_cycles(h, rng, "parent cycles", cycled="parent")

        # -- 3. the workload's own cgroup attached and detached --------------------
        Q = h.make_cgroup()
        ch = paced_churn(h, Q, "top-level cycles")
        cycle(h, "top-level cycles", Q, ch, rng, stop_s=LOAD_S * 0.6)
        tcp, udp = layout()
        check_app(h, "top-level cycles", ch, tcp, udp)
        st, att, exp = settled(h, Q, "top-level cycles")
        row = exp.cgroup(Q)
        h.check("top-level cycles: the last attachment counted part of the load",
                row is not None and row["tx_packets"] > 0, repr(row))
        if row is not None:
            rows = [r for r in exp.rows if r["cgroup_id"] == Q.id and r["kind"] != "cgroup"]
            identity(h, "top-level cycles (last attachment)", row, att, rows)
        ch.close_servers()
        ch.finish()
        h.detach(Q)
        h.eq("top-level cycles: no program of netacct left on Q", netacct_progs(h, Q), [])
    h.finish()


if __name__ == "__main__":
    main()
