// SPDX-License-Identifier: (BSD-2-Clause OR GPL-2.0)
/*
 * top: cgroup totals and the busiest sockets (or processes, cgroups, peers),
 * with rates computed in user space as deltas between two snapshots one
 * interval apart. --batch prints plain text (like top -b); on a terminal the
 * interactive view (top_tui.c) draws the same frames.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "args.h"
#include "format.h"

static uint64_t sub0(uint64_t a, uint64_t b)
{
	return a >= b ? a - b : 0;
}

static uint64_t closed_conns_below(const struct na_snapshot *s, const char *path);

int top_start(const struct na_global *g, struct top_state *ts)
{
	int rc;

	size_t i;

	memset(ts, 0, sizeof(*ts));
	rc = na_open_snapshot(g, &ts->st, &ts->prev);
	if (rc)
		return rc;
	na_owners_resolve(g->pin_root, &ts->prev, NULL);
	ts->base = calloc(ts->prev.natt ? ts->prev.natt : 1, sizeof(*ts->base));
	if (!ts->base) {
		top_stop(ts);
		return NA_EXIT_FAIL;
	}
	for (i = 0; i < ts->prev.natt; i++) {
		ts->base[i].token = ts->prev.att[i].a.token;
		ts->base[i].closed = closed_conns_below(&ts->prev, ts->prev.att[i].a.path);
	}
	ts->nbase = ts->prev.natt;
	ts->have_prev = 1;
	return NA_EXIT_OK;
}

void top_stop(struct top_state *ts)
{
	free(ts->base);
	na_snapshot_free(&ts->before);
	na_snapshot_free(&ts->prev);
	na_snapshot_free(&ts->cur);
	na_state_close(ts->st);
	memset(ts, 0, sizeof(*ts));
}

void top_frame_free(struct top_frame *f)
{
	free(f->cg);
	free(f->rows);
	memset(f, 0, sizeof(*f));
}

static uint64_t closed_conns_below(const struct na_snapshot *s, const char *path)
{
	uint64_t n = 0;
	size_t i;

	for (i = 0; i < s->nclosed; i++)
		if (na_path_below(s->closed[i].cgroup, path))
			n += s->closed[i].c.conns;
	return n;
}

static const struct na_att_state *find_att(const struct na_snapshot *s, uint64_t token)
{
	size_t i;

	for (i = 0; i < s->natt; i++)
		if (s->att[i].a.token == token)
			return &s->att[i];
	return NULL;
}

static int build_header(const struct na_snapshot *cur, const struct na_snapshot *prev,
			const struct top_state *ts, const struct top_opts *o, struct top_frame *f)
{
	size_t i, j;

	f->cg = calloc(cur->natt ? cur->natt : 1, sizeof(*f->cg));
	if (!f->cg)
		return -ENOMEM;
	for (i = 0; i < cur->natt; i++) {
		const struct na_att_state *a = &cur->att[i], *p;
		struct top_cg *c = &f->cg[f->ncg];
		struct na_vrow tmp = { 0 };
		uint64_t since;

		if (o->paths.n && !na_filter_match(&o->paths, a->a.path, a->a.cgroup_id))
			continue;
		c->path = a->a.path;
		c->tx = na_counters_bytes(&a->t.dir[NA_TX]);
		c->rx = na_counters_bytes(&a->t.dir[NA_RX]);
		/* The same attachment: a detach and attach between frames starts a new one. */
		p = find_att(prev, a->a.token);
		if (p && f->secs > 0) {
			c->tx_rate = (double)sub0(c->tx, na_counters_bytes(&p->t.dir[NA_TX])) / f->secs;
			c->rx_rate = (double)sub0(c->rx, na_counters_bytes(&p->t.dir[NA_RX])) / f->secs;
		}
		memcpy(tmp.tot, a->t.dir, sizeof(tmp.tot));
		c->hdr_pct = na_vrow_hdr_pct(&tmp);
		c->retrans = na_resent(&a->t.dir[NA_TX]);
		c->dup = na_resent(&a->t.dir[NA_RX]);
		/* The snapshot counted the rows per cgroup: one look per cgroup, not per row. */
		for (j = 0; j < cur->ncglive; j++)
			if (na_path_below(cur->cglive[j].path, a->a.path))
				c->live += cur->cglive[j].live;
		for (j = 0, since = 0; j < ts->nbase; j++)
			if (ts->base[j].token == a->a.token)
				since = ts->base[j].closed;
		c->closed_since = sub0(closed_conns_below(cur, a->a.path), since);
		f->ncg++;
	}
	return 0;
}

/* Live sockets in the cgroups the PATHs name (all of them without PATHs), as the title counts them. */
static size_t live_in_view(const struct na_snapshot *s, const struct na_filter *paths)
{
	size_t i, n = 0;

	if (!paths->n)
		return s->nrows;
	for (i = 0; i < s->ncglive; i++)
		if (na_filter_match(paths, s->cglive[i].path, s->cglive[i].id))
			n += s->cglive[i].live;
	return n;
}

/* A new snapshot in cur becomes prev; the old prev stays as the baseline. */
static int take_snapshot(const struct na_global *g, struct top_state *ts)
{
	int err;

	/* Two snapshots in memory, not three: the oldest has served its frame. */
	na_snapshot_free(&ts->before);
	ts->have_before = 0;
	err = na_state_read(ts->st, &ts->cur);
	if (err)
		return err;
	/* Only rows still without an owner cost anything: none, in the steady state. */
	na_owners_resolve(g->pin_root, &ts->cur, NULL);
	na_snapshot_free(&ts->before);
	ts->before = ts->prev;
	ts->prev = ts->cur;
	memset(&ts->cur, 0, sizeof(ts->cur));
	ts->have_before = 1;
	return 0;
}

int top_rebuild(const struct top_state *ts, const struct top_opts *o, struct top_frame *f)
{
	int err;

	memset(f, 0, sizeof(*f));
	if (!ts->have_before)
		return -EAGAIN;
	f->secs = (double)(ts->prev.boot_ns - ts->before.boot_ns) / 1e9;
	f->live_sockets = live_in_view(&ts->prev, &o->paths);
	err = build_header(&ts->prev, &ts->before, ts, o, f);
	if (!err)
		err = na_view_build_top(&ts->prev, &ts->before, f->secs, &o->view, o->sort, o->reverse,
					o->limit > 0 && (!o->ordered || (size_t)o->limit < o->ordered)
						? (size_t)o->limit : o->ordered,
					&f->rows, &f->nrows, &f->total_rows);
	if (err)
		top_frame_free(f);
	return err;
}

int top_rebase(const struct na_global *g, struct top_state *ts)
{
	return take_snapshot(g, ts);
}

int top_next(const struct na_global *g, struct top_state *ts, const struct top_opts *o, struct top_frame *f)
{
	int err;

	memset(f, 0, sizeof(*f));
	if (o->names) {
		/* Names still missing are looked for again, now and then; gone cgroups are forgotten. */
		na_names_pass(o->names);
		na_names_expire(o->names, NA_NAMES_IDLE_S); /* no frame holds names here: the last was freed */
	}
	err = take_snapshot(g, ts);
	return err ? err : top_rebuild(ts, o, f);
}

/* ---- cells ------------------------------------------------------------------- */

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
	case NA_C_CGROUP: {
		/* A path longer than buf keeps its end, the leaf, for na_fit to cut from the start. */
		const char *p = r->cgroup ? r->cgroup : "-";
		char best[2 * NA_NAME_MAX];
		size_t n;

		if (!o->full_path && o->names && r->cgroup_id) {
			na_cgnames_best(na_names_get(o->names, r->cgroup_id, r->cgroup), p, best, sizeof(best));
			p = best;
		}
		n = strlen(p);
		snprintf(buf, len, "%s", len && n >= len ? p + n - (len - 1) : p);
		break;
	}
	case NA_C_NAME: {
		char name[2 * NA_NAME_MAX];

		na_vrow_name(name, sizeof(name), r, o->view.group);
		snprintf(buf, len, "%s", name[0] ? name : "-");
		break;
	}
	case NA_C_CLASS: {
		int cls = o->view.group == NA_G_PEER_CLASS || o->view.group == NA_G_PEER
				  ? r->pclass
				  : na_netclass_of(o->classes, r->family, r->raddr);

		snprintf(buf, len, "%s", cls >= 0 ? na_netclass_name(o->classes, cls) : "-");
		break;
	}
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

/* ---- batch ------------------------------------------------------------------- */

/* Names are fitted to their column; figures never cut (a wider one shifts its line). */
static void print_cell(const char *text, enum na_col c)
{
	char out[128];

	if (!top_col_left(c)) {
		printf(" %*s", top_col_width(c), text);
		return;
	}
	na_fit(out, text, top_col_width(c), 1, top_col_elide(c));
	printf(" %s", out);
}

static void print_frame(const struct top_opts *o, const struct top_frame *f)
{
	char when[32], t1[24], t2[24], t3[24], t4[24], t5[24], t6[24], cell[96], path[40];
	enum na_col cols[NA_C_COUNT];
	size_t i;
	int c, ncols;

	na_time_str(when, sizeof(when), (uint64_t)time(NULL));
	printf("netacct top - %s, interval %.1f s, %zu live sockets, by %s\n", when, f->secs, f->live_sockets,
	       na_group_name(o->view.group));
	printf("%-32s %13s %13s %10s %10s %10s %10s %6s %6s %7s\n", "CGROUP", "TX/s", "RX/s", "TX", "RX",
	       "RETRANS", "DUP", "HDR%", "LIVE", "CLOSED");
	for (i = 0; i < f->ncg; i++) {
		const struct top_cg *g = &f->cg[i];

		rate_cell(t1, sizeof(t1), g->tx_rate, o->bits);
		rate_cell(t2, sizeof(t2), g->rx_rate, o->bits);
		na_human_bytes(t3, sizeof(t3), (double)g->tx, 0);
		na_human_bytes(t4, sizeof(t4), (double)g->rx, 0);
		na_human_bytes(t5, sizeof(t5), (double)g->retrans, 0);
		na_human_bytes(t6, sizeof(t6), (double)g->dup, 0);
		na_fit(path, g->path, 32, 1, NA_ELIDE_START);
		printf("%s %13s %13s %10s %10s %10s %10s %5.1f%% %6llu %7llu\n", path, t1, t2, t3, t4, t5, t6,
		       g->hdr_pct, (unsigned long long)g->live, (unsigned long long)g->closed_since);
	}
	putchar('\n');
	ncols = top_columns(o, cols);
	for (c = 0; c < ncols; c++)
		print_cell(na_col_name(cols[c]), cols[c]);
	putchar('\n');
	for (i = 0; i < f->nrows && (o->limit <= 0 || (long)i < o->limit); i++) {
		for (c = 0; c < ncols; c++) {
			top_cell(cell, sizeof(cell), &f->rows[i], cols[c], o);
			print_cell(cell, cols[c]);
		}
		putchar('\n');
	}
	if (f->total_rows > i)
		printf("(%zu more; --limit N shows more)\n", f->total_rows - i);
	putchar('\n');
	fflush(stdout);
}

int top_batch(const struct na_global *g, const struct top_opts *o)
{
	struct top_state ts;
	struct top_frame f;
	struct timespec d;
	long it;
	int rc;

	rc = top_start(g, &ts);
	if (rc)
		return rc;
	for (it = 0; !o->iterations || it < o->iterations; it++) {
		d.tv_sec = (time_t)o->interval;
		d.tv_nsec = (long)((o->interval - (double)d.tv_sec) * 1e9);
		while (nanosleep(&d, &d) && errno == EINTR)
			;
		if (top_next(g, &ts, o, &f)) {
			rc = NA_EXIT_FAIL;
			break;
		}
		print_frame(o, &f);
		top_frame_free(&f);
		if (ferror(stdout)) {
			rc = NA_EXIT_FAIL;
			break;
		}
	}
	top_stop(&ts);
	return rc;
}

/* ---- processes ---------------------------------------------------------------- */

/*
 * Does process pid still run, as the process that made rows from first_ns
 * on (boot ns)? /proc/PID/stat gives its state and its start time in clock
 * ticks since boot (CLOCK_BOOTTIME, the clock of the rows' times, rounded
 * down): a process that started later has the pid of one that is gone. A
 * zombie is gone too: its sockets are closed.
 */
static int proc_alive(uint32_t pid, uint64_t first_ns)
{
	char path[32], buf[1024], *s, *tok, *save = NULL;
	unsigned long long start = 0;
	long hz = sysconf(_SC_CLK_TCK);
	ssize_t n;
	int fd, field;

	if (!pid)
		return 0;
	snprintf(path, sizeof(path), "/proc/%u/stat", pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return 0;
	buf[n] = '\0';
	/* The comm may hold blanks and parentheses: the fields start after the last ')'. */
	s = strrchr(buf, ')');
	if (!s)
		return 1;
	for (field = 3, tok = strtok_r(s + 1, " ", &save); tok; tok = strtok_r(NULL, " ", &save), field++) {
		if (field == 3 && (*tok == 'Z' || *tok == 'X'))
			return 0;
		if (field == 22) {
			start = strtoull(tok, NULL, 10);
			break;
		}
	}
	if (!first_ns || hz <= 0)
		return 1;
	return (double)start * (1e9 / (double)hz) <= (double)first_ns;
}

/* ---- options ----------------------------------------------------------------- */

static int parse_num(const char *opt, const char *s, double min, double max, double *out)
{
	char *end;

	errno = 0;
	*out = strtod(s, &end);
	if (errno || *end || !*s || !isfinite(*out) || *out < min || *out > max)
		return na_usage_error("top", "%s '%s': a number from %g to %g", opt, s, min, max);
	return 0;
}

/* A whole number (no sign, blank or fraction: --pid 100.9 is not pid 100). */
static int parse_count(const char *opt, const char *s, uint64_t min, uint64_t max, uint64_t *out)
{
	if (na_parse_u64(s, min, max, out))
		return na_usage_error("top", "%s '%s': a whole number from %llu to %llu", opt, s,
				      (unsigned long long)min, (unsigned long long)max);
	return 0;
}

int na_top_parse(int argc, char **argv, struct na_top_args *a)
{
	static const struct option opts[] = {
		{ "batch", no_argument, NULL, 'B' },
		{ "interval", required_argument, NULL, 'd' },
		{ "iterations", required_argument, NULL, 'n' },
		{ "limit", required_argument, NULL, 'l' },
		{ "bits", no_argument, NULL, 'b' },
		{ "sort", required_argument, NULL, 's' },
		{ "group-by", required_argument, NULL, 'g' },
		{ "cgroup", required_argument, NULL, 'c' },
		{ "pid", required_argument, NULL, 'p' },
		{ "proto", required_argument, NULL, 'P' },
		{ "full-path", no_argument, NULL, 'F' },
		{ "networks", required_argument, NULL, 'N' },
		{ "help", no_argument, NULL, 'h' },
		{},
	};
	struct top_opts *o = &a->o;
	int c, i;
	uint64_t n;

	memset(a, 0, sizeof(*a));
	o->interval = 1.0;
	o->limit = 0;
	o->sort = NA_C_COUNT;
	o->view.proto = -1;
	while ((c = getopt_long(argc, argv, "Bd:n:l:bs:g:c:p:P:h", opts, NULL)) != -1) {
		switch (c) {
		case 'B':
			o->batch = 1;
			break;
		case 'd':
			if (parse_num("--interval", optarg, 0.1, 3600, &o->interval))
				return NA_EXIT_USAGE;
			break;
		case 'n':
			if (parse_count("--iterations", optarg, 1, 1000000000, &n))
				return NA_EXIT_USAGE;
			o->iterations = (long)n;
			break;
		case 'l':
			if (parse_count("--limit", optarg, 0, 1000000000, &n))
				return NA_EXIT_USAGE;
			o->limit = (long)n;
			break;
		case 'b':
			o->bits = 1;
			break;
		case 's':
			if (na_col_parse(optarg, &o->sort)) {
				char names[256];

				na_col_aliases(names, sizeof(names));
				return na_usage_error("top", "--sort '%s': one of %s", optarg, names);
			}
			break;
		case 'g':
			if (na_group_parse(optarg, &o->view.group))
				return na_usage_error("top", "--group-by '%s': %s", optarg, NA_GROUPS_TEXT);
			break;
		case 'F':
			o->full_path = 1;
			break;
		case 'N':
			a->networks = optarg;
			break;
		case 'c':
			if (a->ncg == NA_TOP_MAX_CG)
				return na_usage_error("top", "too many --cgroup");
			a->cg[a->ncg++] = optarg;
			break;
		case 'p':
			if (parse_count("--pid", optarg, 1, 4194304, &n))
				return NA_EXIT_USAGE;
			o->view.pid = (uint32_t)n;
			break;
		case 'P':
			for (i = 0; i <= NA_P_ICMPV6; i++)
				if (!strcmp(optarg, na_proto_name((uint8_t)i)))
					o->view.proto = i;
			if (o->view.proto < 0)
				return na_usage_error("top", "--proto '%s': tcp, udp, icmp, icmpv6 or other", optarg);
			break;
		case 'h':
			a->help = 1;
			return 0;
		default:
			return na_usage_error("top", "unknown option or missing value: %s", argv[optind - 1]);
		}
	}
	/* PATH arguments and --cgroup both filter by cgroup: none may be dropped (fuzz.cli found it). */
	if (argc - optind > NA_TOP_MAX_CG - a->ncg)
		return na_usage_error("top", "at most %d cgroups in all, PATHs and --cgroup", NA_TOP_MAX_CG);
	for (i = optind; i < argc; i++)
		a->cg[a->ncg++] = argv[i];
	return 0;
}

static const struct na_cgnames *top_names(void *ctx, uint64_t cgid, const char *path)
{
	return na_names_get(ctx, cgid, path);
}

int cmd_top(int argc, char **argv, const struct na_global *g)
{
	struct na_netclass *classes = NULL;
	struct na_top_args a;
	struct top_opts *o = &a.o;
	int rc;

	rc = na_top_parse(argc, argv, &a);
	if (rc)
		return rc;
	if (a.help)
		return cmd_help(2, (char *[]){ "help", "top" }, g);
	rc = na_filter_init(&o->paths, a.cg, a.ncg);
	if (rc)
		return rc;
	/* Before any state is read: a bad networks file is the operator's to fix (nothing of it is used). */
	if (na_netclass_load(a.networks, &classes) || na_names_new(NULL, &o->names)) {
		na_netclass_free(classes);
		na_filter_free(&o->paths);
		return NA_EXIT_FAIL;
	}
	o->classes = classes;
	o->view.paths = &o->paths;
	o->view.names = top_names;
	o->view.names_ctx = o->names;
	o->view.classes = classes;
	/* A live view: processes that are gone and idle age out of it (export keeps them). */
	o->view.proc_alive = proc_alive;
	if (!o->batch && isatty(STDOUT_FILENO))
		rc = top_interactive(g, o);
	else
		rc = top_batch(g, o);
	na_names_free(o->names);
	na_netclass_free(classes);
	na_filter_free(&o->paths);
	return rc;
}
