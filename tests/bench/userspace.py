#!/usr/bin/env python3
# SPDX-License-Identifier: (BSD-2-Clause OR GPL-2.0)
"""
User-space costs of netacct: time and peak RSS of `export --csv` and
of `top` polls with N synthetic live sockets, the CPU share of `top -d 1` at
10 000 and 100 000 sockets, the agent's /metrics scrape (one alone, and
several at once) and its resident memory, what each costs per row, and the
kernel memory of the maps.

Method: a test cgroup and a fresh pin root, `attach --max-sockets`, then the
pinned na_socks map is filled with N fake rows through BPF_MAP_UPDATE_BATCH
(bpf(2) via ctypes: a few syscalls for the whole fill, no helper to build).
Keys are fake cookies (1<<62) + i, far from real ones; each value is a
struct na_row (bpf/netacct_abi.h) with cookie == key, the test cgroup's id,
the attachment's token, an owner (so no owner resolution is attempted),
addresses, ports and counters. The rows are idle: nothing changes between two
snapshots, so every rate is 0 and the sort falls through to its tie-breaks.

The agent: `netacct agent` on the same pin root, with a configuration that
names the test cgroup (already attached) and a free loopback port; one
scrape first (it loads the reader), then the median of --repeat sequential
GETs of /metrics, then --concurrent GETs started together (threads behind a
barrier): the wall time until the last answer, against one scrape alone
(serialized scrapes would take about N times one). Its RSS: peak (VmHWM).

Per row: the slope between two sizes, (cost at N2 - cost at N1) / (N2 - N1),
in ns (time) and bytes (RSS); "linear" compares the slope of the upper pair
of sizes with that of the lower pair.

Run as root:  tests/bench/userspace.py [--netacct PATH] [--sizes 10000,100000,1000000]
              [--repeat 3] [--concurrent 4] [--no-agent] [--markdown]
Everything it creates is removed at the end (detach --all on its own pin
root, rmdir of its cgroup), also on errors and Ctrl-C.
"""
import argparse
import ctypes
import ctypes.util
import json
import os
import platform
import random
import shutil
import signal
import socket
import statistics
import struct
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))

# ---- bpf(2) through ctypes ----------------------------------------------------

SYS_BPF = {"x86_64": 321, "aarch64": 280}.get(platform.machine())
BPF_MAP_LOOKUP_ELEM = 1
BPF_MAP_GET_NEXT_KEY = 4
BPF_OBJ_GET = 7
BPF_MAP_UPDATE_BATCH = 26
BPF_NOEXIST = 1

libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
libc.syscall.restype = ctypes.c_long


def bpf(cmd, attr):
    buf = ctypes.create_string_buffer(bytes(attr), 128)
    r = libc.syscall(ctypes.c_long(SYS_BPF), ctypes.c_int(cmd), buf, ctypes.c_uint(128))
    if r < 0:
        e = ctypes.get_errno()
        raise OSError(e, "bpf(%d): %s" % (cmd, os.strerror(e)))
    return r, buf


def obj_get(path):
    p = ctypes.create_string_buffer(path.encode())
    fd, _ = bpf(BPF_OBJ_GET, struct.pack("<QII", ctypes.addressof(p), 0, 0))
    return fd


def map_lookup(fd, key, vsz):
    k = ctypes.create_string_buffer(key)
    v = ctypes.create_string_buffer(vsz)
    bpf(BPF_MAP_LOOKUP_ELEM, struct.pack("<I4xQQQ", fd, ctypes.addressof(k), ctypes.addressof(v), 0))
    return v.raw


def map_keys(fd, ksz):
    keys, prev = [], None
    while True:
        nk = ctypes.create_string_buffer(ksz)
        pk = ctypes.create_string_buffer(prev) if prev is not None else None
        try:
            bpf(BPF_MAP_GET_NEXT_KEY, struct.pack("<I4xQQ", fd, ctypes.addressof(pk) if pk else 0,
                                                  ctypes.addressof(nk)))
        except OSError as e:
            if e.errno == 2:
                return keys
            raise
        prev = nk.raw
        keys.append(prev)


def map_update_batch(fd, keys, vals, count):
    """keys, vals: contiguous bytes of count keys / values."""
    kb = ctypes.create_string_buffer(keys)
    vb = ctypes.create_string_buffer(vals)
    cnt = count
    # struct batch: in_batch, out_batch, keys, values, count, map_fd, elem_flags, flags
    attr = struct.pack("<QQQQIIQQ", 0, 0, ctypes.addressof(kb), ctypes.addressof(vb), cnt, fd, 0, 0)
    _, out = bpf(BPF_MAP_UPDATE_BATCH, attr)
    done = struct.unpack_from("<I", out.raw, 32)[0]
    if done != count:
        raise OSError(0, "map update batch: %d of %d" % (done, count))


# ---- struct na_row (bpf/netacct_abi.h, 296 bytes) ---------------------------

# hot (cookie, acct_token, flags, family, proto, state, owner_src), cold
# (cgroup_id, first_ns, pid, uid, comm, laddr, raddr, lport, rport, pad0),
# tx (5 counters, resent last; hi_seq, srtt_us, last_seq, last_len,
# last_resent, pad), 64 bytes of padding, rx
NA_ROW = struct.Struct("<QQI4B" "QQII16s16s16sHHI" "5QIIIIiI" "64x" "5QIIIIiI")
assert NA_ROW.size == 296, NA_ROW.size
NA_P_TCP, NA_P_UDP = 1, 2
NA_OWN_CREATE = 1
NA_TCP_ESTABLISHED = 1
NA_ROW_TX_SEQ, NA_ROW_RX_SEQ = 1, 2
COOKIE_BASE = 1 << 62


def boot_ns():
    return time.clock_gettime_ns(time.CLOCK_BOOTTIME)


def make_rows(start, count, cgid, token, now):
    """count rows from index start: (keys bytes, values bytes)."""
    keys = bytearray()
    vals = bytearray()
    for i in range(start, start + count):
        cookie = COOKIE_BASE + i
        tcp = i % 8 != 0
        v6 = i % 4 == 3
        pid = 1000 + (i % 500)
        comm = ("bench%d" % (i % 50)).encode()
        if v6:
            laddr = bytes([0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]) + struct.pack(">I", i)
            raddr = bytes([0xfd, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0]) + struct.pack(">I", i // 7)
        else:
            laddr = bytes([10, 0, (i >> 8) & 0xff, i & 0xff]) + bytes(12)
            raddr = bytes([10, 1 + ((i >> 16) & 0x3f), (i >> 8) & 0xff, (i * 7) & 0xff]) + bytes(12)
        lport = 1024 + i % 60000
        rport = (443, 80, 5432, 6379)[i % 4]
        txp, rxp = 10 + i % 997, 8 + i % 991
        txb, rxb = txp * (200 + i % 1200), rxp * (100 + i % 1400)
        tx = (txp, txp * (40 if v6 else 20), txp * (32 if tcp else 8), txb)
        rx = (rxp, rxp * (40 if v6 else 20), rxp * (32 if tcp else 8), rxb)
        keys += struct.pack("<Q", cookie)
        vals += NA_ROW.pack(
            cookie, token, (NA_ROW_TX_SEQ | NA_ROW_RX_SEQ) if tcp else 0,
            6 if v6 else 4, NA_P_TCP if tcp else NA_P_UDP, NA_TCP_ESTABLISHED if tcp else 0, NA_OWN_CREATE,
            cgid, now - 60_000_000_000 - i, pid, 1000, comm, laddr, raddr, lport, rport, 0,
            *tx, 0, i & 0xffffffff if tcp else 0, 0, 0, 0, 0, 0,
            *rx, 0, (i * 3) & 0xffffffff if tcp else 0, (100 + i % 5000) if tcp else 0, 0, 0, 0, 0)
    return bytes(keys), bytes(vals)


def fill(map_path, start, count, cgid, token, chunk=50000):
    fd = obj_get(map_path)
    now = boot_ns()
    try:
        done = 0
        while done < count:
            n = min(chunk, count - done)
            k, v = make_rows(start + done, n, cgid, token, now)
            map_update_batch(fd, k, v, n)
            done += n
    finally:
        os.close(fd)


# ---- environment --------------------------------------------------------------

def cgroup2_mount():
    with open("/proc/self/mountinfo") as f:
        for line in f:
            a = line.split()
            sep = a.index("-")
            if a[sep + 1] == "cgroup2":
                return a[4]
    raise SystemExit("no cgroup2 mount in /proc/self/mountinfo")


def run(cmd, check=True, **kw):
    r = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **kw)
    if check and r.returncode:
        raise SystemExit("%s: exit %d\n%s%s" % (" ".join(cmd), r.returncode, r.stdout, r.stderr))
    return r


def timed(cmd):
    """(wall s, user+sys s, max RSS KiB) of one run, output to /dev/null."""
    with tempfile.NamedTemporaryFile("r", suffix=".time") as tf:
        with open(os.devnull, "w") as null:
            r = subprocess.run(["/usr/bin/time", "-o", tf.name, "-f", "%e %U %S %M"] + cmd, stdout=null,
                               stderr=subprocess.PIPE, text=True)
        if r.returncode:
            raise SystemExit("%s: exit %d\n%s" % (" ".join(cmd), r.returncode, r.stderr))
        e, u, s, m = tf.read().split()[-4:]
    return float(e), float(u) + float(s), int(m)


def timed_precise(cmd):
    """Like timed() but wall time from perf_counter (time(1) prints 10 ms steps)."""
    t0 = time.perf_counter()
    _, cpu, rss = timed(cmd)
    return time.perf_counter() - t0, cpu, rss


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sk:
        sk.bind(("127.0.0.1", 0))
        return sk.getsockname()[1]


def http_get(url, timeout=60):
    """(status, seconds) of one GET (the body read whole)."""
    t0 = time.perf_counter()
    try:
        with urllib.request.urlopen(url, timeout=timeout) as r:
            r.read()
            st = r.status
    except urllib.error.HTTPError as e:
        st = e.code
    return st, time.perf_counter() - t0


def proc_status_kib(pid, key):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1])
    return 0


def measure_agent(exe, pin, cgdir, reps, conc):
    """The agent's scrapes: (one alone ms (median), [ms of each of conc at once], wall of them ms, peak RSS KiB)."""
    port = free_port()
    tmp = tempfile.mkdtemp(prefix="netacct-bench-agent-")
    conf = os.path.join(tmp, "netacct.conf")
    with open(conf, "w") as f:
        f.write("attach %s\nlisten 127.0.0.1:%d\nrescan 3600\n" % (cgdir, port))
    err = open(os.path.join(tmp, "agent.log"), "w+")
    p = subprocess.Popen([exe, "--pin-root", pin, "agent", "--config", conf], stdin=subprocess.DEVNULL,
                         stdout=subprocess.DEVNULL, stderr=err)
    url = "http://127.0.0.1:%d/metrics" % port
    try:
        deadline = time.monotonic() + 30
        while True:
            if p.poll() is not None:
                err.seek(0)
                raise SystemExit("agent exited: %s" % err.read())
            try:
                st, _ = http_get(url)
                if st == 200:
                    break  # the first scrape: the reader's program and buffer are made
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise SystemExit("the agent never served %s" % url)
            time.sleep(0.1)
        one = []
        for _ in range(reps):
            st, dt = http_get(url)
            if st != 200:
                raise SystemExit("GET /metrics: %d" % st)
            one.append(dt)
        each, bar = [None] * conc, threading.Barrier(conc + 1)

        def worker(i):
            bar.wait()
            each[i] = http_get(url)

        walls = []
        for _ in range(reps):
            ts = [threading.Thread(target=worker, args=(i,)) for i in range(conc)]
            for t in ts:
                t.start()
            bar.wait()
            t0 = time.perf_counter()
            for t in ts:
                t.join()
            walls.append((time.perf_counter() - t0, [e[1] for e in each]))
            if any(e[0] != 200 for e in each):
                raise SystemExit("concurrent GET /metrics: %r" % [e[0] for e in each])
            bar = threading.Barrier(conc + 1)
        wall, each_s = sorted(walls)[len(walls) // 2]
        rss = proc_status_kib(p.pid, "VmHWM")
    finally:
        p.send_signal(signal.SIGTERM)
        try:
            p.wait(timeout=20)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()
        err.close()
        shutil.rmtree(tmp, ignore_errors=True)
    return statistics.median(one) * 1e3, [x * 1e3 for x in each_s], wall * 1e3, rss


def per_row(results, key, scale):
    """[(n1, n2, slope)] of results[key] between consecutive sizes, slope in units per row (x scale)."""
    out = []
    rs = [r for r in results if r.get(key) is not None]
    for a, b in zip(rs, rs[1:]):
        out.append((a["n"], b["n"], (b[key] - a[key]) * scale / (b["n"] - a["n"])))
    return out


def map_memlock(pin_root):
    """{map name: (memlock bytes, max_entries, id)} of the maps pinned at pin_root."""
    out = {}
    for name in sorted(os.listdir(pin_root)):
        p = os.path.join(pin_root, name)
        if not os.path.isfile(p) or not name.startswith("na_"):
            continue
        r = run(["bpftool", "-j", "map", "show", "pinned", p], check=False)
        if r.returncode:
            continue  # a link or a program
        j = json.loads(r.stdout)
        out[name] = (int(j.get("bytes_memlock", 0)), int(j.get("max_entries", 0)), j.get("id"), j.get("type"))
    return out


def slab_kib():
    with open("/proc/meminfo") as f:
        m = dict(l.split(":", 1) for l in f)
    return int(m["Slab"].split()[0])


def meminfo():
    with open("/proc/meminfo") as f:
        return dict((k, int(v.split()[0])) for k, v in (l.split(":", 1) for l in f))


# ---- main ---------------------------------------------------------------------

def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--netacct", default=None, help="the binary (default: build-us/cli/netacct, built if missing)")
    ap.add_argument("--sizes", default="10000,100000,1000000")
    ap.add_argument("--repeat", type=int, default=3, help="runs per figure (median); 1 for the largest size")
    ap.add_argument("--max-sockets", type=int, default=0,
                    help="attach --max-sockets for every size (default: max(65536, 1.25 x the size), attached anew "
                         "per size); the kernel's batch read walks every bucket, so this sets part of the read cost")
    ap.add_argument("--cpu-iterations", type=int, default=10, help="frames of `top -d 1` for the CPU share")
    ap.add_argument("--concurrent", type=int, default=4, help="scrapes of /metrics started together")
    ap.add_argument("--no-agent", action="store_true", help="leave the agent's scrapes out")
    ap.add_argument("--perf", metavar="DIR", default=None,
                    help="also `perf record -g` export and top (-n 11) at 100 000 rows (or the largest size below), "
                         "reports in DIR")
    ap.add_argument("--markdown", action="store_true", help="also print the tables as Markdown")
    args = ap.parse_args()
    if os.geteuid():
        print("userspace.py: needs root (bpf, cgroups); skipping", file=sys.stderr)
        return 77
    if SYS_BPF is None:
        raise SystemExit("unsupported machine %s" % platform.machine())
    sizes = [int(s) for s in args.sizes.split(",") if s]
    exe = args.netacct
    if not exe:
        bdir = os.path.join(REPO, "build-us")
        exe = os.path.join(bdir, "cli", "netacct")
        if not os.access(exe, os.X_OK):
            run(["cmake", "-S", REPO, "-B", bdir])
            run(["cmake", "--build", bdir, "-j2", "--target", "netacct"])
    for t in ("bpftool", "/usr/bin/time"):
        if not shutil.which(t):
            raise SystemExit("%s not found" % t)

    tag = "%08x" % random.getrandbits(32)
    cgdir = os.path.join(cgroup2_mount(), "netacct-bench-us-" + tag)
    pin = "/sys/fs/bpf/netacct-bench-us-" + tag
    pin_def = "/sys/fs/bpf/netacct-bench-us-def-" + tag
    na = [exe, "--pin-root", pin]
    results, kmem, kfill = [], {}, {}

    def cleanup(*_):
        for p in (pin, pin_def):
            if os.path.isdir(p):
                subprocess.run([exe, "--pin-root", p, "detach", "--all"], stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)
                try:
                    os.rmdir(p)
                except OSError:
                    pass
        if os.path.isdir(cgdir):
            try:
                os.rmdir(cgdir)
            except OSError as e:
                print("rmdir %s: %s" % (cgdir, e), file=sys.stderr)

    def attachment_token(pin, cgid):
        afd = obj_get(pin + "/na_attached")
        try:
            for k in map_keys(afd, 8):
                a = map_lookup(afd, k, 544)
                if struct.unpack_from("<Q", a, 0)[0] == cgid:
                    return struct.unpack_from("<Q", a, 8)[0]
        finally:
            os.close(afd)
        raise SystemExit("no attachment for cgroup %d in %s" % (cgid, pin))

    signal.signal(signal.SIGTERM, lambda *a: sys.exit(143))
    try:
        os.mkdir(cgdir)
        cgid = os.stat(cgdir).st_ino

        # Kernel memory at default sizes: a default attach on its own pin root.
        run([exe, "--pin-root", pin_def, "attach", cgdir])
        kmem = map_memlock(pin_def)
        run([exe, "--pin-root", pin_def, "detach", "--all"])

        for n in sizes:
            # A map sized for the load, as an operator would (--max-sockets),
            # since the kernel's batch read walks every bucket.
            run([exe, "--pin-root", pin, "detach", "--all"], check=False)
            maxs = args.max_sockets or max(65536, n + n // 4)
            run(na + ["attach", "--max-sockets", str(maxs), cgdir])
            token = attachment_token(pin, cgid)
            have = 0
            have0, ml0 = have, map_memlock(pin).get("na_socks", (0,))[0]
            slab0, t0 = slab_kib(), time.perf_counter()
            fill(pin + "/na_socks", have, n - have, cgid, token)
            fill_s = time.perf_counter() - t0
            have = n
            kfill[n] = (n - have0, slab_kib() - slab0, ml0, map_memlock(pin).get("na_socks", (0,))[0])
            reps = args.repeat if n < 1000000 else 1
            print("N=%d: filled in %.1f s; measuring (%d runs each)..." % (n, fill_s, reps), file=sys.stderr)

            ex = [timed_precise(na + ["export", "--csv"]) for _ in range(reps)]
            top1 = [timed_precise(na + ["top", "--batch", "-n", "1", "-d", "0.1", "--limit", "20"])
                    for _ in range(reps)]
            top11 = [timed_precise(na + ["top", "--batch", "-n", "11", "-d", "0.1", "--limit", "20"])
                     for _ in range(reps)]
            r = {
                "n": n,
                "export_ms": statistics.median(e[0] for e in ex) * 1e3,
                "export_rss": max(e[2] for e in ex) / 1024,
                # -n 1 = start (2 snapshots) + 0.1 s sleep + 1 snapshot + frame
                "top1_ms": (statistics.median(t[0] for t in top1) - 0.1) * 1e3,
                "poll_ms": (statistics.median(t[0] for t in top11) - statistics.median(t[0] for t in top1) - 1.0)
                           / 10 * 1e3,
                "poll_cpu_ms": (statistics.median(t[1] for t in top11) - statistics.median(t[1] for t in top1))
                               / 10 * 1e3,
                "top_rss": max(t[2] for t in top1 + top11) / 1024,
                "cpu_pct": None,
            }
            if n in (10000, 100000):
                it = args.cpu_iterations
                w, c, rss = timed_precise(na + ["top", "--batch", "-n", str(it), "-d", "1", "--limit", "20"])
                r["cpu_pct"] = 100.0 * c / w
                r["cpu_detail"] = (w, c)
            r["scrape_ms"] = r["conc_ms"] = r["agent_rss"] = None
            if not args.no_agent:
                one, each, wall, arss = measure_agent(exe, pin, cgdir, reps if n < 1000000 else 3, args.concurrent)
                r["scrape_ms"], r["conc_ms"], r["conc_each"], r["agent_rss"] = one, wall, each, arss / 1024
            if args.perf and n == max([x for x in sizes if x <= 100000] or [min(sizes)]):
                os.makedirs(args.perf, exist_ok=True)
                for what, cmd in (("export", na + ["export", "--csv"]),
                                  ("top", na + ["top", "--batch", "-n", "11", "-d", "0.1", "--limit", "20"])):
                    data = os.path.join(args.perf, "%s-%d.data" % (what, n))
                    with open(os.devnull, "w") as null:
                        subprocess.run(["perf", "record", "-q", "-F", "4000", "-g", "-o", data, "--"] + cmd,
                                       stdout=null, stderr=subprocess.DEVNULL)
                    rep = run(["perf", "report", "--no-children", "--stdio", "-g", "none", "--percent-limit", "0.5",
                               "-i", data], check=False).stdout
                    with open(data[:-5] + ".txt", "w") as f:
                        f.write(rep)
                    print("  perf: %s" % data[:-5] + ".txt", file=sys.stderr)
            results.append(r)
            print("  export %.0f ms %.1f MiB; top -n1 %.0f ms; poll %.1f ms (cpu %.1f ms); top RSS %.1f MiB%s%s"
                  % (r["export_ms"], r["export_rss"], r["top1_ms"], r["poll_ms"], r["poll_cpu_ms"], r["top_rss"],
                     "; top -d 1 CPU %.2f%%" % r["cpu_pct"] if r["cpu_pct"] is not None else "",
                     "; scrape %.1f ms, %d at once %.1f ms (each %s), agent RSS %.1f MiB"
                     % (r["scrape_ms"], args.concurrent, r["conc_ms"],
                        "/".join("%.0f" % x for x in r["conc_each"]), r["agent_rss"])
                     if r["scrape_ms"] is not None else ""),
                  file=sys.stderr)
    finally:
        cleanup()

    # ---- report --------------------------------------------------------------
    print()
    print("netacct user-space costs, synthetic idle rows (%s, %d CPUs, kernel %s)"
          % (platform.node(), os.cpu_count(), platform.release()))
    hdr = ("N", "export ms", "export RSS MiB", "top -n1 ms", "top poll ms", "poll CPU ms", "top RSS MiB",
           "top -d1 CPU %", "scrape ms", "%d scrapes ms" % args.concurrent, "agent RSS MiB")

    def opt(v, fmt):
        return fmt % v if v is not None else "-"

    rows = []
    for r in results:
        rows.append(("%d" % r["n"], "%.0f" % r["export_ms"], "%.1f" % r["export_rss"], "%.0f" % r["top1_ms"],
                     "%.1f" % r["poll_ms"], "%.1f" % r["poll_cpu_ms"], "%.1f" % r["top_rss"],
                     opt(r["cpu_pct"], "%.2f"), opt(r["scrape_ms"], "%.1f"), opt(r["conc_ms"], "%.1f"),
                     opt(r["agent_rss"], "%.1f")))
    w = [max(len(h), *(len(x[i]) for x in rows)) for i, h in enumerate(hdr)]
    print("  ".join(h.rjust(w[i]) for i, h in enumerate(hdr)))
    for x in rows:
        print("  ".join(c.rjust(w[i]) for i, c in enumerate(x)))
    print("top -n1 ms: wall of `top --batch -n 1 -d 0.1` minus the 0.1 s sleep (3 snapshots + 1 frame);")
    print("top poll ms: ((wall of -n 11) - (wall of -n 1) - 10 x 0.1 s) / 10: one snapshot + one frame;")
    print("scrape ms: one GET /metrics alone (median); %d scrapes ms: wall until the last of %d started together."
          % (args.concurrent, args.concurrent))
    print()
    print("per row (slope between two sizes; linear: the upper slope / the lower one):")
    for key, name, scale, unit in (("export_ms", "export", 1e6, "ns"), ("poll_ms", "top poll", 1e6, "ns"),
                                   ("scrape_ms", "scrape", 1e6, "ns"), ("export_rss", "export RSS", 2**20, "B"),
                                   ("top_rss", "top RSS", 2**20, "B"), ("agent_rss", "agent RSS", 2**20, "B")):
        sl = per_row(results, key, scale)
        if not sl:
            continue
        text = "; ".join("%d..%d: %.0f %s/row" % (a, b, v, unit) for a, b, v in sl)
        lin = "; linear: %.2f" % (sl[-1][2] / sl[0][2]) if len(sl) > 1 and sl[0][2] > 0 else ""
        print("  %-11s %s%s" % (name, text, lin))
    print()
    print("na_socks kernel memory per row added (system Slab delta from /proc/meminfo; bpftool memlock):")
    for n, (added, slab, ml0, ml) in sorted(kfill.items()):
        print("  %8d rows (+%d): Slab +%.1f MiB (%.0f B/row); memlock %.1f MiB (+%.0f B/row)"
              % (n, added, slab / 1024, slab * 1024 / added if added else 0, ml / 2**20,
                 (ml - ml0) / added if added else 0))
    print()
    print("kernel memory of the maps after a default attach (bpftool memlock):")
    tot = 0
    for name, (ml, mx, mid, typ) in sorted(kmem.items()):
        print("  %-12s %-14s max_entries %-8d memlock %10d B (%.2f MiB)" % (name, typ, mx, ml, ml / 2**20))
        tot += ml
    print("  %-12s %-14s %-20s memlock %10d B (%.2f MiB)" % ("total", "", "", tot, tot / 2**20))
    if args.markdown:
        print()
        print("| " + " | ".join(hdr) + " |")
        print("|" + "---:|" * len(hdr))
        for x in rows:
            print("| " + " | ".join(x) + " |")
        print()
        print("| map | type | max_entries | memlock |")
        print("|---|---|---:|---:|")
        for name, (ml, mx, mid, typ) in sorted(kmem.items()):
            print("| `%s` | %s | %d | %d B (%.2f MiB) |" % (name, typ, mx, ml, ml / 2**20))
    return 0


if __name__ == "__main__":
    sys.exit(main())
