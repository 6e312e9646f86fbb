// SPDX-License-Identifier: (BSD-2-Clause OR GPL-2.0)
/*
 * top's frame model: what one frame holds (the attached cgroups' lines and a
 * screenful of view.c's rows) and how it is made from two snapshots one
 * interval apart, rates being their deltas. Both printers draw these frames;
 * nothing here prints.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "commands.h"
#include "top.h"

static uint64_t sub0(uint64_t a, uint64_t b)
{
	return a >= b ? a - b : 0;
}

static uint64_t closed_conns_below(const struct na_snapshot *s, const char *path);

/* Rows a frame orders: --limit, or the screen's, whichever is fewer (0: all). */
static size_t frame_rows(const struct top_opts *o)
{
	return o->limit > 0 && (!o->ordered || (size_t)o->limit < o->ordered) ? (size_t)o->limit : o->ordered;
}

/*
 * By socket, a screenful by a figure: top's figures of the rows (136 bytes
 * a row, read into one buffer that keeps the read before) instead of two
 * snapshots of rows (2 x 184 bytes a row); the names of the rows shown
 * are looked up. Where the walk does not read (small tables, no CAP_BPF),
 * rows.
 */
static int figs_wanted(const struct top_opts *o)
{
	return na_view_figs_serve(&o->view, o->sort, frame_rows(o));
}

static int sock_row(void *st, uint64_t cookie, struct na_sock_row *out)
{
	return na_state_sock_row(st, cookie, out);
}

int top_start(const struct na_global *g, struct top_state *ts, const struct top_opts *o)
{
	int rc;

	size_t i;

	memset(ts, 0, sizeof(*ts));
	rc = figs_wanted(o) ? na_open_snapshot_figs(g, &ts->st, &ts->prev) : na_open_snapshot(g, &ts->st, &ts->prev);
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
		return na_snapshot_nlive(s);
	for (i = 0; i < s->ncglive; i++)
		if (na_filter_match(paths, s->cglive[i].path, s->cglive[i].id))
			n += s->cglive[i].live;
	return n;
}

/* A new snapshot in cur becomes prev; the old prev stays as the baseline. */
static int take_snapshot(const struct na_global *g, struct top_state *ts, const struct top_opts *o)
{
	int err;

	/* Two snapshots in memory, not three: the oldest has served its frame. */
	na_snapshot_free(&ts->before);
	ts->have_before = 0;
	err = figs_wanted(o) ? na_state_read_figs(ts->st, &ts->cur) : na_state_read(ts->st, &ts->cur);
	if (err)
		return err;
	/* Only rows still without an owner cost anything: none, in the steady state. */
	na_owners_resolve(g->pin_root, &ts->cur, NULL);
	ts->before = ts->prev;
	ts->prev = ts->cur;
	memset(&ts->cur, 0, sizeof(ts->cur));
	ts->have_before = 1;
	return 0;
}

int top_rebuild(const struct top_state *ts, const struct top_opts *o, struct top_frame *f)
{
	struct na_view_opts v = o->view;
	int err;

	memset(f, 0, sizeof(*f));
	if (!ts->have_before)
		return -EAGAIN;
	/*
	 * The figures' names come from the table as it is now. Rates: figures
	 * against figures or rows; rows against rows only (the frame of rows
	 * just after figures has none: the TUI reads a baseline of rows first).
	 */
	v.sock_row = sock_row;
	v.sock_row_ctx = ts->st;
	f->secs = (double)(ts->prev.boot_ns - ts->before.boot_ns) / 1e9;
	f->live_sockets = live_in_view(&ts->prev, &o->paths);
	err = build_header(&ts->prev, &ts->before, ts, o, f);
	if (!err)
		err = na_view_build_top(&ts->prev, !ts->prev.figs.slots && ts->before.figs.slots ? NULL : &ts->before,
					f->secs, &v, o->sort, o->reverse, frame_rows(o), &f->rows, &f->nrows,
					&f->total_rows);
	if (err)
		top_frame_free(f);
	return err;
}

int top_rebase(const struct na_global *g, struct top_state *ts, const struct top_opts *o)
{
	return take_snapshot(g, ts, o);
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
	err = take_snapshot(g, ts, o);
	return err ? err : top_rebuild(ts, o, f);
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

void top_view_bind(struct top_opts *o)
{
	o->view.paths = &o->paths;
	o->view.names = na_view_names;
	o->view.names_ctx = o->names;
	o->view.classes = o->classes;
	/* A live view: processes that are gone and idle age out of it (export keeps them). */
	o->view.proc_alive = proc_alive;
}
