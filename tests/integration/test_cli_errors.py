#!/usr/bin/python3
"""The CLI as a user runs it: bad input, missing privilege, foreign state.

Every refusal is checked for: the exit status (1 failure, 2 usage), a
message on stderr that starts with "netacct: " and names the problem,
nothing on stdout, and no pinned state left behind (the test's pin root
does not exist afterwards unless something was legitimately attached).

  * attach: missing path, regular file, a cgroup v1 hierarchy's root (read
    only: it must be refused before anything is touched), a directory on no
    cgroup2 mount, no PATH, bad option, --max-sockets 0/abc/15/-1, a pin
    root that is not on bpffs;
  * unknown command, bad global option, help for an unknown command,
    status with an argument, detach --all with a PATH;
  * nothing attached: detach PATH, detach --all, export, status, top;
  * attach the same path twice (exit 0, "already attached", programs not
    doubled); attach a valid and an invalid path in either order (the valid
    one is attached, the invalid one reported, exit 1);
  * detach of an unattached path while another is attached (exit 1, the
    other stays attached);
  * without privilege (setpriv to nobody, no capabilities): attach names
    the missing capabilities and pins nothing; export/status/detach --all
    of an attached state fail with "Permission denied" and change nothing;
  * na_meta of another size: export and attach refuse ("another layout"),
    naming the version when it is another one's ("ABI version 1");
  * pinned state of another ABI (na_meta replaced by one saying 999):
    export/status/detach PATH/attach refuse, naming the version and the fix
    (detach --all); the refused attach leaves that state alone; detach
    --all then removes everything (no program left on the cgroup);
  * a pin root holding somebody else's pins (no na_meta): attach and export
    refuse, and the foreign pins are left alone.
"""

import json
import os
import time
import shutil
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import na_harness as na  # noqa: E402

NOBODY = 65534
NA_PROGS = na.NA_PROGS


def cgroup_v1_root():
    """Mount point of a cgroup v1 hierarchy mounted at its root, or None."""
    with open("/proc/self/mountinfo") as f:
        for line in f:
            pre, sep, post = line.partition(" - ")
            fields, post = pre.split(), post.split()
            if sep and post and post[0] == "cgroup" and len(fields) >= 5 and fields[3] == "/":
                return na._unescape_mountinfo(fields[4])
    return None


class Cli:
    def __init__(self, h, tmp):
        self.h = h
        # A copy any user can execute, for the unprivileged runs.
        self.nobody_bin = os.path.join(tmp, "netacct")
        shutil.copy2(h.bin, self.nobody_bin)
        os.chmod(tmp, 0o755)
        os.chmod(self.nobody_bin, 0o755)

    def run(self, *args, nobody=False, pin_root=None):
        root = pin_root or self.h.pin_root
        argv = [self.nobody_bin if nobody else self.h.bin, "--pin-root", root] + list(args)
        if nobody:
            argv = ["setpriv", "--reuid=%d" % NOBODY, "--regid=%d" % NOBODY, "--clear-groups",
                    "--inh-caps=-all", "--bounding-set=-all"] + argv
        env = dict(os.environ, NETACCT_PIN_ROOT=root)
        return subprocess.run(argv, capture_output=True, text=True, timeout=60, env=env)

    def expect(self, label, args, rc, needles=(), nobody=False, pins=False, stdout=""):
        """Run; check exit status, stderr prefix and content, stdout, pins.

        pins=False: the pin root must not exist afterwards; True: it must;
        None: not checked. stdout: expected stdout, None: not checked.
        """
        h = self.h
        p = self.run(*args, nobody=nobody)
        cmd = "netacct " + " ".join(args)
        h.note("%s%s -> %d, stderr: %s" % ("(nobody) " if nobody else "", cmd, p.returncode,
                                            p.stderr.strip().replace("\n", " | ")[:300]))
        h.eq("%s: exit %d" % (label, rc), p.returncode, rc)
        h.check("%s: stderr starts with 'netacct: '" % label, p.stderr.startswith("netacct: "),
                "stderr %r" % p.stderr[:300])
        for n in needles:
            h.check("%s: message mentions %r" % (label, n), n.lower() in p.stderr.lower(),
                    "stderr %r" % p.stderr[:400])
        if stdout is not None:
            h.eq("%s: stdout" % label, p.stdout, stdout)
        if pins is not None:
            h.eq("%s: pin root %s afterwards" % (label, "exists" if pins else "absent"),
                 os.path.lexists(h.pin_root), pins)
        return p


def prog_count(h, cg):
    progs = h.bpftool_cgroup_progs(cg)
    return len(progs or [])


def make_fake_meta(h, tool, abi, extra=0):
    """Replace <pin root>/na_meta with an array map of the same value size
    (plus `extra` bytes) whose abi_version (the first 4 bytes) is `abi`, or
    the current one's when `abi` is None."""
    fake = os.path.join(h.pin_root, "na_meta_fake")
    meta = os.path.join(h.pin_root, "na_meta")
    r = subprocess.run([tool, "-j", "map", "show", "pinned", meta], capture_output=True,
                       text=True, timeout=30)
    if r.returncode != 0:
        raise na.HarnessError("bpftool map show %s: %s" % (meta, r.stderr.strip()))
    size = json.loads(r.stdout)["bytes_value"] + extra
    if abi is None:   # keep this netacct's version: only the layout differs
        r = subprocess.run([tool, "-j", "map", "lookup", "pinned", meta, "key", "0", "0", "0", "0"],
                           capture_output=True, text=True, timeout=30)
        if r.returncode != 0:
            raise na.HarnessError("bpftool map lookup %s: %s" % (meta, r.stderr.strip()))
        abi = int.from_bytes(bytes(int(b, 16) for b in json.loads(r.stdout)["value"][:4]), "little")
    value = [str(b) for b in abi.to_bytes(4, "little")] + ["0"] * (size - 4)
    for argv in ([tool, "map", "create", fake, "type", "array", "key", "4", "value",
                  str(size), "entries", "1", "name", "na_meta"],
                 [tool, "map", "update", "pinned", fake, "key", "0", "0", "0", "0", "value"]
                 + value):
        r = subprocess.run(argv, capture_output=True, text=True, timeout=30)
        if r.returncode != 0:
            raise na.HarnessError("%s: %s" % (" ".join(argv), r.stderr.strip()))
    os.unlink(meta)          # bpffs: unlink drops the pin, rename moves one
    os.rename(fake, meta)
    return size


def main():
    h = na.Harness("cli_errors")
    with h:
        tool = na.need_bpftool()
        na.need_tool("setpriv", "util-linux")
        tmp = h.make_tmpdir()
        cli = Cli(h, tmp)
        A, B = h.make_cgroup(), h.make_cgroup()
        missing = os.path.join(h.cg_root, na.TEST_PREFIX + "missing-" + na._rand())
        regular = os.path.join(tmp, "regular-file")
        with open(regular, "w") as f:
            f.write("not a cgroup\n")
        plain_dir = os.path.join(tmp, "plain-dir")
        os.mkdir(plain_dir)

        # -- attach: bad paths, nothing attached before or after ---------------
        cli.expect("attach of a missing path", ["attach", missing], 1,
                   [missing, "No such file or directory"])
        cli.expect("attach of a regular file", ["attach", regular], 1,
                   [regular, "not a directory"])
        v1 = cgroup_v1_root()
        if v1:
            before = sorted(os.listdir(v1))
            cli.expect("attach of a cgroup v1 hierarchy (%s)" % v1, ["attach", v1], 1,
                       [v1, "cgroup v1", "cgroup2 is mounted at " + h.cg_root])
            h.eq("the v1 hierarchy is unchanged", sorted(os.listdir(v1)), before)
        else:
            h.note("no cgroup v1 hierarchy mounted: v1 refusal not checked")
        cli.expect("attach of a directory on no cgroup2 mount", ["attach", plain_dir], 1,
                   [plain_dir, "not on a cgroup2 mount"])
        cli.expect("attach with no PATH", ["attach"], 2, ["no cgroup PATH", "Usage"])
        cli.expect("attach with a bad option", ["attach", "--bogus", A.path], 2, ["--bogus"])
        for bad in ("0", "abc", "15", "-1", ""):
            cli.expect("attach --max-sockets %r" % bad, ["attach", "--max-sockets", bad, A.path],
                       2, ["--max-sockets", "16"])
        h.eq("no program on A after all those refusals", prog_count(h, A), 0)
        nonbpf = os.path.join(tmp, "not-bpffs", "pins")
        p = cli.run("attach", A.path, pin_root=nonbpf)
        h.eq("pin root off bpffs: exit 1", p.returncode, 1)
        h.check("pin root off bpffs: says so", p.stderr.startswith("netacct: ") and
                "bpffs" in p.stderr, repr(p.stderr))
        h.check("pin root off bpffs: nothing created", not os.path.lexists(nonbpf), nonbpf)
        h.eq("pin root off bpffs: no program on A", prog_count(h, A), 0)

        # -- usage errors of the command line itself ------------------------------
        cli.expect("unknown command", ["frobnicate"], 2, ["frobnicate"])
        cli.expect("bad global option", ["--bogus", "status"], 2, ["--bogus"], stdout=None)
        cli.expect("help for an unknown command", ["help", "frobnicate"], 2, ["frobnicate"])
        cli.expect("status with an extra argument", ["status", "extra"], 2, ["extra"])
        cli.expect("export with a bad option", ["export", "--bogus"], 2, ["--bogus"])
        cli.expect("detach with no PATH", ["detach"], 2, ["no cgroup PATH"])
        cli.expect("detach --all with a PATH", ["detach", "--all", A.path], 2, ["--all"])

        # -- nothing attached --------------------------------------------------------
        cli.expect("detach of a path, nothing attached", ["detach", A.path], 1,
                   [A.path, "not attached"])
        cli.expect("detach --all, nothing attached", ["detach", "--all"], 1,
                   ["nothing attached"])
        for cmd in (["export"], ["export", "--json"], ["status"], ["top", "--batch", "-n", "1"]):
            cli.expect("%s, nothing attached" % " ".join(cmd), cmd, 1,
                       ["nothing attached", "netacct attach"])

        # -- unprivileged -----------------------------------------------------------
        cli.expect("attach as nobody without capabilities", ["attach", A.path], 1,
                   ["missing capability", "CAP_BPF", "CAP_NET_ADMIN"], nobody=True)
        h.eq("attach as nobody: no program on A", prog_count(h, A), 0)

        # -- attach twice; valid + invalid paths ---------------------------------------
        p = cli.run("attach", A.path)
        h.eq("attach A: exit 0", p.returncode, 0)
        h.eq("attach A: programs on A", prog_count(h, A), NA_PROGS)
        p = cli.run("attach", A.path)
        h.eq("attach A again: exit 0", p.returncode, 0)
        h.check("attach A again: says 'already attached'", "already attached" in p.stdout,
                "stdout %r stderr %r" % (p.stdout, p.stderr))
        h.eq("attach A again: still one set of programs", prog_count(h, A), NA_PROGS)

        cli.expect("detach of an unattached path while A is attached", ["detach", B.path], 1,
                   [B.path, "not attached"], pins=True)
        h.eq("... A still attached", prog_count(h, A), NA_PROGS)

        for order in ((B.path, missing), (missing, B.path)):
            p = cli.expect("attach %s" % " ".join(os.path.basename(x) for x in order),
                           ["attach"] + list(order), 1, [missing, "No such file"], pins=True,
                           stdout="%s: attached\n" % B.path)
            h.eq("... the valid path got attached", prog_count(h, B), NA_PROGS)
            h.check("... and is listed by status", B.rel in cli.run("status").stdout)
            h.netacct_ok("detach", B.path)
            h.eq("... detached again", prog_count(h, B), 0)

        # -- unprivileged use of an attached state --------------------------------------
        for cmd in (["export"], ["status"], ["detach", "--all"], ["detach", A.path],
                    ["attach", B.path]):
            cli.expect("%s as nobody, A attached" % " ".join(cmd), cmd, 1,
                       ["missing capability"] if cmd[0] in ("attach", "detach") else ["Permission denied"],
                       nobody=True, pins=True)
        h.eq("after the unprivileged attempts: A still attached", prog_count(h, A), NA_PROGS)
        h.eq("... B not attached", prog_count(h, B), 0)
        h.check("... export as root still works", cli.run("export").returncode == 0)

        # -- pinned state of another layout / another ABI ----------------------------------
        size = make_fake_meta(h, tool, None, extra=8)
        h.note("na_meta replaced by a %d-byte value (8 more than this netacct's), same version" % size)
        for cmd in (["export"], ["attach", B.path]):
            cli.expect("%s, na_meta of another size" % " ".join(cmd), cmd, 1,
                       ["another layout", "detach --all"], pins=None)
        make_fake_meta(h, tool, 1, extra=8)
        h.note("na_meta of another size saying ABI version 1 (an older netacct's layout)")
        for cmd in (["export"], ["attach", B.path]):
            cli.expect("%s, na_meta of another version's size" % " ".join(cmd), cmd, 1,
                       ["ABI version 1", "detach --all"], pins=None)
        if os.path.lexists(h.pin_root):
            shutil.rmtree(h.pin_root)       # unpins the links: A is detached
        h.netacct_ok("attach", A.path)
        make_fake_meta(h, tool, 999)
        fix = "--pin-root %s detach --all" % h.pin_root
        for cmd in (["export"], ["status"], ["detach", A.path]):
            cli.expect("%s, state of ABI 999" % " ".join(cmd), cmd, 1,
                       ["ABI version 999", fix], pins=True)
        cli.expect("attach, state of ABI 999", ["attach", B.path], 1,
                   ["ABI version 999", fix], pins=None)
        intact = os.path.exists(os.path.join(h.pin_root, "na_meta"))
        h.check("the refused attach left the ABI 999 state alone (pins kept)", intact,
                "%s is gone: attach removed another version's state" % h.pin_root)
        h.eq("the refused attach left A's programs attached", prog_count(h, A),
             NA_PROGS)
        h.eq("the refused attach attached nothing to B", prog_count(h, B), 0)
        if not intact:
            h.note("re-creating the ABI 999 state for the detach --all check")
            if os.path.lexists(h.pin_root):
                shutil.rmtree(h.pin_root)
            h.netacct_ok("attach", A.path)
            make_fake_meta(h, tool, 999)
        p = cli.run("detach", "--all")
        h.eq("detach --all of the ABI 999 state: exit 0", p.returncode, 0)
        h.check("... pin root removed", not os.path.lexists(h.pin_root), h.pin_root)
        # A link goes when its last holder lets go: another netacct (a status
        # listing the host's links) may hold it for a moment after the pins went.
        deadline = time.time() + 5
        while prog_count(h, A) and time.time() < deadline:
            time.sleep(0.1)
        h.eq("... no program left on A", prog_count(h, A), 0)

        # -- somebody else's pins at the pin root -------------------------------------------
        os.mkdir(h.pin_root, 0o700)
        other = os.path.join(h.pin_root, "other_tool_map")
        r = subprocess.run([tool, "map", "create", other, "type", "array", "key", "4",
                            "value", "8", "entries", "1", "name", "na_other"],
                           capture_output=True, text=True, timeout=30)
        if r.returncode != 0:
            raise na.HarnessError("bpftool map create: %s" % r.stderr.strip())
        cli.expect("export, foreign pins at the pin root", ["export"], 1,
                   ["no na_meta"], pins=True)
        cli.expect("attach, foreign pins at the pin root", ["attach", A.path], 1,
                   ["no na_meta"], pins=None)
        h.check("the refused attach left the foreign pins alone", os.path.lexists(other),
                "%s was removed by a refused attach" % other)
        h.eq("... and attached nothing", prog_count(h, A), 0)
        cli.expect("detach --all, foreign pins at the pin root", ["detach", "--all"], 1,
                   ["no na_meta"], pins=True)
        h.check("the refused detach --all left the foreign pins alone", os.path.lexists(other),
                "%s was removed by detach --all" % other)
        if os.path.lexists(h.pin_root):
            shutil.rmtree(h.pin_root)

        h.check("no pin root left", not os.path.lexists(h.pin_root), h.pin_root)


if __name__ == "__main__":
    main()
