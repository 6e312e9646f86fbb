#!/usr/bin/python3
"""Names people know a cgroup by, and peer classes (docs/names.md).

Real cgroups laid out exactly as the runtimes and the kubelet lay them out,
below the test's own netacct-test-* cgroup (CL):

  A  kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod<UID_>.slice/
     cri-containerd-<ID>.scope          kubelet, systemd driver, containerd
  B  kubepods/besteffort/pod<UID>/<ID>  kubelet, cgroupfs driver (a bare id)
  C  kubepods/pod<UID>/crio-<ID>        cgroupfs, Guaranteed (no QoS directory), CRI-O
  D  system.slice/docker-<ID>.scope     docker, systemd driver
  E  machine.slice/libpod-<ID>.scope    podman
  F  system.slice/payments-report.service   a systemd unit
  G  system.slice/we"ird\\unit.service      a unit named with a quote and a backslash

and metadata fixtures under a temporary NETACCT_METADATA_ROOT: the
kubelet's /var/log/pods/NS_POD_UID and /var/log/containers/POD_NS_CTR-ID.log,
docker's config.v2.json, containers/storage's containers.json. A UDP client
in each sends to a server in another test cgroup (S) at 127.0.0.1 or
127.0.2.1, and A also runs a TCP client; a networks file names
`internal 127.0.0.0/24` and `zone-b 127.0.2.0/24`.

Asserted (truth: the clients' and servers' own byte counts, ss for TCP):
  * export (CSV and JSON): each client row's unit, container, container_id,
    pod, pod_uid, namespace, qos and peer_class;
  * export --group-by pod / container / unit / peer-class: the groups' names
    and payload, exact;
  * top --batch: the best name in CGROUP (the path with --full-path), NAME by
    pod, CLASS by peer class;
  * the agent's /metrics: the names as labels of the leaf-cgroup series, and
    netacct_peer_class_payload_bytes_total per cgroup and class, exact;
  * log --json after the close: the names and class of each record;
  * without metadata, what the path alone gives; a bad networks file is
    refused naming its line; without one, the built-in classes.
"""

import json
import os
import re
import secrets
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import na_harness as na  # noqa: E402

NETWORKS = "# the test's zones\ninternal 127.0.0.0/24\nzone-b 127.0.2.0/24\n"
ZONE = {"127.0.0.1": "internal", "127.0.2.1": "zone-b"}


def zone_of(addr):
    """The class the test's networks file gives a loopback address."""
    return ZONE.get(addr) or ("zone-b" if addr.startswith("127.0.2.") else "internal")


def uid():
    h = secrets.token_hex(16)
    return "%s-%s-%s-%s-%s" % (h[:8], h[8:12], h[12:16], h[16:20], h[20:])


def cid():
    return secrets.token_hex(32)


class Layout:
    """One client cgroup: its path below CL, and the names it must show."""

    def __init__(self, key, dirs, want, server, n):
        self.key, self.dirs, self.want, self.server, self.n = key, dirs, want, server, n
        self.cg = self.udp = None


def layouts():
    ua, ub, uc = uid(), uid(), uid()
    ia, ib, ic, idd, ie = cid(), cid(), cid(), cid(), cid()
    u_ = ua.replace("-", "_")
    e = dict(unit="", container="", container_id="", pod="", pod_uid="", namespace="", qos="")
    return [
        Layout("A", ["kubepods.slice", "kubepods-burstable.slice", "kubepods-burstable-pod%s.slice" % u_,
                     "cri-containerd-%s.scope" % ia],
               dict(e, unit="cri-containerd-%s.scope" % ia, container="api", container_id="containerd://" + ia,
                    pod="payments-7d9f", pod_uid=ua, namespace="shop", qos="Burstable"), "127.0.2.1", 12),
        Layout("B", ["kubepods", "besteffort", "pod" + ub, ib],
               dict(e, container="worker", container_id=ib, pod="checkout-5c8b", pod_uid=ub, namespace="shop",
                    qos="BestEffort"), "127.0.0.1", 10),
        Layout("C", ["kubepods", "pod" + uc, "crio-" + ic],
               dict(e, container="ledger", container_id="cri-o://" + ic, pod="ledger-0", pod_uid=uc,
                    namespace="finance", qos="Guaranteed"), "127.0.2.1", 8),
        Layout("D", ["system.slice", "docker-%s.scope" % idd],
               dict(e, unit="docker-%s.scope" % idd, container="web", container_id="docker://" + idd),
               "127.0.0.1", 6),
        Layout("E", ["machine.slice", "libpod-%s.scope" % ie],
               dict(e, unit="libpod-%s.scope" % ie, container="db", container_id="podman://" + ie),
               "127.0.2.1", 5),
        Layout("F", ["system.slice", "payments-report.service"], dict(e, unit="payments-report.service"),
               "127.0.0.1", 4),
        # a name another user chose (a delegated subtree): escaped in CSV and in labels
        Layout("G", ["system.slice", 'we"ird\\unit.service'], dict(e, unit='we"ird\\unit.service'),
               "127.0.2.1", 3),
    ]


def make_tree(h, top, lays):
    made = {}
    for lay in lays:
        cg, path = top, ()
        for d in lay.dirs:
            path += (d,)
            if path not in made:
                made[path] = h.make_cgroup(parent=cg, name=d)
            cg = made[path]
        lay.cg = cg


def write(path, text):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        f.write(text)


def fixtures(root, lays):
    """The files the kubelet, docker and podman keep, as they write them."""
    by = {lay.key: lay.want for lay in lays}
    for k in ("A", "B", "C"):
        w = by[k]
        ident = w["container_id"].split("://")[-1]
        logdir = os.path.join(root, "var/log/pods", "%s_%s_%s" % (w["namespace"], w["pod"], w["pod_uid"]),
                              w["container"])
        write(os.path.join(logdir, "0.log"), "")
        link = os.path.join(root, "var/log/containers",
                            "%s_%s_%s-%s.log" % (w["pod"], w["namespace"], w["container"], ident))
        os.makedirs(os.path.dirname(link), exist_ok=True)
        os.symlink(os.path.join("/var/log/pods", os.path.relpath(logdir, os.path.join(root, "var/log/pods")),
                                "0.log"), link)
    d = by["D"]["container_id"].split("://")[1]
    write(os.path.join(root, "var/lib/docker/containers", d, "config.v2.json"), json.dumps({
        "StreamConfig": {}, "State": {"Running": True, "Pid": 4242, "StartedAt": "2026-12-01T10:00:00Z"},
        "ID": d, "Created": "2026-12-01T10:00:00Z", "Path": "nginx", "Args": ["-g", "daemon off;"],
        "Config": {"Hostname": d[:12], "Image": "nginx:1.25", "Labels": {"maintainer": "NGINX"}},
        "Image": "sha256:" + "ab" * 32, "Name": "/web", "Driver": "overlay2", "RestartCount": 0}))
    e = by["E"]["container_id"].split("://")[1]
    write(os.path.join(root, "var/lib/containers/storage/overlay-containers/containers.json"), json.dumps([
        {"id": e, "names": ["db"], "image": "cd" * 32, "layer": "ef" * 32,
         "metadata": json.dumps({"image-name": "docker.io/library/postgres:16", "name": "db",
                                 "created-at": 1764583200}),
         "created": "2026-12-01T10:00:00Z", "flags": {"MountLabel": "", "ProcessLabel": ""}}]))


def http_get(url, timeout=5):
    try:
        with urllib.request.urlopen(url, timeout=timeout) as r:
            return r.status, r.read().decode()
    except Exception as e:  # noqa: BLE001 (any failure: not served yet)
        return None, str(e)


def unescape(v):
    """A label value as the exposition format escapes it, back."""
    return re.sub(r'\\(.)', lambda m: "\n" if m.group(1) == "n" else m.group(1), v)


def samples(text, name):
    """[(labels dict, value)] of one family, label values unescaped."""
    out = []
    for line in text.splitlines():
        m = re.match(r'^%s\{(.*)\} (\S+)$' % re.escape(name), line)
        if m:
            out.append(({k: unescape(v) for k, v in re.findall(r'(\w+)="((?:[^"\\]|\\.)*)"', m.group(1))},
                        float(m.group(2))))
    return out


def top_cells(text, col, width, key_col, key_width):
    """{key cell: col cell} of the last frame of top --batch (left-aligned cells)."""
    lines = text.splitlines()
    heads = [i for i, l in enumerate(lines) if col in l.split() and key_col in l.split()
             and not l.startswith("CGROUP ")]
    if not heads:
        return {}
    hd = lines[heads[-1]]
    a, b = hd.index(col), hd.index(key_col)
    out = {}
    for l in lines[heads[-1] + 1:]:
        if not l.strip():
            break
        out[l[b:b + key_width].strip()] = l[a:a + width].strip()
    return out


def main():
    h = na.Harness("names")
    with h:
        meta = h.make_tmpdir("meta-")
        tmp = h.make_tmpdir("names-")
        os.environ["NETACCT_METADATA_ROOT"] = meta
        nets = os.path.join(tmp, "networks")
        write(nets, NETWORKS)
        top = h.make_cgroup()
        CL = h.make_cgroup(parent=top)
        S = h.make_cgroup(parent=top)
        lays = layouts()
        make_tree(h, CL, lays)
        fixtures(meta, lays)
        h.attach(top)
        by = {lay.key: lay for lay in lays}

        for lay in lays:
            lay.udp = na.UdpFlow(h, 4, lay.n, "connected", client_cg=lay.cg, server_cg=S, label="udp " + lay.key,
                                 server_addr=lay.server)
        tcp = na.TcpFlow(h, 4, "rr", [20], [20], client_cg=by["A"].cg, server_cg=S, label="tcp A")
        for lay in lays:
            lay.udp.wait_done()
        tcp.wait_done()
        socks = h.ss_settled(tcp.ports)
        ss_c = na.ss_find(socks, *tcp.client_tuple())
        ss_s = na.ss_find(socks, *tcp.server_tuple())
        if ss_c is None or ss_s is None:
            raise na.HarnessError("ss does not show the TCP connection")
        h.note("tcp: client bytes_sent %d, server bytes_sent %d" % (ss_c.bytes_sent, ss_s.bytes_sent))

        # -- export: every client row's names and class ---------------------------
        p = h.netacct_ok("export", "--csv", "--networks", nets)
        rows = na.parse_export_csv(p.stdout)
        exp = na.Export(rows)
        cols = ("unit", "container", "container_id", "pod", "pod_uid", "namespace", "qos", "peer_class")
        header = p.stdout.splitlines()[0].split(",")
        h.eq("export: the new columns follow cookie",
             header[header.index("cookie"):header.index("cookie") + 9] if "cookie" in header else header,
             ["cookie"] + list(cols))
        for lay in lays:
            c = lay.udp.cready
            r = exp.socket("udp", c["laddr"], c["lport"], c["raddr"], c["rport"])
            if not h.check("%s: the UDP client's row" % lay.key, r is not None, repr(exp.sockets_with_port(
                    lay.udp.ports))):
                continue
            want = dict(lay.want, peer_class=ZONE[lay.server])
            h.eq("%s (%s): names and peer class" % (lay.key, lay.cg.rel[-60:]), {k: r[k] or "" for k in cols},
                 want)
        r = exp.socket("tcp", *tcp.client_tuple())
        h.eq("A: the TCP client's row: container, pod, class internal",
             r and (r["container"], r["pod"], r["namespace"], r["peer_class"]),
             ("api", "payments-7d9f", "shop", "internal"))
        ca = by["A"].udp.cready
        s = exp.socket("udp", by["A"].udp.sready["laddr"], by["A"].udp.sready["lport"],
                       *na.one_peer(ca["laddr"], ca["lport"]))
        h.eq("the unconnected UDP server: its one peer's class, and no names (its cgroup has none)",
             s and (s["peer_class"] or "", s["container"] or "", s["unit"] or ""), (zone_of(ca["laddr"]), "", ""))
        j = na.Export(na.parse_export_json(h.netacct_ok("export", "--json", "--networks", nets).stdout))
        c = by["E"].udp.cready
        r = j.socket("udp", c["laddr"], c["lport"], c["raddr"], c["rport"])
        h.eq("export --json: the same keys (podman's container, an empty pod as null)",
             r and (r["container"], r["container_id"], r["pod"], r["peer_class"]),
             ("db", by["E"].want["container_id"], None, "zone-b"))

        # -- export --group-by: pod, container, unit, peer class ------------------
        def grouped(g):
            return na.parse_export_csv(h.netacct_ok("export", "--csv", "--group-by", g, "--networks", nets,
                                                    CL.path).stdout)
        sent = {k: by[k].udp.cdone["sent"] for k in by}
        recv = {k: by[k].udp.cdone["received"] for k in by}
        pods = {r["pod_uid"] or "": r for r in grouped("pod") if r["kind"] == "pod"}
        for k, extra_tx, extra_rx in (("A", ss_c.bytes_sent, ss_s.bytes_sent), ("B", 0, 0), ("C", 0, 0)):
            w = by[k].want
            r = pods.get(w["pod_uid"])
            h.eq("by pod %s: name, namespace, QoS; payload == its clients' own counts" % k,
                 r and (r["pod"], r["namespace"], r["qos"], r["container"] or "", r["tx_payload_bytes"],
                        r["rx_payload_bytes"]),
                 (w["pod"], w["namespace"], w["qos"], "", sent[k] + extra_tx, recv[k] + extra_rx))
        r = pods.get("")
        nopod = [k for k in by if not by[k].want["pod"]]
        h.eq("by pod: the cgroups in no pod together (docker, podman, the units)",
             r and (r["pod"] or "", r["tx_payload_bytes"], r["rx_payload_bytes"]),
             ("", sum(sent[k] for k in nopod), sum(recv[k] for k in nopod)))
        ctrs = {r["container_id"] or "": r for r in grouped("container") if r["kind"] == "container"}
        for k in ("A", "B", "C", "D", "E"):
            w = by[k].want
            r = ctrs.get(w["container_id"])
            extra = (ss_c.bytes_sent, ss_s.bytes_sent) if k == "A" else (0, 0)
            h.eq("by container %s: name, pod; payload" % k,
                 r and (r["container"], r["pod"] or "", r["tx_payload_bytes"], r["rx_payload_bytes"]),
                 (w["container"], w["pod"], sent[k] + extra[0], recv[k] + extra[1]))
        units = {r["unit"] or "": r for r in grouped("unit") if r["kind"] == "unit"}
        r = units.get("payments-report.service")
        h.eq("by unit: payments-report.service's payload", r and (r["tx_payload_bytes"], r["rx_payload_bytes"]),
             (sent["F"], recv["F"]))
        classes = {r["peer_class"] or "": r for r in grouped("peer-class") if r["kind"] == "peer_class"}
        zb = [k for k in by if by[k].server == "127.0.2.1"]
        it = [k for k in by if by[k].server == "127.0.0.1"]
        h.eq("by peer class: the classes of the clients' peers", sorted(classes), ["internal", "zone-b"])
        h.eq("by peer class: zone-b == what the clients of 127.0.2.1 sent and received",
             classes.get("zone-b") and (classes["zone-b"]["tx_payload_bytes"], classes["zone-b"]["rx_payload_bytes"]),
             (sum(sent[k] for k in zb), sum(recv[k] for k in zb)))
        h.eq("by peer class: internal == the clients of 127.0.0.1, and the TCP client (ss)",
             classes.get("internal") and (classes["internal"]["tx_payload_bytes"],
                                          classes["internal"]["rx_payload_bytes"]),
             (sum(sent[k] for k in it) + ss_c.bytes_sent, sum(recv[k] for k in it) + ss_s.bytes_sent))
        allc = {r["peer_class"] or "": r for r in na.parse_export_csv(h.netacct_ok(
            "export", "--csv", "--group-by", "peer-class", "--networks", nets, S.path).stdout)
            if r["kind"] == "peer_class"}
        srv = {}
        for lay in lays:
            c = srv.setdefault(zone_of(lay.udp.cready["laddr"]), [0, 0])
            c[0] += lay.udp.sdone["sent"]
            c[1] += lay.udp.sdone["received"]
        c = srv.setdefault("internal", [0, 0])
        c[0] += ss_s.bytes_sent
        c[1] += ss_c.bytes_sent
        h.eq("by peer class, the servers: their peers' classes (the accepted TCP socket's, each unconnected "
             "UDP server's one client's), and none for the listener", sorted(allc), sorted(set(srv) | {""}))
        for k, (tx, rx) in sorted(srv.items()):
            h.eq("by peer class, the servers: %s: payload (tx, rx)" % k,
                 allc.get(k) and (allc[k]["tx_payload_bytes"], allc[k]["rx_payload_bytes"]), (tx, rx))

        # -- top --batch --------------------------------------------------------------
        a = by["A"].udp.cready
        p = h.netacct_ok("top", "--batch", "-d", "0.2", "-n", "1", "--limit", "0", CL.path)
        cells = top_cells(p.stdout, "CGROUP", 24, "LOCAL", 24)
        h.eq("top: CGROUP shows pod/container for A's client", cells.get("127.0.0.1:%d" % a["lport"]),
             "payments-7d9f/api")
        d = by["D"].udp.cready
        h.eq("top: ... the container's name for docker's", cells.get("127.0.0.1:%d" % d["lport"]), "web")
        f = by["F"].udp.cready
        h.eq("top: ... the unit for a service", cells.get("127.0.0.1:%d" % f["lport"]), "payments-report.service")
        p = h.netacct_ok("top", "--batch", "-d", "0.2", "-n", "1", "--full-path", CL.path)
        cells = top_cells(p.stdout, "CGROUP", 24, "LOCAL", 24)
        h.eq("top --full-path: the path (its leaf)", cells.get("127.0.0.1:%d" % f["lport"]),
             ".." + by["F"].cg.rel[-22:])
        p = h.netacct_ok("top", "--batch", "-d", "0.2", "-n", "1", "--group-by", "pod", CL.path)
        names = [l[:40] for l in p.stdout.splitlines()]
        h.check("top by pod: NAME namespace/pod for each pod",
                all(any("%s/%s" % (by[k].want["namespace"], by[k].want["pod"]) in l for l in names)
                    for k in ("A", "B", "C")), p.stdout[-1500:])
        p = h.netacct_ok("top", "--batch", "-d", "0.2", "-n", "1", "--group-by", "peer-class", "--networks", nets,
                         CL.path)
        cls = top_cells(p.stdout, "CLASS", 12, "CLASS", 12)
        h.eq("top by peer class: a row per class", sorted(cls), ["internal", "zone-b"])

        # -- the agent's /metrics ----------------------------------------------------
        port = na.free_port()
        conf = os.path.join(tmp, "agent.conf")
        write(conf, "attach %s\nlisten 127.0.0.1:%d\nlog-file none\nrescan 60\nnetworks %s\n" % (top.path, port,
                                                                                              nets))
        err = tempfile.TemporaryFile()
        ag = subprocess.Popen([h.bin, "--pin-root", h.pin_root, "agent", "--config", conf],
                              stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=err)
        h.workers.append(na.Worker(ag, "agent"))
        body = None
        for _ in range(100):
            st, body = http_get("http://127.0.0.1:%d/metrics" % port)
            if st == 200 or ag.poll() is not None:
                break
            time.sleep(0.1)
        if st != 200:
            err.seek(0)
            raise na.HarnessError("the agent served no /metrics: %s %s" % (body[:200], err.read()[-500:]))
        leaf = samples(body, "netacct_leaf_cgroup_bytes_total")
        for k in ("A", "D", "F"):
            w = by[k].want
            got = [lb for lb, v in leaf if lb.get("cgroup") == by[k].cg.rel and lb.get("direction") == "tx"
                   and lb.get("part") == "payload"]
            h.eq("/metrics: %s's leaf series has its unit, container, pod, namespace (none when unknown)" % k,
                 got and {x: got[0].get(x, "") for x in ("unit", "container", "pod", "namespace")},
                 {"unit": w["unit"], "container": w["container"], "pod": w["pod"], "namespace": w["namespace"]})
        got = [lb for lb, v in leaf if lb.get("cgroup") == by["G"].cg.rel]
        h.check("/metrics: a unit with a quote and a backslash, escaped in its label",
                got and got[0].get("unit") == 'we"ird\\unit.service' and
                'unit="we\\"ird\\\\unit.service"' in body, repr(got[:1]))
        h.check("/metrics: a cgroup without names has no name labels (the text its series had)",
                all(not set(lb) & {"unit", "container", "pod", "namespace"}
                    for lb, v in leaf if lb.get("cgroup") == S.rel), repr([lb for lb, v in leaf][:3]))
        if os.path.exists("/usr/bin/promtool"):
            pr = subprocess.run(["/usr/bin/promtool", "check", "metrics"], input=body, capture_output=True,
                                text=True, timeout=30)
            h.check("promtool check metrics accepts /metrics with the names and the class family",
                    pr.returncode == 0, pr.stdout[-500:] + pr.stderr[-500:])
        pc = samples(body, "netacct_peer_class_payload_bytes_total")
        for k in by:
            mine = {(lb["peer_class"], lb["direction"]): v for lb, v in pc if lb.get("cgroup") == by[k].cg.rel}
            want = {(ZONE[by[k].server], "tx"): sent[k], (ZONE[by[k].server], "rx"): recv[k]}
            if k == "A":
                want.update({("internal", "tx"): ss_c.bytes_sent, ("internal", "rx"): ss_s.bytes_sent})
            h.eq("/metrics: %s's payload by peer class and direction (its clients' counts%s)"
                 % (k, ", ss" if k == "A" else ""), mine, {x: float(v) for x, v in want.items()})
        lab = [lb for lb, v in pc if lb.get("cgroup") == by["C"].cg.rel]
        h.check("/metrics: the class series carries the names too",
                lab and lab[0].get("pod") == "ledger-0" and lab[0].get("namespace") == "finance", repr(lab))
        ag.send_signal(signal.SIGTERM)
        ag.wait(timeout=20)

        # -- without metadata: what the path alone says --------------------------------
        os.environ["NETACCT_METADATA_ROOT"] = h.make_tmpdir("empty-")
        e2 = na.Export(na.parse_export_csv(h.netacct_ok("export", "--csv", "--networks", nets).stdout))
        c = by["A"].udp.cready
        r = e2.socket("udp", c["laddr"], c["lport"], c["raddr"], c["rport"])
        w = by["A"].want
        h.eq("no metadata: the unit, container id, pod UID and QoS from the path; no names",
             r and tuple(r[x] or "" for x in cols[:7]),
             (w["unit"], "", w["container_id"], "", w["pod_uid"], "", w["qos"]))
        os.environ["NETACCT_METADATA_ROOT"] = meta

        # -- networks files: a bad one is refused; without one, the built-in classes -------
        bad = os.path.join(tmp, "bad-networks")
        write(bad, "internal 127.0.0.0/24\nzone-b 127.0.2.1/24\n")
        for cmd in (("export", "--csv"), ("top", "--batch", "-n", "1"), ("log",)):
            p = h.netacct(*(cmd + ("--networks", bad)))
            h.check("%s --networks BAD: exit 1, FILE:LINE, nothing on stdout" % cmd[0],
                    p.returncode == 1 and ("%s:2: 127.0.2.1/24: bits set past" % bad) in p.stderr and
                    not p.stdout, "exit %d, stdout %r, stderr %r" % (p.returncode, p.stdout[:200], p.stderr))
        if not os.path.exists("/etc/netacct/networks"):
            r = na.Export(na.parse_export_csv(h.netacct_ok("export", "--csv").stdout)).socket(
                "udp", c["laddr"], c["lport"], c["raddr"], c["rport"])
            h.eq("no networks file: the built-in classes (127.0.2.1 is loopback)", r and r["peer_class"],
                 "loopback")

        # -- log --json after the close --------------------------------------------------------
        for lay in lays:
            lay.udp.close()
        tcp.close()
        recs = [json.loads(x) for x in h.netacct_ok("log", "--json", "--networks", nets).stdout.splitlines()
                if x.strip()]
        for lay in lays:
            c = lay.udp.cready
            rec = [x for x in recs if x["proto"] == "udp" and x["lport"] == c["lport"] and x["raddr"] == c["raddr"]]
            want = dict(lay.want, peer_class=ZONE[lay.server])
            h.eq("log %s: the record's names and peer class" % lay.key,
                 rec and {k: rec[0][k] or "" for k in cols}, want)
        rec = [x for x in recs if x["proto"] == "tcp" and x["lport"] == tcp.cready["lport"]]
        h.eq("log: the TCP client's record: pod, class, its payload (ss)",
             rec and (rec[0]["pod"], rec[0]["peer_class"], rec[0]["tx_payload_bytes"]),
             ("payments-7d9f", "internal", ss_c.bytes_sent))


if __name__ == "__main__":
    main()
