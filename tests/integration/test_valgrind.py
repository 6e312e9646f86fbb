#!/usr/bin/python3
"""valgrind on the readers: export (CSV, JSON, Prometheus), status
and top --batch over an attached cgroup with live and closed TCP sockets,
each under memcheck with full leak checking: exit 0, no error, nothing
definitely or indirectly lost. tests/valgrind.supp holds the two reports
that are valgrind's own model of bpf(2) (explained there).
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
        for cmd in (["export"], ["export", "--json"], ["export", "--prometheus"], ["export", "--group-by", "process"],
                    ["status"], ["top", "--batch", "-n", "2", "-d", "0.2"]):
            p = subprocess.run(["valgrind", "--suppressions=" + SUPP, "--error-exitcode=99", "--leak-check=full",
                                "--errors-for-leak-kinds=definite,indirect", h.bin, "--pin-root", h.pin_root] + cmd,
                               capture_output=True, text=True, timeout=120)
            summary = [l for l in p.stderr.splitlines() if "ERROR SUMMARY" in l]
            h.check("valgrind %s: exit 0, 0 errors, no leak" % " ".join(cmd),
                    p.returncode == 0 and summary and " 0 errors" in summary[0] and p.stdout,
                    "\n".join(p.stderr.splitlines()[-25:]))
        live.close()


if __name__ == "__main__":
    main()
