#!/usr/bin/python3
"""Reading without root: `attach --group GROUP`.

As root: attach a test cgroup with --group G (a numeric group no account on
this host uses, so nothing on the host is touched), run a TCP flow in it and
close it. Then, as an unprivileged uid (setpriv: another uid, no
capabilities), in turn a member of G and a non-member:

  * the pins: root directory and per-cgroup directory 0750, maps and links
    0640, the connection log 0660, all group G (os.stat);
  * a member reads: status, export --json (the cgroup's payload equals what
    the workers wrote and read, and equals root's export), top --batch, log
    (one record per socket, consumed: a second log prints nothing);
  * a member cannot write: detach exits 1 naming the missing capability and
    the cgroup stays attached; a map opened read-write is refused (EACCES)
    and an update through a read-only one fails (EPERM);
  * a non-member gets exit 1 and a message that says who may read;
  * a later attach without --group keeps the group on the new pins;
    --group root makes everything root's alone again (0700 / 0600, gid 0),
    after which the former member is refused too.

The netacct binary is copied into a private 0755 directory: the build tree
may sit where another uid cannot reach it.
"""

import grp
import json
import os
import pwd
import shutil
import stat
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import na_harness as na  # noqa: E402

BPF_OBJ_GET, BPF_MAP_UPDATE_ELEM = 7, 2
BPF_F_RDONLY = 1 << 3


def setpriv(uid, group):
    """Another uid (capabilities go with root) in exactly one supplementary group."""
    return ["setpriv", "--reuid", str(uid), "--regid", str(uid), "--groups", str(group)]


def as_user(h, binary, uid, group, *args):
    return subprocess.run(setpriv(uid, group) + [binary, "--pin-root", h.pin_root] + list(args),
                          capture_output=True, text=True, timeout=60)


# The bpf(2) calls a reader makes, run in a child process as that user.
PROBE = r"""
import ctypes, os, struct, sys
libc = ctypes.CDLL(None, use_errno=True)
def obj_get(path, flags):
    p = ctypes.create_string_buffer(path.encode())
    a = ctypes.create_string_buffer(struct.pack("=QII", ctypes.addressof(p), 0, flags), 128)
    fd = libc.syscall(321, %d, a, 16)
    return fd if fd >= 0 else -ctypes.get_errno()
rw = obj_get(sys.argv[1], 0)
ro = obj_get(sys.argv[1], %d)
upd = None
if ro >= 0:
    key = ctypes.c_uint32(0)
    val = ctypes.create_string_buffer(64)
    a = ctypes.create_string_buffer(struct.pack("=IIQQQ", ro, 0, ctypes.addressof(key),
                                                ctypes.addressof(val), 0), 128)
    r = libc.syscall(321, %d, a, 32)
    upd = r if r >= 0 else -ctypes.get_errno()
print(rw, ro, upd)
""" % (BPF_OBJ_GET, BPF_F_RDONLY, BPF_MAP_UPDATE_ELEM)


def modes(root):
    """{path relative to root: (mode bits, gid)} of the pin tree, root included."""
    out = {".": (stat.S_IMODE(os.stat(root).st_mode), os.stat(root).st_gid)}
    for d, dirs, files in os.walk(root):
        for n in dirs + files:
            p = os.path.join(d, n)
            st = os.lstat(p)
            out[os.path.relpath(p, root)] = (stat.S_IMODE(st.st_mode), st.st_gid)
    return out


def check_modes(h, what, root, gid, dmode, fmode, logmode):
    bad = []
    for rel, (mode, g) in sorted(modes(root).items()):
        isdir = os.path.isdir(os.path.join(root, rel))
        want = dmode if isdir else logmode if rel == "na_log" else fmode
        if (mode, g) != (want, gid):
            bad.append("%s: %o gid %d (expected %o gid %d)" % (rel, mode, g, want, gid))
    h.check(what, not bad, "; ".join(bad[:8]))


def main():
    na.main_in_tmpdir("access", run)


def run(h, tmp):
    with h:
        na.need_tool("setpriv", "util-linux")
        gid = na.free_id(grp.getgrgid, 64200)
        other = na.free_id(grp.getgrgid, gid + 1)
        uid = na.free_id(pwd.getpwuid, 64300)
        os.chmod(tmp, 0o755)
        binary = os.path.join(tmp, "netacct")
        shutil.copy2(h.bin, binary)
        os.chmod(binary, 0o755)
        probe = os.path.join(tmp, "probe.py")
        with open(probe, "w") as f:
            f.write(PROBE)
        os.chmod(probe, 0o644)
        h.note("group %d, non-member group %d, uid %d (no account uses them)" % (gid, other, uid))

        # -- attach --group: modes and group of every pin ------------------------
        A = h.make_cgroup()
        h.attach(A, extra=("--group", str(gid)))
        parent = os.path.dirname(h.pin_root)
        if os.stat(parent).st_mode & 0o001 == 0:
            h.skip("%s is not searchable by other users (mode %o)"
                   % (parent, stat.S_IMODE(os.stat(parent).st_mode)))
        check_modes(h, "attach --group: directories 0750, objects 0640, na_log 0660, group G",
                    h.pin_root, gid, 0o750, 0o640, 0o660)

        # -- traffic, closed, then read by a member ------------------------------
        f = na.TcpFlow(h, 4, "rr", (20,), (20,), A, A, "flow")
        f.wait_done()
        sent = f.cdone["sent"] + f.sdone["sent"]
        f.close()
        root_exp = h.export_json(A)

        p = as_user(h, binary, uid, gid, "status", "--json")
        h.eq("member: status --json exits 0", (p.returncode, p.stderr), (0, ""))
        st = json.loads(p.stdout) if p.returncode == 0 else {}
        h.eq("member: status lists the attached cgroup",
             [a.get("cgroup_id") for a in st.get("attached", [])], [A.id])

        p = as_user(h, binary, uid, gid, "export", "--json", A.path)
        h.eq("member: export --json exits 0", (p.returncode, p.stderr), (0, ""))
        exp = na.Export(na.parse_export_json(p.stdout)) if p.returncode == 0 else None
        row = exp.cgroup(A) if exp else None
        h.eq("member: cgroup payload (tx + rx) == what the workers wrote and read, twice over",
             (row["tx_payload_bytes"], row["rx_payload_bytes"]) if row else None, (sent, sent))
        h.check("member's export == root's export, row for row",
                exp is not None and exp.rows == root_exp.rows,
                "%d rows vs %d" % (len(exp.rows) if exp else -1, len(root_exp.rows)))

        p = as_user(h, binary, uid, gid, "top", "--batch", "-n", "1", "-d", "0.1")
        h.check("member: top --batch exits 0 and shows the cgroup",
                p.returncode == 0 and A.rel in p.stdout and p.stderr == "", repr(p)[:500])

        p = as_user(h, binary, uid, gid, "log", "--json")
        recs = [json.loads(l) for l in p.stdout.splitlines() if l.strip()]
        h.eq("member: log exits 0", (p.returncode, p.stderr), (0, ""))
        h.eq("member: log has one record per socket (client, server, listener)", len(recs), 3)
        h.eq("member: log payload == what the workers wrote",
             sorted(r["tx_payload_bytes"] for r in recs), sorted([0, f.cdone["sent"], f.sdone["sent"]]))
        p = as_user(h, binary, uid, gid, "log", "--json")
        h.eq("member: the log was consumed (a second log prints nothing)",
             (p.returncode, p.stdout), (0, ""))

        # -- a member cannot write -----------------------------------------------
        p = as_user(h, binary, uid, gid, "detach", A.path)
        h.check("member: detach exits 1 and names the missing capability",
                p.returncode == 1 and p.stderr.startswith("netacct: detach: missing capability"),
                repr(p))
        h.check("member: ... and the cgroup is still attached", h.export().cgroup(A) is not None)
        r = subprocess.run(setpriv(uid, gid) + ["/usr/bin/python3", probe,
                                                os.path.join(h.pin_root, "na_stats")],
                           capture_output=True, text=True, timeout=30)
        got = [int(x) if x != "None" else None for x in r.stdout.split()] if r.returncode == 0 else r
        h.check("member: a map opened read-write is refused (EACCES), read-only is given, "
                "and an update through it fails (EPERM)",
                isinstance(got, list) and got[0] == -13 and got[1] >= 0 and got[2] == -1,
                repr(got))

        # -- not a member --------------------------------------------------------
        p = as_user(h, binary, uid, other, "export")
        h.check("non-member: export exits 1 and says who may read",
                p.returncode == 1 and p.stdout == "" and "Permission denied" in p.stderr
                and "attach --group" in p.stderr, repr(p))

        # -- later attaches keep the group; --group root takes it back -----------
        B = h.make_cgroup()
        h.attach(B)
        check_modes(h, "attach without --group keeps the group on the new pins",
                    h.pin_root, gid, 0o750, 0o640, 0o660)
        p = as_user(h, binary, uid, gid, "export", "--json", B.path)
        h.eq("member: export of the later cgroup exits 0", (p.returncode, p.stderr), (0, ""))
        p = h.netacct("attach", "--group", "root", A.path)
        h.eq("attach --group root: exit 0", p.returncode, 0)
        check_modes(h, "attach --group root: 0700 / 0600, gid 0", h.pin_root, 0, 0o700, 0o600, 0o600)
        p = as_user(h, binary, uid, gid, "export")
        h.eq("former member: export exits 1", p.returncode, 1)

        p = h.netacct("attach", "--group", "no-such-group-netacct", A.path)
        h.check("attach --group with an unknown name: exit 2, a clear message",
                p.returncode == 2 and "no such group" in p.stderr, repr(p))


if __name__ == "__main__":
    main()
