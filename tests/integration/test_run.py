#!/usr/bin/python3
"""netacct run: a network bill for one command.

All runs make their cgroup under a parent cgroup of this test (--parent):

  * a command that exchanges 100 and 200 bytes over TCP with itself and
    exits 3: exit status 3, its stdout passed through, the JSON summary on
    stderr says 300 payload bytes each way in all, for tcp, and for the peer
    127.0.0.1, with 3 sockets (client, server, listener); the cgroup is gone
    and nothing stays attached;
  * a command whose forked child does the exchange: the child's bytes count;
  * stdin reaches the command (cat);
  * a command killed by SIGTERM sent to netacct (forwarded): exit 143, the
    summary is printed, the cgroup is gone;
  * a command that does not exist: exit 127, the cgroup is gone;
  * --keep: the cgroup stays, attached.
"""

import json
import os
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import na_harness as na  # noqa: E402

EXCHANGE = na.LOOPBACK_EXCHANGE + r"""
import os, sys
def exchange_closed():
    s, c, a = exchange()
    c.close(); a.close(); s.close()
if sys.argv[1] == "fork":
    pid = os.fork()
    if pid == 0:
        exchange_closed()
        os._exit(0)
    os.waitpid(pid, 0)
else:
    exchange_closed()
print("hello from the command")
sys.exit(int(sys.argv[2]))
"""


def run(h, parent, name, *cmd, extra=(), stdin=None):
    argv = [h.bin, "--pin-root", h.pin_root, "run", "--parent", parent.path, "--name", name] + \
        list(extra) + ["--"] + list(cmd)
    return subprocess.run(argv, capture_output=True, text=True, timeout=60, input=stdin)


def bills(stderr):
    return [json.loads(l) for l in stderr.splitlines() if l.startswith("{")]


def main():
    h = na.Harness("run")
    with h:
        P = h.make_cgroup()

        p = run(h, P, "one", "/usr/bin/python3", "-c", EXCHANGE, "plain", "3", extra=("--json",))
        h.eq("run: exit status is the command's (3)", p.returncode, 3)
        h.eq("run: the command's stdout passes through", p.stdout, "hello from the command\n")
        b = bills(p.stderr)
        total = [x for x in b if x["kind"] == "total"]
        tcp = [x for x in b if x["kind"] == "proto" and x["proto"] == "tcp"]
        peer = [x for x in b if x["kind"] == "peer" and x["peer"] == "127.0.0.1"]
        h.eq("run --json: total payload 300 each way (100 + 200 written, both ends in the cgroup)",
             [(x["tx_payload_bytes"], x["rx_payload_bytes"]) for x in total], [(300, 300)])
        h.eq("... tcp: 3 sockets (client, server, listener), 300 each way",
             [(x["conns"], x["tx_payload_bytes"], x["rx_payload_bytes"]) for x in tcp], [(3, 300, 300)])
        h.eq("... peer 127.0.0.1: the connected pair, 300 each way",
             [(x["conns"], x["tx_payload_bytes"], x["rx_payload_bytes"]) for x in peer], [(2, 300, 300)])
        h.check("... packets and header bytes are there too",
                total and total[0]["tx_packets"] > 0 and total[0]["tx_ip_hdr_bytes"] == 20 * total[0]["tx_packets"],
                repr(total))
        h.eq("run: its cgroup is removed", os.path.exists(os.path.join(P.path, "one")), False)
        p2 = h.netacct("status")
        h.eq("run: nothing stays attached", p2.returncode, 1)

        p = run(h, P, "fork", "/usr/bin/python3", "-c", EXCHANGE, "fork", "0", extra=("--json",))
        total = [x for x in bills(p.stderr) if x["kind"] == "total"]
        h.eq("run of a command whose forked child does the exchange: exit 0, the child's 300 bytes count",
             (p.returncode, [(x["tx_payload_bytes"], x["rx_payload_bytes"]) for x in total]), (0, [(300, 300)]))

        p = run(h, P, "cat", "cat", stdin="abc\n")
        h.check("run: stdin reaches the command, the text summary goes to stderr",
                p.returncode == 0 and p.stdout == "abc\n" and "exited with status 0" in p.stderr and
                "PAYLOAD" in p.stderr, repr(p))

        q = subprocess.Popen([h.bin, "--pin-root", h.pin_root, "run", "--parent", P.path, "--name", "term", "--",
                              "sleep", "30"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        h.workers.append(na.Worker(q, "run sleep"))
        cgdir = os.path.join(P.path, "term")
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and not (os.path.exists(cgdir) and open(os.path.join(cgdir, "cgroup.procs")).read()):
            time.sleep(0.05)
        q.send_signal(signal.SIGTERM)
        out, err = q.communicate(timeout=20)
        h.check("SIGTERM to netacct run: forwarded, exit 143 (128 + 15), the summary printed",
                q.returncode == 143 and "ended by signal 15" in err and "PAYLOAD" in err, repr((q.returncode, err)))
        h.eq("... and its cgroup is removed", os.path.exists(cgdir), False)

        p = run(h, P, "nothere", "/nonexistent/command")
        h.check("a command that does not exist: exit 127, a message, the cgroup removed",
                p.returncode == 127 and "/nonexistent/command" in p.stderr and
                not os.path.exists(os.path.join(P.path, "nothere")), repr(p))

        p = run(h, P, "kept", "true", extra=("--keep",))
        kept = os.path.join(P.path, "kept")
        try:
            st = h.netacct("status", "--json")
            h.check("--keep: the cgroup stays, attached",
                    p.returncode == 0 and os.path.isdir(kept) and st.returncode == 0 and
                    any(a["cgroup"].endswith("/kept") for a in json.loads(st.stdout)["attached"]), repr(p))
        finally:
            h.netacct("detach", kept)
            if os.path.isdir(kept):
                os.rmdir(kept)


if __name__ == "__main__":
    main()
