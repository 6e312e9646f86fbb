// SPDX-License-Identifier: (BSD-2-Clause OR GPL-2.0)
/* export: CSV (RFC 4180) or JSON lines from one field list, so they cannot drift. */
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "commands.h"
#include "format.h"

enum field_type { F_NULL, F_STR, F_U64 };

struct field {
	enum field_type t;
	const char *s;
	uint64_t u;
};

static const char *const cols[] = {
	"kind", "cgroup_id", "cgroup", "pid", "comm", "proto", "family", "laddr", "lport", "raddr",
	"rport", "conns", "tx_packets", "tx_ip_hdr_bytes", "tx_l4_hdr_bytes", "tx_payload_bytes",
	"rx_packets", "rx_ip_hdr_bytes", "rx_l4_hdr_bytes", "rx_payload_bytes",
	"uid", "state", "tx_retrans_bytes", "rx_dup_bytes", "srtt_us", "first_seen", "last_seen",
};

#define NCOLS (sizeof(cols) / sizeof(cols[0]))
enum { C_KIND, C_CGID, C_CGROUP, C_PID, C_COMM, C_PROTO, C_FAMILY, C_LADDR, C_LPORT, C_RADDR,
       C_RPORT, C_CONNS, C_TX, C_UID = C_TX + 8, C_STATE, C_RETRANS, C_DUP, C_SRTT, C_FIRST, C_LAST };

static void put_str(struct field *f, const char *s)
{
	f->t = s && *s ? F_STR : F_NULL;
	f->s = s;
}

static void put_u64(struct field *f, uint64_t u)
{
	f->t = F_U64;
	f->u = u;
}

static void put_counters(struct field *f, const struct na_counters *dir)
{
	int d;

	for (d = 0; d < NA_NDIR; d++) {
		put_u64(&f[C_TX + d * 4 + 0], dir[d].packets);
		put_u64(&f[C_TX + d * 4 + 1], dir[d].ip_hdr_bytes);
		put_u64(&f[C_TX + d * 4 + 2], dir[d].l4_hdr_bytes);
		put_u64(&f[C_TX + d * 4 + 3], dir[d].payload_bytes);
	}
}

static void emit(const struct field *f, int json)
{
	char num[24];
	size_t i;

	if (json) {
		json_object *o = json_object_new_object();

		for (i = 0; i < NCOLS; i++)
			json_object_object_add(o, cols[i],
					       f[i].t == F_U64 ? json_object_new_uint64(f[i].u)
					       : f[i].t == F_STR ? json_object_new_string(f[i].s)
								 : NULL);
		puts(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE));
		json_object_put(o);
		return;
	}
	for (i = 0; i < NCOLS; i++) {
		if (i)
			putchar(',');
		if (f[i].t == F_U64) {
			snprintf(num, sizeof(num), "%llu", (unsigned long long)f[i].u);
			fputs(num, stdout);
		} else if (f[i].t == F_STR) {
			na_csv_field(stdout, f[i].s);
		}
	}
	fputs("\r\n", stdout); /* RFC 4180 records end in CRLF */
}

/* Boot-time ns as ISO 8601 UTC with milliseconds. */
static void put_time(struct field *f, char *buf, size_t len, const struct na_snapshot *snap, uint64_t boot_ns)
{
	if (!boot_ns) {
		put_str(f, NULL);
		return;
	}
	na_iso_time(buf, len, (int64_t)boot_ns + snap->realtime_off);
	put_str(f, buf);
}

static void put_owner(struct field *f, uint32_t pid, uint32_t uid, const char *comm16, char *comm)
{
	memcpy(comm, comm16, NA_COMM_LEN);
	comm[NA_COMM_LEN] = '\0';
	if (pid)
		put_u64(&f[C_PID], pid);
	put_str(&f[C_COMM], comm);
	if (uid != (uint32_t)-1)
		put_u64(&f[C_UID], uid);
}

static int cmp_str(const char *a, const char *b)
{
	return strcmp(a ? a : "", b ? b : "");
}

#define CMP(a, b) ((a) < (b) ? -1 : (a) > (b) ? 1 : 0)

/* Stable order for diffs and pipelines: cgroup, owner, peer, then local end. */
static int row_cmp(const void *pa, const void *pb)
{
	const struct na_sock_row *a = pa, *b = pb;
	int c;

	if ((c = cmp_str(a->cgroup, b->cgroup)) || (c = CMP(a->s.cgroup_id, b->s.cgroup_id)) ||
	    (c = CMP(a->s.pid, b->s.pid)) || (c = strncmp(a->s.comm, b->s.comm, NA_COMM_LEN)) ||
	    (c = CMP(a->s.proto, b->s.proto)) || (c = CMP(a->s.family, b->s.family)) ||
	    (c = memcmp(a->s.raddr, b->s.raddr, 16)) || (c = CMP(a->s.rport, b->s.rport)) ||
	    (c = memcmp(a->s.laddr, b->s.laddr, 16)) || (c = CMP(a->s.lport, b->s.lport)))
		return c;
	return CMP(a->cookie, b->cookie);
}

static int closed_cmp(const void *pa, const void *pb)
{
	const struct na_closed_row *a = pa, *b = pb;
	int c;

	if ((c = cmp_str(a->cgroup, b->cgroup)) || (c = CMP(a->k.cgroup_id, b->k.cgroup_id)) ||
	    (c = CMP(a->k.pid, b->k.pid)) || (c = strncmp(a->k.comm, b->k.comm, NA_COMM_LEN)) ||
	    (c = CMP(a->k.proto, b->k.proto)) || (c = CMP(a->k.family, b->k.family)) ||
	    (c = memcmp(a->k.raddr, b->k.raddr, 16)))
		return c;
	return CMP(a->k.rport, b->k.rport);
}

static int att_cmp(const void *pa, const void *pb)
{
	const struct na_att_state *a = pa, *b = pb;
	int c = strcmp(a->a.path, b->a.path);

	return c ? c : CMP(a->a.cgroup_id, b->a.cgroup_id);
}

int cmd_export(int argc, char **argv, const struct na_global *g)
{
	static const struct option opts[] = {
		{ "csv", no_argument, NULL, 'c' },
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{},
	};
	struct field f[NCOLS];
	char t1[40], t2[40];
	struct na_state *st = NULL;
	struct na_snapshot snap;
	struct na_filter flt;
	char laddr[64], raddr[64], comm[NA_COMM_LEN + 1];
	int o, json = 0, rc;
	size_t i;

	while ((o = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (o) {
		case 'c':
			json = 0;
			break;
		case 'j':
			json = 1;
			break;
		case 'h':
			return cmd_help(2, (char *[]){ "help", "export" }, g);
		default:
			return na_usage_error("export", "unknown option or missing value: %s", argv[optind - 1]);
		}
	}
	rc = na_filter_init(&flt, "export", argv + optind, argc - optind);
	if (rc)
		return rc;
	rc = na_open_snapshot(g, &st, &snap);
	if (rc)
		goto out_filter;
	na_owners_resolve(g->pin_root, &snap, NULL); /* best effort: reported, rows shown either way */

	qsort(snap.att, snap.natt, sizeof(*snap.att), att_cmp);
	qsort(snap.rows, snap.nrows, sizeof(*snap.rows), row_cmp);
	qsort(snap.closed, snap.nclosed, sizeof(*snap.closed), closed_cmp);
	if (!json) {
		for (i = 0; i < NCOLS; i++)
			printf("%s%s", i ? "," : "", cols[i]);
		fputs("\r\n", stdout);
	}
	for (i = 0; i < snap.natt; i++) {
		const struct na_att_state *a = &snap.att[i];

		if (!na_filter_match(&flt, a->a.path, a->a.cgroup_id))
			continue;
		memset(f, 0, sizeof(f));
		put_str(&f[C_KIND], "cgroup");
		put_u64(&f[C_CGID], a->a.cgroup_id);
		put_str(&f[C_CGROUP], a->a.path);
		put_counters(f, a->t.dir);
		emit(f, json);
	}
	for (i = 0; i < snap.nrows; i++) {
		const struct na_sock_row *r = &snap.rows[i];

		if (!na_filter_match(&flt, r->cgroup, r->s.cgroup_id))
			continue;
		memset(f, 0, sizeof(f));
		put_str(&f[C_KIND], "socket");
		put_u64(&f[C_CGID], r->s.cgroup_id);
		put_str(&f[C_CGROUP], r->cgroup);
		put_owner(f, r->s.pid, r->s.uid, r->s.comm, comm);
		put_str(&f[C_PROTO], na_proto_name(r->s.proto));
		put_str(&f[C_FAMILY], na_family_name(r->s.family));
		na_addr_str(r->s.family, r->s.laddr, laddr, sizeof(laddr));
		put_str(&f[C_LADDR], laddr);
		if (r->s.lport || laddr[0])
			put_u64(&f[C_LPORT], r->s.lport);
		na_addr_str(r->s.family, r->s.raddr, raddr, sizeof(raddr));
		put_str(&f[C_RADDR], raddr);
		if (r->s.rport)
			put_u64(&f[C_RPORT], r->s.rport);
		put_u64(&f[C_CONNS], 1);
		put_counters(f, r->s.dir);
		put_str(&f[C_STATE], na_tcp_state_name(r->s.state));
		put_u64(&f[C_RETRANS], r->s.retrans_bytes[NA_TX]);
		put_u64(&f[C_DUP], r->s.retrans_bytes[NA_RX]);
		if (r->s.srtt_us)
			put_u64(&f[C_SRTT], r->s.srtt_us);
		put_time(&f[C_FIRST], t1, sizeof(t1), &snap, r->s.first_ns);
		put_time(&f[C_LAST], t2, sizeof(t2), &snap, r->s.last_ns);
		emit(f, json);
	}
	for (i = 0; i < snap.nclosed; i++) {
		const struct na_closed_row *r = &snap.closed[i];

		if (!na_filter_match(&flt, r->cgroup, r->k.cgroup_id))
			continue;
		memset(f, 0, sizeof(f));
		put_str(&f[C_KIND], "closed");
		put_u64(&f[C_CGID], r->k.cgroup_id);
		put_str(&f[C_CGROUP], r->cgroup);
		put_owner(f, r->k.pid, r->c.uid, r->k.comm, comm);
		put_str(&f[C_PROTO], na_proto_name(r->k.proto));
		put_str(&f[C_FAMILY], na_family_name(r->k.family));
		na_addr_str(r->k.family, r->k.raddr, raddr, sizeof(raddr));
		put_str(&f[C_RADDR], raddr);
		if (r->k.rport)
			put_u64(&f[C_RPORT], r->k.rport);
		put_u64(&f[C_CONNS], r->c.conns);
		put_counters(f, r->c.dir);
		put_str(&f[C_STATE], "closed");
		put_u64(&f[C_RETRANS], r->c.retrans_bytes[NA_TX]);
		put_u64(&f[C_DUP], r->c.retrans_bytes[NA_RX]);
		put_time(&f[C_FIRST], t1, sizeof(t1), &snap, r->c.first_ns);
		put_time(&f[C_LAST], t2, sizeof(t2), &snap, r->c.last_ns);
		emit(f, json);
	}
	if (fflush(stdout) || ferror(stdout)) {
		na_log(NA_LOG_ERROR, "export: write to stdout failed");
		rc = NA_EXIT_FAIL;
	}
	na_snapshot_free(&snap);
	na_state_close(st);
out_filter:
	na_filter_free(&flt);
	return rc;
}
