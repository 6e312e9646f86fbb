// SPDX-License-Identifier: (BSD-2-Clause OR GPL-2.0)
/*
 * Prometheus text exposition (format 0.0.4) of the per-cgroup counters.
 *
 * Every family is written whole (HELP, TYPE, then all of its samples): the
 * format does not allow a family's samples to be split. Counters are the
 * kernel's own, so they only grow while an attachment lives; a detach and a
 * new attach start them again at 0, which Prometheus reads as a reset.
 */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "prom.h"
#include "view.h"

#pragma GCC poison u8 u16 u32 u64


/* Length of the UTF-8 sequence at s (1..4), or 0 when it is not valid UTF-8. */
static size_t utf8_len(const unsigned char *s)
{
	unsigned char c = s[0];
	unsigned char lo = 0x80, hi = 0xbf;
	size_t n, i;

	if (c < 0x80)
		return 1;
	if (c >= 0xc2 && c <= 0xdf)
		n = 2;
	else if (c >= 0xe0 && c <= 0xef)
		n = 3;
	else if (c >= 0xf0 && c <= 0xf4)
		n = 4;
	else
		return 0;
	/* no overlong forms, no surrogates, nothing above U+10FFFF */
	if (c == 0xe0)
		lo = 0xa0;
	else if (c == 0xed)
		hi = 0x9f;
	else if (c == 0xf0)
		lo = 0x90;
	else if (c == 0xf4)
		hi = 0x8f;
	if (s[1] < lo || s[1] > hi)
		return 0;
	for (i = 2; i < n; i++) /* the NUL terminator fails this too */
		if (s[i] < 0x80 || s[i] > 0xbf)
			return 0;
	return n;
}

void na_prom_label_value(FILE *f, const char *str)
{
	const unsigned char *s = (const unsigned char *)(str ? str : "");
	size_t n;

	while (*s) {
		if (*s == '\\' || *s == '"') {
			fputc('\\', f);
			fputc(*s++, f);
		} else if (*s == '\n') {
			fputs("\\n", f);
			s++;
		} else if ((n = utf8_len(s)) == 0) {
			fputs("\xef\xbf\xbd", f); /* U+FFFD */
			s++;
		} else {
			fwrite(s, 1, n, f);
			s += n;
		}
	}
}

/*
 * The rows by leaf cgroup (view.c's grouping, live and closed rows folded
 * there): one row per cgroup id. A row whose path is unknown is in the
 * attached cgroup of its id, if any. *out is malloc'ed.
 */
static int leaves_build(const struct na_snapshot *snap, struct na_vrow **out, size_t *n)
{
	const struct na_view_opts o = { .group = NA_G_CGROUP, .proto = -1 };
	size_t i, a;
	int err = na_view_build(snap, NULL, 0, &o, out, n);

	for (i = 0; !err && i < *n; i++)
		for (a = 0; !(*out)[i].cgroup && a < snap->natt; a++)
			if (snap->att[a].a.cgroup_id == (*out)[i].cgroup_id)
				(*out)[i].cgroup = snap->att[a].a.path;
	return err;
}

/* An attachment and the sums of the rows in its subtree. */
struct att_sum {
	const struct na_att_state *a;
	uint64_t live, closed, retrans;
};

static int att_sum_cmp(const void *pa, const void *pb)
{
	const struct att_sum *a = pa, *b = pb;
	int c = strcmp(a->a->a.path, b->a->a.path);

	/* of two attachments with one path (removed, made again), the live cgroup first */
	if (!c)
		c = NA_CMP(b->a->cgroup_exists, a->a->cgroup_exists);
	return c ? c : NA_CMP(a->a->a.cgroup_id, b->a->a.cgroup_id);
}

static void family(FILE *f, const char *name, const char *type, const char *help)
{
	fprintf(f, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void sample_cg(FILE *f, const char *name, const struct att_sum *s, uint64_t v)
{
	fprintf(f, "%s{cgroup=\"", name);
	na_prom_label_value(f, s->a->a.path);
	fprintf(f, "\"} %llu\n", (unsigned long long)v);
}

static const char *const dir_names[NA_NDIR] = { [NA_TX] = "tx", [NA_RX] = "rx" };

/* A dipping counter of attachment s in direction d, held at its highest (see na_prom_hold_fn). */
static uint64_t resent_held(const struct att_sum *s, int d, na_prom_hold_fn hold, void *ctx)
{
	uint64_t v = na_resent(&s->a->t.dir[d]);
	char key[64];

	if (!hold)
		return v;
	snprintf(key, sizeof(key), "resent/%d/%llu", d, (unsigned long long)s->a->a.token);
	return hold(ctx, key, v);
}

/*
 * The attachments in the order of their paths, one per path (the live one),
 * each with the sums of the leaf cgroups lv[] at or below it. *out is
 * malloc'ed (NULL when there are none).
 */
static int att_sums(const struct na_snapshot *snap, const struct na_vrow *lv, size_t nl, struct att_sum **out,
		    size_t *nout)
{
	struct att_sum *as = NULL;
	size_t i, j, n = 0;

	if (snap->natt && !(as = calloc(snap->natt, sizeof(*as))))
		return -ENOMEM;
	for (i = 0; i < snap->natt; i++)
		as[i].a = &snap->att[i];
	if (snap->natt) /* qsort's array must not be NULL, even for 0 elements */
		qsort(as, snap->natt, sizeof(*as), att_sum_cmp);
	for (i = 0; i < snap->natt; i++) {
		struct att_sum *s = &as[i];

		if (n && !strcmp(as[n - 1].a->a.path, s->a->a.path))
			continue; /* one series per label set: the first (live) one */
		for (j = 0; j < nl; j++) {
			if (lv[j].cgroup_id != s->a->a.cgroup_id && !na_path_below(lv[j].cgroup, s->a->a.path))
				continue;
			s->live += lv[j].live;
			s->closed += lv[j].conns - lv[j].live;
			s->retrans += lv[j].tot[NA_TX].resent_bytes;
		}
		as[n++] = *s;
	}
	*out = as;
	*nout = n;
	return 0;
}

/* The families of each attached cgroup: its counters, and what its subtree's rows add up to. */
static void write_att_families(FILE *f, const struct att_sum *as, size_t n, na_prom_hold_fn hold, void *hold_ctx)
{
	static const struct {
		const char *label;
		size_t off;
	} parts[] = {
		{ "ip_header", offsetof(struct na_counters, ip_hdr_bytes) },
		{ "l4_header", offsetof(struct na_counters, l4_hdr_bytes) },
		{ "payload", offsetof(struct na_counters, payload_bytes) },
	};
	size_t i, j;
	int d;

	family(f, "netacct_bytes_total", "counter",
	       "Bytes the cgroup's sockets sent (tx) and received (rx) since attach, by part of the packet.");
	for (i = 0; i < n; i++) {
		for (d = 0; d < NA_NDIR; d++) {
			for (j = 0; j < NA_ARRAY_SIZE(parts); j++) {
				const char *base = (const char *)&as[i].a->t.dir[d];
				uint64_t v;

				memcpy(&v, base + parts[j].off, sizeof(v));
				fputs("netacct_bytes_total{cgroup=\"", f);
				na_prom_label_value(f, as[i].a->a.path);
				fprintf(f, "\",direction=\"%s\",part=\"%s\"} %llu\n", dir_names[d], parts[j].label,
					(unsigned long long)v);
			}
		}
	}
	family(f, "netacct_packets_total", "counter",
	       "Wire packets (GSO segments counted one by one) sent and received since attach.");
	for (i = 0; i < n; i++) {
		for (d = 0; d < NA_NDIR; d++) {
			fputs("netacct_packets_total{cgroup=\"", f);
			na_prom_label_value(f, as[i].a->a.path);
			fprintf(f, "\",direction=\"%s\"} %llu\n", dir_names[d],
				(unsigned long long)as[i].a->t.dir[d].packets);
		}
	}
	family(f, "netacct_connections_closed_total", "counter",
	       "Sockets at or below the cgroup that ended with a socket row and were folded into closed-connection rows; a socket that never got a row (the socket map was full) is not counted here or in the connection log, its packets are in netacct_overflow_packets_total.");
	for (i = 0; i < n; i++)
		sample_cg(f, "netacct_connections_closed_total", &as[i], as[i].closed);
	family(f, "netacct_retransmitted_bytes_total", "counter",
	       "TCP payload bytes the cgroup's sockets sent again since attach (payload less these is what "
	       "the applications wrote).");
	for (i = 0; i < n; i++)
		sample_cg(f, "netacct_retransmitted_bytes_total", &as[i], resent_held(&as[i], NA_TX, hold, hold_ctx));
	family(f, "netacct_duplicate_bytes_total", "counter",
	       "TCP payload bytes the cgroup's sockets received again since attach (payload less these is "
	       "what TCP took in for the applications).");
	for (i = 0; i < n; i++)
		sample_cg(f, "netacct_duplicate_bytes_total", &as[i], resent_held(&as[i], NA_RX, hold, hold_ctx));
	family(f, "netacct_live_sockets", "gauge", "Live socket rows at or below the cgroup.");
	for (i = 0; i < n; i++)
		sample_cg(f, "netacct_live_sockets", &as[i], as[i].live);
	family(f, "netacct_overflow_packets_total", "counter",
	       "Packets counted in the cgroup's totals without a socket row: the socket map was full.");
	for (i = 0; i < n; i++)
		sample_cg(f, "netacct_overflow_packets_total", &as[i], as[i].a->t.overflow_packets);
	family(f, "netacct_parse_errors_total", "counter",
	       "Packets whose headers could not be parsed (counted as payload of protocol other).");
	for (i = 0; i < n; i++)
		sample_cg(f, "netacct_parse_errors_total", &as[i], as[i].a->t.parse_errors);
	family(f, "netacct_attachment_live", "gauge",
	       "1 while the cgroup's attachment counts (all its programs attached, its copy active); 0 when an attach or detach stopped half-way (netacct status says which, the next attach or detach repairs it).");
	for (i = 0; i < n; i++)
		sample_cg(f, "netacct_attachment_live", &as[i], as[i].a->phase == NA_ATT_LIVE);
}

/* The families of the maps as a whole: their sizes and what did not fit. */
static void write_map_families(FILE *f, const struct na_snapshot *snap)
{
	family(f, "netacct_socket_map_entries", "gauge", "Rows in the live socket map.");
	fprintf(f, "netacct_socket_map_entries %zu\n", snap->nrows);
	family(f, "netacct_socket_map_capacity", "gauge", "Size of the live socket map (attach --max-sockets).");
	fprintf(f, "netacct_socket_map_capacity %llu\n", (unsigned long long)snap->meta.max_sockets);
	family(f, "netacct_closed_map_entries", "gauge", "Rows in the closed-connection map.");
	fprintf(f, "netacct_closed_map_entries %zu\n", snap->nclosed);
	family(f, "netacct_closed_map_capacity", "gauge", "Size of the closed-connection map (attach --max-closed).");
	fprintf(f, "netacct_closed_map_capacity %llu\n", (unsigned long long)snap->meta.max_closed);
	family(f, "netacct_closed_evicted_total", "counter",
	       "Closed sockets not folded into a row because the closed-connection map was full.");
	fprintf(f, "netacct_closed_evicted_total %llu\n", (unsigned long long)snap->stats.closed_evicted);
	family(f, "netacct_log_written_total", "counter",
	       "Connection log records written: one per socket that ended with a socket row (written + dropped = those sockets; one that never got a row has no record, its packets are in netacct_overflow_packets_total).");
	fprintf(f, "netacct_log_written_total %llu\n", (unsigned long long)snap->stats.log_written);
	family(f, "netacct_log_dropped_total", "counter",
	       "Connection log records lost because the ring buffer was full, of sockets that ended with a socket row (one that never got a row has no record, its packets are in netacct_overflow_packets_total).");
	fprintf(f, "netacct_log_dropped_total %llu\n", (unsigned long long)snap->stats.log_dropped);
}

int na_prom_write(FILE *f, const struct na_snapshot *snap, na_prom_hold_fn hold, void *hold_ctx)
{
	struct att_sum *as = NULL;
	struct na_vrow *lv = NULL;
	size_t n = 0, nl = 0;
	int err;

	err = leaves_build(snap, &lv, &nl);
	if (!err)
		err = att_sums(snap, lv, nl, &as, &n);
	if (!err) {
		write_att_families(f, as, n, hold, hold_ctx);
		write_map_families(f, snap);
		err = ferror(f) ? -EIO : 0;
	}
	free(as);
	free(lv);
	return err;
}
