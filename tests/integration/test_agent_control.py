#!/usr/bin/python3
"""The agent's hold on what it attaches, and what it leaves behind.

  * a clean exit (SIGTERM) removes the agent's lock file in /run/netacct;
    a killed agent's stale file does not stop the next one;
"""

import json
import os
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import na_harness as na  # noqa: E402
from test_agent import Agent, write, wait_until  # noqa: E402


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


if __name__ == "__main__":
    main()
