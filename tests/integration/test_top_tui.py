#!/usr/bin/python3
"""The interactive `netacct top`, driven in tmux like a person would.

A known workload: two paced TCP flows on loopback, both ends inside the test
cgroups, one much busier than the other, and a finished one:

  busy  (cgroup A): the client writes 16 KiB every 20 ms   ~ 800 KiB/s
  slow  (cgroup B): the client writes  1 KiB every 100 ms  ~  10 KiB/s
  done  (cgroup B): the client wrote 256 KiB at once, then stays idle, open

`netacct top -d 0.5` runs in a pane of a private tmux server (its own socket,
its own config: remain-on-exit, so that a pane's exit status can be read), and
capture-pane is checked:

  * the header has a line for each attached cgroup;
  * the busiest rows come first (the busy flow's two sockets), each with its
    owner's pid (client: the connect() caller; accepted socket: the server,
    which made the listener) and comm;
  * TX/s and RX/s of both flows within a broad range of the paced rates (it
    fails on a rate computed over the wrong interval or in the wrong unit);
  * S sorts by TX totals: the busy client first, "sort TX" in the title and
    the TX column header in reverse video (capture-pane -e);
  * g groups by process: "by process" in the title, a CONNS column, one row
    per worker;
  * with the rows read by the walk (NETACCT_READ=walk, what a large table
    gets), by socket comes from top's figures: the busy flow's rows first,
    with their owners' PID and COMM looked up; g then shows one row per
    worker from the next interval on (by process reads rows);
  * / text Enter filters: only the slow cgroup's rows remain;
  * t shows totals (and back to rates: sort TX/s), + and - change the
    interval, h shows the help (with the column letters) and any key closes
    it, space pauses ("PAUSED", the screen stays the same over 4 intervals)
    and resumes (the rows move on);
  * at 80x24, 100x30 and 160x40: no line wrapped (capture-pane -J joins
    wrapped lines: none is longer than the pane), the title says what is
    shown, and every row shows who (PID and COMM, its owner's) and TX/s and
    RX/s, the rates within the paces (the finished flow at 0 B/s); the
    columns shown are those of highest priority (PID COMM TX/s RX/s, then
    PROTO, REMOTE, CGROUP, LOCAL, TX RX, PKTS/s, HDR%): CGROUP and LOCAL
    give way first, whatever their place; every cgroup line shows its path
    and rates; at 80 columns, by process, cgroup, peer, unit, container,
    pod and peer class (g) every row shows the group's name and both
    rates (rows with no unit, container or pod in one "-"), and the arrow
    keys scroll columns off the left so that those that gave way come in;
  * t at 80 columns: TX and RX (totals) take the place of TX/s and RX/s, on
    the rows and the cgroup lines: the finished flow shows the bytes it
    wrote (its client TX, its server RX: 256 KiB plus headers) where the
    rates showed 0 B/s; t again brings the rates back;
  * a resize (KEY_RESIZE) from 120 to 80 columns lays the columns out again
    as a fresh 80-column screen does, and wraps nothing;
  * q quits: exit status 0, the alternate screen is off, the TUI is gone
    from the pane and the tty is back in cooked mode (stty: icanon echo);
  * SIGTERM to netacct: the same restoration, exit status 0;
  * -n 2 ends after two frames by itself;
  * a 400-column pane (wider than the view's line buffers): the bottom bar in
    reverse video across the whole width, the keys and the row count in it,
    and q exits 0 (the bar used to overrun a 256-byte buffer there).
"""

import os
import re
import shutil
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import na_harness as na  # noqa: E402

BUSY_CHUNK, BUSY_PACE_US = 16384, 20000
SLOW_CHUNK, SLOW_PACE_US = 1024, 100000
DONE_BYTES = 256 << 10  # less than the busy flow sends in its first half second
FLOW_SECS = 80  # more than the test needs; the workers are killed at the end
INTERVAL = 0.5
UNITS = {"B": 1, "KiB": 1024, "MiB": 1024 ** 2, "GiB": 1024 ** 3}


def nominal(chunk, pace_us):
    """Payload bytes per second of a paced writer (an upper bound: the write
    itself and the sleep's lateness only make it slower)."""
    return chunk * 1e6 / pace_us


def parse_rate(text):
    m = re.fullmatch(r"([\d.]+) (B|KiB|MiB|GiB)/s", text.strip())
    if not m:
        raise na.HarnessError("not a rate: %r" % text)
    return float(m.group(1)) * UNITS[m.group(2)]


class Tmux:
    """A private tmux server (its own socket and config): nothing of anyone
    else's is touched, and kill() ends all of it."""

    def __init__(self, tmpdir):
        self.sock = na.TEST_PREFIX + na._rand()
        self.conf = os.path.join(tmpdir, "tmux.conf")
        with open(self.conf, "w") as f:
            f.write("set -g remain-on-exit on\nset -g history-limit 0\nset -g status off\n")
        self.sessions = []
        self.path = None  # the server's socket, known once it runs

    def run(self, *args, check=True):
        p = subprocess.run(["tmux", "-L", self.sock, "-f", self.conf] + list(args),
                           capture_output=True, text=True, timeout=20)
        if check and p.returncode != 0:
            raise na.HarnessError("tmux %s: %s" % (" ".join(args), p.stderr.strip()))
        return p.stdout

    def kill(self):
        for s in self.sessions:
            self.run("kill-session", "-t", s, check=False)
        self.sessions = []
        self.run("kill-server", check=False)
        # tmux leaves its socket file behind.
        if self.path and os.path.basename(self.path) == self.sock:
            try:
                os.unlink(self.path)
            except OSError:
                pass


class Pane:
    """One session running a shell command; the shell records netacct's exit
    status and the tty modes after it."""

    def __init__(self, tmux, tmpdir, cmd, width, height):
        self.t = tmux
        self.name = na.TEST_PREFIX + na._rand()
        self.status_file = os.path.join(tmpdir, self.name + ".status")
        self.stty_file = os.path.join(tmpdir, self.name + ".stty")
        script = "%s; echo $? > %s; stty -a > %s" % (cmd, self.status_file, self.stty_file)
        tmux.run("new-session", "-d", "-s", self.name, "-x", str(width), "-y", str(height),
                 "/bin/sh", "-c", script)
        tmux.sessions.append(self.name)
        tmux.path = tmux.path or self.fmt("#{socket_path}")
        self.shell = int(self.fmt("#{pane_pid}"))

    def fmt(self, f):
        return self.t.run("display-message", "-p", "-t", self.name, f).strip()

    def capture(self, escapes=False, join=False):
        args = ["capture-pane", "-p", "-t", self.name]
        if escapes:
            args.append("-e")
        if join:
            args.append("-J")
        return self.t.run(*args)

    def keys(self, *keys):
        self.t.run("send-keys", "-t", self.name, *keys)

    def literal(self, text):
        self.t.run("send-keys", "-t", self.name, "-l", text)

    def wait(self, what, pred, timeout=10, settled=False):
        """Poll the screen until pred(lines) is true; the last screen otherwise.
        settled: and the same screen 0.2 s later (a new view's title is painted
        before its rows: a capture in between has the old rows under it)."""
        deadline = time.monotonic() + timeout
        while True:
            lines = self.capture().splitlines()
            if pred(lines):
                if not settled:
                    return lines
                time.sleep(0.2)
                if self.capture().splitlines() == lines:
                    return lines
            if time.monotonic() > deadline:
                raise na.HarnessError("%s: not on the screen after %ds:\n%s"
                                      % (what, timeout, "\n".join(lines)))
            time.sleep(0.1)

    def netacct_pid(self):
        """The shell's child (netacct), found through /proc."""
        kids = na.children_of(self.shell)
        return kids[0] if kids else None

    def wait_exit(self, timeout=10):
        """netacct's exit status, once the shell wrote it (None: still running)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.fmt("#{pane_dead}") == "1":
                with open(self.status_file) as f:
                    return int(f.read().strip())
            time.sleep(0.1)
        return None


class TuiHarness(na.Harness):
    """The harness, whose cleanup (also on a signal or the deadline) first
    ends our tmux server, then removes cgroups and pins."""

    tmux = None
    tmpdir = None

    def cleanup(self):
        if self.tmux is not None:
            self.tmux.kill()
            self.tmux = None
        super().cleanup()


def screen_parts(lines):
    """(title, cgroup lines, table header, rows) of a top screen."""
    # The table's header: labels only, indented (the cgroup header starts at 0).
    hdr = next((i for i, l in enumerate(lines) if re.fullmatch(r"( +[A-Z][A-Za-z/%]*)+ *", l)),
               None)
    if hdr is None:
        return None
    rows = []
    for l in lines[hdr + 1:]:
        if not l.strip() or l.startswith(" h help") or l.startswith("Filter:"):
            break
        rows.append(l)
    cgs = [l for l in lines[2:hdr] if l.strip()]
    return lines[0], cgs, lines[hdr], rows


# Names are left-aligned under their label, figures right-aligned to its end
# (the widths change with the screen, so cells are cut where the header says).
NAMES = ("COMM", "CGROUP", "NAME", "PROTO", "LOCAL", "REMOTE", "FAMILY", "CLASS")
FIGURE = re.compile(r" +(\d[\d.]* (?:B|KiB|MiB|GiB|TiB)(?:/s)?|\d[\d.]*%|\d+|-)$")


def row_fields(header, row):
    """A row's cells, cut where the header's labels say its columns are: a
    name starts where its label starts, a figure ends where its label ends;
    between a name and the figure after it, the figure is the row's last
    figure-looking text before the figure label's end."""
    labels = [(m.group(), m.start(), m.end()) for m in re.finditer(r"\S+", header)]
    out, pos, i = {}, 0, 0
    while i < len(labels):
        name, lo, hi = labels[i]
        nxt = labels[i + 1] if i + 1 < len(labels) else None
        if name not in NAMES:
            out[name] = row[pos:hi].strip()
            pos = hi + 1
            i += 1
            continue
        if nxt is None:
            out[name] = row[lo:].strip()
            break
        if nxt[0] in NAMES:
            out[name] = row[lo:nxt[1]].strip()
            pos = nxt[1]
            i += 1
            continue
        region = row[lo:nxt[2]].rstrip()
        m = FIGURE.search(region)
        out[name] = (region[:m.start()] if m else region).strip()
        out[nxt[0]] = m.group(1) if m else ""
        pos = nxt[2] + 1
        i += 2
    return out


def table(lines):
    parts = screen_parts(lines)
    if parts is None:
        return None, []
    title, cgs, header, rows = parts
    return header, [row_fields(header, r) for r in rows]


# By socket, with rates: the columns in the order they give way last to first
# (col_def[] in cli/cmd_top.c; a new column of top gets its place here too).
PRIORITY = [("PID", "COMM", "TX/s", "RX/s"), ("PROTO",), ("REMOTE",), ("CGROUP",), ("LOCAL",),
            ("TX", "RX"), ("PKTS/s",), ("HDR%",), ("RETRANS", "DUP")]


def priority_levels(cols):
    """How many levels of PRIORITY the columns are, or None when they are not
    a run of whole levels from the first (a column shown while one of higher
    priority gave way)."""
    shown = set(cols)
    k = 0
    while k < len(PRIORITY) and set(PRIORITY[k]) <= shown:
        k += 1
    return k if shown == set(c for lvl in PRIORITY[:k] for c in lvl) else None


def endpoint(addr, port):
    return "%s:%d" % (addr, port)


def main():
    h = TuiHarness("top_tui")
    with h:
        if not shutil.which("tmux"):
            raise na.SkipTest("tmux not found (install the Debian package tmux)")
        tmpdir = h.tmpdir = h.make_tmpdir()
        h.tmux = Tmux(tmpdir)
        A, B = h.make_cgroup(), h.make_cgroup()
        h.attach(A, B)

        busy_bytes = BUSY_CHUNK * int(FLOW_SECS * 1e6 / BUSY_PACE_US)
        slow_bytes = SLOW_CHUNK * int(FLOW_SECS * 1e6 / SLOW_PACE_US)
        busy = na.TcpFlow(h, 4, "bulk", (busy_bytes, BUSY_CHUNK, 0, BUSY_PACE_US),
                          (0, BUSY_CHUNK, busy_bytes), A, A, "busy")
        slow = na.TcpFlow(h, 4, "bulk", (slow_bytes, SLOW_CHUNK, 0, SLOW_PACE_US),
                          (0, SLOW_CHUNK, slow_bytes), B, B, "slow")
        done = na.TcpFlow(h, 4, "bulk", (DONE_BYTES, 65536, 0), (0, 65536, DONE_BYTES), B, B,
                          "done").wait_done()
        flows = (busy, slow, done)
        owner = {}  # LOCAL endpoint -> (pid, what); a listener's is its server's
        for f in flows:
            c, s = f.cready, f.sready
            owner[endpoint(c["laddr"], c["lport"])] = (f.client.pid, f.label + " client")
            owner[endpoint(s["laddr"], s["lport"])] = (f.server.pid, f.label + " server")
        busy_pair = {(endpoint(c["laddr"], c["lport"]), endpoint(c["raddr"], c["rport"]))
                     for c in (busy.cready, busy.sready)}
        busy_client = endpoint(busy.cready["laddr"], busy.cready["lport"])
        busy_server = endpoint(busy.sready["laddr"], busy.sready["lport"])
        slow_client = endpoint(slow.cready["laddr"], slow.cready["lport"])
        slow_server = endpoint(slow.sready["laddr"], slow.sready["lport"])
        h.note("busy %s -> %s (pids %d, %d), slow %s -> %s (pids %d, %d)"
               % (busy_client, busy_server, busy.client.pid, busy.server.pid, slow_client,
                  slow_server, slow.client.pid, slow.server.pid))

        top = "NETACCT_PIN_ROOT=%s %s top -d %s" % (h.pin_root, h.bin, INTERVAL)

        # -- a 200x50 pane: header, order, owners, rates --------------------------
        p = Pane(h.tmux, tmpdir, top, 200, 50)
        p.wait("the first frame", lambda l: screen_parts(l) is not None)
        h.eq("alternate screen on while top runs", p.fmt("#{alternate_on}"), "1")
        # Two frames after the flows are in their stride: rates over a whole interval.
        time.sleep(3 * INTERVAL)
        lines = p.wait("the busy flow", lambda l: any(busy_client in x for x in l))
        title, cgs, header, rows = screen_parts(lines)
        h.note("screen:\n" + "\n".join(x.rstrip() for x in lines if x.strip()))
        h.check("title says top, by socket", title.startswith("netacct top - ") and
                "by socket" in title, title)
        for cg in (A, B):
            h.check("header has a line for %s" % cg.rel,
                    any(x.split()[0] == cg.rel for x in cgs), repr(cgs))
        _, rows = table(lines)
        h.check("at least the 4 connected sockets and 2 listeners", len(rows) >= 6, repr(rows))
        first_two = {(r.get("LOCAL"), r.get("REMOTE")) for r in rows[:2]}
        h.eq("the two busiest rows are the busy flow's sockets", first_two, busy_pair)
        for r in rows:
            if r.get("LOCAL") in owner:
                pid, what = owner[r["LOCAL"]]
                if r.get("REMOTE") == "*":
                    what = what.replace("server", "listener")
                h.eq("%s row: PID is its owner's" % what, r["PID"], str(pid))
                h.eq("%s row: COMM" % what, r["COMM"], "python3")
        by_local = {r["LOCAL"]: r for r in rows if r.get("REMOTE") != "*"}
        bn, sn = nominal(BUSY_CHUNK, BUSY_PACE_US), nominal(SLOW_CHUNK, SLOW_PACE_US)
        # Upper bounds: the pace plus headers (TCP/IP 52 bytes a segment) and
        # two writes of jitter over the interval; lower: 60 % of the pace (a
        # rate over 1 s instead of 0.5 s would be 50 %).
        for what, local, col, n, chunk in (
                ("busy client TX/s", busy_client, "TX/s", bn, BUSY_CHUNK),
                ("busy server RX/s", busy_server, "RX/s", bn, BUSY_CHUNK),
                ("slow client TX/s", slow_client, "TX/s", sn, SLOW_CHUNK),
                ("slow server RX/s", slow_server, "RX/s", sn, SLOW_CHUNK)):
            r = by_local.get(local)
            if not h.check("%s: row shown" % what, r is not None, repr(rows)):
                continue
            hi = n * (chunk + 52) / chunk + 2 * chunk / INTERVAL
            h.between("%s (bytes/s) within the paced rate" % what, parse_rate(r[col]),
                      0.6 * n, hi)
        cgline = {x.split()[0]: x for x in cgs}
        if A.rel in cgline:
            rates = re.findall(r"([\d.]+ (?:B|KiB|MiB|GiB)/s)", cgline[A.rel])
            h.between("header: cgroup A TX/s within the busy pace", parse_rate(rates[0]),
                      0.6 * bn, 2 * (bn * (BUSY_CHUNK + 52) / BUSY_CHUNK + BUSY_CHUNK / INTERVAL))

        # -- S: by TX totals ------------------------------------------------------
        p.keys("S")
        lines = p.wait("sort TX", lambda l: "sort TX," in l[0])
        _, rows = table(lines)
        h.eq("S: the busy client first (most bytes sent)", rows[0].get("LOCAL"), busy_client)
        h.eq("S: its PID is the connect() caller", rows[0].get("PID"), str(busy.client.pid))
        hdr_esc = next((x for x in p.capture(escapes=True).splitlines()
                        if re.search(r"PID.*COMM", x)), "")
        h.eq("S: the TX column header is the one in reverse video",
             reverse_text(hdr_esc).split(), ["TX"])

        # -- g: by process --------------------------------------------------------
        p.keys("g")
        lines = p.wait("by process", lambda l: "by process" in l[0], settled=True)
        header, rows = table(lines)
        h.check("g: a CONNS column", "CONNS" in header.split(), header)
        h.check("g: no LOCAL column", "LOCAL" not in header.split(), header)
        h.eq("g: one row per worker process", sorted(int(r["PID"]) for r in rows),
             sorted(p for f in flows for p in (f.client.pid, f.server.pid)))

        # -- / filter ------------------------------------------------------------
        p.keys("/")
        p.wait("the filter prompt", lambda l: any(x.startswith("Filter:") for x in l))
        p.literal(B.name)
        p.keys("Enter")
        lines = p.wait("the filter", lambda l: ('filter "%s"' % B.name) in l[0], settled=True)
        _, rows = table(lines)
        h.check("filter: rows remain", len(rows) > 0, repr(lines))
        h.eq("filter: only the slow cgroup's rows", sorted({r["CGROUP"] for r in rows}), [B.rel])
        h.eq("filter: the processes of the slow cgroup's flows", sorted(int(r["PID"]) for r in rows),
             sorted([slow.client.pid, slow.server.pid, done.client.pid, done.server.pid]))

        # -- t, + -, h, space ---------------------------------------------------------
        p.keys("t")
        p.wait("t: totals", lambda l: l[0].endswith("sort TX, totals, filter \"%s\"" % B.name))
        p.keys("t")
        p.wait("t again: rates, sorted by TX/s", lambda l: "sort TX/s, rates" in l[0])
        p.keys("+")
        p.wait("+: interval 1 s", lambda l: "interval 1 s," in l[0])
        p.keys("-")
        p.wait("-: interval 0.5 s", lambda l: "interval 0.5 s," in l[0])
        p.keys("h")
        # The box's bottom border is drawn last: with it on the screen, the whole box is.
        lines = p.wait("h: the help", lambda l: any("any key closes this help" in x for x in l))
        h.check("help lists the column letters (S TX)",
                any(re.search(r"\bS TX\b", x) for x in lines), "\n".join(lines))
        p.keys("x")
        p.wait("any key closes the help", lambda l: not any("netacct top: keys" in x for x in l))
        p.keys("Space")
        before = p.wait("space: PAUSED", lambda l: l[0].startswith("PAUSED "))
        time.sleep(4 * INTERVAL)
        after = p.capture().splitlines()
        h.check("paused: the same frame after 4 intervals", after == before,
                "\n".join(after))
        p.keys("Space")
        moved = p.wait("space again: running", lambda l: not l[0].startswith("PAUSED") and
                       table(l)[1] != table(before)[1])
        h.check("space again: the frame moves on (the rows changed)",
                table(moved)[1] != table(before)[1])

        # -- q ---------------------------------------------------------------------
        p.keys("q")
        status = p.wait_exit()
        h.eq("q: netacct exits with status 0", status, 0)
        check_restored(h, p, "q")

        # -- top's figures (a large table's read, NETACCT_READ=walk here) --------------
        # By socket a screenful comes from figures, the names looked up for the rows
        # shown; g needs every row (by process): the next interval's frame, from rows.
        p = Pane(h.tmux, tmpdir, "NETACCT_READ=walk " + top, 200, 50)
        time.sleep(3 * INTERVAL)
        lines = p.wait("figures: the busy flow", lambda l: any(busy_client in x for x in l))
        _, rows = table(lines)
        h.eq("figures: the two busiest rows are the busy flow's sockets",
             {(r.get("LOCAL"), r.get("REMOTE")) for r in rows[:2]}, busy_pair)
        for r in rows[:2]:
            pid, what = owner[r["LOCAL"]]
            h.eq("figures: %s row: PID and COMM (looked up) its owner's" % what, (r["PID"], r["COMM"]),
                 (str(pid), "python3"))
        p.keys("g")
        lines = p.wait("figures, then g: by process, from rows",
                       lambda l: "by process" in l[0] and table(l)[1], settled=True)
        h.eq("figures, then g: one row per worker process", sorted(int(r["PID"]) for r in table(lines)[1]),
             sorted(p for f in flows for p in (f.client.pid, f.server.pid)))
        p.keys("q")
        h.eq("figures: q: netacct exits with status 0", p.wait_exit(), 0)

        # -- 80x24, 100x30, 160x40: who and the rates on every row -----------------
        by_remote = {}  # REMOTE endpoint of a connected socket -> (pid, what)
        for f in flows:
            c, s = f.cready, f.sready
            by_remote[endpoint(c["raddr"], c["rport"])] = (f.client.pid, f.label + " client")
            by_remote[endpoint(s["raddr"], s["rport"])] = (f.server.pid, f.label + " server")
        servers = {f.server.pid for f in flows}
        paces = {"busy": nominal(BUSY_CHUNK, BUSY_PACE_US), "slow": nominal(SLOW_CHUNK, SLOW_PACE_US),
                 "done": 0}
        chunks = {"busy": BUSY_CHUNK, "slow": SLOW_CHUNK, "done": 0}
        cols80 = None
        for width, height in ((80, 24), (100, 30), (160, 40)):
            size = "%dx%d" % (width, height)
            p = Pane(h.tmux, tmpdir, top, width, height)
            p.wait("%s: the rows" % size, lambda l: len(table(l)[1]) >= 9)
            time.sleep(3 * INTERVAL)  # rates over whole intervals of the paced flows
            lines = p.capture().splitlines()
            h.note("%s:\n%s" % (size, "\n".join(x.rstrip() for x in lines if x.strip())))
            check_fits(h, p, size, width)
            title, cgs, _, _ = screen_parts(lines)
            h.check("%s: the title says by socket, sort busiest, rates" % size,
                    "by socket, sort busiest, rates" in title, title)
            header, rows = table(lines)
            cols = header.split()
            if width == 80:
                cols80 = cols
            levels = priority_levels(cols)
            h.check("%s: the columns are those of highest priority (%s)" % (size, " ".join(cols)),
                    levels is not None and levels >= 1)
            order = ("PID", "COMM", "CGROUP", "PROTO", "LOCAL", "REMOTE", "TX/s", "RX/s", "TX", "RX",
                     "HDR%", "PKTS/s")
            h.check("%s: the columns in display order" % size,
                    [c for c in cols if c in order] == [c for c in order if c in cols], repr(cols))
            if width == 80:
                h.check("80: CGROUP and LOCAL gave way, REMOTE and PROTO stayed",
                        "CGROUP" not in cols and "LOCAL" not in cols and "REMOTE" in cols and
                        "PROTO" in cols, repr(cols))
            if width == 160:
                h.check("160: every column that names the socket is there",
                        levels is not None and levels >= 5, repr(cols))
            h.eq("%s: all 9 sockets shown" % size, len(rows), 9)
            for r in rows:
                pid, what = by_remote.get(r.get("REMOTE"), (None, "listener"))
                lbl = "%s: %s row" % (size, what)
                if pid is None:
                    h.check("%s: PID is a server's (its listener's maker)" % lbl,
                            r.get("PID", "").isdigit() and int(r["PID"]) in servers, repr(r))
                else:
                    h.eq("%s: PID is its owner's" % lbl, r.get("PID"), str(pid))
                h.eq("%s: COMM" % lbl, r.get("COMM"), "python3")
                for col in ("TX/s", "RX/s"):
                    h.check("%s: %s shown" % (lbl, col), re.fullmatch(r"[\d.]+ (B|KiB|MiB)/s",
                                                                      r.get(col, "")), repr(r))
                label = what.split()[0]
                if pid is None or not re.fullmatch(r"[\d.]+ (B|KiB|MiB)/s", r.get("TX/s", "")):
                    continue
                sending = what.endswith("client")
                col = "TX/s" if sending else "RX/s"
                n, chunk = paces[label], chunks[label]
                hi = n * (chunk + 52) / chunk + 2 * chunk / INTERVAL if n else 0
                h.between("%s: %s within the pace" % (lbl, col), parse_rate(r[col]), 0.6 * n, hi)
            for cg in (A, B):
                line = next((x for x in cgs if x.split()[0] == cg.rel), "")
                h.check("%s: the cgroup line of %s has its path and both rates" % (size, cg.rel),
                        len(re.findall(r"[\d.]+ (?:B|KiB|MiB)/s", line)) >= 2, repr(cgs))
            if width == 80:
                check_80_totals(h, p, by_remote, done)
                check_80_groups(h, p)
                # The arrows scroll columns off the left; one that gave way comes in.
                p.keys("Right", "Right")
                lines = p.wait("80: scrolled two columns", lambda l: table(l)[0] is not None and
                               table(l)[0].split()[0] != "PID")
                cols = table(lines)[0].split()
                h.check("80, scrolled right twice: PID and COMM off, CGROUP in",
                        "PID" not in cols and "COMM" not in cols and "CGROUP" in cols, repr(cols))
                h.check("80, scrolled: the last line says how many columns show",
                        re.search(r" \d+ of 15 columns,", lines[-1]), lines[-1])
            p.keys("q")
            h.eq("%s: q exits 0" % size, p.wait_exit(), 0)

        # -- SIGTERM ---------------------------------------------------------------
        p = Pane(h.tmux, tmpdir, top, 120, 30)
        p.wait("the first frame", lambda l: screen_parts(l) is not None)
        # KEY_RESIZE: laid out again as a fresh 80-column screen is.
        wide = table(p.capture().splitlines())[0].split()
        h.tmux.run("resize-window", "-t", p.name, "-x", "80", "-y", "24")
        lines = p.wait("resized to 80 columns", lambda l: len(l) == 24 and table(l)[0] is not None
                       and table(l)[0].split() != wide)
        h.eq("resized from 120 to 80: the columns of an 80-column screen", table(lines)[0].split(),
             cols80)
        h.check("resized: nothing longer than 80 columns",
                all(len(x) <= 80 for x in p.capture(join=True).splitlines()))
        pid = p.netacct_pid()
        if h.check("SIGTERM: netacct's pid found", pid is not None):
            os.kill(pid, signal.SIGTERM)
            h.eq("SIGTERM: netacct exits with status 0", p.wait_exit(), 0)
            check_restored(h, p, "SIGTERM")

        # -- --iterations ends the interactive view too ----------------------------
        t0 = time.monotonic()
        p = Pane(h.tmux, tmpdir, top + " -n 2", 120, 30)
        h.eq("-n 2: exits by itself with status 0", p.wait_exit(timeout=10), 0)
        h.between("-n 2: after about two frames and the last one's interval (s)",
                  time.monotonic() - t0, 2 * INTERVAL, 8)
        check_restored(h, p, "-n 2")

        # -- 400 columns: wider than any line buffer of the view -----------------
        # The bottom bar was built in a 256-byte buffer, padded to the width:
        # past 256 columns it wrote beyond it (ASan: stack-buffer-overflow).
        p = Pane(h.tmux, tmpdir, top, 400, 30)
        # The bar's right end (the row count) is painted last: wait for it too.
        lines = p.wait("the rows", lambda l: (table(l)[0] is not None and len(table(l)[1]) >= 2 and
                                              l[-1].rstrip().endswith(" rows")))
        esc = p.capture(escapes=True).splitlines()
        bar = reverse_text(esc[-1], mask=True) if esc else ""
        h.check("400 columns: the bottom bar has the keys and the row count",
                " q quit" in lines[-1] and lines[-1].rstrip().endswith(" rows"), lines[-1])
        # (capture-pane leaves out the blank that ends the bar)
        h.check("400 columns: the bar is in reverse video across the width (but the last column)",
                len(bar) >= 398 and bar == "#" * len(bar), "%d cells: %r" % (len(bar), bar.replace("#" * 40, "#40 ")))
        p.keys("q")
        h.eq("400 columns: q exits 0", p.wait_exit(), 0)


def check_fits(h, p, size, width):
    """Nothing wraps: capture -J joins wrapped lines, so none may be longer than the pane."""
    joined = p.capture(join=True).splitlines()
    h.check("%s: no wrapped line (capture -J: none longer than %d)" % (size, width),
            all(len(x) <= width for x in joined), repr([x for x in joined if len(x) > width]))


def parse_size(text):
    m = re.fullmatch(r"([\d.]+) (B|KiB|MiB|GiB)", text.strip())
    if not m:
        raise na.HarnessError("not a size: %r" % text)
    return float(m.group(1)) * UNITS[m.group(2)]


def check_80_totals(h, p, by_remote, done):
    """t: TX and RX (totals) take the rates' place, on the rows and the cgroup
    lines; the finished flow's client shows the 256 KiB it wrote (plus headers,
    at most 10 %), its server the same received; t again: the rates are back."""
    p.keys("t")
    lines = p.wait("80: t", lambda l: "sort TX, totals" in l[0] and table(l)[0] is not None and
                   "TX" in table(l)[0].split())
    check_fits(h, p, "80 totals", 80)
    header, rows = table(lines)
    cols = header.split()
    h.note("80x24 with t:\n%s" % "\n".join(x.rstrip() for x in lines if x.strip()))
    h.check("80, t: TX and RX in the rates' place, the rates gave way",
            "TX" in cols and "RX" in cols and "TX/s" not in cols and "RX/s" not in cols and
            cols.index("TX") == cols.index("REMOTE") + 1, repr(cols))
    h.check("80, t: every row shows TX and RX as sizes", rows and all(
        re.fullmatch(r"[\d.]+ (B|KiB|MiB|GiB)", r.get(c, "")) for r in rows for c in ("TX", "RX")),
        repr(rows))
    rows_by = {by_remote.get(r.get("REMOTE"), (0, ""))[1]: r for r in rows}
    for what, col in (("done client", "TX"), ("done server", "RX")):
        r = rows_by.get(what)
        if h.check("80, t: the %s row is shown" % what, r is not None, repr(rows)):
            h.between("80, t: %s %s: the %d bytes written, with headers" % (what, col, DONE_BYTES),
                      parse_size(r[col]), DONE_BYTES, 1.1 * DONE_BYTES)
            other = "RX" if col == "TX" else "TX"
            h.between("80, t: %s %s: ACKs only" % (what, other), parse_size(r[other]), 1,
                      0.05 * DONE_BYTES)
    _, cgs, _, _ = screen_parts(lines)
    h.check("80, t: the cgroup lines show TX and RX (sizes), not rates",
            lines[1].split()[1:3] == ["TX", "RX"] and cgs and all(
                len(re.findall(r"[\d.]+ (?:B|KiB|MiB|GiB)(?!/s)", x)) >= 2 for x in cgs),
            repr(lines[1:2] + cgs))
    p.keys("t")
    lines = p.wait("80: t again", lambda l: "sort busiest, rates" in l[0] and table(l)[0] is not None
                   and "TX/s" in table(l)[0].split())
    h.check("80, t again: TX/s and RX/s are back", {"TX/s", "RX/s"} <= set(table(lines)[0].split()) and
            "TX" not in table(lines)[0].split(), table(lines)[0])


def check_80_groups(h, p):
    """By process, cgroup, peer, unit, container, pod and peer class (g): every
    row shows the group's name and both rates."""
    for group, who in (("process", ("PID", "COMM")), ("cgroup", ("CGROUP",)), ("peer", ("REMOTE",)),
                       ("unit", ("NAME",)), ("container", ("NAME",)), ("pod", ("NAME",)),
                       ("peer-class", ("CLASS",))):
        p.keys("g")
        lines = p.wait("80: by %s" % group, lambda l: ("by %s," % group) in l[0] and
                       table(l)[0] is not None and len(table(l)[1]) > 0)
        check_fits(h, p, "80 by %s" % group, 80)
        header, rows = table(lines)
        h.check("80 by %s: columns %s, TX/s and RX/s" % (group, " ".join(who)),
                set(who + ("TX/s", "RX/s")) <= set(header.split()), header)
        h.check("80 by %s: every row has them" % group, rows and all(
            all(r.get(c) for c in who) and all(re.fullmatch(r"[\d.]+ (B|KiB|MiB)/s", r.get(c, ""))
                                               for c in ("TX/s", "RX/s")) for r in rows), repr(rows))
    p.keys("g")
    p.wait("80: by socket again", lambda l: "by socket," in l[0])


def reverse_text(esc_line, mask=False):
    """The characters of a capture-pane -e line drawn in reverse video (the
    others as blanks); with mask, "#" for every cell in reverse video, "."
    for the others."""
    out, rev, i = [], False, 0
    while i < len(esc_line):
        m = re.match(r"\x1b\[([\d;]*)m", esc_line[i:])
        if m:
            codes = [int(c) if c else 0 for c in m.group(1).split(";")]
            for c in codes:
                if c == 7:
                    rev = True
                elif c in (0, 27):
                    rev = False
            i += m.end()
            continue
        m = re.match(r"\x1b[^a-zA-Z]*[a-zA-Z]", esc_line[i:])
        if m:
            i += m.end()
            continue
        if mask:
            out.append("#" if rev else ".")
        elif rev:
            out.append(esc_line[i])
        else:
            out.append(" ")
        i += 1
    return "".join(out)


def check_restored(h, p, how):
    h.eq("%s: alternate screen off" % how, p.fmt("#{alternate_on}"), "0")
    screen = p.capture()
    h.check("%s: the TUI is gone from the pane" % how,
            "netacct top - " not in screen and " h help " not in screen, screen)
    try:
        with open(p.stty_file) as f:
            modes = f.read().split()
    except OSError as e:
        modes = ["(%s)" % e]
    h.check("%s: tty back in cooked mode (icanon echo)" % how,
            "icanon" in modes and "echo" in modes, " ".join(modes))


if __name__ == "__main__":
    main()
