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
    holding them, and they go when that process does.
"""

import ctypes
import json
import os
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import na_harness as na  # noqa: E402
from test_agent import Agent, write, wait_until  # noqa: E402


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


if __name__ == "__main__":
    main()
