#!/usr/bin/python3
"""netacct top --batch, parsed, against the workload's own pace and owners.

A paced TCP flow (client and server in one test cgroup) sends about
1.25 MiB/s one way while a second flow stays idle. `top --batch` must show:
  * by socket: the busy flow's two rows first (client and server, in either
    order: their rates are equal but for the segments in flight), the
    client's with its pid and TX/s within the pace (a rate computed over a
    wrong interval, or doubled, fails);
  * by process: the client process's TX/s and the server process's RX/s
    within the pace; a CONNS column;
  * both of these with the rows read in batches and read by the reader's
    walk of na_socks (NETACCT_READ=batch, walk);
  * a screenful by socket (--limit 6) read by the walk comes from top's
    figures (the -v line says so): the busy rows first, the client's TX/s
    within the pace, the idle flow's rows (names, totals, HDR%, rates)
    the same cells as rows read in batches, and the title's 6 live sockets;
  * that buffer outgrown while top runs (1500 sockets opened): the -v line
    says the rows of the read before were carried over, and the first frame
    after has the busy client's TX/s within the pace and the idle rows at
    0 B/s;
  * --pid keeps only that process's rows, --proto udp none of these TCP
    rows, --limit 1 one row and a "(N more" line, --sort rx puts the
    busy server first;
  * the header line of the cgroup with its path and the live sockets;
  * a PATH limits the title's count of live sockets too: with two idle flows
    (IPv4 and IPv6, 3 sockets each) in a second attached cgroup B, `top
    --batch A` says 6 live sockets, `top --batch B` 6, and `top --batch` 12
    (it used to count every cgroup's sockets whatever the PATHs);
  * by peer, B's rows are one per (family, peer): 127.0.0.1, ::1, and the
    two listeners' "*" told apart by the FAMILY column (ipv4, ipv6), each
    with 1 connection (they were two identical "* *" rows).
  * by process, a process that has exited, with no live socket and nothing
    in the interval, ages out of the view: the two processes of a finished
    flow ("gone", closed and exited) have no row, while `export --group-by
    process` still has them with the bytes they exchanged; the idle flow's
    processes (running, sockets open, no traffic) keep their rows.
The other runs name A, so that B's rows stay out of them.
"""

import os
import re
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import na_harness as na  # noqa: E402

MiB = 1 << 20

# Opens N UDP sockets (a row each, from socket() on), says so, and holds them until stdin closes.
MANY_SOCKETS = (
    "import json, resource, socket, sys\n"
    "n = int(sys.argv[1])\n"
    "resource.setrlimit(resource.RLIMIT_NOFILE, (n + 64, n + 64))\n"
    "s = [socket.socket(socket.AF_INET, socket.SOCK_DGRAM) for _ in range(n)]\n"
    "print(json.dumps({'event': 'ready', 'n': len(s)}), flush=True)\n"
    "sys.stdin.read()\n")
CHUNK = 65536
PACE_US = 50000                        # one 64 KiB write every 50 ms
RATE = CHUNK / (PACE_US / 1e6)         # 1.25 MiB/s of payload, headers on top
UNITS = {"B": 1, "KiB": 1 << 10, "MiB": 1 << 20, "GiB": 1 << 30, "TiB": 1 << 40}


def parse_rate(text):
    m = re.fullmatch(r"([0-9.]+) (B|KiB|MiB|GiB|TiB)/s", text)
    if not m:
        raise na.HarnessError("not a rate: %r" % text)
    return float(m.group(1)) * UNITS[m.group(2)]


def frames(text):
    """The tables of each frame: [{"header": [...], "rows": [[...]]}, ...]."""
    out = []
    for block in text.split("netacct top - ")[1:]:
        lines = block.splitlines()
        heads = [i for i, l in enumerate(lines)
                 if l.split()[:1] in (["PID"], ["CGROUP"], ["PROTO"], ["NAME"], ["CLASS"])]
        table = heads[-1]                   # the last header is the table's
        cols = re.split(r"\s{1,}", lines[table].strip())
        rows = [l for l in lines[table + 1:] if l.strip() and not l.startswith("(")]
        more = [l for l in lines[table + 1:] if l.startswith("(")]
        out.append({"title": lines[0], "top": lines[1:table], "cols": cols, "rows": rows, "more": more})
    return out


def split_row(line, ncols):
    """Cells of a row: rates and sizes carry a unit, so split on 2+ spaces or
    single spaces between tokens that are not number+unit pairs."""
    toks = line.split()
    cells, i = [], 0
    while i < len(toks):
        if i + 1 < len(toks) and re.fullmatch(r"[0-9.]+", toks[i]) and \
                re.fullmatch(r"(B|KiB|MiB|GiB|TiB)(/s)?", toks[i + 1]):
            cells.append(toks[i] + " " + toks[i + 1])
            i += 2
        else:
            cells.append(toks[i])
            i += 1
    if len(cells) != ncols:
        raise na.HarnessError("row %r: %d cells for %d columns" % (line, len(cells), ncols))
    return cells


def table(frame):
    return [dict(zip(frame["cols"], split_row(r, len(frame["cols"])))) for r in frame["rows"]]


def main():
    h = na.Harness("top_batch")
    with h:
        A, B = h.make_cgroup(), h.make_cgroup()
        h.attach(A, B)
        total = 32 * MiB                  # ~26 s at the pace: outlasts the eight top runs (~17 s)
        busy = na.TcpFlow(h, 4, "bulk", (total, CHUNK, 1, PACE_US), (1, 1, total), A, A, "busy")
        idle = na.TcpFlow(h, 4, "rr", (10,), (10,), A, A, "idle")
        idle.wait_done()
        gone = na.TcpFlow(h, 4, "rr", (10,), (10,), A, A, "gone").wait_done()
        gone_pids = {gone.client.pid, gone.server.pid}
        gone.close()  # the sockets close and both processes exit
        other = na.TcpFlow(h, 4, "rr", (10,), (10,), B, B, "other").wait_done()
        other6 = na.TcpFlow(h, 6, "rr", (10,), (10,), B, B, "other6").wait_done()
        cpid, spid = busy.client.pid, busy.server.pid
        lo, hi = 0.6 * RATE, 1.25 * RATE * 1.1   # pace jitter; headers add < 5 %

        def top(*args, read=None):
            p = h.netacct("top", "--batch", "-d", "1", "-n", "2", *(args + (A.path,)),
                          env={"NETACCT_READ": read} if read else None)
            h.eq("top %s exits 0" % " ".join(args), p.returncode, 0)
            f = frames(p.stdout)
            h.eq("top %s: two frames" % " ".join(args), len(f), 2)
            return f[-1]

        for paths, n in (((A.path,), 6), ((B.path,), 6), ((), 12)):
            p = h.netacct("top", "--batch", "-d", "0.2", "-n", "1", *paths)
            title = frames(p.stdout)[0]["title"] if p.returncode == 0 else p.stderr
            h.check("top --batch %s: the title counts %d live sockets" % (
                " ".join(c.rel for c in (A, B) if c.path in paths) or "(all)", n),
                re.search(r", %d live sockets," % n, title), title)

        p = h.netacct("top", "--batch", "-d", "0.2", "-n", "1", "--group-by", "peer", B.path)
        f = frames(p.stdout)[0]
        rows = table(f)
        h.check("by peer: a FAMILY column", "FAMILY" in f["cols"], repr(f["cols"]))
        h.eq("by peer: one row per family and peer (the two listeners' * told apart by family)",
             sorted((r.get("FAMILY"), r.get("REMOTE"), r.get("CONNS")) for r in rows),
             sorted([("ipv4", "127.0.0.1", "2"), ("ipv6", "::1", "2"), ("ipv4", "*", "1"),
                     ("ipv6", "*", "1")]))

        # The rows read in batches (what a table this small gets) and by the reader's walk of
        # na_socks (what a large one gets, NETACCT_READ=walk here): the same frames.
        for read in ("batch", "walk"):
            f = top(read=read)
            h.check("%s: header lists the cgroup %s" % (read, A.rel), any(A.rel in l for l in f["top"]),
                    repr(f["top"]))
            h.check("%s: header: only the cgroup %s (the PATH)" % (read, A.rel),
                    not any(B.rel in l for l in f["top"]), repr(f["top"]))
            rows = table(f)
            # The busy flow's two sockets first, in either order: on loopback the client's
            # data and the server's ACKs make the two rows' rates equal to the byte, but for
            # the segments in flight at either snapshot.
            h.eq("%s: by socket: the busy flow's two rows are first (pids)" % read,
                 sorted(int(r["PID"]) for r in rows[:2]), sorted([cpid, spid]))
            client = [r for r in rows[:2] if int(r["PID"]) == cpid]
            h.between("%s: by socket: the busy client's TX/s within the pace" % read,
                      parse_rate(client[0]["TX/s"]) if client else 0, lo, hi)
            h.eq("%s: by socket: six live sockets (2 clients, 2 accepted, 2 listeners)" % read, len(rows), 6)

            f = top("--group-by", "process", read=read)
            h.check("%s: by process: title says so" % read, "by process" in f["title"], f["title"])
            h.check("%s: by process: a CONNS column" % read, "CONNS" in f["cols"], repr(f["cols"]))
            rows = {int(r["PID"]): r for r in table(f)}
            h.eq("%s: by process: the exited processes aged out; the running ones stay (busy, idle)" % read,
                 sorted(rows), sorted({cpid, spid, idle.client.pid, idle.server.pid}))
            h.between("%s: by process: client TX/s within the pace" % read, parse_rate(rows[cpid]["TX/s"]),
                      lo, hi)
            h.between("%s: by process: server RX/s within the pace" % read, parse_rate(rows[spid]["RX/s"]),
                      lo, hi)
        # A screenful by socket read by the walk is top's figures (a compact row, the names looked
        # up for the rows shown): the same frame as rows read in batches. The idle flow's rows do
        # not move: their cells are the same to the last digit shown; the busy client's TX/s is
        # within the pace.
        fig = h.netacct("-v", "top", "--batch", "-d", "1", "-n", "2", "--limit", "6", A.path,
                        env={"NETACCT_READ": "walk"})
        h.check("figures: top --limit 6 read the walk's figures",
                fig.returncode == 0 and "live rows (figures)" in fig.stderr, fig.stderr[-2000:])
        by_rows = table(top("--limit", "6", read="batch"))
        by_figs = table(frames(fig.stdout)[-1]) if fig.returncode == 0 else []
        h.eq("figures: the busy flow's two rows are first (pids)",
             sorted(int(r["PID"]) for r in by_figs[:2]), sorted([cpid, spid]))
        client = [r for r in by_figs[:2] if int(r["PID"]) == cpid]
        h.between("figures: the busy client's TX/s within the pace",
                  parse_rate(client[0]["TX/s"]) if client else 0, lo, hi)
        idle_pids = {idle.client.pid, idle.server.pid}

        def idle_cells(rows):
            return sorted(tuple(r[c] for c in ("PID", "COMM", "PROTO", "LOCAL", "REMOTE", "TX", "RX", "RETRANS", "DUP",
                                               "HDR%", "TX/s", "RX/s"))
                          for r in rows if int(r["PID"]) in idle_pids)
        h.eq("figures: the idle flow's rows (names, totals, header share, no rate) as read in batches",
             idle_cells(by_figs), idle_cells(by_rows))
        h.eq("figures: six rows", len(by_figs), 6)
        if fig.returncode == 0:
            title = frames(fig.stdout)[-1]["title"]
            h.check("figures: the title counts the 6 live sockets", ", 6 live sockets," in title, title)

        # The figures' buffer outgrown while top runs (1500 rows more than its room): the rows of
        # the read before are carried over into the larger one, so the busy client's TX/s stays
        # its pace and the idle flow's rows stay at 0 B/s, where rows taken for new would show
        # their totals over the interval.
        tp = subprocess.Popen([h.bin, "--pin-root", h.pin_root, "-v", "top", "--batch", "-d", "1", "-n", "4",
                               "--limit", "6", A.path], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                              env=dict(os.environ, NETACCT_READ="walk"))
        time.sleep(0.5)  # its first read made the buffer for the rows there were
        many = h.spawn([sys.executable, "-c", MANY_SOCKETS, "1500"], cgroup=A, label="1500 sockets")
        many.expect("ready")
        out, err = tp.communicate(timeout=60)
        h.check("grown: top read the figures into a buffer made anew, rows carried over (-v)",
                tp.returncode == 0 and "rows of the read before carried over" in err, err[-2000:])
        after = [f for f in frames(out) if int(re.search(r", (\d+) live sockets", f["title"]).group(1)) > 1500]
        if h.check("grown: frames after the 1500 sockets", after, out[-3000:]):
            rows = table(after[0])
            client = [r for r in rows if int(r["PID"]) == cpid]
            h.between("grown: the busy client's TX/s within the pace in the first frame after",
                      parse_rate(client[0]["TX/s"]) if client else 0, lo, hi)
            h.eq("grown: the idle flow's rows at 0 B/s each way",
                 [(r["TX/s"], r["RX/s"]) for r in rows if int(r["PID"]) in idle_pids],
                 [("0 B/s", "0 B/s")] * len([r for r in rows if int(r["PID"]) in idle_pids]))
        many.p.stdin.close()

        grouped = na.parse_export_csv(h.netacct_ok("export", "--group-by", "process", A.path).stdout)
        kept = {r["pid"]: r for r in grouped if r["kind"] == "process"}
        h.check("export --group-by process keeps the exited processes, with their bytes",
                all(p in kept and kept[p]["tx_payload_bytes"] > 0 for p in gone_pids), repr(sorted(kept)))

        f = top("--pid", str(cpid))
        pids = {int(r["PID"]) for r in table(f)}
        h.eq("--pid keeps only that process", pids, {cpid})

        f = top("--proto", "udp")
        h.eq("--proto udp: no TCP rows", table(f), [])

        f = top("--limit", "1")
        h.eq("--limit 1: one row", len(f["rows"]), 1)
        h.check("--limit 1: says how many more", f["more"] and "5 more" in f["more"][0], repr(f["more"]))

        f = top("--sort", "rxrate")
        h.eq("--sort rxrate: the busy server's row first", int(table(f)[0]["PID"]), spid)

        busy.close()
        idle.close()
        other.close()
        other6.close()


if __name__ == "__main__":
    main()
