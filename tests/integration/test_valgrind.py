#!/usr/bin/python3
"""valgrind on the readers: export (CSV, JSON, Prometheus), status
and top --batch over an attached cgroup with live and closed TCP sockets,
each under memcheck with full leak checking: exit 0, no error, nothing
definitely or indirectly lost; export and top again with the rows read by
the readers' walk (NETACCT_READ=walk: the program, its buffers, two held
by top). tests/valgrind.supp holds the reports that are valgrind's own
model of bpf(2) (explained there).
"""

import os
import shutil
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import na_harness as na  # noqa: E402

SUPP = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "valgrind.supp")


def main():
    h = na.Harness("valgrind")
    with h:
        if not shutil.which("valgrind"):
            h.skip("valgrind not found (Debian: apt-get install valgrind)")
        A = h.make_cgroup()
        h.attach(A)
        closed = na.TcpFlow(h, 4, "rr", (20,), (20,), A, A, "closed")
        closed.wait_done()
        closed.close()
        live = na.TcpFlow(h, 6, "rr", (20,), (20,), A, A, "live")
        live.wait_done()
        # The rows read in batches (what tables this small get), then by the readers' walk.
        for read, cmd in [("batch", c) for c in (["export"], ["export", "--json"], ["export", "--prometheus"],
                                                  ["export", "--group-by", "process"], ["status"],
                                                  ["top", "--batch", "-n", "2", "-d", "0.2"])] + \
                         [("walk", c) for c in (["export"], ["top", "--batch", "-n", "3", "-d", "0.2"])]:
            p = subprocess.run(["valgrind", "--suppressions=" + SUPP, "--error-exitcode=99", "--leak-check=full",
                                "--errors-for-leak-kinds=definite,indirect", h.bin, "--pin-root", h.pin_root] + cmd,
                               capture_output=True, text=True, timeout=120,
                               env=dict(os.environ, NETACCT_READ=read))
            summary = [l for l in p.stderr.splitlines() if "ERROR SUMMARY" in l]
            h.check("valgrind %s%s: exit 0, 0 errors, no leak" % (" ".join(cmd), " (walk)" if read == "walk" else ""),
                    p.returncode == 0 and summary and " 0 errors" in summary[0] and p.stdout,
                    "\n".join(p.stderr.splitlines()[-25:]))
        live.close()


if __name__ == "__main__":
    main()
