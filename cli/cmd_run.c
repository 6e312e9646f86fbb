// SPDX-License-Identifier: (BSD-2-Clause OR GPL-2.0)
/*
 * run: a network bill for one command, like time(1) for traffic. A
 * transient cgroup under a netacct parent, attached; CMD runs in it with
 * netacct's stdin, stdout and stderr; the summary goes to stderr when CMD
 * ends; the exit status is CMD's (128 + N when a signal N ended it).
 *
 * The cgroup is made, entered and removed on the cgroup2 filesystem by
 * na_cgroup_create/enter/remove (agent/cgroup.c, shared with na-cgfix), not
 * with libcgroup: libcgroup 2.0.2 (Debian 12) makes no cgroup without a
 * controller, and netacct's cgroup needs none (docs/design.md).
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "args.h"
#include "format.h"
#include "record.h"

/* Setup failed: like env(1) and timeout(1), a status CMD is unlikely to use. */
#define NA_RUN_SETUP_FAIL 125

static volatile pid_t child;
static volatile sig_atomic_t early; /* a SIGTERM/SIGHUP before CMD started */

static void forward(int sig)
{
	if (child > 0)
		kill(child, sig);
	else
		early = sig;
}

/* One line of the summary: everything, one protocol, or one protocol and peer. */
struct bill {
	const char *kind; /* "total", "proto", "peer" */
	uint8_t proto, family;
	uint8_t raddr[16];
	uint64_t conns;
	struct na_counters dir[NA_NDIR];
	uint64_t retrans[NA_NDIR];
};

static const char *const cols[] = {
	"kind", "proto", "peer", "conns", "tx_packets", "tx_ip_hdr_bytes", "tx_l4_hdr_bytes", "tx_payload_bytes",
	"rx_packets", "rx_ip_hdr_bytes", "rx_l4_hdr_bytes", "rx_payload_bytes", "tx_retrans_bytes", "rx_dup_bytes",
};
#define NCOLS NA_ARRAY_SIZE(cols)

static void bill_add(struct bill *b, uint64_t conns, const struct na_counters *dir, const uint64_t *retrans)
{
	int d;

	b->conns += conns;
	for (d = 0; d < NA_NDIR; d++) {
		b->dir[d].packets += dir[d].packets;
		b->dir[d].ip_hdr_bytes += dir[d].ip_hdr_bytes;
		b->dir[d].l4_hdr_bytes += dir[d].l4_hdr_bytes;
		b->dir[d].payload_bytes += dir[d].payload_bytes;
		b->retrans[d] += retrans[d];
	}
}

/* The line of (kind, proto, family, peer), made when missing. */
static struct bill *bill_of(struct bill *v, size_t *n, size_t cap, const char *kind, uint8_t proto, uint8_t family,
			    const uint8_t *raddr)
{
	static const uint8_t zero[16];
	size_t i;

	if (!raddr)
		raddr = zero;
	for (i = 0; i < *n; i++)
		if (!strcmp(v[i].kind, kind) && v[i].proto == proto && v[i].family == family &&
		    !memcmp(v[i].raddr, raddr, 16))
			return &v[i];
	if (*n == cap)
		return NULL;
	memset(&v[*n], 0, sizeof(v[*n]));
	v[*n].kind = kind;
	v[*n].proto = proto;
	v[*n].family = family;
	memcpy(v[*n].raddr, raddr, 16);
	return &v[(*n)++];
}

static void print_bills(const struct bill *v, size_t n, enum log_fmt fmt)
{
	static const char *const kind_order[] = { "total", "proto", "peer" };
	struct na_field f[NCOLS];
	char peer[64];
	size_t i, k;
	int d;

	if (fmt == FMT_CSV)
		na_record_header(stderr, cols, NCOLS);
	if (fmt == FMT_TABLE)
		fprintf(stderr, "%-6s %-6s %-40s %6s %10s %10s %12s %10s %10s %12s %10s\n", "", "PROTO", "PEER",
			"CONNS", "TX_PKTS", "TX_HDR", "TX_PAYLOAD", "RX_PKTS", "RX_HDR", "RX_PAYLOAD", "RETRANS");
	for (k = 0; k < 3; k++) {
		for (i = 0; i < n; i++) {
			const struct bill *b = &v[i];

			if (strcmp(b->kind, kind_order[k]))
				continue;
			na_addr_str(b->family, b->raddr, peer, sizeof(peer));
			if (fmt == FMT_TABLE) {
				fprintf(stderr, "%-6s %-6s %-40s %6llu %10llu %10llu %12llu %10llu %10llu %12llu %10llu\n",
					b->kind, k ? na_proto_name(b->proto) : "", k == 2 ? (peer[0] ? peer : "*") : "",
					(unsigned long long)b->conns, (unsigned long long)b->dir[NA_TX].packets,
					(unsigned long long)(b->dir[NA_TX].ip_hdr_bytes + b->dir[NA_TX].l4_hdr_bytes),
					(unsigned long long)b->dir[NA_TX].payload_bytes,
					(unsigned long long)b->dir[NA_RX].packets,
					(unsigned long long)(b->dir[NA_RX].ip_hdr_bytes + b->dir[NA_RX].l4_hdr_bytes),
					(unsigned long long)b->dir[NA_RX].payload_bytes,
					(unsigned long long)b->retrans[NA_TX]);
				continue;
			}
			memset(f, 0, sizeof(f));
			na_field_str(&f[0], b->kind);
			na_field_str(&f[1], k ? na_proto_name(b->proto) : NULL);
			na_field_str(&f[2], k == 2 ? (peer[0] ? peer : "*") : NULL);
			na_field_u64(&f[3], b->conns);
			for (d = 0; d < NA_NDIR; d++) {
				na_field_u64(&f[4 + d * 4], b->dir[d].packets);
				na_field_u64(&f[5 + d * 4], b->dir[d].ip_hdr_bytes);
				na_field_u64(&f[6 + d * 4], b->dir[d].l4_hdr_bytes);
				na_field_u64(&f[7 + d * 4], b->dir[d].payload_bytes);
			}
			na_field_u64(&f[12], b->retrans[NA_TX]);
			na_field_u64(&f[13], b->retrans[NA_RX]);
			na_record_write(stderr, cols, f, NCOLS, fmt == FMT_JSON);
		}
	}
}

/* Live rows of the cgroup: wait (at most 2 s) for its sockets to end, so that their last bytes count. */
static int live_rows(struct na_state *st, uint64_t id)
{
	struct na_snapshot snap;
	size_t i;
	int n = 0;

	if (na_state_read(st, &snap))
		return 0;
	for (i = 0; i < snap.nrows; i++)
		n += snap.rows[i].s.cgroup_id == id && snap.rows[i].s.proto == NA_P_TCP;
	na_snapshot_free(&snap);
	return n;
}

static int summary(const struct na_global *g, const struct na_cgroup *cg, enum log_fmt fmt)
{
	struct bill v[256], *b;
	struct na_snapshot snap;
	struct na_state *st;
	size_t n = 0, i;
	int tries;

	if (na_state_open(g->pin_root, &st))
		return -1;
	for (tries = 0; tries < 20 && live_rows(st, cg->id); tries++)
		usleep(100 * 1000);
	if (na_state_read(st, &snap)) {
		na_state_close(st);
		return -1;
	}
	b = bill_of(v, &n, 256, "total", 0, 0, NULL);
	for (i = 0; i < snap.natt; i++)
		if (snap.att[i].a.cgroup_id == cg->id && b)
			bill_add(b, 0, snap.att[i].t.dir, (const uint64_t[NA_NDIR]){ 0, 0 });
	for (i = 0; i < snap.nrows + snap.nclosed; i++) {
		int live = i < snap.nrows;
		const struct na_sock_row *r = live ? &snap.rows[i] : NULL;
		const struct na_closed_row *c = live ? NULL : &snap.closed[i - snap.nrows];
		uint64_t id = live ? r->s.cgroup_id : c->k.cgroup_id;
		uint8_t proto = live ? r->s.proto : c->k.proto, family = live ? r->s.family : c->k.family;
		const uint8_t *raddr = live ? r->s.raddr : c->k.raddr;
		const struct na_counters *dir = live ? r->s.dir : c->c.dir;
		uint64_t retrans[NA_NDIR] = { live ? r->s.dir[NA_TX].resent_bytes : na_resent(&c->c.dir[NA_TX]),
					      live ? r->s.dir[NA_RX].resent_bytes : na_resent(&c->c.dir[NA_RX]) };
		uint64_t conns = live ? 1 : c->c.conns;
		struct bill *t;

		if (id != cg->id)
			continue;
		if (b) {
			b->conns += conns;
			b->retrans[NA_TX] += retrans[NA_TX];
			b->retrans[NA_RX] += retrans[NA_RX];
		}
		if ((t = bill_of(v, &n, 256, "proto", proto, 0, NULL)))
			bill_add(t, conns, dir, retrans);
		if ((t = bill_of(v, &n, 256, "peer", proto, family, raddr)))
			bill_add(t, conns, dir, retrans);
	}
	print_bills(v, n, fmt);
	na_snapshot_free(&snap);
	na_state_close(st);
	return 0;
}

static const struct na_option run_opts[] = {
	NA_OPT_S(struct na_run_args, name, "name", 0, "NAME", "the cgroup's name (default run-<pid>)"),
	NA_OPT_S(struct na_run_args, parent, "parent", 0, "DIR",
		 "the cgroup2 directory it is made in (default <cgroup2 mount>/netacct.run)"),
	NA_OPT_F(struct na_run_args, keep, "keep", 0, 1, "keep the cgroup and its attachment afterwards"),
	{ .name = "csv", .kind = NA_OPT_FLAG, NA_OPT_AT(struct na_run_args, fmt), .val = FMT_CSV, .flags = NA_OPTF_JOIN },
	NA_OPT_F(struct na_run_args, fmt, "json", 0, FMT_JSON, "the summary as CSV (with a header) or JSON lines"),
	NA_OPT_HELP_ENTRY(struct na_run_args, help, "this text"),
	{ 0 },
};

/* '+': options end at CMD, whose own options are its own. */
static const char run_about[] =
	"Usage: netacct run [--name NAME] [--parent DIR] [--keep] [--csv|--json] -- CMD [ARGS...]\n"
	"\n"
	"Run CMD in a new cgroup that netacct counts, and print what it sent and\n"
	"received to stderr when it ends: in all, per protocol and per peer (packets,\n"
	"header and payload bytes each way, retransmits, connections). CMD keeps the\n"
	"terminal's stdin, stdout and stderr and gets SIGTERM and SIGHUP; the exit\n"
	"status is CMD's (128 + N when signal N ended it; 125: netacct could not set up).\n"
	"\n";

const struct na_opts na_run_spec = {
	.cmd = "run", .opts = run_opts, .in_order = 1, .help_width = 14, .about = run_about,
	.pos = NA_ARGS_SOME(struct na_run_args, "no command given (netacct run [options] -- CMD [ARGS...])"),
};

int na_run_parse(int argc, char **argv, struct na_run_args *a)
{
	const char *pname;
	int rc;

	memset(a, 0, sizeof(*a));
	rc = na_opts_parse(&na_run_spec, argc, argv, a);
	if (rc || a->help)
		return rc;
	pname = a->name;
	if (pname && (!*pname || strchr(pname, '/') || !strcmp(pname, ".") || !strcmp(pname, "..") ||
		      strlen(pname) >= NA_RUN_NAME_MAX))
		return na_usage_error("run", "--name '%s': a cgroup directory name (no '/')", pname);
	return 0;
}

/* What one run makes, holds and removes. */
struct run_ctx {
	const struct na_global *g;
	const struct na_run_args *a;
	char parent[PATH_MAX], dir[PATH_MAX];
	struct na_cgroup cg;
	int made_parent;
	int att; /* na_attach_cgroup()'s: 1 when it was attached before */
	struct sigaction old_hup, old_int;
};

/*
 * Signals first: one during setup must not leave a cgroup or an
 * attachment behind. The terminal's ^C and ^\ reach CMD (same process
 * group) while we wait and report; SIGTERM and SIGHUP are passed on,
 * unless they were ignored when we started (nohup): then CMD ignores
 * them too. A reader of stderr that goes away must not kill us before
 * the cleanup.
 */
static void run_signals(struct run_ctx *x)
{
	struct sigaction sa = { .sa_handler = forward }, ign = { .sa_handler = SIG_IGN };

	sigaction(SIGHUP, NULL, &x->old_hup);
	sigaction(SIGINT, NULL, &x->old_int);
	sigaction(SIGINT, &ign, NULL);
	sigaction(SIGQUIT, &ign, NULL);
	sigaction(SIGTERM, &sa, NULL);
	if (x->old_hup.sa_handler != SIG_IGN)
		sigaction(SIGHUP, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	signal(SIGCHLD, SIG_DFL); /* an inherited SIG_IGN would reap CMD before we see its status */
}

/* The directory the cgroup is made in: --parent, or <cgroup2 mount>/netacct.run (made when missing). */
static int run_parent(struct run_ctx *x)
{
	struct na_cg2mount m;
	int e;

	if (x->a->parent) {
		snprintf(x->parent, sizeof(x->parent), "%s", x->a->parent);
		return 0;
	}
	if (na_cgroup2_mount(NULL, &m)) {
		na_log(NA_LOG_ERROR, "run: no cgroup2 mount in /proc/self/mountinfo (netacct doctor)");
		return NA_RUN_SETUP_FAIL;
	}
	if ((size_t)snprintf(x->parent, sizeof(x->parent), "%s/netacct.run", strcmp(m.dir, "/") ? m.dir : "") >=
	    sizeof(x->parent))
	{
		na_log(NA_LOG_ERROR, "run: the cgroup2 mount's path is too long");
		return NA_RUN_SETUP_FAIL;
	}
	e = na_cgroup_create(x->parent);
	if (!e)
		x->made_parent = 1;
	else if (e != -EEXIST) {
		na_err(e, "run: create %s", x->parent);
		return NA_RUN_SETUP_FAIL;
	}
	return 0;
}

/* CMD's cgroup, made and attached: 0, or the exit status (what was made is gone again). */
static int run_cgroup(struct run_ctx *x)
{
	struct na_attach_opts ao = { .pin_root = x->g->pin_root };
	char name[NA_RUN_NAME_MAX];
	int e;

	snprintf(name, sizeof(name), "%s", x->a->name ? x->a->name : "");
	if (!x->a->name)
		snprintf(name, sizeof(name), "run-%d", (int)getpid());
	if ((size_t)snprintf(x->dir, sizeof(x->dir), "%s/%s", x->parent, name) >= sizeof(x->dir)) {
		na_err(-ENAMETOOLONG, "run: %s/%s", x->parent, name);
		goto rm_parent;
	}
	e = na_cgroup_create(x->dir);
	/* A --parent off the cgroup2 filesystem: nothing was made, and resolve says why. */
	if (e == -EMEDIUMTYPE && na_cgroup_resolve(x->parent, &x->cg))
		goto rm_parent;
	if (e) {
		na_err(e, "run: create cgroup %s%s", x->dir, e == -EEXIST ? " (it exists: choose --name)" : "");
		goto rm_parent;
	}
	if (na_cgroup_resolve(x->dir, &x->cg)) {
		na_cgroup_remove(x->dir, 0);
		goto rm_parent;
	}
	x->att = na_attach_cgroup(&ao, x->dir);
	if (x->att < 0 || early) {
		if (x->att >= 0 && x->att != 1)
			na_detach_cgroup(x->g->pin_root, x->dir);
		na_cgroup_remove(x->dir, 0);
		if (x->made_parent)
			na_cgroup_remove(x->parent, 0);
		return early ? 128 + early : NA_RUN_SETUP_FAIL;
	}
	return 0;
rm_parent:
	if (x->made_parent)
		na_cgroup_remove(x->parent, 0);
	return NA_RUN_SETUP_FAIL;
}

/* CMD, in the cgroup, waited for: its wait status; *secs, how long it ran. */
static int run_child(struct run_ctx *x, double *secs)
{
	char *const *cmd = x->a->pos;
	struct timespec t0, t1;
	sigset_t fwd, old;
	int e, status = 0;
	pid_t pid, w;

	/* Held until the child's pid is known: a SIGTERM in between is forwarded, not lost. */
	sigemptyset(&fwd);
	sigaddset(&fwd, SIGTERM);
	sigaddset(&fwd, SIGHUP);
	sigprocmask(SIG_BLOCK, &fwd, &old);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	pid = fork();
	if (pid == 0) {
		sigaction(SIGINT, &x->old_int, NULL);
		signal(SIGQUIT, SIG_DFL);
		signal(SIGTERM, SIG_DFL);
		sigaction(SIGHUP, &x->old_hup, NULL);
		signal(SIGPIPE, SIG_DFL);
		sigprocmask(SIG_SETMASK, &old, NULL);
		e = na_cgroup_enter(x->dir, 0);
		if (e) {
			na_err(e, "run: move into %s", x->dir);
			_exit(126);
		}
		execvp(cmd[0], cmd);
		e = errno;
		na_err(-e, "run: %s", cmd[0]);
		_exit(e == ENOENT ? 127 : 126);
	}
	if (pid < 0) {
		sigprocmask(SIG_SETMASK, &old, NULL);
		na_err(-errno, "run: fork");
		status = 126 << 8;
	} else {
		child = pid;
		sigprocmask(SIG_SETMASK, &old, NULL);
		while ((w = waitpid(pid, &status, 0)) < 0 && errno == EINTR)
			;
		if (w < 0) {
			na_err(-errno, "run: wait for %s", cmd[0]);
			status = NA_RUN_SETUP_FAIL << 8;
		}
		child = 0;
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	*secs = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
	return status;
}

/* After CMD: the cgroup and its attachment go, unless something keeps them. */
static void run_cleanup(struct run_ctx *x)
{
	char procs[PATH_MAX + 16], line[32];
	int e, left = 0;
	FILE *f;

	/* Processes CMD left behind keep running, in the cgroup: it is kept, still counted. */
	snprintf(procs, sizeof(procs), "%s/cgroup.procs", x->dir);
	f = fopen(procs, "re");
	while (f && fgets(line, sizeof(line), f))
		left++;
	if (f)
		fclose(f);
	if (left) {
		na_log(NA_LOG_WARN, "run: %d process(es) CMD left still run in %s: it is kept, and counted", left, x->dir);
		return;
	}
	if (x->a->keep)
		return;
	if (x->att == 1) {
		/* Attached before us (an agent's pattern, say): not ours to detach. */
		na_log(NA_LOG_WARN, "run: %s was attached by someone else: left attached", x->dir);
		return;
	}
	if (na_detach_cgroup(x->g->pin_root, x->dir)) {
		na_log(NA_LOG_WARN, "run: %s is kept: detach it with `netacct detach %s`", x->dir, x->dir);
		return;
	}
	e = na_cgroup_remove(x->dir, NA_CGROUP_EXIT_WAIT_MS);
	if (e && e != -ENOENT)
		na_err(e, "run: remove %s", x->dir);
	if (x->made_parent || !x->a->parent)
		na_cgroup_remove(x->parent, 0); /* when empty: another run may be using it */
}

int cmd_run(int argc, char **argv, const struct na_global *g)
{
	struct run_ctx x = { .g = g };
	struct na_run_args a;
	int rc, status;
	double secs;

	if (na_cmd_done(&na_run_spec, na_run_parse(argc, argv, &a), &a, &rc))
		return rc;
	x.a = &a;
	if (na_caps_check_attach("run"))
		return NA_RUN_SETUP_FAIL;
	run_signals(&x);
	rc = run_parent(&x);
	if (!rc)
		rc = run_cgroup(&x);
	if (rc)
		return rc;
	status = run_child(&x, &secs);
	rc = WIFEXITED(status) ? WEXITSTATUS(status) : WIFSIGNALED(status) ? 128 + WTERMSIG(status) : 1;
	if (a.fmt == FMT_TABLE)
		fprintf(stderr, "netacct run: %s %s %d after %.3f s, cgroup %s\n", a.pos[0],
			WIFSIGNALED(status) ? "was ended by signal" : "exited with status",
			WIFSIGNALED(status) ? WTERMSIG(status) : rc, secs, x.cg.rel);
	summary(g, &x.cg, a.fmt);
	run_cleanup(&x);
	return rc;
}
