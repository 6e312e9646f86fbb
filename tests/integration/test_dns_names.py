#!/usr/bin/python3
"""Peer names from the cgroup's own DNS answers: dnsmasq, glibc's resolver and dig.

dnsmasq (in no attached cgroup) answers on port 53 of a loopback address of
the test's for names of the test's own that resolve to loopback addresses:
  web.netacct.test    A     127.0.0.7   (TTL 300)
  late.netacct.test   A     127.0.0.8   (TTL 1)
  v6.netacct.test     AAAA  ::1         (TTL 300)
  alias.netacct.test  CNAME web2.netacct.test, A 127.0.0.9
A TCP server outside the attached cgroups listens on those addresses.

In attached cgroup A, a client in a mount namespace of its own, whose
/etc/resolv.conf names only dnsmasq (and nsswitch.conf only dns), looks
names up with getaddrinfo() (glibc's stub resolver: UDP) and connects to
them; it asks for alias.netacct.test with `dig +tcp` (DNS over TCP) and
connects to the address dig printed; it connects to late.netacct.test
right after its lookup and again 6.5 s later (the answer's TTL is 1 s; an
answer names the sockets begun within 5 s of it at least). In attached
cgroup B, a client connects to 127.0.0.7 without a lookup.

Asserted (the truth is what the client looked up and where it connected):
  * export: A's socket rows to 127.0.0.7, ::1, 127.0.0.9 and the first to
    127.0.0.8 carry the name the client asked for (alias.netacct.test for
    127.0.0.9: the question's name, not the CNAME's target); the second
    to 127.0.0.8 (begun after the answer expired) carries none; B's row to
    127.0.0.7 carries none (A's lookups never name B's peers); every named
    row's payload is what the client sent and received there;
  * top --batch --group-by peer shows the names in its HOST column;
  * status --json counts the names learnt;
  * after the close: the log records carry the same names (none for B's
    and for the late second connection), and the closed rows the names.
"""

import json
import os
import shutil
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import na_harness as na  # noqa: E402

SEND, REPLY = 1000, 3000

# Python source both programs start with: recv_up_to() reads n bytes, or
# fewer where the peer closes first, and says how many it read.
RECV_UP_TO = r"""
def recv_up_to(s, n):
    got = 0
    while got < n:
        b = s.recv(65536)
        if not b:
            break
        got += len(b)
    return got
"""

CLIENT = RECV_UP_TO + r"""
import json, socket, subprocess, sys, time
port = int(sys.argv[1]); ns = sys.argv[2]

def out(**m):
    print(json.dumps(m), flush=True)

def talk(family, addr, name):
    s = socket.socket(family, socket.SOCK_STREAM)
    s.connect((addr, port))
    s.sendall(b"q" * %(send)d)
    got = recv_up_to(s, %(reply)d)
    out(event="conn", name=name, addr=addr, lport=s.getsockname()[1], sent=%(send)d, received=got)
    return s

def lookup(name, family):
    return socket.getaddrinfo(name, port, family, socket.SOCK_STREAM)[0][4][0]

keep = []
t0 = time.monotonic()
late = lookup("late.netacct.test", socket.AF_INET)
keep.append(talk(socket.AF_INET, late, "late.netacct.test"))
keep.append(talk(socket.AF_INET, lookup("web.netacct.test", socket.AF_INET), "web.netacct.test"))
keep.append(talk(socket.AF_INET6, lookup("v6.netacct.test", socket.AF_INET6), "v6.netacct.test"))
dig = subprocess.run(["dig", "+tcp", "+short", "+tries=1", "+time=3", "@" + ns, "alias.netacct.test", "A"],
                     capture_output=True, text=True, timeout=20)
alias = [l for l in dig.stdout.split() if l[:1].isdigit()]
if dig.returncode or not alias:
    out(event="error", message="dig +tcp: %%r" %% dig.stdout)
    sys.exit(1)
keep.append(talk(socket.AF_INET, alias[-1], "alias.netacct.test"))
time.sleep(max(0.0, 6.5 - (time.monotonic() - t0)))
keep.append(talk(socket.AF_INET, late, None))
out(event="ready")
sys.stdin.readline()
for s in keep:
    s.close()
out(event="closed")
""" % {"send": SEND, "reply": REPLY}

SERVER = RECV_UP_TO + r"""
import socket, sys, threading
port = int(sys.argv[1])
def serve(c):
    if recv_up_to(c, %(send)d) < %(send)d:
        return
    c.sendall(b"r" * %(reply)d)
    c.recv(1)
    c.close()
def listen(family, addr):
    s = socket.socket(family, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((addr, port))
    s.listen(64)
    while True:
        c, _ = s.accept()
        threading.Thread(target=serve, args=(c,), daemon=True).start()
for fam, a in ((socket.AF_INET, "127.0.0.7"), (socket.AF_INET, "127.0.0.8"), (socket.AF_INET, "127.0.0.9"),
               (socket.AF_INET6, "::1")):
    threading.Thread(target=listen, args=(fam, a), daemon=True).start()
print("ready", flush=True)
sys.stdin.readline()
""" % {"send": SEND, "reply": REPLY}


def listening(addr, port, proto="udp"):
    hexaddr = "".join("%02X" % int(b) for b in reversed(addr.split(".")))
    with open("/proc/net/%s" % proto) as f:
        return any(ln.split()[1] == "%s:%04X" % (hexaddr, port) for ln in f.readlines()[1:])


def main():
    h = na.Harness("dns_names")
    with h:
        for tool in ("dnsmasq", "dig", "unshare"):
            if not shutil.which(tool) and not os.path.exists("/usr/sbin/" + tool):
                raise na.SkipTest("%s not found (install dnsmasq-base, bind9-dnsutils, util-linux)" % tool)
        a, b = h.make_cgroup(), h.make_cgroup()
        h.attach(a, b)
        d = h.make_tmpdir("dns-")
        # A loopback address of the test's own for port 53, so that runs side by side do not meet.
        ns = "127.53.%d.%d" % (os.getpid() % 250 + 1, int(time.time()) % 250 + 1)
        dns = h.spawn(["/usr/sbin/dnsmasq", "--keep-in-foreground", "--conf-file=/dev/null", "--no-resolv",
                       "--no-hosts", "--bind-interfaces", "--listen-address=" + ns, "--port=53", "--user=root",
                       "--pid-file=%s/pid" % d, "--log-facility=-",
                       "--host-record=web.netacct.test,127.0.0.7,300",
                       "--host-record=late.netacct.test,127.0.0.8,1",
                       "--host-record=v6.netacct.test,::1,300",
                       "--host-record=web2.netacct.test,127.0.0.9,300",
                       "--cname=alias.netacct.test,web2.netacct.test,300"],
                      label="dnsmasq", stderr=subprocess.DEVNULL)
        for _ in range(100):
            if listening(ns, 53) or dns.p.poll() is not None:
                break
            time.sleep(0.05)
        if not listening(ns, 53):
            raise na.HarnessError("dnsmasq does not listen on %s:53" % ns)
        with open(os.path.join(d, "resolv.conf"), "w") as f:
            f.write("nameserver %s\noptions attempts:1 timeout:3\n" % ns)
        with open(os.path.join(d, "nsswitch.conf"), "w") as f:
            f.write("hosts: dns\n")
        with open(os.path.join(d, "client.py"), "w") as f:
            f.write(CLIENT)
        port = na.free_port()
        srv = h.spawn([na.PYTHON, "-c", SERVER, str(port)], label="server")
        if srv.p.stdout.readline().strip() != b"ready":
            raise na.HarnessError("the server did not start")

        # A's client: its own resolv.conf and nsswitch.conf, bound over the host's in a mount namespace.
        cli = h.spawn(["unshare", "--mount", "--propagation", "private", "sh", "-c",
                       'mount --bind "$0/resolv.conf" /etc/resolv.conf && '
                       'mount --bind "$0/nsswitch.conf" /etc/nsswitch.conf && '
                       'exec "$1" "$0/client.py" "$2" "$3"', d, na.PYTHON, str(port), ns],
                      cgroup=a, label="client-A")
        cli.expect("ready", 60)
        conns = [m for m in cli.events if m.get("event") == "conn"]
        h.note("A's connections: %r" % [(c["name"], c["addr"], c["lport"]) for c in conns])
        other = h.spawn([na.PYTHON, "-c",
                         "import json,socket,sys\n"
                         "s=socket.create_connection(('127.0.0.7',int(sys.argv[1])))\n"
                         "s.sendall(b'q'*%d)\n"
                         "got=0\n"
                         "while got<%d:\n"
                         "    got+=len(s.recv(65536))\n"
                         "print(json.dumps({'event':'ready','lport':s.getsockname()[1]}),flush=True)\n"
                         "sys.stdin.readline()\n"
                         "s.close()\n" % (SEND, REPLY), str(port)], cgroup=b, label="client-B")
        b_lport = other.expect("ready", 30)["lport"]

        exp = h.export()
        for c in conns:
            rows = [r for r in exp.sockets if r["proto"] == "tcp" and r["lport"] == c["lport"]
                    and r["raddr"] == c["addr"] and r["cgroup_id"] == a.id]
            what = "A's connection to %s (%s)" % (c["addr"], c["name"] or "begun after the answer expired")
            if not h.check(what + ": a socket row", len(rows) == 1, repr(rows)):
                continue
            row = rows[0]
            h.eq(what + ": peer_name", row.get("peer_name") or None, c["name"])
            h.eq(what + ": payload sent, received", (row["tx_payload_bytes"], row["rx_payload_bytes"]),
                 (c["sent"], c["received"]))
        rows = [r for r in exp.sockets if r["lport"] == b_lport and r["cgroup_id"] == b.id]
        if h.check("B's connection to 127.0.0.7: a socket row", len(rows) == 1, repr(rows)):
            h.eq("B's connection to 127.0.0.7: no name (B looked nothing up)", rows[0].get("peer_name") or None,
                 None)

        top = h.netacct_ok("top", "--batch", "-n", "1", "-d", "0.3", "--group-by", "peer", a.path).stdout
        for name in ("web.netacct.test", "v6.netacct.test", "alias.netacct.test"):
            h.check("top --group-by peer: the HOST column shows %s" % name, name in top, top[-1500:])
        h.check("top: the HOST column is there", " HOST " in top.replace("\n", " "), top[:800])
        st = na.netacct_status(h)
        h.check("status: the names learnt (4 at least)", st.get("peer_names", 0) >= 4, repr(st)[:300])

        cli.send("close")
        cli.expect("closed", 30)
        other.send("close")
        for w in (cli, other):
            w.finish()
        srv.send("")
        recs = []
        for _ in range(20):
            recs += [json.loads(x) for x in h.netacct_ok("log", "--json").stdout.splitlines() if x.strip()]
            if len([r for r in recs if r["proto"] == "tcp" and r["rport"] == port]) >= len(conns) + 1:
                break
            time.sleep(0.2)
        for c in conns:
            mine = [r for r in recs if r["lport"] == c["lport"] and r["rport"] == port]
            if h.check("log: a record of A's connection to %s" % c["addr"], len(mine) == 1, repr(mine)):
                h.eq("log: its peer_name", mine[0].get("peer_name"), c["name"])
        mine = [r for r in recs if r["lport"] == b_lport and r["rport"] == port]
        if h.check("log: a record of B's connection", len(mine) == 1, repr(mine)):
            h.eq("log: B's record has no name", mine[0].get("peer_name"), None)
        closed = [r for r in h.export().rows if r["kind"] == "closed" and r["proto"] == "tcp"]
        for addr, name in (("127.0.0.7", "web.netacct.test"), ("::1", "v6.netacct.test"),
                           ("127.0.0.9", "alias.netacct.test")):
            mine = [r for r in closed if r["raddr"] == addr and r["cgroup_id"] == a.id]
            if h.check("closed rows: A's row for %s" % addr, len(mine) == 1, repr(mine)):
                h.eq("closed rows: A's row for %s is named" % addr, mine[0].get("peer_name"), name)
        mine = [r for r in closed if r["raddr"] == "127.0.0.7" and r["cgroup_id"] == b.id]
        if h.check("closed rows: B's row for 127.0.0.7", len(mine) == 1, repr(mine)):
            h.eq("closed rows: B's row has no name", mine[0].get("peer_name") or None, None)
        if dns.p.poll() is None:
            dns.p.send_signal(signal.SIGTERM)
            dns.p.wait(timeout=10)


if __name__ == "__main__":
    main()
