// SPDX-License-Identifier: (BSD-2-Clause OR GPL-2.0)
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "prom.h"
#include "series.h"
#include "view.h"

/* The longest series text (family and labels) published: a cgroup path and the names of its cgroup. */
#define NA_SERIES_KEY_MAX 4096
/* The names' labels: what names_labels() writes at most (NA_SERIES_KEY_MAX holds them with the rest). */
#define NA_NAMES_LABELS_MAX (9 * NA_NAME_MAX + 64)

/* A published value, by the series' text (family and labels). */
struct pub {
	char *key;
	uint64_t v;
};

struct na_series {
	struct pub *pub;       /* sorted by key */
	size_t npub, cap;
	char **procs;          /* processes and peers that have their own series, sorted */
	size_t nprocs, pcap;
	size_t npeers;         /* ... of which peers */
	size_t npeer_names;    /* ... and peer names */
	struct na_names *names;            /* the cgroups' names, NULL: none */
	const struct na_netclass *classes; /* peer classes, NULL: none */
};

void na_series_set_names(struct na_series *s, struct na_names *names, const struct na_netclass *classes)
{
	s->names = names;
	s->classes = classes;
}

int na_series_new(struct na_series **out)
{
	*out = calloc(1, sizeof(**out));
	return *out ? 0 : -ENOMEM;
}

void na_series_free(struct na_series *s)
{
	size_t i;

	if (!s)
		return;
	for (i = 0; i < s->npub; i++)
		free(s->pub[i].key);
	for (i = 0; i < s->nprocs; i++)
		free(s->procs[i]);
	free(s->pub);
	free(s->procs);
	free(s);
}

static int str_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Index of key in a sorted string array (what str_cmp orders), or where it would go (*found 0). */
static size_t find(char *const *v, size_t stride, size_t n, const char *key, int *found)
{
	size_t lo = 0, hi = n, mid;
	int c;

	*found = 0;
	while (lo < hi) {
		mid = (lo + hi) / 2;
		c = strcmp(*(char *const *)((const char *)v + mid * stride), key);
		if (!c) {
			*found = 1;
			return mid;
		}
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/* max(what was published for key, v), remembered. */
static int publish(struct na_series *s, const char *key, uint64_t v, uint64_t *out)
{
	int found;
	size_t i = find((char *const *)s->pub, sizeof(*s->pub), s->npub, key, &found);
	struct pub *p;

	if (found) {
		if (v > s->pub[i].v)
			s->pub[i].v = v;
		*out = s->pub[i].v;
		return 0;
	}
	if (s->npub == s->cap) {
		p = realloc(s->pub, (s->cap ? 2 * s->cap : 256) * sizeof(*p));
		if (!p)
			return -ENOMEM;
		s->pub = p;
		s->cap = s->cap ? 2 * s->cap : 256;
	}
	memmove(&s->pub[i + 1], &s->pub[i], (s->npub - i) * sizeof(*s->pub));
	s->pub[i].key = strdup(key);
	if (!s->pub[i].key) {
		memmove(&s->pub[i], &s->pub[i + 1], (s->npub - i) * sizeof(*s->pub));
		return -ENOMEM;
	}
	s->pub[i].v = v;
	s->npub++;
	*out = v;
	return 0;
}

uint64_t na_series_hold(void *s, const char *key, uint64_t v)
{
	uint64_t out;

	return publish(s, key, v, &out) ? v : out;
}

/* One sample: the labels as text (escaped), then the published value. */
static int sample(FILE *f, struct na_series *s, const char *name, const char *labels, uint64_t v)
{
	char key[NA_SERIES_KEY_MAX];
	uint64_t out;

	if ((size_t)snprintf(key, sizeof(key), "%s{%s}", name, labels) >= sizeof(key))
		return 0; /* labels this long are not published (a cgroup path near PATH_MAX) */
	if (publish(s, key, v, &out))
		return -ENOMEM;
	fprintf(f, "%s %llu\n", key, (unsigned long long)out);
	return 0;
}

/* A label value, escaped, into buf. */
static void label(char *buf, size_t len, const char *v)
{
	char *t = NULL;
	size_t n = 0;
	FILE *m = open_memstream(&t, &n);

	buf[0] = '\0';
	if (!m)
		return;
	na_prom_label_value(m, v);
	fclose(m);
	snprintf(buf, len, "%s", t ? t : "");
	free(t);
}

/* Order of the (cgroup, pid, comm) rows: cgroup id, pid, comm. */
static int proc_cmp(const void *pa, const void *pb)
{
	const struct na_vrow *a = pa, *b = pb;
	int c = NA_CMP(a->cgroup_id, b->cgroup_id);

	if (c)
		return c;
	return (c = NA_CMP(a->pid, b->pid)) ? c : strcmp(a->comm, b->comm);
}

static const char *const dirs[NA_NDIR] = { "tx", "rx" };

/* The cgroup label value of a row: its path, escaped, or its id. */
static void cgroup_label(char *cg, size_t len, const struct na_vrow *r)
{
	if (r->cgroup)
		label(cg, len, r->cgroup);
	else
		snprintf(cg, len, "cgroup-id:%llu", (unsigned long long)r->cgroup_id);
}

/*
 * The names of a cgroup as labels, ",unit=...,container=...,pod=...,namespace=...",
 * the known ones only: an empty value is no label to Prometheus, and a cgroup
 * without names keeps the very text its series had.
 */
static void names_labels(const struct na_series *s, uint64_t cgid, const char *path, char *buf, size_t len)
{
	const struct na_cgnames *n = s->names && cgid ? na_names_get(s->names, cgid, path) : NULL;
	const char *const key[] = { "unit", "container", "pod", "namespace" };
	/*
	 * Whole, never cut in an escape: a unit is a path's component (any byte,
	 * 3 for one that is not UTF-8); the others are printable ASCII (2 at most).
	 */
	char v[3 * NA_NAME_MAX];
	size_t k, at = 0;

	buf[0] = '\0';
	for (k = 0; n && k < 4 && at < len; k++) {
		const char *val = k == 0 ? n->unit : k == 1 ? n->container : k == 2 ? n->pod : n->ns;

		if (!val[0])
			continue;
		label(v, sizeof(v), val);
		at += (size_t)snprintf(buf + at, len - at, ",%s=\"%s\"", key[k], v);
	}
}

/* A series of its own for key while there is room (s->procs holds the keys); 1 if key has one. */
static int own_series(struct na_series *s, const char *key, unsigned max, size_t *count, int *err)
{
	int found;
	char **pp;

	find(s->procs, sizeof(*s->procs), s->nprocs, key, &found);
	if (found || *count >= max)
		return found;
	if (s->nprocs == s->pcap) {
		pp = realloc(s->procs, (s->pcap ? 2 * s->pcap : 64) * sizeof(*pp));
		if (!pp) {
			*err = -ENOMEM;
			return 0;
		}
		s->procs = pp;
		s->pcap = s->pcap ? 2 * s->pcap : 64;
	}
	if (!(s->procs[s->nprocs] = strdup(key))) {
		*err = -ENOMEM;
		return 0;
	}
	s->nprocs++;
	(*count)++;
	qsort(s->procs, s->nprocs, sizeof(*s->procs), str_cmp);
	return 1;
}

/*
 * view.c's rows by (cgroup, pid, comm), live and closed, in proc_cmp's
 * order, and the same regrouped by cgroup (in cgroup id order, then). Both
 * malloc'ed. 0 or -ENOMEM.
 */
static int process_rows(const struct na_snapshot *snap, struct na_vrow **procs, size_t *np, struct na_vrow **cgs,
			size_t *nc)
{
	const struct na_view_opts o = { .group = NA_G_CGROUP_PROCESS, .proto = -1 };
	int err = na_view_build(snap, NULL, 0, &o, procs, np);

	if (err)
		return err;
	if (*np)
		qsort(*procs, *np, sizeof(**procs), proc_cmp);
	err = na_view_regroup(*procs, *np, NA_G_CGROUP, cgs, nc);
	if (err) {
		free(*procs);
		*procs = NULL;
	}
	return err;
}

/* The leaf-cgroup families: bytes by direction and part, then packets by direction. */
static int write_leaves(FILE *f, struct na_series *s, const struct na_vrow *cgs, size_t n)
{
	static const char *const parts[] = { "ip_header", "l4_header", "payload" };
	char cg[640], lab[NA_SERIES_KEY_MAX], nl[NA_NAMES_LABELS_MAX];
	size_t i, k;
	int d, err = 0;

	fprintf(f, "# HELP netacct_leaf_cgroup_bytes_total Bytes of the sockets in one cgroup (where they are, below an attached cgroup), summed from socket rows; never decreases.\n"
		   "# TYPE netacct_leaf_cgroup_bytes_total counter\n");
	for (i = 0; i < n && !err; i++) {
		const struct na_counters *t = cgs[i].tot;

		cgroup_label(cg, sizeof(cg), &cgs[i]);
		names_labels(s, cgs[i].cgroup_id, cgs[i].cgroup, nl, sizeof(nl));
		for (d = 0; d < NA_NDIR && !err; d++) {
			const uint64_t v[] = { t[d].ip_hdr_bytes, t[d].l4_hdr_bytes, t[d].payload_bytes };

			for (k = 0; k < 3 && !err; k++) {
				snprintf(lab, sizeof(lab), "cgroup=\"%s\"%s,direction=\"%s\",part=\"%s\"", cg, nl, dirs[d],
					 parts[k]);
				err = sample(f, s, "netacct_leaf_cgroup_bytes_total", lab, v[k]);
			}
		}
	}
	fprintf(f, "# HELP netacct_leaf_cgroup_packets_total Wire packets of the sockets in one cgroup, summed from socket rows; never decreases.\n"
		   "# TYPE netacct_leaf_cgroup_packets_total counter\n");
	for (i = 0; i < n && !err; i++) {
		cgroup_label(cg, sizeof(cg), &cgs[i]);
		names_labels(s, cgs[i].cgroup_id, cgs[i].cgroup, nl, sizeof(nl));
		for (d = 0; d < NA_NDIR && !err; d++) {
			snprintf(lab, sizeof(lab), "cgroup=\"%s\"%s,direction=\"%s\"", cg, nl, dirs[d]);
			err = sample(f, s, "netacct_leaf_cgroup_packets_total", lab, cgs[i].tot[d].packets);
		}
	}
	return err;
}

/*
 * The processes (cgroup, pid, comm) of the cgroup whose rows start at p[i]:
 * payload bytes. A process gets a series the first time it is seen while
 * there is room, and keeps it; the others of a cgroup go to pid="other",
 * which therefore only grows too. Returns where the cgroup's rows end;
 * *err: 0 or -ENOMEM.
 */
static size_t write_processes(FILE *f, struct na_series *s, const struct na_vrow *p, size_t n, size_t i,
			      unsigned per_process_max, int *err)
{
	uint64_t other[NA_NDIR] = { 0 };
	char cg[640], comm[80], key[800], lab[NA_SERIES_KEY_MAX];
	int d, e, any_other = 0;
	size_t j, count;

	cgroup_label(cg, sizeof(cg), &p[i]);
	for (j = i; j < n && p[j].cgroup_id == p[i].cgroup_id; j++) {
		label(comm, sizeof(comm), p[j].comm);
		snprintf(key, sizeof(key), "%s|%u|%s", cg, p[j].pid, comm);
		count = s->nprocs - s->npeers - s->npeer_names; /* the processes' own series */
		e = 0;
		if (!own_series(s, key, per_process_max, &count, &e)) {
			if (e) {
				*err = e;
				break;
			}
			for (d = 0; d < NA_NDIR; d++)
				other[d] += p[j].tot[d].payload_bytes;
			any_other = 1;
			continue;
		}
		for (d = 0; d < NA_NDIR && !*err; d++) {
			snprintf(lab, sizeof(lab), "cgroup=\"%s\",pid=\"%u\",comm=\"%s\",direction=\"%s\"", cg, p[j].pid,
				 comm, dirs[d]);
			*err = sample(f, s, "netacct_process_payload_bytes_total", lab, p[j].tot[d].payload_bytes);
		}
	}
	for (d = 0; any_other && d < NA_NDIR && !*err; d++) {
		snprintf(lab, sizeof(lab), "cgroup=\"%s\",pid=\"other\",comm=\"\",direction=\"%s\"", cg, dirs[d]);
		*err = sample(f, s, "netacct_process_payload_bytes_total", lab, other[d]);
	}
	return j;
}

int na_series_write(FILE *f, const struct na_snapshot *snap, struct na_series *s, unsigned per_process_max)
{
	struct na_vrow *procs = NULL, *cgs = NULL;
	size_t np = 0, nc = 0, i;
	int err;

	err = process_rows(snap, &procs, &np, &cgs, &nc);
	if (err)
		return err;
	err = write_leaves(f, s, cgs, nc);
	if (per_process_max && !err) {
		fprintf(f, "# HELP netacct_process_payload_bytes_total Payload bytes of one process's sockets (pid and comm of the socket's owner) in one cgroup; pid=\"other\" sums the processes beyond per-process-max.\n"
			   "# TYPE netacct_process_payload_bytes_total counter\n");
		for (i = 0; i < np && !err;)
			i = write_processes(f, s, procs, np, i, per_process_max, &err);
	}
	free(procs);
	free(cgs);
	return err;
}

static int vrow_name_cmp(const void *pa, const void *pb)
{
	const struct na_vrow *a = pa, *b = pb;

	return strcmp(a->peer_name, b->peer_name);
}

/* One attachment's peer rows regrouped by the name its cgroups looked them up by, into f (the name family). */
static int write_names(FILE *f, struct na_series *s, const char *cg, const struct na_vrow *rows, size_t n,
		       unsigned max)
{
	struct na_vrow *by_name = NULL;
	uint64_t other[NA_NDIR] = { 0 };
	char name[NA_DNS_NAME_MAX * 4 + 1], key[1800], lab[2048];
	size_t i, m = 0, k = 0;
	int d, err, any_other = 0;

	err = na_view_regroup(rows, n, NA_G_PEER_NAME, &by_name, &m);
	if (err)
		return err;
	for (i = 0; i < m; i++) /* peers without a name are in no series of this family */
		if (by_name[i].peer_name)
			by_name[k++] = by_name[i];
	if (k)
		qsort(by_name, k, sizeof(*by_name), vrow_name_cmp);
	for (i = 0; i < k && !err; i++) {
		const struct na_vrow *r = &by_name[i];

		label(name, sizeof(name), r->peer_name);
		snprintf(key, sizeof(key), "name|%s|%s", cg, name);
		if (!own_series(s, key, max, &s->npeer_names, &err)) {
			for (d = 0; d < NA_NDIR; d++)
				other[d] += r->tot[d].payload_bytes;
			any_other = 1;
			continue;
		}
		for (d = 0; d < NA_NDIR && !err; d++) {
			snprintf(lab, sizeof(lab), "cgroup=\"%s\",peer_name=\"%s\",direction=\"%s\"", cg, name, dirs[d]);
			err = sample(f, s, "netacct_peer_name_payload_bytes_total", lab, r->tot[d].payload_bytes);
		}
	}
	for (d = 0; any_other && d < NA_NDIR && !err; d++) {
		snprintf(lab, sizeof(lab), "cgroup=\"%s\",peer_name=\"other\",direction=\"%s\"", cg, dirs[d]);
		err = sample(f, s, "netacct_peer_name_payload_bytes_total", lab, other[d]);
	}
	free(by_name);
	return err;
}

int na_series_write_peers(FILE *f, const struct na_snapshot *snap, struct na_series *s, unsigned per_peer_max)
{
	char *names_text = NULL;
	size_t names_len = 0;
	FILE *names;
	struct na_view_opts o = { .group = NA_G_PEER, .proto = -1 };
	char cg[640], addr[64], key[800], lab[1024];
	struct na_counters other[NA_NDIR];
	struct na_vrow *rows = NULL;
	size_t i, j, n;
	int d, err = 0, any_other;

	if (!per_peer_max)
		return 0;
	/* The name family follows the address family whole: its samples wait here. */
	names = open_memstream(&names_text, &names_len);
	if (!names)
		return -ENOMEM;
	fprintf(f, "# HELP netacct_peer_payload_bytes_total Payload bytes the sockets at or below an attached cgroup sent to and received from one peer address; peer=\"other\" sums the peers beyond per-peer-max.\n"
		   "# TYPE netacct_peer_payload_bytes_total counter\n");
	for (i = 0; i < snap->natt && !err; i++) {
		const struct na_att_state *a = &snap->att[i];

		for (j = 0; j < i && strcmp(snap->att[j].a.path, a->a.path); j++)
			;
		if (j < i)
			continue; /* one series per label set, as prom.c */
		o.below = a->a.path;
		o.below_id = a->a.cgroup_id;
		err = na_view_build(snap, NULL, 0, &o, &rows, &n);
		if (err)
			break;
		label(cg, sizeof(cg), a->a.path);
		memset(other, 0, sizeof(other));
		any_other = 0;
		for (j = 0; j < n && !err; j++) {
			na_addr_str(rows[j].family, rows[j].raddr, addr, sizeof(addr));
			if (!addr[0])
				continue; /* no peer: listeners, and sockets' bytes before their second peer */
			snprintf(key, sizeof(key), "peer|%s|%s", cg, addr);
			if (!own_series(s, key, per_peer_max, &s->npeers, &err)) {
				for (d = 0; d < NA_NDIR; d++)
					other[d].payload_bytes += rows[j].tot[d].payload_bytes;
				any_other = 1;
				continue;
			}
			for (d = 0; d < NA_NDIR && !err; d++) {
				snprintf(lab, sizeof(lab), "cgroup=\"%s\",peer=\"%s\",direction=\"%s\"", cg, addr, dirs[d]);
				err = sample(f, s, "netacct_peer_payload_bytes_total", lab, rows[j].tot[d].payload_bytes);
			}
		}
		for (d = 0; any_other && d < NA_NDIR && !err; d++) {
			snprintf(lab, sizeof(lab), "cgroup=\"%s\",peer=\"other\",direction=\"%s\"", cg, dirs[d]);
			err = sample(f, s, "netacct_peer_payload_bytes_total", lab, other[d].payload_bytes);
		}
		if (!err)
			err = write_names(names, s, cg, rows, n, per_peer_max);
		free(rows);
		rows = NULL;
	}
	if (fclose(names) && !err)
		err = -ENOMEM;
	if (!err)
		fprintf(f, "# HELP netacct_peer_name_payload_bytes_total Payload bytes the sockets at or below an attached cgroup exchanged with the peers its cgroups looked up by this name (DNS); peer_name=\"other\" sums the names beyond per-peer-max.\n"
			   "# TYPE netacct_peer_name_payload_bytes_total counter\n%s",
			names_text ? names_text : "");
	free(names_text);
	return err;
}

static int cgroup_class_cmp(const void *pa, const void *pb)
{
	const struct na_vrow *a = pa, *b = pb;
	int c = strcmp(a->cgroup ? a->cgroup : "", b->cgroup ? b->cgroup : "");

	if (c)
		return c;
	return (c = NA_CMP(a->cgroup_id, b->cgroup_id)) ? c : NA_CMP(a->pclass, b->pclass);
}

int na_series_write_classes(FILE *f, const struct na_snapshot *snap, struct na_series *s)
{
	struct na_view_opts o = { .group = NA_G_CGROUP_CLASS, .proto = -1, .classes = s->classes };
	char cg[640], cls[2 * NA_NETCLASS_NAME_MAX], nl[NA_NAMES_LABELS_MAX], lab[NA_SERIES_KEY_MAX];
	struct na_vrow *rows = NULL;
	size_t i, n = 0;
	int d, err;

	err = na_view_build(snap, NULL, 0, &o, &rows, &n);
	if (err)
		return err;
	if (n)
		qsort(rows, n, sizeof(*rows), cgroup_class_cmp);
	fprintf(f, "# HELP netacct_peer_class_payload_bytes_total Payload bytes the sockets of one cgroup (where they are, below an attached cgroup) sent to and received from peers of one class (the networks file, the built-in classes); never decreases.\n"
		   "# TYPE netacct_peer_class_payload_bytes_total counter\n");
	for (i = 0; i < n && !err; i++) {
		const struct na_vrow *r = &rows[i];

		if (r->pclass < 0)
			continue; /* no peer known: listeners, a many-peer socket's bytes beyond na_peers (docs/names.md) */
		cgroup_label(cg, sizeof(cg), r);
		label(cls, sizeof(cls), na_netclass_name(s->classes, r->pclass));
		names_labels(s, r->cgroup_id, r->cgroup, nl, sizeof(nl));
		for (d = 0; d < NA_NDIR && !err; d++) {
			snprintf(lab, sizeof(lab), "cgroup=\"%s\"%s,peer_class=\"%s\",direction=\"%s\"", cg, nl, cls,
				 dirs[d]);
			err = sample(f, s, "netacct_peer_class_payload_bytes_total", lab, r->tot[d].payload_bytes);
		}
	}
	free(rows);
	return err;
}

int na_series_metrics(void *ctx, FILE *f, const struct na_snapshot *snap, const struct na_conf *c,
		      struct na_names *names, const struct na_netclass *classes)
{
	struct na_series *s = ctx;
	int err;

	na_series_set_names(s, names, classes);
	err = na_prom_write(f, snap, na_series_hold, s);
	if (!err)
		err = na_series_write(f, snap, s, c->per_process ? c->per_process_max : 0);
	if (!err)
		err = na_series_write_peers(f, snap, s, c->per_peer ? c->per_peer_max : 0);
	if (!err)
		err = na_series_write_classes(f, snap, s);
	return err;
}
