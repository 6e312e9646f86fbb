"""Integration test harness for netacct (Python 3 standard library only).

A test file builds one Harness, asks it for its own cgroups and a private pin
root, spawns workload processes into those cgroups, drives the netacct binary
and compares what netacct exports with an independent truth (``ss -tin``, the
application's own byte counts). Cleanup always runs: on normal exit, on an
exception, on SIGINT/SIGTERM/SIGHUP and on the harness's own deadline; it
removes the cgroups made inside the test's own too (`netacct run` makes its
own there, and a run that failed half-way leaves them).

    from na_harness import Harness

    h = Harness("loopback")          # exits 77 (skip) when it cannot run
    with h:
        cg = h.make_cgroup()
        h.attach(cg)
        ...
        h.eq("client tx payload", row["tx_payload_bytes"], ss.bytes_sent)
    # leaving the block prints "N passed, N failed" and exits 0/1

Result protocol: one line per check (``PASS``/``FAIL``), a last line exactly
``N passed, N failed``; exit 0 when everything passed, 1 on a failure, 77 when
the test cannot run here (not root, no BPF, no netacct binary), except under
CI=true, where a would-be skip fails (exit 1).

Building blocks:
  Harness            checks (check/eq/between), make_cgroup (netacct-test-*, or a
                     name of the test's below one: a runtime's layout),
                     spawn/workload/worker (a test file's own --worker),
                     netacct/attach/detach/export, snapshot (export + ss at an
                     idle moment), ss_settled, wait_tcp_gone, skip, cleanup
  TcpFlow, UdpFlow   a server and a client na_workload.py process; placement
                     by cgroup, optional netns and addresses (for wire tests);
                     flows_done() waits for a list of them
  main_in_tmpdir, need_tool, need_bpftool, free_id, children_of,
  LOOPBACK_EXCHANGE  what several tests need: a main() with a scratch
                     directory, skips for missing tools, a free uid/gid, the
                     children of a pid, a 100/200-byte exchange for python3 -c
  check_tcp_flow     the exact relations between a TCP flow's rows and ss
  check_udp_flow     the exact relations between a UDP flow's rows and the apps
  Export, counters*  parsed export (socket and cgroup rows), counter arithmetic
  parse_ss, ss_tcp   ``ss -tinH``

Safety rules enforced here, not left to each test:
  * cgroups are only ever created as ``netacct-test-<random>`` under the
    cgroup2 root (found in /proc/self/mountinfo) or under such a cgroup, and
    only cgroups this harness created are removed;
  * the pin root is ``/sys/fs/bpf/netacct-test-<random>``;
  * only processes this harness spawned are killed.
"""

import atexit
import csv
import io
import json
import os
import re
import secrets
import selectors
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

SKIP = 77
PYTHON = "/usr/bin/python3"
HERE = os.path.dirname(os.path.abspath(__file__))


def _abi_version():
    """NA_ABI_VERSION of bpf/netacct_abi.h: what `status` and `doctor` name."""
    with open(os.path.join(HERE, "..", "..", "bpf", "netacct_abi.h")) as f:
        m = re.search(r"^#define NA_ABI_VERSION (\d+)$", f.read(), re.M)
    return int(m.group(1))


ABI_VERSION = _abi_version()
WORKLOAD = os.path.join(HERE, "na_workload.py")
BPFFS = "/sys/fs/bpf"
TEST_PREFIX = "netacct-test-"
# The cgroup hooks netacct attaches (bpftool's attach type names), one program each.
NA_ATTACH_TYPES = frozenset({"cgroup_inet_egress", "cgroup_inet_ingress", "cgroup_inet_sock_create",
                             "cgroup_inet4_connect", "cgroup_inet6_connect",
                             "cgroup_inet_sock_release"})
NA_PROGS = len(NA_ATTACH_TYPES)

# Export columns every version of netacct must print first, in this order.
EXPORT_COLUMNS = (
    "kind,cgroup_id,cgroup,pid,comm,proto,family,laddr,lport,raddr,rport,conns,"
    "tx_packets,tx_ip_hdr_bytes,tx_l4_hdr_bytes,tx_payload_bytes,"
    "rx_packets,rx_ip_hdr_bytes,rx_l4_hdr_bytes,rx_payload_bytes").split(",")
COUNTERS = ("packets", "ip_hdr_bytes", "l4_hdr_bytes", "payload_bytes")
COUNTER_COLUMNS = tuple(d + "_" + c for d in ("tx", "rx") for c in COUNTERS)
_INT_COLUMNS = ("cgroup_id", "pid", "lport", "rport", "conns", "uid", "tx_retrans_bytes",
                "rx_dup_bytes", "srtt_us") + COUNTER_COLUMNS


class SkipTest(Exception):
    """The test cannot run on this machine (exit 77, or 1 under CI=true)."""


class HarnessError(Exception):
    """The harness or a workload failed: the test fails."""


def log(msg):
    # A closed stdout (| head) must not stop the checks or the cleanup.
    try:
        print(msg, flush=True)
    except (BrokenPipeError, OSError):
        pass


# A comm a process may choose (prctl, /proc/self/comm) to attack the
# operator's terminal: clear screen, bell. Tables and traces must show it as
# HOSTILE_COMM_SHOWN, one '?' per control character.
HOSTILE_COMM = "na\x1b[2J\x07x"
HOSTILE_COMM_SHOWN = "na?[2J?x"


def control_chars(text):
    """The control characters of a command's output, but the line ends."""
    return [ch for ch in text if ord(ch) < 0x20 and ch != "\n"]


def _rand():
    return secrets.token_hex(4)


# --------------------------------------------------------------------------
# cgroup v2
# --------------------------------------------------------------------------

def _unescape_mountinfo(s):
    """mountinfo writes space, tab, newline and backslash as \\ooo (octal)."""
    return re.sub(r"\\([0-7]{3})", lambda m: chr(int(m.group(1), 8)), s)


def cgroup2_root():
    """Mount point of the cgroup v2 hierarchy, from /proc/self/mountinfo.

    Prefers a mount of the hierarchy's root ('/'); None when not mounted.
    """
    best = None
    with open("/proc/self/mountinfo") as f:
        for line in f:
            pre, sep, post = line.partition(" - ")
            if not sep:
                continue
            fields, post = pre.split(), post.split()
            if not post or post[0] != "cgroup2" or len(fields) < 5:
                continue
            root, mnt = _unescape_mountinfo(fields[3]), _unescape_mountinfo(fields[4])
            if root == "/":
                return mnt
            best = best or mnt
    return best


def proc_cgroup2(pid="self"):
    """The cgroup v2 path of a process as /proc/PID/cgroup shows it ('0::')."""
    with open("/proc/%s/cgroup" % pid) as f:
        for line in f:
            if line.startswith("0::"):
                return line[3:].rstrip("\n")
    return None


class Cgroup:
    """A cgroup v2 directory this harness created."""

    def __init__(self, root, path):
        self.root = root
        self.path = path
        self.rel = "/" + os.path.relpath(path, root)

    @property
    def id(self):
        """cgroup id == inode number of the directory."""
        return os.stat(self.path).st_ino

    @property
    def name(self):
        return os.path.basename(self.path)

    def procs(self):
        with open(os.path.join(self.path, "cgroup.procs")) as f:
            return [int(x) for x in f.read().split()]

    def __repr__(self):
        return "Cgroup(%s)" % self.rel


# --------------------------------------------------------------------------
# ss -tin
# --------------------------------------------------------------------------

class SsSocket:
    """One TCP socket from ``ss -tinH``. Counters that ss omits are 0."""

    FIELDS = ("bytes_sent", "bytes_retrans", "bytes_acked", "bytes_received",
              "segs_out", "segs_in", "data_segs_out", "data_segs_in", "retrans")

    def __init__(self, state, laddr, lport, raddr, rport, info):
        self.state, self.laddr, self.lport = state, laddr, lport
        self.raddr, self.rport, self.info = raddr, rport, info
        for f in self.FIELDS:
            setattr(self, f, info.get(f, 0))

    def __repr__(self):
        return "SsSocket(%s %s:%d -> %s:%d %s)" % (
            self.state, self.laddr, self.lport, self.raddr, self.rport,
            " ".join("%s=%s" % (f, getattr(self, f)) for f in self.FIELDS))


def _split_addr(s):
    """'127.0.0.1:80', '[::1]:80', '127.0.0.1%lo:80' -> (addr, port)."""
    addr, _, port = s.rpartition(":")
    if addr.startswith("[") and addr.endswith("]"):
        addr = addr[1:-1]
    addr = addr.split("%", 1)[0]
    if addr.startswith("::ffff:") and "." in addr:
        addr = addr[7:]
    try:
        port = int(port)
    except ValueError:
        port = 0
    return addr, port


def _parse_info(text):
    info = {}
    for tok in text.split():
        k, sep, v = tok.partition(":")
        if sep and v.isdigit():
            info[k] = int(v)
        elif k == "retrans" and sep and "/" in v:
            # retrans:<current>/<total>
            info[k] = int(v.split("/")[1])
    return info


def parse_ss(text):
    """Parse ``ss -tinH`` output into a list of SsSocket."""
    socks, cur = [], None
    for line in text.splitlines():
        if not line.strip():
            continue
        if line[0] in " \t":
            if cur is not None:
                cur[5].update(_parse_info(line))
            continue
        parts = line.split()
        if len(parts) < 5:
            cur = None
            continue
        laddr, lport = _split_addr(parts[3])
        raddr, rport = _split_addr(parts[4])
        cur = [parts[0], laddr, lport, raddr, rport, {}]
        socks.append(cur)
    return [SsSocket(*c) for c in socks]


def ss_tcp(all_states=False, netns=None):
    """``ss -tinH`` (all states with all_states) in this or a named netns."""
    argv = (["ip", "netns", "exec", netns] if netns else []) + \
        ["ss", "-tinH"] + (["-a"] if all_states else [])
    p = subprocess.run(argv, capture_output=True, text=True, timeout=30)
    if p.returncode != 0:
        raise HarnessError("ss failed: %s" % p.stderr.strip())
    return parse_ss(p.stdout)


def ss_find(socks, laddr, lport, raddr, rport):
    for s in socks:
        if (s.laddr, s.lport, s.raddr, s.rport) == (laddr, lport, raddr, rport):
            return s
    return None


def ss_tcp_all(netns=(None,), all_states=False):
    """ss_tcp() over several network namespaces (None: the current one)."""
    out = []
    for ns in netns:
        out += ss_tcp(all_states, ns)
    return out


# Python source for `python3 -c`: exchange() opens a TCP connection over
# loopback, sends 100 bytes to the server and 200 back, and returns the
# listener, the client and the accepted socket, still open.
LOOPBACK_EXCHANGE = r"""
import socket
def exchange():
    s = socket.socket(); s.bind(("127.0.0.1", 0)); s.listen()
    c = socket.create_connection(s.getsockname()); a, _ = s.accept()
    c.sendall(b"x" * 100)
    n = 0
    while n < 100: n += len(a.recv(100 - n))
    a.sendall(b"y" * 200)
    n = 0
    while n < 200: n += len(c.recv(200 - n))
    return s, c, a
"""


def main_in_tmpdir(name, run, tag=None):
    """A test's main(): run(h, tmp) with a Harness(name) and a scratch directory
    of its own (netacct-test-TAG-...)."""
    h = Harness(name)
    run(h, h.make_tmpdir((tag or name) + "-"))


def need_tool(name, package):
    """A skip (SkipTest) where the program name is not on PATH."""
    if not shutil.which(name):
        raise SkipTest("%s not found (install %s)" % (name, package))


def need_bpftool():
    """bpftool's path (on PATH or in /usr/sbin); a skip where there is none."""
    tool = shutil.which("bpftool") or ("/usr/sbin/bpftool"
                                       if os.path.exists("/usr/sbin/bpftool") else None)
    if not tool:
        raise SkipTest("bpftool not found (install bpftool)")
    return tool


def free_id(exists, start):
    """A uid/gid number no account or group on this host uses (exists: pwd.getpwuid
    or grp.getgrgid)."""
    for n in range(start, start + 1000):
        try:
            exists(n)
        except KeyError:
            return n
    raise HarnessError("no free id from %d" % start)


def ss_settled(read, ports, settle=0.25, tries=20):
    """read() (parsed ss -tin) once two readings of the sockets on these local
    ports agree."""
    ports = set(ports)

    def key(socks):
        return sorted((s.lport, s.rport, tuple(s.info.get(f, 0) for f in SsSocket.FIELDS))
                      for s in socks if s.lport in ports)
    prev = read()
    for _ in range(tries):
        time.sleep(settle)
        cur = read()
        if key(cur) == key(prev):
            return cur
        prev = cur
    raise HarnessError("TCP sockets on ports %s never went idle" % sorted(ports))


def tcp_ports_alive(ports, netns=(None,)):
    """TCP sockets (not TIME-WAIT, not listening) between two of these ports.
    Both ends: a connection of another program on the host may use one of our
    ports as its local port (an ephemeral port is shared across destinations),
    but not both (CI once waited 20 s on such a stranger)."""
    ports = set(ports)
    return [s for s in ss_tcp_all(netns, all_states=True)
            if s.lport in ports and s.rport in ports
            and s.state not in ("TIME-WAIT", "LISTEN", "UNCONN")]


def softnet_dropped():
    """Packets the backlog queues dropped, all CPUs (/proc/net/softnet_stat col 2)."""
    total = 0
    with open("/proc/net/softnet_stat") as f:
        for line in f:
            cols = line.split()
            if len(cols) > 1:
                total += int(cols[1], 16)
    return total


# --------------------------------------------------------------------------
# netacct export
# --------------------------------------------------------------------------

def _to_int(v):
    if v is None or v == "":
        return None
    if isinstance(v, int):
        return v
    try:
        return int(v)
    except ValueError:
        return v


def normalize_row(row):
    out = dict(row)
    for k in _INT_COLUMNS:
        if k in out:
            out[k] = _to_int(out[k])
    for k in ("laddr", "raddr", "cgroup", "comm", "proto", "family", "kind"):
        if out.get(k) is None:
            out[k] = ""
        elif not isinstance(out[k], str):
            out[k] = str(out[k])
    return out


def parse_export_csv(text):
    """CSV export -> list of dicts (integers converted, empty -> None)."""
    lines = text.splitlines()
    if not lines:
        raise HarnessError("export printed nothing (not even a header)")
    header = lines[0].split(",")
    if header[:len(EXPORT_COLUMNS)] != list(EXPORT_COLUMNS):
        raise HarnessError("export CSV header is %r, expected it to start with %r"
                           % (lines[0], ",".join(EXPORT_COLUMNS)))
    return [normalize_row(r) for r in csv.DictReader(io.StringIO(text))]


def parse_export_json(text):
    return [normalize_row(json.loads(line)) for line in text.splitlines() if line.strip()]


class Export:
    """One netacct export: socket rows and cgroup rows."""

    def __init__(self, rows):
        self.rows = rows
        self.sockets = [r for r in rows if r["kind"] == "socket"]
        self.cgroups = [r for r in rows if r["kind"] == "cgroup"]

    def cgroup(self, cg):
        """The kind=cgroup row of an attached cgroup (Cgroup or id), or None."""
        cgid = cg.id if isinstance(cg, Cgroup) else cg
        for r in self.cgroups:
            if r["cgroup_id"] == cgid:
                return r
        return None

    def socket(self, proto, laddr, lport, raddr="", rport=None):
        """The kind=socket row with this 4-tuple (raddr ''/rport None: no one
        peer; an unconnected socket with one peer shows it, see one_peer())."""
        found = [r for r in self.sockets
                 if r["proto"] == proto and r["laddr"] == laddr and r["lport"] == lport
                 and (r["raddr"] or "") == (raddr or "")
                 and (r["rport"] or None) == (rport or None)]
        if len(found) > 1:
            raise HarnessError("%d socket rows for %s %s:%s %s:%s"
                               % (len(found), proto, laddr, lport, raddr, rport))
        return found[0] if found else None

    def sockets_with_port(self, ports):
        ports = set(ports)
        return [r for r in self.sockets if r["lport"] in ports]


def one_peer(addr, port):
    """The peer an unconnected UDP socket's row shows while it has one: the
    address, and the port only when it is a well-known one (below 1024)."""
    return addr, (port if port and port < 1024 else None)


def counters(row):
    """The eight counters of a row as a dict (zeros for a missing row)."""
    return {k: (row[k] if row and row.get(k) is not None else 0) for k in COUNTER_COLUMNS}


def counters_sum(rows):
    tot = {k: 0 for k in COUNTER_COLUMNS}
    for r in rows:
        for k, v in counters(r).items():
            tot[k] += v
    return tot


def counters_sub(a, b):
    return {k: a[k] - b[k] for k in COUNTER_COLUMNS}


# --------------------------------------------------------------------------
# workload processes
# --------------------------------------------------------------------------

class Worker:
    """A spawned process that speaks JSON lines on stdout, commands on stdin."""

    def __init__(self, popen, label):
        self.p, self.label = popen, label
        self.buf = b""
        self.events = []
        self.pending = []  # messages read by poll(), not yet taken by expect()

    @property
    def pid(self):
        return self.p.pid

    def send(self, cmd):
        self.p.stdin.write((cmd + "\n").encode())
        self.p.stdin.flush()

    def _readline(self, deadline):
        fd = self.p.stdout.fileno()
        while b"\n" not in self.buf:
            left = deadline - time.monotonic()
            if left <= 0:
                raise HarnessError("%s: timed out waiting for output" % self.label)
            sel = selectors.DefaultSelector()
            sel.register(fd, selectors.EVENT_READ)
            ready = sel.select(min(left, 1.0))
            sel.close()
            if not ready:
                continue
            chunk = os.read(fd, 65536)
            if not chunk:
                rc = self.p.wait(timeout=5)
                raise HarnessError("%s: exited (status %s) before the expected output"
                                   % (self.label, rc))
            self.buf += chunk
        line, _, self.buf = self.buf.partition(b"\n")
        return line.decode()

    def _message(self, line):
        try:
            msg = json.loads(line)
        except ValueError:
            log("# %s: %s" % (self.label, line))
            return None
        self.events.append(msg)
        if msg.get("event") == "error":
            raise HarnessError("%s: %s" % (self.label, msg.get("message")))
        return msg

    def expect(self, event, timeout=60):
        """Wait for {"event": event, ...}; an {"event": "error"} fails at once."""
        while self.pending:
            msg = self.pending.pop(0)
            if msg.get("event") == event:
                return msg
        deadline = time.monotonic() + timeout
        while True:
            msg = self._message(self._readline(deadline))
            if msg is not None and msg.get("event") == event:
                return msg

    def poll(self, event):
        """Whether {"event": event} has been printed by now (without waiting);
        expect() then returns it. An {"event": "error"} fails at once."""
        fd = self.p.stdout.fileno()
        sel = selectors.DefaultSelector()
        sel.register(fd, selectors.EVENT_READ)
        while sel.select(0):
            chunk = os.read(fd, 65536)
            if not chunk:
                break   # exited: expect() reports it
            self.buf += chunk
        sel.close()
        while b"\n" in self.buf:
            line, _, self.buf = self.buf.partition(b"\n")
            msg = self._message(line.decode())
            if msg is not None:
                self.pending.append(msg)
        return any(m.get("event") == event for m in self.pending)

    def close(self, timeout=30):
        """Ask the worker to close its sockets; returns its 'closed' message."""
        self.send("close")
        return self.expect("closed", timeout)

    def finish(self, timeout=30):
        """Let the worker exit (stdin EOF) and reap it; a non-zero exit fails."""
        try:
            self.p.stdin.close()
        except OSError:
            pass
        rc = self.p.wait(timeout=timeout)
        if rc != 0:
            raise HarnessError("%s exited with status %d" % (self.label, rc))
        return rc


# --------------------------------------------------------------------------
# the harness
# --------------------------------------------------------------------------

class Harness:
    """Fixtures, netacct driver, checks and guaranteed cleanup for one test file."""

    def __init__(self, name, deadline=None):
        self.name = name
        self.passed = 0
        self.failed = 0
        self.cgroups = []       # created by us, in creation order
        self.workers = []       # Worker objects we spawned
        self.tmpdirs = []       # make_tmpdir()
        self.pin_root = os.path.join(BPFFS, TEST_PREFIX + _rand())
        self.bin = os.environ.get("NETACCT_BIN", "")
        self.cg_root = None
        self._cleaned = False
        self._ci = os.environ.get("CI", "").lower() == "true"
        self._deadline = deadline or int(os.environ.get("NETACCT_TEST_DEADLINE", "150"))
        try:
            self._preflight()
        except SkipTest as e:
            self.skip(str(e))
        atexit.register(self.cleanup)
        for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            signal.signal(sig, self._on_signal)
        signal.signal(signal.SIGALRM, self._on_alarm)
        signal.alarm(self._deadline)
        log("# %s: netacct=%s pin_root=%s cgroup2=%s" % (name, self.bin, self.pin_root,
                                                        self.cg_root))

    # -- skip / preflight -------------------------------------------------

    def skip(self, reason):
        """Stop here as a skip (exit 77), a failure under CI=true. Inside the
        ``with`` block, raising SkipTest does the same after cleanup."""
        signal.alarm(0)
        self.cleanup()
        if self._ci:
            log("FAIL: cannot run under CI=true: %s" % reason)
            log("0 passed, 1 failed")
            sys.exit(1)
        log("SKIP: %s" % reason)
        log("0 passed, 0 failed")
        sys.exit(SKIP)

    def _preflight(self):
        if os.geteuid() != 0:
            raise SkipTest("not root (need CAP_BPF, CAP_NET_ADMIN, cgroup write access)")
        if not self.bin:
            raise SkipTest("NETACCT_BIN is not set")
        if not (os.path.isfile(self.bin) and os.access(self.bin, os.X_OK)):
            raise SkipTest("NETACCT_BIN=%s is not an executable file" % self.bin)
        self.cg_root = cgroup2_root()
        if not self.cg_root:
            raise SkipTest("no cgroup2 hierarchy in /proc/self/mountinfo")
        if not os.path.ismount(BPFFS):
            raise SkipTest("bpffs is not mounted at %s" % BPFFS)
        if not os.path.exists("/proc/sys/net/core/bpf_jit_enable") and \
                not os.path.exists("/sys/kernel/btf/vmlinux"):
            raise SkipTest("kernel without BPF support")
        for tool in ("ss",):
            if not shutil.which(tool):
                raise SkipTest("%s not found (install iproute2)" % tool)

    # -- checks -----------------------------------------------------------

    def _report(self, what, ok, shown):
        if ok:
            self.passed += 1
        else:
            self.failed += 1
        log("%s: %s%s" % ("PASS" if ok else "FAIL", what,
                          (" (%s)" % shown) if ok and shown else
                          (": %s" % shown) if shown else ""))
        return bool(ok)

    def check(self, what, ok, detail=""):
        """One check; detail is printed when it fails."""
        return self._report(what, ok, "" if ok else detail)

    def eq(self, what, actual, expected):
        ok = actual == expected
        return self._report(what, ok, "%r" % (actual,) if ok
                            else "actual %r, expected %r" % (actual, expected))

    def between(self, what, actual, lo, hi):
        ok = lo <= actual <= hi
        return self._report(what, ok, "%r in [%r, %r]" % (actual, lo, hi) if ok
                            else "actual %r, expected in [%r, %r]" % (actual, lo, hi))

    def note(self, msg):
        log("# " + msg)

    # -- lifetime ---------------------------------------------------------

    def __enter__(self):
        return self

    def __exit__(self, et, ev, tb):
        if et is not None and issubclass(et, SkipTest):
            self.skip(str(ev))
        if et is not None and not issubclass(et, SystemExit):
            self.failed += 1
            if issubclass(et, HarnessError):
                log("FAIL: %s" % ev)
            else:
                import traceback
                log("FAIL: unexpected %s: %s" % (et.__name__, ev))
                traceback.print_exception(et, ev, tb, file=sys.stdout)
        if et is not None and issubclass(et, SystemExit):
            return False
        self.finish()
        return True  # finish() exits

    def finish(self):
        signal.alarm(0)
        self.cleanup()
        log("%d passed, %d failed" % (self.passed, self.failed))
        sys.stdout.flush()
        sys.exit(0 if self.failed == 0 and self.passed > 0 else 1)

    def _on_signal(self, signum, frame):
        log("FAIL: interrupted by signal %d" % signum)
        self.failed += 1
        self.cleanup()
        log("%d passed, %d failed" % (self.passed, self.failed))
        os._exit(1)

    def _on_alarm(self, signum, frame):
        raise HarnessError("test deadline of %ds exceeded" % self._deadline)

    def cleanup(self):
        """Kill our workers, detach everything, remove the pin root and cgroups."""
        if self._cleaned:
            return
        self._cleaned = True
        signal.alarm(0)
        for w in self.workers:
            if w.p.poll() is None:
                try:
                    w.p.kill()
                except ProcessLookupError:
                    pass
            try:
                w.p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                log("# cleanup: worker %d (%s) did not exit" % (w.pid, w.label))
            for f in (w.p.stdin, w.p.stdout):
                try:
                    f and f.close()
                except OSError:
                    pass
        if os.path.exists(self.pin_root):
            try:
                p = self.netacct("detach", "--all", timeout=30)
                if p.returncode != 0:
                    log("# cleanup: netacct detach --all: status %d: %s"
                        % (p.returncode, p.stderr.strip()))
            except Exception as e:  # still remove what we can
                log("# cleanup: netacct detach --all: %s" % e)
        if os.path.lexists(self.pin_root):
            # Unpinning links detaches their programs; removing the tree is the
            # fallback when the binary could not do it.
            try:
                shutil.rmtree(self.pin_root)
            except OSError as e:
                log("# cleanup: rm %s: %s" % (self.pin_root, e))
        for cg in reversed(self.cgroups):
            self._rmdir_cgroup(cg)
        self.cgroups = []
        for d in self.tmpdirs:
            shutil.rmtree(d, ignore_errors=True)
        self.tmpdirs = []
        # An agent on our pin root records its history into a file named after it.
        for ext in ("", "-wal", "-shm"):
            if os.path.exists(self.history_db + ext):
                try:
                    os.unlink(self.history_db + ext)
                except OSError as e:
                    log("# cleanup: rm %s: %s" % (self.history_db + ext, e))
        # An agent on our pin root that was killed leaves its lock behind.
        if os.path.exists(self.agent_lock):
            try:
                os.unlink(self.agent_lock)
            except OSError as e:
                log("# cleanup: rm %s: %s" % (self.agent_lock, e))

    def make_tmpdir(self, tag=""):
        """A scratch directory (netacct-test-TAG...), removed at cleanup."""
        d = tempfile.mkdtemp(prefix=TEST_PREFIX + tag)
        self.tmpdirs.append(d)
        return d

    @property
    def agent_lock(self):
        """The lock file an agent takes for our pin root (cli/cmd_agent.c,
        na_agent_lock_path: '%' as %25 and '/' as %2F)."""
        return "/run/netacct/agent%s.lock" % self.pin_root.replace("%", "%25").replace("/", "%2F")

    @property
    def history_db(self):
        """The history database an agent of our pin root writes when its
        configuration names none (agent/history.c, na_history_default_path)."""
        return "/var/lib/netacct/history%s.db" % self.pin_root.replace("%", "%25").replace("/", "%2F")

    def _rmdir_cgroup(self, cg):
        # Cgroups made inside ours (`netacct run` makes its own) first, the deepest first:
        # a run that failed half-way leaves them, and ours cannot go while they stay.
        for root, dirs, _ in os.walk(cg.path, topdown=False):
            for d in dirs:
                try:
                    os.rmdir(os.path.join(root, d))
                except OSError as e:
                    log("# cleanup: rmdir %s: %s" % (os.path.join(root, d), e))
        for _ in range(50):
            try:
                os.rmdir(cg.path)
                return
            except FileNotFoundError:
                return
            except OSError:
                time.sleep(0.1)
        try:
            left = cg.procs()
        except OSError:
            left = "?"
        log("# cleanup: could not remove cgroup %s (processes: %s)" % (cg.path, left))

    # -- cgroups ------------------------------------------------------------

    def make_cgroup(self, parent=None, name=None):
        """Create netacct-test-<random> under the cgroup2 root or under parent.

        name: a directory name of the test's choosing (a runtime's layout,
        "kubepods.slice"), only under a parent of ours, so that every cgroup
        the harness makes is at or below a netacct-test-* one.
        """
        base = parent.path if parent else self.cg_root
        if parent is not None and parent not in self.cgroups:
            raise HarnessError("refusing to create a cgroup under %s: not ours" % parent)
        if name is not None and (parent is None or not name or "/" in name or name in (".", "..")):
            raise HarnessError("refusing to create cgroup %r: a name of one's own goes under a "
                               "cgroup of ours" % name)
        path = os.path.join(base, name if name is not None else TEST_PREFIX + _rand())
        os.mkdir(path)
        cg = Cgroup(self.cg_root, path)
        self.cgroups.append(cg)
        return cg

    def remove_cgroup(self, cg):
        """Remove one of our cgroups now (it must be empty, children first)."""
        if cg not in self.cgroups:
            raise HarnessError("refusing to remove %s: not ours" % cg)
        os.rmdir(cg.path)
        self.cgroups.remove(cg)

    # -- processes ----------------------------------------------------------

    def spawn(self, argv, cgroup=None, label=None, stderr=None, netns=None, env=None):
        """Start argv with piped stdin/stdout, inside cgroup when given.

        The child is moved by a tiny /usr/bin/python3 wrapper that writes its
        own pid into cgroup.procs and then execs argv, so the workload never
        runs a single instruction outside its cgroup. netns: run it through
        ``ip netns exec NETNS`` (which execs, keeping the pid and the cgroup).
        env: variables added to the environment.
        """
        if netns:
            argv = ["ip", "netns", "exec", netns] + list(argv)
        if cgroup is not None:
            if cgroup not in self.cgroups:
                raise HarnessError("refusing to spawn into %s: not ours" % cgroup)
            argv = [PYTHON, "-c",
                    "import os,sys\n"
                    "with open(sys.argv[1], 'w') as f: f.write(str(os.getpid()))\n"
                    "os.execvp(sys.argv[2], sys.argv[2:])",
                    os.path.join(cgroup.path, "cgroup.procs")] + list(argv)
        p = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                             stderr=stderr, env=dict(os.environ, **(env or {})))
        w = Worker(p, label or os.path.basename(argv[-1]))
        self.workers.append(w)
        return w

    def workload(self, role, *args, cgroup=None, label=None, netns=None, env=None):
        """Spawn na_workload.py ROLE ARGS; returns the Worker after its 'hello'.

        The hello message carries the worker's cgroup as it sees it, which is
        checked against the requested cgroup.
        """
        w = self.spawn([PYTHON, WORKLOAD, role] + [str(a) for a in args],
                       cgroup=cgroup, label=label or role, netns=netns, env=env)
        return self._greeted(w, cgroup)

    def worker(self, script, cgroup, label, *args, netns=None, hello=True):
        """A test file's own worker: script run as "--worker ARGS" in cgroup;
        with hello, returned after its 'hello' (checked as workload() does)."""
        w = self.spawn([PYTHON, script, "--worker"] + [str(a) for a in args],
                       cgroup=cgroup, label=label, netns=netns)
        return self._greeted(w, cgroup) if hello else w

    def _greeted(self, w, cgroup):
        """w after its 'hello', which must name the cgroup it was put in."""
        hello = w.expect("hello", 30)
        want = cgroup.rel if cgroup else proc_cgroup2()
        if hello.get("cgroup") != want:
            raise HarnessError("%s runs in cgroup %r, expected %r"
                               % (w.label, hello.get("cgroup"), want))
        return w

    # -- netacct --------------------------------------------------------------

    def netacct(self, *args, timeout=60, pin_root=True, env=None):
        """Run the binary with our pin root (env: more variables); returns CompletedProcess (text)."""
        argv = [self.bin] + (["--pin-root", self.pin_root] if pin_root else []) + list(args)
        env = dict(os.environ, NETACCT_PIN_ROOT=self.pin_root, **(env or {}))
        return subprocess.run(argv, capture_output=True, text=True, timeout=timeout, env=env)

    def netacct_ok(self, *args, timeout=60, env=None):
        p = self.netacct(*args, timeout=timeout, env=env)
        if p.returncode != 0:
            raise HarnessError("netacct %s: exit %d\nstdout: %s\nstderr: %s"
                               % (" ".join(args), p.returncode, p.stdout.strip(),
                                  p.stderr.strip()))
        return p

    def attach(self, *cgroups, extra=()):
        return self.netacct_ok("attach", *(list(extra) + [c.path for c in cgroups]))

    def detach(self, *cgroups):
        return self.netacct_ok("detach", *[c.path for c in cgroups])

    def export(self, *cgroups):
        p = self.netacct_ok("export", "--csv", *[c.path for c in cgroups])
        return Export(parse_export_csv(p.stdout))

    def export_json(self, *cgroups):
        p = self.netacct_ok("export", "--json", *[c.path for c in cgroups])
        return Export(parse_export_json(p.stdout))

    def raw_socket_rows(self):
        """na_socks as bpftool dumps it: [{cookie, acct_token, flags, state}]
        (the head of struct na_row), for diagnostics export does not show; []
        without bpftool or on error."""
        tool = shutil.which("bpftool") or ("/usr/sbin/bpftool"
                                           if os.path.exists("/usr/sbin/bpftool") else None)
        if not tool:
            return []
        p = subprocess.run([tool, "-j", "map", "dump", "pinned",
                            os.path.join(self.pin_root, "na_socks")],
                           capture_output=True, text=True, timeout=60)
        if p.returncode != 0:
            return []
        out = []
        for e in json.loads(p.stdout or "[]"):
            v = bytes(int(b, 16) for b in e["value"])
            out.append({"cookie": int.from_bytes(v[0:8], "little"),
                        "acct_token": int.from_bytes(v[8:16], "little"),
                        "flags": int.from_bytes(v[16:20], "little"),
                        "state": v[22]})
        return out

    @staticmethod
    def prog_stats(prog_id):
        """run_cnt and recursion_misses of program prog_id (bpftool; None when
        unknown), for diagnostics."""
        tool = shutil.which("bpftool") or ("/usr/sbin/bpftool"
                                           if os.path.exists("/usr/sbin/bpftool") else None)
        if not tool or prog_id is None:
            return None
        p = subprocess.run([tool, "-j", "prog", "show", "id", str(prog_id)], capture_output=True,
                           text=True, timeout=30)
        if p.returncode != 0:
            return None
        info = json.loads(p.stdout)
        return {k: info.get(k, 0) for k in ("run_cnt", "recursion_misses")}

    def link_prog_stats(self, name):
        """run_cnt and recursion_misses of the program behind the link pinned
        as <pin root>/name (bpftool; None when unknown), for diagnostics."""
        tool = shutil.which("bpftool") or ("/usr/sbin/bpftool"
                                           if os.path.exists("/usr/sbin/bpftool") else None)
        if not tool:
            return None
        p = subprocess.run([tool, "-j", "link", "show", "pinned", os.path.join(self.pin_root, name)],
                           capture_output=True, text=True, timeout=30)
        if p.returncode != 0:
            return None
        return self.prog_stats(json.loads(p.stdout).get("prog_id"))

    @staticmethod
    def kernel_sockets_by_cookie(cookies):
        """The `ss -aneip` lines (TCP and UDP, this network namespace) of the
        sockets whose cookie is in cookies: does the kernel still hold them?"""
        want = {"sk:%x" % c for c in cookies}
        p = subprocess.run(["ss", "-tuaneip"], capture_output=True, text=True, timeout=60)
        lines = p.stdout.splitlines()
        return [" ".join(lines[i:i + 2]) for i, l in enumerate(lines)
                if any(w in l.split() for w in want)]

    def bpftool_cgroup_progs(self, cg):
        """Programs bpftool sees attached to cg (list of dicts), None without bpftool."""
        tool = shutil.which("bpftool") or ("/usr/sbin/bpftool"
                                           if os.path.exists("/usr/sbin/bpftool") else None)
        if not tool:
            return None
        p = subprocess.run([tool, "-j", "cgroup", "show", cg.path], capture_output=True,
                           text=True, timeout=30)
        if p.returncode != 0:
            raise HarnessError("bpftool cgroup show %s: %s" % (cg.path, p.stderr.strip()))
        out = p.stdout.strip()
        return json.loads(out) if out else []

    # -- quiescent snapshots --------------------------------------------------

    def snapshot(self, ports, settle=0.2, tries=20, netns=(None,)):
        """(Export, ss sockets) taken while the flows on these ports are idle.

        Export, ss, export again: if the rows of the flows did not change between
        the two exports, ss was read at a moment when netacct's counters were
        exactly those, so the two can be compared exactly.
        """
        ports = set(ports)
        for _ in range(tries):
            time.sleep(settle)
            e1 = self.export()
            s = ss_tcp_all(netns)
            e2 = self.export()
            k1 = sorted((r["proto"], r["lport"], r["rport"] or 0, tuple(counters(r).values()))
                        for r in e1.sockets_with_port(ports))
            k2 = sorted((r["proto"], r["lport"], r["rport"] or 0, tuple(counters(r).values()))
                        for r in e2.sockets_with_port(ports))
            if k1 == k2 and [counters(r) for r in e1.cgroups] == \
                    [counters(r) for r in e2.cgroups]:
                return e2, s
        raise HarnessError("flows on ports %s never went idle" % sorted(ports))

    def ss_settled(self, ports, settle=0.25, tries=20, netns=(None,)):
        """ss -tin once the TCP sockets on these ports stopped changing (pending
        delayed ACKs sent); for moments when netacct is not attached."""
        return ss_settled(lambda: ss_tcp_all(netns), ports, settle, tries)

    def wait_tcp_gone(self, ports, timeout=20, netns=(None,)):
        """Wait until no socket except TIME-WAIT uses these local ports."""
        deadline = time.monotonic() + timeout
        while True:
            alive = tcp_ports_alive(ports, netns)
            if not alive:
                return
            if time.monotonic() > deadline:
                raise HarnessError("sockets still open: %s" % alive)
            time.sleep(0.05)


def free_port():
    """A TCP port on 127.0.0.1 that was free a moment ago (for a server a test starts)."""
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def family_addr(family):
    return "127.0.0.1" if int(family) == 4 else "::1"


def family_matches(value, family):
    """Export family column ('ipv4', '4', 'inet', ...) against 4 or 6."""
    v = str(value).lower()
    return v in (("4", "ipv4", "inet", "ip") if int(family) == 4 else ("6", "ipv6", "inet6"))


def ip_hdr_len(family):
    return 20 if int(family) == 4 else 40


def tcp_standard_options():
    """True when SYN/data header sizes are predictable: timestamps, SACK and
    window scaling on, so a SYN or SYN-ACK has a 40-byte TCP header and every
    other segment without SACK blocks has 32 bytes."""
    want = {"tcp_timestamps": "1", "tcp_sack": "1", "tcp_window_scaling": "1"}
    try:
        for k, v in want.items():
            with open("/proc/sys/net/ipv4/" + k) as f:
                if f.read().strip() != v:
                    return False
    except OSError:
        return False
    return True


# --------------------------------------------------------------------------
# flows: a pair of workload processes, and the exact checks on their rows
# --------------------------------------------------------------------------

def _placement(where):
    """Flow keyword options -> (server workload kw, client workload kw, netns tuple).

    server_addr / client_addr: addresses to bind (default loopback; the client
    sends to server_addr); server_netns / client_netns: network namespaces.
    """
    unknown = set(where) - {"server_addr", "client_addr", "server_netns", "client_netns"}
    if unknown:
        raise TypeError("unknown flow options %s" % sorted(unknown))
    env_s, env_c = {}, {}
    if where.get("server_addr"):
        env_s["NA_BIND_ADDR"] = env_c["NA_PEER_ADDR"] = where["server_addr"]
    if where.get("client_addr"):
        env_c["NA_BIND_ADDR"] = where["client_addr"]
    ns_s, ns_c = where.get("server_netns"), where.get("client_netns")
    netns = tuple(dict.fromkeys([ns_s, ns_c]))
    return dict(netns=ns_s, env=env_s), dict(netns=ns_c, env=env_c), netns


class _Flow:
    """What a TCP and a UDP flow share: a client and a server worker."""

    @property
    def ports(self):
        return {self.port, self.cready["lport"]}

    def wait_done(self, timeout=120):
        self.cdone = self.client.expect("done", timeout)
        self.sdone = self.server.expect("done", timeout)
        return self

    def _end_workers(self):
        self.client.close()
        self.server.close()
        self.client.finish()
        self.server.finish()


class TcpFlow(_Flow):
    """One TCP connection between a tcp-server and a tcp-client worker.

    mode/client_args/server_args as na_workload.py takes them. The sockets
    stay open after the exchange until close() is called, so ss and netacct
    can be compared on live sockets. Keyword options (see _placement):
    server_addr, client_addr, server_netns, client_netns; pass
    netns=flow.netns to Harness.snapshot() for flows in other namespaces.
    """

    def __init__(self, h, family, mode, client_args, server_args, client_cg=None,
                 server_cg=None, label="tcp", **where):
        self.h, self.family, self.label = h, int(family), label
        self.client_cg, self.server_cg = client_cg, server_cg
        kw_s, kw_c, self.netns = _placement(where)
        self.server = h.workload("tcp-server", family, mode, *server_args,
                                 cgroup=server_cg, label=label + " server", **kw_s)
        self.port = self.server.expect("listening")["port"]
        self.client = h.workload("tcp-client", family, self.port, mode, *client_args,
                                 cgroup=client_cg, label=label + " client", **kw_c)
        self.cready = self.client.expect("ready")
        self.sready = self.server.expect("ready")
        self.cdone = self.sdone = None

    def close(self):
        """Client closes first (its side goes to TIME-WAIT), then the server."""
        self._end_workers()
        self.h.wait_tcp_gone(self.ports, netns=self.netns)

    def client_tuple(self):
        c = self.cready
        return (c["laddr"], c["lport"], c["raddr"], c["rport"])

    def server_tuple(self):
        s = self.sready
        return (s["laddr"], s["lport"], s["raddr"], s["rport"])


class UdpFlow(_Flow):
    """A udp-server (unconnected) and a udp-client (connected or not) worker."""

    def __init__(self, h, family, count, how, client_cg=None, server_cg=None, label="udp",
                 **where):
        self.h, self.family, self.label, self.how = h, int(family), label, how
        self.client_cg, self.server_cg = client_cg, server_cg
        kw_s, kw_c, self.netns = _placement(where)
        self.server = h.workload("udp-server", family, count, cgroup=server_cg,
                                 label=label + " server", **kw_s)
        self.port = self.server.expect("listening")["port"]
        self.sready = self.server.expect("ready")
        self.client = h.workload("udp-client", family, self.port, count, how,
                                 cgroup=client_cg, label=label + " client", **kw_c)
        self.cready = self.client.expect("ready")
        self.cdone = self.sdone = None

    def close(self):
        self._end_workers()


def children_of(pid):
    """The pids whose parent is pid (from /proc/PID/stat)."""
    kids = []
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % d) as f:
                st = f.read()
        except OSError:
            continue
        if int(st.rsplit(")", 1)[1].split()[1]) == pid:
            kids.append(int(d))
    return kids


def flows_done(flows):
    """Wait for every flow's "done"; the local ports of them all."""
    for f in flows:
        f.wait_done()
    return set().union(*(f.ports for f in flows))


def check_row_cgroup(h, label, row, cg):
    """A socket row names the socket's own (leaf) cgroup, by id and by path."""
    h.eq("%s row cgroup_id == its cgroup's inode" % label, row["cgroup_id"], cg.id)
    h.eq("%s row cgroup path" % label, row["cgroup"], cg.rel)


def check_hdrs(h, label, row, family, proto):
    """Per-packet header bytes: IP header exact; UDP header 8 per packet."""
    ip = ip_hdr_len(family)
    for d in ("tx", "rx"):
        h.eq("%s %s_ip_hdr_bytes == %d x %s_packets" % (label, d, ip, d),
             row[d + "_ip_hdr_bytes"], ip * row[d + "_packets"])
        if proto == "udp":
            h.eq("%s %s_l4_hdr_bytes == 8 x %s_packets" % (label, d, d),
                 row[d + "_l4_hdr_bytes"], 8 * row[d + "_packets"])


def check_tcp_flow(h, flow, exp, socks, client_in=True, server_in=True, drops=False):
    """Exact per-socket checks of one TcpFlow against ss, taken at one idle moment.

    For the client socket (it sent the SYN, so its cookie carries every segment
    it ever sent or received):
        tx_packets == segs_out, rx_packets == segs_in, tx_payload == bytes_sent.
    For the accepted socket, the SYN in, the SYN-ACK out and the handshake's
    final ACK carry the LISTENER's cookie; the child's segs_out never counted
    the SYN-ACK but its segs_in counts the SYN and that ACK:
        tx_packets == segs_out, rx_packets == segs_in - 2, tx_payload == bytes_sent.
    The listener row: 1 packet out (SYN-ACK), 2 in (SYN, ACK), no payload.
    Both: rx_payload == peer's bytes_sent (retransmitted duplicates arrive and
    are counted; loopback drops nothing unless softnet_stat says so, `drops`),
    and never less than our bytes_received. When bytes_retrans == 0 the payload
    is exactly what the application wrote.
    Returns {"client": row, "server": row, "listener": row} (rows may be None).
    """
    L = flow.label
    ct, st = flow.client_tuple(), flow.server_tuple()
    ss_c, ss_s = ss_find(socks, *ct), ss_find(socks, *st)
    if ss_c is None or ss_s is None:
        raise HarnessError("%s: ss does not show the connection %s / %s" % (L, ct, st))
    rows = {"client": exp.socket("tcp", *ct), "server": exp.socket("tcp", *st),
            "listener": exp.socket("tcp", st[0], st[1])}
    std = tcp_standard_options()
    sides = (("client", client_in, ss_c, ss_s, flow.cdone, 0, 8),
             ("server", server_in, ss_s, ss_c, flow.sdone, 2, 0))
    for side, inside, me, peer, done, hs_in, syn_extra in sides:
        row, lbl = rows[side], "%s %s" % (L, side)
        cg = flow.client_cg if side == "client" else flow.server_cg
        if not inside:
            h.check("%s (outside the attached cgroup) has no socket row" % lbl, row is None,
                    "row %r" % (row,))
            continue
        if not h.check("%s has a socket row" % lbl, row is not None,
                       "no tcp row %s:%s -> %s:%s" % (me.laddr, me.lport, me.raddr, me.rport)):
            continue
        h.note("%s ss: %r" % (lbl, me))
        check_row_cgroup(h, lbl, row, cg)
        h.eq("%s tx_payload_bytes == ss bytes_sent" % lbl, row["tx_payload_bytes"], me.bytes_sent)
        h.eq("%s tx_packets == ss segs_out" % lbl, row["tx_packets"], me.segs_out)
        h.eq("%s rx_packets == ss segs_in - %d" % (lbl, hs_in), row["rx_packets"],
             me.segs_in - hs_in)
        if drops:
            h.between("%s rx_payload_bytes within [bytes_received, peer bytes_sent] "
                      "(softnet drops seen)" % lbl, row["rx_payload_bytes"],
                      me.bytes_received, peer.bytes_sent)
        else:
            h.eq("%s rx_payload_bytes == peer ss bytes_sent" % lbl, row["rx_payload_bytes"],
                 peer.bytes_sent)
        h.check("%s rx_payload_bytes >= ss bytes_received" % lbl,
                row["rx_payload_bytes"] >= me.bytes_received,
                "%d vs %d" % (row["rx_payload_bytes"], me.bytes_received))
        if me.bytes_retrans == 0:
            h.eq("%s tx_payload_bytes == application bytes written (no retransmits)" % lbl,
                 row["tx_payload_bytes"], done["sent"])
        else:
            h.eq("%s tx_payload_bytes == application bytes + ss bytes_retrans" % lbl,
                 row["tx_payload_bytes"], done["sent"] + me.bytes_retrans)
        h.eq("%s application received == ss bytes_received" % lbl, done["received"],
             me.bytes_received)
        if "tx_retrans_bytes" in row:
            # Re-sent payload below the highest sequence already sent: exactly
            # what the kernel counts as retransmitted (TLPs included).
            h.eq("%s tx_retrans_bytes == ss bytes_retrans" % lbl, row["tx_retrans_bytes"],
                 me.bytes_retrans)
            # Duplicates received: the peer's retransmissions that arrived
            # again; loopback loses nothing, so all of them unless drops.
            if drops:
                h.between("%s rx_dup_bytes within [0, peer bytes_retrans]" % lbl,
                          row["rx_dup_bytes"], 0, peer.bytes_retrans)
            else:
                h.eq("%s rx_dup_bytes == peer ss bytes_retrans" % lbl, row["rx_dup_bytes"],
                     peer.bytes_retrans)
        check_hdrs(h, lbl, row, flow.family, "tcp")
        if std:
            # Timestamps on every segment: at least 32 bytes, 40 for the client's
            # SYN and the SYN-ACK it received. SACK blocks (reordering between
            # CPUs happens even on loopback) add 12/20/28 bytes to some ACKs.
            for d in ("tx", "rx"):
                pk, l4 = row[d + "_packets"], row[d + "_l4_hdr_bytes"]
                h.between("%s %s_l4_hdr_bytes in [32 x packets + %d, 60 x packets]"
                          % (lbl, d, syn_extra), l4, 32 * pk + syn_extra, 60 * pk)
                h.eq("%s %s_l4_hdr_bytes is a multiple of 4" % (lbl, d), l4 % 4, 0)
        else:
            h.check("%s l4 header bytes >= 20 per packet" % lbl,
                    row["tx_l4_hdr_bytes"] >= 20 * row["tx_packets"] and
                    row["rx_l4_hdr_bytes"] >= 20 * row["rx_packets"])
        h.check("%s family column says IPv%d" % (lbl, flow.family),
                family_matches(row["family"], flow.family), "family %r" % row["family"])
    if client_in and rows["client"] is not None:
        h.eq("%s client row pid == connect() caller" % L, rows["client"]["pid"],
             flow.client.pid)
    lrow = rows["listener"]
    if server_in:
        if h.check("%s listener row (raddr/rport empty)" % L, lrow is not None,
                   "no tcp row %s:%s with empty peer" % st[:2]):
            h.eq("%s listener tx_packets (SYN-ACK)" % L, lrow["tx_packets"], 1)
            h.eq("%s listener rx_packets (SYN, ACK)" % L, lrow["rx_packets"], 2)
            h.eq("%s listener payload" % L, (lrow["tx_payload_bytes"],
                                             lrow["rx_payload_bytes"]), (0, 0))
            check_hdrs(h, L + " listener", lrow, flow.family, "tcp")
            if std:
                h.eq("%s listener l4 bytes (SYN-ACK 40 / SYN 40 + ACK 32)" % L,
                     (lrow["tx_l4_hdr_bytes"], lrow["rx_l4_hdr_bytes"]), (40, 72))
    else:
        h.check("%s listener outside: no row" % L, lrow is None, "row %r" % (lrow,))
    return rows


def check_udp_flow(h, flow, exp, client_in=True, server_in=True):
    """UDP is exact from the application alone: one datagram == one packet,
    payload == bytes passed to send/sendto, 8-byte header, lockstep so
    nothing is dropped. The server is unconnected, and so is the client
    when flow.how says so: each has one peer, which its row shows (the
    address; the port is an ephemeral one, not kept)."""
    L = flow.label
    c, s = flow.cready, flow.sready
    if flow.how == "unconnected":
        h.eq("%s unconnected client: empty raddr in ready" % L, c["raddr"], "")
        cpeer = one_peer(s["laddr"], flow.port)
    else:
        cpeer = (c["raddr"], c["rport"])
    rows = {"client": exp.socket("udp", c["laddr"], c["lport"], *cpeer),
            "server": exp.socket("udp", s["laddr"], s["lport"], *one_peer(c["laddr"], c["lport"]))}
    for side, inside, done in (("client", client_in, flow.cdone),
                               ("server", server_in, flow.sdone)):
        row, lbl = rows[side], "%s %s" % (L, side)
        if not inside:
            h.check("%s (outside) has no socket row" % lbl, row is None, "row %r" % (row,))
            continue
        if not h.check("%s has a socket row" % lbl, row is not None,
                       "rows on its port: %r" % exp.sockets_with_port(flow.ports)):
            continue
        check_row_cgroup(h, lbl, row, flow.client_cg if side == "client" else flow.server_cg)
        n = done["datagrams"]
        h.eq("%s tx_packets == datagrams sent" % lbl, row["tx_packets"], n)
        h.eq("%s rx_packets == datagrams received" % lbl, row["rx_packets"], n)
        h.eq("%s tx_payload_bytes == application bytes sent" % lbl,
             row["tx_payload_bytes"], done["sent"])
        h.eq("%s rx_payload_bytes == application bytes received" % lbl,
             row["rx_payload_bytes"], done["received"])
        check_hdrs(h, lbl, row, flow.family, "udp")
    return rows


# --------------------------------------------------------------------------
# status --json, kernel SNMP counters (generic helpers for later tests)
# --------------------------------------------------------------------------

def netacct_status(h):
    """``netacct status --json`` of the harness's pin root, parsed."""
    p = h.netacct_ok("status", "--json")
    try:
        return json.loads(p.stdout)
    except ValueError:
        raise HarnessError("status --json printed no JSON: %r" % p.stdout[:300])


def netacct_status_of(h, cg, what):
    """(status --json, its entry for cg); HarnessError naming `what` when cg
    is not attached."""
    st = netacct_status(h)
    att = status_attachment(st, cg)
    if att is None:
        raise HarnessError("%s: status --json has no entry for %s: %r" % (what, cg.rel, st))
    return st, att


def status_attachment(status, cg):
    """The 'attached' entry of a status --json for a cgroup (Cgroup or id), or None."""
    cgid = cg.id if isinstance(cg, Cgroup) else cg
    for a in status.get("attached", []):
        if a.get("cgroup_id") == cgid:
            return a
    return None


def status_counters(att):
    """An attachment of status --json as the eight export counter columns."""
    return {d + "_" + c: att[d][c] for d in ("tx", "rx") for c in COUNTERS}


def row_bytes(row, dirs=("tx", "rx")):
    """ip + l4 header + payload bytes of a row (dict of counter columns)."""
    return sum(row[d + "_" + c] for d in dirs
               for c in ("ip_hdr_bytes", "l4_hdr_bytes", "payload_bytes"))


def snmp_counter(group, name, path="/proc/net/snmp"):
    """One counter of /proc/net/snmp (or /proc/net/netstat), e.g. ('Tcp',
    'RetransSegs'). Global to the network namespace, not per cgroup."""
    with open(path) as f:
        lines = f.read().splitlines()
    for head, vals in zip(lines[0::2], lines[1::2]):
        hk, hv = head.split(), vals.split()
        if hk and hk[0] == group + ":" and name in hk:
            return int(hv[hk.index(name)])
    raise HarnessError("no %s %s in %s" % (group, name, path))
