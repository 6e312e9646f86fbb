#!/usr/bin/python3
"""Nested attachments: parent P and child C = P/child both attached.

Clients run in C, servers in P (TCP and UDP on loopback). The programs of
both attachments run for C's packets; netacct must still count every socket
row once, and the cgroup rows like cgroup statistics:
  * socket rows == ss -tin / application counts exactly (a double count
    would show 2x);
  * C's row == the sum of the socket rows in C;
  * P's row == the sum of all socket rows (P's whole subtree);
  * after close, both ends inside P: P's tx == P's rx.
Done with P attached first, then again with C attached first. Then C is
detached while a paced bulk transfer runs: P takes C's socket rows over and
the rows still match ss exactly (nothing lost, nothing counted twice); C's
row and C's programs are gone. Last, the other way round: rows created by P,
C attached later, P detached mid-flow: C takes the rows over, still exact.
"""

import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import na_harness as na  # noqa: E402

MiB = 1 << 20


def cgroup_row(h, exp, cg, what):
    row = exp.cgroup(cg)
    if row is None:
        raise na.HarnessError("%s: no cgroup row for %s in %r" % (what, cg.rel, exp.cgroups))
    return row


def check_nested(h, tag, P, C, flows):
    ports = na.flows_done(flows)
    exp, socks = h.snapshot(ports)
    in_c, in_p = [], []
    tcp_truth = {"C": 0, "P": 0}
    for f in flows:
        if isinstance(f, na.TcpFlow):
            rows = na.check_tcp_flow(h, f, exp, socks)
            c_ss = na.ss_find(socks, *f.client_tuple())
            s_ss = na.ss_find(socks, *f.server_tuple())
            tcp_truth["C"] += c_ss.bytes_sent
            tcp_truth["P"] += c_ss.bytes_sent + s_ss.bytes_sent
        else:
            rows = na.check_udp_flow(h, f, exp)
            tcp_truth["C"] += f.cdone["sent"]
            tcp_truth["P"] += f.cdone["sent"] + f.sdone["sent"]
        if rows["client"] is not None:
            in_c.append(rows["client"])
        in_p += [r for k, r in rows.items() if k != "client" and r is not None]
    crow = cgroup_row(h, exp, C, tag)
    prow = cgroup_row(h, exp, P, tag)
    h.eq("%s: child row == sum of the child's socket rows" % tag,
         na.counters(crow), na.counters_sum(in_c))
    h.eq("%s: parent row == sum of all socket rows of its subtree" % tag,
         na.counters(prow), na.counters_sum(in_c + in_p))
    h.eq("%s: child tx payload == ss bytes_sent / app bytes of the child's sockets" % tag,
         crow["tx_payload_bytes"], tcp_truth["C"])
    h.eq("%s: parent tx payload == ss bytes_sent / app bytes of all sockets (not 2x)" % tag,
         prow["tx_payload_bytes"], tcp_truth["P"])
    h.eq("%s: parent row path" % tag, prow["cgroup"], P.rel)
    h.eq("%s: child row path" % tag, crow["cgroup"], C.rel)

    for f in flows:
        f.close()
    exp2, _ = h.snapshot(ports)
    h.eq("%s: socket rows gone after close" % tag, exp2.sockets_with_port(ports), [])
    p2 = na.counters(cgroup_row(h, exp2, P, tag))
    c2 = na.counters(cgroup_row(h, exp2, C, tag))
    for c in na.COUNTERS:
        h.eq("%s: after close, parent tx_%s == rx_%s (both ends in its subtree)" % (tag, c, c),
             p2["tx_" + c], p2["rx_" + c])
    h.eq("%s: after close, payloads unchanged (parent, child)" % tag,
         (p2["tx_payload_bytes"], c2["tx_payload_bytes"]),
         (prow["tx_payload_bytes"], crow["tx_payload_bytes"]))


def workloads(P, C, label):
    return lambda h: [
        na.TcpFlow(h, 4, "bulk", (16 * MiB, 7919, 8 * MiB), (8 * MiB, 65537, 16 * MiB), C, P,
                   label + " v4 bulk"),
        na.TcpFlow(h, 6, "rr", (1000,), (1000,), C, P, label + " v6 rr"),
        na.UdpFlow(h, 4, 500, "unconnected", C, P, label + " udp"),
    ]


PACED_TOTAL = 128 * MiB


def start_paced_flows(h, P, C, tag, label, pace_us=100):
    """Two paced bulk transfers (v4, v6), clients in C, servers in P, that
    last ~0.3-0.5 s (pace_us=100; each 64 KiB write is followed by a pause
    of pace_us) so that a detach (a few ms) falls in the middle with
    packets in flight. Returns the flows and their client rows once both
    have sent more than 4 MiB."""
    flows = [na.TcpFlow(h, fam, "bulk", (PACED_TOTAL, 65537, 4 * MiB, pace_us),
                        (4 * MiB, 7919, PACED_TOTAL), C, P, "%s v%d" % (label, fam))
             for fam in (4, 6)]
    deadline = time.monotonic() + 10
    while True:
        exp = h.export()
        rows = [exp.socket("tcp", *f.client_tuple()) for f in flows]
        if all(r and r["tx_payload_bytes"] > 4 * MiB for r in rows):
            return flows, rows
        if time.monotonic() > deadline:
            raise na.HarnessError("%s: the transfers did not start" % tag)
        time.sleep(0.005)


def detach_while_flowing(h):
    tag = "detach child mid-flow"
    P = h.make_cgroup()
    C = h.make_cgroup(P)
    h.attach(P, C)
    flows, rows = start_paced_flows(h, P, C, tag, "mid-detach")
    h.detach(C)
    socks = na.ss_tcp()
    for f, row in zip(flows, rows):
        c_ss = na.ss_find(socks, *f.client_tuple())
        h.check("%s: %s row counted before the detach, still running after it" % (tag, f.label),
                row["tx_payload_bytes"] < PACED_TOTAL and c_ss is not None and
                c_ss.bytes_acked - 1 < PACED_TOTAL,
                "before %d, acked after %s, of %d" % (row["tx_payload_bytes"],
                                                      c_ss and c_ss.bytes_acked - 1, PACED_TOTAL))
    progs = h.bpftool_cgroup_progs(C)
    if progs is not None:
        h.eq("%s: no program left on the child" % tag, progs, [])
    ports = na.flows_done(flows)
    exp, socks = h.snapshot(ports)
    h.eq("%s: child has no cgroup row after its detach" % tag, exp.cgroup(C), None)
    rows, truth = [], 0
    for f in flows:
        rows += [r for r in na.check_tcp_flow(h, f, exp, socks).values() if r]
        truth += na.ss_find(socks, *f.client_tuple()).bytes_sent
        truth += na.ss_find(socks, *f.server_tuple()).bytes_sent
    prow = cgroup_row(h, exp, P, tag)
    h.eq("%s: parent row == sum of all socket rows" % tag, na.counters(prow),
         na.counters_sum(rows))
    h.eq("%s: parent tx payload == all sockets' ss bytes_sent" % tag,
         prow["tx_payload_bytes"], truth)
    for f in flows:
        f.close()
    h.detach(P)


def detach_parent_while_flowing(h):
    tag = "detach parent mid-flow"
    P = h.make_cgroup()
    C = h.make_cgroup(P)
    h.attach(P)
    # Slower: an attach and a detach (~0.2 s) must both fall inside the transfer.
    flows, _ = start_paced_flows(h, P, C, tag, "parent-detach", pace_us=500)
    # The clients' rows belong to P (C was not attached when they began).
    h.attach(C)
    time.sleep(0.05)
    h.detach(P)
    socks = na.ss_tcp()
    for f in flows:
        c_ss = na.ss_find(socks, *f.client_tuple())
        h.check("%s: %s still running after the detach" % (tag, f.label),
                c_ss is not None and c_ss.bytes_acked - 1 < PACED_TOTAL,
                "acked %s of %d" % (c_ss and c_ss.bytes_acked - 1, PACED_TOTAL))
    ports = na.flows_done(flows)
    exp, socks = h.snapshot(ports)
    for f in flows:
        row = exp.socket("tcp", *f.client_tuple())
        c_ss = na.ss_find(socks, *f.client_tuple())
        s_ss = na.ss_find(socks, *f.server_tuple())
        if row is None or c_ss is None or s_ss is None:
            h.check("%s: %s client row and ss entries present" % (tag, f.label), False,
                    "row %r ss %r/%r" % (row, c_ss, s_ss))
            continue
        h.eq("%s: %s client tx_payload == ss bytes_sent" % (tag, f.label),
             row["tx_payload_bytes"], c_ss.bytes_sent)
        h.eq("%s: %s client tx_packets == ss segs_out" % (tag, f.label),
             row["tx_packets"], c_ss.segs_out)
        h.eq("%s: %s client rx_payload == server ss bytes_sent" % (tag, f.label),
             row["rx_payload_bytes"], s_ss.bytes_sent)
    h.eq("%s: parent has no cgroup row after its detach" % tag, exp.cgroup(P), None)
    for f in flows:
        f.close()
    h.detach(C)


def main():
    h = na.Harness("nested")
    with h:
        # parent first, then child
        P = h.make_cgroup()
        C = h.make_cgroup(P)
        h.attach(P)
        h.attach(C)
        exp = h.export()
        h.check("parent then child: both have a cgroup row",
                exp.cgroup(P) is not None and exp.cgroup(C) is not None, repr(exp.cgroups))
        check_nested(h, "parent then child", P, C, workloads(P, C, "pc")(h))
        h.detach(C, P)

        # child first, then parent
        P2 = h.make_cgroup()
        C2 = h.make_cgroup(P2)
        h.attach(C2)
        h.attach(P2)
        check_nested(h, "child then parent", P2, C2, workloads(P2, C2, "cp")(h))
        h.detach(P2, C2)

        detach_while_flowing(h)
        detach_parent_while_flowing(h)
        h.check("pin root removed once nothing is attached", not os.path.exists(h.pin_root),
                h.pin_root)


if __name__ == "__main__":
    main()
