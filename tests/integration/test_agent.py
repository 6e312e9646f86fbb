#!/usr/bin/python3
"""netacct agent: configuration, attaching by glob, /metrics, reload,
restart, one agent per pin root.

With a configuration whose attach line is a glob over the children of a
cgroup of this test's own (P/*), rescan 1 s, and a free loopback port:

  * bad configurations: an unknown key, a bad value, no attach line and a
    missing file each exit 1 with FILE:LINE (or the fix) in the message,
    and attach nothing;
  * the agent attaches the two cgroups the glob matches, and a third one
    made while it runs within a few rescans;
  * /metrics: promtool accepts it; after a TCP flow in cgroup A, the
    payload counters of A equal what the workers wrote and read, and the
    other cgroups' are 0; other paths answer 404;
  * a real Prometheus server (Debian's prometheus) scraping the agent on
    loopback returns the same payload bytes through its query API;
  * a second agent on the same pin root exits 1 naming the first one's pid;
  * SIGHUP with a broken configuration: the agent keeps running and
    serving, the error names the line; SIGHUP with the glob narrowed to A:
    the others are detached, A stays;
  * SIGTERM: exit 0, A stays attached; a new agent serves the same
    counters (no reset), which then grow with new traffic;
  * leaf-cgroup series equal the workers' payload; with per-process yes and
    per-process-max 1, one worker has its own series (its exact payload)
    and the other is summed under pid="other"; promtool accepts it all;
  * a reload that detaches the agent's last cgroup (the pin root goes), and
    one that attaches it again (a new pin root) before the next scrape:
    /metrics shows the new attachment's counters (a new flow's bytes alone),
    not the old maps' the agent still held; detached again: 503;
  * --detach-on-exit: SIGTERM detaches what the configuration attached;
  * the connection log: the agent follows it into log-file (one JSON line
    per socket, payloads as the workers wrote them, within a second of the
    close); with log-max-bytes 4096 and log-keep 3 and 40 connections, the
    file rotates: FILE.1.gz to FILE.3.gz exist and no FILE.4.gz, every file
    holds at most 4096 bytes, every line of every file (gunzipped) is a
    whole record, no record twice, the newest connection's records kept.
"""

import glob
import grp
import gzip
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import na_harness as na  # noqa: E402


def http_get(url, timeout=5):
    """(status, body) of a GET; (None, reason) when nothing answers."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()
    except (urllib.error.URLError, OSError) as e:
        return None, str(e)


def samples(text, name):
    """{frozenset(labels): value} of one metric family in an exposition."""
    out = {}
    for line in text.splitlines():
        m = re.match(r'^%s\{(.*)\} (\S+)$' % re.escape(name), line)
        if m:
            labels = frozenset(re.findall(r'(\w+)="((?:[^"\\]|\\.)*)"', m.group(1)))
            out[labels] = float(m.group(2))
    return out


def payload(text, cg, direction):
    v = samples(text, "netacct_bytes_total")
    return v.get(frozenset({("cgroup", cg.rel), ("direction", direction), ("part", "payload")}))


class Agent:
    def __init__(self, h, conf, port, *extra):
        self.h, self.port = h, port
        self.err = tempfile.TemporaryFile()
        self.p = subprocess.Popen([h.bin, "--pin-root", h.pin_root, "agent", "--config", conf] + list(extra),
                                  stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=self.err)
        h.workers.append(na.Worker(self.p, "agent"))  # killed by the harness's cleanup

    def url(self, path="/metrics"):
        return "http://127.0.0.1:%d%s" % (self.port, path)

    def wait_serving(self, timeout=10):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.p.poll() is not None:
                raise na.HarnessError("agent exited (%s): %s" % (self.p.returncode, self.log()))
            st, body = http_get(self.url(), timeout=2)
            if st == 200:
                return body
            time.sleep(0.1)
        raise na.HarnessError("agent never served /metrics: %s" % self.log())

    def metrics(self):
        st, body = http_get(self.url())
        if st != 200:
            raise na.HarnessError("GET /metrics: %s %s" % (st, body[:200]))
        return body

    def log(self):
        self.err.seek(0)
        return self.err.read().decode(errors="replace")

    def stop(self, sig=signal.SIGTERM):
        self.p.send_signal(sig)
        return self.p.wait(timeout=20)


def write(path, text):
    with open(path, "w") as f:
        f.write(text)


def attached_ids(h):
    p = h.netacct("status", "--json")
    if p.returncode != 0:
        return set()
    return {a["cgroup_id"] for a in json.loads(p.stdout)["attached"]}


def wait_until(pred, timeout):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if pred():
            return True
        time.sleep(0.1)
    return pred()


def prometheus_query(h, tmp, agent_port, query, want, timeout=40):
    """Start a Prometheus server scraping the agent every second; wait until
    query returns want (or timeout); returns the last value seen."""
    web = na.free_port()
    cfg = os.path.join(tmp, "prometheus.yml")
    write(cfg, "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n"
               "scrape_configs:\n  - job_name: netacct\n    static_configs:\n"
               "      - targets: ['127.0.0.1:%d']\n" % agent_port)
    p = subprocess.Popen(["prometheus", "--config.file=" + cfg,
                          "--storage.tsdb.path=" + os.path.join(tmp, "tsdb"),
                          "--web.listen-address=127.0.0.1:%d" % web],
                         stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                         stderr=subprocess.DEVNULL)
    h.workers.append(na.Worker(p, "prometheus"))
    last = None
    try:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            st, body = http_get("http://127.0.0.1:%d/api/v1/query?query=%s"
                                % (web, urllib.parse.quote(query)), timeout=2)
            if st == 200:
                res = json.loads(body)["data"]["result"]
                if res:
                    last = float(res[0]["value"][1])
                    if last == want:
                        return last
            time.sleep(0.5)
        return last
    finally:
        p.terminate()
        p.wait(timeout=20)


CHURN = r"""
import os, socket, sys
open(sys.argv[1] + "/cgroup.procs", "w").write(str(os.getpid()))
ls = socket.socket(); ls.bind(("127.0.0.1", 0)); ls.listen(64)
ports = []
for i in range(int(sys.argv[2])):
    c = socket.create_connection(ls.getsockname()); s, _ = ls.accept()
    c.sendall(b"x" * 100); s.recv(100); s.sendall(b"y" * 100); c.recv(100)
    ports.append(c.getsockname()[1])
    c.close(); s.close()
ls.close()
print(ports[-1])
"""


def log_lines(path):
    """Lines of a log file or of its gzip-compressed rotation."""
    op = gzip.open if path.endswith(".gz") else open
    with op(path, "rt") as f:
        return f.read().splitlines()


def main():
    h = na.Harness("agent")
    run(h, h.make_tmpdir("agent-"), h.agent_lock)


def run(h, tmp, lock):
    with h:
        for tool in ("promtool", "prometheus"):
            if not shutil.which(tool):
                h.skip("%s not found (Debian: apt-get install prometheus)" % tool)
        # The glob matches the children of a parent cgroup of this test's own.
        P = h.make_cgroup()
        A = h.make_cgroup(P)
        B = h.make_cgroup(P)
        pattern = P.path + "/*"
        conf = os.path.join(tmp, "netacct.conf")
        port = na.free_port()
        group = 64250
        while True:  # a group number no group on this host uses
            try:
                grp.getgrgid(group)
                group += 1
            except KeyError:
                break

        # -- bad configurations -------------------------------------------------
        cases = [
            ("unknown key", "attach %s\nfrobnicate 3\n" % pattern, ":2: frobnicate: unknown key"),
            ("bad value", "# comment\nattach %s\nrescan 0\n" % pattern, ":3: rescan: takes seconds"),
            ("relative path", "attach cgroup/x\n", ":1: attach: takes an absolute"),
            ("no attach line", "rescan 5\n", "no attach line"),
        ]
        for what, text, msg in cases:
            write(conf, text)
            p = h.netacct("agent", "--config", conf)
            h.check("bad configuration (%s): exit 1, the message names the line" % what,
                    p.returncode == 1 and (conf + msg if msg.startswith(":") else msg) in p.stderr,
                    repr((p.returncode, p.stderr)))
        p = h.netacct("agent", "--config", os.path.join(tmp, "missing.conf"))
        h.check("missing configuration: exit 1, names the file and the fix",
                p.returncode == 1 and "missing.conf" in p.stderr and "--config" in p.stderr,
                repr(p.stderr))
        h.eq("bad configurations attached nothing", attached_ids(h), set())

        # -- start: the glob's cgroups are attached, /metrics is served --------
        logf = os.path.join(tmp, "log", "conn.jsonl")
        logconf = "log-file %s\nlog-max-bytes 4096\nlog-keep 3\n" % logf
        write(conf, "# netacct agent test\nattach %s   # every test cgroup\nrescan 1\n"
                    "listen 127.0.0.1:%d\n%sper-process yes\nper-process-max 1\ngroup %d\n"
                    % (pattern, port, logconf, group))
        ag = Agent(h, conf, port)
        body = ag.wait_serving()
        h.eq("agent attached the glob's cgroups", attached_ids(h), {A.id, B.id})
        st = {n: os.stat(os.path.join(h.pin_root, n)) for n in ("na_meta", "na_log")}
        h.eq("group in the config: maps 0640 with the group, and na_log 0640 too (the agent follows it)",
             {n: (oct(v.st_mode & 0o7777), v.st_gid) for n, v in st.items()},
             {n: (oct(0o640), group) for n in st})
        h.eq("... and the agent's lock file names it", os.path.exists(lock), True)
        r = subprocess.run(["promtool", "check", "metrics"], input=body, capture_output=True,
                           text=True, timeout=30)
        h.check("promtool check metrics accepts /metrics", r.returncode == 0,
                (r.stdout + r.stderr)[:500])
        st, _ = http_get(ag.url("/other"))
        h.eq("a path other than /metrics: 404", st, 404)

        C = h.make_cgroup(P)
        h.check("a cgroup made while the agent runs is attached within a few rescans",
                wait_until(lambda: C.id in attached_ids(h), 6), repr(attached_ids(h)))

        # -- exact bytes on /metrics ---------------------------------------------
        f = na.TcpFlow(h, 4, "rr", (20,), (20,), A, A, "flow")
        f.wait_done()
        sent = f.cdone["sent"] + f.sdone["sent"]
        f.close()
        text = ag.metrics()
        h.eq("/metrics: A's tx and rx payload == what the workers wrote and read",
             (payload(text, A, "tx"), payload(text, A, "rx")), (sent, sent))
        h.eq("/metrics: B's payload is 0", (payload(text, B, "tx"), payload(text, B, "rx")), (0, 0))
        leaf = samples(text, "netacct_leaf_cgroup_bytes_total")
        h.eq("/metrics: leaf cgroup A's tx and rx payload == what the workers wrote and read",
             [leaf.get(frozenset({("cgroup", A.rel), ("direction", dr), ("part", "payload")}))
              for dr in ("tx", "rx")], [sent, sent])
        procs = {dict(k)["pid"]: v for k, v in samples(text, "netacct_process_payload_bytes_total").items()
                 if dict(k)["cgroup"] == A.rel and dict(k)["direction"] == "tx"}
        named = [p_ for p_ in procs if p_ != "other"]
        h.check("/metrics, per-process-max 1: one worker has its series, the other is under pid=\"other\"",
                len(named) == 1 and "other" in procs and
                int(named[0]) in (f.client.pid, f.server.pid), repr(procs))
        h.eq("... and the two sum to the payload the workers wrote", sum(procs.values()), sent)
        mine = {f.client.pid: f.cdone["sent"], f.server.pid: f.sdone["sent"]}
        h.eq("... the named worker's series is its own payload",
             procs.get(named[0]) if named else None, mine.get(int(named[0])) if named else 0)
        r = subprocess.run(["promtool", "check", "metrics"], input=text, capture_output=True,
                           text=True, timeout=30)
        h.check("promtool accepts /metrics with the leaf and process families", r.returncode == 0,
                (r.stdout + r.stderr)[:500])
        h.check("log file: one line per socket within a second of the close",
                wait_until(lambda: os.path.exists(logf) and len(log_lines(logf)) == 3, 1.5),
                repr(os.path.exists(logf) and log_lines(logf)))
        recs = [json.loads(l) for l in log_lines(logf)] if os.path.exists(logf) else []
        h.eq("log file: payloads as the workers wrote them (listener, client, server)",
             sorted(r["tx_payload_bytes"] for r in recs), sorted([0, f.cdone["sent"], f.sdone["sent"]]))
        p = h.netacct("log", "--json")
        h.eq("... and `netacct log` finds them consumed", (p.returncode, p.stdout), (0, ""))

        # -- a real Prometheus server -------------------------------------------
        q = 'netacct_bytes_total{cgroup="%s",direction="tx",part="payload"}' % A.rel
        got = prometheus_query(h, tmp, port, q, float(sent))
        h.eq("Prometheus scraped the agent: PromQL returns A's payload bytes", got, float(sent))

        # -- one agent per pin root ----------------------------------------------
        p = h.netacct("agent", "--config", conf, "--listen", "127.0.0.1:%d" % na.free_port())
        h.check("a second agent on the pin root: exit 1, names the first one's pid",
                p.returncode == 1 and "another agent" in p.stderr and str(ag.p.pid) in p.stderr,
                repr(p.stderr))

        # -- reload ---------------------------------------------------------------
        write(conf, "attach %s\nrescan one\n" % pattern)
        ag.p.send_signal(signal.SIGHUP)
        h.check("SIGHUP with a broken configuration: the error names the line",
                wait_until(lambda: conf + ":2: rescan" in ag.log(), 5), ag.log()[-500:])
        h.check("... and the agent keeps running and serving",
                ag.p.poll() is None and payload(ag.metrics(), A, "tx") == sent)
        h.eq("... with the same cgroups attached", attached_ids(h), {A.id, B.id, C.id})
        write(conf, "attach %s\nrescan 1\nlisten 127.0.0.1:%d\n%s" % (A.path, port, logconf))
        ag.p.send_signal(signal.SIGHUP)
        h.check("SIGHUP with the glob narrowed to A: B and C are detached, A stays",
                wait_until(lambda: attached_ids(h) == {A.id}, 5), repr(attached_ids(h)))

        # -- restart: no reset ----------------------------------------------------
        h.eq("SIGTERM: exit 0", ag.stop(), 0)
        h.eq("... A still attached", attached_ids(h), {A.id})
        ag = Agent(h, conf, port)
        text = ag.wait_serving()
        h.eq("restarted agent: the same counters (no reset)",
             (payload(text, A, "tx"), payload(text, A, "rx")), (sent, sent))
        f = na.TcpFlow(h, 6, "rr", (5,), (5,), A, A, "flow 2")
        f.wait_done()
        more = f.cdone["sent"] + f.sdone["sent"]
        f.close()
        h.eq("restarted agent: counters grow by the new flow's bytes", payload(ag.metrics(), A, "tx"),
             sent + more)
        h.check("restarted agent: the log file goes on (the first flow's 3 lines, then the new one's 3)",
                wait_until(lambda: len(log_lines(logf)) == 6, 2), repr(len(log_lines(logf))))

        # -- the log rotates -----------------------------------------------------
        r = subprocess.run(["/usr/bin/python3", "-c", CHURN, A.path, "40"], capture_output=True,
                           text=True, timeout=60)
        if r.returncode != 0:
            raise na.HarnessError("churn: %s" % r.stderr)
        last_port = int(r.stdout)
        files = [logf] + ["%s.%d.gz" % (logf, k) for k in (1, 2, 3)]

        def settled():
            """The last connection's two records written: nothing more comes, no more rotation."""
            try:
                lines = log_lines(logf) + log_lines(files[1]) + log_lines(files[3])
            except (OSError, EOFError):  # a rotation under way
                return False
            return sum(1 for l in lines if '"lport":%d,' % last_port in l or
                       '"rport":%d,' % last_port in l) == 2
        h.check("log rotated: FILE.1.gz .. FILE.3.gz exist",
                wait_until(settled, 5), repr(sorted(glob.glob(logf + "*"))))
        h.eq("... and no FILE.4.gz (log-keep 3)", os.path.exists(logf + ".4.gz"), False)
        h.eq("... no temporary file left", glob.glob(logf + "*.tmp"), [])
        sizes = {x: sum(len(l) + 1 for l in log_lines(x)) for x in files if os.path.exists(x)}
        h.check("... every file holds at most 4096 bytes (gunzipped)",
                all(v <= 4096 for v in sizes.values()), repr(sizes))
        allrecs, bad = [], []
        for x in files:
            for l in log_lines(x) if os.path.exists(x) else []:
                try:
                    allrecs.append(json.loads(l))
                except ValueError:
                    bad.append(l[:80])
        h.eq("... every line a whole JSON record", bad, [])
        cookies = [r["cookie"] for r in allrecs]
        h.eq("... no record twice", len(set(cookies)), len(cookies))
        h.check("... the newest connection's two records kept",
                sum(1 for r in allrecs if last_port in (r["lport"], r["rport"])) == 2,
                repr(last_port))
        h.eq("SIGTERM: exit 0", ag.stop(), 0)

        # -- the pin root made anew while the agent runs ----------------------------
        # The agent keeps the pinned state open from scrape to scrape: once its last
        # cgroup is detached (the pin root goes) and attached again (new maps), it must
        # read the new maps, not the old ones it still holds.
        ag = Agent(h, conf, port)
        ag.wait_serving()
        write(conf, "attach %s/none-*\nrescan 1\nlisten 127.0.0.1:%d\n" % (P.path, port))
        ag.p.send_signal(signal.SIGHUP)
        h.check("pin root anew: the agent's cgroups detached by a reload, the pin root gone",
                wait_until(lambda: not os.path.exists(os.path.join(h.pin_root, "na_meta")), 5),
                repr(attached_ids(h)))
        # no scrape in between: the next one finds a pin root where its old one was
        write(conf, "attach %s\nrescan 1\nlisten 127.0.0.1:%d\n" % (A.path, port))
        ag.p.send_signal(signal.SIGHUP)
        h.check("... A attached again by the next reload (a new pin root)",
                wait_until(lambda: attached_ids(h) == {A.id}, 5), repr(attached_ids(h)))
        f = na.TcpFlow(h, 4, "rr", (7,), (7,), A, A, "flow 3")
        f.wait_done()
        fresh = f.cdone["sent"] + f.sdone["sent"]
        f.close()
        h.eq("... /metrics: A's tx payload is the new attachment's (the new flow's bytes alone)",
             payload(ag.metrics(), A, "tx"), fresh)
        write(conf, "attach %s/none-*\nrescan 1\nlisten 127.0.0.1:%d\n" % (P.path, port))
        ag.p.send_signal(signal.SIGHUP)
        h.check("... detached again by a reload", wait_until(lambda: attached_ids(h) == set(), 5),
                repr(attached_ids(h)))
        st, _ = http_get(ag.url())
        h.eq("... /metrics answers 503 (nothing attached)", st, 503)
        h.eq("SIGTERM: exit 0", ag.stop(), 0)
        write(conf, "attach %s\nrescan 1\nlisten 127.0.0.1:%d\n%s" % (A.path, port, logconf))

        # -- --detach-on-exit -----------------------------------------------------
        ag = Agent(h, conf, port, "--detach-on-exit")
        ag.wait_serving()
        h.eq("--detach-on-exit, SIGTERM: exit 0", ag.stop(), 0)
        h.eq("... and A is detached", attached_ids(h), set())


if __name__ == "__main__":
    main()
