#!/usr/bin/python3
"""netacct agent's traffic history and `netacct report`.

An agent records two cgroups of this test (A: UDP, whose every counter is
known from the applications; B: TCP, whose payload is) into a database of
this test's own, a sample a second (history-interval 1), with a group that
may read. Then, with traffic between every step:

  * the agent is killed with SIGKILL at random moments and started again;
  * A is detached and attached again by reloads (its counters start over);
  * a reboot's effect: the agent ends (SIGTERM), `detach --all` drops the
    pinned state, a new agent attaches everything anew;
  * the agent ends with SIGTERM.

`report --by cgroup --json` over the whole span gives A's packets, IP
header, UDP header and payload bytes both ways exactly as the workers' own
counts add up, and B's payload exactly; the rows of --every 5m, hour, day
and month each sum to the same; --by process gives each worker its own
bytes, --by peer sums to the cgroup. The table has human units and a TOTAL
line; CSV's header is start, end and export's column names, JSON has the
same keys. The database and its -wal and -shm are 0640 with the group: a
member reads the report, anyone else is refused with the reason.

A database another process holds (a write lock): the agent says so, goes
on counting and serving /metrics (exact), and records everything once the
lock is gone; `report` on a database held exclusively fails with "locked".
A corrupt file: the agent says "not a database", counts and serves; report
refuses it; once the file is moved away the agent starts a new database
that records what comes after, exactly.

Charts: --chart prints bars and a legend; --svg is well-formed SVG of
1100x560; in --png the two cgroups' colours cover areas in the proportion
of their bytes.
"""

import csv
import grp
import io
import json
import os
import pwd
import random
import shutil
import signal
import sqlite3
import stat
import struct
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
import zlib

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import na_harness as na  # noqa: E402
from test_agent import Agent, http_get, payload, wait_until, write  # noqa: E402

COUNTERS = ("packets", "ip_hdr_bytes", "l4_hdr_bytes", "payload_bytes")
CSV_HEADER = ("start,end,kind,cgroup_id,cgroup,pid,comm,family,raddr," + ",".join(na.COUNTER_COLUMNS) +
              ",tx_retrans_bytes,rx_dup_bytes")


def udp_truth(f):
    """Every counter of a UDP flow with both ends in one cgroup, from the workers."""
    n = f.cdone["datagrams"] + f.sdone["datagrams"]
    sent = f.cdone["sent"] + f.sdone["sent"]
    got = f.cdone["received"] + f.sdone["received"]
    return {"tx_packets": n, "tx_ip_hdr_bytes": 20 * n, "tx_l4_hdr_bytes": 8 * n, "tx_payload_bytes": sent,
            "rx_packets": n, "rx_ip_hdr_bytes": 20 * n, "rx_l4_hdr_bytes": 8 * n, "rx_payload_bytes": got}


def add(a, b):
    return {k: a.get(k, 0) + b.get(k, 0) for k in set(a) | set(b)}


def counters(row):
    return {k: row[k] for k in na.COUNTER_COLUMNS}


def iso(t):
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t))


def png_pixels(path):
    """(width, height, rows of RGB tuples) of an 8-bit RGB or RGBA PNG (what cairo writes)."""
    with open(path, "rb") as f:
        data = f.read()
    if data[:8] != b"\x89PNG\r\n\x1a\n":
        raise na.HarnessError("%s: not a PNG" % path)
    pos, idat, w = 8, b"", 0
    while pos < len(data):
        n, kind = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + n]
        if kind == b"IHDR":
            w, h, depth, ctype = struct.unpack(">IIBB", body[:10])
            if depth != 8 or ctype not in (2, 6):
                raise na.HarnessError("PNG of depth %d type %d" % (depth, ctype))
            bpp = 3 if ctype == 2 else 4
        elif kind == b"IDAT":
            idat += body
        pos += 12 + n
    raw = zlib.decompress(idat)
    stride, rows, prev = w * bpp, [], bytearray(w * bpp)
    for y in range(h):
        ft, line = raw[y * (stride + 1)], bytearray(raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
        for i in range(stride):
            a = line[i - bpp] if i >= bpp else 0
            b, c = prev[i], prev[i - bpp] if i >= bpp else 0
            if ft == 1:
                line[i] = (line[i] + a) & 255
            elif ft == 2:
                line[i] = (line[i] + b) & 255
            elif ft == 3:
                line[i] = (line[i] + (a + b) // 2) & 255
            elif ft == 4:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                line[i] = (line[i] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
        rows.append([tuple(line[x * bpp:x * bpp + 3]) for x in range(w)])
        prev = line
    return w, h, rows


def main():
    na.main_in_tmpdir("history", run)


def run(h, tmp):
    with h:
        na.need_tool("setpriv", "util-linux")
        t_start = int(time.time()) - 2
        os.chmod(tmp, 0o755)  # another uid reads the database below it
        binary = os.path.join(tmp, "netacct")
        shutil.copy2(h.bin, binary)
        gid = na.free_id(grp.getgrgid, 64400)
        uid = na.free_id(pwd.getpwuid, 64500)
        A, B = h.make_cgroup(), h.make_cgroup()
        db = os.path.join(tmp, "db", "history.db")
        conf = os.path.join(tmp, "netacct.conf")
        port = na.free_port()
        base = ("listen 127.0.0.1:%d\nrescan 1\nlog-file none\nhistory %s\nhistory-interval 1\ngroup %d\n"
                % (port, db, gid))
        write(conf, base + "attach %s\nattach %s\n" % (A.path, B.path))
        truth_a, payload_b, procs = {}, 0, {}
        cur_a = {}  # since A's present attachment: what /metrics shows

        def udp(count, label):
            nonlocal truth_a, cur_a
            f = na.UdpFlow(h, 4, count, "connected", A, A, label)
            f.wait_done()
            f.close()
            truth_a = add(truth_a, udp_truth(f))
            cur_a = add(cur_a, udp_truth(f))
            procs[f.client.pid] = (f.cdone["sent"], f.cdone["received"])
            procs[f.server.pid] = (f.sdone["sent"], f.sdone["received"])
            return f

        def tcp(count, label):
            nonlocal payload_b
            f = na.TcpFlow(h, 4, "rr", (count,), (count,), B, B, label)
            f.wait_done()
            sent = f.cdone["sent"] + f.sdone["sent"]
            f.close()
            payload_b += sent

        def report(*args, db_path=db):
            return h.netacct("report", "--db", db_path, *args)

        def report_json(*args, db_path=db):
            p = report("--json", "--since", iso(t_start), *args, db_path=db_path)
            if p.returncode != 0:
                raise na.HarnessError("report %s: exit %d: %s" % (args, p.returncode, p.stderr))
            return [json.loads(l) for l in p.stdout.splitlines()]

        def cgroup_sum(rows, cg):
            tot = {k: 0 for k in na.COUNTER_COLUMNS}
            for r in rows:
                if r["kind"] == "cgroup" and r["cgroup"] == cg.rel:
                    tot = add(tot, counters(r))
            return tot

        def last_sample():
            """The time of the database's latest sample; 0 before its first (or its schema)."""
            con = sqlite3.connect("file:%s?mode=ro" % db, uri=True)
            try:
                row = con.execute("SELECT value FROM meta WHERE key = 'last_sample'").fetchone()
                return row[0] if row else 0
            except sqlite3.Error:
                return 0
            finally:
                con.close()

        def sampled(ag):
            """One more sample written after now (the agent says nothing when it works)."""
            t0 = last_sample()
            ok = wait_until(lambda: last_sample() >= t0 + 2, 6)
            if not ok:
                raise na.HarnessError("the agent took no sample: %s" % ag.log()[-800:])

        # -- recording across kills, reloads, a "reboot" ------------------------
        ag = Agent(h, conf, port)
        ag.wait_serving()
        udp(40, "udp 1")
        tcp(20, "tcp 1")
        for k in range(3):
            time.sleep(random.uniform(0.05, 1.3))  # any moment, a sample being written or not
            ag.p.send_signal(signal.SIGKILL)
            ag.p.wait(timeout=10)
            udp(15, "udp after kill %d" % k)
            ag = Agent(h, conf, port)
            ag.wait_serving()
        h.check("killed three times with SIGKILL, restarted: the database opens", os.path.exists(db))
        tcp(10, "tcp 2")

        # detach and attach again: the configuration drops A, then names it again;
        # the traffic just before is in no sample yet (the agent takes one first)
        write(conf, base + "attach %s\n" % B.path)
        udp(15, "udp just before the reload")
        ag.p.send_signal(signal.SIGHUP)
        h.check("reload without A: A detached",
                wait_until(lambda: A.id not in {a["cgroup_id"] for a in
                                                 json.loads(h.netacct_ok("status", "--json").stdout)["attached"]}, 10),
                ag.log()[-500:])
        write(conf, base + "attach %s\nattach %s\n" % (A.path, B.path))
        ag.p.send_signal(signal.SIGHUP)
        h.check("reload with A: attached again",
                wait_until(lambda: A.id in {a["cgroup_id"] for a in
                                             json.loads(h.netacct_ok("status", "--json").stdout)["attached"]}, 10))
        e = h.export_json(A).cgroup(A)
        h.eq("... its counters started over", (e["tx_packets"], e["rx_packets"]), (0, 0))
        cur_a = {}
        udp(30, "udp 3")

        # a reboot: the pinned state goes, a new agent attaches anew
        h.eq("SIGTERM: exit 0", ag.stop(), 0)
        h.netacct_ok("detach", "--all")
        udp_lost = na.UdpFlow(h, 4, 5, "connected", A, A, "udp while nothing is attached")
        udp_lost.wait_done()
        udp_lost.close()  # not counted by anyone: no truth
        ag = Agent(h, conf, port)
        ag.wait_serving()
        cur_a = {}
        udp(25, "udp 4")
        tcp(15, "tcp 3")
        h.eq("SIGTERM: exit 0", ag.stop(), 0)

        # -- the report against the workers' counts -----------------------------
        rows = report_json("--by", "cgroup")
        got_a = cgroup_sum(rows, A)
        h.eq("report --by cgroup --json: A's eight counters == the UDP workers' own counts", got_a,
             {k: truth_a[k] for k in na.COUNTER_COLUMNS})
        h.eq("... B's payload both ways == the TCP workers' bytes",
             (cgroup_sum(rows, B)["tx_payload_bytes"], cgroup_sum(rows, B)["rx_payload_bytes"]), (payload_b, payload_b))
        h.check("... every row has start and end in ISO 8601 UTC",
                all(r["start"].endswith("Z") and r["end"] > r["start"] for r in rows), repr(rows[:2]))
        for every in ("5m", "hour", "day", "month"):
            rows_e = report_json("--every", every)
            h.eq("--every %s: A's rows sum to the same" % every, cgroup_sum(rows_e, A), got_a)
            h.eq("--every %s: B's payload rows sum to the same" % every,
                 cgroup_sum(rows_e, B)["tx_payload_bytes"], payload_b)
        n5 = len([r for r in report_json("--every", "5m") if r["cgroup"] == A.rel])
        h.note("A has %d 5-minute rows" % n5)

        prow = [r for r in report_json("--by", "process", "--cgroup", A.path) if r["kind"] == "process"]
        got_p = {r["pid"]: (r["tx_payload_bytes"], r["rx_payload_bytes"]) for r in prow}
        h.eq("--by process --cgroup A: each worker's payload, sent and received, as it counted it", got_p, procs)
        h.eq("--by process: A's processes sum to A's cgroup row",
             {k: sum(r[k] for r in prow) for k in na.COUNTER_COLUMNS}, got_a)
        peers = [r for r in report_json("--by", "peer", "--cgroup", A.path)]
        h.eq("--by peer --cgroup A: the peers sum to A's cgroup row",
             {k: sum(r[k] for r in peers) for k in na.COUNTER_COLUMNS}, got_a)
        h.check("... the clients' peer is 127.0.0.1, and so is the unconnected servers' one peer",
                {r["raddr"] for r in peers} == {"127.0.0.1"}, repr([r["raddr"] for r in peers]))

        top = report_json("--by", "cgroup", "--top", "1", "--every", "5m")
        h.eq("--top 1: the busiest cgroup's rows, and 'other' rows for the rest",
             ({r["cgroup"] for r in top if r["kind"] == "cgroup"}, {r["kind"] for r in top}),
             ({A.rel}, {"cgroup", "other"}))
        h.eq("... which hold B's bytes", sum(r["tx_payload_bytes"] for r in top if r["kind"] == "other"), payload_b)
        h.eq("... and A's rows are all of A", cgroup_sum(top, A), got_a)
        p = report("--since", iso(t_start))
        h.check("the table: exit 0, human units, A's path, a TOTAL line",
                p.returncode == 0 and "KiB" in p.stdout and A.rel in p.stdout and
                "\nTOTAL " in p.stdout, p.stdout + p.stderr)
        p = report("--csv", "--since", iso(t_start))
        h.eq("CSV header: start, end and export's column names", p.stdout.splitlines()[0], CSV_HEADER)
        h.eq("CSV and JSON: the same keys", sorted(next(csv.DictReader(io.StringIO(p.stdout))).keys()),
             sorted(rows[0].keys()))
        p = report("--since", "2000-01-01", "--until", "2000-01-02")
        h.check("a span with nothing recorded: exit 0, says so", p.returncode == 0 and "nothing recorded" in p.stdout,
                p.stdout)
        p = report("--since", "yesterday-ish")
        h.check("a WHEN it does not know: exit 2, names the forms", p.returncode == 2 and "this-month" in p.stderr,
                p.stderr)
        p = report(db_path=os.path.join(tmp, "none.db"))
        h.check("no database: exit 1, says so", p.returncode == 1 and "No such file" in p.stderr, p.stderr)

        # -- who may read --------------------------------------------------------
        modes = {n: (stat.S_IMODE(os.stat(db + n).st_mode), os.stat(db + n).st_gid) for n in ("", "-wal", "-shm")}
        h.eq("database, -wal and -shm: 0640 with the configuration's group", modes,
             {n: (0o640, gid) for n in ("", "-wal", "-shm")})
        member = subprocess.run(["setpriv", "--reuid", str(uid), "--regid", str(uid), "--groups", str(gid), binary,
                                 "report", "--db", db, "--json", "--since", iso(t_start)],
                                capture_output=True, text=True, timeout=60)
        h.check("a member of the group reads the report (the same rows)",
                member.returncode == 0 and [json.loads(l) for l in member.stdout.splitlines()] == rows,
                member.stderr)
        other = subprocess.run(["setpriv", "--reuid", str(uid), "--regid", str(uid), "--groups", str(gid + 1),
                                binary, "report", "--db", db], capture_output=True, text=True, timeout=60)
        h.check("anyone else: exit 1, Permission denied, who may read",
                other.returncode == 1 and "Permission denied" in other.stderr and "group" in other.stderr,
                other.stderr)

        # -- charts --------------------------------------------------------------
        p = report("--chart", "--every", "5m", "--since", iso(t_start))
        h.check("--chart: a bar per period, a legend with both cgroups",
                p.returncode == 0 and A.rel in p.stdout and B.rel in p.stdout and "#" in p.stdout, p.stdout)
        svg, png = os.path.join(tmp, "c.svg"), os.path.join(tmp, "c.png")
        p = report("--every", "5m", "--since", iso(t_start), "--svg", svg, "--png", png)
        h.eq("--svg and --png: exit 0, nothing on stdout", (p.returncode, p.stdout), (0, ""))
        root = ET.parse(svg).getroot()
        h.eq("the SVG is well-formed, 1100x560", (root.tag.endswith("svg"), root.get("width"), root.get("height")),
             (True, "1100pt", "560pt"))
        w, hh, px = png_pixels(png)
        byte_cols = [d + "_" + c for d in ("tx", "rx") for c in ("ip_hdr_bytes", "l4_hdr_bytes", "payload_bytes")]
        bysize = sorted(((sum(r[k] for k in byte_cols), r["cgroup"]) for r in report_json("--by", "cgroup")),
                        reverse=True)
        # the busiest first: the first colour of the palette, then the second
        colors = [(0x00, 0x72, 0xB2), (0xE6, 0x9F, 0x00)]
        area = [sum(1 for y in range(hh) for x in range(w - 330) if px[y][x] == c) for c in colors]
        want = bysize[0][0] / bysize[1][0]
        h.check("the PNG's bars: the two colours' areas in the proportion of the bytes (%.3f)" % want,
                area[1] > 0 and abs(area[0] / area[1] - want) / want < 0.05, "areas %r" % area)

        # -- a database another process holds -------------------------------------
        ag = Agent(h, conf, port)
        ag.wait_serving()
        sampled(ag)
        lock = sqlite3.connect(db, timeout=0, isolation_level=None)
        lock.execute("BEGIN IMMEDIATE")
        udp(20, "udp while the database is held")
        h.check("held by another process: the agent says the database is locked",
                wait_until(lambda: "database is locked" in ag.log(), 5), ag.log()[-600:])
        text = ag.metrics()
        h.eq("... and serves /metrics with A's exact payload", payload(text, A, "tx"), cur_a["tx_payload_bytes"])
        lock.execute("COMMIT")
        lock.close()
        sampled(ag)
        h.check("... says when it is written again", "is written again" in ag.log(), ag.log()[-400:])
        h.eq("once free: every byte of the traffic meanwhile is in the history, once",
             cgroup_sum(report_json("--by", "cgroup"), A), {k: truth_a[k] for k in na.COUNTER_COLUMNS})
        h.eq("SIGTERM: exit 0", ag.stop(), 0)
        lock = sqlite3.connect(db, timeout=0, isolation_level=None)
        lock.execute("PRAGMA locking_mode = EXCLUSIVE")
        lock.execute("BEGIN EXCLUSIVE")
        lock.execute("UPDATE meta SET value = value WHERE key = 'created'")
        p = report()
        h.check("report on a database held exclusively: exit 1, 'locked'",
                p.returncode == 1 and "locked" in p.stderr, p.stderr)
        lock.execute("COMMIT")
        lock.close()

        # -- a corrupt file -------------------------------------------------------
        truth_good = {k: truth_a[k] for k in na.COUNTER_COLUMNS}
        good = os.path.join(tmp, "good")
        os.mkdir(good)
        for n in ("", "-wal", "-shm"):  # the last connection to close removed -wal and -shm
            if os.path.exists(db + n):
                os.rename(db + n, os.path.join(good, "history.db" + n))
        with open(db, "wb") as out:
            out.write(b"this is not an SQLite database\n" * 200)
        os.chmod(db, 0o600)
        ag = Agent(h, conf, port)
        ag.wait_serving()
        h.check("a corrupt file: the agent says it is not a database",
                wait_until(lambda: "not a database" in ag.log(), 5), ag.log()[-600:])
        udp(10, "udp with a corrupt database")
        text = ag.metrics()
        h.eq("... and counts on, serving /metrics: what the workers sent since A's attach",
             payload(text, A, "tx"), cur_a["tx_payload_bytes"])
        p = report()
        h.check("report on the corrupt file: exit 1, 'not a database'",
                p.returncode == 1 and "not a database" in p.stderr, p.stderr)
        os.rename(db, os.path.join(tmp, "corrupt.db"))
        h.check("moved away: the agent makes a new database",
                wait_until(lambda: os.path.exists(db) and os.path.getsize(db) > 0, 6), ag.log()[-400:])
        sampled(ag)
        f = udp(12, "udp into the new database")
        sampled(ag)
        h.eq("SIGTERM: exit 0", ag.stop(), 0)
        h.eq("the new database: what came after it, exactly",
             cgroup_sum(report_json("--by", "cgroup"), A), {k: v for k, v in udp_truth(f).items()})
        h.eq("the old one, moved away, still reads",
             cgroup_sum(report_json("--by", "cgroup", db_path=os.path.join(good, "history.db")), A), truth_good)
        # a copy without its -wal and -shm, in a directory the reader cannot write (another machine's file)
        for n in ("-wal", "-shm"):
            if os.path.exists(os.path.join(good, "history.db" + n)):
                os.unlink(os.path.join(good, "history.db" + n))
        os.chmod(good, 0o755)
        os.chown(os.path.join(good, "history.db"), 0, gid)
        os.chmod(os.path.join(good, "history.db"), 0o640)
        member = subprocess.run(["setpriv", "--reuid", str(uid), "--regid", str(uid), "--groups", str(gid), binary,
                                 "report", "--db", os.path.join(good, "history.db"), "--json", "--since", iso(t_start)],
                                capture_output=True, text=True, timeout=60)
        h.check("a file without -wal in a directory the reader cannot write: read as it is",
                member.returncode == 0 and cgroup_sum([json.loads(l) for l in member.stdout.splitlines()], A) ==
                truth_good, member.stderr)


if __name__ == "__main__":
    main()
