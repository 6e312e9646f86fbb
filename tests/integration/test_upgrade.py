#!/usr/bin/python3
"""Upgrade: the current netacct against the pinned state of netacct 0.1.

na_abi2_fixture (NA_ABI2_FIXTURE_BIN) leaves at the pin root what netacct 0.1
(ABI 2, commit e1981ad) left after `netacct attach A`: its maps by their ABI 2
names, types and sizes, na_meta saying ABI 2, the tracepoint links, and A's
eight programs pinned under cg_<id>/, counting into cg_<id>/totals (ABI 2's
struct na_totals, read here with bpftool).

  * the old programs count: a TCP exchange in A shows up in the totals
    exactly (payload == what ss says both sockets sent, packets == ss
    segments + the listener's SYN-ACK, tx == rx on loopback);
  * status, status --json, export, export --json, export --prometheus,
    top --batch -n 1, log, log --json, attach A, attach B (another cgroup),
    detach A: each exits 1 with "ABI version 2" and the command that fixes
    it (`netacct --pin-root ROOT detach --all`) on stderr, nothing on
    stdout, and changes nothing: the same pins (same inodes), na_meta,
    na_attached and na_active as the fixture wrote them, the same programs
    on A (same ids), none on B; run --parent A exits 125 without running its
    command or leaving its cgroup; doctor A exits 1 naming the fix; an agent
    configured to attach A keeps retrying, logs "0 of 1 cgroup(s)" attached
    and the fix, answers /metrics with 503 and exits 0 on SIGTERM; the
    totals are untouched by all of it;
  * the old programs still count and allow: a second exchange goes through
    and adds exactly its payload to the totals;
  * detach --all exits 0: the pin root is gone, no program is left on A;
  * attach A then succeeds and a new exchange is counted exactly (ss and the
    applications' own byte counts, check_tcp_flow).
Totals are not carried over (docs/design.md, "Upgrades"): the new attachment
starts at zero.
"""

import json
import os
import signal
import struct
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import na_harness as na  # noqa: E402

NA_PROGS = na.NA_PROGS
ABI2_PROGS = {"na_egress", "na_ingress", "na_sock_create", "na_connect4", "na_connect6",
              "na_sendmsg4", "na_sendmsg6", "na_release"}
ABI2_SHARED = ("na_socks", "na_attached", "na_active", "na_sk_owner", "na_meta", "na_closed",
               "na_log", "na_stats", "na_cgpath")
ABI2_CG_PINS = ("egress", "ingress", "sock_create", "connect4", "connect6", "sendmsg4",
                "sendmsg6", "sock_release", "totals")
TOTALS_FIELDS = tuple(d + "_" + c for d in ("tx", "rx") for c in na.COUNTERS) + (
    "overflow_packets", "overflow_bytes", "parse_errors", "norow_packets", "norow_bytes")
KiB, MiB = 1 << 10, 1 << 20


class Upgrade:
    def __init__(self, h, tool, A):
        self.h, self.tool, self.A = h, tool, A
        self.cg_dir = os.path.join(h.pin_root, "cg_%d" % A.id)

    def bpftool_json(self, *args):
        p = subprocess.run([self.tool, "-j"] + list(args), capture_output=True, text=True,
                           timeout=30)
        if p.returncode != 0:
            raise na.HarnessError("bpftool %s: %s" % (" ".join(args), p.stderr.strip()))
        return json.loads(p.stdout)

    def dump(self, name):
        """The raw entries of a pinned map, [(key bytes, value bytes or per-CPU list)]."""
        out = []
        for e in self.bpftool_json("map", "dump", "pinned", os.path.join(self.h.pin_root, name)):
            key = bytes(int(b, 16) for b in e["key"])
            if "values" in e:
                val = [bytes(int(b, 16) for b in v["value"]) for v in e["values"]]
            else:
                val = bytes(int(b, 16) for b in e["value"])
            out.append((key, val))
        return out

    def totals(self):
        """cg_<id>/totals of the ABI 2 programs, summed over CPUs (13 x u64)."""
        entries = self.dump("cg_%d/totals" % self.A.id)
        if len(entries) != 1:
            raise na.HarnessError("totals has %d entries, expected 1" % len(entries))
        tot = dict.fromkeys(TOTALS_FIELDS, 0)
        for cpu in entries[0][1]:
            if len(cpu) != 104:
                raise na.HarnessError("totals value of %d bytes, ABI 2 has 104" % len(cpu))
            for k, v in zip(TOTALS_FIELDS, struct.unpack("<13Q", cpu)):
                tot[k] += v
        return tot

    def quiet(self, ports, tries=40):
        """(totals, ss) at a moment when neither changed: exactly comparable."""
        for _ in range(tries):
            time.sleep(0.2)
            t1 = self.totals()
            s = na.ss_tcp()
            t2 = self.totals()
            key = sorted((x.lport, x.rport, tuple(x.info.get(f, 0) for f in na.SsSocket.FIELDS))
                         for x in s if x.lport in ports)
            time.sleep(0.1)
            key2 = sorted((x.lport, x.rport, tuple(x.info.get(f, 0) for f in na.SsSocket.FIELDS))
                          for x in na.ss_tcp() if x.lport in ports)
            if t1 == t2 and key == key2:
                return t2, s
        raise na.HarnessError("totals on ports %s never went quiet" % sorted(ports))

    def pins(self):
        """Every pin under the pin root with its inode (a re-pin changes it)."""
        out = {}
        for d, dirs, files in os.walk(self.h.pin_root):
            for f in dirs + files:
                p = os.path.join(d, f)
                out[os.path.relpath(p, self.h.pin_root)] = os.lstat(p).st_ino
        return out

    def progs(self, cg):
        return sorted((p.get("id"), p.get("attach_type"), p.get("name"))
                      for p in (self.h.bpftool_cgroup_progs(cg) or []))

    def state(self):
        """What no refused command may change (a map that cannot be read: its error)."""
        def read(name, keep=lambda e: True):
            try:
                return [e for e in self.dump(name) if keep(e)]
            except na.HarnessError as e:
                return "unreadable: %s" % e
        return {"pins": self.pins(), "na_meta": read("na_meta"),
                "na_attached": read("na_attached"),
                "na_active": read("na_active", lambda e: any(e[1])),
                "progs": self.progs(self.A)}


def same_state(h, label, before, after):
    """One check that nothing in the ABI 2 state changed; the parts that did on failure."""
    diff = [k for k in before if after.get(k) != before[k]]
    return h.check(label, not diff, "changed: %s" % "; ".join(
        "%s %r -> %r" % (k, before[k], after.get(k)) for k in diff)[:2000])


def check_agent(h, up, A, tmp, before, fix):
    """An agent configured to attach A: retries, says it attached nothing,
    /metrics answers 503, SIGTERM ends it with exit 0; the state untouched."""
    conf = os.path.join(tmp, "netacct.conf")
    port = na.free_port()
    with open(conf, "w") as f:
        f.write("attach %s\nlisten 127.0.0.1:%d\nrescan 1\n" % (A.path, port))
    err = tempfile.TemporaryFile()
    p = subprocess.Popen([h.bin, "--pin-root", h.pin_root, "agent", "--config", conf],
                         stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=err)
    h.workers.append(na.Worker(p, "agent"))  # killed by the harness's cleanup
    status, deadline = None, time.monotonic() + 10
    while status is None and p.poll() is None and time.monotonic() < deadline:
        try:
            with urllib.request.urlopen("http://127.0.0.1:%d/metrics" % port, timeout=2) as r:
                status = r.status
        except urllib.error.HTTPError as e:
            status = e.code
        except (urllib.error.URLError, OSError):
            time.sleep(0.1)
    time.sleep(1.5)  # a rescan or two (rescan 1): each tries the attach again
    if p.poll() is None:
        p.send_signal(signal.SIGTERM)
    rc = p.wait(timeout=20)
    err.seek(0)
    log = err.read().decode(errors="replace")
    err.close()
    h.note("netacct agent -> %s, /metrics %s, log: %s" % (rc, status,
                                                        log.strip().replace("\n", " | ")[:600]))
    h.eq("netacct agent: /metrics answers 503 (state unreadable)", status, 503)
    h.eq("netacct agent: SIGTERM, exit 0", rc, 0)
    h.check("netacct agent: its log names ABI version 2 and the fix",
            "ABI version 2" in log and fix in log, repr(log[:400]))
    h.check("netacct agent: says it attached 0 of 1 cgroups (retried, not attached)",
            "running, 0 of 1 cgroup(s)" in log, repr(log[:600]))
    same_state(h, "netacct agent: state unchanged", before, up.state())


def exchange(h, cg, label, n_c, n_s, chunk=7919):
    """A TCP bulk exchange in cg, both ends inside: client sends n_c, server n_s."""
    return na.TcpFlow(h, 4, "bulk", (n_c, chunk, n_s), (n_s, chunk, n_c), cg, cg, label)


def check_flow_in_totals(h, up, f, before, label, drops0):
    """The ABI 2 totals grew by exactly this open, idle flow (ss as the truth).
    Loopback loses nothing unless softnet_stat says so (test_loopback.py)."""
    t, socks = up.quiet(f.ports)
    drops = na.softnet_dropped() != drops0
    c, s = na.ss_find(socks, *f.client_tuple()), na.ss_find(socks, *f.server_tuple())
    if c is None or s is None:
        raise na.HarnessError("%s: ss does not show the connection" % label)
    h.note("%s ss client: %r" % (label, c))
    h.note("%s ss server: %r" % (label, s))
    d = {k: t[k] - before[k] for k in TOTALS_FIELDS}
    h.note("%s: ABI 2 totals grew by %s" % (label, d))
    sent = c.bytes_sent + s.bytes_sent
    h.eq("%s: ABI 2 tx payload == ss bytes_sent of both sockets" % label,
         d["tx_payload_bytes"], sent)
    if drops:
        h.note("%s: softnet_stat reports dropped packets: rx checked as at most tx" % label)
        h.between("%s: ABI 2 rx payload within [ss bytes_received, tx payload]" % label,
                  d["rx_payload_bytes"], c.bytes_received + s.bytes_received,
                  d["tx_payload_bytes"])
    else:
        h.eq("%s: ABI 2 rx payload == tx payload (loopback, both ends in A)" % label,
             d["rx_payload_bytes"], d["tx_payload_bytes"])
    if c.bytes_retrans + s.bytes_retrans == 0:
        h.eq("%s: ABI 2 tx payload == bytes the applications wrote" % label,
             d["tx_payload_bytes"], f.cdone["sent"] + f.sdone["sent"])
    h.eq("%s: ABI 2 tx packets == ss segs_out of both sockets + the SYN-ACK" % label,
         d["tx_packets"], c.segs_out + s.segs_out + 1)
    if not drops:
        h.eq("%s: ABI 2 rx packets == ss segs_in of both sockets" % label,
             d["rx_packets"], c.segs_in + s.segs_in)
    for dd in ("tx", "rx"):
        h.eq("%s: ABI 2 %s ip header bytes == 20 x packets" % (label, dd),
             d[dd + "_ip_hdr_bytes"], 20 * d[dd + "_packets"])
    return t, drops


def main():
    h = na.Harness("upgrade")
    with h:
        tool = na.need_bpftool()
        fixture = os.environ.get("NA_ABI2_FIXTURE_BIN", "")
        if not (os.path.isfile(fixture) and os.access(fixture, os.X_OK)):
            raise na.SkipTest("NA_ABI2_FIXTURE_BIN=%r is not an executable file" % fixture)
        A, B = h.make_cgroup(), h.make_cgroup()
        up = Upgrade(h, tool, A)

        # -- netacct 0.1's state, attached to A -------------------------------------
        p = subprocess.run([fixture, h.pin_root, A.path], capture_output=True, text=True,
                           timeout=60)
        if p.returncode != 0:
            raise na.HarnessError("na_abi2_fixture: exit %d: %s" % (p.returncode,
                                                                    p.stderr.strip()))
        want_pins = set(ABI2_SHARED) | {"tcp_state", "cgroup_mkdir", "cg_%d" % A.id} | \
            {"cg_%d/%s" % (A.id, x) for x in ABI2_CG_PINS}
        h.eq("fixture: the ABI 2 pin layout", sorted(up.pins()), sorted(want_pins))
        meta = up.dump("na_meta")[0][1]
        h.eq("fixture: na_meta is 32 bytes (ABI 2's struct na_meta)", len(meta), 32)
        h.eq("fixture: na_meta.abi_version", struct.unpack_from("<I", meta)[0], 2)
        att = up.dump("na_attached")
        h.eq("fixture: na_attached holds A (544-byte ABI 2 record)",
             [(struct.unpack("<Q", k)[0], len(v)) for k, v in att], [(A.id, 544)])
        h.eq("fixture: ABI 2 programs on A", sorted(n for _, _, n in up.progs(A)),
             sorted(ABI2_PROGS))
        t0 = up.totals()
        h.eq("fixture: totals start at zero", t0, dict.fromkeys(TOTALS_FIELDS, 0))

        # -- the old programs count ---------------------------------------------------
        drops0 = na.softnet_dropped()
        f = exchange(h, A, "abi2 flow 1", 3 * MiB + 5, MiB + 3).wait_done()
        t1, drops = check_flow_in_totals(h, up, f, t0, "flow under ABI 2", drops0)
        f.close()
        time.sleep(0.3)
        t1c = up.totals()
        h.eq("flow under ABI 2 closed: payload unchanged by the teardown",
             (t1c["tx_payload_bytes"], t1c["rx_payload_bytes"]),
             (t1["tx_payload_bytes"], t1["rx_payload_bytes"]))
        for c in na.COUNTERS if not drops else ():
            h.eq("flow under ABI 2 closed: tx_%s == rx_%s" % (c, c), t1c["tx_" + c],
                 t1c["rx_" + c])

        # -- every command of the current netacct refuses, and changes nothing ----------
        before = up.state()
        fix = "netacct --pin-root %s detach --all" % h.pin_root
        cmds = (["status"], ["status", "--json"], ["export"], ["export", "--json"],
                ["export", "--prometheus"], ["top", "--batch", "-n", "1"], ["log"],
                ["log", "--json"], ["attach", A.path], ["attach", B.path], ["detach", A.path])
        for cmd in cmds:
            label = "netacct " + " ".join(c if c not in (A.path, B.path) else
                                          ("A" if c == A.path else "B") for c in cmd)
            p = h.netacct(*cmd, timeout=30)
            h.note("%s -> %d, stderr: %s" % (label, p.returncode, p.stderr.strip()[:300]))
            h.eq("%s: exit 1" % label, p.returncode, 1)
            h.check("%s: stderr names ABI version 2" % label,
                    p.stderr.startswith("netacct: ") and "ABI version 2" in p.stderr,
                    repr(p.stderr[:400]))
            h.check("%s: stderr names the fix (%s)" % (label, fix), fix in p.stderr,
                    repr(p.stderr[:400]))
            h.eq("%s: nothing on stdout" % label, p.stdout, "")
            same_state(h, "%s: pins, na_meta, na_attached, na_active, A's programs unchanged"
                       % label, before, up.state())
            h.eq("%s: no program on B" % label, up.progs(B), [])
        run_name = na.TEST_PREFIX + "run-" + na._rand()
        p = h.netacct("run", "--parent", A.path, "--name", run_name, "--", "echo", "CMD ran",
                      timeout=30)
        h.note("netacct run -> %d, stderr: %s" % (p.returncode, p.stderr.strip()[:300]))
        h.eq("netacct run: exit 125 (could not set up)", p.returncode, 125)
        h.eq("netacct run: CMD not run (nothing on stdout)", p.stdout, "")
        h.check("netacct run: stderr names ABI version 2 and the fix",
                "ABI version 2" in p.stderr and fix in p.stderr, repr(p.stderr[:400]))
        left = os.path.join(A.path, run_name)
        h.check("netacct run: removed the cgroup it made", not os.path.exists(left), left)
        if os.path.isdir(left):
            os.rmdir(left)  # ours (netacct-test- prefix, under A): not left behind
        same_state(h, "netacct run: state unchanged", before, up.state())
        p = h.netacct("doctor", A.path, timeout=30)
        h.note("netacct doctor A -> %d: %s" % (p.returncode, (p.stdout + p.stderr).strip()[:600]))
        h.eq("netacct doctor A: exit 1 (a failed check)", p.returncode, 1)
        h.check("netacct doctor A: its report (stdout) names ABI version 2 and detach --all",
                "ABI version 2" in p.stdout and "detach --all" in p.stdout, repr(p.stdout[:600]))
        same_state(h, "netacct doctor A: state unchanged", before, up.state())
        check_agent(h, up, A, h.make_tmpdir("upgrade-"), before, fix)
        h.eq("after the refusals: ABI 2 totals unchanged", up.totals(), t1c)

        # -- the old programs still allow and count -------------------------------------
        drops0 = na.softnet_dropped()
        f = exchange(h, A, "abi2 flow 2", 2 * MiB + 11, 777 * KiB).wait_done()
        h.eq("flow 2 under ABI 2 went through: client received", f.cdone["received"],
             777 * KiB)
        h.eq("flow 2 under ABI 2 went through: server received", f.sdone["received"],
             2 * MiB + 11)
        check_flow_in_totals(h, up, f, t1c, "flow 2 after the refusals", drops0)
        f.close()
        same_state(h, "ABI 2 state still intact after flow 2", before, up.state())

        # -- the documented fix -----------------------------------------------------------
        p = h.netacct("detach", "--all", timeout=60)
        h.note("netacct detach --all -> %d: %s %s" % (p.returncode, p.stdout.strip(),
                                                        p.stderr.strip()))
        h.eq("detach --all of the ABI 2 state: exit 0", p.returncode, 0)
        h.check("detach --all: pin root removed", not os.path.lexists(h.pin_root),
                "%s: %s" % (h.pin_root, sorted(up.pins()) if os.path.isdir(h.pin_root) else ""))
        h.eq("detach --all: no program left on A", up.progs(A), [])

        # -- and the current netacct attaches and counts exactly --------------------------
        p = h.netacct("attach", A.path)
        h.eq("attach A after detach --all: exit 0", p.returncode, 0)
        h.eq("attach A: the current programs on A", len(up.progs(A)), NA_PROGS)
        st = na.netacct_status(h)
        att = na.status_attachment(st, A)
        h.check("status --json lists A", att is not None, repr(st)[:400])
        exp = h.export()
        h.eq("the new attachment starts at zero (totals are not carried over)",
             na.counters(exp.cgroup(A)), na.counters(None))
        f = exchange(h, A, "current-ABI flow", MiB + 1, 3 * MiB + 7).wait_done()
        exp, socks = h.snapshot(f.ports)
        rows = na.check_tcp_flow(h, f, exp, socks)
        h.eq("current ABI: cgroup row == sum of the flow's socket rows",
             na.counters(exp.cgroup(A)), na.counters_sum([r for r in rows.values() if r]))
        f.close()


if __name__ == "__main__":
    main()
