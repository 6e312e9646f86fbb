#!/usr/bin/python3
"""Attach/detach lifecycle against real traffic.

  * attach returns and counting goes on without any netacct process:
    traffic generated afterwards is exported exactly (rows == ss);
  * bpftool sees netacct's programs (one per hook) on the cgroup; attaching again
    is a no-op (exit 0, still one set, counters kept);
  * export --json carries the same rows as export --csv;
  * a connection opened BEFORE attach is counted from the attach on:
    its row == ss counters now minus ss counters at attach (idle socket);
  * detach leaves no program on the cgroup, stops counting (traffic after
    detach is not seen by a later attach), removes the pin root when the
    last cgroup goes; detaching an unattached cgroup fails (exit 1);
  * detach --all detaches every cgroup and removes the pin root.
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import na_harness as na  # noqa: E402

NETACCT_TYPES = na.NA_ATTACH_TYPES


def prog_types(h, cg):
    progs = h.bpftool_cgroup_progs(cg)
    if progs is None:
        return None
    return sorted(p.get("attach_type") for p in progs)


def check_progs(h, what, cg, attached):
    types = prog_types(h, cg)
    if types is None:
        h.note("bpftool not installed: %s not checked" % what)
        return
    if attached:
        h.eq(what, types, sorted(NETACCT_TYPES))
    else:
        h.eq(what, types, [])


def run_flows(h, cg, tag, udp=True, counted=True):
    """TCP rr + UDP inside cg, checked exactly while open (or checked to have
    no rows when not counted); then closed."""
    flows = [na.TcpFlow(h, 4, "rr", (300,), (300,), cg, cg, tag + " tcp")]
    if udp:
        flows.append(na.UdpFlow(h, 6, 200, "connected", cg, cg, tag + " udp"))
    ports = na.flows_done(flows)
    exp, socks = h.snapshot(ports)
    rows = []
    for f in flows:
        r = (na.check_tcp_flow(h, f, exp, socks, counted, counted)
             if isinstance(f, na.TcpFlow) else na.check_udp_flow(h, f, exp, counted, counted))
        rows += [x for x in r.values() if x]
    for f in flows:
        f.close()
    return exp, rows


def main():
    h = na.Harness("lifecycle")
    with h:
        A = h.make_cgroup()
        B = h.make_cgroup()

        # -- attach, then traffic with no netacct process running ----------------
        check_progs(h, "no programs on a fresh cgroup", A, False)
        p = h.netacct("attach", A.path)
        h.eq("attach exits 0", p.returncode, 0)
        h.check("pin root exists after attach", os.path.isdir(h.pin_root), h.pin_root)
        check_progs(h, "bpftool shows netacct's programs on the attached cgroup", A, True)
        exp, rows = run_flows(h, A, "after attach")
        h.eq("cgroup row == sum of socket rows (fresh attach)",
             na.counters(exp.cgroup(A)), na.counters_sum(rows))

        # -- attach again: a message, exit 0, nothing reset or doubled ----------
        before = na.counters(h.export().cgroup(A))
        p = h.netacct("attach", A.path)
        h.eq("attaching an attached cgroup again exits 0", p.returncode, 0)
        h.check("attaching again says so", (p.stdout + p.stderr).strip() != "",
                "no message")
        check_progs(h, "still exactly one set of programs after attaching again", A, True)
        h.eq("counters kept across the second attach", na.counters(h.export().cgroup(A)),
             before)

        # -- a cgroup made after attach, then removed: its rows keep its path ----
        C = h.make_cgroup(A)
        f = na.TcpFlow(h, 4, "rr", (20,), (20,), C, C, "child")
        f.wait_done()
        exp = h.export()
        live = [r for r in exp.sockets if r["cgroup_id"] == C.id]
        h.check("rows of a cgroup created after attach show its path",
                live and all(r["cgroup"] == C.rel for r in live), repr(live))
        f.close()
        h.wait_tcp_gone(f.ports)
        cid, crel = C.id, C.rel
        h.remove_cgroup(C)
        closed = [r for r in h.export().rows if r["kind"] == "closed" and r["cgroup_id"] == cid]
        h.check("closed rows of the removed cgroup (client and server side)", len(closed) >= 2,
                repr(closed))
        h.check("... show its last path %s" % crel,
                closed and all(r["cgroup"] == crel for r in closed), repr(closed))
        # No netacct run sees D alive: only the kernel's cgroup_mkdir record names it.
        D = h.make_cgroup(A)
        f = na.TcpFlow(h, 4, "rr", (20,), (20,), D, D, "unseen child")
        f.wait_done()
        f.close()
        h.wait_tcp_gone(f.ports)
        did, drel = D.id, D.rel
        h.remove_cgroup(D)
        closed = [r for r in h.export().rows if r["kind"] == "closed" and r["cgroup_id"] == did]
        h.check("a cgroup made and removed between two exports: its closed rows show %s" % drel,
                len(closed) >= 2 and all(r["cgroup"] == drel for r in closed), repr(closed))

        # -- export --json == export --csv ---------------------------------------
        f = na.TcpFlow(h, 6, "rr", (50,), (50,), A, A, "json")
        f.wait_done()
        exp_csv, _ = h.snapshot(f.ports)
        exp_json = h.export_json()
        cols = na.EXPORT_COLUMNS
        h.eq("export --json rows == export --csv rows",
             sorted((tuple(r.get(c) for c in cols) for r in exp_json.rows), key=repr),
             sorted((tuple(r.get(c) for c in cols) for r in exp_csv.rows), key=repr))
        h.check("export --json has every CSV key", all(
            set(cols) <= set(r) for r in exp_json.rows))
        f.close()

        # -- a connection opened before attach counts from the attach on ---------
        h.detach(A)
        check_progs(h, "detach leaves no program on the cgroup", A, False)
        h.check("pin root removed when the last cgroup is detached",
                not os.path.exists(h.pin_root), h.pin_root)
        p = h.netacct("detach", A.path)
        h.eq("detaching an unattached cgroup exits 1", p.returncode, 1)
        h.check("... with a message on stderr", p.stderr.strip() != "", repr(p.stderr))

        f = na.TcpFlow(h, 4, "rr", (600, 200), (600,), A, A, "pre-attach")
        f.client.expect("paused")
        s0 = h.ss_settled(f.ports)
        c0 = na.ss_find(s0, *f.client_tuple())
        d0 = na.ss_find(s0, *f.server_tuple())
        p = h.netacct("attach", A.path)
        h.eq("re-attach exits 0", p.returncode, 0)
        exp = h.export()
        h.eq("re-attach: cgroup row starts at zero (traffic while detached not counted)",
             na.counters(exp.cgroup(A)), na.counters(None))
        h.eq("re-attach: idle pre-attach connection has no row yet",
             exp.sockets_with_port(f.ports), [])
        f.client.send("go")
        f.wait_done()
        exp, socks = h.snapshot(f.ports)
        c1 = na.ss_find(socks, *f.client_tuple())
        d1 = na.ss_find(socks, *f.server_tuple())
        for lbl, tup, a, b, hs in (("client", f.client_tuple(), c0, c1, 0),
                                   ("server", f.server_tuple(), d0, d1, 0)):
            row = exp.socket("tcp", *tup)
            if not h.check("pre-attach %s socket has a row" % lbl, row is not None):
                continue
            h.eq("pre-attach %s tx_payload == ss bytes_sent since attach" % lbl,
                 row["tx_payload_bytes"], b.bytes_sent - a.bytes_sent)
            h.eq("pre-attach %s tx_packets == ss segs_out since attach" % lbl,
                 row["tx_packets"], b.segs_out - a.segs_out)
            h.eq("pre-attach %s rx_packets == ss segs_in since attach" % lbl,
                 row["rx_packets"], b.segs_in - a.segs_in - hs)
            h.eq("pre-attach %s rx_payload == ss bytes_received since attach" % lbl,
                 row["rx_payload_bytes"], b.bytes_received - a.bytes_received)
        h.eq("pre-attach: cgroup row == sum of the two rows",
             na.counters(exp.cgroup(A)), na.counters_sum(exp.sockets_with_port(f.ports)))
        f.close()

        # -- detach stops counting ------------------------------------------------
        h.detach(A)
        h.netacct_ok("attach", B.path)
        run_flows(h, A, "while detached", counted=False)
        exp = h.export()
        h.eq("traffic of a detached cgroup is not exported", [
            r for r in exp.rows if r["cgroup_id"] == A.id], [])
        h.eq("... nor counted anywhere", na.counters(exp.cgroup(B)), na.counters(None))

        # -- detach --all ------------------------------------------------------------
        h.netacct_ok("attach", A.path)
        check_progs(h, "programs on A again", A, True)
        check_progs(h, "programs on B", B, True)
        p = h.netacct("detach", "--all")
        h.eq("detach --all exits 0", p.returncode, 0)
        check_progs(h, "detach --all: no program on A", A, False)
        check_progs(h, "detach --all: no program on B", B, False)
        h.check("detach --all removes the pin root", not os.path.exists(h.pin_root),
                h.pin_root)


if __name__ == "__main__":
    main()
