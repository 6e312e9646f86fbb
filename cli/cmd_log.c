// SPDX-License-Identifier: (BSD-2-Clause OR GPL-2.0)
/*
 * log: one record per closed socket, read from the na_log ring buffer, as a
 * table (like tcplife), CSV (RFC 4180) or JSON lines. CSV and JSON come from
 * one field list so they cannot drift; the table reads the same fields.
 *
 * Reading consumes (agent/connlog.c): every record is written and flushed
 * before the callback returns, and libbpf marks a record consumed only after
 * that. A reader killed at any moment therefore loses nothing; at worst the
 * record it had just written is printed again by the next reader (same
 * cookie). A record that cannot be written (EPIPE, ENOSPC) is not returned
 * from: the process exits inside the callback, leaving it in the buffer.
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>


#include "args.h"
#include "cmd_log.h"
#include "common.h"
#include "format.h"
#include "record.h"

#pragma GCC poison u8 u16 u32 u64

#define POLL_MS 200
#define STATS_EVERY_NS 1000000000ull

static const char *const cols[] = {
	"end_time", "start_time", "duration_ms", "cookie", "cgroup_id", "cgroup", "pid", "uid", "comm",
	"proto", "family", "laddr", "lport", "raddr", "rport", "side",
	"tx_packets", "tx_ip_hdr_bytes", "tx_l4_hdr_bytes", "tx_payload_bytes",
	"rx_packets", "rx_ip_hdr_bytes", "rx_l4_hdr_bytes", "rx_payload_bytes",
	"tx_retrans_bytes", "rx_dup_bytes",
	/* names people know the cgroup by, and the peer's class (docs/names.md) */
	"unit", "container", "container_id", "pod", "pod_uid", "namespace", "qos", "peer_class",
	"peer_name",
};

#define NCOLS NA_ARRAY_SIZE(cols)
enum { C_END, C_START, C_DUR, C_COOKIE, C_CGID, C_CGROUP, C_PID, C_UID, C_COMM, C_PROTO, C_FAMILY,
       C_LADDR, C_LPORT, C_RADDR, C_RPORT, C_SIDE, C_TX, C_RETRANS = C_TX + 8, C_DUP, C_UNIT, C_CONTAINER,
       C_CONTAINER_ID, C_POD, C_POD_UID, C_NS, C_QOS, C_PEER_CLASS, C_PEER_NAME };
_Static_assert(C_PEER_NAME + 1 == NCOLS, "cols and their indices");

/* Text a record's fields point into. */
struct rec_text {
	char end[40], start[40], dur[32], laddr[64], raddr[64], comm[NA_COMM_LEN + 1];
};

struct log_ctx {
	struct na_connlog *l;
	enum log_fmt fmt;
	int human;
	int follow;
	int64_t offset;         /* CLOCK_REALTIME - CLOCK_BOOTTIME, refreshed per batch */
	uint64_t started_ns;    /* one-shot: records that ended after this are not "current" */
	uint64_t dropped_seen;  /* na_stats.log_dropped already reported */
	uint64_t records;
	struct na_names *names;            /* the cgroups' names, NULL: none */
	const struct na_netclass *classes; /* peer classes, NULL: none */
	const struct na_cgnames *cgnames;  /* the record's, set by fill() */
};

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
	(void)sig;
	stop = 1; /* SA_RESETHAND: a second signal ends the process (nothing is lost either way) */
}

/* Which end of the connection: accepted sockets and listeners serve, sockets with a peer are clients. */
static const char *side_name(const struct na_conn *c)
{
	if (c->flags & NA_ROW_ACCEPTED)
		return "server";
	if (c->proto == NA_P_TCP && !c->rport)
		return "server"; /* a TCP socket with a row and no peer listened */
	if (c->rport)
		return "client";
	return NULL; /* unconnected UDP and the like: either */
}

static void fill(struct na_field *f, struct rec_text *t, const struct na_conn *c, struct log_ctx *x)
{
	uint64_t dur = c->end_ns > c->start_ns && c->start_ns ? c->end_ns - c->start_ns : 0;
	int d;

	memset(f, 0, NCOLS * sizeof(*f));
	na_field_time(&f[C_END], t->end, sizeof(t->end), c->end_ns, x->offset);
	na_field_time(&f[C_START], t->start, sizeof(t->start), c->start_ns, x->offset);
	snprintf(t->dur, sizeof(t->dur), "%llu.%03llu", (unsigned long long)(dur / 1000000),
		 (unsigned long long)(dur / 1000 % 1000));
	na_field_num(&f[C_DUR], t->dur);
	na_field_u64(&f[C_COOKIE], c->cookie);
	na_field_u64(&f[C_CGID], c->cgroup_id);
	na_field_str(&f[C_CGROUP], na_connlog_cgroup(x->l, c->cgroup_id));
	if (c->pid)
		na_field_u64(&f[C_PID], c->pid);
	if (c->uid != (uint32_t)-1)
		na_field_u64(&f[C_UID], c->uid);
	memcpy(t->comm, c->comm, NA_COMM_LEN);
	t->comm[NA_COMM_LEN] = '\0';
	na_field_str(&f[C_COMM], t->comm);
	na_field_str(&f[C_PROTO], na_proto_name(c->proto));
	na_field_str(&f[C_FAMILY], na_family_name(c->family));
	na_addr_str(c->family, c->laddr, t->laddr, sizeof(t->laddr));
	na_field_str(&f[C_LADDR], t->laddr);
	if (c->lport || t->laddr[0])
		na_field_u64(&f[C_LPORT], c->lport);
	na_addr_str(c->family, c->raddr, t->raddr, sizeof(t->raddr));
	na_field_str(&f[C_RADDR], t->raddr);
	if (c->rport)
		na_field_u64(&f[C_RPORT], c->rport);
	na_field_str(&f[C_SIDE], side_name(c));
	for (d = 0; d < NA_NDIR; d++) {
		na_field_u64(&f[C_TX + d * 4 + 0], c->dir[d].packets);
		na_field_u64(&f[C_TX + d * 4 + 1], c->dir[d].ip_hdr_bytes);
		na_field_u64(&f[C_TX + d * 4 + 2], c->dir[d].l4_hdr_bytes);
		na_field_u64(&f[C_TX + d * 4 + 3], c->dir[d].payload_bytes);
	}
	na_field_u64(&f[C_RETRANS], na_resent(&c->dir[NA_TX]));
	na_field_u64(&f[C_DUP], na_resent(&c->dir[NA_RX]));
	x->cgnames = x->names ? na_names_get(x->names, c->cgroup_id, f[C_CGROUP].t == NA_FT_STR ? f[C_CGROUP].s : NULL)
			      : NULL;
	if (x->cgnames) {
		na_field_str(&f[C_UNIT], x->cgnames->unit);
		na_field_str(&f[C_CONTAINER], x->cgnames->container);
		na_field_str(&f[C_CONTAINER_ID], x->cgnames->container_id);
		na_field_str(&f[C_POD], x->cgnames->pod);
		na_field_str(&f[C_POD_UID], x->cgnames->pod_uid);
		na_field_str(&f[C_NS], x->cgnames->ns);
		na_field_str(&f[C_QOS], x->cgnames->qos);
	}
	na_field_str(&f[C_PEER_CLASS], na_netclass_name(x->classes, na_netclass_of(x->classes, c->family, c->raddr)));
	na_field_str(&f[C_PEER_NAME], na_connlog_peer_name(x->l, c));
}

int na_conn_json(FILE *out, struct na_connlog *l, const struct na_conn *c, int64_t offset, struct na_names *names,
		 const struct na_netclass *classes)
{
	struct log_ctx x = { .l = l, .fmt = FMT_JSON, .offset = offset, .names = names, .classes = classes };
	struct na_field f[NCOLS];
	struct rec_text t;

	fill(f, &t, c, &x);
	na_record_write(out, cols, f, NCOLS, 1);
	return ferror(out) ? -EIO : 0;
}

#define TABLE_FMT "%-12s %7s %-15s %-24s %-5s %-21s %-21s %10s %10s %10s %10s %11s\n"

static void table_header(void)
{
	printf(TABLE_FMT, "TIME", "PID", "COMM", "CGROUP", "PROTO", "LADDR:LPORT", "RADDR:RPORT", "TX_BYTES",
	       "RX_BYTES", "TX_RETRANS", "RX_DUP", "DURATION_MS");
}

/* "addr:port", "[v6]:port", "*" for no address, "*:*" for no peer at all. */
static void endpoint(char *buf, size_t len, const struct na_field *addr, const struct na_field *port)
{
	char p[8] = "*";

	if (port->t == NA_FT_U64)
		snprintf(p, sizeof(p), "%llu", (unsigned long long)port->u);
	if (addr->t != NA_FT_STR)
		snprintf(buf, len, "*:%s", p);
	else if (strchr(addr->s, ':'))
		snprintf(buf, len, "[%s]:%s", addr->s, p);
	else
		snprintf(buf, len, "%s:%s", addr->s, p);
}

static void bytes_cell(char *buf, size_t len, uint64_t v, int human)
{
	if (human)
		na_human_bytes(buf, len, (double)v, 0);
	else
		snprintf(buf, len, "%llu", (unsigned long long)v);
}

static void emit_table(const struct na_field *f, struct rec_text *t, const struct na_conn *c, const struct log_ctx *x)
{
	char when[16] = "-", pid[16] = "-", le[96], re[96], b[4][24], comm[16], cg[25], lf[22], rf[22];
	char best[2 * NA_NAME_MAX];
	int64_t ns = (int64_t)c->end_ns + x->offset;
	time_t s = (time_t)(ns / 1000000000);
	struct tm tm;

	if (c->end_ns && localtime_r(&s, &tm))
		snprintf(when, sizeof(when), "%02d:%02d:%02d.%03d", tm.tm_hour, tm.tm_min, tm.tm_sec,
			 (int)(ns % 1000000000 / 1000000));
	if (f[C_PID].t == NA_FT_U64)
		snprintf(pid, sizeof(pid), "%llu", (unsigned long long)f[C_PID].u);
	endpoint(le, sizeof(le), &f[C_LADDR], &f[C_LPORT]);
	endpoint(re, sizeof(re), &f[C_RADDR], &f[C_RPORT]);
	bytes_cell(b[0], sizeof(b[0]), c->dir[NA_TX].payload_bytes, x->human);
	bytes_cell(b[1], sizeof(b[1]), c->dir[NA_RX].payload_bytes, x->human);
	bytes_cell(b[2], sizeof(b[2]), na_resent(&c->dir[NA_TX]), x->human);
	bytes_cell(b[3], sizeof(b[3]), na_resent(&c->dir[NA_RX]), x->human);
	/* Every cell in its column, so a long path or address cannot shift the rest of the line. */
	na_fit(comm, f[C_COMM].t == NA_FT_STR ? t->comm : "-", 15, 1, NA_ELIDE_END);
	/* The name a person knows the cgroup by (the path, when there is none; --csv has both). */
	na_cgnames_best(x->cgnames, f[C_CGROUP].t == NA_FT_STR ? f[C_CGROUP].s : "-", best, sizeof(best));
	na_fit(cg, best, 24, 1, NA_ELIDE_START);
	na_fit(lf, le, 21, 1, NA_ELIDE_MIDDLE);
	na_fit(rf, re, 21, 1, NA_ELIDE_MIDDLE);
	printf(TABLE_FMT, when, pid, comm, cg, f[C_PROTO].s, lf, rf, b[0], b[1], b[2], b[3], t->dur);
}

/* Could not write: the callback must not return (that would consume the record). */
static void write_failed(void)
{
	int err = errno;

	/* A reader that went away (| head) is the normal end of a pipeline: exit quietly. */
	if (err != EPIPE)
		na_log(NA_LOG_ERROR, "log: write to stdout: %s (the record being written stays in the buffer)",
		       strerror(err ? err : EIO));
	_exit(NA_EXIT_FAIL);
}

static int on_record(void *ctx, const struct na_conn *c)
{
	struct log_ctx *x = ctx;
	struct na_field f[NCOLS];
	struct rec_text t;

	fill(f, &t, c, x);
	errno = 0;
	if (x->fmt == FMT_TABLE)
		emit_table(f, &t, c, x);
	else
		na_record_write(stdout, cols, f, NCOLS, x->fmt == FMT_JSON);
	if (fflush(stdout) || ferror(stdout))
		write_failed();
	x->records++;
	/*
	 * Stopping after a record that is written is safe: libbpf stores the
	 * consumer position past it before it passes our error back.
	 */
	if (stop)
		return -EINTR;
	if (!x->follow && c->end_ns > x->started_ns)
		return -ECANCELED; /* one-shot: the buffer as it was at the start, not a stream without end */
	return 0;
}

/* Report drops once at the start when there were any, then whenever they grow. */
static int check_drops(struct log_ctx *x, int first)
{
	static const char hint[] =
		"hint: read it more often (netacct log --follow) or attach with a bigger --log-size";
	struct na_stats s;
	int err = na_connlog_stats(x->l, &s);

	if (err)
		return err;
	if (first && s.log_dropped)
		na_log(NA_LOG_ERROR, "log: %llu connection records were dropped (ring buffer full) since the first attach; %s",
		       (unsigned long long)s.log_dropped, hint);
	else if (!first && s.log_dropped > x->dropped_seen)
		na_log(NA_LOG_ERROR, "log: %llu connection records were dropped (ring buffer full) while reading; %s",
		       (unsigned long long)(s.log_dropped - x->dropped_seen), hint);
	x->dropped_seen = s.log_dropped;
	return 0;
}

static const struct na_option log_opts[] = {
	NA_OPT_F(struct na_log_args, follow, "follow", 'f', 1,
		 "keep reading (every " NA_STR(POLL_MS) " ms) until SIGINT or SIGTERM"),
	NA_OPT_F(struct na_log_args, fmt, "csv", 0, FMT_CSV, "CSV (RFC 4180, CRLF, header row)"),
	NA_OPT_F(struct na_log_args, fmt, "json", 0, FMT_JSON, "JSON lines, the same keys; unknown values are null"),
	NA_OPT_F(struct na_log_args, human, "human", 'H', 1, "table: bytes in KiB/MiB"),
	NA_OPT_S(struct na_log_args, networks, "networks", 0, "FILE",
		 "peer classes from FILE (default " NA_NETWORKS_DEFAULT_PATH "\n"
		 "                when it exists; docs/names.md)"),
	NA_OPT_HELP_ENTRY(struct na_log_args, help, NULL),
	{ 0 },
};

static const char log_about[] =
	"Usage: netacct log [-f|--follow] [--csv|--json] [-H|--human]\n\n"
	"One record per closed socket of the attached cgroups (client and server\n"
	"sides of TCP connections, listeners, UDP sockets): owner, addresses,\n"
	"duration, bytes each way, retransmitted and duplicate bytes.\n\n"
	"Reading CONSUMES the records: the kernel keeps them in one ring buffer\n"
	"(attach --log-size) with one read position, so run one reader at a time.\n"
	"Without --follow, the records waiting now are printed and the command\n"
	"exits. Each record is flushed before it counts as read: a reader killed\n"
	"at any moment loses nothing (the record it was printing may be printed\n"
	"again by the next reader; the cookie column tells them apart). Records\n"
	"the kernel could not store because the buffer was full are counted and\n"
	"reported on stderr. Records written into a pipe are gone once written:\n"
	"a reader that exits without reading them (| head) loses them.\n"
	"--follow stops by itself when the state is detached.\n\n";

/* After the help lines: the columns, and examples. */
static void help_tail(void)
{
	printf("\nTable columns: TIME (end, local), PID, COMM, CGROUP (the name people know\n"
	       "it by: pod/container, container, unit, else the path), PROTO, LADDR:LPORT,\n"
	       "RADDR:RPORT, TX_BYTES, RX_BYTES (payload), TX_RETRANS, RX_DUP, DURATION_MS.\n"
	       "CSV/JSON: ");
	for (size_t i = 0; i < NCOLS; i++)
		printf("%s%s", i ? "," : "", cols[i]);
	printf("\n\nExamples:\n"
	       "  netacct log\n"
	       "  netacct log --follow --json > conns.jsonl\n");
}

const struct na_opts na_log_spec = { .cmd = "log", .opts = log_opts, .help_width = 14, .about = log_about,
				     .help_tail = help_tail, .pos = NA_ARGS_NONE("unexpected argument '%s'") };

int na_log_parse(int argc, char **argv, struct na_log_args *a)
{
	memset(a, 0, sizeof(*a));
	a->fmt = FMT_TABLE;
	return na_opts_parse(&na_log_spec, argc, argv, a);
}

/* The connection log of the pin root, after the same "nothing attached" and ABI checks as every reader. */
static int log_open(const struct na_global *g, struct log_ctx *x)
{
	struct na_state *st = NULL;
	struct na_snapshot snap;
	int rc, err;

	rc = na_open_snapshot(g, &st, &snap);
	if (rc)
		return rc;
	na_snapshot_free(&snap);
	na_state_close(st);

	err = na_connlog_open(g->pin_root, on_record, x, &x->l);
	if (err == -ENOENT && access(g->pin_root, F_OK))
		na_log(NA_LOG_ERROR, "nothing attached (no pinned state at %s; start with: netacct attach PATH)",
		       g->pin_root); /* detached between the two opens */
	return err ? NA_EXIT_FAIL : NA_EXIT_OK;
}

/* The table's header, or CSV's; JSON lines have none. */
static void log_header(const struct log_ctx *x)
{
	if (x->fmt == FMT_TABLE) {
		table_header();
	} else if (x->fmt == FMT_CSV) {
		for (size_t i = 0; i < NCOLS; i++)
			printf("%s%s", i ? "," : "", cols[i]);
		fputs("\r\n", stdout);
	}
	if (fflush(stdout) || ferror(stdout))
		write_failed();
}

/*
 * The records waiting now, and with --follow those that come, until a
 * signal or a detach: NA_EXIT_OK; NA_EXIT_FAIL when reading failed
 * (reported); -1 when the state could not be checked: stop at once.
 */
static int log_read(const struct na_global *g, struct log_ctx *x)
{
	uint64_t stats_ns;
	int err, pinned;

	x->offset = na_boot_offset_ns();
	x->started_ns = na_boot_ns();
	stats_ns = x->started_ns;
	err = na_connlog_consume(x->l);
	while (x->follow && !stop && (err >= 0 || err == -EINTR)) {
		if (na_boot_ns() - stats_ns >= STATS_EVERY_NS) {
			stats_ns = na_boot_ns();
			na_names_pass(x->names);
			na_names_expire(x->names, NA_NAMES_IDLE_S); /* a reader that follows for weeks */
			if (check_drops(x, 0))
				return -1;
			pinned = na_connlog_pinned(x->l);
			if (pinned < 0)
				return -1;
			if (!pinned) {
				/* Detached (or attached anew): print what it still holds, then stop. */
				err = na_connlog_consume(x->l);
				na_log(NA_LOG_INFO, "log: %s/na_log was detached or replaced: no more records come to this reader",
				       g->pin_root);
				break;
			}
		}
		x->offset = na_boot_offset_ns(); /* follows a wall clock that was set */
		err = na_connlog_poll(x->l, POLL_MS);
	}
	if (err < 0 && err != -EINTR && err != -ECANCELED) {
		na_err(err, "log: read %s/na_log", g->pin_root);
		return NA_EXIT_FAIL;
	}
	return NA_EXIT_OK;
}

int cmd_log(int argc, char **argv, const struct na_global *g)
{
	struct sigaction sa = { .sa_handler = on_signal, .sa_flags = SA_RESTART | SA_RESETHAND };
	struct log_ctx x = { .fmt = FMT_TABLE };
	struct na_netclass *classes = NULL;
	struct na_log_args a;
	int rc;

	if (na_cmd_done(&na_log_spec, na_log_parse(argc, argv, &a), &a, &rc))
		return rc;
	x.fmt = a.fmt;
	x.follow = a.follow;
	x.human = a.human;
	/* Before any state is read: a bad networks file is the operator's to fix (nothing of it is used). */
	if (na_netclass_load(a.networks, &classes) || na_names_new(NULL, &x.names)) {
		rc = NA_EXIT_FAIL;
		goto out_names;
	}
	x.classes = classes;
	rc = log_open(g, &x);
	if (rc)
		goto out_names;

	/* Write errors come back as EPIPE, inside the callback, where the record can still be kept. */
	signal(SIGPIPE, SIG_IGN);
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);

	if (check_drops(&x, 1)) {
		rc = NA_EXIT_FAIL;
		goto out;
	}
	log_header(&x);
	rc = log_read(g, &x);
	if (rc < 0) {
		rc = NA_EXIT_FAIL;
		goto out;
	}
	if (check_drops(&x, 0))
		rc = NA_EXIT_FAIL;
	na_log(NA_LOG_DEBUG, "log: %llu records", (unsigned long long)x.records);
out:
	na_connlog_close(x.l);
out_names:
	na_names_free(x.names);
	na_netclass_free(classes);
	return rc;
}
