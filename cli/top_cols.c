// SPDX-License-Identifier: (BSD-2-Clause OR GPL-2.0)
/*
 * top's columns: what each column is (width, alignment, where a long cell is
 * cut, how long it stays on a narrow screen) and the text of every cell, for
 * the table of rows and for the attached cgroups' lines above it. --batch and
 * the full-screen view print these same cells, so that they cannot drift.
 */
#include <stdio.h>
#include <string.h>

#include "top.h"


/*
 * The table's columns, one entry each: its width (what --batch prints, and
 * the full-screen view when there is room), the narrowest and widest the
 * full-screen view may make it, its alignment, where a long cell is cut,
 * and per grouping how long it stays on a narrow screen (prio: 1 stays
 * longest, 0 not shown in that grouping). Priority 1 is what a row is for:
 * who (pid and comm, or the group's name) and the two figures people open
 * top for, the rates (or the totals, after t). A new column is one entry
 * here (and its enum na_col, name and key in view.c).
 */
static const struct {
	int width, min, max;
	int left; /* a name, left-aligned and cut where it says least; figures are right-aligned and never cut */
	enum na_elide elide;
	int prio[NA_G_COUNT]; /* socket, process, cgroup, peer, unit, container, pod, peer class */
} col_def[NA_C_COUNT] = {
	[NA_C_PID] = { 7, 7, 7, 0, NA_ELIDE_END, { 1, 1, 0, 0, 0, 0, 0, 0 } },
	[NA_C_COMM] = { 15, 10, 15, 1, NA_ELIDE_END, { 1, 1, 0, 0, 0, 0, 0, 0 } },
	/* the name a person knows the cgroup by (p: its path); a path keeps its leaf */
	[NA_C_CGROUP] = { 24, 12, 64, 1, NA_ELIDE_START, { 5, 5, 1, 0, 0, 0, 0, 0 } },
	/* a unit named after a container keeps its start and its end */
	[NA_C_NAME] = { 32, 16, 64, 1, NA_ELIDE_MIDDLE, { 0, 0, 0, 0, 1, 1, 1, 0 } },
	[NA_C_CLASS] = { 12, 8, 24, 1, NA_ELIDE_END, { 0, 0, 0, 2, 0, 0, 0, 1 } },
	[NA_C_PROTO] = { 6, 6, 6, 1, NA_ELIDE_END, { 2, 4, 4, 4, 4, 4, 4, 4 } },
	[NA_C_FAMILY] = { 6, 6, 6, 1, NA_ELIDE_END, { 0, 0, 0, 1, 0, 0, 0, 0 } },
	[NA_C_LOCAL] = { 24, 15, 47, 1, NA_ELIDE_MIDDLE, { 6, 0, 0, 0, 0, 0, 0, 0 } },
	[NA_C_REMOTE] = { 24, 21, 47, 1, NA_ELIDE_MIDDLE, { 3, 0, 0, 1, 0, 0, 0, 0 } },
	/* the peer's name from the cgroup's DNS answers: the peer view's, and the socket view's on a wide screen */
	[NA_C_HOST] = { 24, 12, 64, 1, NA_ELIDE_END, { 8, 0, 0, 2, 0, 0, 0, 0 } },
	[NA_C_TX_RATE] = { 12, 12, 12, 0, NA_ELIDE_END, { 1, 1, 1, 1, 1, 1, 1, 1 } },
	[NA_C_RX_RATE] = { 12, 12, 12, 0, NA_ELIDE_END, { 1, 1, 1, 1, 1, 1, 1, 1 } },
	[NA_C_TX] = { 10, 10, 10, 0, NA_ELIDE_END, { 7, 7, 7, 7, 7, 7, 7, 7 } },
	[NA_C_RX] = { 10, 10, 10, 0, NA_ELIDE_END, { 7, 7, 7, 7, 7, 7, 7, 7 } },
	[NA_C_RETRANS] = { 10, 10, 10, 0, NA_ELIDE_END, { 10, 10, 10, 10, 10, 10, 10, 10 } },
	[NA_C_DUP] = { 10, 10, 10, 0, NA_ELIDE_END, { 10, 10, 10, 10, 10, 10, 10, 10 } },
	[NA_C_HDR] = { 6, 6, 6, 0, NA_ELIDE_END, { 9, 9, 9, 9, 9, 9, 9, 9 } },
	[NA_C_PKT_RATE] = { 8, 8, 8, 0, NA_ELIDE_END, { 8, 8, 8, 8, 8, 8, 8, 8 } },
	[NA_C_CONNS] = { 8, 8, 8, 0, NA_ELIDE_END, { 0, 3, 3, 3, 3, 3, 3, 3 } },
};

/* The sort column stays right after the row's identity and key figures: it is what orders the rows. */
#define SORT_PRIO 2

int top_col_width(enum na_col c)
{
	return c < NA_C_COUNT ? col_def[c].width : 0;
}

int top_col_min(enum na_col c)
{
	return c < NA_C_COUNT ? col_def[c].min : 0;
}

int top_col_max(enum na_col c)
{
	return c < NA_C_COUNT ? col_def[c].max : 0;
}

int top_col_left(enum na_col c)
{
	return c < NA_C_COUNT && col_def[c].left;
}

enum na_elide top_col_elide(enum na_col c)
{
	return c < NA_C_COUNT ? col_def[c].elide : NA_ELIDE_END;
}

int top_col_shown(enum na_col c, enum na_group g)
{
	return c < NA_C_COUNT && g < NA_G_COUNT && col_def[c].prio[g] > 0;
}

/* With totals (t), TX and RX take the rates' place and priority, and the rates theirs. */
static enum na_col as_shown(enum na_col c, const struct top_opts *o)
{
	static const enum na_col swapped[NA_C_COUNT] = {
		[NA_C_TX_RATE] = NA_C_TX, [NA_C_RX_RATE] = NA_C_RX, [NA_C_TX] = NA_C_TX_RATE, [NA_C_RX] = NA_C_RX_RATE,
	};

	return o->totals && c < NA_C_COUNT && swapped[c] ? swapped[c] : c;
}

int top_col_prio(enum na_col c, const struct top_opts *o)
{
	int p;

	if (!top_col_shown(c, o->view.group))
		return 0;
	p = col_def[as_shown(c, o)].prio[o->view.group];
	return c == o->sort && p > SORT_PRIO ? SORT_PRIO : p;
}

int top_columns(const struct top_opts *o, enum na_col *out)
{
	int c, n = 0;

	for (c = 0; c < NA_C_COUNT; c++)
		if (top_col_shown(as_shown(c, o), o->view.group))
			out[n++] = as_shown(c, o);
	return n;
}

int top_col_emphasised(enum na_col c, const struct top_opts *o)
{
	return o->totals ? c == NA_C_TX || c == NA_C_RX : c == NA_C_TX_RATE || c == NA_C_RX_RATE;
}

/* "1.5 KiB/s"; empty when buf cannot hold all of it (never a cut figure). */
static void rate_cell(char *buf, size_t len, double v, int bits)
{
	char h[24];
	size_t n;

	na_human_bytes(h, sizeof(h), v, bits);
	n = strlen(h);
	if (n + 3 <= len) {
		memcpy(buf, h, n);
		memcpy(buf + n, "/s", 3);
	} else {
		buf[0] = '\0';
	}
}

/*
 * The name a person knows the cgroup by, or its path (p). A path longer than
 * buf keeps its end, the leaf, for na_fit to cut from the start.
 */
static void cgroup_cell(char *buf, size_t len, const struct na_vrow *r, const struct top_opts *o)
{
	const char *p = r->cgroup ? r->cgroup : "-";
	char best[2 * NA_NAME_MAX];
	size_t n;

	if (!o->full_path && o->names && r->cgroup_id) {
		na_cgnames_best(na_names_get(o->names, r->cgroup_id, r->cgroup), p, best, sizeof(best));
		p = best;
	}
	n = strlen(p);
	snprintf(buf, len, "%s", len && n >= len ? p + n - (len - 1) : p);
}

/* Grouped by peer or peer class, the row's own class; otherwise its remote address's. */
static void class_cell(char *buf, size_t len, const struct na_vrow *r, const struct top_opts *o)
{
	int cls = o->view.group == NA_G_PEER_CLASS || o->view.group == NA_G_PEER
			  ? r->pclass
			  : na_netclass_of(o->classes, r->family, r->raddr);

	snprintf(buf, len, "%s", cls >= 0 ? na_netclass_name(o->classes, cls) : "-");
}

void top_cell(char *buf, size_t len, const struct na_vrow *r, enum na_col c, const struct top_opts *o)
{
	buf[0] = '\0';
	switch (c) {
	case NA_C_PID:
		if (r->pid)
			snprintf(buf, len, "%u", r->pid);
		else
			snprintf(buf, len, "-");
		break;
	case NA_C_COMM:
		snprintf(buf, len, "%s", r->comm[0] ? r->comm : "-");
		break;
	case NA_C_CGROUP:
		cgroup_cell(buf, len, r, o);
		break;
	case NA_C_NAME: {
		char name[2 * NA_NAME_MAX];

		na_vrow_name(name, sizeof(name), r, o->view.group);
		snprintf(buf, len, "%s", name[0] ? name : "-");
		break;
	}
	case NA_C_CLASS:
		class_cell(buf, len, r, o);
		break;
	case NA_C_PROTO:
		snprintf(buf, len, "%s", r->proto == 0xff ? "*" : na_proto_name(r->proto));
		break;
	case NA_C_FAMILY:
		snprintf(buf, len, "%s", r->family ? na_family_name(r->family) : "*");
		break;
	case NA_C_LOCAL:
		na_vrow_endpoint(buf, len, r->family, r->laddr, r->lport);
		break;
	case NA_C_REMOTE:
		na_vrow_endpoint(buf, len, r->family, r->raddr, r->rport);
		break;
	case NA_C_HOST:
		snprintf(buf, len, "%s", r->peer_name ? r->peer_name : "-");
		break;
	case NA_C_TX_RATE:
	case NA_C_RX_RATE:
		rate_cell(buf, len, na_vrow_rate(r, c == NA_C_TX_RATE ? NA_TX : NA_RX), o->bits);
		break;
	case NA_C_TX:
	case NA_C_RX:
		na_human_bytes(buf, len, (double)na_vrow_bytes(r, c == NA_C_TX ? NA_TX : NA_RX), 0);
		break;
	case NA_C_RETRANS:
	case NA_C_DUP:
		na_human_bytes(buf, len, (double)na_vrow_resent(r, c == NA_C_RETRANS ? NA_TX : NA_RX), 0);
		break;
	case NA_C_HDR:
		snprintf(buf, len, "%.1f%%", na_vrow_hdr_pct(r));
		break;
	case NA_C_PKT_RATE:
		snprintf(buf, len, "%.0f", na_vrow_pkt_rate(r));
		break;
	case NA_C_CONNS:
		snprintf(buf, len, "%llu", (unsigned long long)r->conns);
		break;
	default:
		break;
	}
}

/* ---- the cgroup lines ------------------------------------------------------- */

/*
 * The attached cgroups' lines above the table: --batch prints every field
 * at its width; the full-screen view gives them way by the priority of
 * their place, like the table's columns (the path and the rates, or the
 * totals, last).
 */
const struct top_cg_coldef top_cg_cols[TOP_CG_COUNT] = {
	[TOP_CG_PATH] = { "CGROUP", 32, 16, 64, 1, 1, NA_ELIDE_START },
	[TOP_CG_TX_RATE] = { "TX/s", 13, 13, 13, 1, 0, NA_ELIDE_END },
	[TOP_CG_RX_RATE] = { "RX/s", 13, 13, 13, 1, 0, NA_ELIDE_END },
	[TOP_CG_TX] = { "TX", 10, 10, 10, 5, 0, NA_ELIDE_END },
	[TOP_CG_RX] = { "RX", 10, 10, 10, 5, 0, NA_ELIDE_END },
	[TOP_CG_RETRANS] = { "RETRANS", 10, 10, 10, 7, 0, NA_ELIDE_END },
	[TOP_CG_DUP] = { "DUP", 10, 10, 10, 7, 0, NA_ELIDE_END },
	[TOP_CG_HDR] = { "HDR%", 6, 6, 6, 6, 0, NA_ELIDE_END },
	[TOP_CG_LIVE] = { "LIVE", 6, 6, 6, 3, 0, NA_ELIDE_END },
	[TOP_CG_CLOSED] = { "CLOSED", 7, 7, 7, 4, 0, NA_ELIDE_END },
};

enum top_cg_col top_cg_col_at(const struct top_opts *o, int k)
{
	static const enum top_cg_col swapped[TOP_CG_COUNT] = {
		[TOP_CG_TX_RATE] = TOP_CG_TX, [TOP_CG_RX_RATE] = TOP_CG_RX,
		[TOP_CG_TX] = TOP_CG_TX_RATE, [TOP_CG_RX] = TOP_CG_RX_RATE,
	};

	return o->totals && swapped[k] ? swapped[k] : (enum top_cg_col)k;
}

int top_cg_col_emphasised(enum top_cg_col c, const struct top_opts *o)
{
	return o->totals ? c == TOP_CG_TX || c == TOP_CG_RX : c == TOP_CG_TX_RATE || c == TOP_CG_RX_RATE;
}

const char *top_cg_cell(char *buf, size_t len, const struct top_cg *g, enum top_cg_col c, const struct top_opts *o)
{
	buf[0] = '\0';
	if (!g)
		return top_cg_cols[c].name;
	switch (c) {
	case TOP_CG_PATH:
		return g->path;
	case TOP_CG_TX_RATE:
	case TOP_CG_RX_RATE:
		rate_cell(buf, len, c == TOP_CG_TX_RATE ? g->tx_rate : g->rx_rate, o->bits);
		break;
	case TOP_CG_TX:
	case TOP_CG_RX:
		na_human_bytes(buf, len, (double)(c == TOP_CG_TX ? g->tx : g->rx), 0);
		break;
	case TOP_CG_RETRANS:
	case TOP_CG_DUP:
		na_human_bytes(buf, len, (double)(c == TOP_CG_RETRANS ? g->retrans : g->dup), 0);
		break;
	case TOP_CG_HDR:
		snprintf(buf, len, "%.1f%%", g->hdr_pct);
		break;
	case TOP_CG_LIVE:
		snprintf(buf, len, "%llu", (unsigned long long)g->live);
		break;
	default:
		snprintf(buf, len, "%llu", (unsigned long long)g->closed_since);
		break;
	}
	return buf;
}
