#!/usr/bin/python3
"""Which pin roots netacct trusts, and what detach --all may remove.

/sys/fs/bpf is mode 1777 here: any user can make a directory there. A pin
root someone else made (or can change) would let that user read every
counter and unpin netacct's links, and a detach --all that follows
symbolic links or leaves bpffs can be steered into removing other files.

  * a pin root made by another user, one root made but left writable by
    others, and one below a directory another user owns: attach, status and
    detach --all exit 1 naming the owner or mode and the fix, attach nothing
    and create nothing in it;
  * an attachment directory in the pin root that is not root's: attach and
    status refuse it the same way;
  * detach --all of a pin root that is not on bpffs (a directory under
    /tmp with a file named na_meta): exit 1, every file still there;
  * detach --all through a symbolic link to a real, attached pin root:
    exit 1 naming the link; the programs stay attached (never "detached
    everything" with the programs still there);
  * detach --all of netacct's state beside a pin of another tool: netacct's
    pins go (no program left on the cgroup), the other pin stays, exit 1
    naming it;
  * a dangling symbolic link as pin root: attach and status exit 1 with a
    message; na_meta a directory: status says what it is, not "Permission
    denied" to root;
  * attach of a cgroup whose name holds an escape sequence: stdout shows
    '?' for each control character, never the raw byte.
"""

import json
import os
import shutil
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import na_harness as na  # noqa: E402

UID = 64398


def as_user(argv):
    return subprocess.run(["setpriv", "--reuid", str(UID), "--regid", str(UID), "--clear-groups"] + argv,
                          capture_output=True, text=True, timeout=30)


def run(h, root, *args):
    return subprocess.run([h.bin, "--pin-root", root] + list(args), capture_output=True, text=True, timeout=60)


def listing(d):
    return sorted(os.listdir(d)) if os.path.isdir(d) else "(%s is gone)" % d


def progs(h, cg):
    return [x for x in h.bpftool_cgroup_progs(cg) or [] if x.get("name", "").startswith("na_")]


def main():
    h = na.Harness("pinroot")
    extra = []  # pin roots and links of this test besides h.pin_root, removed at the end
    with h:
        if not shutil.which("setpriv") or not shutil.which("bpftool"):
            h.skip("setpriv or bpftool missing")
        tool = shutil.which("bpftool")
        A = h.make_cgroup()
        try:
            body(h, A, tool, extra)
        finally:
            for p in extra:
                if os.path.islink(p) or os.path.isfile(p):
                    os.unlink(p)
                elif os.path.isdir(p):
                    shutil.rmtree(p, ignore_errors=True)


def body(h, A, tool, extra):
    # -- a pin root someone else made -----------------------------------------------
    theirs = h.pin_root + "-theirs"
    extra.append(theirs)
    r = as_user(["mkdir", "-m", "0755", theirs])
    if r.returncode != 0:
        raise na.HarnessError("mkdir as uid %d: %s" % (UID, r.stderr))
    for args in (("attach", A.path), ("status",), ("detach", "--all")):
        p = run(h, theirs, *args)
        h.check("pin root made by uid %d: %s exits 1, naming the owner and the fix" % (UID, args[0]),
                p.returncode == 1 and "not root's" in p.stderr and "uid %d" % UID in p.stderr and
                "rm -r" in p.stderr, repr((p.returncode, p.stderr[-300:])))
    h.eq("... nothing attached to A", progs(h, A), [])
    h.eq("... nothing made in it (and it is still there)", listing(theirs), [])

    # -- one root made, writable by others ----------------------------------------------
    loose = h.pin_root + "-loose"
    extra.append(loose)
    if not os.path.isdir(loose):
        os.mkdir(loose)
    os.chmod(loose, 0o777)
    for args in (("attach", A.path), ("status",)):
        p = run(h, loose, *args)
        h.check("pin root of mode 0777: %s exits 1, saying it is writable by others" % args[0],
                p.returncode == 1 and "writable by others" in p.stderr and "0777" in p.stderr,
                repr((p.returncode, p.stderr[-300:])))
    h.eq("... nothing attached to A", progs(h, A), [])
    h.eq("... nothing made in it (and it is still there)", listing(loose), [])

    # -- a root-owned pin root below a directory another user owns --------------------------
    parent = h.pin_root + "-parent"
    extra.append(parent)
    as_user(["mkdir", "-m", "0755", parent])
    below = os.path.join(parent, "netacct")
    os.mkdir(below, 0o700)
    p = run(h, below, "attach", A.path)
    h.check("pin root below a directory uid %d owns: attach exits 1 naming that directory" % UID,
            p.returncode == 1 and parent in p.stderr and "changed by others" in p.stderr,
            repr((p.returncode, p.stderr[-300:])))
    h.eq("... nothing attached to A", progs(h, A), [])

    # -- an attachment directory that is not root's -----------------------------------------
    h.attach(A)
    planted = os.path.join(h.pin_root, "cg_999999")
    os.mkdir(planted, 0o700)
    os.chown(planted, UID, UID)
    B = h.make_cgroup()
    for args in (("attach", B.path), ("status",)):
        p = h.netacct(*args)
        h.check("a cg_<id> directory of uid %d in the pin root: %s exits 1 naming it" % (UID, args[0]),
                p.returncode == 1 and "cg_999999" in p.stderr and "uid %d" % UID in p.stderr,
                repr((p.returncode, p.stderr[-300:])))
    h.eq("... B not attached", progs(h, B), [])
    os.rmdir(planted)

    # -- detach --all of a directory not on bpffs ---------------------------------------------
    fake = h.make_tmpdir("pinroot-fake-")
    for name in ("na_meta", "precious"):
        with open(os.path.join(fake, name), "w") as f:
            f.write("keep me\n")
    p = subprocess.run([h.bin, "detach", "--all"], capture_output=True, text=True, timeout=60,
                       env=dict(os.environ, NETACCT_PIN_ROOT=fake))
    h.check("NETACCT_PIN_ROOT=<dir under /tmp holding na_meta> detach --all: exit 1, not on bpffs",
            p.returncode == 1 and "bpffs" in p.stderr, repr((p.returncode, p.stderr)))
    h.eq("... every file of it still there", listing(fake), ["na_meta", "precious"])

    # -- detach --all through a symbolic link ----------------------------------------------------
    link = h.pin_root + "-link"
    extra.append(link)
    os.symlink(h.pin_root, link)
    n = len(progs(h, A))
    p = run(h, link, "detach", "--all")
    h.check("detach --all of a pin root that is a symbolic link: exit 1 naming the link",
            p.returncode == 1 and "symbolic link" in p.stderr and "detached everything" not in p.stdout,
            repr((p.returncode, p.stdout, p.stderr)))
    h.eq("... A keeps its programs; the real pin root is untouched",
         (len(progs(h, A)), os.path.isdir(h.pin_root)), (n, True))
    os.unlink(link)
    if progs(h, A) and not os.path.isdir(h.pin_root):
        h.note("the programs of A are held by nothing netacct can reach: rebooting them off by hand")
        for x in progs(h, A):
            subprocess.run([tool, "cgroup", "detach", A.path, x["attach_type"], "id", str(x["id"])],
                           capture_output=True, timeout=30)
    dangling = h.pin_root + "-dangling"
    extra.append(dangling)
    os.symlink(h.pin_root + "-nowhere", dangling)
    for args in (("attach", A.path), ("status",)):
        p = run(h, dangling, *args)
        h.check("a dangling symbolic link as pin root: %s exits 1 with a message" % args[0],
                p.returncode == 1 and "symbolic link" in p.stderr, repr((p.returncode, p.stderr)))

    # -- netacct's state beside another tool's pin -------------------------------------------------
    other = os.path.join(h.pin_root, "other_tool_map")
    r = subprocess.run([tool, "map", "create", other, "type", "array", "key", "4", "value", "8",
                        "entries", "1", "name", "other_map"], capture_output=True, text=True, timeout=30)
    if r.returncode != 0:
        raise na.HarnessError("bpftool map create: %s" % r.stderr)
    h.attach(A)
    p = h.netacct("detach", "--all")
    h.check("detach --all beside another tool's pin: exit 1, naming the pin it left",
            p.returncode == 1 and "other_tool_map" in p.stderr, repr((p.returncode, p.stderr)))
    h.eq("... no netacct program left on A", progs(h, A), [])
    h.eq("... only the other tool's pin left", listing(h.pin_root), ["other_tool_map"])
    if os.path.lexists(h.pin_root):
        shutil.rmtree(h.pin_root)

    # -- na_meta that is a directory -------------------------------------------------------------
    os.mkdir(h.pin_root, 0o700)
    os.mkdir(os.path.join(h.pin_root, "na_meta"))
    p = h.netacct("status")
    h.check("na_meta a directory: status exits 1 saying so, not 'Permission denied'",
            p.returncode == 1 and "directory" in p.stderr and "Permission denied" not in p.stderr,
            repr((p.returncode, p.stderr)))
    os.rmdir(os.path.join(h.pin_root, "na_meta"))
    os.rmdir(h.pin_root)

    # -- a cgroup name with an escape sequence --------------------------------------------------------
    odd = na.Cgroup(h.cg_root, os.path.join(h.cg_root, na.TEST_PREFIX + "esc\x1b[2J\x07"))
    os.mkdir(odd.path)
    h.cgroups.append(odd)
    for args in (("attach", odd.path), ("detach", odd.path)):
        p = h.netacct(*args)
        h.check("%s of a cgroup named with ESC and BEL: exit 0, '?' for each on stdout" % args[0],
                p.returncode == 0 and not na.control_chars(p.stdout) and "esc?[2J?" in p.stdout,
                repr((p.returncode, p.stdout, p.stderr)))


if __name__ == "__main__":
    main()
