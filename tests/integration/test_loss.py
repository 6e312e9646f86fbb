#!/usr/bin/python3
"""Exact under packet loss: retransmitted and duplicate bytes against TCP and a capture.

A client and a server in two network namespaces joined by a veth pair
(offloads off, as in test_wire.py), the client in cgroup C, the server in
cgroup S, both attached. nftables drops chosen packets in the prerouting
hook of the RECEIVING namespace (a table of the test's own in each): the
sender's egress hook has counted the packet, the receiver's ingress hook
never sees it, as on a lossy path. `numgen inc` makes the loss deterministic:
a rule's counter advances on the packets that passed its earlier matches.

Every scenario runs on IPv4 and IPv6, each a TCP connection of its own (its
own server port, which its rules match), all at once:

  data7     every 7th data segment, each way
  purefin   the first pure FIN, each way
  datafin   the segment carrying the last bytes and the FIN (TCP_CORK), each way
  finhole   the client's last bytes and FIN (TCP_CORK), while the server sends
            its own FIN 50 ms later: the client's ACK of it, numbered past
            the lost FIN, reaches the server before the FIN comes again
  first     the first data segment of each direction
  ack       the server's first pure ACK (its delayed ACK of the request: the
            client sends it again, the server receives it twice)
  syn       the first SYN
  synack    the first SYN-ACK
  burst     data segments 4 to 7 of each direction, in a row
  hostdrop  the client's first data segment, dropped in its own namespace's
            output hook, before netacct's egress hook: TCP sends it again as
            new (the first send failed), but counts both in bytes_sent

and UDP, every 5th datagram each way. Each endpoint reports what the
application wrote and read, and TCP_INFO at TCP_CLOSE (its final counters),
before close(). Asserted, from netacct's connection log (one record per
socket) and its cgroup rows, after every socket closed:

  * per TCP socket: tx_payload - tx_retrans == bytes written, rx_payload -
    rx_dup == bytes read, tx_retrans == TCP_INFO bytes_retrans, tx_payload
    == TCP_INFO bytes_sent (less the payload the host dropped before the
    egress hook: hostdrop);
  * per socket, packets and IP/L4/payload bytes each way == the capture: tx
    as captured where it left, rx as captured where it arrived less the
    packets the rules dropped there (the capture taps before prerouting);
    which packets a rule dropped is computed from the capture by the same
    rule in Python, and must agree with the rule's own counters. The
    server's handshake (SYN, SYN-ACK, the final ACK) is the listener's;
  * per cgroup: the same relations summed over its sockets, and its packets
    and header bytes == the capture;
  * UDP: each socket's tx == what its application sent, rx == what it read.

A rule that drops nothing fails the test (each scenario must lose what it
says); so does a capture that dropped packets.
"""

import json
import os
import shutil
import socket
import struct
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import na_harness as na  # noqa: E402
import test_wire as wire  # noqa: E402
from na_workload import emit, fail, fam, recv_exact, wait_line  # noqa: E402

BASE_PORT = 21000
TABLE = "netacct_test_loss"
FIN, SYN, RST, PSH, ACK = 0x01, 0x02, 0x04, 0x08, 0x10
DATA = 200          # a packet longer than this (IP length) is a data segment
CLOSE_WAIT_S = 15   # how long an endpoint waits for TCP_CLOSE
TCP_CLOSE = 7
UDP_COUNT = 60
TCP_TS_HDR = 32     # a data segment's TCP header: 20 + the timestamp option (12)

# name: (request bytes, response bytes, server pause before answering (s),
#        last bytes sent with the FIN (cork), [(direction, rule kind)],
#        server pause before its own FIN (s))
SCENARIOS = {
    "data7": (200000, 150000, 0, False, [("c2s", "data_nth7"), ("s2c", "data_nth7")], 0),
    "purefin": (20000, 30000, 0, False, [("c2s", "purefin_first"), ("s2c", "purefin_first")], 0),
    "datafin": (9000, 7000, 0, True, [("c2s", "datafin_first"), ("s2c", "datafin_first")], 0),
    "first": (30000, 40000, 0, False, [("c2s", "data_first"), ("s2c", "data_first")], 0),
    "ack": (1000, 1000, 1.0, False, [("s2c", "pureack_first")], 0),
    "syn": (3000, 3000, 0, False, [("c2s", "syn_first")], 0),
    "synack": (3000, 3000, 0, False, [("s2c", "synack_first")], 0),
    "burst": (120000, 100000, 0, False, [("c2s", "data_burst"), ("s2c", "data_burst")], 0),
    "hostdrop": (20000, 20000, 0, False, [("c2s-out", "data_first")], 0),
    "finhole": (3000, 3000, 0, True, [("c2s", "datafin_first")], 0.05),
}
FIRST = 1000000     # numgen modulus of "the first one only"
# kind: (nft match, Python match on a captured packet, numgen modulus, indices dropped)
RULES = {
    "data_nth7": ("meta length > %d" % DATA, lambda p: p.ip_len > DATA, 7, {6}),
    "purefin_first": ("tcp flags & (fin|syn|rst) == fin meta length < %d" % DATA,
                      lambda p: p.flags & (FIN | SYN | RST) == FIN and p.ip_len < DATA, FIRST, {0}),
    "datafin_first": ("tcp flags & fin == fin meta length > %d" % DATA,
                      lambda p: p.flags & FIN and p.ip_len > DATA, FIRST, {0}),
    "data_first": ("meta length > %d" % DATA, lambda p: p.ip_len > DATA, FIRST, {0}),
    "pureack_first": ("tcp flags == ack meta length < %d" % DATA,
                      lambda p: p.flags == ACK and p.ip_len < DATA, FIRST, {0}),
    "syn_first": ("tcp flags & (syn|ack) == syn", lambda p: p.flags & (SYN | ACK) == SYN, FIRST, {0}),
    "synack_first": ("tcp flags & (syn|ack) == syn|ack",
                     lambda p: p.flags & (SYN | ACK) == SYN | ACK, FIRST, {0}),
    "data_burst": ("meta length > %d" % DATA, lambda p: p.ip_len > DATA, FIRST, {3, 4, 5, 6}),
    "udp_nth5": ("", lambda p: True, 5, {4}),
}


def port_of(i, f):
    return BASE_PORT + 10 * i + f


def tcp_ports(f):
    return {name: port_of(i, f) for i, name in enumerate(SCENARIOS)}


def udp_port(f):
    return port_of(len(SCENARIOS), f)


# ==========================================================================
# Workers: this file run as "--worker ROLE ...", in the test's namespaces.
# ==========================================================================

TCPI_BYTES_RECEIVED, TCPI_BYTES_SENT, TCPI_BYTES_RETRANS = 128, 200, 208


def tcp_info(s):
    """(state, bytes_sent, bytes_retrans, bytes_received) from TCP_INFO."""
    b = s.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, 232)
    if len(b) < TCPI_BYTES_RETRANS + 8:
        fail("TCP_INFO: %d bytes, too old a kernel" % len(b))
    return (b[0], struct.unpack_from("=Q", b, TCPI_BYTES_SENT)[0],
            struct.unpack_from("=Q", b, TCPI_BYTES_RETRANS)[0],
            struct.unpack_from("=Q", b, TCPI_BYTES_RECEIVED)[0])


def send_all(s, n):
    """n bytes in 1000-byte writes."""
    data = b"x" * 1000
    sent = 0
    while sent < n:
        k = min(1000, n - sent)
        s.sendall(data[:k])
        sent += k
    return sent


def finish_tcp(s, last_with_fin):
    """Half-close (with last_with_fin, 500 more bytes held back by TCP_CORK
    until the FIN joins them in one segment), read to EOF, wait for TCP_CLOSE
    (final counters). Returns (bytes written here, bytes read here, TCP_INFO)."""
    written = 0
    if last_with_fin:
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_CORK, 1)
        written = send_all(s, 500)
    s.shutdown(socket.SHUT_WR)
    extra = 0
    while True:
        b = s.recv(65536)
        if not b:
            break
        extra += len(b)
    deadline = time.monotonic() + CLOSE_WAIT_S
    info = tcp_info(s)
    while info[0] != TCP_CLOSE and time.monotonic() < deadline:
        time.sleep(0.01)
        info = tcp_info(s)
    return written, extra, info


def tcp_endpoint(s, client, scenario, out, lock):
    req, resp, pause, last_with_fin, _, fin_pause = SCENARIOS[scenario]
    s.settimeout(30)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    la, lp = s.getsockname()[:2]
    ra, rp = s.getpeername()[:2]
    if client:
        written = send_all(s, req)
        read = recv_exact(s, resp)
    else:
        read = recv_exact(s, req)
        if pause:
            time.sleep(pause)
        written = send_all(s, resp)
        if fin_pause:
            time.sleep(fin_pause)
    more, extra, (state, bsent, bretrans, breceived) = finish_tcp(s, last_with_fin)
    written += more
    read += extra
    with lock:
        out.append(dict(scenario=scenario, laddr=la, lport=lp, raddr=ra, rport=rp,
                        written=written, read=read, state=state, bytes_sent=bsent,
                        bytes_retrans=bretrans, bytes_received=breceived))
    s.close()


def worker_main(argv):
    role, f = argv[0], int(argv[1])
    out, lock, threads = [], threading.Lock(), []
    try:
        if role == "tcp-server":
            bind = argv[2]
            socks = {}
            for name, port in tcp_ports(f).items():
                ls = socket.socket(fam(f), socket.SOCK_STREAM)
                ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                ls.bind((bind, port))
                ls.listen(4)
                ls.settimeout(30)
                socks[name] = ls
            emit(event="listening")

            def serve(name, ls):
                c, _ = ls.accept()
                ls.close()
                tcp_endpoint(c, False, name, out, lock)

            threads = [threading.Thread(target=serve, args=kv, daemon=True) for kv in socks.items()]
        elif role == "tcp-client":
            peer = argv[2]

            def run(name, port):
                s = socket.create_connection((peer, port), timeout=30)
                tcp_endpoint(s, True, name, out, lock)

            threads = [threading.Thread(target=run, args=kv, daemon=True)
                       for kv in tcp_ports(f).items()]
        elif role in ("udp-server", "udp-client"):
            s = socket.socket(fam(f), socket.SOCK_DGRAM)
            s.bind((argv[2], udp_port(f) if role == "udp-server" else 0))
            if role == "udp-client":
                s.connect((argv[3], udp_port(f)))
            emit(event="listening")
            sent = received = got = 0
            peer = None
            if role == "udp-client":
                for i in range(UDP_COUNT):
                    sent += s.send(b"u" * (100 + i))
                    time.sleep(0.002)
                s.send(b"")  # the end: a 0-byte datagram is never dropped (the rule skips it)
            s.settimeout(3)
            while True:  # until the peer's 0-byte end marker, or 3 s of silence
                try:
                    data, src = s.recvfrom(65535)
                except socket.timeout:
                    break
                if not data:
                    peer = src
                    break
                received += len(data)
                got += 1
                peer = src
            if role == "udp-server" and peer is not None:
                for i in range(UDP_COUNT):
                    sent += s.sendto(b"r" * (200 + i), peer)
                    time.sleep(0.002)
                s.sendto(b"", peer)
            la, lp = s.getsockname()[:2]
            out.append(dict(laddr=la, lport=lp, sent=sent, received=received, datagrams=got))
            emit(event="ready")
            wait_line("close")
            s.close()
            emit(event="done", results=out)
            wait_line("exit")
            return 0
        else:
            fail("unknown role %r" % role)
        emit(event="ready")
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        if any(t.is_alive() for t in threads) or len(out) != len(threads):
            fail("%d of %d connections finished" % (len(out), len(threads)))
        emit(event="done", results=out)
        wait_line("exit")
    except (OSError, ValueError) as e:
        fail("%s: %s" % (type(e).__name__, e))
    return 0


# ==========================================================================
# fixture
# ==========================================================================

class LossHarness(wire.WireHarness):
    def spawn_worker(self, cg, netns, label, *args):
        return self.worker(os.path.abspath(__file__), cg, label, *args, netns=netns, hello=False)


def rule_lines(link):
    """{netns: [nft rule lines]}: each rule carries its name as a comment."""
    lines = {(link.ns_a, "prerouting"): [], (link.ns_b, "prerouting"): [],
             (link.ns_a, "output"): []}
    for f in (4, 6):
        for name, port in tcp_ports(f).items():
            for direction, kind in SCENARIOS[name][4]:
                match, _, mod, idx = RULES[kind]
                where = {"c2s": (link.ns_b, "prerouting"), "s2c": (link.ns_a, "prerouting"),
                         "c2s-out": (link.ns_a, "output")}[direction]
                portm = "tcp sport %d" % port if direction == "s2c" else "tcp dport %d" % port
                lines[where].append('%s %s numgen inc mod %d { %s } counter drop comment "%s"' % (
                    portm, match, mod, ", ".join(str(i) for i in sorted(idx)),
                    "%s/%d/%s" % (name, f, direction)))
        for direction, ns, portm in (("c2s", link.ns_b, "udp dport %d" % udp_port(f)),
                                     ("s2c", link.ns_a, "udp sport %d" % udp_port(f))):
            # A 0-byte datagram (IP length 28 or 48) marks the end: never dropped.
            lines[(ns, "prerouting")].append('%s meta length > 48 numgen inc mod 5 { 4 } counter drop comment "%s"'
                             % (portm, "udp/%d/%s" % (f, direction)))
    return lines


def install_rules(h, link):
    tables = {}
    for (ns, hook), lines in rule_lines(link).items():
        tables.setdefault(ns, []).append(
            " chain %s {\n  type filter hook %s priority -300; policy accept;\n  %s\n }\n"
            % (hook, hook, "\n  ".join(lines)))
    for ns, chains in tables.items():
        text = "table inet %s {\n%s}\n" % (TABLE, "".join(chains))
        r = subprocess.run(["ip", "netns", "exec", ns, "nft", "-f", "-"], input=text,
                           capture_output=True, text=True, timeout=30)
        if r.returncode != 0:
            raise na.HarnessError("nft -f in %s: %s" % (ns, r.stderr.strip()))


def rule_counters(link):
    """{comment: (packets, bytes)} of both namespaces' drop rules."""
    out = {}
    for ns in (link.ns_a, link.ns_b):
        r = subprocess.run(["ip", "netns", "exec", ns, "nft", "-j", "list", "table", "inet", TABLE],
                           capture_output=True, text=True, timeout=30)
        if r.returncode != 0:
            raise na.HarnessError("nft list in %s: %s" % (ns, r.stderr.strip()))
        for item in json.loads(r.stdout)["nftables"]:
            rule = item.get("rule")
            if not rule:
                continue
            c = [e["counter"] for e in rule["expr"] if "counter" in e][0]
            out[rule.get("comment")] = (c["packets"], c["bytes"])
    return out


def predicted_drops(pkts, kind):
    """The packets of one rule's direction (in the order its hook saw them,
    the capture's) that the rule drops, computed as nftables does."""
    _, match, mod, idx = RULES[kind]
    n, out = 0, []
    for p in pkts:
        if kind == "udp_nth5" and p.ip_len <= 48:
            continue
        if not match(p):
            continue
        if n % mod in idx:
            out.append(p)
        n += 1
    return out


def sub(pkts, drop):
    ids = set(id(p) for p in drop)
    return [p for p in pkts if id(p) not in ids]


# ==========================================================================
# checks
# ==========================================================================

def log_records(h):
    p = h.netacct_ok("log", "--json")
    return [json.loads(line) for line in p.stdout.splitlines() if line.strip()]


def rec_of(recs, proto, laddr, lport, raddr, rport):
    for r in recs:
        if (r["proto"], r["laddr"], r["lport"], r["raddr"] or "", r["rport"] or 0) == \
                (proto, laddr, lport, raddr or "", rport or 0):
            return r
    return None


def rec_dir(r, d):
    return {k: r["%s_%s" % (d, k)] for k in na.COUNTERS}


def check_tcp(h, label, f, res_c, res_s, pk, drops, recs, sums):
    """One connection: both sockets against TCP_INFO, the application and the capture."""
    c2s = (6, res_c["laddr"], res_c["lport"], res_c["raddr"], res_c["rport"])
    s2c = (6, res_c["raddr"], res_c["rport"], res_c["laddr"], res_c["lport"])
    a_c2s, a_s2c = wire.flow_pkts(pk["a"], *c2s), wire.flow_pkts(pk["a"], *s2c)
    b_c2s, b_s2c = wire.flow_pkts(pk["b"], *c2s), wire.flow_pkts(pk["b"], *s2c)
    lost_c2s = [p for k, ps in drops.items() if k != "host" and k[1] == "c2s" for p in ps
                if p in b_c2s]
    # What the client's host dropped before its egress hook: TCP's bytes_sent
    # counts that copy too; netacct never saw it.
    hostdrop = sum(payload for k, payload in drops.get("host", {}).items())
    lost_s2c = [p for k, ps in drops.items() if k != "host" and k[1] == "s2c" for p in ps
                if p in a_s2c]
    got_c2s = sub(b_c2s, lost_c2s)   # what reached the server's hook
    got_s2c = sub(a_s2c, lost_s2c)   # what reached the client's hook
    # The server's handshake is its listener's: every SYN, every SYN-ACK, and
    # the first segment after the last SYN that arrived (the final ACK).
    syns = [p for p in got_c2s if p.flags & SYN]
    hs = []
    if syns:
        i = got_c2s.index(syns[-1])
        hs = got_c2s[:i + 2]
    child_rx = [p for p in got_c2s if p not in hs]
    child_tx = [p for p in b_s2c if not p.flags & SYN]
    for who, res, tup, tx, rx in (
            ("client", res_c, (res_c["laddr"], res_c["lport"], res_c["raddr"], res_c["rport"]),
             a_c2s, got_s2c),
            ("server", res_s, (res_s["laddr"], res_s["lport"], res_s["raddr"], res_s["rport"]),
             child_tx, child_rx)):
        L = "%s %s" % (label, who)
        r = rec_of(recs, "tcp", *tup)
        if not h.check("%s: one log record" % L, r is not None, repr(tup)):
            continue
        h.eq("%s: TCP_INFO read at TCP_CLOSE" % L, res["state"], TCP_CLOSE)
        h.eq("%s: tx_payload - tx_retrans == bytes written" % L,
             r["tx_payload_bytes"] - r["tx_retrans_bytes"], res["written"])
        h.eq("%s: rx_payload - rx_dup == bytes read" % L,
             r["rx_payload_bytes"] - r["rx_dup_bytes"], res["read"])
        before_hook = hostdrop if who == "client" else 0
        h.eq("%s: tx_retrans == TCP_INFO bytes_retrans" % L, r["tx_retrans_bytes"],
             res["bytes_retrans"])
        h.eq("%s: tx_payload == TCP_INFO bytes_sent - payload dropped before the egress hook "
             "(%d)" % (L, before_hook), r["tx_payload_bytes"], res["bytes_sent"] - before_hook)
        h.eq("%s: tx == captured where it left" % L, rec_dir(r, "tx"), wire.summed(tx))
        h.eq("%s: rx == captured where it arrived, less what the rules dropped" % L,
             rec_dir(r, "rx"), wire.summed(rx))
        side = "client" if who == "client" else "server"
        s = sums[side]
        s["written"] += res["written"]
        s["read"] += res["read"]
        s["retrans"] += res["bytes_retrans"]
    sums["client"]["tx_pkts"] += a_c2s
    sums["client"]["rx_pkts"] += got_s2c
    sums["server"]["tx_pkts"] += b_s2c
    sums["server"]["rx_pkts"] += got_c2s


def check_finhole(h, label, b_c2s, drops):
    """What finhole is for happened: a pure ACK numbered past the lost FIN
    reached the server before the FIN was sent again (the capture's order)."""
    lost = [p for ps in drops.values() if isinstance(ps, list) for p in ps if p.flags & FIN]
    if not h.check("%s: the rule dropped the client's FIN" % label, len(lost) > 0):
        return
    fin = lost[0]
    past = (fin.seq + fin.payload + 1) & 0xFFFFFFFF
    got = [p for p in b_c2s if p not in lost]
    ack = next((i for i, p in enumerate(got) if p.seq == past and p.payload == 0 and not p.flags & FIN), None)
    refin = next((i for i, p in enumerate(got) if p.flags & FIN and p.seq == fin.seq), None)
    h.check("%s: an ACK numbered past the lost FIN arrived before the FIN came again "
            "(ACK at %s, FIN again at %s)" % (label, ack, refin),
            ack is not None and refin is not None and ack < refin)


def check_cgroup(h, label, row, s):
    """A cgroup's row against the sums of its sockets (the listener carries no payload)."""
    if not h.check("%s: has a cgroup row with retransmit and duplicate figures" % label,
                   row is not None and row.get("tx_retrans_bytes") is not None and
                   row.get("rx_dup_bytes") is not None, repr(row)):
        return
    h.eq("%s: tx_payload - tx_retrans == bytes its applications wrote" % label,
         row["tx_payload_bytes"] - row["tx_retrans_bytes"], s["written"])
    h.eq("%s: rx_payload - rx_dup == bytes its applications read" % label,
         row["rx_payload_bytes"] - row["rx_dup_bytes"], s["read"])
    h.eq("%s: tx_retrans == sum of TCP_INFO bytes_retrans" % label, row["tx_retrans_bytes"],
         s["retrans"])
    h.eq("%s: tx == captured where it left" % label, wire.row_dir(row, "tx"),
         wire.summed(s["tx_pkts"]))
    h.eq("%s: rx == captured where it arrived, less what the rules dropped" % label,
         wire.row_dir(row, "rx"), wire.summed(s["rx_pkts"]))


def run(h):
    for tool in ("tcpdump", "ethtool", "ip", "nft"):
        if not shutil.which(tool):
            raise na.SkipTest("%s not found (install %s)" % (
                tool, {"ip": "iproute2", "nft": "nftables"}.get(tool, tool)))
    h.tmpdir = h.make_tmpdir()
    link = wire.Link(h)
    C, S = h.make_cgroup(), h.make_cgroup()
    h.attach(C, S)
    install_rules(h, link)
    caps = wire.start_captures(h, link, "loss")
    a, b = link.addr
    workers = []
    t0 = time.monotonic()
    for f in (4, 6):
        srv = h.spawn_worker(S, link.ns_b, "tcp-server %d" % f, "tcp-server", f, link.addr[f][1])
        srv.expect("listening", 30)
        srv.expect("ready", 30)
        cli = h.spawn_worker(C, link.ns_a, "tcp-client %d" % f, "tcp-client", f, link.addr[f][1])
        cli.expect("ready", 30)
        usrv = h.spawn_worker(S, link.ns_b, "udp-server %d" % f, "udp-server", f, link.addr[f][1])
        usrv.expect("listening", 30)
        ucli = h.spawn_worker(C, link.ns_a, "udp-client %d" % f, "udp-client", f, link.addr[f][0],
                              link.addr[f][1])
        ucli.expect("listening", 30)
        workers.append((f, cli, srv, ucli, usrv))
    results = {}
    for f, cli, srv, ucli, usrv in workers:
        results[f] = (cli.expect("done", 60)["results"], srv.expect("done", 60)["results"])
        ucli.expect("ready", 30)
        usrv.expect("ready", 30)
        for w in (ucli, usrv):
            w.send("close")
        results[("udp", f)] = (ucli.expect("done", 30)["results"][0],
                               usrv.expect("done", 30)["results"][0])
        for w in (cli, srv, ucli, usrv):
            w.send("exit")
            w.finish(30)
    h.note("all connections closed in %.1f s" % (time.monotonic() - t0))
    time.sleep(0.5)
    stats = {side: c.stop() for side, c in caps.items()}
    wire.check_capture_complete(h, "loss", caps, stats)
    pk = {side: [p for p in c.packets() if p is not None] for side, c in caps.items()}
    counters = rule_counters(link)
    recs = log_records(h)
    exp = h.export(C, S)
    sums = {side: dict(written=0, read=0, retrans=0, tx_pkts=[], rx_pkts=[])
            for side in ("client", "server")}

    for f in (4, 6):
        cres, sres = results[f]
        bysc = {r["scenario"]: r for r in sres}
        for rc in cres:
            name = rc["scenario"]
            rs = bysc.get(name)
            label = "%s/IPv%d" % (name, f)
            if not h.check("%s: the server reported the connection" % label, rs is not None):
                continue
            c2s = (6, rc["laddr"], rc["lport"], rc["raddr"], rc["rport"])
            s2c = (6, rc["raddr"], rc["rport"], rc["laddr"], rc["lport"])
            drops = {}
            for direction, kind in SCENARIOS[name][4]:
                key = "%s/%d/%s" % (name, f, direction)
                if direction == "c2s-out":
                    # Never on the wire: the rule's counter is the truth.
                    n, nbytes = counters.get(key, (0, 0))
                    h.check("%s: rule %s dropped something" % (label, key), n > 0)
                    drops["host"] = {key: nbytes - n * (na.ip_hdr_len(f) + TCP_TS_HDR)}
                    continue
                seen = wire.flow_pkts(pk["b"], *c2s) if direction == "c2s" else \
                    wire.flow_pkts(pk["a"], *s2c)
                d = drops[(kind, direction)] = predicted_drops(seen, kind)
                h.eq("%s: rule %s dropped what the capture says it did (packets, bytes)"
                     % (label, key), counters.get(key), (len(d), sum(p.ip_len for p in d)))
                h.check("%s: rule %s dropped something" % (label, key), len(d) > 0)
            check_tcp(h, label, f, rc, rs, pk, drops, recs, sums)
            if name == "finhole":
                check_finhole(h, label, wire.flow_pkts(pk["b"], *c2s), drops)
        # UDP: the rules drop in each receiver's prerouting.
        uc, us = results[("udp", f)]
        L = "udp/IPv%d" % f
        for key, want in (("udp/%d/c2s" % f, uc["sent"] - us["received"]),
                          ("udp/%d/s2c" % f, us["sent"] - uc["received"])):
            n, nbytes = counters.get(key, (0, 0))
            h.check("%s: rule %s dropped datagrams" % (L, key), n > 0, repr(counters.get(key)))
            h.eq("%s: rule %s: bytes sent - bytes received == what it dropped" % (L, key),
                 want, nbytes - n * (28 if f == 4 else 48))
        cli_row = rec_of(recs, "udp", uc["laddr"], uc["lport"], link.addr[f][1], udp_port(f))
        srv_row = rec_of(recs, "udp", us["laddr"], us["lport"], *na.one_peer(uc["laddr"], uc["lport"]))
        for who, r, res in (("client", cli_row, uc), ("server", srv_row, us)):
            if h.check("%s %s: one log record" % (L, who), r is not None):
                h.eq("%s %s: tx_payload == bytes sent, rx_payload == bytes received" % (L, who),
                     (r["tx_payload_bytes"], r["rx_payload_bytes"]), (res["sent"], res["received"]))
                h.eq("%s %s: no retransmit or duplicate figure for UDP" % (L, who),
                     (r["tx_retrans_bytes"], r["rx_dup_bytes"]), (0, 0))
        side_c, side_s = sums["client"], sums["server"]
        side_c["written"] += uc["sent"]
        side_c["read"] += uc["received"]
        side_s["written"] += us["sent"]
        side_s["read"] += us["received"]
        u_c2s = [p for p in pk["a"] if p.proto == 17 and p.dport == udp_port(f)
                 and p.src == link.addr[f][0]]
        u_s2c_b = [p for p in pk["b"] if p.proto == 17 and p.sport == udp_port(f)
                   and p.dst == link.addr[f][0]]
        u_s2c_a = [p for p in pk["a"] if p.proto == 17 and p.sport == udp_port(f)
                   and p.dst == link.addr[f][0]]
        u_c2s_b = [p for p in pk["b"] if p.proto == 17 and p.dport == udp_port(f)
                   and p.src == link.addr[f][0]]
        side_c["tx_pkts"] += u_c2s
        side_c["rx_pkts"] += sub(u_s2c_a, predicted_drops(u_s2c_a, "udp_nth5"))
        side_s["tx_pkts"] += u_s2c_b
        side_s["rx_pkts"] += sub(u_c2s_b, predicted_drops(u_c2s_b, "udp_nth5"))

    # The listeners' handshake packets: on the server cgroup's row, not a connection's.
    check_cgroup(h, "cgroup C (clients)", exp.cgroup(C), sums["client"])
    check_cgroup(h, "cgroup S (servers)", exp.cgroup(S), sums["server"])
    retrans = sums["client"]["retrans"] + sums["server"]["retrans"]
    h.check("the loss made TCP send again (sum of bytes_retrans > 0)", retrans > 0, retrans)
    h.note("TCP sent %d bytes again; rules dropped %d packets" % (
        retrans, sum(v[0] for v in counters.values())))


def main():
    if len(sys.argv) > 1 and sys.argv[1] == "--worker":
        sys.exit(worker_main(sys.argv[2:]))
    h = LossHarness("loss")
    with h:
        run(h)


if __name__ == "__main__":
    main()
