// SPDX-License-Identifier: (BSD-2-Clause OR GPL-2.0)
/*
 * Grouping, rates, filters and order for top, export --group-by and the
 * Prometheus text (prom.c, series.c).
 * Rates of a group are the difference of the group's totals between two
 * snapshots, live sockets and closed connections together: a connection that
 * closed during the interval moves from one to the other and still counts.
 */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "format.h"
#include "view.h"

static const char *const group_names[NA_G_COUNT] = { "socket", "process", "cgroup", "peer",
						     "unit",   "container", "pod",  "peer-class" };

static const struct {
	const char *name;  /* header */
	const char *alias; /* for --sort */
	char key;          /* interactive sort key */
} cols[NA_C_COUNT] = {
	[NA_C_PID] = { "PID", "pid", 'P' },	   [NA_C_COMM] = { "COMM", "comm", 'C' },
	[NA_C_CGROUP] = { "CGROUP", "cgroup", 'G' }, [NA_C_NAME] = { "NAME", "name", 'A' },
	[NA_C_PROTO] = { "PROTO", "proto", 'O' },
	[NA_C_FAMILY] = { "FAMILY", "family", 'F' },
	[NA_C_LOCAL] = { "LOCAL", "local", 'L' },    [NA_C_REMOTE] = { "REMOTE", "remote", 'M' },
	[NA_C_HOST] = { "HOST", "host", 'W' },
	[NA_C_CLASS] = { "CLASS", "class", 'Z' },
	[NA_C_TX_RATE] = { "TX/s", "txrate", 'T' },  [NA_C_RX_RATE] = { "RX/s", "rxrate", 'R' },
	[NA_C_TX] = { "TX", "tx", 'S' },	   [NA_C_RX] = { "RX", "rx", 'E' },
	[NA_C_RETRANS] = { "RETRANS", "retrans", 'X' }, [NA_C_DUP] = { "DUP", "dup", 'D' },
	[NA_C_HDR] = { "HDR%", "hdr", 'H' },	   [NA_C_PKT_RATE] = { "PKTS/s", "pktrate", 'K' },
	[NA_C_CONNS] = { "CONNS", "conns", 'N' },
};

const char *na_group_name(enum na_group g)
{
	return g < NA_G_COUNT ? group_names[g] : "?";
}

int na_group_parse(const char *s, enum na_group *g)
{
	int i;

	for (i = 0; i < NA_G_COUNT; i++) {
		if (!strcasecmp(s, group_names[i])) {
			*g = (enum na_group)i;
			return 0;
		}
	}
	return -EINVAL;
}

const char *na_col_name(enum na_col c)
{
	return c < NA_C_COUNT ? cols[c].name : "?";
}

char na_col_key(enum na_col c)
{
	return c < NA_C_COUNT ? cols[c].key : '?';
}

void na_col_aliases(char *buf, size_t len)
{
	size_t n = 0;
	int i;

	if (len)
		buf[0] = '\0';
	for (i = 0; i < NA_C_COUNT && n < len; i++)
		n += (size_t)snprintf(buf + n, len - n, "%s%s", i ? " " : "", cols[i].alias);
}

int na_col_parse(const char *s, enum na_col *c)
{
	int i;

	for (i = 0; i < NA_C_COUNT; i++) {
		if (!strcasecmp(s, cols[i].name) || !strcasecmp(s, cols[i].alias) ||
		    (s[0] == cols[i].key && !s[1])) {
			*c = (enum na_col)i;
			return 0;
		}
	}
	return -EINVAL;
}

uint64_t na_vrow_bytes(const struct na_vrow *r, int dir)
{
	return na_counters_bytes(&r->tot[dir]);
}

uint64_t na_vrow_resent(const struct na_vrow *r, int dir)
{
	return r->tot[dir].resent_bytes;
}

double na_vrow_rate(const struct na_vrow *r, int dir)
{
	return r->secs > 0 ? (double)na_counters_bytes(&r->delta[dir]) / r->secs : 0.0;
}

double na_vrow_pkt_rate(const struct na_vrow *r)
{
	return r->secs > 0 ? (double)(r->delta[NA_TX].packets + r->delta[NA_RX].packets) / r->secs : 0.0;
}

double na_vrow_hdr_pct(const struct na_vrow *r)
{
	uint64_t all = na_vrow_bytes(r, NA_TX) + na_vrow_bytes(r, NA_RX);
	uint64_t hdr = r->tot[NA_TX].ip_hdr_bytes + r->tot[NA_TX].l4_hdr_bytes + r->tot[NA_RX].ip_hdr_bytes +
		       r->tot[NA_RX].l4_hdr_bytes;

	return all ? 100.0 * (double)hdr / (double)all : 0.0;
}

void na_vrow_endpoint(char *buf, size_t len, uint8_t family, const uint8_t *addr, uint16_t port)
{
	char a[48];

	na_addr_str(family, addr, a, sizeof(a));
	if (!a[0])
		snprintf(buf, len, "*");
	else if (!port)
		snprintf(buf, len, "%s", a);
	else if (family == NA_F_IPV6)
		snprintf(buf, len, "[%s]:%u", a, port);
	else
		snprintf(buf, len, "%s:%u", a, port);
}

void na_vrow_name(char *buf, size_t len, const struct na_vrow *r, enum na_group g)
{
	const struct na_cgnames *n = r->names;

	buf[0] = '\0';
	if (!n)
		return;
	if (g == NA_G_UNIT)
		snprintf(buf, len, "%s", n->unit);
	else if (g == NA_G_CONTAINER && n->container_id[0])
		na_cgnames_best(n, "", buf, len);
	else if (g == NA_G_POD && n->pod[0])
		snprintf(buf, len, "%s%s%s", n->ns, n->ns[0] ? "/" : "", n->pod);
	else if (g == NA_G_POD)
		snprintf(buf, len, "%s", n->pod_uid);
}

/* ---- building ------------------------------------------------------------- */

/* Groupings by what a cgroup's names say, and the key in its names. */
static int by_names(enum na_group g)
{
	return g == NA_G_UNIT || g == NA_G_CONTAINER || g == NA_G_POD;
}

static const char *names_key(const struct na_vrow *v, enum na_group g)
{
	if (!v->names)
		return "";
	return g == NA_G_UNIT ? v->names->unit : g == NA_G_CONTAINER ? v->names->container_id : v->names->pod_uid;
}

/* Groupings that split a many-peer socket into its peers. */
static int by_peer(enum na_group g)
{
	return g == NA_G_PEER || g == NA_G_PEER_CLASS || g == NA_G_CGROUP_CLASS;
}

/* Groupings whose key has the owner (pid, comm). */
static int by_process(enum na_group g)
{
	return g == NA_G_PROCESS || g == NA_G_CGROUP_PROCESS;
}


static int cmp_str(const char *a, const char *b)
{
	return strcmp(a ? a : "", b ? b : "");
}

/* Identity order within a group kind: cgroup, owner, peer, local end. */
static int key_cmp(const struct na_vrow *a, const struct na_vrow *b, enum na_group g)
{
	int c = 0;

	switch (g) {
	case NA_G_SOCKET:
		if (!(c = NA_CMP(a->cookie, b->cookie)))
			c = NA_CMP(a->first_ns, b->first_ns);
		break;
	case NA_G_PROCESS:
		if (!(c = NA_CMP(a->pid, b->pid)))
			c = strcmp(a->comm, b->comm);
		break;
	case NA_G_CGROUP:
		c = NA_CMP(a->cgroup_id, b->cgroup_id);
		break;
	case NA_G_PEER:
		if (!(c = NA_CMP(a->family, b->family)))
			c = memcmp(a->raddr, b->raddr, 16);
		break;
	case NA_G_UNIT:
	case NA_G_CONTAINER:
	case NA_G_POD:
		c = strcmp(names_key(a, g), names_key(b, g));
		break;
	case NA_G_PEER_CLASS:
		c = NA_CMP(a->pclass, b->pclass);
		break;
	case NA_G_CGROUP_CLASS:
		if (!(c = NA_CMP(a->cgroup_id, b->cgroup_id)))
			c = NA_CMP(a->pclass, b->pclass);
		break;
	case NA_G_CGROUP_PROCESS:
		if (!(c = NA_CMP(a->cgroup_id, b->cgroup_id)) && !(c = NA_CMP(a->pid, b->pid)))
			c = strcmp(a->comm, b->comm);
		break;
	case NA_G_PEER_NAME:
		c = cmp_str(a->peer_name, b->peer_name);
		break;
	default:
		break;
	}
	return c;
}

static void counters_add(struct na_counters *d, const struct na_counters *s)
{
	d->packets += s->packets;
	d->ip_hdr_bytes += s->ip_hdr_bytes;
	d->l4_hdr_bytes += s->l4_hdr_bytes;
	d->payload_bytes += s->payload_bytes;
	d->resent_bytes += s->resent_bytes;
}

static uint64_t sub0(uint64_t a, uint64_t b)
{
	return a >= b ? a - b : 0; /* counters only grow: less is another row, no rate */
}

static void counters_delta(struct na_counters *d, const struct na_counters *now, const struct na_counters *then)
{
	d->packets = sub0(now->packets, then->packets);
	d->ip_hdr_bytes = sub0(now->ip_hdr_bytes, then->ip_hdr_bytes);
	d->l4_hdr_bytes = sub0(now->l4_hdr_bytes, then->l4_hdr_bytes);
	d->payload_bytes = sub0(now->payload_bytes, then->payload_bytes);
	d->resent_bytes = sub0(now->resent_bytes, then->resent_bytes);
}

/* Does text name the row's cgroup as people know it (its unit, container, pod, namespace)? */
static int names_match(const struct na_vrow *r, const struct na_view_opts *o, const char *text)
{
	const struct na_cgnames *n;

	if (!o->names || !r->cgroup_id || !(n = o->names(o->names_ctx, r->cgroup_id, r->cgroup)))
		return 0;
	return strstr(n->unit, text) || strstr(n->container, text) || strstr(n->pod, text) || strstr(n->ns, text);
}

static int text_match(const struct na_vrow *r, const struct na_view_opts *o, const char *text)
{
	char a[64];

	if (!text || !*text)
		return 1;
	if (strstr(r->comm, text) || (r->cgroup && strstr(r->cgroup, text)) ||
	    (r->peer_name && strstr(r->peer_name, text)) ||
	    strstr(na_proto_name(r->proto), text) || names_match(r, o, text))
		return 1;
	/* Endpoints as shown ("127.0.0.1:8080"), so that a port matches too. */
	na_vrow_endpoint(a, sizeof(a), r->family, r->laddr, r->lport);
	if (strstr(a, text))
		return 1;
	na_vrow_endpoint(a, sizeof(a), r->family, r->raddr, r->rport);
	return strstr(a, text) != NULL;
}

static int keep(const struct na_vrow *r, const struct na_view_opts *o)
{
	if (o->paths && !na_filter_match(o->paths, r->cgroup, r->cgroup_id))
		return 0;
	if (o->below && r->cgroup_id != o->below_id && !(r->cgroup && na_path_below(r->cgroup, o->below)))
		return 0;
	if (o->pid && r->pid != o->pid)
		return 0;
	if (o->proto >= 0 && r->proto != o->proto)
		return 0;
	return text_match(r, o, o->text);
}

/* The cgroup paths' answer, kept per run of rows of one cgroup (rows of one cgroup follow each other). */
struct filter_cache {
	const char *path;
	uint64_t id;
	int valid, in;
};

static void from_sock(struct na_vrow *v, const struct na_sock_row *r);

/* The name v's cgroup looked its peer up by, or NULL. */
static const char *peer_name_of(const struct na_snapshot *s, const struct na_vrow *v)
{
	return s->npeernames ? na_peernames_find(s->peernames, s->npeernames, v->cgroup_id, v->family, v->raddr,
						 v->first_ns)
			     : NULL;
}

/* keep() for a socket's row without making its view row (but for a text filter). */
static int keep_sock(const struct na_snapshot *s, const struct na_sock_row *r, const struct na_view_opts *o,
		     struct filter_cache *fc)
{
	struct na_vrow v;

	if (o->paths && o->paths->n) {
		if (!fc->valid || r->cgroup != fc->path || r->s.cgroup_id != fc->id) {
			fc->path = r->cgroup;
			fc->id = r->s.cgroup_id;
			fc->in = na_filter_match(o->paths, r->cgroup, r->s.cgroup_id);
			fc->valid = 1;
		}
		if (!fc->in)
			return 0;
	}
	if (o->pid && r->s.pid != o->pid)
		return 0;
	if (o->proto >= 0 && r->s.proto != o->proto)
		return 0;
	if (!o->text || !*o->text)
		return 1;
	from_sock(&v, r);
	v.peer_name = peer_name_of(s, &v);
	return text_match(&v, o, o->text);
}

static void from_sock(struct na_vrow *v, const struct na_sock_row *r)
{
	memset(v, 0, sizeof(*v));
	v->cookie = r->cookie;
	v->first_ns = r->s.first_ns;
	v->pid = r->s.pid;
	memcpy(v->comm, r->s.comm, NA_COMM_LEN);
	v->cgroup_id = r->s.cgroup_id;
	v->cgroup = r->cgroup;
	v->family = r->s.family;
	v->proto = r->s.proto;
	v->state = r->s.state;
	memcpy(v->laddr, r->s.laddr, 16);
	memcpy(v->raddr, r->s.raddr, 16);
	v->lport = r->s.lport;
	v->rport = r->s.rport;
	v->pclass = -1;
	v->conns = v->live = 1;
	memcpy(v->tot, r->s.dir, sizeof(v->tot)); /* resent_bytes as na_resent() shows it */
}

static void from_closed(struct na_vrow *v, const struct na_closed_row *r)
{
	memset(v, 0, sizeof(*v));
	v->pid = r->k.pid;
	memcpy(v->comm, r->k.comm, NA_COMM_LEN);
	v->cgroup_id = r->k.cgroup_id;
	v->cgroup = r->cgroup;
	v->family = r->k.family;
	v->proto = r->k.proto;
	memcpy(v->raddr, r->k.raddr, 16);
	v->rport = r->k.rport;
	v->pclass = -1;
	v->first_ns = r->c.first_ns;
	v->conns = r->c.conns;
	memcpy(v->tot, r->c.dir, sizeof(v->tot));
	v->tot[NA_TX].resent_bytes = na_resent(&r->c.dir[NA_TX]);
	v->tot[NA_RX].resent_bytes = na_resent(&r->c.dir[NA_RX]);
}

/* What a group keeps of its members' identity; the rest is cleared. */
static void reduce_identity(struct na_vrow *v, enum na_group g)
{
	if (!by_process(g)) {
		v->pid = 0;
		v->comm[0] = '\0';
		v->first_ns = 0;
	}
	if (g == NA_G_PEER || g == NA_G_PEER_CLASS) {
		v->cgroup = NULL;
		v->cgroup_id = 0;
	}
	if (g != NA_G_PEER)
		memset(v->raddr, 0, 16);
	if (g != NA_G_PEER && g != NA_G_PEER_NAME)
		v->peer_name = NULL;
	memset(v->laddr, 0, 16);
	v->lport = v->rport = 0;
	v->state = 0;
	v->cookie = 0;
}

/*
 * Groups are found through a hash of their key (open addressing over
 * indices): a frame of top handles 100 000 rows twice, and sorting them by
 * key each time cost more than everything else.
 */
struct vhash {
	uint32_t *slot; /* index + 1, 0 = empty */
	size_t mask;
};

static uint64_t mix(uint64_t x)
{
	x ^= x >> 33;
	x *= 0xff51afd7ed558ccdull;
	x ^= x >> 33;
	x *= 0xc4ceb9fe1a85ec53ull;
	return x ^ (x >> 33);
}

static uint64_t key_hash(const struct na_vrow *v, enum na_group g)
{
	uint64_t h = 0, w[2];
	size_t i;

	switch (g) {
	case NA_G_SOCKET:
		return mix(v->cookie ^ mix(v->first_ns));
	case NA_G_PROCESS:
		h = v->pid;
		for (i = 0; v->comm[i]; i++)
			h = h * 131 + (unsigned char)v->comm[i];
		return mix(h);
	case NA_G_CGROUP:
		return mix(v->cgroup_id);
	case NA_G_PEER:
		memcpy(w, v->raddr, 16);
		return mix(w[0] ^ mix(w[1] ^ v->family));
	case NA_G_UNIT:
	case NA_G_CONTAINER:
	case NA_G_POD: {
		const char *k = names_key(v, g);

		for (i = 0; k[i]; i++)
			h = h * 131 + (unsigned char)k[i];
		return mix(h);
	}
	case NA_G_PEER_CLASS:
		return mix((uint64_t)(v->pclass + 1));
	case NA_G_CGROUP_CLASS:
		return mix(v->cgroup_id ^ mix((uint64_t)(v->pclass + 1)));
	case NA_G_CGROUP_PROCESS:
		h = v->pid;
		for (i = 0; v->comm[i]; i++)
			h = h * 131 + (unsigned char)v->comm[i];
		return mix(v->cgroup_id ^ mix(h));
	case NA_G_PEER_NAME:
		for (i = 0; v->peer_name && v->peer_name[i]; i++)
			h = h * 131 + (unsigned char)v->peer_name[i];
		return mix(h);
	default:
		return 0;
	}
}

static int vhash_init(struct vhash *t, size_t n)
{
	size_t cap = 16;

	while (cap < 2 * n)
		cap <<= 1;
	t->slot = calloc(cap, sizeof(*t->slot));
	t->mask = cap - 1;
	return t->slot ? 0 : -ENOMEM;
}

/* The row of rows[] with v's key, or NULL; with add, v's slot is taken for index `add - 1`. */
static struct na_vrow *vhash_find(struct vhash *t, struct na_vrow *rows, const struct na_vrow *v, enum na_group g,
				  uint32_t add)
{
	size_t i = key_hash(v, g) & t->mask;

	for (; t->slot[i]; i = (i + 1) & t->mask)
		if (!key_cmp(&rows[t->slot[i] - 1], v, g))
			return &rows[t->slot[i] - 1];
	if (add)
		t->slot[i] = add;
	return NULL;
}

/* Fold a member into its group (same key). */
static void fold(struct na_vrow *m, const struct na_vrow *v, enum na_group g)
{
	int d;

	if (m->proto != v->proto)
		m->proto = 0xff;
	if (m->family != v->family && g != NA_G_PEER)
		m->family = 0;
	if (m->cgroup_id != v->cgroup_id) {
		m->cgroup_id = 0;
		m->cgroup = NULL;
	}
	/* One address, names from several cgroups: the same one whatever the order of the rows. */
	if (v->peer_name && (!m->peer_name || strcmp(v->peer_name, m->peer_name) < 0))
		m->peer_name = v->peer_name;
	if (v->first_ns && (!m->first_ns || v->first_ns < m->first_ns))
		m->first_ns = v->first_ns; /* the earliest: the process ran then */
	m->conns += v->conns;
	m->live += v->live;
	for (d = 0; d < NA_NDIR; d++) {
		counters_add(&m->tot[d], &v->tot[d]);
	}
}

/*
 * Members of a snapshot (live sockets, plus closed rows unless by socket),
 * filtered and folded into groups, in no particular order (callers sort).
 * With idx, *idx is a hash of the result by group key.
 */
/*
 * By peer, an unconnected UDP socket that talked to many peers is one member
 * per peer (its na_peers rows), and one without a peer for what no peer row
 * holds (what it counted before its second peer came, or while na_peers was
 * full): their sum is the socket's row. Returns how many members it made
 * at v (at most npeers + 1).
 */
static size_t peer_members(struct na_vrow *v, const struct na_sock_row *r, const struct na_peer_row *pr,
			   size_t npeers)
{
	struct na_vrow rest;
	size_t k;
	int d;

	from_sock(&rest, r);
	for (k = 0; k < npeers; k++) {
		from_sock(&v[k], r);
		v[k].family = pr[k].k.family;
		memcpy(v[k].raddr, pr[k].k.addr, 16);
		v[k].rport = pr[k].k.port;
		v[k].tot[NA_TX] = pr[k].p.tx;
		v[k].tot[NA_RX] = pr[k].p.rx;
		for (d = 0; d < NA_NDIR; d++) {
			rest.tot[d].packets = sub0(rest.tot[d].packets, v[k].tot[d].packets);
			rest.tot[d].ip_hdr_bytes = sub0(rest.tot[d].ip_hdr_bytes, v[k].tot[d].ip_hdr_bytes);
			rest.tot[d].l4_hdr_bytes = sub0(rest.tot[d].l4_hdr_bytes, v[k].tot[d].l4_hdr_bytes);
			rest.tot[d].payload_bytes = sub0(rest.tot[d].payload_bytes, v[k].tot[d].payload_bytes);
		}
		v[k].conns = v[k].live = !k; /* the socket once */
	}
	if (!rest.tot[NA_TX].packets && !rest.tot[NA_RX].packets)
		return npeers;
	rest.conns = rest.live = 0;
	v[npeers] = rest;
	return npeers + 1;
}

/* The last cgroup a member's names were asked for: members come in runs of one cgroup. */
struct names_memo {
	uint64_t cgid;
	const char *path;
	const struct na_cgnames *names;
};

static const struct na_cgnames no_names;

/* What the grouping needs to know of a member beyond its row: its cgroup's names, its peer's class. */
static void add_key(struct na_vrow *v, const struct na_view_opts *o, struct names_memo *m)
{
	v->group = (uint8_t)o->group;
	if (by_names(o->group)) {
		if (!m->names || m->cgid != v->cgroup_id || m->path != v->cgroup) {
			m->names = o->names ? o->names(o->names_ctx, v->cgroup_id, v->cgroup) : NULL;
			if (!m->names)
				m->names = &no_names;
			m->cgid = v->cgroup_id;
			m->path = v->cgroup;
		}
		v->names = m->names;
	}
	/* By peer the class is not the key, but the rows show it and sort by it. */
	if (by_peer(o->group))
		v->pclass = (int16_t)na_netclass_of(o->classes, v->family, v->raddr);
}

/*
 * Room in *res (*cap rows) for need rows. By socket every row is a group and
 * the array is made whole at once; the other groupings are most often far
 * fewer than the rows, and an array of a view row per row (300 bytes each)
 * was most of the agent's memory at 100 000 rows: it grows with the groups.
 */
static int members_room(struct na_vrow **res, size_t *cap, size_t need)
{
	size_t nc = *cap ? *cap : 64;
	struct na_vrow *r;

	if (need <= *cap)
		return 0;
	while (nc < need)
		nc *= 2;
	r = realloc(*res, nc * sizeof(*r));
	if (!r)
		return -ENOMEM;
	*res = r;
	*cap = nc;
	return 0;
}

/* Row i of s (live rows, then closed ones) as members at base (pr: its peers by peer); how many. */
static size_t row_members(struct na_vrow *base, const struct na_snapshot *s, size_t i, const struct na_peer_row *pr,
			  size_t npr)
{
	if (pr)
		return peer_members(base, &s->rows[i], pr, npr);
	if (i < s->nrows)
		from_sock(base, &s->rows[i]);
	else
		from_closed(base, &s->closed[i - s->nrows]);
	return 1;
}

static int members(const struct na_snapshot *s, const struct na_view_opts *o, struct na_vrow **out, size_t *n,
		   struct vhash *idx)
{
	size_t i, j, m = 0, nrows = s->nrows + (o->group == NA_G_SOCKET ? 0 : s->nclosed), most = nrows, cap, npr;
	size_t made, last = 0; /* index + 1 of the group the last member went to, 0: none */
	struct na_vrow *res, *g;
	struct vhash t = { 0 };
	const struct na_peer_row *pr;
	struct names_memo memo = { 0 };
	/*
	 * The peer's name is looked up (a search per member) only where it is
	 * kept or matched: the other groupings clear it (reduce_identity()).
	 */
	int need_name = o->group == NA_G_SOCKET || o->group == NA_G_PEER || o->group == NA_G_PEER_NAME ||
			(o->text && *o->text);

	if (by_peer(o->group))
		most += s->npeers + s->nrows; /* each peer, and a socket's rest */
	cap = o->group == NA_G_SOCKET ? most : most < 64 ? most : 64;
	res = malloc((cap ? cap : 1) * sizeof(*res));
	if (!res || vhash_init(&t, most)) {
		free(res);
		return -ENOMEM;
	}
	for (i = 0; i < nrows; i++) {
		struct na_vrow *base, *v;

		pr = NULL;
		npr = 0;
		if (i < s->nrows && by_peer(o->group) && (s->rows[i].s.flags & NA_ROW_MULTI))
			pr = na_snapshot_peers(s, s->rows[i].cookie, &npr);
		if (members_room(&res, &cap, m + (pr ? npr : 0) + 1)) {
			free(res);
			free(t.slot);
			return -ENOMEM;
		}
		base = &res[m];
		made = row_members(base, s, i, pr, npr);
		for (j = 0; j < made; j++) {
			/* Members after the first were made at base + j: each moves down to res[m] (m <= its place). */
			if (&res[m] != &base[j])
				res[m] = base[j];
			v = &res[m];
			if (need_name)
				v->peer_name = peer_name_of(s, v);
			if (!keep(v, o))
				continue;
			add_key(v, o, &memo);
			if (o->group != NA_G_SOCKET)
				reduce_identity(v, o->group);
			else if (!idx) {
				m++; /* a socket's row is a group of its own: no lookup */
				continue;
			}
			/* Rows of one cgroup or process often follow each other: the last group first. */
			g = last && !key_cmp(&res[last - 1], v, o->group) ? &res[last - 1]
									 : vhash_find(&t, res, v, o->group, (uint32_t)m + 1);
			if (g)
				fold(g, v, o->group); /* v's place is reused by the next member */
			else
				m++;
			last = g ? (size_t)(g - res) + 1 : m;
		}
	}
	*out = res;
	*n = m;
	if (idx)
		*idx = t;
	else
		free(t.slot);
	return 0;
}

/*
 * By socket, the previous figures of a row are its socket's row in prev
 * (same cookie and first packet), without making view rows of prev (top does
 * this every frame). The kernel's batch read returns a map's rows in bucket
 * order, the same from one poll to the next, so the row after the last match
 * is tried first: an unchanged map is matched in one sequential pass. Other
 * rows are found through a hash of prev's rows, built at the first miss.
 */
struct prev_match {
	const struct na_snapshot *prev;
	struct vhash t; /* t.slot NULL until the first miss */
	size_t next;
};

static int prev_index(const struct na_snapshot *prev, struct vhash *t)
{
	size_t j;

	if (vhash_init(t, prev->nrows))
		return -ENOMEM;
	for (j = 0; j < prev->nrows; j++) {
		const struct na_sock_row *r = &prev->rows[j];
		size_t k = mix(r->cookie ^ mix(r->s.first_ns)) & t->mask;

		while (t->slot[k])
			k = (k + 1) & t->mask;
		t->slot[k] = (uint32_t)j + 1;
	}
	return 0;
}

/* *out: the row of socket (cookie, first_ns) in prev, or NULL (a new row). */
static int prev_find(struct prev_match *pm, uint64_t cookie, uint64_t first_ns, const struct na_sock_row **out)
{
	const struct na_snapshot *prev = pm->prev;
	const struct na_sock_row *r;
	size_t k;

	*out = NULL;
	if (pm->next < prev->nrows) {
		r = &prev->rows[pm->next];
		if (r->cookie == cookie && r->s.first_ns == first_ns)
			goto found;
	}
	if (!pm->t.slot && prev_index(prev, &pm->t))
		return -ENOMEM;
	for (k = mix(cookie ^ mix(first_ns)) & pm->t.mask; pm->t.slot[k]; k = (k + 1) & pm->t.mask) {
		r = &prev->rows[pm->t.slot[k] - 1];
		if (r->cookie == cookie && r->s.first_ns == first_ns)
			goto found;
	}
	return 0;
found:
	pm->next = (size_t)(r - prev->rows) + 1;
	*out = r;
	return 0;
}

/* delta: the counters tot of socket (cookie, first_ns) moved since prev (all of them for a new row). */
static int sock_delta(struct prev_match *pm, uint64_t cookie, uint64_t first_ns, const struct na_counters *tot,
		      struct na_counters *delta)
{
	const struct na_sock_row *p;
	int d;

	if (prev_find(pm, cookie, first_ns, &p))
		return -ENOMEM;
	/* A socket's row made anew (it connected again) starts from zero. */
	for (d = 0; d < NA_NDIR; d++) {
		if (p)
			counters_delta(&delta[d], &tot[d], &p->s.dir[d]);
		else
			delta[d] = tot[d];
	}
	return 0;
}

/* v's delta against its socket's row in prev. */
static int socket_delta(struct prev_match *pm, struct na_vrow *v)
{
	return sock_delta(pm, v->cookie, v->first_ns, v->tot, v->delta);
}

static int socket_deltas(const struct na_snapshot *prev, struct na_vrow *now, size_t nn)
{
	struct prev_match pm = { .prev = prev };
	size_t i;
	int err = 0;

	for (i = 0; i < nn && !err; i++)
		err = socket_delta(&pm, &now[i]);
	free(pm.t.slot);
	return err;
}

/* A process row of a live view whose process is gone, with no live socket and nothing in the interval. */
static int gone_idle(const struct na_vrow *r, const struct na_view_opts *o)
{
	int d;

	if (o->group != NA_G_PROCESS || !o->proc_alive || r->live)
		return 0;
	for (d = 0; d < NA_NDIR; d++)
		if (r->delta[d].packets || na_counters_bytes(&r->delta[d]))
			return 0;
	return !o->proc_alive(r->pid, r->first_ns);
}

/* Leave out the rows gone_idle() says have aged out of the live view. */
static void drop_gone(struct na_vrow *rows, size_t *n, const struct na_view_opts *o)
{
	size_t i, k;

	if (o->group != NA_G_PROCESS || !o->proc_alive)
		return;
	for (i = k = 0; i < *n; i++)
		if (!gone_idle(&rows[i], o))
			rows[k++] = rows[i];
	*n = k;
}

int na_view_build(const struct na_snapshot *cur, const struct na_snapshot *prev, double secs,
		  const struct na_view_opts *o, struct na_vrow **out, size_t *n)
{
	struct na_vrow *now = NULL, *then = NULL, *p;
	struct vhash idx = { 0 };
	size_t nn = 0, nt = 0, i;
	int err, d;

	err = members(cur, o, &now, &nn, NULL);
	if (!err && prev && o->group == NA_G_SOCKET) {
		for (i = 0; i < nn; i++)
			now[i].secs = secs;
		err = socket_deltas(prev, now, nn);
		prev = NULL;
	}
	if (!err && prev)
		err = members(prev, o, &then, &nt, &idx);
	if (err) {
		free(now);
		return err;
	}
	for (i = 0; prev && i < nn; i++) {
		now[i].secs = secs;
		p = vhash_find(&idx, then, &now[i], o->group, 0);
		/* A socket's row made anew (it connected again) starts from zero. */
		for (d = 0; d < NA_NDIR; d++) {
			if (p)
				counters_delta(&now[i].delta[d], &now[i].tot[d], &p->tot[d]);
			else
				now[i].delta[d] = now[i].tot[d];
		}
	}
	free(idx.slot);
	free(then);
	*out = now;
	*n = nn;
	drop_gone(now, n, o);
	return 0;
}

int na_view_regroup(const struct na_vrow *rows, size_t n, enum na_group g, struct na_vrow **out, size_t *nout)
{
	struct na_vrow *res, *m;
	struct vhash t = { 0 };
	size_t i, k = 0;

	res = malloc((n ? n : 1) * sizeof(*res));
	if (!res || vhash_init(&t, n)) {
		free(res);
		return -ENOMEM;
	}
	for (i = 0; i < n; i++) {
		res[k] = rows[i];
		reduce_identity(&res[k], g);
		res[k].group = (uint8_t)g;
		res[k].secs = 0;
		memset(res[k].delta, 0, sizeof(res[k].delta));
		m = vhash_find(&t, res, &res[k], g, (uint32_t)k + 1);
		if (m)
			fold(m, &res[k], g);
		else
			k++;
	}
	free(t.slot);
	*out = res;
	*nout = k;
	return 0;
}

/* ---- order ------------------------------------------------------------------ */

static enum na_col sort_col;
static int sort_reverse;

static int ident_cmp(const struct na_vrow *a, const struct na_vrow *b)
{
	int c;

	if ((c = cmp_str(a->cgroup, b->cgroup)) || (c = NA_CMP(a->pid, b->pid)) || (c = strcmp(a->comm, b->comm)) ||
	    (c = NA_CMP(a->proto, b->proto)) || (c = NA_CMP(a->family, b->family)) ||
	    (c = memcmp(a->raddr, b->raddr, 16)) || (c = NA_CMP(a->rport, b->rport)) ||
	    (c = memcmp(a->laddr, b->laddr, 16)) || (c = NA_CMP(a->lport, b->lport)))
		return c;
	return NA_CMP(a->cookie, b->cookie);
}

#define DESC(x, y) ((x) > (y) ? -1 : (x) < (y) ? 1 : 0) /* figures: biggest first */

/* By a name column: a < b, a == b, a > b as -1, 0, 1 (ascending); *done 0 for a figure column. */
static int name_col_cmp(const struct na_vrow *a, const struct na_vrow *b, enum na_col col, int *done)
{
	char na[2 * NA_NAME_MAX], nb[2 * NA_NAME_MAX];
	int c;

	*done = 1;
	switch (col) {
	case NA_C_PID:
		return NA_CMP(a->pid, b->pid);
	case NA_C_COMM:
		return strcmp(a->comm, b->comm);
	case NA_C_CGROUP:
		return cmp_str(a->cgroup, b->cgroup);
	case NA_C_NAME:
		na_vrow_name(na, sizeof(na), a, (enum na_group)a->group);
		na_vrow_name(nb, sizeof(nb), b, (enum na_group)b->group);
		return strcmp(na, nb);
	case NA_C_CLASS:
		return NA_CMP(a->pclass, b->pclass);
	case NA_C_PROTO:
		return strcmp(na_proto_name(a->proto), na_proto_name(b->proto));
	case NA_C_FAMILY:
		return NA_CMP(a->family, b->family);
	case NA_C_LOCAL:
		return (c = memcmp(a->laddr, b->laddr, 16)) ? c : NA_CMP(a->lport, b->lport);
	case NA_C_REMOTE:
		return (c = memcmp(a->raddr, b->raddr, 16)) ? c : NA_CMP(a->rport, b->rport);
	case NA_C_HOST: /* named peers first */
		return !a->peer_name || !b->peer_name ? NA_CMP(!a->peer_name, !b->peer_name)
						      : strcmp(a->peer_name, b->peer_name);
	default:
		*done = 0;
		return 0;
	}
}

/* By a figure column, biggest first; NA_C_COUNT: the busiest (rates, then totals). */
static int fig_col_cmp(const struct na_vrow *a, const struct na_vrow *b, enum na_col col)
{
	int c;

	switch (col) {
	case NA_C_TX_RATE:
		return DESC(na_vrow_rate(a, NA_TX), na_vrow_rate(b, NA_TX));
	case NA_C_RX_RATE:
		return DESC(na_vrow_rate(a, NA_RX), na_vrow_rate(b, NA_RX));
	case NA_C_TX:
		return DESC(na_vrow_bytes(a, NA_TX), na_vrow_bytes(b, NA_TX));
	case NA_C_RX:
		return DESC(na_vrow_bytes(a, NA_RX), na_vrow_bytes(b, NA_RX));
	case NA_C_RETRANS:
		return DESC(na_vrow_resent(a, NA_TX), na_vrow_resent(b, NA_TX));
	case NA_C_DUP:
		return DESC(na_vrow_resent(a, NA_RX), na_vrow_resent(b, NA_RX));
	case NA_C_HDR:
		return DESC(na_vrow_hdr_pct(a), na_vrow_hdr_pct(b));
	case NA_C_PKT_RATE:
		return DESC(na_vrow_pkt_rate(a), na_vrow_pkt_rate(b));
	case NA_C_CONNS:
		return DESC(a->conns, b->conns);
	default:
		if (!(c = DESC(na_vrow_rate(a, NA_TX) + na_vrow_rate(a, NA_RX),
			       na_vrow_rate(b, NA_TX) + na_vrow_rate(b, NA_RX))))
			c = DESC(na_vrow_bytes(a, NA_TX) + na_vrow_bytes(a, NA_RX),
				 na_vrow_bytes(b, NA_TX) + na_vrow_bytes(b, NA_RX));
		return c;
	}
}

static int col_cmp(const void *pa, const void *pb)
{
	const struct na_vrow *a = pa, *b = pb;
	int done, c = name_col_cmp(a, b, sort_col, &done);

	if (!done)
		c = fig_col_cmp(a, b, sort_col);
	if (sort_reverse)
		c = -c;
	return c ? c : ident_cmp(a, b);
}

/* A figure to order by, biggest first; NAN for the name columns. */
static double sort_value(const struct na_vrow *r, enum na_col col)
{
	switch (col) {
	case NA_C_TX_RATE:
		return na_vrow_rate(r, NA_TX);
	case NA_C_RX_RATE:
		return na_vrow_rate(r, NA_RX);
	case NA_C_TX:
		return (double)na_vrow_bytes(r, NA_TX);
	case NA_C_RX:
		return (double)na_vrow_bytes(r, NA_RX);
	case NA_C_RETRANS:
		return (double)na_vrow_resent(r, NA_TX);
	case NA_C_DUP:
		return (double)na_vrow_resent(r, NA_RX);
	case NA_C_HDR:
		return na_vrow_hdr_pct(r);
	case NA_C_PKT_RATE:
		return na_vrow_pkt_rate(r);
	case NA_C_CONNS:
		return (double)r->conns;
	case NA_C_COUNT: /* busiest: rates, then totals far below any rate difference */
		return na_vrow_rate(r, NA_TX) + na_vrow_rate(r, NA_RX);
	default:
		return NAN;
	}
}

struct sort_key {
	double v;
	double v2; /* busiest: the totals, for rows of equal rate */
	const struct na_vrow *r;
};

/* The figures to order row r by (v2: busiest, the totals for rows of equal rate). */
static void row_key(const struct na_vrow *r, enum na_col col, double *v, double *v2)
{
	*v = sort_value(r, col);
	*v2 = col == NA_C_COUNT ? (double)(na_vrow_bytes(r, NA_TX) + na_vrow_bytes(r, NA_RX)) : 0;
}

static int fig_cmp(double av, double av2, const struct na_vrow *a, double bv, double bv2,
		   const struct na_vrow *b)
{
	int c = DESC(av, bv);

	if (!c)
		c = DESC(av2, bv2);
	if (sort_reverse)
		c = -c;
	return c ? c : ident_cmp(a, b);
}

static int key_sort_cmp(const void *pa, const void *pb)
{
	const struct sort_key *a = pa, *b = pb;

	return fig_cmp(a->v, a->v2, a->r, b->v, b->v2, b->r);
}

/*
 * Figures are worked out once per row and the rows are ordered through small
 * keys (top sorts every frame: 10 000 rows must stay cheap); name columns
 * compare the rows themselves.
 */
void na_view_sort(struct na_vrow *rows, size_t n, enum na_col col, int reverse)
{
	struct sort_key *k;
	struct na_vrow *out;
	size_t i;

	sort_col = col;
	sort_reverse = reverse;
	if (n < 2)
		return;
	if (isnan(sort_value(&rows[0], col)) || !(k = malloc(n * sizeof(*k)))) {
		qsort(rows, n, sizeof(*rows), col_cmp);
		return;
	}
	for (i = 0; i < n; i++) {
		row_key(&rows[i], col, &k[i].v, &k[i].v2);
		k[i].r = &rows[i];
	}
	qsort(k, n, sizeof(*k), key_sort_cmp);
	out = malloc(n * sizeof(*out));
	if (!out) {
		free(k);
		qsort(rows, n, sizeof(*rows), col_cmp);
		return;
	}
	for (i = 0; i < n; i++)
		out[i] = *k[i].r;
	memcpy(rows, out, n * sizeof(*out));
	free(out);
	free(k);
}

/*
 * Sift element i down a heap of n elements of size sz whose root is the one
 * that comes last in cmp's order (a heap of the k first, worst on top).
 */
static void heap_down(void *base, size_t n, size_t sz, int (*cmp)(const void *, const void *), size_t i)
{
	char *h = base, t[sizeof(struct na_vrow) + 2 * sizeof(double)];

	if (sz > sizeof(t))
		return; /* cannot happen: the largest element is struct hent */
	for (;;) {
		size_t l = 2 * i + 1, r = l + 1, m = i;

		if (l < n && cmp(h + m * sz, h + l * sz) < 0)
			m = l;
		if (r < n && cmp(h + m * sz, h + r * sz) < 0)
			m = r;
		if (m == i)
			return;
		memcpy(t, h + i * sz, sz);
		memcpy(h + i * sz, h + m * sz, sz);
		memcpy(h + m * sz, t, sz);
		i = m;
	}
}

/* Offer e to the heap h of the k first so far (*m of them yet). */
static void heap_offer(void *h, size_t *m, size_t k, size_t sz, int (*cmp)(const void *, const void *),
		       const void *e)
{
	size_t j;

	if (*m < k) {
		memcpy((char *)h + (*m)++ * sz, e, sz);
		if (*m == k)
			for (j = k / 2 + 1; j-- > 0;)
				heap_down(h, k, sz, cmp, j);
	} else if (cmp(e, h) < 0) {
		memcpy(h, e, sz);
		heap_down(h, k, sz, cmp, 0);
	}
}

void na_view_sort_top(struct na_vrow *rows, size_t n, enum na_col col, int reverse, size_t k)
{
	struct sort_key *h, key;
	struct na_vrow *tmp;
	unsigned char *chosen;
	size_t i, m = 0, hole;

	sort_col = col;
	sort_reverse = reverse;
	/* Few rows, most of them wanted, or a name column: the whole sort. */
	if (!k || k >= n / 4 || isnan(sort_value(&rows[0], col))) {
		na_view_sort(rows, n, col, reverse);
		return;
	}
	h = malloc(k * sizeof(*h));
	tmp = malloc(k * sizeof(*tmp));
	chosen = calloc(n, 1);
	if (!h || !tmp || !chosen) {
		free(h);
		free(tmp);
		free(chosen);
		na_view_sort(rows, n, col, reverse);
		return;
	}
	/* The k first in the order: a heap of the best so far, its worst on top. */
	for (i = 0; i < n; i++) {
		row_key(&rows[i], col, &key.v, &key.v2);
		key.r = &rows[i];
		heap_offer(h, &m, k, sizeof(*h), key_sort_cmp, &key);
	}
	qsort(h, k, sizeof(*h), key_sort_cmp);
	for (i = 0; i < k; i++) {
		tmp[i] = *h[i].r;
		chosen[h[i].r - rows] = 1;
	}
	/* Rows in the first k places that were not chosen move to the places of chosen ones further on. */
	for (i = 0, hole = k; i < k; i++) {
		if (chosen[i])
			continue;
		while (!chosen[hole])
			hole++;
		rows[hole++] = rows[i];
	}
	memcpy(rows, tmp, k * sizeof(*tmp));
	free(h);
	free(tmp);
	free(chosen);
}

/* ---- top's screenful -------------------------------------------------------- */

struct hent {
	double v, v2;
	struct na_vrow r;
};

static int hent_cmp(const void *pa, const void *pb)
{
	const struct hent *a = pa, *b = pb;

	return fig_cmp(a->v, a->v2, &a->r, b->v, b->v2, &b->r);
}

/* Figures (v, v2) come after the heap's top by figures alone (a tie is the identity's to settle). */
static int worse_than(double v, double v2, const struct hent *top)
{
	int c = DESC(v, top->v);

	if (!c)
		c = DESC(v2, top->v2);
	return sort_reverse ? c < 0 : c > 0;
}

/* ---- top's screenful from figures (struct na_figs) ---------------------------- */

/*
 * The figures' rows of the read before ("then", struct na_figs): found as
 * prev_match finds prev's rows, the slot of the last match's next first
 * (an unchanged table matches slot by slot), else through a hash of them.
 */
struct then_match {
	const struct na_figs *f;
	struct vhash t; /* t.slot NULL until the first miss */
	size_t next;
};

struct then_row {
	uint64_t cookie, first_ns;
	uint64_t bytes[NA_NDIR];
	uint64_t packets;
};

static void then_row(const struct na_figs *f, size_t j, struct then_row *t)
{
	const struct na_rd_fig *s = &f->slots[j];
	int d;

	if (j < f->n) { /* this read moved it into then_* */
		t->cookie = s->then_cookie;
		t->first_ns = s->then_first_ns;
		memcpy(t->bytes, s->then_bytes, sizeof(t->bytes));
		t->packets = s->then_packets;
		return;
	}
	t->cookie = s->cookie; /* past this read's rows: untouched */
	t->first_ns = s->first_ns;
	t->packets = 0;
	for (d = 0; d < NA_NDIR; d++) {
		t->bytes[d] = s->dir[d].hdr_bytes + s->dir[d].payload_bytes;
		t->packets += s->dir[d].packets;
	}
}

static int then_find(struct then_match *tm, uint64_t cookie, uint64_t first_ns, struct then_row *out)
{
	size_t j, k;

	if (tm->next < tm->f->nthen) {
		then_row(tm->f, tm->next, out);
		if (out->cookie == cookie && out->first_ns == first_ns) {
			tm->next++;
			return 1;
		}
	}
	if (!tm->t.slot) {
		if (vhash_init(&tm->t, tm->f->nthen))
			return -ENOMEM;
		for (j = 0; j < tm->f->nthen; j++) {
			then_row(tm->f, j, out);
			for (k = mix(out->cookie ^ mix(out->first_ns)) & tm->t.mask; tm->t.slot[k]; k = (k + 1) & tm->t.mask)
				;
			tm->t.slot[k] = (uint32_t)j + 1;
		}
	}
	for (k = mix(cookie ^ mix(first_ns)) & tm->t.mask; tm->t.slot[k]; k = (k + 1) & tm->t.mask) {
		j = tm->t.slot[k] - 1;
		then_row(tm->f, j, out);
		if (out->cookie == cookie && out->first_ns == first_ns) {
			tm->next = j + 1;
			return 1;
		}
	}
	return 0;
}

/* Socket s's row of the read before as then_row: from the figures' then (tm) or a snapshot of rows (pm). */
static int then_of(struct then_match *tm, struct prev_match *pm, const struct na_rd_fig *s, struct then_row *t)
{
	const struct na_sock_row *p;
	int d;

	if (tm)
		return then_find(tm, s->cookie, s->first_ns, t);
	if (!pm)
		return 0;
	if (prev_find(pm, s->cookie, s->first_ns, &p))
		return -ENOMEM;
	if (!p)
		return 0;
	t->packets = 0;
	for (d = 0; d < NA_NDIR; d++) {
		t->bytes[d] = na_counters_bytes(&p->s.dir[d]);
		t->packets += p->s.dir[d].packets;
	}
	return 1;
}

/*
 * The figures of slot s's view row: the counters with the header bytes as
 * one figure; delta (rates) as far as the rates read it: each direction's
 * bytes, the packets of both. v holds nothing else of s yet: the rest is
 * made for a row that may make the screen only.
 */
static int fig_figures(struct then_match *tm, struct prev_match *pm, const struct na_rd_fig *s, struct na_vrow *v)
{
	struct then_row t;
	uint64_t pkts = 0;
	int d, found;

	for (d = 0; d < NA_NDIR; d++) {
		v->tot[d].packets = s->dir[d].packets;
		v->tot[d].ip_hdr_bytes = s->dir[d].hdr_bytes;
		v->tot[d].payload_bytes = s->dir[d].payload_bytes;
		v->tot[d].resent_bytes = s->dir[d].resent_bytes;
		pkts += s->dir[d].packets;
	}
	found = then_of(tm, pm, s, &t);
	if (found < 0)
		return found;
	/* A socket's row made anew (it connected again) starts from zero. */
	for (d = 0; d < NA_NDIR; d++)
		v->delta[d].payload_bytes = sub0(na_counters_bytes(&v->tot[d]), found ? t.bytes[d] : 0);
	v->delta[NA_TX].packets = sub0(pkts, found ? t.packets : 0);
	return 0;
}

/* The rest of slot s's view row, for a row that may make the screen. */
static void fig_identity(const struct na_rd_fig *s, const char *cgroup, struct na_vrow *v)
{
	v->cookie = s->cookie;
	v->first_ns = s->first_ns;
	v->pid = s->pid;
	v->cgroup_id = s->cgroup_id;
	v->cgroup = cgroup;
	v->family = s->family;
	v->proto = s->proto;
	v->state = s->state;
}

/* A row that makes the screen: its names as the table has them now (the rest stays the figures'). */
static void fig_names(const struct na_snapshot *cur, const struct na_view_opts *o, struct na_vrow *v)
{
	struct na_sock_row r;

	/* Ended since the read (or made anew): shown as the figures have it, without its names. */
	if (!o->sock_row || o->sock_row(o->sock_row_ctx, v->cookie, &r) || r.s.first_ns != v->first_ns)
		return;
	memcpy(v->comm, r.s.comm, NA_COMM_LEN);
	memcpy(v->laddr, r.s.laddr, 16);
	memcpy(v->raddr, r.s.raddr, 16);
	v->lport = r.s.lport;
	v->rport = r.s.rport;
	v->peer_name = peer_name_of(cur, v);
}

/* By socket, by a figure, a screenful: the frame that needs no view row but those shown. */
static int top_by_figure(const struct na_view_opts *o, enum na_col col, size_t k)
{
	struct na_vrow probe = { 0 };

	return o->group == NA_G_SOCKET && k && !isnan(sort_value(&probe, col));
}

int na_view_figs_serve(const struct na_view_opts *o, enum na_col col, size_t k)
{
	return top_by_figure(o, col, k) && (!o->text || !*o->text);
}

static int build_top_figs(const struct na_snapshot *cur, const struct na_snapshot *prev, double secs,
			  const struct na_view_opts *o, size_t k, struct na_vrow **out, size_t *n, size_t *total)
{
	const struct na_figs *f = &cur->figs;
	struct then_match tm = { .f = f };
	struct prev_match pm = { .prev = prev };
	/* The read before: these figures' then, or a snapshot of rows (top came from a view of rows). */
	int by_figs = prev && prev->figs.seq && prev->figs.seq == f->then_seq;
	int by_rows = prev && !prev->figs.slots;
	int rates = by_figs || by_rows;
	struct filter_cache fc = { 0 };
	struct hent *h, e;
	struct na_vrow *res;
	size_t i, m = 0;
	int err = 0;

	h = malloc(k * sizeof(*h));
	if (!h)
		return -ENOMEM;
	*total = 0;
	memset(&e, 0, sizeof(e));
	e.r.pclass = -1;
	e.r.conns = e.r.live = 1;
	e.r.secs = rates ? secs : 0;
	for (i = 0; i < f->n; i++) {
		const struct na_rd_fig *s = &f->slots[i];

		/* Rows of one cgroup follow each other: its path and the filter's answer once per run of them. */
		if (!fc.valid || s->cgroup_id != fc.id) {
			fc.path = na_snapshot_cgroup(cur, s->cgroup_id);
			fc.id = s->cgroup_id;
			fc.in = !o->paths || !o->paths->n || na_filter_match(o->paths, fc.path, fc.id);
			fc.valid = 1;
		}
		if (!fc.in || (o->pid && s->pid != o->pid) || (o->proto >= 0 && s->proto != o->proto))
			continue;
		(*total)++;
		err = fig_figures(by_figs ? &tm : NULL, by_rows ? &pm : NULL, s, &e.r);
		if (err)
			break;
		row_key(&e.r, sort_col, &e.v, &e.v2);
		if (m == k && worse_than(e.v, e.v2, &h[0]))
			continue;
		fig_identity(s, fc.path, &e.r);
		heap_offer(h, &m, k, sizeof(*h), hent_cmp, &e);
	}
	free(tm.t.slot);
	free(pm.t.slot);
	res = err ? NULL : malloc((m ? m : 1) * sizeof(*res));
	if (!res) {
		free(h);
		return err ? err : -ENOMEM;
	}
	qsort(h, m, sizeof(*h), hent_cmp);
	for (i = 0; i < m; i++) {
		res[i] = h[i].r;
		fig_names(cur, o, &res[i]);
	}
	free(h);
	*out = res;
	*n = m;
	return 0;
}

int na_view_build_top(const struct na_snapshot *cur, const struct na_snapshot *prev, double secs,
		      const struct na_view_opts *o, enum na_col col, int reverse, size_t k,
		      struct na_vrow **out, size_t *n, size_t *total)
{
	struct na_vrow fig, *res;
	struct prev_match pm = { .prev = prev };
	struct filter_cache fc = { 0 };
	struct hent *h, e;
	size_t i, m = 0;
	int err;

	if (cur->figs.slots && !na_view_figs_serve(o, col, k))
		return -EAGAIN; /* figures serve top by socket only: the caller reads rows */
	/* Otherwise every row is made. */
	if (!top_by_figure(o, col, k)) {
		err = na_view_build(cur, prev, secs, o, out, n);
		if (!err)
			na_view_sort_top(*out, *n, col, reverse, k);
		*total = err ? 0 : *n;
		return err;
	}
	sort_col = col;
	sort_reverse = reverse;
	if (cur->figs.slots)
		return build_top_figs(cur, prev, secs, o, k, out, n, total);
	h = malloc(k * sizeof(*h));
	if (!h)
		return -ENOMEM;
	*total = 0;
	/*
	 * Figures first, the view row only for a row that makes the screen (a
	 * screenful of 100 000): fig holds just what row_key() reads.
	 */
	memset(&fig, 0, sizeof(fig));
	fig.conns = fig.live = 1;
	fig.secs = prev ? secs : 0;
	for (i = 0; i < cur->nrows; i++) {
		const struct na_sock_row *r = &cur->rows[i];

		if (!keep_sock(cur, r, o, &fc))
			continue;
		(*total)++;
		memcpy(fig.tot, r->s.dir, sizeof(fig.tot));
		if (prev && sock_delta(&pm, r->cookie, r->s.first_ns, fig.tot, fig.delta)) {
			free(h);
			free(pm.t.slot);
			return -ENOMEM;
		}
		row_key(&fig, col, &e.v, &e.v2);
		if (m == k && worse_than(e.v, e.v2, &h[0]))
			continue;
		from_sock(&e.r, r);
		e.r.peer_name = peer_name_of(cur, &e.r);
		e.r.secs = fig.secs;
		memcpy(e.r.delta, fig.delta, sizeof(e.r.delta));
		heap_offer(h, &m, k, sizeof(*h), hent_cmp, &e);
	}
	free(pm.t.slot);
	qsort(h, m, sizeof(*h), hent_cmp);
	res = malloc((m ? m : 1) * sizeof(*res));
	if (!res) {
		free(h);
		return -ENOMEM;
	}
	for (i = 0; i < m; i++)
		res[i] = h[i].r;
	free(h);
	*out = res;
	*n = m;
	return 0;
}

/* ---- export's order of live rows ----------------------------------------------- */

/*
 * Each row's place as one byte string that memcmp orders as export's
 * comparison does: the cgroup's rank (its path, then its id), pid, comm
 * (zeros after its end: strncmp's order), protocol, family, peer address
 * and port, local address and port, cookie; numbers big-endian.
 */
#define SKEY_LEN 72

static void put_be(uint8_t *p, uint64_t v, int n)
{
	while (n--) {
		p[n] = (uint8_t)v;
		v >>= 8;
	}
}

static void sock_key(uint8_t *k, const struct na_sock_row *r, uint32_t rank)
{
	size_t c;

	put_be(k, rank, 4);
	put_be(k + 4, r->s.pid, 4);
	for (c = 0; c < NA_COMM_LEN && r->s.comm[c]; c++)
		k[8 + c] = (uint8_t)r->s.comm[c];
	memset(k + 8 + c, 0, NA_COMM_LEN - c);
	k[24] = r->s.proto;
	k[25] = r->s.family;
	memcpy(k + 26, r->s.raddr, 16);
	put_be(k + 42, r->s.rport, 2);
	memcpy(k + 44, r->s.laddr, 16);
	put_be(k + 60, r->s.lport, 2);
	put_be(k + 62, r->cookie, 8);
	k[70] = k[71] = 0;
}

struct cg_rank {
	uint64_t id;
	const char *path;
	uint32_t rank;
};

static int cg_rank_cmp(const void *pa, const void *pb)
{
	const struct cg_rank *a = pa, *b = pb;
	int c = cmp_str(a->path, b->path);

	return c ? c : NA_CMP(a->id, b->id);
}

/* An entry for the place: the 16 bytes that tell rows apart first, the row, its cgroup's rank. */
struct skey {
	uint64_t k0, k1;
	uint32_t idx, rank;
};

static int skey_full_cmp(const void *pa, const void *pb, void *ctx)
{
	const struct skey *a = pa, *b = pb;
	const struct na_sock_row *rows = ctx;
	uint8_t ka[SKEY_LEN], kb[SKEY_LEN];

	sock_key(ka, &rows[a->idx], a->rank);
	sock_key(kb, &rows[b->idx], b->rank);
	return memcmp(ka, kb, SKEY_LEN);
}

/* LSD radix sort of e by (k0, k1), 16 bits a pass; a pass whose digit is the same for all is skipped. */
static void skey_radix(struct skey *e, struct skey *tmp, size_t n, size_t *count)
{
	struct skey *src = e, *dst = tmp, *t;
	size_t i, sum, c;
	int pass;

	for (pass = 0; pass < 8; pass++) {
		int shift = (pass % 4) * 16;
		int word = pass < 4; /* k1 first: it is the less significant */

		memset(count, 0, 65536 * sizeof(*count));
		for (i = 0; i < n; i++)
			count[((word ? src[i].k1 : src[i].k0) >> shift) & 0xffff]++;
		if (count[((word ? src[0].k1 : src[0].k0) >> shift) & 0xffff] == n)
			continue;
		for (i = 0, sum = 0; i < 65536; i++) {
			c = count[i];
			count[i] = sum;
			sum += c;
		}
		for (i = 0; i < n; i++)
			dst[count[((word ? src[i].k1 : src[i].k0) >> shift) & 0xffff]++] = src[i];
		t = src;
		src = dst;
		dst = t;
	}
	if (src != e)
		memcpy(e, src, n * sizeof(*e));
}

/*
 * e[i].rank: the index in *cg (malloc'ed, *ncg of them) of row i's cgroup,
 * found through a table by id; rows of one cgroup often follow each other.
 */
static int cg_index(const struct na_snapshot *s, struct skey *e, struct cg_rank **cgs, size_t *ncgs)
{
	struct cg_rank *cg = NULL;
	size_t i, j, k, ncg = 0, cap = 0, mask = 0;
	uint64_t last_id = 0;
	uint32_t *slot = NULL;

	for (i = 0; i < s->nrows; i++) {
		uint64_t id = s->rows[i].s.cgroup_id;

		if (i && id == last_id) {
			e[i].rank = e[i - 1].rank;
			continue;
		}
		last_id = id;
		if (2 * (ncg + 1) > mask + 1) {
			size_t nm = mask ? 2 * (mask + 1) - 1 : 63;
			uint32_t *ns = calloc(nm + 1, sizeof(*ns));

			if (!ns)
				goto nomem;
			for (j = 0; j < ncg; j++) {
				for (k = mix(cg[j].id) & nm; ns[k]; k = (k + 1) & nm)
					;
				ns[k] = (uint32_t)j + 1;
			}
			free(slot);
			slot = ns;
			mask = nm;
		}
		for (k = mix(id) & mask; slot[k] && cg[slot[k] - 1].id != id; k = (k + 1) & mask)
			;
		if (!slot[k]) {
			if (ncg == cap) {
				struct cg_rank *nc = realloc(cg, (cap = cap ? 2 * cap : 16) * sizeof(*cg));

				if (!nc)
					goto nomem;
				cg = nc;
			}
			cg[ncg] = (struct cg_rank){ .id = id, .path = s->rows[i].cgroup };
			slot[k] = (uint32_t)++ncg;
		}
		e[i].rank = slot[k] - 1;
	}
	free(slot);
	*cgs = cg;
	*ncgs = ncg;
	return 0;
nomem:
	free(slot);
	free(cg);
	return -ENOMEM;
}

/* e[i].rank: the rank of row i's cgroup by path then id (a path is the same for every row of an id). */
static int cg_rank_rows(const struct na_snapshot *s, struct skey *e)
{
	struct cg_rank *cg = NULL, *sorted = NULL;
	uint32_t *rank_of = NULL;
	size_t i, j, ncg = 0;
	int err = cg_index(s, e, &cg, &ncg);

	if (err)
		return err;
	rank_of = malloc((ncg ? ncg : 1) * sizeof(*rank_of));
	sorted = malloc((ncg ? ncg : 1) * sizeof(*sorted));
	if (!rank_of || !sorted) {
		err = -ENOMEM;
		goto out;
	}
	for (j = 0; j < ncg; j++) {
		sorted[j] = cg[j];
		sorted[j].rank = (uint32_t)j;
	}
	if (ncg)
		qsort(sorted, ncg, sizeof(*sorted), cg_rank_cmp);
	for (j = 0; j < ncg; j++)
		rank_of[sorted[j].rank] = (uint32_t)j;
	for (i = 0; i < s->nrows; i++)
		e[i].rank = rank_of[e[i].rank];
out:
	free(rank_of);
	free(sorted);
	free(cg);
	return err;
}

/*
 * Which bytes of the place differ between any two rows (the others cannot
 * order them): the first 16 in pos, how many in all returned.
 */
static size_t key_positions(const struct na_snapshot *s, const struct skey *e, uint8_t pos[16])
{
	uint64_t diff[SKEY_LEN / 8] = { 0 }, first[SKEY_LEN / 8] = { 0 }, w[SKEY_LEN / 8];
	uint8_t key[SKEY_LEN];
	size_t i, j, npos = 0;

	for (i = 0; i < s->nrows; i++) {
		sock_key(key, &s->rows[i], e[i].rank);
		memcpy(w, key, SKEY_LEN);
		if (!i)
			memcpy(first, w, SKEY_LEN);
		for (j = 0; j < SKEY_LEN / 8; j++)
			diff[j] |= w[j] ^ first[j];
	}
	for (j = 0; j < SKEY_LEN; j++) {
		if (!((const uint8_t *)diff)[j])
			continue;
		if (npos < 16)
			pos[npos] = (uint8_t)j;
		npos++;
	}
	return npos;
}

/* Each row's sort key: the bytes of its place at pos (npos of them, 16 at most used). */
static void key_fill(const struct na_snapshot *s, struct skey *e, const uint8_t pos[16], size_t npos)
{
	uint8_t key[SKEY_LEN];
	size_t i, j;

	for (i = 0; i < s->nrows; i++) {
		uint64_t k0 = 0, k1 = 0;

		sock_key(key, &s->rows[i], e[i].rank);
		for (j = 0; j < 16; j++) {
			uint8_t b = j < npos ? key[pos[j]] : 0;

			if (j < 8)
				k0 = k0 << 8 | b;
			else
				k1 = k1 << 8 | b;
		}
		e[i].k0 = k0;
		e[i].k1 = k1;
		e[i].idx = (uint32_t)i;
	}
}

/* Rows the first 16 differing bytes do not tell apart (runs of equal keys after the radix sort), compared whole. */
static void ties_sort(struct skey *e, size_t n, const struct na_sock_row *rows)
{
	size_t i, j;

	for (i = 0; i < n; i = j) {
		for (j = i + 1; j < n && e[j].k0 == e[i].k0 && e[j].k1 == e[i].k1; j++)
			;
		if (j - i > 1)
			qsort_r(&e[i], j - i, sizeof(*e), skey_full_cmp, (void *)rows);
	}
}

int na_view_sock_order(const struct na_snapshot *s, const struct na_sock_row ***out)
{
	struct skey *e = NULL, *tmp = NULL;
	const struct na_sock_row **ord = NULL;
	size_t n = s->nrows, i, *count = NULL, npos;
	uint8_t pos[16];
	int err = -ENOMEM;

	ord = malloc((n ? n : 1) * sizeof(*ord));
	e = malloc((n ? n : 1) * sizeof(*e));
	tmp = malloc((n ? n : 1) * sizeof(*tmp));
	count = malloc(65536 * sizeof(*count));
	if (!ord || !e || !tmp || !count)
		goto out;
	err = cg_rank_rows(s, e);
	if (err)
		goto out;
	npos = key_positions(s, e, pos);
	key_fill(s, e, pos, npos);
	if (n > 1)
		skey_radix(e, tmp, n, count);
	if (npos > 16)
		ties_sort(e, n, s->rows);
	for (i = 0; i < n; i++)
		ord[i] = &s->rows[e[i].idx];
	*out = ord;
	ord = NULL;
out:
	free(ord);
	free(e);
	free(tmp);
	free(count);
	return err;
}

const struct na_cgnames *na_view_names(void *ctx, uint64_t cgroup_id, const char *cgroup)
{
	return na_names_get(ctx, cgroup_id, cgroup);
}
