#!/usr/bin/python3
"""The na_churn workload (tests/integration/na_churn.c) for the integration
tests that churn connections (test_scale.py, test_hotplug.py; test_export.py
uses churn_bin): spawning the server and client, the totals and closed rows
its own TCP_INFO sums predict, and the checks of netacct's views against
them."""

import json
import os
import time

import na_harness as na

COMM = "na_churn"
TCP_MSG = 100  # bytes each way of a TCP connection (na_churn.c's TCP_MSG)
HELPER_DEADLINE = "180"


def fan_up(i):
    return 200000 + i if i % 500 == 499 else 1000 + i % 997


def fan_down(i):
    return 500 + i % 509


def udp_req(i):
    return 1 + (i * 37) % 1400


def udp_resp(q):
    return 1 + (q * 53) % 1400


def fam(addr):
    return 6 if ":" in addr else 4


def fam_of_row(v):
    return 4 if na.family_matches(v, 4) else 6 if na.family_matches(v, 6) else v


def churn_bin(required=True):
    """The na_churn helper: NA_CHURN_BIN, or next to the netacct build. Without
    it: SkipTest, or None when not required."""
    b = os.environ.get("NA_CHURN_BIN", "")
    if not b:
        here = os.path.dirname(os.environ.get("NETACCT_BIN", ""))
        cand = os.path.join(os.path.dirname(here), "tests", "integration", "na_churn")
        b = cand if os.path.exists(cand) else ""
    if not (b and os.access(b, os.X_OK)):
        if not required:
            return None
        raise na.SkipTest("NA_CHURN_BIN (the na_churn helper) is not set or not executable")
    return b


def spawn_churn(h, cg, label, *args):
    w = h.spawn([churn_bin()] + [str(a) for a in args], cgroup=cg, label=label,
                env={"NA_CHURN_DEADLINE": HELPER_DEADLINE})
    hello = w.expect("hello", 30)
    if hello.get("cgroup") != cg.rel:
        raise na.HarnessError("%s runs in %r, expected %r" % (label, hello.get("cgroup"), cg.rel))
    return w


class Churn:
    """A na_churn server process and a client process, both in cg."""

    def __init__(self, h, cg, tcp, udp, wait_go=False, label="churn", rate=None):
        self.h, self.tcp, self.udp = h, tcp, udp
        sspec = ["tcp/%s/%d" % (a, n) for a, _, n in tcp] + ["udp/%s/%d" % (a, n) for a, n in udp]
        self.server = spawn_churn(h, cg, label + " server", "server", ",".join(sspec))
        self.listening = self.server.expect("listening", 30)["specs"]
        cspec = []
        for e, t in zip(self.listening, tcp + udp):
            s = "%s/%s/%d/%d" % (e["proto"], e["addr"], e["port"], e["count"])
            if e["proto"] == "tcp" and t[1]:
                s += "/" + t[1]
            cspec.append(s)
        argv = ((["--wait-go"] if wait_go else []) + (["--rate", str(rate)] if rate else [])
                + ["client", ",".join(cspec)])
        self.client = spawn_churn(h, cg, label + " client", *argv)
        self.client.expect("ready", 30)
        self.cdone = self.sdone = None

    @property
    def tcp_eps(self):
        return [e for e in self.listening if e["proto"] == "tcp"]

    def go(self):
        self.client.send("go")

    def client_done(self):
        """Whether the client has reported "done" (without waiting)."""
        return self.client.poll("done")

    def wait_done(self, timeout=150):
        self.cdone = self.client.expect("done", timeout)
        self.sdone = self.server.expect("done", timeout)
        errs = [s["error"] for s in self.cdone["specs"] + self.sdone["specs"] if s["error"]]
        if errs:
            raise na.HarnessError("workload errors: %s" % errs[:4])
        return self

    def pairs(self):
        """(listening endpoint, client sums, server sums, source address) per spec."""
        srcs = [t[1] for t in self.tcp] + [None] * len(self.udp)
        return list(zip(self.listening, self.cdone["specs"], self.sdone["specs"], srcs))

    def close_servers(self):
        self.server.send("close")
        self.server.expect("closed", 30)

    def finish(self):
        self.client.finish()
        self.server.finish()


def churn_model(ch):
    """The cgroup totals the workload's own sums predict, with the parts needed
    for the header byte checks."""
    m = {k: 0 for k in na.COUNTER_COLUMNS}
    info = dict(tcp_conns=0, udp_conns=0, app=0, retrans=0, retrans_segs=0, tcp_pk=0, udp_dg=0,
                not_closed=0, close_polls=0, syn=0)
    pk = {4: [0, 0], 6: [0, 0]}   # family -> [tx, rx] packets
    for e, c, s, _ in ch.pairs():
        f = e["family"]
        if e["proto"] == "tcp":
            n = c["conns"]
            info["tcp_conns"] += n
            tx = c["segs_out"] + s["segs_out"] + n     # + SYN-ACKs sent by the listener
            rx = c["segs_in"] + s["segs_in"]           # child's segs_in counts SYN and ACK
            m["tx_payload_bytes"] += c["bytes_sent"] + s["bytes_sent"]
            m["rx_payload_bytes"] += c["bytes_sent"] + s["bytes_sent"]
            info["app"] += c["app_sent"] + s["app_sent"]
            info["retrans"] += c["bytes_retrans"] + s["bytes_retrans"]
            info["retrans_segs"] += c["total_retrans"] + s["total_retrans"]
            info["tcp_pk"] += tx
            info["not_closed"] += c["not_closed"] + s["not_closed"]
            info["close_polls"] += s["close_polls"]
            info["syn"] += 2 * n                         # SYN and SYN-ACK: 40-byte headers
        else:
            n = c["conns"]
            info["udp_conns"] += n
            tx = rx = c["datagrams"]
            m["tx_payload_bytes"] += c["app_sent"] + s["app_sent"]
            m["rx_payload_bytes"] += c["app_received"] + s["app_received"]
            info["app"] += c["app_sent"] + s["app_sent"]
            info["udp_dg"] += c["datagrams"]
        m["tx_packets"] += tx
        m["rx_packets"] += rx
        pk[f][0] += tx
        pk[f][1] += rx
    for i, d in enumerate(("tx", "rx")):
        m[d + "_ip_hdr_bytes"] = 20 * pk[4][i] + 40 * pk[6][i]
    info["pk"] = pk
    return m, info


def check_app(h, what, ch, tcp, udp):
    """Every exchange completed with the exact byte counts."""
    for e, c, s, _ in ch.pairs():
        n = e["count"]
        lbl = "%s %s %s:%d" % (what, e["proto"], e["addr"], e["port"])
        if e["proto"] == "tcp":
            ok = (c["conns"], s["conns"], c["app_sent"], c["app_received"], s["app_sent"],
                  s["app_received"]) == (n, n) + (TCP_MSG * n,) * 4
            h.check("%s: %d connections, %d B each way, all received" % (lbl, n, TCP_MSG), ok,
                    "client %r server %r" % (c, s))
        else:
            q = sum(udp_req(i) for i in range(n))
            a = sum(udp_resp(udp_req(i)) for i in range(n))
            ok = (c["conns"], c["app_sent"], c["app_received"], s["app_received"],
                  s["app_sent"]) == (n, q, a, q, a)
            h.check("%s: %d exchanges, %d B requests, %d B answers, all received" % (lbl, n, q, a),
                    ok, "client %r server %r" % (c, s))


status = na.netacct_status_of


def settled(h, cg, what, settle=0.2, tries=25):
    """status --json and an export, taken while nothing moves: status, export,
    status with the same totals and live_sockets on both status reads."""
    prev = status(h, cg, what)
    for _ in range(tries):
        time.sleep(settle)
        exp = h.export()
        cur = status(h, cg, what)
        key = lambda s: (s[0]["live_sockets"], s[0]["closed_aggregates"],  # noqa: E731
                         json.dumps(s[1], sort_keys=True))
        if key(prev) == key(cur):
            return cur[0], cur[1], exp
        prev = cur
    raise na.HarnessError("%s: totals never settled" % what)


def closed_key(pid, comm, proto, family, raddr, rport):
    return (pid, comm or "", proto, family, raddr or "", rport or 0)


def closed_rows(exp, cg):
    rows = [r for r in exp.rows if r["kind"] == "closed" and r["cgroup_id"] == cg.id]
    out = {}
    for r in rows:
        k = closed_key(r["pid"], r["comm"], r["proto"], fam_of_row(r["family"]), r["raddr"],
                       r["rport"])
        if k in out:
            raise na.HarnessError("two closed rows with one key %r" % (k,))
        out[k] = r
    return out


def identity(h, what, cgrow, att, rows):
    """sum(rows) + norow + overflow == cgroup totals: per counter when norow and
    overflow are 0, else packets and bytes (tx+rx), as those two are kept."""
    rs = na.counters_sum(rows)
    cg = na.counters(cgrow)
    no_pk = att["norow_packets"] + att["overflow_packets"]
    no_b = att["norow_bytes"] + att["overflow_bytes"]
    h.note("%s: %d rows; rows packets %d + norow %d + overflow %d vs cgroup %d"
           % (what, len(rows), rs["tx_packets"] + rs["rx_packets"], att["norow_packets"],
              att["overflow_packets"], cg["tx_packets"] + cg["rx_packets"]))
    h.eq("%s: identity packets: sum(rows) + norow + overflow == cgroup tx+rx packets" % what,
         rs["tx_packets"] + rs["rx_packets"] + no_pk, cg["tx_packets"] + cg["rx_packets"])
    h.eq("%s: identity bytes: sum(rows) + norow + overflow == cgroup tx+rx bytes" % what,
         na.row_bytes(rs) + no_b, na.row_bytes(cg))
    if no_pk == 0 and no_b == 0:
        h.eq("%s: identity per counter (norow = overflow = 0): sum(rows) == cgroup row" % what,
             rs, cg)


def check_totals(h, what, cg, model, info, dr):
    """The cgroup row against the workload's sums (churn_model)."""
    h.note("%s: workload: %d TCP conns, %d UDP exchanges, app bytes %d, TCP_INFO "
           "total_retrans %d bytes_retrans %d, read before TCP_CLOSE %d, server polls for the "
           "last ACK %d; global Tcp RetransSegs delta %d"
           % (what, info["tcp_conns"], info["udp_conns"], info["app"], info["retrans_segs"],
              info["retrans"], info["not_closed"], info["close_polls"], dr))
    h.eq("%s: every TCP_INFO read at TCP_CLOSE (final counters)" % what, info["not_closed"], 0)
    exact = info["retrans_segs"] == 0
    for k in ("tx_packets", "rx_packets", "tx_payload_bytes", "rx_payload_bytes",
              "tx_ip_hdr_bytes", "rx_ip_hdr_bytes"):
        if k == "rx_payload_bytes" and not exact:
            # a retransmitted duplicate may meet a TIME_WAIT socket: not counted
            h.between("%s: cgroup rx_payload_bytes <= workload sum (retransmissions)" % what,
                      cg[k], cg[k] - info["retrans"], model[k])
            continue
        h.eq("%s: cgroup %s == workload sum" % (what, k), cg[k], model[k])
    check_tx_eq_rx(h, what, cg, exact)
    if exact:
        h.eq("%s: tx_payload == application bytes (nothing retransmitted)" % what,
             cg["tx_payload_bytes"], info["app"])
        if na.tcp_standard_options():
            exp_l4 = 32 * info["tcp_pk"] + 8 * info["syn"] + 8 * info["udp_dg"]
            h.eq("%s: tx_l4_hdr_bytes == 32 x TCP packets + 8 x (SYN, SYN-ACK) + 8 x UDP" % what,
                 cg["tx_l4_hdr_bytes"], exp_l4)
    else:
        h.note("%s: %d retransmitted segments (%d bytes) per TCP_INFO: payload == "
               "application bytes + retransmitted bytes, header bytes not exact"
               % (what, info["retrans_segs"], info["retrans"]))
        h.eq("%s: tx_payload == application bytes + TCP_INFO bytes_retrans" % what,
             cg["tx_payload_bytes"], info["app"] + info["retrans"])


def check_tx_eq_rx(h, what, cg, exact=True):
    for c in na.COUNTERS:
        if exact:
            h.eq("%s: cgroup tx_%s == rx_%s (both ends inside)" % (what, c, c), cg["tx_" + c],
                 cg["rx_" + c])
        else:
            h.between("%s: cgroup rx_%s <= tx_%s (retransmitted: a duplicate may meet a "
                      "TIME_WAIT socket)" % (what, c, c), cg["rx_" + c], 0, cg["tx_" + c])


def drop_counters():
    return {"Tcp RetransSegs": na.snmp_counter("Tcp", "RetransSegs"),
            "Tcp InErrs": na.snmp_counter("Tcp", "InErrs"),
            "Udp InErrors": na.snmp_counter("Udp", "InErrors"),
            "Udp RcvbufErrors": na.snmp_counter("Udp", "RcvbufErrors"),
            "TcpExt ListenOverflows": na.snmp_counter("TcpExt", "ListenOverflows",
                                                      "/proc/net/netstat"),
            "TcpExt ListenDrops": na.snmp_counter("TcpExt", "ListenDrops", "/proc/net/netstat"),
            "TcpExt TCPBacklogDrop": na.snmp_counter("TcpExt", "TCPBacklogDrop",
                                                     "/proc/net/netstat"),
            "TcpExt TCPTimeWaitOverflow": na.snmp_counter("TcpExt", "TCPTimeWaitOverflow",
                                                          "/proc/net/netstat"),
            "softnet dropped": na.softnet_dropped()}


def drop_delta(d0):
    d1 = drop_counters()
    return {k: d1[k] - d0[k] for k in d0}


def expected_closed(ch, spid, cpid):
    """closed-row key -> (conns, counters) that the workload's sums predict."""
    exp = {}       # key -> (conns, expected counters)

    def add(key, n, want):
        if key in exp:     # several workload threads fold into one row
            n0, w0 = exp[key]
            n, want = n0 + n, {k: w0[k] + v for k, v in want.items()}
        exp[key] = (n, want)

    for e, c, s, src in ch.pairs():
        f, n = e["family"], c["conns"]
        if e["proto"] == "tcp":
            add(closed_key(cpid, COMM, "tcp", f, e["addr"], e["port"]), n, {
                "tx_packets": c["segs_out"], "rx_packets": c["segs_in"],
                "tx_payload_bytes": c["bytes_sent"], "rx_payload_bytes": s["bytes_sent"]})
            peer = src or e["addr"]          # an unbound client's source is the listener's address
            add(closed_key(spid, COMM, "tcp", f, peer, 0), n, {
                "tx_packets": s["segs_out"], "rx_packets": s["segs_in"] - 2 * n,
                "tx_payload_bytes": s["bytes_sent"], "rx_payload_bytes": c["bytes_sent"]})
        else:
            add(closed_key(cpid, COMM, "udp", f, e["addr"], e["port"]), n, {
                "tx_packets": n, "rx_packets": n, "tx_payload_bytes": c["app_sent"],
                "rx_payload_bytes": c["app_received"],
                "tx_l4_hdr_bytes": 8 * n, "rx_l4_hdr_bytes": 8 * n,
                "tx_ip_hdr_bytes": (20 if f == 4 else 40) * n,
                "rx_ip_hdr_bytes": (20 if f == 4 else 40) * n})
    return exp


def check_closed_rows(h, what, ch, crs, spid, cpid):
    """One closed row per (owner, peer), with exactly the sockets folded into it."""
    exp = expected_closed(ch, spid, cpid)
    h.eq("%s: closed rows are exactly one per (owner, proto, family, peer)" % what,
         sorted(crs), sorted(exp))
    got_conns = {k: crs[k]["conns"] for k in crs}
    h.eq("%s: conns of every closed row == the workload's connections behind it" % what,
         got_conns, {k: v[0] for k, v in exp.items()})
    h.eq("%s: every closed row's counters == TCP_INFO/application sums of its sockets "
         "(client: segs_out/segs_in/bytes_sent; server: segs_in - 2 per conn; UDP: datagrams)"
         % what, closed_row_mismatches(ch, crs, exp), [])
    return sum(v[0] for v in exp.values())


def closed_row_mismatches(ch, crs, exp):
    """(key, column, row value, expected) for every closed row in crs that
    differs from the workload's sums of its sockets."""
    bad = []
    retrans = sum(c.get("total_retrans", 0) + s.get("total_retrans", 0)
                  for _, c, s, _ in ch.pairs())
    for k, (n, want) in exp.items():
        r = crs.get(k)
        if r is None:
            continue
        for col, v in want.items():
            if col == "rx_payload_bytes" and k[2] == "tcp" and retrans:
                continue   # a duplicate may meet a TIME_WAIT socket: not exact then
            if r[col] != v:
                bad.append((k, col, r[col], v))
        if k[2] == "tcp":
            f = k[3]
            for d in ("tx", "rx"):
                if r[d + "_ip_hdr_bytes"] != (20 if f == 4 else 40) * r[d + "_packets"]:
                    bad.append((k, d + "_ip_hdr_bytes", r[d + "_ip_hdr_bytes"], r[d + "_packets"]))
    return bad
