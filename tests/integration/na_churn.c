// SPDX-License-Identifier: (BSD-2-Clause OR GPL-2.0)
/*
 * na_churn: the fast loopback workload of tests/integration/test_scale.py.
 *
 * One process is one side (server or client) of many short connections, or
 * both sides of many concurrent ones (fan). Like na_workload.py, it reports
 * on stdout one JSON object a line ({"event": ...}) and takes commands on
 * stdin, one a line. Every loop is bounded in count, every wait has a
 * timeout, and the process ends itself after NA_CHURN_DEADLINE seconds
 * (default 200).
 *
 *   na_churn server SPEC[,SPEC...]        SPEC = tcp|udp/ADDR/COUNT
 *       binds ADDR port 0 per SPEC (one thread each); "listening" lists the
 *       endpoints; a TCP endpoint accepts COUNT connections, one at a time:
 *       read 100 bytes, write 100, read the client's FIN, shutdown(SHUT_WR),
 *       wait for TCP_CLOSE (the client's last ACK), TCP_INFO, close(). A UDP
 *       endpoint answers COUNT datagrams of q bytes with udp_resp(q) bytes.
 *       Then "done" with per-endpoint sums; on "close", closes the listening
 *       and UDP sockets, "closed"; exits at stdin EOF.
 *   na_churn client SPEC[,SPEC...]        SPEC = tcp|udp/ADDR/PORT/COUNT[/SRC]
 *       one thread per SPEC; TCP: COUNT times socket, bind SRC port 0
 *       (IP_BIND_ADDRESS_NO_PORT), connect, write 100, read 100,
 *       shutdown(SHUT_WR), read the server's FIN (the socket is then in
 *       TIME_WAIT: the full socket is in TCP_CLOSE and sent its last ACK),
 *       TCP_INFO, close(). UDP: COUNT times a fresh socket, connect, send
 *       udp_req(i) bytes, receive the answer, close(). Starts at once (or
 *       after "go" on stdin with --wait-go), "done" with per-spec sums.
 *       With --rate R each thread paces itself to R exchanges a second
 *       (exchange i starts no earlier than i/R s after the thread started).
 *   na_churn fan-server N ADDR / na_churn fan-client N ADDR PORT
 *       N concurrent connections between two processes (each needs N
 *       descriptors), kept open: "open" once connected/accepted, then
 *       connection i carries fan_up(i) bytes up (the first 4 are i) and
 *       fan_down(i) back, "ready". "stats" re-reads TCP_INFO of every socket
 *       ("stats" event). "close": every connection closes like the churn
 *       (client shutdown, server shutdown, both reach TCP_CLOSE), "closed"
 *       with the final TCP_INFO sums.
 *
 * TCP sums are taken from TCP_INFO when the socket has reached TCP_CLOSE, so
 * they are final: tcpi_segs_out, tcpi_segs_in, tcpi_bytes_sent (includes
 * retransmissions), tcpi_bytes_retrans, tcpi_bytes_received.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netdb.h>
#include <linux/tcp.h> /* struct tcp_info with bytes_sent, segs_in/out (glibc's is older) */
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#ifndef IP_BIND_ADDRESS_NO_PORT
#define IP_BIND_ADDRESS_NO_PORT 24
#endif

#define ST_TCP_CLOSE 7 /* include/net/tcp_states.h */
#define MAX_SPECS 32
#define TCP_MSG 100
#define IO_TIMEOUT_S 10
#define CLOSE_WAIT_US 2000000 /* server: longest wait for the last ACK */

static pthread_mutex_t out_lock = PTHREAD_MUTEX_INITIALIZER;
static double client_rate; /* --rate: exchanges a second per client thread, 0 = unpaced */

static void emit(const char *fmt, ...)
{
	va_list ap;

	pthread_mutex_lock(&out_lock);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
	fflush(stdout);
	pthread_mutex_unlock(&out_lock);
}

static void die(const char *fmt, ...)
{
	char msg[512];
	va_list ap;
	size_t i;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	for (i = 0; msg[i]; i++)
		if (msg[i] == '"' || msg[i] == '\\' || (unsigned char)msg[i] < 0x20)
			msg[i] = ' ';
	emit("{\"event\":\"error\",\"message\":\"%s\"}", msg);
	_exit(1);
}

static void on_alarm(int sig)
{
	(void)sig;
	static const char m[] = "{\"event\":\"error\",\"message\":\"na_churn deadline exceeded\"}\n";
	if (write(1, m, sizeof(m) - 1) < 0)
		_exit(2);
	_exit(1);
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* --rate: sleep until exchange i of a thread that started at t0 is due. */
static void pace(double t0, unsigned long i)
{
	struct timespec ts;
	double d;

	if (client_rate <= 0)
		return;
	d = t0 + (double)i / client_rate - now_s();
	if (d <= 0)
		return;
	ts.tv_sec = (time_t)d;
	ts.tv_nsec = (long)((d - (double)ts.tv_sec) * 1e9);
	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

/* Request/answer sizes of UDP exchange i; shared with test_scale.py. */
static unsigned udp_req(unsigned long i)
{
	return 1 + (unsigned)((i * 37) % 1400);
}

static unsigned udp_resp(unsigned q)
{
	return 1 + (q * 53) % 1400;
}

/* fan connection i: bytes up (client -> server) and down; shared with test_scale.py. */
static unsigned long fan_up(unsigned long i)
{
	return (i % 500 == 499) ? 200000 + i : 1000 + i % 997;
}

static unsigned long fan_down(unsigned long i)
{
	return 500 + i % 509;
}

/* ---- addresses --------------------------------------------------------- */

struct addr {
	struct sockaddr_storage ss;
	socklen_t len;
	int family;
};

/* A numeric IPv4 or IPv6 address and a port; -1 where s is not one. */
static int parse_addr(const char *s, unsigned port, struct addr *a)
{
	struct addrinfo hints = { .ai_flags = AI_NUMERICHOST | AI_NUMERICSERV }, *ai;
	char svc[12];

	memset(a, 0, sizeof(*a));
	snprintf(svc, sizeof(svc), "%u", port);
	if (getaddrinfo(s, svc, &hints, &ai))
		return -1;
	memcpy(&a->ss, ai->ai_addr, ai->ai_addrlen);
	a->len = ai->ai_addrlen;
	a->family = ai->ai_family;
	freeaddrinfo(ai);
	return 0;
}

static unsigned addr_port(const struct addr *a)
{
	if (a->family == AF_INET)
		return ntohs(((const struct sockaddr_in *)&a->ss)->sin_port);
	return ntohs(((const struct sockaddr_in6 *)&a->ss)->sin6_port);
}

static void set_timeouts(int fd)
{
	struct timeval tv = { .tv_sec = IO_TIMEOUT_S };

	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
}

/* ---- exact I/O ----------------------------------------------------------- */

static char zbuf[1 << 16];

static int write_all(int fd, unsigned long n)
{
	while (n) {
		ssize_t k = send(fd, zbuf, n < sizeof(zbuf) ? n : sizeof(zbuf), MSG_NOSIGNAL);

		if (k < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		n -= (unsigned long)k;
	}
	return 0;
}

static char rbuf_main[1 << 16];

/* Read exactly n bytes; -EPIPE on an early EOF. */
static int read_all(int fd, unsigned long n, char *buf, size_t blen)
{
	while (n) {
		ssize_t k = recv(fd, buf, n < blen ? n : blen, 0);

		if (k < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (k == 0)
			return -EPIPE;
		n -= (unsigned long)k;
	}
	return 0;
}

/* The peer's FIN: 0, or -EPROTO when data came instead. */
static int read_eof(int fd)
{
	char c;
	ssize_t k;

	do
		k = recv(fd, &c, 1, 0);
	while (k < 0 && errno == EINTR);
	if (k < 0)
		return -errno;
	return k == 0 ? 0 : -EPROTO;
}

/* ---- TCP_INFO sums ------------------------------------------------------- */

struct tcp_sums {
	unsigned long conns, app_sent, app_recv;
	unsigned long long segs_out, segs_in, bytes_sent, bytes_retrans, bytes_received, total_retrans;
	unsigned long not_closed; /* TCP_INFO read before the socket reached TCP_CLOSE */
	unsigned long close_polls;
};

static int tcp_info_add(int fd, struct tcp_sums *t)
{
	struct tcp_info ti;
	socklen_t len = sizeof(ti);

	memset(&ti, 0, sizeof(ti));
	if (getsockopt(fd, IPPROTO_TCP, TCP_INFO, &ti, &len) < 0)
		return -errno;
	t->segs_out += ti.tcpi_segs_out;
	t->segs_in += ti.tcpi_segs_in;
	t->bytes_sent += ti.tcpi_bytes_sent;
	t->bytes_retrans += ti.tcpi_bytes_retrans;
	t->bytes_received += ti.tcpi_bytes_received;
	t->total_retrans += ti.tcpi_total_retrans;
	if (ti.tcpi_state != ST_TCP_CLOSE)
		t->not_closed++;
	return 0;
}

/* A connection at its end: its TCP_INFO summed and counted, then closed. */
static void tcp_conn_end(int fd, struct tcp_sums *t)
{
	tcp_info_add(fd, t);
	t->conns++;
	close(fd);
}

static int tcp_state(int fd)
{
	struct tcp_info ti;
	socklen_t len = sizeof(ti);

	if (getsockopt(fd, IPPROTO_TCP, TCP_INFO, &ti, &len) < 0)
		return -1;
	return ti.tcpi_state;
}

/* Server side after its shutdown(SHUT_WR): until the last ACK made it TCP_CLOSE. */
static void wait_tcp_close(int fd, struct tcp_sums *t)
{
	unsigned waited = 0;

	while (tcp_state(fd) != ST_TCP_CLOSE && waited < CLOSE_WAIT_US) {
		t->close_polls++;
		if (waited < 200) {
			sched_yield();
			waited += 1;
		} else {
			usleep(100);
			waited += 100;
		}
	}
}

static void tcp_sums_json(char *buf, size_t len, const struct tcp_sums *t)
{
	snprintf(buf, len,
		 "\"conns\":%lu,\"app_sent\":%lu,\"app_received\":%lu,\"segs_out\":%llu,"
		 "\"segs_in\":%llu,\"bytes_sent\":%llu,\"bytes_retrans\":%llu,"
		 "\"bytes_received\":%llu,\"total_retrans\":%llu,\"not_closed\":%lu,\"close_polls\":%lu",
		 t->conns, t->app_sent, t->app_recv, t->segs_out, t->segs_in, t->bytes_sent,
		 t->bytes_retrans, t->bytes_received, t->total_retrans, t->not_closed, t->close_polls);
}

/* ---- specs ----------------------------------------------------------------- */

struct spec;
/* A spec's work, on a thread of its own; buf: 64 KiB of scratch, t0: its start. */
typedef void spec_fn(struct spec *s, char *buf, double t0);

struct spec {
	int tcp;
	char addr[64];
	unsigned port;
	unsigned long count;
	char src[64];
	/* runtime */
	int fd; /* server: listening or UDP socket */
	struct addr a;
	struct tcp_sums t;
	unsigned long datagrams, udp_sent, udp_recv;
	double seconds;
	char err[256];
	spec_fn *fn;
};

static int nspecs;
static struct spec specs[MAX_SPECS];

/* The first error a spec's thread met, for its JSON; fd (if >= 0) closed. */
__attribute__((format(printf, 3, 4))) static void spec_fail(struct spec *s, int fd, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(s->err, sizeof(s->err), fmt, ap);
	va_end(ap);
	if (fd >= 0)
		close(fd);
}

/* A client's socket of the spec's family, with the I/O timeouts; -1 on error. */
static int spec_socket(struct spec *s, int type)
{
	int fd = socket(s->a.family, type, 0);

	if (fd < 0) {
		spec_fail(s, -1, "socket: %s", strerror(errno));
		return -1;
	}
	set_timeouts(fd);
	return fd;
}

static void *spec_thread(void *arg)
{
	struct spec *s = arg;
	char *buf = malloc(1 << 16);
	double t0 = now_s();

	s->fn(s, buf, t0);
	s->seconds = now_s() - t0;
	free(buf);
	return NULL;
}

/* Each spec on a thread of its own, tcp or udp by its kind: the seconds they took. */
static double run_specs(spec_fn *tcp, spec_fn *udp)
{
	pthread_t th[MAX_SPECS];
	double t0 = now_s();
	int i;

	for (i = 0; i < nspecs; i++) {
		specs[i].fn = specs[i].tcp ? tcp : udp;
		if (pthread_create(&th[i], NULL, spec_thread, &specs[i]))
			die("pthread_create");
	}
	for (i = 0; i < nspecs; i++)
		pthread_join(th[i], NULL);
	return now_s() - t0;
}

/* "tcp/ADDR/COUNT" (server) or "tcp/ADDR/PORT/COUNT[/SRC]" (client); IPv6 without brackets. */
static void parse_specs(char *arg, int client)
{
	char *save = NULL, *tok;

	for (tok = strtok_r(arg, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		struct spec *s;
		char *f[5] = { 0 };
		char *save2 = NULL, *p;
		int n = 0;

		if (nspecs == MAX_SPECS)
			die("too many specs");
		s = &specs[nspecs++];
		memset(s, 0, sizeof(*s));
		s->fd = -1;
		for (p = strtok_r(tok, "/", &save2); p && n < 5; p = strtok_r(NULL, "/", &save2))
			f[n++] = p;
		if (n < (client ? 4 : 3) || (strcmp(f[0], "tcp") && strcmp(f[0], "udp")))
			die("bad spec");
		s->tcp = !strcmp(f[0], "tcp");
		snprintf(s->addr, sizeof(s->addr), "%s", f[1]);
		if (client) {
			s->port = (unsigned)strtoul(f[2], NULL, 10);
			s->count = strtoul(f[3], NULL, 10);
			if (n > 4)
				snprintf(s->src, sizeof(s->src), "%s", f[4]);
		} else {
			s->count = strtoul(f[2], NULL, 10);
		}
		if (parse_addr(s->addr, s->port, &s->a))
			die("bad address %s", s->addr);
	}
}

static void wait_cmd(const char *word)
{
	char line[256];

	while (fgets(line, sizeof(line), stdin)) {
		line[strcspn(line, "\r\n")] = 0;
		if (!strcmp(line, word))
			return;
	}
	die("stdin closed before '%s'", word);
}

static void wait_eof(void)
{
	char line[256];

	while (fgets(line, sizeof(line), stdin))
		;
}

/* ---- server ---------------------------------------------------------------- */

static void tcp_server(struct spec *s, char *buf, double t0)
{
	unsigned long i;
	int c, e;

	(void)t0; /* a server answers as fast as it is asked: no pace */
	for (i = 0; i < s->count; i++) {
		c = accept(s->fd, NULL, NULL);
		if (c < 0) {
			spec_fail(s, -1, "accept %lu: %s", i, strerror(errno));
			break;
		}
		set_timeouts(c);
		if ((e = read_all(c, TCP_MSG, buf, 1 << 16)) || (e = write_all(c, TCP_MSG)) ||
		    (e = read_eof(c))) {
			spec_fail(s, c, "tcp conn %lu: %s", i, strerror(-e));
			break;
		}
		s->t.app_recv += TCP_MSG;
		s->t.app_sent += TCP_MSG;
		shutdown(c, SHUT_WR);
		wait_tcp_close(c, &s->t);
		tcp_conn_end(c, &s->t);
	}
}

static void udp_server(struct spec *s, char *buf, double t0)
{
	struct sockaddr_storage peer;
	socklen_t plen;
	unsigned long i;
	ssize_t k;

	(void)t0; /* a server answers as fast as it is asked: no pace */
	for (i = 0; i < s->count; i++) {
		plen = sizeof(peer);
		k = recvfrom(s->fd, buf, 1 << 16, 0, (struct sockaddr *)&peer, &plen);
		if (k < 0) {
			spec_fail(s, -1, "udp recv %lu: %s", i, strerror(errno));
			break;
		}
		s->udp_recv += (unsigned long)k;
		k = sendto(s->fd, zbuf, udp_resp((unsigned)k), 0, (struct sockaddr *)&peer, plen);
		if (k < 0) {
			spec_fail(s, -1, "udp send %lu: %s", i, strerror(errno));
			break;
		}
		s->udp_sent += (unsigned long)k;
		s->datagrams += 2;
	}
}

static void spec_json(char *buf, size_t len, const struct spec *s)
{
	char t[512];

	if (s->tcp)
		tcp_sums_json(t, sizeof(t), &s->t);
	else
		snprintf(t, sizeof(t), "\"conns\":%lu,\"datagrams\":%lu,\"app_sent\":%lu,\"app_received\":%lu",
			 s->datagrams / 2, s->datagrams, s->udp_sent, s->udp_recv);
	snprintf(buf, len, "{\"proto\":\"%s\",\"addr\":\"%s\",\"port\":%u,\"count\":%lu,"
		 "\"family\":%d,\"src\":\"%s\",\"seconds\":%.3f,\"error\":\"%s\",%s}",
		 s->tcp ? "tcp" : "udp", s->addr, s->port, s->count, s->a.family == AF_INET ? 4 : 6,
		 s->src, s->seconds, s->err, t);
}

static void emit_specs(const char *event, double seconds)
{
	static char out[MAX_SPECS * 1024 + 256];
	size_t off;
	int i;

	off = (size_t)snprintf(out, sizeof(out), "{\"event\":\"%s\",\"seconds\":%.3f,\"specs\":[",
			       event, seconds);
	for (i = 0; i < nspecs; i++) {
		if (i)
			out[off++] = ',';
		spec_json(out + off, sizeof(out) - off, &specs[i]);
		off += strlen(out + off);
	}
	snprintf(out + off, sizeof(out) - off, "]}");
	emit("%s", out);
}

static int run_server(void)
{
	int i, one = 1;

	for (i = 0; i < nspecs; i++) {
		struct spec *s = &specs[i];
		struct addr b = s->a;

		s->fd = socket(s->a.family, s->tcp ? SOCK_STREAM : SOCK_DGRAM, 0);
		if (s->fd < 0)
			die("socket: %s", strerror(errno));
		setsockopt(s->fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
		if (bind(s->fd, (struct sockaddr *)&b.ss, b.len) < 0)
			die("bind %s: %s", s->addr, strerror(errno));
		if (s->tcp && listen(s->fd, 1024) < 0)
			die("listen: %s", strerror(errno));
		set_timeouts(s->fd);
		b.len = sizeof(b.ss);
		getsockname(s->fd, (struct sockaddr *)&b.ss, &b.len);
		s->port = addr_port(&b);
	}
	emit_specs("listening", 0);
	emit_specs("done", run_specs(tcp_server, udp_server));
	wait_cmd("close");
	for (i = 0; i < nspecs; i++)
		close(specs[i].fd);
	emit("{\"event\":\"closed\"}");
	wait_eof();
	return 0;
}

/* ---- client ---------------------------------------------------------------- */

static void tcp_client(struct spec *s, char *buf, double t0)
{
	struct addr src;
	unsigned long i;
	int c, e, one = 1;

	if (s->src[0] && parse_addr(s->src, 0, &src)) {
		spec_fail(s, -1, "bad source %s", s->src);
		return;
	}
	for (i = 0; i < s->count; i++) {
		pace(t0, i);
		c = spec_socket(s, SOCK_STREAM);
		if (c < 0)
			break;
		if (s->src[0]) {
			setsockopt(c, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof(one));
			if (bind(c, (struct sockaddr *)&src.ss, src.len) < 0) {
				spec_fail(s, c, "bind %s: %s", s->src, strerror(errno));
				break;
			}
		}
		if (connect(c, (struct sockaddr *)&s->a.ss, s->a.len) < 0) {
			spec_fail(s, c, "connect %lu: %s", i, strerror(errno));
			break;
		}
		if ((e = write_all(c, TCP_MSG)) || (e = read_all(c, TCP_MSG, buf, 1 << 16))) {
			spec_fail(s, c, "tcp conn %lu: %s", i, strerror(-e));
			break;
		}
		s->t.app_sent += TCP_MSG;
		s->t.app_recv += TCP_MSG;
		shutdown(c, SHUT_WR);
		if ((e = read_eof(c))) {
			spec_fail(s, c, "tcp conn %lu: no FIN: %s", i, strerror(-e));
			break;
		}
		tcp_conn_end(c, &s->t);
	}
}

static void udp_client(struct spec *s, char *buf, double t0)
{
	unsigned long i;
	unsigned q;
	ssize_t k;
	int c;

	for (i = 0; i < s->count; i++) {
		pace(t0, i);
		c = spec_socket(s, SOCK_DGRAM);
		if (c < 0)
			break;
		if (connect(c, (struct sockaddr *)&s->a.ss, s->a.len) < 0) {
			spec_fail(s, c, "udp connect: %s", strerror(errno));
			break;
		}
		q = udp_req(i);
		k = send(c, zbuf, q, 0);
		if (k != (ssize_t)q) {
			spec_fail(s, c, "udp send %lu: %s", i, strerror(errno));
			break;
		}
		s->udp_sent += q;
		k = recv(c, buf, 1 << 16, 0);
		if (k != (ssize_t)udp_resp(q)) {
			spec_fail(s, c, "udp %lu: answer %zd bytes, expected %u (%s)", i,
				  k, udp_resp(q), k < 0 ? strerror(errno) : "size");
			break;
		}
		s->udp_recv += (unsigned long)k;
		s->datagrams += 2;
		close(c);
	}
}

static int run_client(int wait_go)
{
	emit("{\"event\":\"ready\"}");
	if (wait_go)
		wait_cmd("go");
	emit_specs("done", run_specs(tcp_client, udp_client));
	wait_eof();
	return 0;
}

/* ---- fan: N concurrent connections, client and server processes -------- */

/*
 * Two processes, because each side needs N descriptors and a process may not
 * raise its hard RLIMIT_NOFILE without CAP_SYS_RESOURCE. The client's first
 * 4 bytes up on connection i carry i, so the server (epoll over every
 * accepted socket) answers each connection whatever the accept order.
 */
static void raise_nofile(rlim_t want)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
		die("getrlimit: %s", strerror(errno));
	if (rl.rlim_cur >= want)
		return;
	rl.rlim_cur = want;
	if (rl.rlim_max < want)
		rl.rlim_max = want; /* needs CAP_SYS_RESOURCE */
	if (setrlimit(RLIMIT_NOFILE, &rl) < 0) {
		if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_max >= want - 64) {
			rl.rlim_cur = rl.rlim_max;
			if (setrlimit(RLIMIT_NOFILE, &rl) == 0)
				return;
		}
		die("RLIMIT_NOFILE: need %lu descriptors, hard limit %lu (no CAP_SYS_RESOURCE?)",
		    (unsigned long)want, (unsigned long)rl.rlim_max);
	}
}

static void fan_sums(const int *fds, unsigned long n, struct tcp_sums *t)
{
	unsigned long i;

	memset(t, 0, sizeof(*t));
	for (i = 0; i < n; i++)
		tcp_info_add(fds[i], t);
}

/* Wait for a command; "stats" is answered on the way. */
static void fan_wait(const char *word, const int *fds, unsigned long n)
{
	struct tcp_sums t;
	char line[64], js[600];

	for (;;) {
		if (!fgets(line, sizeof(line), stdin))
			die("stdin closed before '%s'", word);
		line[strcspn(line, "\r\n")] = 0;
		if (!strcmp(line, "stats")) {
			fan_sums(fds, n, &t);
			tcp_sums_json(js, sizeof(js), &t);
			emit("{\"event\":\"stats\",%s}", js);
		} else if (!strcmp(line, word)) {
			return;
		}
	}
}

#include <sys/epoll.h>

/* Server: epoll over the accepted sockets; on_ready(fd) per readable one, n times. */
static void fan_serve(int ep, unsigned long n, int (*on_ready)(int fd, struct tcp_sums *t),
		      struct tcp_sums *t, const char *what)
{
	struct epoll_event evs[256];
	unsigned long done = 0;
	double t0 = now_s();
	int k, i, e;

	while (done < n) {
		k = epoll_wait(ep, evs, 256, 1000);
		if (k < 0 && errno == EINTR)
			continue;
		if (k < 0)
			die("epoll_wait: %s", strerror(errno));
		if (now_s() - t0 > 60)
			die("fan %s: %lu of %lu after 60s", what, done, n);
		for (i = 0; i < k; i++) {
			if ((e = on_ready(evs[i].data.fd, t)))
				die("fan %s: %s", what, strerror(-e));
			epoll_ctl(ep, EPOLL_CTL_DEL, evs[i].data.fd, NULL);
			done++;
		}
	}
}

static int fan_answer(int fd, struct tcp_sums *t)
{
	uint32_t idx;
	int e;

	if ((e = read_all(fd, 4, (char *)&idx, 4)))
		return e;
	if ((e = read_all(fd, fan_up(idx) - 4, rbuf_main, sizeof(rbuf_main))))
		return e;
	t->app_recv += fan_up(idx);
	if ((e = write_all(fd, fan_down(idx))))
		return e;
	t->app_sent += fan_down(idx);
	t->conns++;
	return 0;
}

static int fan_finish(int fd, struct tcp_sums *t)
{
	int e;

	if ((e = read_eof(fd)))
		return e;
	shutdown(fd, SHUT_WR);
	wait_tcp_close(fd, t);
	return 0;
}

static void fan_epoll_all(int ep, const int *fds, unsigned long n)
{
	struct epoll_event ev = { .events = EPOLLIN };
	unsigned long i;

	for (i = 0; i < n; i++) {
		ev.data.fd = fds[i];
		if (epoll_ctl(ep, EPOLL_CTL_ADD, fds[i], &ev) < 0)
			die("epoll_ctl: %s", strerror(errno));
	}
}

static int run_fan_server(unsigned long n, const char *addr)
{
	struct tcp_sums t, fin;
	struct addr a;
	char js[600];
	int *sv, ls, ep;
	unsigned long i;
	double t0 = now_s();

	raise_nofile(n + 64);
	if (parse_addr(addr, 0, &a))
		die("bad address %s", addr);
	sv = calloc(n, sizeof(int));
	ls = socket(a.family, SOCK_STREAM, 0);
	if (ls < 0 || bind(ls, (struct sockaddr *)&a.ss, a.len) < 0 || listen(ls, 4096) < 0)
		die("listener: %s", strerror(errno));
	set_timeouts(ls);
	a.len = sizeof(a.ss);
	getsockname(ls, (struct sockaddr *)&a.ss, &a.len);
	emit("{\"event\":\"listening\",\"port\":%u}", addr_port(&a));
	for (i = 0; i < n; i++) {
		sv[i] = accept(ls, NULL, NULL);
		if (sv[i] < 0)
			die("accept %lu: %s", i, strerror(errno));
		set_timeouts(sv[i]);
	}
	emit("{\"event\":\"open\",\"conns\":%lu,\"seconds\":%.3f}", n, now_s() - t0);
	ep = epoll_create1(0);
	fan_epoll_all(ep, sv, n);
	memset(&t, 0, sizeof(t));
	fan_serve(ep, n, fan_answer, &t, "answers");
	emit("{\"event\":\"ready\",\"up\":%lu,\"down\":%lu,\"seconds\":%.3f}", t.app_recv, t.app_sent,
	     now_s() - t0);
	fan_wait("close", sv, n);
	t0 = now_s();
	fan_epoll_all(ep, sv, n);
	memset(&fin, 0, sizeof(fin));
	fan_serve(ep, n, fan_finish, &fin, "close");
	for (i = 0; i < n; i++) {
		tcp_info_add(sv[i], &fin);
		close(sv[i]);
	}
	close(ls);
	fin.conns = t.conns;
	fin.app_sent = t.app_sent;
	fin.app_recv = t.app_recv;
	tcp_sums_json(js, sizeof(js), &fin);
	emit("{\"event\":\"closed\",\"seconds\":%.3f,%s}", now_s() - t0, js);
	free(sv);
	wait_eof();
	return 0;
}

static int run_fan_client(unsigned long n, const char *addr, unsigned port)
{
	struct tcp_sums t;
	struct addr a;
	char js[600];
	int *cl, e;
	unsigned long i, up = 0, down = 0;
	double t0 = now_s();

	raise_nofile(n + 64);
	if (parse_addr(addr, port, &a))
		die("bad address %s", addr);
	cl = calloc(n, sizeof(int));
	for (i = 0; i < n; i++) {
		cl[i] = socket(a.family, SOCK_STREAM, 0);
		if (cl[i] < 0)
			die("socket %lu: %s", i, strerror(errno));
		set_timeouts(cl[i]);
		if (connect(cl[i], (struct sockaddr *)&a.ss, a.len) < 0)
			die("connect %lu: %s", i, strerror(errno));
	}
	emit("{\"event\":\"open\",\"conns\":%lu,\"seconds\":%.3f}", n, now_s() - t0);
	/* Data: every connection carries its bytes while all of them are open. */
	for (i = 0; i < n; i++) {
		uint32_t idx = (uint32_t)i;

		if (send(cl[i], &idx, 4, MSG_NOSIGNAL) != 4 || (e = write_all(cl[i], fan_up(i) - 4)))
			die("fan %lu up: %s", i, strerror(errno));
		up += fan_up(i);
		if ((e = read_all(cl[i], fan_down(i), rbuf_main, sizeof(rbuf_main))))
			die("fan %lu down: %s", i, strerror(-e));
		down += fan_down(i);
	}
	emit("{\"event\":\"ready\",\"up\":%lu,\"down\":%lu,\"seconds\":%.3f}", up, down, now_s() - t0);
	fan_wait("close", cl, n);
	t0 = now_s();
	memset(&t, 0, sizeof(t));
	for (i = 0; i < n; i++) {
		shutdown(cl[i], SHUT_WR);
		if ((e = read_eof(cl[i])))
			die("fan %lu: no FIN from the server: %s", i, strerror(-e));
		tcp_conn_end(cl[i], &t);
	}
	t.app_sent = up;
	t.app_recv = down;
	tcp_sums_json(js, sizeof(js), &t);
	emit("{\"event\":\"closed\",\"seconds\":%.3f,%s}", now_s() - t0, js);
	free(cl);
	wait_eof();
	return 0;
}

/* ---- main -------------------------------------------------------------------- */

static void hello(void)
{
	char line[4096], cg[4096] = "";
	FILE *f = fopen("/proc/self/cgroup", "r");

	while (f && fgets(line, sizeof(line), f)) {
		if (!strncmp(line, "0::", 3)) {
			line[strcspn(line, "\n")] = 0;
			snprintf(cg, sizeof(cg), "%s", line + 3);
		}
	}
	if (f)
		fclose(f);
	emit("{\"event\":\"hello\",\"pid\":%d,\"cgroup\":\"%s\"}", (int)getpid(), cg);
}

int main(int argc, char **argv)
{
	const char *dl = getenv("NA_CHURN_DEADLINE");
	int wait_go = 0;

	signal(SIGPIPE, SIG_IGN);
	signal(SIGALRM, on_alarm);
	alarm(dl ? (unsigned)atoi(dl) : 200);
	setvbuf(stdin, NULL, _IOLBF, 0);
	for (;;) {
		if (argc >= 2 && !strcmp(argv[1], "--wait-go")) {
			wait_go = 1;
		} else if (argc >= 3 && !strcmp(argv[1], "--rate")) {
			client_rate = atof(argv[2]);
			if (!(client_rate > 0 && client_rate <= 1e6))
				die("--rate %s: not a rate in (0, 1e6]", argv[2]);
			argv++;
			argc--;
		} else {
			break;
		}
		argv++;
		argc--;
	}
	if (argc < 3) {
		fprintf(stderr, "usage: na_churn [--wait-go] [--rate R] server|client SPEC[,SPEC...] | fan-server N ADDR | "
				"fan-client N ADDR PORT\n");
		return 2;
	}
	hello();
	if (!strcmp(argv[1], "server")) {
		parse_specs(argv[2], 0);
		return run_server();
	}
	if (!strcmp(argv[1], "client")) {
		parse_specs(argv[2], 1);
		return run_client(wait_go);
	}
	if (!strcmp(argv[1], "fan-server") && argc >= 4)
		return run_fan_server(strtoul(argv[2], NULL, 10), argv[3]);
	if (!strcmp(argv[1], "fan-client") && argc >= 5)
		return run_fan_client(strtoul(argv[2], NULL, 10), argv[3], (unsigned)atoi(argv[4]));
	die("unknown role %s", argv[1]);
	return 2;
}
