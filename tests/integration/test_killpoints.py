#!/usr/bin/python3
"""attach and detach killed at every syscall that changes state, then what
the next netacct command makes of it.

A kill takes effect at a syscall's entry (strace -e inject=SYSCALL:signal=KILL:when=N,
the N-th call of that syscall). What a process leaves behind for the next
command is made only by the syscalls that change something outside the
process: bpf(2) (pins, map updates, links, program runs), mkdir, rename,
unlink, rmdir and the like (WALKED). A kill at any other syscall (reads,
mmap, close, opens without O_CREAT: NO_STATE) leaves exactly what a kill at
the next walked syscall leaves, so walking every call of every walked
syscall walks every state attach and detach can be stopped in. Before the
walk, one traced run of each command checks that every syscall it makes is
in one of the two lists, so a new kind of syscall fails the test instead of
going unwalked.

The walk: the first attach of a cgroup (a new pin root: maps, global links,
the attachment), and the detach of the last attachment (the pin root goes
with it). At every kill point:

  * the kill happened (exit by SIGKILL);
  * `netacct status --json` reads the state without error, and tells the
    truth (and `export --prometheus` agrees: netacct_attachment_live 1 for
    live, 0 otherwise, with a warning naming the cgroup on stderr): the programs bpftool sees on the cgroup are the ones status
    counts for it (links that died with the process are gone, pinned ones
    are listed); an attachment status calls live has every program and
    counts a burst of UDP datagrams to the byte (the sender's own count); one
    it calls inactive or attaching counts nothing;
  * the next command (attach again after a killed attach, detach again
    after a killed detach) exits 0 and finishes or undoes what was begun:
    after attach, one whole set of programs, live, counting the burst to the
    byte; after detach, no program on the cgroup and no pin root.

Then SIGINT and SIGTERM, injected at a sample of the same points: the
command finishes (or never starts) its transaction and the state is whole
at once, with nothing for the next command to repair.

The two walks run at once, each on a cgroup and a pin root of its own (the
machine has two cores; one walk after the other takes twice as long).
"""

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import na_harness as na  # noqa: E402

# Syscalls whose effect can outlive the process: every call of these is a kill point.
WALKED = {"bpf", "mkdir", "mkdirat", "rename", "renameat", "renameat2", "unlink", "unlinkat",
          "rmdir", "chmod", "fchmod", "fchmodat", "chown", "fchown", "lchown", "fchownat",
          "link", "linkat", "symlink", "symlinkat", "truncate", "ftruncate", "mount", "umount2"}
# Syscalls that change nothing a later process sees (openat only without O_CREAT: checked).
NO_STATE = {"read", "pread64", "readv", "write", "writev", "mmap", "munmap", "mprotect", "mremap",
            "brk", "close", "openat", "open", "newfstatat", "fstat", "stat", "lstat", "statfs",
            "fstatfs", "statx", "access", "faccessat", "faccessat2", "readlink", "readlinkat",
            "getdents64", "lseek", "flock", "fcntl", "ioctl", "capget", "uname", "prlimit64",
            "getrandom", "execve", "arch_prctl", "set_tid_address", "set_robust_list", "rseq",
            "exit_group", "exit", "rt_sigprocmask", "rt_sigaction", "getpid", "gettid", "getuid",
            "geteuid", "getgid", "getegid", "futex", "sysinfo", "sched_getaffinity", "madvise",
            "clock_gettime", "clock_nanosleep", "nanosleep", "getcwd", "dup", "dup2", "dup3",
            "pipe2", "poll", "ppoll", "rt_sigreturn", "tgkill", "kill", "socket", "sendto",
            "recvfrom", "connect", "getsockname", "setsockopt", "getsockopt", "sendmsg", "recvmsg",
            "sigaltstack"}  # the last: AddressSanitizer's own, in scripts/test-sanitize's build

# LeakSanitizer cannot run under ptrace: a traced run of an ASan build checks no leaks (it would fail).
TRACED_ENV = dict(os.environ, ASAN_OPTIONS=(os.environ.get("ASAN_OPTIONS", "") + ":detect_leaks=0").lstrip(":"))

BURST = (20, 300)  # datagrams, bytes each

SENDER = r"""
import json, socket, sys
rx = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); rx.bind(("127.0.0.1", 0))
tx = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); tx.connect(rx.getsockname())
print(json.dumps({"event": "hello"}), flush=True)
for line in sys.stdin:
    n, size = map(int, line.split())
    for _ in range(n):
        tx.send(b"x" * size)
        rx.recv(65536)
    print(json.dumps({"event": "sent", "bytes": n * size}), flush=True)
"""


def syscalls_of(h, argv, trace):
    """[(name, args)] of one traced, unkilled run of argv."""
    p = subprocess.run(["strace", "-f", "-qq", "-o", trace] + argv, capture_output=True, text=True,
                       timeout=60, env=TRACED_ENV)
    calls = []
    with open(trace) as f:
        for line in f:
            m = re.match(r"^\d+\s+(\w+)\((.*)", line)
            if m:
                calls.append((m.group(1), m.group(2)))
    return p, calls


def classify(calls):
    """{walked syscall: number of calls}, [unclassified (name, args)]."""
    walk, unknown = {}, []
    for name, args in calls:
        if name in WALKED:
            walk[name] = walk.get(name, 0) + 1
        elif name not in NO_STATE or (name in ("openat", "open") and "O_CREAT" in args):
            unknown.append((name, args[:80]))
    return walk, unknown


def killed(h, argv, name, when, sig="KILL"):
    """argv run under strace with signal sig injected at the when-th call of name."""
    return subprocess.run(["strace", "-f", "-qq", "-o", "/dev/null", "-e", "trace=" + name,
                           "-e", "inject=%s:signal=%s:when=%d" % (name, sig, when)] + argv,
                          capture_output=True, text=True, timeout=60, env=TRACED_ENV)


class Walk:
    def __init__(self, h, cg, sender, tool, root):
        self.h, self.cg, self.sender, self.tool, self.root = h, cg, sender, tool, root
        self.bad = []      # (what, detail) of the failed points, reported at the end
        self.points = 0
        self.states = {}   # state status showed after a kill -> count
        self.signal_points = 0
        self.signal_bad = []
        self.seconds = 0.0

    def run(self, *args):
        return subprocess.run([self.h.bin, "--pin-root", self.root] + list(args), capture_output=True,
                              text=True, timeout=60)

    def argv(self, cmd):
        return [self.h.bin, "--pin-root", self.root, cmd, self.cg.path]

    def fail(self, point, what, detail):
        self.bad.append("%s: %s: %s" % (point, what, detail))

    def progs(self):
        """netacct's programs bpftool sees on the cgroup."""
        p = subprocess.run([self.tool, "-j", "cgroup", "show", self.cg.path], capture_output=True,
                           text=True, timeout=30)
        out = p.stdout.strip()
        return sum(1 for x in (json.loads(out) if out else []) if x.get("name", "").startswith("na_"))

    def status(self):
        """(status --json or None when nothing is attached, the process)."""
        p = self.run("status", "--json")
        if p.returncode != 0:
            return None, p
        return json.loads(p.stdout), p

    def burst_counted(self, att_before):
        """Send a burst in the cgroup; the tx payload it added to the attachment."""
        self.sender.send("%d %d" % BURST)
        sent = self.sender.expect("sent", 30)["bytes"]
        st, _ = self.status()
        att = na.status_attachment(st, self.cg) if st else None
        if att is None or att_before is None:
            return sent, None
        return sent, att["tx"]["payload_bytes"] - att_before["tx"]["payload_bytes"]

    def check_after_kill(self, point):
        """What status says right after the kill is the truth."""
        st, p = self.status()
        progs = self.progs()
        if st is None:
            if "nothing attached" not in p.stderr:
                self.fail(point, "status after the kill", "exit %d: %s" % (p.returncode, p.stderr[-300:]))
            elif progs:
                self.fail(point, "status says nothing attached", "bpftool sees %d programs" % progs)
            self.states["(none)"] = self.states.get("(none)", 0) + 1
            return None
        if p.stderr.strip():
            self.fail(point, "status --json after the kill wrote to stderr", p.stderr[-300:])
        att = na.status_attachment(st, self.cg)
        state = att.get("state", "(no state field)") if att else "(not listed)"
        self.states[state] = self.states.get(state, 0) + 1
        shown = att["programs"] if att else 0
        if shown != progs:
            self.fail(point, "status counts %d programs (%s)" % (shown, state), "bpftool sees %d" % progs)
        if att is None:
            return None
        expected = att.get("programs_expected", 8)
        sent, got = self.burst_counted(att)
        if state == "live" and (att["programs"] != expected or not att.get("active", True) or got != sent):
            self.fail(point, "status says live", "programs %d of %d, active %s, burst of %d counted as %s"
                      % (att["programs"], expected, att.get("active"), sent, got))
        if state in ("inactive", "attaching", "unlinked") and got != 0:
            self.fail(point, "status says %s" % state, "yet it counted %s of a burst of %d" % (got, sent))
        if state not in ("live", "inactive", "attaching", "detaching", "incomplete", "unlinked"):
            self.fail(point, "status names no state for a stopped transaction", repr(att))
        p = self.run("export", "--prometheus")
        live = [l for l in p.stdout.splitlines() if l.startswith("netacct_attachment_live{")]
        warned = state != "live" and "%s: " % self.cg.rel in p.stderr
        if live != ["netacct_attachment_live{cgroup=\"%s\"} %d" % (self.cg.rel, state == "live")] or \
                (state != "live") != warned:
            self.fail(point, "export --prometheus with status saying %s" % state,
                      "%r, stderr %r" % (live, p.stderr[-200:]))
        return att

    def check_attached(self, point, what):
        """One whole set of programs, live, counting a burst to the byte."""
        st, p = self.status()
        att = na.status_attachment(st, self.cg) if st else None
        progs = self.progs()
        if att is None:
            self.fail(point, what, "not attached: %s" % p.stderr[-300:])
            return
        expected = att.get("programs_expected", 8)
        sent, got = self.burst_counted(att)
        if (att.get("state", "live"), att["programs"], progs, got) != ("live", expected, expected, sent):
            self.fail(point, what, "state %s, programs %d (bpftool %d) of %d, burst of %d counted as %s"
                      % (att.get("state"), att["programs"], progs, expected, sent, got))

    def check_detached(self, point, what):
        progs = self.progs()
        # A link goes when its last holder lets go: another netacct on the host
        # (a status listing every link) may hold one for a moment after the pins went.
        deadline = time.time() + 5
        while progs and not os.path.lexists(self.root) and time.time() < deadline:
            time.sleep(0.1)
            progs = self.progs()
        if progs or os.path.lexists(self.root):
            self.fail(point, what, "%d programs left on the cgroup, pin root %s"
                      % (progs, "left" if os.path.lexists(self.root) else "gone"))


def points_of(walk):
    return [(name, k) for name, count in sorted(walk.items()) for k in range(1, count + 1)]


def walk_attach(w, walk):
    """The first attach of the cgroup, killed at each point; then SIGINT and SIGTERM at a sample."""
    t0 = time.monotonic()
    for name, k in points_of(walk):
        point = "attach killed at %s #%d" % (name, k)
        w.points += 1
        r = killed(w.h, w.argv("attach"), name, k)
        if r.returncode != -signal.SIGKILL:
            w.fail(point, "not killed", "exit %d: %s" % (r.returncode, r.stderr[-200:]))
        w.check_after_kill(point)
        r = w.run("attach", w.cg.path)
        if r.returncode != 0:
            w.fail(point, "the next attach", "exit %d: %s" % (r.returncode, r.stderr[-300:]))
        w.check_attached(point, "after the next attach")
        r = w.run("detach", w.cg.path)
        if r.returncode != 0:
            w.fail(point, "detach afterwards", "exit %d: %s" % (r.returncode, r.stderr[-300:]))
        w.check_detached(point, "after detach")
    signals(w, "attach", walk)
    w.seconds = time.monotonic() - t0


def walk_detach(w, walk):
    """The detach of the last attachment, killed at each point; then SIGINT and SIGTERM at a sample."""
    t0 = time.monotonic()
    for name, k in points_of(walk):
        point = "detach killed at %s #%d" % (name, k)
        w.points += 1
        r = w.run("attach", w.cg.path)
        if r.returncode != 0:
            w.fail(point, "attach before", "exit %d: %s" % (r.returncode, r.stderr[-300:]))
        r = killed(w.h, w.argv("detach"), name, k)
        if r.returncode != -signal.SIGKILL:
            w.fail(point, "not killed", "exit %d: %s" % (r.returncode, r.stderr[-200:]))
        att = w.check_after_kill(point)
        r = w.run("detach", w.cg.path)
        if r.returncode != 0 and not (att is None and "not attached" in r.stderr):
            w.fail(point, "the next detach", "exit %d: %s" % (r.returncode, r.stderr[-300:]))
        w.check_detached(point, "after the next detach")
    signals(w, "detach", walk)
    w.seconds = time.monotonic() - t0


def signals(w, cmd, walk):
    """SIGINT and SIGTERM at a sample of the points: the state is whole at once."""
    points = points_of(walk)
    for sig in ("INT", "TERM"):
        for name, k in points[::max(1, len(points) // 8)]:
            w.signal_points += 1
            if cmd == "detach":
                w.run("attach", w.cg.path)
            r = killed(w.h, w.argv(cmd), name, k, sig)
            st, p = w.status()
            att = na.status_attachment(st, w.cg) if st else None
            progs = w.progs()
            whole = (att is None and progs == 0 and "no na_meta" not in p.stderr and
                     not os.path.lexists(w.root)) or \
                (att is not None and att.get("state") == "live" and progs == att.get("programs_expected", 8))
            if not whole or p.stderr.strip() and st is not None:
                w.signal_bad.append("%s, SIG%s at %s #%d: exit %d, state %s, %d programs, stderr %r"
                                    % (cmd, sig, name, k, r.returncode, att and att.get("state"), progs,
                                       p.stderr[-200:]))
            if att is not None:
                w.run("detach", w.cg.path)


def threaded(w, fn, walk):
    def body():
        try:
            fn(w, walk)
        except Exception as e:  # reported with the walk's failures
            w.bad.append("%s stopped: %s: %s" % (fn.__name__, type(e).__name__, e))
    t = threading.Thread(target=body)
    t.start()
    return t


def main():
    h = na.Harness("killpoints")
    other_root = h.pin_root + "-detach"
    with h:
        try:
            run(h, other_root)
        finally:
            if os.path.lexists(other_root):
                subprocess.run([h.bin, "--pin-root", other_root, "detach", "--all"], capture_output=True,
                               timeout=60)
            if os.path.lexists(other_root):
                shutil.rmtree(other_root, ignore_errors=True)


def run(h, other_root):
    tool = shutil.which("bpftool") or "/usr/sbin/bpftool"
    if not (shutil.which("strace") and os.path.exists(tool)):
        h.skip("strace or bpftool missing (Debian: apt-get install strace bpftool)")
    tmp = h.make_tmpdir("killpoints-")
    walkers = []
    for root in (h.pin_root, other_root):
        cg = h.make_cgroup()
        sender = h.spawn([na.PYTHON, "-c", SENDER], cgroup=cg, label="sender")
        sender.expect("hello")
        walkers.append(Walk(h, cg, sender, tool, root))
    wa, wd = walkers

    # -- every syscall of both commands is classified ----------------------------
    p, calls = syscalls_of(h, wa.argv("attach"), os.path.join(tmp, "attach.trace"))
    h.eq("traced attach: exit 0", p.returncode, 0)
    attach_walk, unknown = classify(calls)
    p, calls = syscalls_of(h, wa.argv("detach"), os.path.join(tmp, "detach.trace"))
    h.eq("traced detach: exit 0", p.returncode, 0)
    detach_walk, unknown2 = classify(calls)
    h.eq("every syscall of attach and detach is walked or changes nothing outside the process",
         unknown + unknown2, [])
    h.note("attach: %d kill points %s; detach: %d %s"
           % (sum(attach_walk.values()), attach_walk, sum(detach_walk.values()), detach_walk))

    # -- the two walks, at once ------------------------------------------------------------
    threads = [threaded(wa, walk_attach, attach_walk), threaded(wd, walk_detach, detach_walk)]
    for t in threads:
        t.join()
    for w, what in ((wa, "attach"), (wd, "detach")):
        h.note("%s walk: %.1f s; states status showed after a kill: %s" % (what, w.seconds, w.states))
        h.check("%s: %d kill points walked, each state told truly and finished or undone by the next command"
                % (what, w.points), w.points > 0 and not w.bad, "\n  ".join(w.bad[:20]) +
                ("\n  ... %d more" % (len(w.bad) - 20) if len(w.bad) > 20 else ""))
        h.check("%s: SIGINT and SIGTERM at %d points: it finishes (or never begins), leaving nothing "
                "half-done" % (what, w.signal_points), w.signal_points > 0 and not w.signal_bad,
                "\n  ".join(w.signal_bad[:10]))


if __name__ == "__main__":
    main()
