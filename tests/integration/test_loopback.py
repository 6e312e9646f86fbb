#!/usr/bin/python3
"""Loopback integration test: exact per-socket and per-cgroup numbers.

One test cgroup is attached. Workloads run on 127.0.0.1 and ::1 with both
endpoints inside it (TCP bulk with odd write sizes, thousands of small
request/response messages, UDP connected and unconnected, IPv6), then with
one or both endpoints outside it. For every scenario, while the sockets are
still open and idle:
  * each socket row matches ss -tin exactly (see check_tcp_flow) or the
    application's counts (UDP);
  * the cgroup row == its value before the scenario + the sum of the live
    socket rows (nothing counted twice, nothing lost);
and after every socket closed:
  * the socket rows are gone, the cgroup's payload did not move (FIN/ACK
    carry none), TCP teardown added 3 or 4 packets per connection each way;
  * with both endpoints inside on loopback, everything sent was received:
    cgroup tx == rx for all four counters, and tx payload == all bytes the
    applications wrote + all bytes ss reported retransmitted.
Traffic between processes outside the cgroup changes nothing.
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import na_harness as na  # noqa: E402

MiB = 1 << 20


class Ledger:
    """What the cgroup row must show, kept from independent truths."""

    def __init__(self, h, cg):
        self.h, self.cg = h, cg
        self.base = na.counters(None)   # cgroup row at the last quiet point
        self.app_tx = 0                 # bytes the inside applications wrote
        self.retrans = 0                # bytes ss reported retransmitted (inside sockets)

    def cgroup_row(self, exp, when):
        row = exp.cgroup(self.cg)
        if row is None:
            raise na.HarnessError("%s: export has no cgroup row for %s (cgroup_id %d)"
                                  % (when, self.cg.rel, self.cg.id))
        return row


def scenario(h, led, name, flows, both_inside=True, tcp_conns=0):
    """Run flows to completion; check live rows, the cgroup row, then teardown."""
    h.note("scenario: %s" % name)
    drops0 = na.softnet_dropped()
    ports = na.flows_done(flows)
    exp, socks = h.snapshot(ports)
    drops = na.softnet_dropped() != drops0
    if drops:
        h.note("softnet_stat reports dropped packets during %s" % name)
    mine = []
    for f in flows:
        cin = f.client_cg is not None
        sin = f.server_cg is not None
        if isinstance(f, na.TcpFlow):
            rows = na.check_tcp_flow(h, f, exp, socks, cin, sin, drops)
            for side, inside in (("client", cin), ("server", sin)):
                if inside:
                    me = na.ss_find(socks, *(f.client_tuple() if side == "client"
                                             else f.server_tuple()))
                    led.retrans += me.bytes_retrans
        else:
            rows = na.check_udp_flow(h, f, exp, cin, sin)
        mine += [r for r in rows.values() if r is not None]
        if cin:
            led.app_tx += f.cdone["sent"]
        if sin:
            led.app_tx += f.sdone["sent"]
    others = [r for r in exp.sockets_with_port(ports) if r not in mine]
    h.check("%s: no socket rows besides the flows' own" % name, not others, repr(others))

    live = led.cgroup_row(exp, name)
    want = {k: led.base[k] + v for k, v in na.counters_sum(mine).items()}
    h.eq("%s: cgroup row == before + sum of live socket rows" % name, na.counters(live), want)
    h.eq("%s: cgroup row identity columns empty" % name,
         (live["pid"], live["laddr"], live["lport"], live["raddr"], live["rport"]),
         (None, "", None, "", None))

    for f in flows:
        f.close()
    exp2, _ = h.snapshot(ports)
    after = na.counters(led.cgroup_row(exp2, name + " after close"))
    h.eq("%s: socket rows gone after close" % name, exp2.sockets_with_port(ports), [])
    h.eq("%s: payload unchanged by close (tx, rx)" % name,
         (after["tx_payload_bytes"], after["rx_payload_bytes"]),
         (live["tx_payload_bytes"], live["rx_payload_bytes"]))
    if both_inside:
        d = na.counters_sub(after, na.counters(live))
        h.between("%s: teardown packets out (FIN, ACK [+ACK], FIN per connection)" % name,
                  d["tx_packets"], 3 * tcp_conns, 4 * tcp_conns)
        h.eq("%s: teardown packets in == out (both ends inside)" % name,
             d["rx_packets"], d["tx_packets"])
    led.base = after
    return exp, socks


def main():
    h = na.Harness("loopback")
    with h:
        cg = h.make_cgroup()
        p = h.attach(cg)
        h.check("attach returns, exit 0", p.returncode == 0)
        led = Ledger(h, cg)
        exp = h.export()
        row = exp.cgroup(cg)
        if h.check("cgroup row present right after attach", row is not None, repr(exp.rows)):
            h.eq("cgroup row path as /proc/PID/cgroup shows it", row["cgroup"], cg.rel)
            h.eq("cgroup row starts at zero", na.counters(row), na.counters(None))
        h.eq("no socket rows before any traffic", exp.sockets, [])

        # 1. TCP bulk, both directions at once, odd write sizes.
        n = 64 * MiB
        f = na.TcpFlow(h, 4, "bulk", (n, 7919, n + 3), (n + 3, 65537, n), cg, cg, "v4 bulk")
        scenario(h, led, "IPv4 TCP bulk 64 MiB each way", [f], tcp_conns=1)

        # 2. Many small request/response messages on one connection.
        f = na.TcpFlow(h, 4, "rr", (5000,), (5000,), cg, cg, "v4 rr")
        scenario(h, led, "IPv4 TCP 5000 request/response", [f], tcp_conns=1)

        # 3. UDP, connected and unconnected clients, concurrently.
        f1 = na.UdpFlow(h, 4, 2000, "connected", cg, cg, "v4 udp conn")
        f2 = na.UdpFlow(h, 4, 2000, "unconnected", cg, cg, "v4 udp unconn")
        scenario(h, led, "IPv4 UDP 2000 datagrams each way x2", [f1, f2])

        # 4. IPv6: TCP bulk + request/response + UDP at the same time.
        n6 = 16 * MiB
        f1 = na.TcpFlow(h, 6, "bulk", (n6, 65537, n6), (n6, 7919, n6), cg, cg, "v6 bulk")
        f2 = na.TcpFlow(h, 6, "rr", (1000,), (1000,), cg, cg, "v6 rr")
        f3 = na.UdpFlow(h, 6, 1000, "connected", cg, cg, "v6 udp conn")
        f4 = na.UdpFlow(h, 6, 1000, "unconnected", cg, cg, "v6 udp unconn")
        scenario(h, led, "IPv6 TCP bulk + rr + UDP", [f1, f2, f3, f4], tcp_conns=2)

        # 5. All of it closed: every packet sent inside was received inside.
        tot = led.base
        for c in na.COUNTERS:
            h.eq("totals: tx_%s == rx_%s (both endpoints inside, loopback)" % (c, c),
                 tot["tx_" + c], tot["rx_" + c])
        h.eq("totals: tx payload == bytes written by the applications + bytes retransmitted",
             tot["tx_payload_bytes"], led.app_tx + led.retrans)

        # 6. Traffic outside the cgroup is not counted; mixed flows only for
        # the inside end.
        before = dict(led.base)
        f1 = na.TcpFlow(h, 4, "bulk", (8 * MiB, 7919, MiB), (MiB, 65537, 8 * MiB), None, None,
                        "outside tcp")
        f2 = na.UdpFlow(h, 6, 300, "unconnected", None, None, "outside udp")
        scenario(h, led, "both ends outside", [f1, f2], both_inside=False)
        h.eq("outside traffic left the cgroup row unchanged", led.base, before)

        f1 = na.TcpFlow(h, 4, "rr", (500,), (500,), cg, None, "in-client")
        f2 = na.TcpFlow(h, 6, "bulk", (4 * MiB, 7919, MiB), (MiB, 65537, 4 * MiB), None, cg,
                        "in-server")
        f3 = na.UdpFlow(h, 4, 300, "connected", cg, None, "in-udp-client")
        f4 = na.UdpFlow(h, 4, 300, "connected", None, cg, "in-udp-server")
        scenario(h, led, "one end inside, the other outside", [f1, f2, f3, f4],
                 both_inside=False)


if __name__ == "__main__":
    main()
