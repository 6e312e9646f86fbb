#!/usr/bin/python3
"""netacct doctor: every check, and the failures it must name.

  * on this host, as root, nothing attached: exit 0, one line per check
    (kernel, btf, bpf types, cgroup2, net_cls/net_prio, bpffs,
    capabilities, pinned state, agent), none FAIL; --json says the same;
  * a target cgroup with netacct attached: ok, its programs allow
    multi-attach; the pinned state's ABI is named;
  * a target cgroup with a program attached without multi-attach (bpftool,
    an empty program): FAIL naming the hook and the fix, exit 1, and
    `netacct attach` there indeed fails; once that program is detached:
    exit 0 and attach works;
  * pinned state of another ABI version: FAIL with `detach --all`, exit 1;
  * as another uid without capabilities: capabilities and bpf types warn
    (not probed), exit 0.
"""

import json
import os
import shutil
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import na_harness as na  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
CHECKS = ["kernel", "btf", "bpf types", "cgroup2", "net_cls/net_prio", "bpffs", "capabilities",
          "pinned state", "agent"]


def lines(out):
    """{check: status} of doctor's text output (fix lines skipped)."""
    got = {}
    for l in out.splitlines():
        if l.startswith(" "):
            continue
        status, rest = l[:4].strip(), l[6:]
        got[rest[:16].strip()] = status
    return got


def main():
    na.main_in_tmpdir("doctor", run)


def run(h, tmp):
    with h:
        tool = shutil.which("bpftool") or "/usr/sbin/bpftool"
        if not (os.path.exists(tool) and shutil.which("clang") and shutil.which("setpriv")):
            h.skip("bpftool, clang or setpriv missing")

        # -- this host ----------------------------------------------------------------
        p = h.netacct("doctor")
        got = lines(p.stdout)
        h.eq("doctor: exit 0 on this host", (p.returncode, p.stderr), (0, ""))
        h.eq("doctor: one line per check, in order", list(got), CHECKS)
        h.check("doctor: no check fails", all(v in ("ok", "warn") for v in got.values()), repr(got))
        p = h.netacct("doctor", "--json")
        js = json.loads(p.stdout) if p.returncode == 0 else []
        h.eq("doctor --json: the same checks and statuses",
             [(c["check"], c["status"]) for c in js], [(k, v) for k, v in got.items()])

        # -- targets -------------------------------------------------------------------
        A = h.make_cgroup()
        B = h.make_cgroup()
        h.attach(A)
        p = h.netacct("doctor", A.path)
        got = lines(p.stdout)
        h.check("target with netacct attached: ok (its programs allow multi-attach)",
                p.returncode == 0 and got.get("target") == "ok" and "multi-attach" in p.stdout,
                p.stdout[-600:])
        h.check("pinned state: names the ABI", "ABI %d" % na.ABI_VERSION in p.stdout, p.stdout)

        obj = os.path.join(tmp, "empty.bpf.o")
        multiarch = subprocess.run(["cc", "-dumpmachine"], capture_output=True, text=True).stdout.strip()
        subprocess.run(["clang", "-O2", "-target", "bpf", "-I/usr/include/" + multiarch, "-c",
                        os.path.join(os.path.dirname(HERE), "bench", "empty.bpf.c"), "-o", obj],
                       check=True, capture_output=True, timeout=60)
        pins = h.pin_root + "-excl"
        try:
            subprocess.run([tool, "prog", "loadall", obj, pins], check=True, capture_output=True, timeout=60)
            subprocess.run([tool, "cgroup", "attach", B.path, "egress", "pinned",
                            os.path.join(pins, "empty_egress")], check=True, capture_output=True, timeout=30)
            p = h.netacct("doctor", B.path)
            got = lines(p.stdout)
            h.check("a program attached without multi-attach: FAIL naming the hook and the fix, exit 1",
                    p.returncode == 1 and got.get("target") == "FAIL" and "egress" in p.stdout and
                    "multi" in p.stdout and "bpftool cgroup show" in p.stdout, p.stdout[-600:])
            a = h.netacct("attach", B.path)
            h.eq("... and netacct attach there indeed fails", a.returncode, 1)
            h.check("... saying what doctor says: the hook held without multi-attach, and the fix",
                    "egress" in a.stderr and "without multi-attach" in a.stderr and
                    "bpftool cgroup show" in a.stderr and "CAP_NET_ADMIN" not in a.stderr, repr(a.stderr))
            h.eq("... and leaving nothing attached to B (netacct's programs)",
                 [x for x in h.bpftool_cgroup_progs(B) if x.get("name", "").startswith("na_")], [])
            subprocess.run([tool, "cgroup", "detach", B.path, "egress", "pinned",
                            os.path.join(pins, "empty_egress")], check=True, capture_output=True, timeout=30)
            p = h.netacct("doctor", B.path)
            h.check("program detached: exit 0, target ok", p.returncode == 0 and lines(p.stdout).get("target") == "ok",
                    p.stdout[-400:])
            h.eq("... and attach works", h.netacct("attach", B.path).returncode, 0)
        finally:
            subprocess.run([tool, "cgroup", "detach", B.path, "egress", "pinned",
                            os.path.join(pins, "empty_egress")], capture_output=True, timeout=30)
            shutil.rmtree(pins, ignore_errors=True)

        # -- pinned state of another ABI -------------------------------------------------
        other = h.pin_root + "-abi"
        try:
            os.mkdir(other)
            meta = os.path.join(other, "na_meta")
            subprocess.run([tool, "map", "create", meta, "type", "array", "key", "4", "value", "32",
                            "entries", "1", "name", "na_meta"], check=True, capture_output=True, timeout=30)
            subprocess.run([tool, "map", "update", "pinned", meta, "key", "0", "0", "0", "0", "value", "1"]
                           + ["0"] * 31, check=True, capture_output=True, timeout=30)
            p = subprocess.run([h.bin, "--pin-root", other, "doctor"], capture_output=True, text=True,
                               timeout=60)
            h.check("pinned state of another ABI: FAIL with the fix (detach --all), exit 1",
                    p.returncode == 1 and lines(p.stdout).get("pinned state") == "FAIL" and
                    "detach --all" in p.stdout, p.stdout[-500:])
        finally:
            shutil.rmtree(other, ignore_errors=True)

        # -- without capabilities -------------------------------------------------------
        os.chmod(tmp, 0o755)
        binary = os.path.join(tmp, "netacct")
        shutil.copy2(h.bin, binary)
        os.chmod(binary, 0o755)
        p = subprocess.run(["setpriv", "--reuid", "64399", "--regid", "64399", "--clear-groups", binary,
                            "--pin-root", h.pin_root, "doctor"], capture_output=True, text=True, timeout=60)
        got = lines(p.stdout)
        h.check("without capabilities: capabilities and bpf types warn, exit 0",
                p.returncode == 0 and got.get("capabilities") == "warn" and got.get("bpf types") == "warn",
                repr((p.returncode, got, p.stderr[-300:])))


if __name__ == "__main__":
    main()
