#!/usr/bin/python3
"""netacct export: groups, header, -o FILE (plain, gzip, killed), Prometheus.

A known workload with both ends in one test cgroup A: a TCP/IPv4 and a
UDP/IPv4 (connected) flow that stay open, a TCP/IPv6 and a UDP/IPv6
(unconnected) flow that close before the checks (closed rows). Every check
compares exports taken at one idle moment (the plain export before and after
is byte for byte the same).

  * --group-by process|cgroup|peer: the kind=cgroup rows and the header are
    those of the plain export; the group rows add up (counters and conns) to
    the socket + closed rows; each process row carries what that workload
    process says it sent and received (payload = application bytes +
    retransmitted / duplicate bytes the row shows); the cgroup row is the
    cgroup's; peer rows split by remote address as the flows do.
    --group-by socket: exactly the plain export's socket rows.
  * --no-header: the plain export without its first line.
  * -o out.csv / -o out.json: byte for byte stdout's export; -o out.csv.gz
    gunzips (Python's gzip module) to it; no temporary file is left.
  * cookie (the last column): every socket row has its socket's cookie, the
    one `ss -e` shows for that 4-tuple (sk:), all different; cgroup and
    closed rows have none; after the sockets close, the `log` record of each
    carries the same cookie, so export and log rows join on it.
  * --prometheus: `promtool check metrics` accepts it; its byte and packet
    series equal the kind=cgroup row; live sockets, closed connections,
    retransmitted bytes and map fill match the rows and status.
  * the rows read by the reader's walk of na_socks and read in batches
    (NETACCT_READ=walk, batch): the same CSV, JSON and --group-by process, on
    the small state and on the large one below (where netacct itself walks);
  * export -o FILE killed at random moments while it reads and writes a large
    state (na_churn fan: thousands of live sockets in a second cgroup B):
    after SIGKILL, FILE is absent or complete (equal to the idle export),
    only .FILE.XXXXXX may be left; after SIGTERM, FILE is the old one or
    the complete new one and no temporary file is left.
"""

import glob
import gzip
import json
import os
import random
import re
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import na_harness as na  # noqa: E402
from na_churnlib import churn_bin  # noqa: E402

FAN_N = 3000          # concurrent connections of the large state (6001 socket rows)
KILL_TRIALS = 25      # per kind of kill and file type
PROMTOOL = "/usr/bin/promtool"


def run(h, *args, timeout=60, read=None):
    """netacct export ARGS: stdout as it is (CRLF kept: no newline translation).
    read: NETACCT_READ (walk, batch), None for netacct's own choice."""
    argv = [h.bin, "--pin-root", h.pin_root, "export"] + list(args)
    env = dict(os.environ, NETACCT_PIN_ROOT=h.pin_root)
    if read:
        env["NETACCT_READ"] = read
    p = subprocess.run(argv, capture_output=True, timeout=timeout, env=env)
    if p.returncode != 0:
        raise na.HarnessError("netacct export %s: exit %d: %s"
                              % (" ".join(args), p.returncode, p.stderr.decode(errors="replace")))
    return p.stdout.decode()


def idle(h, fn, tries=25, settle=0.2):
    """fn() between two identical plain exports: (export text, fn's result)."""
    for _ in range(tries):
        time.sleep(settle)
        before = run(h)
        res = fn()
        after = run(h)
        if before == after:
            return before, res
    raise na.HarnessError("the export never stayed the same across a check")


def sum_rows(rows):
    tot = na.counters_sum(rows)
    tot["conns"] = sum(r["conns"] or 0 for r in rows)
    tot["tx_retrans_bytes"] = sum(r["tx_retrans_bytes"] or 0 for r in rows)
    tot["rx_dup_bytes"] = sum(r["rx_dup_bytes"] or 0 for r in rows)
    return tot


def parse(text):
    return na.parse_export_csv(text)


# --------------------------------------------------------------------------
# groups
# --------------------------------------------------------------------------

def check_groups(h, A, workers, flows):
    def groups():
        return {g: run(h, "--group-by", g) for g in ("process", "cgroup", "peer", "socket")}

    plain, out = idle(h, groups)
    base = parse(plain)
    header = plain.split("\r\n", 1)[0]
    members = [r for r in base if r["kind"] in ("socket", "closed")]
    cg_rows = [r for r in base if r["kind"] == "cgroup"]
    h.check("plain export has closed rows and socket rows",
            any(r["kind"] == "closed" for r in base) and any(r["kind"] == "socket" for r in base),
            repr([r["kind"] for r in base]))
    want = sum_rows(members)
    for g, text in out.items():
        rows = parse(text)
        h.eq("--group-by %s: same header as the plain export" % g, text.split("\r\n", 1)[0], header)
        h.eq("--group-by %s: the kind=cgroup rows stay, first" % g,
             [r for r in rows[:len(cg_rows)]], cg_rows)
        grp = rows[len(cg_rows):]
        # A leaf-cgroup group is not an attached cgroup's totals (kind=cgroup).
        kind = "leaf_cgroup" if g == "cgroup" else g
        h.check("--group-by %s: every other row has kind=%s" % (g, kind),
                grp and all(r["kind"] == kind for r in grp), repr([r["kind"] for r in grp]))
        if g == "socket":
            h.eq("--group-by socket rows == the plain export's socket rows",
                 [dict(r, kind="socket") for r in grp],
                 [r for r in base if r["kind"] == "socket"])
            continue
        h.eq("--group-by %s: rows add up to the socket + closed rows" % g, sum_rows(grp), want)
        order = [((r["cgroup"] or ""), r["cgroup_id"] or 0, r["pid"] or 0, r["comm"] or "")
                 for r in grp]
        h.check("--group-by %s: sorted by cgroup, then owner" % g, order == sorted(order),
                repr(order))
        h.check("--group-by %s: no local end in a group row" % g,
                all(r["laddr"] == "" and r["lport"] is None for r in grp))
        if g == "process":
            check_process_rows(h, grp, workers)
        elif g == "cgroup":
            h.eq("--group-by cgroup: one row, the test cgroup",
                 [(r["cgroup_id"], r["cgroup"]) for r in grp], [(A.id, A.rel)])
            h.eq("--group-by cgroup: conns == sockets of the workload (live + closed)",
                 grp[0]["conns"], sum(f_sockets(f) for f in flows))
            app_sent = sum(w[1]["sent"] for w in workers)
            h.eq("--group-by cgroup: tx_payload == application bytes sent + retransmitted",
                 grp[0]["tx_payload_bytes"], app_sent + grp[0]["tx_retrans_bytes"])
            app_recv = sum(w[1]["received"] for w in workers)
            h.eq("--group-by cgroup: rx_payload == application bytes received + duplicates",
                 grp[0]["rx_payload_bytes"], app_recv + grp[0]["rx_dup_bytes"])
        elif g == "peer":
            check_peer_rows(h, grp, flows)


def f_sockets(f):
    """Sockets a flow has rows for: TCP client, accepted, listener; UDP two."""
    return 3 if isinstance(f, na.TcpFlow) else 2


def check_process_rows(h, rows, workers):
    by_pid = {r["pid"]: r for r in rows}
    h.eq("--group-by process: one row per workload process",
         sorted(by_pid), sorted(w[0].pid for w in workers))
    for w, done in workers:
        r = by_pid.get(w.pid)
        if r is None:
            continue
        lbl = "--group-by process: %s (pid %d)" % (w.label, w.pid)
        h.eq("%s comm" % lbl, r["comm"], "python3")
        h.eq("%s tx_payload == its bytes sent + retransmitted" % lbl,
             r["tx_payload_bytes"], done["sent"] + r["tx_retrans_bytes"])
        h.eq("%s rx_payload == its bytes received + duplicates" % lbl,
             r["rx_payload_bytes"], done["received"] + r["rx_dup_bytes"])
        if "datagrams" in done:
            h.eq("%s packets == datagrams each way" % lbl,
                 (r["tx_packets"], r["rx_packets"]), (done["datagrams"], done["datagrams"]))


def check_peer_rows(h, rows, flows):
    by_peer = {(r["family"], r["raddr"]): r for r in rows}
    h.eq("--group-by peer: one row per (family, remote address)", len(by_peer), len(rows))
    want = {}
    for f in flows:
        fam = "ipv%d" % f.family
        lo = na.family_addr(f.family)
        if isinstance(f, na.TcpFlow):
            # client and accepted socket talk to loopback; the listener to nobody in particular
            want[(fam, lo)] = want.get((fam, lo), 0) + f.cdone["sent"] + f.sdone["sent"]
            want.setdefault((fam, ""), 0)
        else:
            # connected or not, each socket has one peer: loopback
            want[(fam, lo)] = want.get((fam, lo), 0) + f.cdone["sent"] + f.sdone["sent"]
    h.eq("--group-by peer: the peers of the workload", sorted(by_peer), sorted(want))
    for k, sent in sorted(want.items()):
        r = by_peer.get(k)
        if r is None:
            continue
        h.eq("--group-by peer %s %r: tx_payload == application bytes sent + retransmitted" % k,
             r["tx_payload_bytes"], sent + r["tx_retrans_bytes"])


# --------------------------------------------------------------------------
# --no-header, -o, gzip
# --------------------------------------------------------------------------

def check_header_and_files(h, tmp):
    out_csv = os.path.join(tmp, "out.csv")
    out_gz = os.path.join(tmp, "out.csv.gz")
    out_json = os.path.join(tmp, "out.json")

    def variants():
        v = {"no-header": run(h, "--no-header"), "json": run(h, "--json")}
        run(h, "-o", out_csv)
        run(h, "-o", out_gz)
        run(h, "--json", "-o", out_json)
        return v

    plain, v = idle(h, variants)
    h.eq("--no-header == the export without its first line", v["no-header"],
         plain.split("\r\n", 1)[1])
    with open(out_csv, "rb") as f:
        data = f.read()
    h.eq("-o out.csv == stdout's export (bytes)", data, plain.encode())
    with gzip.open(out_gz, "rb") as f:
        data = f.read()
    h.eq("-o out.csv.gz gunzips to stdout's export", data, plain.encode())
    with open(out_gz, "rb") as f:
        h.eq("-o out.csv.gz starts with the gzip magic", f.read(2), b"\x1f\x8b")
    with open(out_json, "rb") as f:
        h.eq("--json -o out.json == stdout's --json export", f.read(), v["json"].encode())
    h.eq("no temporary file left in the directory", sorted(os.listdir(tmp)),
         ["out.csv", "out.csv.gz", "out.json"])
    st = os.stat(out_csv)
    um = os.umask(0)
    os.umask(um)
    h.eq("-o creates the file with mode 0666 & ~umask", st.st_mode & 0o7777, 0o666 & ~um)
    os.chmod(out_csv, 0o600)
    run(h, "-o", out_csv)
    h.eq("-o over an existing file keeps its mode", os.stat(out_csv).st_mode & 0o7777, 0o600)
    p = h.netacct("export", "-o", "/dev/null")
    h.eq("-o /dev/null (not a regular file) exits 1", p.returncode, 1)
    h.check("... and says why", "not a regular file" in p.stderr, repr(p.stderr))
    h.check("... leaving /dev/null a character device",
            os.path.exists("/dev/null") and not os.path.isfile("/dev/null"))
    p = h.netacct("export", "-o", os.path.join(tmp, "no", "dir.csv"))
    h.eq("-o into a missing directory exits 1", p.returncode, 1)
    p = h.netacct("export", "--group-by", "nothing")
    h.eq("--group-by nothing is a usage error (exit 2)", p.returncode, 2)
    p = h.netacct("export", "--prometheus", "--group-by", "process")
    h.eq("--prometheus --group-by is a usage error (exit 2)", p.returncode, 2)
    for f in os.listdir(tmp):
        os.unlink(os.path.join(tmp, f))


# --------------------------------------------------------------------------
# cookie: the join key with log and trace
# --------------------------------------------------------------------------

def ss_cookies():
    """{(laddr, lport, raddr, rport): cookie} of TCP sockets, from `ss -tneH` (sk:HEX)."""
    p = subprocess.run(["ss", "-tneHa"], capture_output=True, text=True, timeout=30)
    if p.returncode != 0:
        raise na.HarnessError("ss -tneHa: %s" % p.stderr.strip())
    out = {}
    for line in p.stdout.splitlines():
        f = line.split()
        m = re.search(r"\bsk:([0-9a-f]+)", line)
        if len(f) < 5 or not m:
            continue
        (la, lp), (ra, rp) = (f[3].rsplit(":", 1), f[4].rsplit(":", 1))
        out[(la.strip("[]"), int(lp), ra.strip("[]"), int(rp) if rp != "*" else 0)] = int(m.group(1), 16)
    return out


def check_cookies_live(h, tcp):
    """Every socket row has a cookie, ss's for that socket; returns {tuple: cookie} of tcp's two ends."""
    text = run(h, "--json")
    rows = parse(run(h))
    jrows = [json.loads(l) for l in text.splitlines() if l.strip()]
    h.eq("cookie is CSV column 28, where it came (columns are only added after it)",
         run(h).split("\r\n", 1)[0].split(",").index("cookie"), 27)
    socks = [r for r in jrows if r["kind"] == "socket"]
    h.check("every socket row has a cookie (JSON: a number)",
            socks and all(isinstance(r.get("cookie"), int) and r["cookie"] > 0 for r in socks), repr(socks[:2]))
    h.eq("socket rows' cookies are all different", len({r["cookie"] for r in socks}), len(socks))
    h.check("cgroup and closed rows have no cookie (null)",
            all(r.get("cookie") is None for r in jrows if r["kind"] != "socket"))
    h.eq("CSV and JSON carry the same cookies", sorted(r.get("cookie") for r in rows if r["kind"] == "socket"),
         sorted(str(r["cookie"]) for r in socks))
    ss = ss_cookies()
    mine = {}
    for what, t in (("client", tcp.client_tuple()), ("server", tcp.server_tuple())):
        row = next((r for r in socks if (r["laddr"], r["lport"], r["raddr"], r["rport"]) == tuple(t)), None)
        if h.check("the TCP %s's socket row is there" % what, row is not None, repr(t)):
            h.eq("the TCP %s's cookie is the one ss -e shows (sk:)" % what, row["cookie"], ss.get(tuple(t)))
            mine[tuple(t)] = row["cookie"]
    return mine


def check_cookies_log(h, cookies):
    """After the close: each socket's log record carries the cookie its export row had."""
    deadline = time.monotonic() + 10
    recs = {}
    while len(recs) < len(cookies) and time.monotonic() < deadline:
        p = h.netacct("log", "--json")
        for l in p.stdout.splitlines():
            r = json.loads(l)
            t = (r["laddr"], r["lport"], r["raddr"], r["rport"])
            if t in cookies:
                recs[t] = r
        time.sleep(0.2)
    for t, c in sorted(cookies.items()):
        h.eq("log: the record of %s:%d -> %s:%d has the export row's cookie" % t,
             recs.get(t, {}).get("cookie"), c)


# --------------------------------------------------------------------------
# Prometheus
# --------------------------------------------------------------------------

SAMPLE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$')
LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')


def unescape(v):
    return re.sub(r'\\(.)', lambda m: "\n" if m.group(1) == "n" else m.group(1), v)


def parse_prom(text):
    """{(name, frozenset(labels)): value}, and the families TYPE declares."""
    samples, types = {}, {}
    for line in text.splitlines():
        if line.startswith("# TYPE "):
            _, _, name, typ = line.split(" ", 3)
            types[name] = typ
            continue
        if not line or line.startswith("#"):
            continue
        m = SAMPLE.match(line)
        if not m:
            raise na.HarnessError("not a sample line: %r" % line)
        labels = frozenset((k, unescape(v)) for k, v in LABEL.findall(m.group(2) or ""))
        samples[(m.group(1), labels)] = int(m.group(3))
    return samples, types


def check_prometheus(h, A, tmp):
    plain, text = idle(h, lambda: run(h, "--prometheus"))
    rows = parse(plain)
    samples, types = parse_prom(text)
    if os.access(PROMTOOL, os.X_OK):
        p = subprocess.run([PROMTOOL, "check", "metrics"], input=text, capture_output=True,
                           text=True, timeout=60)
        h.eq("promtool check metrics accepts export --prometheus (exit 0)", p.returncode, 0)
        h.eq("... and has no complaint", (p.stdout + p.stderr).strip(), "")
    elif os.environ.get("CI", "").lower() == "true":
        h.check("promtool installed (Debian package prometheus)", False, PROMTOOL)
    else:
        h.note("promtool not installed (Debian package prometheus): format not checked by it")
    cg = [r for r in rows if r["kind"] == "cgroup" and r["cgroup_id"] == A.id]
    if not h.check("plain export has the cgroup row", len(cg) == 1, repr(cg)):
        return
    cg = cg[0]

    def get(name, **labels):
        return samples.get((name, frozenset(dict(labels, cgroup=A.rel).items())))

    for d in ("tx", "rx"):
        for part, col in (("ip_header", "ip_hdr_bytes"), ("l4_header", "l4_hdr_bytes"),
                          ("payload", "payload_bytes")):
            h.eq("netacct_bytes_total{direction=%s,part=%s} == cgroup row %s_%s" % (d, part, d, col),
                 get("netacct_bytes_total", direction=d, part=part), cg["%s_%s" % (d, col)])
        h.eq("netacct_packets_total{direction=%s} == cgroup row %s_packets" % (d, d),
             get("netacct_packets_total", direction=d), cg[d + "_packets"])
    socks = [r for r in rows if r["kind"] == "socket"]
    closed = [r for r in rows if r["kind"] == "closed"]
    h.eq("netacct_live_sockets == socket rows", get("netacct_live_sockets"), len(socks))
    h.eq("netacct_connections_closed_total == sum of closed rows' conns",
         get("netacct_connections_closed_total"), sum(r["conns"] for r in closed))
    h.eq("netacct_retransmitted_bytes_total == cgroup row tx_retrans_bytes",
         get("netacct_retransmitted_bytes_total"), cg["tx_retrans_bytes"])
    h.eq("netacct_duplicate_bytes_total == cgroup row rx_dup_bytes",
         get("netacct_duplicate_bytes_total"), cg["rx_dup_bytes"])
    st = na.netacct_status(h)
    att = na.status_attachment(st, A)
    h.eq("netacct_overflow_packets_total == status overflow_packets",
         get("netacct_overflow_packets_total"), att["overflow_packets"])
    h.eq("netacct_parse_errors_total == status parse_errors",
         get("netacct_parse_errors_total"), att["parse_errors"])
    glob_ = {k[0]: v for k, v in samples.items() if not k[1]}
    h.eq("map fill and capacity == status",
         (glob_.get("netacct_socket_map_entries"), glob_.get("netacct_socket_map_capacity"),
          glob_.get("netacct_closed_map_entries"), glob_.get("netacct_closed_map_capacity")),
         (len(socks), st["max_sockets"], len(closed), st["max_closed"]))
    h.check("netacct_closed_evicted_total and netacct_log_dropped_total present",
            "netacct_closed_evicted_total" in glob_ and "netacct_log_dropped_total" in glob_)
    h.eq("TYPEs", sorted(types.items()), sorted({
        "netacct_bytes_total": "counter", "netacct_packets_total": "counter",
        "netacct_connections_closed_total": "counter",
        "netacct_retransmitted_bytes_total": "counter", "netacct_duplicate_bytes_total": "counter",
        "netacct_live_sockets": "gauge",
        "netacct_overflow_packets_total": "counter", "netacct_parse_errors_total": "counter",
        "netacct_socket_map_entries": "gauge", "netacct_socket_map_capacity": "gauge",
        "netacct_closed_map_entries": "gauge", "netacct_closed_map_capacity": "gauge",
        "netacct_closed_evicted_total": "counter", "netacct_log_dropped_total": "counter",
        "netacct_log_written_total": "counter", "netacct_attachment_live": "gauge"}.items()))
    prom = os.path.join(tmp, "metrics.prom")
    run(h, "--prometheus", "-o", prom)
    with open(prom) as f:
        got = parse_prom(f.read())[0]
    h.eq("--prometheus -o FILE has the same series", sorted(got), sorted(samples))
    os.unlink(prom)


# --------------------------------------------------------------------------
# killed while writing
# --------------------------------------------------------------------------

def spawn_fan(h, cg, n):
    b = churn_bin(required=False)
    if not h.check("na_churn helper available (NA_CHURN_BIN)", b is not None):
        return None
    ws = h.spawn([b, "fan-server", str(n), "127.0.0.1"], cgroup=cg, label="fan server",
                 env={"NA_CHURN_DEADLINE": "150"})
    ws.expect("hello", 30)
    port = ws.expect("listening", 30)["port"]
    wc = h.spawn([b, "fan-client", str(n), "127.0.0.1", str(port)], cgroup=cg,
                 label="fan client", env={"NA_CHURN_DEADLINE": "150"})
    wc.expect("hello", 30)
    wc.expect("open", 60)
    ws.expect("open", 60)
    wc.expect("ready", 90)
    ws.expect("ready", 90)
    return ws, wc


def first_difference(a, b):
    la, lb = a.split(b"\r\n"), b.split(b"\r\n")
    for i, (x, y) in enumerate(zip(la, lb)):
        if x != y:
            return "line %d: %r != %r" % (i + 1, x[:300], y[:300])
    return "%d lines, expected %d" % (len(la), len(lb))


def kill_trials(h, tmp, name, sig, reference, ref_time, trials):
    """Start export -o tmp/name, send sig after a random delay, look at what is left."""
    path = os.path.join(tmp, name)
    gz = name.endswith(".gz")
    argv = [h.bin, "--pin-root", h.pin_root, "export", "-o", path]
    env = dict(os.environ, NETACCT_PIN_ROOT=h.pin_root)
    stats = {"absent": 0, "complete": 0, "old": 0, "partial": 0, "temp_left": 0, "finished": 0}
    bad = []
    rng = random.Random(1)
    for i in range(trials):
        if sig == signal.SIGTERM:
            with open(path, "wb") as f:
                f.write(b"old\n")
        p = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
        time.sleep(rng.uniform(0, ref_time * 1.1))
        if p.poll() is None:
            p.send_signal(sig)
        rc = p.wait(timeout=30)
        if rc == 0:
            stats["finished"] += 1
        temps = glob.glob(os.path.join(tmp, "." + name + ".*"))
        if temps:
            stats["temp_left"] += 1
            if sig != signal.SIGKILL:
                bad.append("trial %d: temporary file left after signal %d: %s" % (i, sig, temps))
        if os.path.exists(path):
            with open(path, "rb") as f:
                data = f.read()
            if data == b"old\n" and sig == signal.SIGTERM:
                stats["old"] += 1
            else:
                if gz:
                    try:
                        data = gzip.decompress(data)
                    except (OSError, EOFError) as e:
                        data = ("not gzip: %s" % e).encode()
                if data == reference:
                    stats["complete"] += 1
                else:
                    stats["partial"] += 1
                    bad.append("trial %d: FILE neither absent nor complete (%d bytes of %d, "
                               "rc %s): %s" % (i, len(data), len(reference), rc,
                                               first_difference(data, reference)))
        else:
            stats["absent"] += 1
            if sig == signal.SIGTERM:
                bad.append("trial %d: SIGTERM removed the old FILE" % i)
        for f in temps + ([path] if os.path.exists(path) else []):
            os.unlink(f)
    return stats, bad


def check_readers(h, what):
    """The rows read by the reader's walk of na_socks and read in batches: the same exports."""
    plain, (walk, batch, walk_json, batch_json, walk_proc, batch_proc) = idle(h, lambda: (
        run(h, read="walk"), run(h, read="batch"), run(h, "--json", read="walk"), run(h, "--json", read="batch"),
        run(h, "--group-by", "process", read="walk"), run(h, "--group-by", "process", read="batch")))
    h.check("%s: socket rows to compare (%d)" % (what, plain.count("\r\nsocket,")), "\r\nsocket," in plain,
            plain[:200])
    for name, a, b in (("export read by the walk == read in batches", walk, batch),
                       ("... == the export netacct chose to read", walk, plain),
                       ("export --json, the walk == batches", walk_json, batch_json),
                       ("export --group-by process, the walk == batches", walk_proc, batch_proc)):
        h.check("%s: %s" % (what, name), a == b, a == b or first_difference(a.encode(), b.encode()))


def check_killed(h, B, tmp):
    fan = spawn_fan(h, B, FAN_N)
    if fan is None:
        return

    def timed_o(name):
        path = os.path.join(tmp, name)
        t0 = time.monotonic()
        run(h, "-o", path)
        dt = time.monotonic() - t0
        if name.endswith(".gz"):
            with gzip.open(path, "rb") as f:
                data = f.read()
        else:
            with open(path, "rb") as f:
                data = f.read()
        os.unlink(path)
        return data, dt

    check_readers(h, "large state")
    plain, res = idle(h, lambda: (timed_o("big.csv"), timed_o("big.csv.gz")), settle=0.5)
    (d1, t_plain), (d2, t_gz) = res
    ref = plain.encode()
    h.note("large state: %d bytes of CSV, export -o took %.0f ms, -o .gz %.0f ms"
           % (len(ref), t_plain * 1000, t_gz * 1000))
    h.check("large state: the export has over %d socket rows" % (2 * FAN_N),
            plain.count("\r\nsocket,") >= 2 * FAN_N, "%d" % plain.count("\r\nsocket,"))
    h.eq("large state: -o big.csv == stdout export", d1, ref)
    h.eq("large state: -o big.csv.gz gunzips to it", d2, ref)
    for sig, signame in ((signal.SIGKILL, "SIGKILL"), (signal.SIGTERM, "SIGTERM")):
        for name, t in (("big.csv", t_plain), ("big.csv.gz", t_gz)):
            stats, bad = kill_trials(h, tmp, name, sig, ref, t, KILL_TRIALS)
            h.note("%s of export -o %s at random moments: %r" % (signame, name, stats))
            if sig == signal.SIGKILL:
                h.check("%s of export -o %s: FILE is absent or complete, never partial "
                        "(%d trials)" % (signame, name, KILL_TRIALS), not bad, "; ".join(bad))
                h.check("%s of export -o %s: some kills landed while it wrote "
                        "(the temporary file was left)" % (signame, name),
                        stats["temp_left"] > 0, repr(stats))
            else:
                h.check("%s of export -o %s: FILE is the old or the complete new one, "
                        "no temporary file left (%d trials)" % (signame, name, KILL_TRIALS),
                        not bad, "; ".join(bad))
    ws, wc = fan
    for w in (ws, wc):
        w.send("close")
    for w in (ws, wc):
        w.expect("closed", 90)
        w.finish()


def main():
    h = na.Harness("export")
    tmp = h.make_tmpdir("export-")
    with h:
        A = h.make_cgroup()
        h.attach(A)
        live_tcp = na.TcpFlow(h, 4, "rr", (200,), (200,), A, A, "tcp4 live")
        live_udp = na.UdpFlow(h, 4, 40, "connected", A, A, "udp4 live")
        gone_tcp = na.TcpFlow(h, 6, "rr", (150,), (150,), A, A, "tcp6 closed")
        gone_udp = na.UdpFlow(h, 6, 30, "unconnected", A, A, "udp6 closed")
        flows = [live_tcp, live_udp, gone_tcp, gone_udp]
        for f in flows:
            f.wait_done()
        workers = []
        for f in flows:
            workers += [(f.client, f.cdone), (f.server, f.sdone)]
        gone_tcp.close()
        gone_udp.close()

        check_groups(h, A, workers, flows)
        check_readers(h, "small state")
        check_header_and_files(h, tmp)
        check_prometheus(h, A, tmp)
        cookies = check_cookies_live(h, live_tcp)
        live_tcp.close()
        live_udp.close()
        check_cookies_log(h, cookies)

        B = h.make_cgroup()
        h.attach(B)
        check_killed(h, B, tmp)


if __name__ == "__main__":
    main()
