#!/usr/bin/python3
"""The agent's /metrics under abuse from one local user.

With the agent serving a cgroup of this test's own on 127.0.0.1:

  * 2000 connections from one other address (127.0.0.2), each sending a
    request line and then one header line now and then, never finishing
    (slowloris): meanwhile every scrape from 127.0.0.1 answers 200 with
    the right counters within 1 s, and the agent holds at most a handful
    of the 2000 (a limit per address), closing the rest;
  * a connection that trickles one byte a second is closed within the
    header deadline, although its bytes keep arriving (the timeout does
    not start again at each byte);
  * POST with a body (small and 1 MiB) gets its 405 with an Allow header,
    not a dropped connection; GET of another path 404;
  * 8 scrapes started together (they wait, suspended, for one reading of
    the maps), three times: each 200 with A's exact payload;
  * libmicrohttpd's own messages reach the agent's log through netacct's
    logger (every line of stderr starts with "netacct: "), a bounded
    number of them for the 2000 refused connections.
"""

import os
import resource
import select
import socket
import sys
import threading
import time
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import na_harness as na  # noqa: E402
from test_agent import Agent, payload, write  # noqa: E402

FLOOD = 2000
ATTACKER = "127.0.0.2"


def scrape(port):
    """(status, seconds, body) of one GET /metrics from 127.0.0.1."""
    t0 = time.monotonic()
    try:
        with urllib.request.urlopen("http://127.0.0.1:%d/metrics" % port, timeout=5) as r:
            body = r.read().decode()
            return r.status, time.monotonic() - t0, body
    except OSError as e:
        return str(e), time.monotonic() - t0, ""


def raw(port, data, src="127.0.0.1", timeout=10):
    """Send data, return what came back before the server closed (or the timeout)."""
    s = socket.socket()
    s.bind((src, 0))
    s.settimeout(timeout)
    s.connect(("127.0.0.1", port))
    try:
        s.sendall(data)
    except OSError:
        pass  # the server may answer and close before taking all of a large body
    out = b""
    try:
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            out += chunk
            if b"\r\n\r\n" in out and b"Content-Length" in out:
                head, _, body = out.partition(b"\r\n\r\n")
                n = int([l for l in head.split(b"\r\n") if l.lower().startswith(b"content-length")][0]
                        .split(b":")[1])
                if len(body) >= n:
                    break
    except OSError:
        pass
    s.close()
    return out.decode(errors="replace")


def alive(s):
    """Whether the server still holds connection s open (no EOF, no reset)."""
    try:
        p = select.poll()  # select() refuses descriptors past 1023
        p.register(s, select.POLLIN)
        if not p.poll(0):
            return True
        return s.recv(1, socket.MSG_PEEK) != b""
    except OSError:
        return False


def main():
    h = na.Harness("agent_http")
    with h:
        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        if hard < FLOOD + 200:
            h.skip("RLIMIT_NOFILE hard limit %d is below %d" % (hard, FLOOD + 200))
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
        tmp = h.make_tmpdir("agent-http-")
        A = h.make_cgroup()
        port = na.free_port()
        conf = os.path.join(tmp, "netacct.conf")
        write(conf, "attach %s\nrescan 1\nlisten 127.0.0.1:%d\nlog-file none\n" % (A.path, port))
        ag = Agent(h, conf, port)
        ag.wait_serving()
        f = na.TcpFlow(h, 4, "rr", (20,), (20,), A, A, "flow")
        f.wait_done()
        sent = f.cdone["sent"] + f.sdone["sent"]
        f.close()

        # -- 2000 slowloris connections from one address ------------------------------
        flood, refused = [], 0
        t0 = time.monotonic()
        for _ in range(FLOOD):
            s = socket.socket()
            s.setblocking(False)
            s.bind((ATTACKER, 0))
            try:
                s.connect(("127.0.0.1", port))
            except BlockingIOError:
                pass
            flood.append(s)
        time.sleep(0.5)
        for s in flood:
            try:
                s.send(b"GET /metrics HTTP/1.1\r\nHost: x\r\n")
            except OSError:
                refused += 1
        trickle = socket.create_connection(("127.0.0.1", port), timeout=30)
        trickle_start = time.monotonic()
        trickle.send(b"GET /metrics HTTP/1.1\r\n")
        h.note("2000 connections from %s opened in %.2f s" % (ATTACKER, time.monotonic() - t0))

        times, bad, trickle_end, rounds, held = [], [], None, 0, None
        while time.monotonic() - trickle_start < 14 and trickle_end is None:
            rounds += 1
            if rounds == 3:  # a second in: what the agent holds of the flood
                held = sum(1 for s in flood if alive(s))
            st, dt, body = scrape(port)
            times.append(dt)
            if st != 200 or payload(body, A, "tx") != sent:
                bad.append((st, round(dt, 3), payload(body, A, "tx")))
            for s in flood[rounds % 8::8]:  # one header line now and then on each
                try:
                    s.send(b"X-Slow: 1\r\n")
                except OSError:
                    pass
            try:
                trickle.send(b"X")
            except OSError:
                trickle_end = time.monotonic()
            if trickle_end is None and not alive(trickle):
                trickle_end = time.monotonic()
            time.sleep(0.5)
        h.note("scrapes under the flood: %d, slowest %.3f s, median %.3f s; %s of %d flood connections held"
               % (len(times), max(times), sorted(times)[len(times) // 2], held, FLOOD))
        h.check("every scrape during 2000 slowloris connections answers 200 with A's exact payload",
                times and not bad, repr(bad[:5]))
        h.check("... each within 1 s", times and max(times) < 1.0, "slowest %.3f s" % max(times or [0]))
        h.check("... and the agent holds only a few of the attacker's connections (a limit per address)",
                held is not None and held <= 16, "%s held" % held)
        h.eq("... none of them past the header deadline", sum(1 for s in flood if alive(s)), 0)
        h.check("a connection trickling a byte a second is closed within the header deadline",
                trickle_end is not None and 8 <= trickle_end - trickle_start <= 13,
                "closed after %s s" % (trickle_end and round(trickle_end - trickle_start, 1)))
        for s in flood + [trickle]:
            s.close()

        # -- methods and paths ---------------------------------------------------------
        for size in (1024, 1 << 20):
            out = raw(port, b"POST /metrics HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n" % size +
                      b"x" * size)
            h.check("POST with a %d-byte body: 405 with Allow: GET, HEAD" % size,
                    out.startswith("HTTP/1.1 405") and "Allow: GET, HEAD" in out, repr(out[:200]))
        out = raw(port, b"GET /other HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        h.check("GET of another path: 404", out.startswith("HTTP/1.1 404"), repr(out[:120]))
        st, dt, body = scrape(port)
        h.eq("a scrape afterwards: 200", st, 200)

        # -- scrapes at once ---------------------------------------------------------------
        # Requests wait, suspended, for the scraper's reading: 8 at once (the limit of one
        # address), three times over, each answered whole.
        want = payload(body, A, "tx")
        bad = []
        for _ in range(3):
            got = [None] * 8
            bar = threading.Barrier(8)

            def one(i):
                bar.wait()
                got[i] = scrape(port)

            ts = [threading.Thread(target=one, args=(i,)) for i in range(8)]
            for t in ts:
                t.start()
            for t in ts:
                t.join()
            bad += [(g[0], g[2][:80]) for g in got if g[0] != 200 or payload(g[2], A, "tx") != want]
        h.eq("8 scrapes at once, three times: each 200 with A's exact payload", bad, [])

        # -- libmicrohttpd's messages through netacct's logger ----------------------------
        h.eq("SIGTERM: exit 0", ag.stop(), 0)
        lines = ag.log().splitlines()
        http = [l for l in lines if "agent: http" in l]
        h.note("the agent's http lines:\n#   " + "\n#   ".join(http))
        h.eq("every line the agent wrote starts with 'netacct: '",
             [l for l in lines if not l.startswith("netacct: ")], [])
        h.check("libmicrohttpd's messages are among them (%d lines), a bounded number for %d refusals"
                % (len(http), FLOOD), 0 < len(http) <= 40, "\n".join(http[:10]))


if __name__ == "__main__":
    main()
