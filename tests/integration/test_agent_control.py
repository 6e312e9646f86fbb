#!/usr/bin/python3
"""The agent's hold on what it attaches, and what it leaves behind.

  * a clean exit (SIGTERM) removes the agent's lock file in /run/netacct;
    a killed agent's stale file does not stop the next one;
  * a reload that drops a cgroup leaves no netacct program on it (the agent
    holds no link of its own: unpinning detaches);
  * `netacct detach` of a cgroup the agent manages is refused, naming the
    agent and its configuration, and the cgroup keeps one set of programs
    through the agent's next scans (never two); `detach --all` is refused
    while an agent runs; a cgroup attached by hand beside the agent
    detaches as usual; once the agent ends, its cgroups detach as usual;
  * `status` names links of netacct's programs that no pin holds (here
    held open by another process, as a leaking agent did), with the pid
    holding them, and they go when that process does;
  * the connection log in a directory others can write (where another user
    planted FILE.1.gz.tmp as a link to a file of root's): the agent refuses
    to start, naming why, and the file the link points to is untouched; a
    reload to such a directory is refused and the running configuration
    stays; a log file that is itself a link is not written through;
  * a log file that cannot be written (file size limit, as a full disk):
    the error is said once, not at every retry.
"""

import ctypes
import json
import os
import resource
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import na_harness as na  # noqa: E402
from test_agent import CHURN, Agent, write, wait_until  # noqa: E402


# Hold a pinned link open by descriptor (BPF_OBJ_GET), as a leaking process would.
HOLD = r"""
import ctypes, json, sys
class Attr(ctypes.Structure):
    _fields_ = [("pathname", ctypes.c_uint64), ("bpf_fd", ctypes.c_uint32), ("file_flags", ctypes.c_uint32),
                ("path_fd", ctypes.c_int32), ("pad", ctypes.c_uint32)]
libc = ctypes.CDLL(None, use_errno=True)
path = ctypes.create_string_buffer(sys.argv[1].encode())
attr = Attr(ctypes.addressof(path), 0, 0, 0, 0)
fd = libc.syscall(321, 7, ctypes.byref(attr), ctypes.sizeof(attr))  # bpf(BPF_OBJ_GET), x86-64
if fd < 0:
    print(json.dumps({"event": "error", "message": "BPF_OBJ_GET: errno %d" % ctypes.get_errno()}), flush=True)
    sys.exit(1)
print(json.dumps({"event": "holding", "fd": fd}), flush=True)
sys.stdin.read()
"""


def netacct_progs(h, cg):
    """netacct's programs (name na_*) bpftool sees attached to cg."""
    return [x for x in h.bpftool_cgroup_progs(cg) or [] if x.get("name", "").startswith("na_")]


def main():
    h = na.Harness("agent_control")
    with h:
        tmp = h.make_tmpdir("agent-control-")
        A = h.make_cgroup()
        conf = os.path.join(tmp, "netacct.conf")
        port = na.free_port()
        write(conf, "attach %s\nrescan 1\nlisten 127.0.0.1:%d\nlog-file none\n" % (A.path, port))

        # -- the lock file ----------------------------------------------------------
        ag = Agent(h, conf, port)
        ag.wait_serving()
        h.eq("a running agent holds its lock file", os.path.exists(h.agent_lock), True)
        h.eq("SIGTERM: exit 0", ag.stop(), 0)
        h.eq("... and the lock file is gone after the clean exit", os.path.exists(h.agent_lock), False)
        ag = Agent(h, conf, port)
        ag.wait_serving()
        ag.stop(signal.SIGKILL)
        h.eq("a killed agent leaves its lock file", os.path.exists(h.agent_lock), True)
        ag = Agent(h, conf, port)
        ag.wait_serving()
        h.eq("... which does not stop the next agent; SIGTERM: exit 0", ag.stop(), 0)
        h.eq("... whose clean exit removes it", os.path.exists(h.agent_lock), False)

        # -- a reload that drops a cgroup detaches it ---------------------------------
        B = h.make_cgroup()
        C = h.make_cgroup()
        h.detach(A)  # this agent attaches A itself
        ag = Agent(h, conf, port)
        ag.wait_serving()
        n = len(netacct_progs(h, A))
        h.check("agent attached A: one set of programs", n > 0, repr(n))
        write(conf, "attach %s\nrescan 1\nlisten 127.0.0.1:%d\nlog-file none\n" % (B.path, port))
        ag.p.send_signal(signal.SIGHUP)
        h.check("reload from A to B: B gets its programs",
                wait_until(lambda: len(netacct_progs(h, B)) == n, 5), repr(netacct_progs(h, B)))
        h.eq("... and A has none left (unpinning detached them)", netacct_progs(h, A), [])

        # -- detach of what the agent manages is refused ------------------------------
        p = h.netacct("detach", B.path)
        h.check("detach of a cgroup the agent manages: exit 1, naming the agent's pid and configuration",
                p.returncode == 1 and "agent" in p.stderr and str(ag.p.pid) in p.stderr and conf in p.stderr,
                repr((p.returncode, p.stdout, p.stderr)))
        time.sleep(2.5)  # two scans of the agent
        h.eq("... B keeps exactly one set of programs through the agent's scans",
             len(netacct_progs(h, B)), n)
        p = h.netacct("detach", "--all")
        h.check("detach --all while an agent runs: exit 1, naming the agent",
                p.returncode == 1 and "agent" in p.stderr and str(ag.p.pid) in p.stderr, repr(p.stderr))
        h.eq("... B still attached", len(netacct_progs(h, B)), n)

        # -- a cgroup attached by hand, and links nothing pins -------------------------
        h.attach(C)
        holder = h.spawn([na.PYTHON, "-c", HOLD, os.path.join(h.pin_root, "cg_%d" % C.id, "egress")],
                         label="link holder")
        holder.expect("holding")
        p = h.netacct("detach", C.path)
        h.eq("detach of a cgroup attached by hand beside the agent: exit 0", (p.returncode, p.stderr), (0, ""))
        h.eq("... its programs but the one held open are gone",
             [x["name"] for x in netacct_progs(h, C)], ["na_egress"])
        st = na.netacct_status(h)
        left = st.get("leftover_links", [])
        h.check("status --json names the link pinned nowhere: C's egress, held by the holder's pid",
                len(left) == 1 and left[0]["cgroup_id"] == C.id and left[0]["held_by"] == [holder.pid] and
                left[0]["cgroup"] == C.rel, repr(left))
        p = h.netacct("status")
        h.check("status names it too, with what ends it",
                "leftover: 1 link" in p.stdout and C.rel in p.stdout and "pid %d" % holder.pid in p.stdout,
                p.stdout[-400:])
        holder.finish()
        h.check("the holder ends: the link goes, status names nothing",
                wait_until(lambda: not netacct_progs(h, C) and not na.netacct_status(h).get("leftover_links"),
                           3), repr(na.netacct_status(h).get("leftover_links")))

        # -- the agent ends: its cgroups are anyone's again -----------------------------
        h.eq("SIGTERM: exit 0", ag.stop(), 0)
        h.eq("the agent's list of managed cgroups goes with it",
             os.path.exists(h.agent_lock[:-len(".lock")] + ".cgroups"), False)
        p = h.netacct("detach", B.path)
        h.eq("detach of B once the agent ended: exit 0", (p.returncode, p.stderr), (0, ""))
        h.eq("... and B has no program left", netacct_progs(h, B), [])

        log_files(h, A, tmp, port)


def churn(h, cg, n):
    r = subprocess.run([na.PYTHON, "-c", CHURN, cg.path, str(n)], capture_output=True, text=True, timeout=60)
    if r.returncode != 0:
        raise na.HarnessError("churn: %s" % r.stderr)


def log_files(h, A, tmp, port):
    conf = os.path.join(tmp, "log.conf")
    # -- a log directory another user can write, with a planted link ----------------
    open_dir = os.path.join(tmp, "open")
    os.mkdir(open_dir)
    os.chmod(tmp, 0o755)
    os.chmod(open_dir, 0o777)
    victim = os.path.join(tmp, "victim")
    write(victim, "root's file\n")  # the file of root's another user wants written
    logf = os.path.join(open_dir, "conn.jsonl")
    r = subprocess.run(["setpriv", "--reuid", "64397", "--regid", "64397", "--clear-groups", "ln", "-s",
                        victim, logf + ".1.gz.tmp"], capture_output=True, text=True, timeout=30)
    h.eq("another user plants conn.jsonl.1.gz.tmp -> root's file", r.returncode, 0)
    write(conf, "attach %s\nrescan 1\nlisten 127.0.0.1:%d\nlog-file %s\nlog-max-bytes 4096\nlog-keep 2\n"
          % (A.path, port, logf))
    ag = Agent(h, conf, port)
    try:
        rc = ag.p.wait(timeout=10)
    except subprocess.TimeoutExpired:
        rc = None
    if rc is None:  # it runs: let it rotate, as the code before did
        churn(h, A, 20)
        time.sleep(2)
        ag.stop()
    h.check("log-file in a directory others can write: the agent exits 1 saying why",
            rc == 1 and "writable by others" in ag.log() and open_dir in ag.log(), repr((rc, ag.log()[-400:])))
    with open(victim, "rb") as f:
        h.eq("... and the file the planted link points to is untouched", f.read()[:40], b"root's file\n")

    # -- a reload to such a directory ------------------------------------------------
    safe = os.path.join(tmp, "safe")
    write(conf, "attach %s\nrescan 1\nlisten 127.0.0.1:%d\nlog-file %s/conn.jsonl\n" % (A.path, port, safe))
    ag = Agent(h, conf, port)
    ag.wait_serving()
    write(conf, "attach %s\nrescan 1\nlisten 127.0.0.1:%d\nlog-file %s\n" % (A.path, port, logf))
    ag.p.send_signal(signal.SIGHUP)
    h.check("reload to a log directory others can write: refused, the running configuration stays",
            wait_until(lambda: "running configuration stays" in ag.log(), 5) and ag.p.poll() is None,
            ag.log()[-400:])
    churn(h, A, 2)
    h.check("... and the log goes on into the old file",
            wait_until(lambda: os.path.exists(os.path.join(safe, "conn.jsonl")) and
                       os.path.getsize(os.path.join(safe, "conn.jsonl")) > 0, 3), repr(os.listdir(safe)))
    h.eq("SIGTERM: exit 0", ag.stop(), 0)

    # -- a log file that is a link ------------------------------------------------------
    linked = os.path.join(safe, "linked.jsonl")
    os.symlink(victim, linked)
    write(conf, "attach %s\nrescan 1\nlisten 127.0.0.1:%d\nlog-file %s\n" % (A.path, port, linked))
    ag = Agent(h, conf, port)
    ag.wait_serving()
    churn(h, A, 2)
    time.sleep(1)
    h.eq("SIGTERM: exit 0", ag.stop(), 0)
    with open(victim, "rb") as f:
        h.eq("log-file that is a symbolic link: the file it points to is untouched", f.read()[:40],
             b"root's file\n")
    h.check("... and the agent said it refused the link", "symbolic link" in ag.log(), ag.log()[-400:])
    os.unlink(linked)

    # -- a log that cannot be written: said once ------------------------------------------
    def limited():
        resource.setrlimit(resource.RLIMIT_FSIZE, (400, 400))
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)

    write(conf, "attach %s\nrescan 1\nlisten 127.0.0.1:%d\nlog-file %s/full.jsonl\n" % (A.path, port, safe))
    p = subprocess.Popen([h.bin, "--pin-root", h.pin_root, "agent", "--config", conf], stdin=subprocess.DEVNULL,
                         stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, preexec_fn=limited)
    h.workers.append(na.Worker(p, "agent (file size limit)"))
    time.sleep(1.5)
    churn(h, A, 5)
    time.sleep(3)  # a dozen retries of the pending record
    p.send_signal(signal.SIGTERM)
    err = p.communicate(timeout=20)[1]
    said = [l for l in err.splitlines() if "write log file" in l]
    h.check("a log file that cannot be written: the error said once in 3 s of retries, not at each",
            len(said) == 1 and "File too large" in said[0], repr(said[:5]) + " (%d lines)" % len(said))


if __name__ == "__main__":
    main()
