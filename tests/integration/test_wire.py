#!/usr/bin/python3
"""Wire truth: netacct's counters against a packet capture on a real link.

Two network namespaces joined by a veth pair with TSO/GSO/GRO off, so every
packet on the wire is one frame a capture sees, while TCP still hands the
stack 64 KB GSO skbs (TCP always builds GSO skbs; the device segments them
in software). The client runs in namespace A, the server in B, both in ONE
test cgroup that netacct is attached to. tcpdump captures on BOTH veth ends:
a packet a client sends is seen leaving on A's end (what its egress counted)
and arriving on B's end (what the server's ingress counted), so even a drop
in between could not blur which side is exact.

Traffic: TCP over IPv4 and IPv6 (8 MiB each way in odd write sizes at once,
then request/response), UDP over IPv4 and IPv6 (datagrams that fit the MTU,
0 bytes included).

Asserted exactly, from the capture alone (own pcap reader, no dissector):
  * while the sockets are open and idle, per socket and direction:
    packets, IP header bytes, L4 header bytes and payload bytes of the
    socket row == the sums over its captured packets. The accepted TCP
    socket is short by the handshake (SYN and final ACK in, SYN-ACK out),
    which the listener's row carries instead;
  * per socket: ip_hdr_bytes == 20 (IPv4) / 40 (IPv6) x packets;
  * after every socket closed (a TCP close in which each side closes with
    a full socket, see close_tcp()), the cgroup row: tx == everything the
    two endpoints put on the wire, rx == everything that reached them; with
    no drop anywhere, tx packets == captured packets == rx packets and
    tx ip+l4+payload == sum of IP lengths == rx ip+l4+payload;
  * the capture is complete: 0 packets dropped by kernel in both tcpdumps,
    no frame larger than the MTU (offloads really off), nothing captured
    that is not one of our flows.

Then two probes of what a cgroup hook cannot see, each measured as a delta
of the cgroup row against its own capture:
  * an orphaned close (client close()s, the ACK of its FIN comes alone):
    exactly the peer's FIN in and the last ACK out are missing, handled by
    the kernel's FIN_WAIT2 minisock (asserted: check_orphan_close());
  * IP fragmentation (UDP datagrams larger than the MTU), which the hooks
    see as one skb before fragmentation (egress) and after reassembly
    (ingress): L4 and payload bytes are exact, packets and IP header bytes
    are per datagram, not per fragment (reported; asserted with
    NETACCT_WIRE_STRICT_FRAG=1: check_fragments()).
"""

import ipaddress
import os
import selectors
import shutil
import signal
import socket
import struct
import subprocess
import sys
import threading
import time
import json

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import na_harness as na  # noqa: E402

MTU = 1500
BULK = 8 << 20                      # bytes each way
WRITE_SIZES = (1, 7, 1000, 4099, 65537, 13, 131071, 1448, 9973, 333)
RR_COUNT = 200
UDP_COUNT = 300
SNAPLEN = 128                       # Ethernet 14 + IPv6 40 + TCP 60 fit
FRAG_SIZE = 4000                    # > MTU: 3 fragments per datagram


# ==========================================================================
# Workers: this file run as "--worker ROLE ...", one endpoint per process,
# speaking the harness's JSON-line protocol (hello/listening/ready/done/closed).
# ==========================================================================

# The endpoint helpers of the loopback workers, shared.
from na_workload import emit as _emit, fail as _fail, fam as _fam  # noqa: E402
from na_workload import recv_exact as _recv_exact, tuple_of as _tuple, wait_line as _wait_line  # noqa: E402
from na_workload import rr as _rr  # noqa: E402


def rr_sizes(i):
    return 1 + (i * 7919) % 1461, 1 + (i * 104729) % 9000


def udp_sizes(i, limit):
    """Request and answer sizes of datagram i, 0..limit bytes (0 included)."""
    return (i * 7919) % (limit + 1), (i * 104729 + 5) % (limit + 1)


def tcp_exchange(s, client, bulk, rr_count):
    """bulk bytes each way at once in odd write sizes, then rr_count exchanges."""
    out = {}

    def sender():
        data = memoryview(bytes((i * 31) & 0xFF for i in range(max(WRITE_SIZES))))
        left, k = bulk, 0
        while left > 0:
            n = min(WRITE_SIZES[k % len(WRITE_SIZES)], left)
            s.sendall(data[:n])
            left -= n
            k += 1
        out["sent"] = bulk

    t = threading.Thread(target=sender, daemon=True)
    t.start()
    received = _recv_exact(s, bulk)
    t.join(60)
    if "sent" not in out:
        _fail("bulk sender did not finish")
    rr_sent, rr_received = _rr(s, rr_count, client, sizes=rr_sizes)
    return bulk + rr_sent, received + rr_received


def close_tcp(s, client, how):
    """Close a connection; the client closes first.

    "shutdown": every segment is sent and received by a full socket. A socket
    closed with close() while its FIN is unacknowledged is orphaned; when the
    ACK of that FIN comes alone, the kernel swaps the orphan for a FIN_WAIT2
    minisock (tcp_fin_timeout <= the TIME_WAIT length), and that minisock
    receives the peer's FIN and sends the last ACK: one packet each way that
    no cgroup program sees. So the client (the side that ends in TIME_WAIT)
    only shuts down its sending side and keeps the socket until the peer's
    FIN arrived; the full socket then sends the last ACK and becomes
    TIME_WAIT. The server closes after reading EOF (LAST_ACK: orphaned, but a
    full socket).
    "orphan": the client just closes, the server waits 0.5 s (longer than any
    delayed ACK) before reading EOF and closing: the FIN_WAIT2 case above.
    """
    if client and how == "orphan":
        s.close()
        return
    if client:
        s.shutdown(socket.SHUT_WR)
    elif how == "orphan":
        time.sleep(0.5)
    if s.recv(1) != b"":
        _fail("data before the peer's FIN")
    s.close()


def worker_main(argv):
    signal.signal(signal.SIGALRM, lambda *a: _fail("worker deadline exceeded"))
    signal.alarm(120)
    cg = na.proc_cgroup2()
    _emit(event="hello", pid=os.getpid(), cgroup=cg)
    role, f, bind = argv[0], int(argv[1]), argv[2]
    try:
        if role == "tcp-server":
            ls = socket.socket(_fam(f), socket.SOCK_STREAM)
            ls.bind((bind, 0))
            ls.listen(1)
            ls.settimeout(30)
            _emit(event="listening", port=ls.getsockname()[1])
            s, _ = ls.accept()
            s.settimeout(30)
            _emit(event="ready", **_tuple(s))
            sent, received = tcp_exchange(s, False, int(argv[3]), int(argv[4]))
            _emit(event="done", sent=sent, received=received)
            _wait_line("close")
            close_tcp(s, False, argv[5])
            ls.close()
        elif role == "tcp-client":
            peer, port, bulk, rr_count, how = argv[3], int(argv[4]), int(argv[5]), \
                int(argv[6]), argv[7]
            s = socket.socket(_fam(f), socket.SOCK_STREAM)
            s.settimeout(30)
            s.bind((bind, 0))
            s.connect((peer, port))
            _emit(event="ready", **_tuple(s))
            sent, received = tcp_exchange(s, True, bulk, rr_count)
            _emit(event="done", sent=sent, received=received)
            _wait_line("close")
            close_tcp(s, True, how)
        elif role == "udp-server":
            count, limit = int(argv[3]), int(argv[4])
            s = socket.socket(_fam(f), socket.SOCK_DGRAM)
            s.bind((bind, 0))
            s.settimeout(30)
            _emit(event="listening", port=s.getsockname()[1])
            _emit(event="ready", **_tuple(s))
            sent = received = 0
            for i in range(count):
                data, src = s.recvfrom(65535)
                q, a = udp_sizes(i, limit)
                if len(data) != q:
                    _fail("datagram %d: %d bytes, expected %d" % (i, len(data), q))
                received += len(data)
                sent += s.sendto(b"r" * a, src)
            _emit(event="done", sent=sent, received=received, datagrams=count)
            _wait_line("close")
            s.close()
        elif role == "udp-client":
            peer, port, count, limit = argv[3], int(argv[4]), int(argv[5]), int(argv[6])
            s = socket.socket(_fam(f), socket.SOCK_DGRAM)
            s.bind((bind, 0))
            s.settimeout(5)
            s.connect((peer, port))
            _emit(event="ready", **_tuple(s))
            sent = received = 0
            for i in range(count):
                q, a = udp_sizes(i, limit)
                sent += s.send(b"u" * q)
                r = s.recv(65535)   # lockstep: nothing queues, nothing is dropped
                if len(r) != a:
                    _fail("answer %d: %d bytes, expected %d" % (i, len(r), a))
                received += len(r)
            _emit(event="done", sent=sent, received=received, datagrams=count)
            _wait_line("close")
            s.close()
        else:
            _fail("unknown role %r" % role)
    except (OSError, ValueError) as e:
        _fail("%s: %s" % (type(e).__name__, e))
    _emit(event="closed")
    for _ in sys.stdin:
        pass
    return 0


# ==========================================================================
# pcap
# ==========================================================================

class Pkt:
    """One captured IP packet, sizes as on the wire."""
    __slots__ = ("src", "dst", "proto", "sport", "dport", "ip_len", "ip_hdr", "l4_hdr",
                 "payload", "flags", "frag", "seq")

    def key(self):
        return (self.proto, self.src, self.sport, self.dst, self.dport)


def _v6_exthdrs(buf, off, nh):
    """Skip IPv6 extension headers as netacct's parser does: returns
    (offset of the upper-layer header, its protocol, nonfirst fragment)."""
    nonfirst = False
    while nh in (0, 43, 44, 51, 60):
        if off + 8 > len(buf):
            raise ValueError("truncated extension header (snap length too small)")
        if nh == 44:
            sz, nonfirst = 8, (struct.unpack_from("!H", buf, off + 2)[0] & 0xFFF8) != 0
        elif nh == 51:
            sz = (buf[off + 1] + 2) * 4
        else:
            sz = (buf[off + 1] + 1) * 8
        nh, off = buf[off], off + sz
        if nonfirst:
            break
    return off, nh, nonfirst


def parse_frame(data):
    """Ethernet frame (possibly cut at the snap length) -> Pkt, None for non-IP."""
    if len(data) < 14:
        return None
    etype = struct.unpack_from("!H", data, 12)[0]
    buf = data[14:]
    p = Pkt()
    if etype == 0x0800:
        ihl = (buf[0] & 0x0F) * 4
        p.ip_len = struct.unpack_from("!H", buf, 2)[0]
        frag = struct.unpack_from("!H", buf, 6)[0]
        p.frag = bool(frag & 0x3FFF)            # MF set or offset != 0
        nonfirst = (frag & 0x1FFF) != 0
        p.proto = buf[9]
        p.src = str(ipaddress.IPv4Address(buf[12:16]))
        p.dst = str(ipaddress.IPv4Address(buf[16:20]))
        off = ihl
    elif etype == 0x86DD:
        p.ip_len = 40 + struct.unpack_from("!H", buf, 4)[0]
        p.src = str(ipaddress.IPv6Address(buf[8:24]))
        p.dst = str(ipaddress.IPv6Address(buf[24:40]))
        off, p.proto, nonfirst = _v6_exthdrs(buf, 40, buf[6])
        p.frag = off > 40 and (buf[6] == 44 or nonfirst)
    else:
        return None
    p.ip_hdr, p.sport, p.dport, p.flags, p.l4_hdr, p.seq = off, 0, 0, 0, 0, 0
    if not nonfirst and p.proto in (6, 17):
        p.sport, p.dport = struct.unpack_from("!HH", buf, off)
        if p.proto == 6:
            p.seq = struct.unpack_from("!I", buf, off + 4)[0]
            p.l4_hdr = (buf[off + 12] >> 4) * 4
            p.flags = buf[off + 13]
        else:
            p.l4_hdr = 8
    p.payload = p.ip_len - p.ip_hdr - p.l4_hdr
    return p


def read_pcap(path):
    """Complete records of a classic pcap file (a live file may end mid-record).

    Returns (link type, [Pkt or None per frame]).
    """
    with open(path, "rb") as f:
        data = f.read()
    if len(data) < 24:
        return None, []
    magic = data[:4]
    if magic in (b"\xd4\xc3\xb2\xa1", b"\x4d\x3c\xb2\xa1"):
        e = "<"
    elif magic in (b"\xa1\xb2\xc3\xd4", b"\xa1\xb2\x3c\x4d"):
        e = ">"
    else:
        raise na.HarnessError("%s: not a pcap file (magic %s)" % (path, magic.hex()))
    linktype = struct.unpack_from(e + "I", data, 20)[0]
    out, off = [], 24
    while off + 16 <= len(data):
        incl = struct.unpack_from(e + "I", data, off + 8)[0]
        if off + 16 + incl > len(data):
            break
        out.append(parse_frame(data[off + 16:off + 16 + incl]))
        off += 16 + incl
    return linktype, out


def zero():
    return {"packets": 0, "ip_hdr_bytes": 0, "l4_hdr_bytes": 0, "payload_bytes": 0}


def add(c, p):
    c["packets"] += 1
    c["ip_hdr_bytes"] += p.ip_hdr
    c["l4_hdr_bytes"] += p.l4_hdr
    c["payload_bytes"] += p.payload


def summed(pkts):
    c = zero()
    for p in pkts:
        add(c, p)
    return c


def row_dir(row, d):
    """One direction ('tx'/'rx') of an export row in the shape of zero()."""
    return {k: (row[d + "_" + k] if row else 0) for k in na.COUNTERS}


# ==========================================================================
# fixture: netns, veth, captures
# ==========================================================================

class Capture:
    """tcpdump on one interface inside a netns, writing a pcap file."""

    def __init__(self, h, netns, ifname, path, bpf_filter):
        self.h, self.path = h, path
        # -B: 64 MiB of kernel buffer (the default 2 MiB overflowed once on a
        # loaded machine, 188 packets dropped): the capture is the truth.
        argv = ["ip", "netns", "exec", netns, "tcpdump", "-i", ifname, "-w", path, "-U",
                "--immediate-mode", "-B", "65536", "-n", "-s", str(SNAPLEN), "-Z", "root", bpf_filter]
        self.p = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                  stderr=subprocess.PIPE)
        h.tcpdumps.append(self.p)
        self.err = b""
        self._wait_listening()
        self.stats = None

    def _wait_listening(self, timeout=15):
        deadline = time.monotonic() + timeout
        fd = self.p.stderr.fileno()
        sel = selectors.DefaultSelector()
        sel.register(fd, selectors.EVENT_READ)
        try:
            while b"listening on" not in self.err:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise na.HarnessError("tcpdump did not start listening: %r" % self.err)
                if sel.select(min(left, 0.5)):
                    chunk = os.read(fd, 4096)
                    if not chunk:
                        rc = self.p.wait(timeout=5)
                        raise na.HarnessError("tcpdump exited with %s: %s"
                                              % (rc, self.err.decode(errors="replace")))
                    self.err += chunk
        finally:
            sel.close()

    def stop(self):
        """SIGINT, reap; returns {'captured','received','dropped'} from its stderr."""
        self.p.send_signal(signal.SIGINT)
        try:
            _, err = self.p.communicate(timeout=15)
        except subprocess.TimeoutExpired:
            self.p.kill()
            self.p.wait()
            raise na.HarnessError("tcpdump did not stop on SIGINT")
        self.err += err
        text = self.err.decode(errors="replace")
        st = {}
        for line in text.splitlines():
            parts = line.split()
            if len(parts) >= 3 and parts[0].isdigit() and parts[1] == "packets":
                st[" ".join(parts[2:])] = int(parts[0])
        self.stats = {"captured": st.get("captured"), "received": st.get("received by filter"),
                      "dropped": st.get("dropped by kernel")}
        return self.stats

    def packets(self):
        lt, frames = read_pcap(self.path)
        if lt is not None and lt != 1:
            raise na.HarnessError("%s: link type %d, expected 1 (Ethernet)" % (self.path, lt))
        return frames


class WireHarness(na.Harness):
    """The harness plus network namespaces and tcpdumps, removed on every exit
    path the harness covers (normal, exception, signal, deadline, atexit)."""

    def __init__(self, name):
        self.netns = []
        self.tcpdumps = []
        self.tmpdir = None
        super().__init__(name)

    def cleanup(self):
        if self._cleaned:
            return
        for p in self.tcpdumps:
            if p.poll() is None:
                try:
                    p.kill()
                except ProcessLookupError:
                    pass
            try:
                p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                na.log("# cleanup: tcpdump %d did not exit" % p.pid)
        super().cleanup()        # workers, detach --all, pin root, cgroups
        for ns in reversed(self.netns):
            # Deleting a namespace destroys the veth end inside it, and with
            # it the pair.
            r = subprocess.run(["ip", "netns", "del", ns], capture_output=True, text=True)
            if r.returncode != 0:
                na.log("# cleanup: ip netns del %s: %s" % (ns, r.stderr.strip()))
        self.netns = []

    def ip(self, *args, netns=None):
        argv = ["ip"] + (["-n", netns] if netns else []) + list(args)
        r = subprocess.run(argv, capture_output=True, text=True, timeout=30)
        if r.returncode != 0:
            raise na.HarnessError("%s: %s" % (" ".join(argv), r.stderr.strip()))
        return r.stdout

    def add_netns(self, name):
        if not name.startswith(na.TEST_PREFIX):
            raise na.HarnessError("refusing to create netns %s" % name)
        self.ip("netns", "add", name)
        self.netns.append(name)
        return name

    def spawn_worker(self, cg, netns, label, *args):
        return self.worker(os.path.abspath(__file__), cg, label, *args, netns=netns)


class Link:
    """netacct-test-<hex>-a / -b joined by veth nt<hex>a / nt<hex>b."""

    def __init__(self, h):
        tag = na._rand()
        n = int(tag[:2], 16)
        self.ns_a = h.add_netns(na.TEST_PREFIX + tag + "-a")
        self.ns_b = h.add_netns(na.TEST_PREFIX + tag + "-b")
        self.if_a, self.if_b = "nt%sa" % tag, "nt%sb" % tag
        self.addr = {4: ("10.213.%d.1" % n, "10.213.%d.2" % n),
                     6: ("fd00:213:%x::1" % n, "fd00:213:%x::2" % n)}
        # Created straight inside the namespaces: never a moment in ours.
        h.ip("link", "add", self.if_a, "netns", self.ns_a, "type", "veth", "peer", "name",
             self.if_b, "netns", self.ns_b)
        for ns, ifn, i in ((self.ns_a, self.if_a, 0), (self.ns_b, self.if_b, 1)):
            h.ip("link", "set", "lo", "up", netns=ns)
            h.ip("link", "set", ifn, "mtu", str(MTU), "up", netns=ns)
            h.ip("addr", "add", self.addr[4][i] + "/24", "dev", ifn, netns=ns)
            h.ip("addr", "add", self.addr[6][i] + "/64", "dev", ifn, "nodad", netns=ns)
            r = subprocess.run(["ip", "netns", "exec", ns, "ethtool", "-K", ifn, "tso", "off",
                                "gso", "off", "gro", "off"], capture_output=True, text=True)
            if r.returncode != 0:
                raise na.HarnessError("ethtool -K %s: %s" % (ifn, r.stderr.strip()))
        self.mac_a = self._mac(h, self.ns_a, self.if_a)
        self.mac_b = self._mac(h, self.ns_b, self.if_b)
        # Static neighbours: no ARP / neighbour discovery on the link.
        for f in (4, 6):
            h.ip("neigh", "replace", self.addr[f][1], "lladdr", self.mac_b, "dev", self.if_a,
                 "nud", "permanent", netns=self.ns_a)
            h.ip("neigh", "replace", self.addr[f][0], "lladdr", self.mac_a, "dev", self.if_b,
                 "nud", "permanent", netns=self.ns_b)

    @staticmethod
    def _mac(h, ns, ifn):
        return json.loads(h.ip("-j", "link", "show", ifn, netns=ns))[0]["address"]

    def offloads(self, ns, ifn):
        r = subprocess.run(["ip", "netns", "exec", ns, "ethtool", "-k", ifn],
                           capture_output=True, text=True, timeout=30)
        feats = {}
        for line in r.stdout.splitlines():
            k, sep, v = line.strip().partition(":")
            if sep:
                feats[k] = v.split()[0] if v.split() else ""
        return feats

    def capture_filter(self):
        a4, b4 = self.addr[4]
        a6, b6 = self.addr[6]
        return "(ip and host %s and host %s) or (ip6 and host %s and host %s)" % (a4, b4, a6, b6)


# ==========================================================================
# the test
# ==========================================================================

def start_captures(h, link, tag):
    caps = {}
    for side, ns, ifn in (("a", link.ns_a, link.if_a), ("b", link.ns_b, link.if_b)):
        caps[side] = Capture(h, ns, ifn, os.path.join(h.tmpdir, "%s-%s.pcap" % (tag, side)),
                             link.capture_filter())
    return caps


def idle_moment(h, caps, tries=40, settle=0.3):
    """(Export, {'a': pkts, 'b': pkts}) at a moment when neither the counters
    nor the capture files changed for `settle` seconds."""
    for _ in range(tries):
        e1 = h.export()
        s1 = [os.path.getsize(c.path) for c in caps.values()]
        time.sleep(settle)
        e2 = h.export()
        s2 = [os.path.getsize(c.path) for c in caps.values()]
        k1 = sorted(tuple(na.counters(r).values()) for r in e1.rows)
        k2 = sorted(tuple(na.counters(r).values()) for r in e2.rows)
        if k1 == k2 and s1 == s2:
            return e2, {side: c.packets() for side, c in caps.items()}
    raise na.HarnessError("traffic never went idle")


def flow_pkts(pkts, proto, src, sport, dst, dport):
    want = (proto, src, sport, dst, dport)
    return [p for p in pkts if p is not None and p.key() == want]


def check_socket(h, label, row, family, exp_tx, exp_rx):
    if not h.check("%s has a socket row" % label, row is not None):
        return
    for d, exp in (("tx", exp_tx), ("rx", exp_rx)):
        h.eq("%s %s == captured %s" % (label, d, "sent" if d == "tx" else "received"),
             row_dir(row, d), exp)
        h.eq("%s %s_ip_hdr_bytes == %d x packets" % (label, d, na.ip_hdr_len(family)),
             row[d + "_ip_hdr_bytes"], na.ip_hdr_len(family) * row[d + "_packets"])


def check_tcp_sockets(h, exp, pk, fl):
    """Per-socket rows of one TCP flow against the captures of both ends."""
    f, c, s = fl["family"], fl["cready"], fl["sready"]
    c2s = (6, c["laddr"], c["lport"], c["raddr"], c["rport"])
    s2c = (6, c["raddr"], c["rport"], c["laddr"], c["lport"])
    a_c2s, a_s2c = flow_pkts(pk["a"], *c2s), flow_pkts(pk["a"], *s2c)
    b_c2s, b_s2c = flow_pkts(pk["b"], *c2s), flow_pkts(pk["b"], *s2c)
    L = fl["label"]
    # The SYN, the SYN-ACK and the first segment after the SYN (the
    # handshake's ACK) belong to the listener on the server side.
    syn = [p for p in b_c2s if p.flags & 0x02]
    synack = [p for p in b_s2c if p.flags & 0x02]
    if not h.eq("%s: one SYN and one SYN-ACK captured" % L, (len(syn), len(synack)), (1, 1)):
        return
    i = b_c2s.index(syn[0])
    hs = b_c2s[i:i + 2]
    h.eq("%s: the segment after the SYN is a bare ACK" % L,
         (hs[1].flags & 0x12, hs[1].payload) if len(hs) == 2 else None, (0x10, 0))
    h.check("%s: no segment larger than the MTU on the wire" % L,
            all(p.ip_len <= MTU for p in a_c2s + a_s2c), "max %d"
            % max(p.ip_len for p in a_c2s + a_s2c))
    check_socket(h, "%s client" % L, exp.socket("tcp", *na_tuple(c)), f,
                 summed(a_c2s), summed(a_s2c))
    check_socket(h, "%s accepted" % L, exp.socket("tcp", *na_tuple(s)), f,
                 summed([p for p in b_s2c if p is not synack[0]]),
                 summed([p for p in b_c2s if p not in hs]))
    lrow = exp.socket("tcp", s["laddr"], s["lport"])
    if h.check("%s listener has a socket row" % L, lrow is not None):
        h.eq("%s listener row == SYN-ACK out, SYN + ACK in" % L,
             (row_dir(lrow, "tx"), row_dir(lrow, "rx")), (summed(synack), summed(hs)))
    h.note("%s: wire c->s %d packets / %d payload bytes, s->c %d / %d" % (
        L, len(a_c2s), summed(a_c2s)["payload_bytes"], len(a_s2c),
        summed(a_s2c)["payload_bytes"]))


def check_udp_sockets(h, exp, pk, fl):
    f, c, s = fl["family"], fl["cready"], fl["sready"]
    c2s = (17, c["laddr"], c["lport"], c["raddr"], c["rport"])
    s2c = (17, c["raddr"], c["rport"], c["laddr"], c["lport"])
    L = fl["label"]
    a_c2s, a_s2c = flow_pkts(pk["a"], *c2s), flow_pkts(pk["a"], *s2c)
    b_c2s, b_s2c = flow_pkts(pk["b"], *c2s), flow_pkts(pk["b"], *s2c)
    h.eq("%s: captured datagrams each way == application's" % L,
         (len(a_c2s), len(a_s2c)), (fl["cdone"]["datagrams"], fl["sdone"]["datagrams"]))
    check_socket(h, "%s client (connected)" % L, exp.socket("udp", *na_tuple(c)), f,
                 summed(a_c2s), summed(a_s2c))
    check_socket(h, "%s server (unconnected, one peer)" % L,
                 exp.socket("udp", s["laddr"], s["lport"], *na.one_peer(c["laddr"], c["lport"])), f,
                 summed(b_s2c), summed(b_c2s))


def na_tuple(r):
    return (r["laddr"], r["lport"], r["raddr"], r["rport"])


def run_tcp(h, cg, link, family, bulk=BULK, rr_count=RR_COUNT, how="shutdown", tag="tcp"):
    a, b = link.addr[family]
    label = "%s/ipv%d" % (tag, family)
    srv = h.spawn_worker(cg, link.ns_b, label + " server", "tcp-server", family, b, bulk,
                         rr_count, how)
    port = srv.expect("listening")["port"]
    cli = h.spawn_worker(cg, link.ns_a, label + " client", "tcp-client", family, a, b, port,
                         bulk, rr_count, how)
    fl = dict(label=label, family=family, server=srv, client=cli, port=port,
              cready=cli.expect("ready"), sready=srv.expect("ready"))
    fl["cdone"] = cli.expect("done", 90)
    fl["sdone"] = srv.expect("done", 90)
    fl["ports"] = {port, fl["cready"]["lport"]}
    return fl


def run_udp(h, cg, link, family, count, limit, tag="udp"):
    a, b = link.addr[family]
    label = "%s/ipv%d" % (tag, family)
    srv = h.spawn_worker(cg, link.ns_b, label + " server", "udp-server", family, b, count,
                         limit)
    port = srv.expect("listening")["port"]
    sready = srv.expect("ready")
    cli = h.spawn_worker(cg, link.ns_a, label + " client", "udp-client", family, a, b, port,
                         count, limit)
    fl = dict(label=label, family=family, server=srv, client=cli, port=port,
              sready=sready, cready=cli.expect("ready"))
    fl["cdone"] = cli.expect("done", 60)
    fl["sdone"] = srv.expect("done", 60)
    return fl


def close_flows(h, link, flows):
    for fl in flows:
        fl["client"].send("close")
        fl["server"].send("close")
    for fl in flows:
        fl["client"].expect("closed", 30)
        fl["server"].expect("closed", 30)
        fl["client"].finish()
        fl["server"].finish()
    ports = set()
    for fl in flows:
        if "ports" in fl:
            ports |= fl["ports"]
    if ports:
        h.wait_tcp_gone(ports, netns=(link.ns_a, link.ns_b))


def veth_drops(h, link):
    """(tx_dropped + rx_dropped) over both veth ends."""
    tot = 0
    for ns, ifn in ((link.ns_a, link.if_a), (link.ns_b, link.if_b)):
        st = json.loads(h.ip("-s", "-j", "link", "show", ifn, netns=ns))[0]["stats64"]
        tot += st["rx"]["dropped"] + st["tx"]["dropped"]
    return tot


def check_capture_complete(h, tag, caps, stats):
    for side, st in stats.items():
        h.eq("%s: tcpdump on end %s: 0 packets dropped by kernel" % (tag, side),
             st["dropped"], 0)
        h.check("%s: tcpdump on end %s wrote every packet it captured" % (tag, side),
                st["captured"] == len(caps[side].packets()),
                "stderr says %s captured, file holds %d" % (st["captured"],
                                                           len(caps[side].packets())))


def check_orphan_close(h, cg, link, tag="orphan"):
    """What a cgroup cannot see: the FIN_WAIT2 minisock of an orphaned socket.

    The client close()s with its FIN unacknowledged and the server closes
    0.5 s later, so the ACK of the client's FIN travels alone: the kernel
    then replaces the orphaned client socket with a minisock, which receives
    the server's FIN and sends the last ACK. Asserted exactly: the cgroup row
    is the wire minus those two packets per connection (the server's FIN on
    the client's rx, the client's last ACK on its tx), all else counted.
    """
    before = na.counters(h.export().cgroup(cg))
    caps = start_captures(h, link, tag)
    flows = [run_tcp(h, cg, link, 4, 65537, 10, "orphan", tag)]
    close_flows(h, link, flows)
    exp, pk = idle_moment(h, caps)
    stats = {side: c.stop() for side, c in caps.items()}
    check_capture_complete(h, tag, caps, stats)
    delta = na.counters_sub(na.counters(exp.cgroup(cg)), before)
    c = flows[0]["cready"]
    c2s = flow_pkts(pk["a"], 6, c["laddr"], c["lport"], c["raddr"], c["rport"])
    s2c = flow_pkts(pk["a"], 6, c["raddr"], c["rport"], c["laddr"], c["lport"])
    sfin = [p for p in s2c if p.flags & 0x01]
    cfin = [p for p in c2s if p.flags & 0x01]
    if not h.eq("%s: one FIN each way on the wire" % tag, (len(cfin), len(sfin)), (1, 1)):
        return
    pre = s2c[:s2c.index(sfin[0])]
    h.eq("%s: a bare ACK (of the client's FIN) came before the server's FIN" % tag,
         (pre[-1].flags, pre[-1].payload) if pre else None, (0x10, 0))
    last_ack = c2s[-1]
    h.eq("%s: the client's last segment is the bare ACK of the server's FIN" % tag,
         (last_ack.flags, last_ack.payload), (0x10, 0))
    wire_tx = summed(c2s[:-1] + [p for p in flow_pkts(pk["b"], 6, c["raddr"], c["rport"],
                                                       c["laddr"], c["lport"])])
    wire_rx = summed([p for p in s2c if p is not sfin[0]] +
                     flow_pkts(pk["b"], 6, c["laddr"], c["lport"], c["raddr"], c["rport"]))
    h.eq("%s: cgroup tx == wire minus the minisock's last ACK" % tag,
         {k: delta["tx_" + k] for k in na.COUNTERS}, wire_tx)
    h.eq("%s: cgroup rx == wire minus the server's FIN the minisock received" % tag,
         {k: delta["rx_" + k] for k in na.COUNTERS}, wire_rx)


def check_fragments(h, cg, link, caps_tag="frag"):
    """UDP datagrams larger than the MTU leave as IP fragments.

    The egress hook runs before ip_fragment() and the ingress hook after
    reassembly, so netacct sees one skb per datagram: it cannot count the
    wire's packets or IP headers of fragments (it gets payload and L4 bytes
    right). Measured here as a delta of the cgroup row against a capture and
    reported; asserted only with NETACCT_WIRE_STRICT_FRAG=1, since counting
    fragments is outside what the cgroup hooks can see.
    """
    before = na.counters(h.export().cgroup(cg))
    caps = start_captures(h, link, caps_tag)
    flows = [run_udp(h, cg, link, f, 20, FRAG_SIZE, "udp-frag") for f in (4, 6)]
    close_flows(h, link, flows)
    exp, pk = idle_moment(h, caps)
    stats = {side: c.stop() for side, c in caps.items()}
    check_capture_complete(h, caps_tag, caps, stats)
    delta = na.counters_sub(na.counters(exp.cgroup(cg)), before)
    ours = [p for p in pk["a"] if p is not None]
    wire = summed(ours)
    nfrag = sum(1 for p in ours if p.frag)
    h.check("%s: the capture holds IP fragments" % caps_tag, nfrag > 0,
            "no fragment among %d packets" % len(ours))
    tx = {k: delta["tx_" + k] for k in na.COUNTERS}
    rx = {k: delta["rx_" + k] for k in na.COUNTERS}
    h.eq("%s: tx l4+payload == wire l4+payload" % caps_tag,
         tx["l4_hdr_bytes"] + tx["payload_bytes"], wire["l4_hdr_bytes"] + wire["payload_bytes"])
    h.eq("%s: rx l4+payload == wire l4+payload" % caps_tag,
         rx["l4_hdr_bytes"] + rx["payload_bytes"], wire["l4_hdr_bytes"] + wire["payload_bytes"])
    same = tx == wire and rx == wire
    msg = "%s: cgroup tx %r / rx %r vs wire %r (%d fragments)" % (caps_tag, tx, rx, wire, nfrag)
    if os.environ.get("NETACCT_WIRE_STRICT_FRAG") == "1":
        h.check("%s: cgroup tx == wire == rx (fragments counted)" % caps_tag, same, msg)
    else:
        h.note(("KNOWN LIMITATION: " if not same else "") + msg)


def main():
    if len(sys.argv) > 1 and sys.argv[1] == "--worker":
        sys.exit(worker_main(sys.argv[2:]))
    h = WireHarness("wire")
    with h:
        for tool in ("tcpdump", "ethtool", "ip"):
            if not shutil.which(tool):
                raise na.SkipTest("%s not found (install %s)" % (
                    tool, {"ip": "iproute2"}.get(tool, tool)))
        h.tmpdir = h.make_tmpdir()
        link = Link(h)
        for ns, ifn in ((link.ns_a, link.if_a), (link.ns_b, link.if_b)):
            feats = link.offloads(ns, ifn)
            h.eq("%s: tso/gso/gro off" % ifn,
                 [feats.get(k) for k in ("tcp-segmentation-offload",
                                         "generic-segmentation-offload",
                                         "generic-receive-offload")], ["off", "off", "off"])
        cg = h.make_cgroup()
        h.attach(cg)
        h.note("netns %s / %s, veth %s / %s, %s" % (link.ns_a, link.ns_b, link.if_a, link.if_b,
                                                   link.addr))
        drops0, soft0 = veth_drops(h, link), na.softnet_dropped()
        caps = start_captures(h, link, "main")

        flows = [run_tcp(h, cg, link, 4), run_tcp(h, cg, link, 6),
                 run_udp(h, cg, link, 4, UDP_COUNT, MTU - 28),
                 run_udp(h, cg, link, 6, UDP_COUNT, MTU - 48)]

        # -- per socket, sockets open and idle ---------------------------------
        exp, pk = idle_moment(h, caps)
        for fl in flows:
            if "ports" in fl:
                check_tcp_sockets(h, exp, pk, fl)
            else:
                check_udp_sockets(h, exp, pk, fl)

        # -- close, then the cgroup totals against the whole capture ------------
        close_flows(h, link, flows)
        exp, pk = idle_moment(h, caps)
        stats = {side: c.stop() for side, c in caps.items()}
        check_capture_complete(h, "main", caps, stats)
        drops = veth_drops(h, link) - drops0
        soft = na.softnet_dropped() - soft0
        h.note("tcpdump: %r; veth drops %d, softnet drops %d" % (stats, drops, soft))

        a = [p for p in pk["a"] if p is not None]
        b = [p for p in pk["b"] if p is not None]
        h.eq("every captured frame is IPv4/IPv6", (len(a), len(b)),
             (len(pk["a"]), len(pk["b"])))
        known = set()
        for fl in flows:
            c = fl["cready"]
            proto = 6 if "ports" in fl else 17
            known.add((proto, c["laddr"], c["lport"], c["raddr"], c["rport"]))
            known.add((proto, c["raddr"], c["rport"], c["laddr"], c["lport"]))
        h.eq("nothing captured besides our flows",
             [p.key() for p in a + b if p.key() not in known], [])
        h.check("no frame larger than the MTU on the wire",
                all(p.ip_len <= MTU for p in a + b),
                "max IP length %d" % max(p.ip_len for p in a + b))
        h.eq("no IP fragments in the main traffic", sum(1 for p in a + b if p.frag), 0)
        a_ips = {link.addr[4][0], link.addr[6][0]}
        sent_a = [p for p in a if p.src in a_ips]        # A's egress: client tx
        recv_a = [p for p in a if p.src not in a_ips]    # A's ingress: client rx
        sent_b = [p for p in b if p.src not in a_ips]    # B's egress: server tx
        recv_b = [p for p in b if p.src in a_ips]        # B's ingress: server rx
        h.note("captured: a->b %d sent / %d arrived, b->a %d sent / %d arrived"
               % (len(sent_a), len(recv_b), len(sent_b), len(recv_a)))

        row = exp.cgroup(cg)
        if h.check("cgroup row exported", row is not None):
            tx, rx = row_dir(row, "tx"), row_dir(row, "rx")
            wire_tx, wire_rx = summed(sent_a + sent_b), summed(recv_a + recv_b)
            h.eq("cgroup tx == everything both endpoints put on the wire", tx, wire_tx)
            h.eq("cgroup rx == everything that reached both endpoints", rx, wire_rx)
            if h.eq("no drop between the veth ends (both captures agree)",
                    (len(recv_b), len(recv_a)), (len(sent_a), len(sent_b))):
                total = summed(a)
                ip_total = sum(p.ip_len for p in a)
                h.eq("cgroup tx_packets == captured packets (both directions)",
                     row["tx_packets"], len(a))
                h.eq("cgroup rx_packets == captured packets", row["rx_packets"], len(a))
                h.eq("cgroup tx ip+l4+payload == sum of captured IP lengths",
                     tx["ip_hdr_bytes"] + tx["l4_hdr_bytes"] + tx["payload_bytes"], ip_total)
                h.eq("cgroup rx ip+l4+payload == sum of captured IP lengths",
                     rx["ip_hdr_bytes"] + rx["l4_hdr_bytes"] + rx["payload_bytes"], ip_total)
                h.eq("cgroup tx == rx (every counter)", tx, rx)
                h.note("wire total: %r, %d IP bytes" % (total, ip_total))
            else:
                h.note("veth drops %d, softnet drops %d" % (drops, soft))

        # -- what the cgroup hooks cannot see ----------------------------------------
        check_orphan_close(h, cg, link)
        check_fragments(h, cg, link)


if __name__ == "__main__":
    main()
