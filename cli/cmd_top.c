// SPDX-License-Identifier: (BSD-2-Clause OR GPL-2.0)
/*
 * top --batch: cgroup totals and the busiest sockets, with rates computed in
 * user space as deltas between two snapshots one interval apart.
 */
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "commands.h"
#include "format.h"

struct top_opts {
	double interval;
	long iterations; /* 0: until interrupted */
	long limit;
	int bits;
};

struct sock_rate {
	const struct na_sock_row *r;
	double tx, rx, pkts; /* per second over the interval */
};

/* Counters only grow; a smaller value is another row or attachment: no rate. */
static uint64_t delta(uint64_t now, uint64_t before)
{
	return now >= before ? now - before : 0;
}

static int cookie_cmp(const void *a, const void *b)
{
	uint64_t x = ((const struct na_sock_row *)a)->cookie, y = ((const struct na_sock_row *)b)->cookie;

	return x < y ? -1 : x > y;
}

static int rate_cmp(const void *pa, const void *pb)
{
	const struct sock_rate *a = pa, *b = pb;
	double x = a->tx + a->rx, y = b->tx + b->rx;
	uint64_t ta, tb;

	if (x != y)
		return x < y ? 1 : -1;
	ta = na_counters_bytes(&a->r->s.dir[NA_TX]) + na_counters_bytes(&a->r->s.dir[NA_RX]);
	tb = na_counters_bytes(&b->r->s.dir[NA_TX]) + na_counters_bytes(&b->r->s.dir[NA_RX]);
	if (ta != tb)
		return ta < tb ? 1 : -1;
	return a->r->cookie < b->r->cookie ? -1 : a->r->cookie > b->r->cookie;
}

static double hdr_pct(const struct na_counters *dir)
{
	uint64_t all = na_counters_bytes(&dir[NA_TX]) + na_counters_bytes(&dir[NA_RX]);
	uint64_t hdr = dir[NA_TX].ip_hdr_bytes + dir[NA_TX].l4_hdr_bytes + dir[NA_RX].ip_hdr_bytes +
		       dir[NA_RX].l4_hdr_bytes;

	return all ? 100.0 * (double)hdr / (double)all : 0.0;
}

static void endpoint(char *buf, size_t len, uint8_t family, const uint8_t *addr, uint16_t port)
{
	char a[48]; /* INET6_ADDRSTRLEN: leaves room for brackets and port */

	na_addr_str(family, addr, a, sizeof(a));
	if (!a[0])
		snprintf(buf, len, "*");
	else if (family == NA_F_IPV6)
		snprintf(buf, len, "[%s]:%u", a, port);
	else
		snprintf(buf, len, "%s:%u", a, port);
}

static void print_frame(const struct top_opts *o, const struct na_snapshot *prev, const struct na_snapshot *cur,
			const struct na_filter *flt, double secs)
{
	char t1[16], t2[16], t3[16], t4[16], when[32], loc[64], rem[64], pid[12];
	struct sock_rate *rates = NULL;
	size_t i, j, n = 0;
	time_t now = time(NULL);

	na_time_str(when, sizeof(when), (uint64_t)now);
	printf("netacct top - %s, interval %.1f s, %zu live sockets\n", when, secs, cur->nrows);
	printf("%-32s %11s %11s %11s %11s %6s %8s\n", "CGROUP", "TX/s", "RX/s", "TX", "RX", "HDR%", "SOCKETS");
	for (i = 0; i < cur->natt; i++) {
		const struct na_att_state *a = &cur->att[i];
		const struct na_att_state *p = NULL;
		double tx = 0, rx = 0;
		size_t socks = 0;

		if (!na_filter_match(flt, a->a.path, a->a.cgroup_id))
			continue;
		/* The same attachment (a detach and attach between frames starts a new one). */
		for (j = 0; j < prev->natt; j++)
			if (prev->att[j].a.token == a->a.token)
				p = &prev->att[j];
		if (p) {
			tx = (double)delta(na_counters_bytes(&a->t.dir[NA_TX]), na_counters_bytes(&p->t.dir[NA_TX])) / secs;
			rx = (double)delta(na_counters_bytes(&a->t.dir[NA_RX]), na_counters_bytes(&p->t.dir[NA_RX])) / secs;
		}
		for (j = 0; j < cur->nrows; j++)
			socks += na_path_below(cur->rows[j].cgroup, a->a.path);
		na_human_bytes(t1, sizeof(t1), tx, o->bits);
		na_human_bytes(t2, sizeof(t2), rx, o->bits);
		na_human_bytes(t3, sizeof(t3), (double)na_counters_bytes(&a->t.dir[NA_TX]), 0);
		na_human_bytes(t4, sizeof(t4), (double)na_counters_bytes(&a->t.dir[NA_RX]), 0);
		printf("%-32s %9s/s %9s/s %11s %11s %5.1f%% %8zu\n", a->a.path, t1, t2, t3, t4, hdr_pct(a->t.dir), socks);
	}

	rates = calloc(cur->nrows ? cur->nrows : 1, sizeof(*rates));
	if (!rates)
		return;
	for (i = 0; i < cur->nrows; i++) {
		const struct na_sock_row *r = &cur->rows[i], *p;
		struct na_counters d[NA_NDIR];
		int k;

		if (!na_filter_match(flt, r->cgroup, r->s.cgroup_id))
			continue;
		p = bsearch(r, prev->rows, prev->nrows, sizeof(*r), cookie_cmp);
		if (p && p->s.first_ns != r->s.first_ns)
			p = NULL; /* a new row for the same socket (it connected again) */
		for (k = 0; k < NA_NDIR; k++) {
			d[k] = r->s.dir[k];
			if (p) {
				d[k].packets = delta(d[k].packets, p->s.dir[k].packets);
				d[k].ip_hdr_bytes = delta(d[k].ip_hdr_bytes, p->s.dir[k].ip_hdr_bytes);
				d[k].l4_hdr_bytes = delta(d[k].l4_hdr_bytes, p->s.dir[k].l4_hdr_bytes);
				d[k].payload_bytes = delta(d[k].payload_bytes, p->s.dir[k].payload_bytes);
			}
		}
		rates[n].r = r;
		rates[n].tx = (double)na_counters_bytes(&d[NA_TX]) / secs;
		rates[n].rx = (double)na_counters_bytes(&d[NA_RX]) / secs;
		rates[n].pkts = (double)(d[NA_TX].packets + d[NA_RX].packets) / secs;
		n++;
	}
	qsort(rates, n, sizeof(*rates), rate_cmp);
	printf("\n%7s %-15s %-24s %-6s %-24s %-24s %11s %11s %10s %10s %6s %8s\n", "PID", "COMM", "CGROUP", "PROTO",
	       "LOCAL", "REMOTE", "TX/s", "RX/s", "TX", "RX", "HDR%", "PKTS/s");
	for (i = 0; i < n && (o->limit <= 0 || (long)i < o->limit); i++) {
		const struct na_sock *s = &rates[i].r->s;
		char comm[NA_COMM_LEN + 1];

		memcpy(comm, s->comm, NA_COMM_LEN);
		comm[NA_COMM_LEN] = '\0';
		snprintf(pid, sizeof(pid), "%u", s->pid);
		endpoint(loc, sizeof(loc), s->family, s->laddr, s->lport);
		endpoint(rem, sizeof(rem), s->family, s->raddr, s->rport);
		na_human_bytes(t1, sizeof(t1), rates[i].tx, o->bits);
		na_human_bytes(t2, sizeof(t2), rates[i].rx, o->bits);
		na_human_bytes(t3, sizeof(t3), (double)na_counters_bytes(&s->dir[NA_TX]), 0);
		na_human_bytes(t4, sizeof(t4), (double)na_counters_bytes(&s->dir[NA_RX]), 0);
		printf("%7s %-15s %-24.24s %-6s %-24s %-24s %9s/s %9s/s %10s %10s %5.1f%% %8.0f\n", s->pid ? pid : "-",
		       comm[0] ? comm : "-", rates[i].r->cgroup ? rates[i].r->cgroup : "?", na_proto_name(s->proto),
		       loc, rem, t1, t2, t3, t4, hdr_pct(s->dir), rates[i].pkts);
	}
	if (n > i)
		printf("(%zu more; --limit N shows more)\n", n - i);
	putchar('\n');
	fflush(stdout);
	free(rates);
}

static int parse_num(const char *cmd, const char *opt, const char *s, double min, double max, double *out)
{
	char *end;

	errno = 0;
	*out = strtod(s, &end);
	if (errno || *end || !*s || !isfinite(*out) || *out < min || *out > max)
		return na_usage_error(cmd, "%s '%s': a number from %g to %g", opt, s, min, max);
	return 0;
}

int cmd_top(int argc, char **argv, const struct na_global *g)
{
	static const struct option opts[] = {
		{ "batch", no_argument, NULL, 'B' },
		{ "interval", required_argument, NULL, 'd' },
		{ "iterations", required_argument, NULL, 'n' },
		{ "limit", required_argument, NULL, 'l' },
		{ "bits", no_argument, NULL, 'b' },
		{ "help", no_argument, NULL, 'h' },
		{},
	};
	struct top_opts o = { .interval = 1.0, .iterations = 0, .limit = 20 };
	struct na_snapshot prev = { 0 }, cur = { 0 };
	struct na_state *st = NULL;
	struct na_filter flt;
	struct timespec ts;
	double v;
	long it;
	int c, rc;

	while ((c = getopt_long(argc, argv, "Bd:n:l:bh", opts, NULL)) != -1) {
		switch (c) {
		case 'B':
			break; /* the only mode until the interactive view lands */
		case 'd':
			if (parse_num("top", "--interval", optarg, 0.1, 3600, &o.interval))
				return NA_EXIT_USAGE;
			break;
		case 'n':
			if (parse_num("top", "--iterations", optarg, 1, 1e9, &v))
				return NA_EXIT_USAGE;
			o.iterations = (long)v;
			break;
		case 'l':
			if (parse_num("top", "--limit", optarg, 0, 1e9, &v))
				return NA_EXIT_USAGE;
			o.limit = (long)v;
			break;
		case 'b':
			o.bits = 1;
			break;
		case 'h':
			return cmd_help(2, (char *[]){ "help", "top" }, g);
		default:
			return na_usage_error("top", "unknown option or missing value: %s", argv[optind - 1]);
		}
	}
	rc = na_filter_init(&flt, "top", argv + optind, argc - optind);
	if (rc)
		return rc;
	rc = na_open_snapshot(g, &st, &prev);
	if (rc)
		goto out;
	na_owners_resolve(g->pin_root, &prev, NULL);
	qsort(prev.rows, prev.nrows, sizeof(*prev.rows), cookie_cmp);
	for (it = 0; !o.iterations || it < o.iterations; it++) {
		uint64_t t0 = prev.boot_ns;

		ts.tv_sec = (time_t)o.interval;
		ts.tv_nsec = (long)((o.interval - (double)ts.tv_sec) * 1e9);
		while (nanosleep(&ts, &ts) && errno == EINTR)
			;
		if (na_state_read(st, &cur)) {
			rc = NA_EXIT_FAIL;
			break;
		}
		/* Only rows still without an owner cost anything: none, in the steady state. */
		na_owners_resolve(g->pin_root, &cur, NULL);
		print_frame(&o, &prev, &cur, &flt, (double)(cur.boot_ns - t0) / 1e9);
		na_snapshot_free(&prev);
		prev = cur;
		memset(&cur, 0, sizeof(cur));
		qsort(prev.rows, prev.nrows, sizeof(*prev.rows), cookie_cmp);
	}
	na_snapshot_free(&prev);
	na_state_close(st);
out:
	na_filter_free(&flt);
	return rc;
}
