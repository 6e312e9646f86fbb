#!/usr/bin/python3
"""Concurrency: commands racing each other on one pin root.

  * two `netacct attach PATH` of the same cgroup at once, five times on
    five fresh cgroups: both exit 0, exactly one says "attached" and the
    other "already attached", and the cgroup has exactly one set of
    netacct's programs, one per hook (the pin root's lock decides);
  * readers at once: while a TCP flow runs in an attached cgroup, `top
    --batch`, repeated `export --json`, `status` and an agent's /metrics
    (scraped in a loop) all read together: every one exits 0 (or answers
    200) with no error, and afterwards the cgroup's payload equals what the
    workers wrote and read.
"""

import os
import subprocess
import sys
import threading
import time
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import na_harness as na  # noqa: E402


def netacct_progs(h, cg):
    return len([p for p in (h.bpftool_cgroup_progs(cg) or []) if p.get("name", "").startswith("na_")])


def main():
    na.main_in_tmpdir("concurrency", run, tag="conc")


def run(h, tmp):
    with h:
        # -- two attaches of one cgroup at once --------------------------------------
        ok = True
        detail = []
        for i in range(5):
            cg = h.make_cgroup()
            argv = [h.bin, "--pin-root", h.pin_root, "attach", cg.path]
            ps = [subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
                  for _ in range(2)]
            outs = [p.communicate(timeout=60) + (p.returncode,) for p in ps]
            said = sorted(o[0].strip().rsplit(": ", 1)[-1] for o in outs)
            progs = netacct_progs(h, cg)
            if [o[2] for o in outs] != [0, 0] or said != ["already attached", "attached"] or progs != na.NA_PROGS:
                ok = False
                detail.append((i, outs, progs))
        h.check("two attaches of one cgroup at once (x5): both exit 0, one attached, one 'already "
                "attached', one set of %d programs" % na.NA_PROGS, ok, repr(detail[:2]))

        # -- readers at once, during traffic -------------------------------------------------
        A = h.make_cgroup()
        h.attach(A)
        port = na.free_port()
        conf = os.path.join(tmp, "netacct.conf")
        with open(conf, "w") as f:
            f.write("attach %s\nlisten 127.0.0.1:%d\nlog-file none\n" % (A.path, port))
        agent = subprocess.Popen([h.bin, "--pin-root", h.pin_root, "agent", "--config", conf],
                                 stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        h.workers.append(na.Worker(agent, "agent"))
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                urllib.request.urlopen("http://127.0.0.1:%d/metrics" % port, timeout=2).read()
                break
            except OSError:
                time.sleep(0.1)
        errors = []
        stop = threading.Event()

        def scrape():
            n = 0
            while not stop.is_set():
                try:
                    with urllib.request.urlopen("http://127.0.0.1:%d/metrics" % port, timeout=5) as r:
                        if r.status != 200:
                            errors.append("metrics %d" % r.status)
                    n += 1
                except OSError as e:
                    errors.append("metrics: %s" % e)
            errors.append(("scrapes", n))

        def cli(*args):
            while not stop.is_set():
                p = h.netacct(*args)
                if p.returncode != 0 or p.stderr:
                    errors.append((args, p.returncode, p.stderr[-200:]))

        threads = [threading.Thread(target=scrape), threading.Thread(target=cli, args=("export", "--json")),
                   threading.Thread(target=cli, args=("status",)),
                   threading.Thread(target=cli, args=("top", "--batch", "-n", "2", "-d", "0.2"))]
        for t in threads:
            t.start()
        f = na.TcpFlow(h, 4, "rr", (300,), (300,), A, A, "flow")
        f.wait_done()
        sent = f.cdone["sent"] + f.sdone["sent"]
        f.close()
        stop.set()
        for t in threads:
            t.join(timeout=60)
        scrapes = [e for e in errors if isinstance(e, tuple) and e[0] == "scrapes"]
        real = [e for e in errors if not (isinstance(e, tuple) and e[0] == "scrapes")]
        h.check("readers at once (top, export, status, agent /metrics) during traffic: no error",
                not real and scrapes and scrapes[0][1] > 0, repr((real[:3], scrapes)))
        row = h.export().cgroup(A)
        h.eq("... and the cgroup's payload == what the workers wrote and read",
             (row["tx_payload_bytes"], row["rx_payload_bytes"]) if row else None, (sent, sent))
        agent.terminate()
        h.eq("... the agent ends with exit 0", agent.wait(timeout=20), 0)


if __name__ == "__main__":
    main()
