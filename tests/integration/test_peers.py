#!/usr/bin/python3
"""The peers of an unconnected UDP server: dnsmasq answering dig from two addresses.

dnsmasq runs in an attached test cgroup, listening on 127.0.0.1 (UDP, a
port of the test's), answering A queries for a name of the test's own
(--address). dig, outside any attached cgroup, asks it 3 times from
127.0.0.1 (then the socket's row shows that one peer, and the agent
samples it so), 3 times from 127.0.0.2, then 2 more times from 127.0.0.1
(the first peer again, after the second came). dig's own output (+qr) gives the
size of every query it sent and every answer it received: the truth.

Asserted, while dnsmasq runs:
  * `export --group-by peer`: one row per dig address, whose rx payload is
    the sum of the queries dig sent from that address and tx payload the
    sum of the answers it received there, packets one per datagram, 20 + 8
    header bytes each;
  * dnsmasq's socket row (no peer: unconnected) and the cgroup row count
    all of it: the sums of both addresses;
  * status --json: at least two peer rows, no peer overflow;
after dnsmasq stopped:
  * its socket's closed rows are one per dig address, with the same bytes,
    and its log record has no peer and the sums of both.
An agent records the history meanwhile (a sample a second): `report --by
peer` has each dig address's bytes, while dnsmasq ran and after it closed
its socket alike, and its peers add up to the cgroup (nothing counted under
no peer while the socket lived and again under its peers once it closed,
nothing counted under no peer while it had one and again under that peer
once it had two).
Then with a table of 16 peer rows (attach --max-peers 16), one query from
each of 127.0.0.1 to 127.0.0.20: 16 peers get rows (with their bytes), the
4 others are counted on the socket's row only: status says 8 packets (a
query and an answer each), and the socket's and the cgroup's rows still
count every byte.
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

NAME = "peers.netacct.test"
ASKS = (("127.0.0.1", 3), ("127.0.0.2", 3), ("127.0.0.1", 2))


def udp_listening(port):
    with open("/proc/net/udp") as f:
        return any(ln.split()[1] == "0100007F:%04X" % port for ln in f.readlines()[1:])


def dig(port, src):
    """One query from src: (query bytes, answer bytes), as dig reports them."""
    p = subprocess.run(["dig", "+qr", "+tries=1", "+time=3", "+notcp", "-p", str(port), "-b", src,
                        "@127.0.0.1", NAME, "A"], capture_output=True, text=True, timeout=20)
    q = re.search(r";; QUERY SIZE: (\d+)", p.stdout)
    a = re.search(r";; MSG SIZE\s+rcvd: (\d+)", p.stdout)
    if p.returncode != 0 or not q or not a or "127.0.0.9" not in p.stdout:
        raise na.HarnessError("dig from %s: exit %d: %s" % (src, p.returncode, p.stdout[-400:]))
    return int(q.group(1)), int(a.group(1))


def start_dnsmasq(h, cg, port, d):
    srv = h.spawn(["/usr/sbin/dnsmasq", "--keep-in-foreground", "--conf-file=/dev/null",
                   "--no-resolv", "--no-hosts", "--bind-interfaces", "--listen-address=127.0.0.1",
                   "--port=%d" % port, "--address=/%s/127.0.0.9" % NAME, "--user=root",
                   "--pid-file=%s/pid" % d, "--log-facility=-"], cgroup=cg, label="dnsmasq",
                  stderr=subprocess.DEVNULL)
    for _ in range(100):
        if udp_listening(port) or srv.p.poll() is not None:
            break
        time.sleep(0.05)
    return srv


def stop(srv):
    if srv.p.poll() is None:
        srv.p.send_signal(signal.SIGTERM)
        srv.p.wait(timeout=10)


def overflow(h, cg, d):
    """16 peer rows, 20 peers."""
    h.detach(cg)
    h.attach(cg, extra=["--max-peers", "16"])
    port = na.free_port()
    srv = start_dnsmasq(h, cg, port, d)
    try:
        sent = {}
        for i in range(1, 21):
            src = "127.0.0.%d" % i
            q, a = dig(port, src)
            sent[src] = (q, a)
        p = h.netacct_ok("export", "--csv", "--group-by", "peer", cg.path)
        peers = {r["raddr"]: r for r in na.parse_export_csv(p.stdout) if r["raddr"]}
        h.eq("16 peer rows: 16 peers with a row of their own", len(peers), 16)
        h.check("... each with its bytes (rx, tx payload)",
                all((r["rx_payload_bytes"], r["tx_payload_bytes"]) == sent.get(a) for a, r in peers.items()),
                repr({a: (r["rx_payload_bytes"], r["tx_payload_bytes"]) for a, r in peers.items()}))
        st = na.netacct_status(h)
        h.eq("status: the 4 others' packets on the socket's row only (a query and an answer each)",
             (st.get("peers"), st.get("max_peers"), st.get("peer_overflow")), (16, 16, 8))
        exp = h.export()
        sock = [r for r in exp.sockets if r["proto"] == "udp" and r["lport"] == port]
        allq, alla = sum(q for q, _ in sent.values()), sum(a for _, a in sent.values())
        if h.check("dnsmasq's socket row", len(sock) == 1, repr(sock)):
            h.eq("its row counts all 20 (rx, tx payload)",
                 (sock[0]["rx_payload_bytes"], sock[0]["tx_payload_bytes"]), (allq, alla))
        cgr = exp.cgroup(cg)
        h.eq("the cgroup row counts all 20", (cgr["rx_payload_bytes"], cgr["tx_payload_bytes"]), (allq, alla))
    finally:
        stop(srv)


def one_peer(h, port, src, s):
    """With one peer so far, the socket's row is that peer's; the agent samples it so."""
    sock = [r for r in h.export().sockets if r["proto"] == "udp" and r["lport"] == port]
    if h.check("one peer so far: dnsmasq's socket row", len(sock) == 1, repr(sock)):
        h.eq("... shows its one peer, with its bytes (raddr, rx, tx payload)",
             (sock[0]["raddr"], sock[0]["rx_payload_bytes"], sock[0]["tx_payload_bytes"]),
             (src, s["q"], s["a"]))
    time.sleep(2.5)    # the agent samples every second: one sample sees a socket with one peer


def history(h, agent, db, t_start, sent, cg, when):
    """The agent's history by peer: the dig addresses' bytes, once."""
    time.sleep(2.5)    # the agent samples every second
    if when == "after the close":
        agent.p.send_signal(signal.SIGTERM)
        agent.p.wait(timeout=30)
    since = time.strftime("%Y-%m-%dT%H:%M:%S", time.localtime(t_start))
    p = h.netacct_ok("report", "--db", db, "--json", "--by", "peer", "--since", since)
    rows = [json.loads(x) for x in p.stdout.splitlines() if x.strip()]
    mine = [r for r in rows if r.get("cgroup") in (cg.rel, None, "")]
    by = {}
    for r in mine:
        k = r.get("raddr") or ""
        b = by.setdefault(k, [0, 0])
        b[0] += r["rx_payload_bytes"]
        b[1] += r["tx_payload_bytes"]
    h.note("history by peer: %r" % by)
    for src, s in sent.items():
        h.eq("history --by peer, %s: %s: rx, tx payload == what dig sent and got" % (when, src),
             tuple(by.get(src, (0, 0))), (s["q"], s["a"]))
    tot = [sum(v[0] for v in by.values()), sum(v[1] for v in by.values())]
    h.eq("history, %s: the peers add up to the digs (nothing counted twice)" % when, tot,
         [sum(s["q"] for s in sent.values()), sum(s["a"] for s in sent.values())])


def main():
    h = na.Harness("peers")
    with h:
        for tool in ("dnsmasq", "dig"):
            if not shutil.which(tool) and not os.path.exists("/usr/sbin/" + tool):
                raise na.SkipTest("%s not found (install dnsmasq-base and bind9-dnsutils)" % tool)
        cg = h.make_cgroup()
        h.attach(cg)
        port = na.free_port()
        d = h.make_tmpdir("dnsmasq-")
        db = os.path.join(d, "history.db")
        conf = os.path.join(d, "agent.conf")
        with open(conf, "w") as f:
            f.write("listen 127.0.0.1:%d\nrescan 1\nlog-file none\nhistory %s\nhistory-interval 1\nattach %s\n"
                    % (na.free_port(), db, cg.path))
        t_start = time.time() - 2
        agent = h.spawn([h.bin, "--pin-root", h.pin_root, "agent", "--config", conf], label="agent",
                        stderr=subprocess.DEVNULL)
        srv = start_dnsmasq(h, cg, port, d)
        try:
            sent = {}
            for i, (src, n) in enumerate(ASKS):
                for _ in range(n):
                    q, a = dig(port, src)
                    s = sent.setdefault(src, {"q": 0, "a": 0, "n": 0})
                    s["q"] += q
                    s["a"] += a
                    s["n"] += 1
                if i == 0:
                    one_peer(h, port, src, sent[src])
            h.note("dig: %r" % sent)
            exp = h.export()
            p = h.netacct_ok("export", "--csv", "--group-by", "peer", cg.path)
            peers = {r["raddr"]: r for r in na.parse_export_csv(p.stdout) if r["raddr"]}
            for src, s in sent.items():
                r = peers.get(src)
                if not h.check("by peer: a row for %s" % src, r is not None, repr(sorted(peers))):
                    continue
                h.eq("by peer %s: rx payload == the queries dig sent from it, tx payload == the "
                     "answers it got" % src, (r["rx_payload_bytes"], r["tx_payload_bytes"]), (s["q"], s["a"]))
                h.eq("by peer %s: a packet per datagram each way, 20 + 8 header bytes" % src,
                     (r["rx_packets"], r["tx_packets"], r["rx_ip_hdr_bytes"], r["rx_l4_hdr_bytes"]),
                     (s["n"], s["n"], 20 * s["n"], 8 * s["n"]))
            allq, alla = sum(s["q"] for s in sent.values()), sum(s["a"] for s in sent.values())
            sock = [r for r in exp.sockets if r["proto"] == "udp" and r["lport"] == port]
            if h.check("dnsmasq's UDP socket has a row", len(sock) == 1, repr(sock)):
                h.eq("its row has no peer (unconnected) and counts both: rx, tx payload",
                     (sock[0]["raddr"], sock[0]["rx_payload_bytes"], sock[0]["tx_payload_bytes"]),
                     ("", allq, alla))
            cgr = exp.cgroup(cg)
            h.eq("the cgroup row counts both (rx, tx payload)",
                 (cgr["rx_payload_bytes"], cgr["tx_payload_bytes"]), (allq, alla))
            st = na.netacct_status(h)
            h.check("status: peer rows, none lost to a full table",
                    st.get("peers", 0) >= 2 and st.get("peer_overflow") == 0, repr(st)[:300])
            history(h, agent, db, t_start, sent, cg, "while dnsmasq runs")
        finally:
            stop(srv)
        closed = [r for r in h.export().rows if r["kind"] == "closed" and r["proto"] == "udp"]
        for src, s in sent.items():
            mine = [r for r in closed if r["raddr"] == src]
            h.eq("after the close: one closed row for %s (its ports change: not kept)" % src, len(mine), 1)
            if mine:
                h.eq("closed row %s: rx, tx payload" % src,
                     (mine[0]["rx_payload_bytes"], mine[0]["tx_payload_bytes"]), (s["q"], s["a"]))
        recs = [json.loads(x) for x in h.netacct_ok("log", "--json").stdout.splitlines() if x.strip()]
        rec = [r for r in recs if r["proto"] == "udp" and r["lport"] == port]
        if h.check("one log record for dnsmasq's UDP socket", len(rec) == 1, repr(rec)):
            h.eq("its record: no peer, both addresses' bytes",
                 (rec[0]["raddr"], rec[0]["rx_payload_bytes"], rec[0]["tx_payload_bytes"]),
                 (None, allq, alla))
        history(h, agent, db, t_start, sent, cg, "after the close")
        overflow(h, cg, d)


if __name__ == "__main__":
    main()
