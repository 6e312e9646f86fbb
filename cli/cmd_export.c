// SPDX-License-Identifier: (BSD-2-Clause OR GPL-2.0)
/*
 * export: CSV (RFC 4180) or JSON lines from one field list, so they cannot
 * drift; rows as they are or grouped like top (view.c); or the Prometheus
 * text (prom.c). To stdout, or with -o to a file that appears whole or not
 * at all (atomic_out.c).
 */
#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>


#include "args.h"
#include "common.h"
#include "atomic_out.h"
#include "format.h"
#include "record.h"
#include "prom.h"
#include "view.h"

static const char *const cols[] = {
	"kind", "cgroup_id", "cgroup", "pid", "comm", "proto", "family", "laddr", "lport", "raddr",
	"rport", "conns", "tx_packets", "tx_ip_hdr_bytes", "tx_l4_hdr_bytes", "tx_payload_bytes",
	"rx_packets", "rx_ip_hdr_bytes", "rx_l4_hdr_bytes", "rx_payload_bytes",
	"uid", "state", "tx_retrans_bytes", "rx_dup_bytes", "srtt_us", "first_seen", "last_seen",
	"cookie", /* columns are only ever added at the end, so positional readers keep working */
	/* names people know the cgroup by, and the peer's class (docs/names.md) */
	"unit", "container", "container_id", "pod", "pod_uid", "namespace", "qos", "peer_class",
	"peer_name", /* the peer's name, from the cgroup's own DNS answers */
};

#define NCOLS NA_ARRAY_SIZE(cols)
enum { C_KIND, C_CGID, C_CGROUP, C_PID, C_COMM, C_PROTO, C_FAMILY, C_LADDR, C_LPORT, C_RADDR,
       C_RPORT, C_CONNS, C_TX, C_UID = C_TX + 8, C_STATE, C_RETRANS, C_DUP, C_SRTT, C_FIRST, C_LAST,
       C_COOKIE, C_UNIT, C_CONTAINER, C_CONTAINER_ID, C_POD, C_POD_UID, C_NS, C_QOS, C_PEER_CLASS, C_PEER_NAME,
       C_COUNT };
_Static_assert(C_COUNT == NCOLS, "one name in cols[] per column of the enum");

static void put_counters(struct na_field *f, const struct na_counters *dir)
{
	int d;

	for (d = 0; d < NA_NDIR; d++) {
		na_field_u64(&f[C_TX + d * 4 + 0], dir[d].packets);
		na_field_u64(&f[C_TX + d * 4 + 1], dir[d].ip_hdr_bytes);
		na_field_u64(&f[C_TX + d * 4 + 2], dir[d].l4_hdr_bytes);
		na_field_u64(&f[C_TX + d * 4 + 3], dir[d].payload_bytes);
	}
}

static void put_owner(struct na_field *f, uint32_t pid, uint32_t uid, const char *comm16, char *comm)
{
	memcpy(comm, comm16, NA_COMM_LEN);
	comm[NA_COMM_LEN] = '\0';
	if (pid)
		na_field_u64(&f[C_PID], pid);
	na_field_str(&f[C_COMM], comm);
	if (uid != (uint32_t)-1)
		na_field_u64(&f[C_UID], uid);
}

/* Paths of one snapshot are interned (one string per cgroup): equal pointers, equal text. */
static int cmp_str(const char *a, const char *b)
{
	return a == b ? 0 : strcmp(a ? a : "", b ? b : "");
}


static int closed_cmp(const void *pa, const void *pb)
{
	const struct na_closed_row *a = pa, *b = pb;
	int c;

	if ((c = cmp_str(a->cgroup, b->cgroup)) || (c = NA_CMP(a->k.cgroup_id, b->k.cgroup_id)) ||
	    (c = NA_CMP(a->k.pid, b->k.pid)) || (c = strncmp(a->k.comm, b->k.comm, NA_COMM_LEN)) ||
	    (c = NA_CMP(a->k.proto, b->k.proto)) || (c = NA_CMP(a->k.family, b->k.family)) ||
	    (c = memcmp(a->k.raddr, b->k.raddr, 16)))
		return c;
	return NA_CMP(a->k.rport, b->k.rport);
}

static int att_cmp(const void *pa, const void *pb)
{
	const struct na_att_state *a = pa, *b = pb;
	int c = strcmp(a->a.path, b->a.path);

	return c ? c : NA_CMP(a->a.cgroup_id, b->a.cgroup_id);
}

/* ---- names and peer classes (docs/names.md) ------------------------------------ */

/* Where the names and classes of the rows come from; both may be NULL (columns empty). */
struct row_names {
	struct na_names *names;
	const struct na_netclass *classes;
	uint64_t last_cgid;                 /* rows come in runs of one cgroup: its names once */
	const struct na_cgnames *last;
};

/* Which of a cgroup's names a row shows. */
enum { NM_UNIT = 1, NM_CONTAINER = 2, NM_POD = 4, NM_ALL = 7 };

static void put_names(struct na_field *f, const struct na_cgnames *n, unsigned which)
{
	if (!n)
		return;
	if (which & NM_UNIT)
		na_field_str(&f[C_UNIT], n->unit);
	if (which & NM_CONTAINER) {
		na_field_str(&f[C_CONTAINER], n->container);
		na_field_str(&f[C_CONTAINER_ID], n->container_id);
	}
	if (which & NM_POD) {
		na_field_str(&f[C_POD], n->pod);
		na_field_str(&f[C_POD_UID], n->pod_uid);
		na_field_str(&f[C_NS], n->ns);
		na_field_str(&f[C_QOS], n->qos);
	}
}

/* The names of a row's cgroup (none for a group of several) and its peer's class (none without a peer). */
static void put_row_names(struct na_field *f, struct row_names *rn, uint64_t cgid, const char *path,
			  uint8_t family, const uint8_t *raddr)
{
	if (rn->names && cgid && (!rn->last || rn->last_cgid != cgid)) {
		rn->last = na_names_get(rn->names, cgid, path);
		rn->last_cgid = cgid;
	}
	if (rn->names && cgid)
		put_names(f, rn->last, NM_ALL);
	na_field_str(&f[C_PEER_CLASS], na_netclass_name(rn->classes, na_netclass_of(rn->classes, family, raddr)));
}

/* A group's: what its grouping keeps of the names (by unit: the unit, ...), or its cgroup's. */
static void put_group_names(struct na_field *f, struct row_names *rn, const struct na_vrow *v, enum na_group g)
{
	const struct na_cgnames *n = v->names;

	switch (g) {
	case NA_G_UNIT:
		put_names(f, n, NM_UNIT);
		break;
	case NA_G_CONTAINER:
		if (n && n->container_id[0])
			put_names(f, n, NM_CONTAINER | NM_POD);
		break;
	case NA_G_POD:
		if (n && n->pod_uid[0])
			put_names(f, n, NM_POD);
		break;
	case NA_G_PEER_CLASS:
		na_field_str(&f[C_PEER_CLASS], na_netclass_name(rn->classes, v->pclass));
		break;
	default:
		put_row_names(f, rn, v->cgroup_id, v->cgroup, v->family, v->raddr);
		break;
	}
}

/* Strings a row's fields point to, until it is emitted. */
struct row_bufs {
	char laddr[64], raddr[64];
	char comm[NA_COMM_LEN + 1];
	char t1[40], t2[40];
};

/* A socket's or closed connection's row, cleared, with what both kinds start with. */
static void put_row_head(struct na_field *f, const char *kind, uint64_t cgroup_id, const char *cgroup, uint8_t proto,
			 uint8_t family)
{
	memset(f, 0, sizeof(*f) * NCOLS);
	na_field_str(&f[C_KIND], kind);
	na_field_u64(&f[C_CGID], cgroup_id);
	na_field_str(&f[C_CGROUP], cgroup);
	na_field_str(&f[C_PROTO], na_proto_name(proto));
	na_field_str(&f[C_FAMILY], na_family_name(family));
}

static void put_sock_row(struct na_field *f, struct row_bufs *b, const struct na_snapshot *snap,
			 const struct na_sock_row *r)
{
	put_row_head(f, "socket", r->s.cgroup_id, r->cgroup, r->s.proto, r->s.family);
	put_owner(f, r->s.pid, r->s.uid, r->s.comm, b->comm);
	na_addr_str(r->s.family, r->s.laddr, b->laddr, sizeof(b->laddr));
	na_field_str(&f[C_LADDR], b->laddr);
	if (r->s.lport || b->laddr[0])
		na_field_u64(&f[C_LPORT], r->s.lport);
	na_addr_str(r->s.family, r->s.raddr, b->raddr, sizeof(b->raddr));
	na_field_str(&f[C_RADDR], b->raddr);
	if (r->s.rport)
		na_field_u64(&f[C_RPORT], r->s.rport);
	na_field_u64(&f[C_CONNS], 1);
	put_counters(f, r->s.dir);
	na_field_str(&f[C_STATE], na_tcp_state_name(r->s.state));
	na_field_u64(&f[C_RETRANS], r->s.dir[NA_TX].resent_bytes);
	na_field_u64(&f[C_DUP], r->s.dir[NA_RX].resent_bytes);
	if (r->s.srtt_us)
		na_field_u64(&f[C_SRTT], r->s.srtt_us);
	na_field_time(&f[C_FIRST], b->t1, sizeof(b->t1), r->s.first_ns, snap->realtime_off);
	/* last_seen: closed rows only (a live row's last packet is not timed, see accounting.md) */
	/* The socket's cookie, as log and trace print it: a live row joins its records by it. */
	na_field_u64(&f[C_COOKIE], r->cookie);
	na_field_str(&f[C_PEER_NAME], na_peernames_find(snap->peernames, snap->npeernames, r->s.cgroup_id, r->s.family,
						    r->s.raddr, r->s.first_ns));
}

static void put_closed_row(struct na_field *f, struct row_bufs *b, const struct na_snapshot *snap,
			   const struct na_closed_row *r)
{
	put_row_head(f, "closed", r->k.cgroup_id, r->cgroup, r->k.proto, r->k.family);
	put_owner(f, r->k.pid, r->c.uid, r->k.comm, b->comm);
	na_addr_str(r->k.family, r->k.raddr, b->raddr, sizeof(b->raddr));
	na_field_str(&f[C_RADDR], b->raddr);
	if (r->k.rport)
		na_field_u64(&f[C_RPORT], r->k.rport);
	na_field_u64(&f[C_CONNS], r->c.conns);
	put_counters(f, r->c.dir);
	na_field_str(&f[C_STATE], "closed");
	na_field_u64(&f[C_RETRANS], na_resent(&r->c.dir[NA_TX]));
	na_field_u64(&f[C_DUP], na_resent(&r->c.dir[NA_RX]));
	na_field_time(&f[C_FIRST], b->t1, sizeof(b->t1), r->c.first_ns, snap->realtime_off);
	na_field_time(&f[C_LAST], b->t2, sizeof(b->t2), r->c.last_ns, snap->realtime_off);
	na_field_str(&f[C_PEER_NAME], na_peernames_find(snap->peernames, snap->npeernames, r->k.cgroup_id, r->k.family,
						    r->k.raddr, r->c.first_ns));
}

/*
 * A group of na_view_build(): the identity it keeps, empty columns for the
 * rest. With --group-by socket the row is the socket's own row (uid, srtt,
 * times), so that it reads like the default output.
 */
static void put_group_row(struct na_field *f, struct row_bufs *b, const struct na_snapshot *snap,
			  const struct na_vrow *v, enum na_group g, const struct na_sock_row *sock)
{
	if (g == NA_G_SOCKET && sock) {
		put_sock_row(f, b, snap, sock);
	} else {
		memset(f, 0, sizeof(*f) * NCOLS);
		if (v->cgroup_id)
			na_field_u64(&f[C_CGID], v->cgroup_id);
		na_field_str(&f[C_CGROUP], v->cgroup);
		if (v->pid)
			na_field_u64(&f[C_PID], v->pid);
		na_field_str(&f[C_COMM], v->comm);
		if (v->proto != 0xff) /* several protocols: empty */
			na_field_str(&f[C_PROTO], na_proto_name(v->proto));
		na_field_str(&f[C_FAMILY], na_family_name(v->family));
		na_addr_str(v->family, v->laddr, b->laddr, sizeof(b->laddr));
		na_field_str(&f[C_LADDR], b->laddr);
		if (v->lport)
			na_field_u64(&f[C_LPORT], v->lport);
		na_addr_str(v->family, v->raddr, b->raddr, sizeof(b->raddr));
		na_field_str(&f[C_RADDR], b->raddr);
		if (v->rport)
			na_field_u64(&f[C_RPORT], v->rport);
		if (g == NA_G_SOCKET)
			na_field_str(&f[C_STATE], na_tcp_state_name(v->state));
		na_field_str(&f[C_PEER_NAME], v->peer_name);
	}
	/* Not "cgroup": that kind is an attached cgroup's totals; these are leaf groups. */
	na_field_str(&f[C_KIND], g == NA_G_CGROUP ? "leaf_cgroup" : g == NA_G_PEER_CLASS ? "peer_class" : na_group_name(g));
	na_field_u64(&f[C_CONNS], v->conns);
	put_counters(f, v->tot);
	na_field_u64(&f[C_RETRANS], v->tot[NA_TX].resent_bytes);
	na_field_u64(&f[C_DUP], v->tot[NA_RX].resent_bytes);
}

/* The order of the other rows: cgroup, owner, peer, then local end. */
static int vrow_cmp(const void *pa, const void *pb)
{
	const struct na_vrow *a = pa, *b = pb;
	int c;

	if ((c = cmp_str(a->cgroup, b->cgroup)) || (c = NA_CMP(a->cgroup_id, b->cgroup_id)) ||
	    (c = NA_CMP(a->pid, b->pid)) || (c = strcmp(a->comm, b->comm)) ||
	    (c = NA_CMP(a->proto, b->proto)) || (c = NA_CMP(a->family, b->family)) ||
	    (c = memcmp(a->raddr, b->raddr, 16)) || (c = NA_CMP(a->rport, b->rport)) ||
	    (c = memcmp(a->laddr, b->laddr, 16)) || (c = NA_CMP(a->lport, b->lport)))
		return c;
	return NA_CMP(a->cookie, b->cookie);
}

static int cookie_cmp(const void *pa, const void *pb)
{
	const struct na_sock_row *a = pa, *b = pb;

	return NA_CMP(a->cookie, b->cookie);
}

/* The attachments PATH... selects, as a snapshot that shares everything else with snap. */
static int prom_write(FILE *out, const struct na_snapshot *snap, const struct na_filter *flt)
{
	struct na_snapshot sel = *snap;
	size_t i;
	int err;

	sel.att = calloc(snap->natt ? snap->natt : 1, sizeof(*sel.att));
	if (!sel.att)
		return na_err(-ENOMEM, "export");
	sel.natt = 0;
	for (i = 0; i < snap->natt; i++)
		if (na_filter_match(flt, snap->att[i].a.path, snap->att[i].a.cgroup_id))
			sel.att[sel.natt++] = snap->att[i];
	err = na_prom_write(out, &sel, NULL, NULL);
	free(sel.att);
	return err == -ENOMEM ? na_err(err, "export") : 0; /* a write error is the commit's to report */
}

/* The attached cgroups' totals, one "cgroup" row each (in path order). */
static void att_rows_write(FILE *out, struct na_snapshot *snap, const struct na_filter *flt, int json)
{
	struct na_field f[NCOLS];
	size_t i;

	if (snap->natt)
		qsort(snap->att, snap->natt, sizeof(*snap->att), att_cmp);
	for (i = 0; i < snap->natt; i++) {
		const struct na_att_state *a = &snap->att[i];

		if (!na_filter_match(flt, a->a.path, a->a.cgroup_id))
			continue;
		memset(f, 0, sizeof(f));
		na_field_str(&f[C_KIND], "cgroup");
		na_field_u64(&f[C_CGID], a->a.cgroup_id);
		na_field_str(&f[C_CGROUP], a->a.path);
		put_counters(f, a->t.dir);
		na_field_u64(&f[C_RETRANS], na_resent(&a->t.dir[NA_TX]));
		na_field_u64(&f[C_DUP], na_resent(&a->t.dir[NA_RX]));
		na_record_write(out, cols, f, NCOLS, json);
	}
}

/* --group-by: the attached cgroups' rows, then one row per group. */
static int group_rows_write(FILE *out, struct na_snapshot *snap, const struct na_filter *flt,
			    const struct na_export_args *eo, struct row_names *rn)
{
	struct na_view_opts vo = { .group = eo->group, .paths = flt, .proto = -1, .names = na_view_names,
				   .names_ctx = rn->names, .classes = rn->classes };
	struct na_vrow *vr = NULL;
	struct na_field f[NCOLS];
	struct row_bufs b;
	int json = eo->fmt == OUT_JSON, err;
	size_t i, nv = 0;

	err = na_view_build(snap, NULL, 0, &vo, &vr, &nv);
	if (err)
		return na_err(err, "export: group by %s", na_group_name(eo->group));
	if (nv)
		qsort(vr, nv, sizeof(*vr), vrow_cmp);
	if (eo->group == NA_G_SOCKET && snap->nrows)
		qsort(snap->rows, snap->nrows, sizeof(*snap->rows), cookie_cmp);
	if (!json && eo->header)
		na_record_header(out, cols, NCOLS);
	att_rows_write(out, snap, flt, json);
	for (i = 0; i < nv; i++) {
		struct na_sock_row key = { .cookie = vr[i].cookie }, *sock = NULL;

		if (eo->group == NA_G_SOCKET)
			sock = bsearch(&key, snap->rows, snap->nrows, sizeof(*snap->rows), cookie_cmp);
		put_group_row(f, &b, snap, &vr[i], eo->group, sock);
		if (eo->group == NA_G_SOCKET && sock)
			put_row_names(f, rn, sock->s.cgroup_id, sock->cgroup, sock->s.family, sock->s.raddr);
		else
			put_group_names(f, rn, &vr[i], eo->group);
		na_record_write(out, cols, f, NCOLS, json);
	}
	free(vr);
	return 0;
}

/* The rows as they are: the attached cgroups', then live sockets, then closed connections. */
static int rows_write(FILE *out, struct na_snapshot *snap, const struct na_filter *flt,
		      const struct na_export_args *eo, struct row_names *rn)
{
	const struct na_sock_row **ord = NULL;
	struct na_field f[NCOLS];
	struct row_bufs b;
	int json = eo->fmt == OUT_JSON;
	size_t i;

	if (eo->grouped)
		return group_rows_write(out, snap, flt, eo, rn);
	if (na_view_sock_order(snap, &ord))
		return na_err(-ENOMEM, "export");
	if (snap->nclosed) /* qsort's array must not be NULL, even for 0 elements */
		qsort(snap->closed, snap->nclosed, sizeof(*snap->closed), closed_cmp);
	if (!json && eo->header)
		na_record_header(out, cols, NCOLS);
	att_rows_write(out, snap, flt, json);
	for (i = 0; i < snap->nrows; i++) {
		/* The rows are read in another order than the map's: fetch a few ahead. */
		if (i + 8 < snap->nrows) {
			__builtin_prefetch(ord[i + 8]);
			__builtin_prefetch((const char *)ord[i + 8] + 64);
			__builtin_prefetch((const char *)ord[i + 8] + 128);
		}
		if (!na_filter_match(flt, ord[i]->cgroup, ord[i]->s.cgroup_id))
			continue;
		put_sock_row(f, &b, snap, ord[i]);
		put_row_names(f, rn, ord[i]->s.cgroup_id, ord[i]->cgroup, ord[i]->s.family, ord[i]->s.raddr);
		na_record_write(out, cols, f, NCOLS, json);
	}
	free(ord);
	for (i = 0; i < snap->nclosed; i++) {
		if (!na_filter_match(flt, snap->closed[i].cgroup, snap->closed[i].k.cgroup_id))
			continue;
		put_closed_row(f, &b, snap, &snap->closed[i]);
		put_row_names(f, rn, snap->closed[i].k.cgroup_id, snap->closed[i].cgroup, snap->closed[i].k.family,
			      snap->closed[i].k.raddr);
		na_record_write(out, cols, f, NCOLS, json);
	}
	return 0;
}

static int group_by_opt(const char *arg, void *args)
{
	struct na_export_args *a = args;

	if (na_group_parse(arg, &a->group))
		return -EINVAL;
	a->grouped = 1;
	return 0;
}

static const struct na_option export_opts[] = {
	NA_OPT_F(struct na_export_args, fmt, "csv", 0, OUT_CSV, NULL),
	NA_OPT_F(struct na_export_args, fmt, "json", 0, OUT_JSON, NULL),
	NA_OPT_F(struct na_export_args, fmt, "prometheus", 0, OUT_PROM, NULL),
	{ .name = "group-by", .kind = NA_OPT_FUNC, .parse = group_by_opt, .arg = "GROUP",
	  .why = "expected " NA_GROUPS_TEXT, .flags = NA_OPTF_BARE },
	NA_OPT_F(struct na_export_args, header, "no-header", 0, 0, NULL),
	NA_OPT_S(struct na_export_args, out, "output", 'o', "FILE", NULL),
	NA_OPT_S(struct na_export_args, networks, "networks", 0, "FILE", NULL),
	NA_OPT_HELP_ENTRY(struct na_export_args, help, NULL),
	{ 0 },
};

const struct na_opts na_export_spec = { .cmd = "export", .opts = export_opts,
					.pos = NA_ARGS_ANY(struct na_export_args) };

int na_export_parse(int argc, char **argv, struct na_export_args *a)
{
	int rc;

	memset(a, 0, sizeof(*a));
	a->fmt = OUT_CSV;
	a->header = 1;
	rc = na_opts_parse(&na_export_spec, argc, argv, a);
	if (rc || a->help)
		return rc;
	if (a->fmt == OUT_PROM && (a->grouped || !a->header || a->networks))
		return na_usage_error("export", "--prometheus takes neither --group-by, --no-header nor --networks");
	return 0;
}

int cmd_export(int argc, char **argv, const struct na_global *g)
{
	struct na_export_args eo;
	struct row_names rn = { 0 };
	struct na_netclass *classes = NULL;
	struct na_out out = { .fd = -1 };
	struct na_state *st = NULL;
	struct na_snapshot snap;
	struct na_filter flt;
	int rc, err;

	if (na_cmd_done(&na_export_spec, na_export_parse(argc, argv, &eo), &eo, &rc))
		return rc;
	rc = na_filter_init(&flt, eo.pos, eo.npos);
	if (rc)
		return rc;
	/* Before any state is read: a bad networks file is the operator's to fix (nothing of it is used). */
	if (eo.fmt != OUT_PROM && (na_netclass_load(eo.networks, &classes) || na_names_new(NULL, &rn.names))) {
		rc = NA_EXIT_FAIL;
		goto out_filter;
	}
	rn.classes = classes;
	rc = na_open_snapshot(g, &st, &snap);
	if (rc)
		goto out_filter;
	na_owners_resolve(g->pin_root, &snap, NULL); /* best effort: reported, rows shown either way */

	rc = NA_EXIT_FAIL;
	if (na_out_open(&out, eo.out, "export"))
		goto out_snap;
	/* 200 MB of CSV at a million rows: in large writes, not one per 4 KiB (a terminal's stdout too: export is no stream). */
	if (out.f == stdout)
		setvbuf(stdout, NULL, _IOFBF, 256 * 1024);
	err = eo.fmt == OUT_PROM ? prom_write(out.f, &snap, &flt) : rows_write(out.f, &snap, &flt, &eo, &rn);
	if (err) {
		na_out_abort(&out);
		goto out_snap;
	}
	if (!na_out_commit(&out))
		rc = NA_EXIT_OK;
out_snap:
	na_snapshot_free(&snap);
	na_state_close(st);
out_filter:
	na_names_free(rn.names);
	na_netclass_free(classes);
	na_filter_free(&flt);
	return rc;
}
