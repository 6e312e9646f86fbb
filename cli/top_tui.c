// SPDX-License-Identifier: (BSD-2-Clause OR GPL-2.0)
/*
 * The interactive view of top: the frames of top_next() drawn full screen with
 * ncurses, one snapshot per interval. Keys that change what is shown (order,
 * grouping, filter, totals) make the frame again from the two snapshots it
 * came from (top_rebuild): a key reads no table (but the names of the rows
 * shown by socket, a screenful of lookups), so top costs one read per
 * interval however fast someone types. The one exception: a key that leaves
 * top's figures for a view that needs rows reads them at once, as a new
 * baseline (top_rebase), and the next frame comes an interval later.
 *
 * The terminal is restored on every way out: q, --iterations, SIGINT, SIGTERM,
 * SIGHUP and a failed read. Diagnostics written while the screen is ours go to
 * a temporary file and are replayed on stderr once it is restored: a line
 * written over the screen would be lost at the next frame.
 */
#include <curses.h>
#include <errno.h>
#include <locale.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#include "commands.h"
#include "format.h"
#include "top.h"

#define MIN_INTERVAL 0.1
#define MAX_INTERVAL 3600.0
/* The longest wait for a key: how late a SIGTERM is noticed (a due frame waits less). */
#define POLL_MS 200
#define ESCAPE 27
#define KEY_CTRL(c) ((c) & 0x1f)
#define OTHER_KEY 2 /* screen_key(): not one of its keys */

static volatile sig_atomic_t stop_signal;

static void on_stop(int sig)
{
	stop_signal = sig;
}

struct tui {
	const struct na_global *g;
	struct top_opts *o;
	struct top_state ts;
	struct top_frame f;
	int have_frame;
	long frames;
	time_t frame_time;
	double last_at;     /* monotonic time of the last snapshot */
	int paused;
	int help;
	int hskip;          /* columns scrolled off on the left (arrow keys) */
	int ncols, nfit;    /* columns of this grouping, and of those on the screen */
	int prompt;         /* the filter line is open */
	char edit[sizeof(((struct top_opts *)0)->text)];
	int busiest_totals; /* t turned "busiest" into TX: t again turns it back */
	/* stderr while the screen is ours */
	int saved_err;
	FILE *errlog;
};

static double mono(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

/* ---- drawing ------------------------------------------------------------------- */

/* At most COLS - x columns of s at (y, x). */
static void put(int y, int x, const char *s, attr_t a)
{
	int n = COLS - x;

	if (y < 0 || y >= LINES || n <= 0)
		return;
	if (a)
		attron(a);
	mvaddnstr(y, x, s, n);
	if (a)
		attroff(a);
}

static void sort_name(char *buf, size_t len, const struct top_opts *o)
{
	snprintf(buf, len, "%s%s", o->sort == NA_C_COUNT ? "busiest" : na_col_name(o->sort),
		 o->reverse ? " (reversed)" : "");
}

/*
 * The title says what the screen shows: the grouping, the order, rates or
 * totals and the filter stay; on a narrow screen the time of day, then the
 * interval, the count of live sockets and the program's name give way.
 */
static int draw_title(const struct tui *t, int y)
{
	const struct top_opts *o = t->o;
	char when[32], sort[48], what[256], line[512];
	const char *clock;
	int drop, x = 0;

	na_time_str(when, sizeof(when), (uint64_t)(t->have_frame ? t->frame_time : time(NULL)));
	/* The time of day only: a live view needs no date. */
	clock = strchr(when, ' ') ? strchr(when, ' ') + 1 : when;
	sort_name(sort, sizeof(sort), o);
	snprintf(what, sizeof(what), "by %s, sort %s, %s%s%s%s", na_group_name(o->view.group), sort,
		 o->totals ? "totals" : "rates", o->text[0] ? ", filter \"" : "", o->text, o->text[0] ? "\"" : "");
	/* First, where a narrow screen cannot cut it off. */
	if (t->paused) {
		put(y, 0, "PAUSED", A_REVERSE | A_BOLD);
		x = 7;
	}
	for (drop = 0; drop <= 4; drop++) {
		char part[96] = "";
		size_t n;

		line[0] = '\0';
		if (drop < 4)
			snprintf(line, sizeof(line), "netacct top%s%s, ", drop < 1 ? " - " : "", drop < 1 ? clock : "");
		if (drop < 2) {
			snprintf(part, sizeof(part), "interval %.3g s, ", o->interval);
			strncat(line, part, sizeof(line) - strlen(line) - 1);
		}
		if (drop < 3) {
			snprintf(part, sizeof(part), "%zu live sockets, ", t->have_frame ? t->f.live_sockets : (size_t)0);
			strncat(line, part, sizeof(line) - strlen(line) - 1);
		}
		strncat(line, what, sizeof(line) - strlen(line) - 1);
		n = strlen(line);
		if (x + (int)n <= COLS)
			break;
	}
	put(y, x, line, 0);
	return y + 1;
}

/* Widths of the cgroup lines' fields on this screen, in display order (0: not shown). */
static void cg_layout(const struct tui *t, size_t ncg, int *w)
{
	struct na_lay_col lay[TOP_CG_COUNT];
	size_t i;
	int k;

	for (k = 0; k < TOP_CG_COUNT; k++) {
		const struct top_cg_coldef *d = &top_cg_cols[top_cg_col_at(t->o, k)];

		/* In the place of another, with its priority. */
		lay[k].prio = top_cg_cols[k].prio;
		lay[k].min = d->min;
		lay[k].width = lay[k].want = d->width;
	}
	for (i = 0; i < ncg; i++) {
		int n = (int)strlen(t->f.cg[i].path);

		if (n > lay[TOP_CG_PATH].want)
			lay[TOP_CG_PATH].want = n < top_cg_cols[TOP_CG_PATH].max ? n : top_cg_cols[TOP_CG_PATH].max;
	}
	/* The path starts the line: its leading blank is off the screen. */
	na_layout(lay, TOP_CG_COUNT, COLS + 1, w);
}

/* One line of the attached cgroups (g NULL: their header), in the widths w of cg_layout. */
static void draw_cg_line(int y, const struct top_opts *o, const struct top_cg *g, const int *w)
{
	char cell[64], out[128];
	int k, x = -1;

	for (k = 0; k < TOP_CG_COUNT; k++) {
		enum top_cg_col c = top_cg_col_at(o, k);
		const struct top_cg_coldef *d = &top_cg_cols[c];

		if (!w[k])
			continue;
		x++;
		na_fit(out, top_cg_cell(cell, sizeof(cell), g, c, o), w[k], d->left, g ? d->elide : NA_ELIDE_END);
		put(y, x, out, !g || top_cg_col_emphasised(c, o) ? A_BOLD : 0);
		x += w[k];
	}
}

static int draw_cgroups(const struct tui *t, int y)
{
	const struct top_frame *f = &t->f;
	/* A screen full of cgroups would leave no room for the rows. */
	size_t room = LINES > 12 ? (size_t)(LINES - 6) / 3 : 1, i, n;
	char more[64];
	int w[TOP_CG_COUNT];

	n = f->ncg <= room ? f->ncg : room - 1;
	cg_layout(t, n, w);
	draw_cg_line(y++, t->o, NULL, w);
	for (i = 0; i < n && y < LINES - 1; i++)
		draw_cg_line(y++, t->o, &f->cg[i], w);
	if (i < f->ncg) {
		snprintf(more, sizeof(more), "(%zu more cgroups)", f->ncg - i);
		put(y++, 0, more, A_DIM);
	}
	return y;
}

/*
 * The table's columns on this screen, in display order, after the first
 * `skip` of this grouping (scrolled off with the arrow keys): cols[k] at
 * xs[k], ws[k] wide, -1 ending the list. They give way by priority
 * (top_col_prio), never wrap, and a name column grows on a wide screen as
 * far as its longest cell among the rows drawn. Returns how many columns
 * the grouping has.
 */
static int table_layout(const struct top_opts *o, const struct top_frame *f, size_t nrows, int skip,
			int *cols, int *xs, int *ws)
{
	enum na_col all[NA_C_COUNT];
	struct na_lay_col lay[NA_C_COUNT];
	int w[NA_C_COUNT], n, m = 0, i, k = 0, x = 0;
	char cell[128];
	size_t r;

	n = top_columns(o, all);
	for (i = skip < n ? skip : n; i < n; i++, m++) {
		enum na_col c = all[i];

		all[m] = c;
		lay[m].prio = top_col_prio(c, o);
		lay[m].min = top_col_min(c);
		lay[m].width = lay[m].want = top_col_width(c);
		for (r = 0; top_col_left(c) && top_col_max(c) > lay[m].want && r < nrows; r++) {
			int len;

			top_cell(cell, sizeof(cell), &f->rows[r], c, o);
			len = (int)strlen(cell);
			if (len > lay[m].want)
				lay[m].want = len < top_col_max(c) ? len : top_col_max(c);
		}
	}
	na_layout(lay, m, COLS, w);
	for (i = 0; i < m; i++) {
		if (!w[i])
			continue;
		cols[k] = all[i];
		xs[k] = x + 1;
		ws[k++] = w[i];
		x += 1 + w[i];
	}
	cols[k] = -1;
	return n;
}

static int draw_table(struct tui *t, int y, int bottom)
{
	const struct top_opts *o = t->o;
	const struct top_frame *f = &t->f;
	int cols[NA_C_COUNT + 1], xs[NA_C_COUNT + 1], ws[NA_C_COUNT + 1], k;
	char cell[128], out[160];
	size_t i, shown;

	shown = f->nrows;
	if (o->limit > 0 && (size_t)o->limit < shown)
		shown = (size_t)o->limit;
	if (bottom - y - 1 >= 0 && shown > (size_t)(bottom - y - 1))
		shown = (size_t)(bottom - y - 1);
	t->ncols = table_layout(o, f, shown, t->hskip, cols, xs, ws);
	for (k = 0; cols[k] >= 0; k++) {
		enum na_col c = cols[k];
		attr_t a = A_BOLD;

		if (c == o->sort || (o->sort == NA_C_COUNT && top_col_emphasised(c, o)))
			a |= A_REVERSE;
		na_fit(out, na_col_name(c), ws[k], top_col_left(c), NA_ELIDE_END);
		put(y, xs[k], out, a);
	}
	t->nfit = k;
	y++;
	for (i = 0; i < shown && y < bottom; i++, y++) {
		for (k = 0; cols[k] >= 0; k++) {
			enum na_col c = cols[k];

			top_cell(cell, sizeof(cell), &f->rows[i], c, o);
			na_fit(out, cell, ws[k], top_col_left(c), top_col_elide(c));
			put(y, xs[k], out, top_col_emphasised(c, o) ? A_BOLD : 0);
		}
	}
	return (int)i;
}

/* The last line: the filter being typed, or what the keys do and how much is shown. */
static void draw_bottom(const struct tui *t, int rows_drawn)
{
	static const char hint[] =
		" h help  q quit  g group  / filter  < > sort  r reverse  t totals  p paths  space pause  + - interval";
	char right[96] = "", line[256];
	int y = LINES - 1, w = COLS - 1, n = 0;

	if (y < 1 || w < 1)
		return;
	if (t->prompt) {
		snprintf(line, sizeof(line), "Filter: %s", t->edit);
		put(y, 0, line, A_BOLD);
		move(y, (int)strlen(line) < COLS ? (int)strlen(line) : COLS - 1);
		return;
	}
	if (t->have_frame) {
		if (t->nfit < t->ncols)
			n = snprintf(right, sizeof(right), " %d of %d columns,", t->nfit, t->ncols);
		if ((size_t)rows_drawn < t->f.total_rows)
			snprintf(right + n, sizeof(right) - (size_t)n, " %d of %zu rows ", rows_drawn,
				 t->f.total_rows);
		else
			snprintf(right + n, sizeof(right) - (size_t)n, " %zu rows ", t->f.total_rows);
		n = (int)strlen(right);
		if (n > w)
			n = 0;
	}
	/*
	 * Never the last column of the last line: writing there may scroll. The
	 * bar is drawn across the width first: a terminal may be wider than line.
	 */
	mvhline(y, 0, ' ' | A_REVERSE, w);
	na_fit(line, hint, w - n < (int)sizeof(line) ? w - n : (int)sizeof(line) - 1, 1, NA_ELIDE_END);
	put(y, 0, line, A_REVERSE);
	if (n)
		put(y, w - n, right, A_REVERSE);
}

static void draw_help(void)
{
	static const char *const keys[] = {
		"q          quit (also Ctrl-C)",
		"space      pause: keep this frame (keys still sort, group and filter it)",
		"g          group by socket, process, cgroup, peer, unit, container, pod, class",
		"p          CGROUP column: the name people know a cgroup by, or its path",
		"< >        sort by the column to the left / right",
		"left right scroll columns off the left, to make room for those that gave way",
		"r          reverse the order",
		"t          totals (TX, RX) in the place of the rates (TX/s, RX/s), and back",
		"/          filter rows by text: Enter applies, Esc cancels, empty clears",
		"+ -        interval x2 / /2 (0.1 to 3600 s)",
		"Ctrl-L     redraw",
		"h ?        this help",
		"Sort by a column: its letter (the same letter again reverses):",
	};
	char lines[32][96], *l;
	int n = 0, i, c, k, w = 0, h, y0, x0;

	for (i = 0; i < (int)NA_ARRAY_SIZE(keys); i++)
		snprintf(lines[n++], sizeof(lines[0]), "%s", keys[i]);
	for (c = 0; c < NA_C_COUNT;) {
		l = lines[n++];
		l[0] = '\0';
		for (k = 0; k < 7 && c < NA_C_COUNT; k++, c++) {
			size_t len = strlen(l);

			snprintf(l + len, sizeof(lines[0]) - len, "%c %-8s", na_col_key(c), na_col_name(c));
		}
	}
	for (i = 0; i < n; i++)
		if ((int)strlen(lines[i]) > w)
			w = (int)strlen(lines[i]);
	w += 4;
	h = n + 2;
	if (w > COLS)
		w = COLS;
	if (h > LINES)
		h = LINES;
	y0 = (LINES - h) / 2;
	x0 = (COLS - w) / 2;
	if (w < 4 || h < 3)
		return;
	for (i = 0; i < h; i++)
		mvhline(y0 + i, x0, ' ', w);
	mvhline(y0, x0 + 1, ACS_HLINE, w - 2);
	mvhline(y0 + h - 1, x0 + 1, ACS_HLINE, w - 2);
	mvvline(y0 + 1, x0, ACS_VLINE, h - 2);
	mvvline(y0 + 1, x0 + w - 1, ACS_VLINE, h - 2);
	mvaddch(y0, x0, ACS_ULCORNER);
	mvaddch(y0, x0 + w - 1, ACS_URCORNER);
	mvaddch(y0 + h - 1, x0, ACS_LLCORNER);
	mvaddch(y0 + h - 1, x0 + w - 1, ACS_LRCORNER);
	put(y0, x0 + 2, " netacct top: keys ", A_BOLD);
	if (w > 30)
		put(y0 + h - 1, x0 + w - 28, " any key closes this help ", 0);
	for (i = 0; i < n && i < h - 2; i++)
		mvaddnstr(y0 + 1 + i, x0 + 2, lines[i], w - 4);
}

/* The whole screen: erase, draw, one refresh. ncurses sends only what changed. */
static void draw(struct tui *t)
{
	int y = 0, rows = 0;

	erase();
	y = draw_title(t, y);
	if (t->have_frame) {
		y = draw_cgroups(t, y);
		y++;
		if (y < LINES - 1)
			rows = draw_table(t, y, LINES - 1);
	} else {
		put(y + 1, 0, "collecting the first interval...", A_DIM);
	}
	if (t->help)
		draw_help();
	draw_bottom(t, rows);
	curs_set(t->prompt ? 1 : 0);
	refresh();
}

/* ---- frames -------------------------------------------------------------------- */

static int sample(struct tui *t)
{
	int err;

	top_frame_free(&t->f);
	t->have_frame = 0;
	/* Before the read: frames one interval apart, however long a read takes. */
	t->last_at = mono();
	t->o->ordered = LINES > 0 ? (size_t)LINES : 0; /* no more rows fit on the screen */
	err = top_next(t->g, &t->ts, t->o, &t->f);
	if (err)
		return err;
	t->have_frame = 1;
	t->frame_time = time(NULL);
	t->frames++;
	return 0;
}

/* After o changed: the same two snapshots, shown the new way. */
static int rebuild(struct tui *t)
{
	int err;

	if (!t->have_frame)
		return 0;
	top_frame_free(&t->f);
	t->have_frame = 0;
	t->o->ordered = LINES > 0 ? (size_t)LINES : 0;
	err = top_rebuild(&t->ts, t->o, &t->f);
	if (!err)
		t->have_frame = 1;
	/* The snapshots held do not serve the new view (figures, and it needs rows): a new baseline, a frame next interval. */
	if (err == -EAGAIN) {
		err = top_rebase(t->g, &t->ts, t->o);
		t->last_at = mono();
	}
	return err;
}

/* ---- keys ---------------------------------------------------------------------- */

/* < and >: the next column of this grouping, as shown; "busiest" sits just before the key figures. */
static void sort_step(struct top_opts *o, int dir)
{
	enum na_col cols[NA_C_COUNT];
	int n = top_columns(o, cols), i, at = -1;
	enum na_col key = o->totals ? NA_C_TX : NA_C_TX_RATE;

	for (i = 0; i < n; i++)
		if (cols[i] == (o->sort == NA_C_COUNT ? key : o->sort))
			at = i;
	if (at < 0)
		return;
	if (o->sort == NA_C_COUNT) {
		if (dir > 0)
			o->sort = key;
		else if (at > 0)
			o->sort = cols[at - 1];
		return;
	}
	if (at + dir >= 0 && at + dir < n)
		o->sort = cols[at + dir];
}

static void toggle_totals(struct tui *t)
{
	struct top_opts *o = t->o;

	o->totals = !o->totals;
	if (o->totals) {
		if (o->sort == NA_C_COUNT) {
			o->sort = NA_C_TX;
			t->busiest_totals = 1;
		} else if (o->sort == NA_C_TX_RATE) {
			o->sort = NA_C_TX;
		} else if (o->sort == NA_C_RX_RATE) {
			o->sort = NA_C_RX;
		}
		return;
	}
	if (o->sort == NA_C_TX)
		o->sort = t->busiest_totals ? NA_C_COUNT : NA_C_TX_RATE;
	else if (o->sort == NA_C_RX)
		o->sort = NA_C_RX_RATE;
	t->busiest_totals = 0;
}

static void prompt_key(struct tui *t, int ch, int *changed)
{
	size_t n = strlen(t->edit);

	switch (ch) {
	case '\n':
	case '\r':
	case KEY_ENTER:
		memcpy(t->o->text, t->edit, sizeof(t->o->text));
		t->o->view.text = t->o->text[0] ? t->o->text : NULL;
		t->prompt = 0;
		*changed = 1;
		break;
	case ESCAPE:
		t->prompt = 0;
		break;
	case KEY_BACKSPACE:
	case 127:
	case '\b':
		if (n)
			t->edit[n - 1] = '\0';
		break;
	case KEY_CTRL('u'):
		t->edit[0] = '\0';
		break;
	default:
		if (ch >= 0x20 && ch < 0x7f && n + 1 < sizeof(t->edit)) {
			t->edit[n] = (char)ch;
			t->edit[n + 1] = '\0';
		}
		break;
	}
}

/*
 * A key that changes how the screen looks or when frames come, not the rows:
 * 1 to quit, 0, -errno when a baseline could not be taken; OTHER_KEY when
 * ch is none of these keys.
 */
static int screen_key(struct tui *t, int ch)
{
	struct top_opts *o = t->o;

	switch (ch) {
	case 'q':
	case 'Q':
		return 1;
	case 'h':
	case '?':
		t->help = 1;
		return 0;
	case ' ':
		t->paused = !t->paused;
		/* Rates after a pause are over the next interval, not over the pause (nor from a key's rebase in it). */
		if (!t->paused && t->ts.have_before) {
			int err = top_rebase(t->g, &t->ts, t->o);

			t->last_at = mono();
			return err;
		}
		return 0;
	case 'p':
		o->full_path = !o->full_path;
		return 0; /* the cells change, not the rows */
	case '/':
		memcpy(t->edit, o->text, sizeof(t->edit));
		t->prompt = 1;
		return 0;
	case '+':
	case '=':
		o->interval = o->interval * 2 > MAX_INTERVAL ? MAX_INTERVAL : o->interval * 2;
		return 0;
	case '-':
		o->interval = o->interval / 2 < MIN_INTERVAL ? MIN_INTERVAL : o->interval / 2;
		return 0;
	case KEY_LEFT:
		if (t->hskip > 0)
			t->hskip--;
		return 0;
	case KEY_RIGHT:
		if (t->hskip + 1 < t->ncols)
			t->hskip++;
		return 0;
	case KEY_CTRL('l'):
		clearok(curscr, TRUE);
		return 0;
	default:
		return OTHER_KEY;
	}
}

/* A column's letter sorts by it; the same letter again reverses. 1: the rows must be made again. */
static int column_key(struct tui *t, int ch)
{
	struct top_opts *o = t->o;
	int c;

	for (c = 0; c < NA_C_COUNT; c++) {
		if (ch != na_col_key(c))
			continue;
		if (!top_col_shown(c, o->view.group)) {
			beep();
			return 0;
		}
		if (o->sort == (enum na_col)c)
			o->reverse = !o->reverse;
		else
			o->sort = c;
		return 1;
	}
	return 0;
}

/* A key that changes the rows (grouping, order, totals). 1: they must be made again. */
static int rows_key(struct tui *t, int ch)
{
	struct top_opts *o = t->o;

	switch (ch) {
	case 'g':
		o->view.group = (enum na_group)((o->view.group + 1) % NA_G_COUNT);
		t->hskip = 0;
		if (o->sort != NA_C_COUNT && !top_col_shown(o->sort, o->view.group))
			o->sort = o->totals ? NA_C_TX : NA_C_COUNT;
		return 1;
	case '<':
	case '>':
		sort_step(o, ch == '<' ? -1 : 1);
		return 1;
	case 'r':
		o->reverse = !o->reverse;
		return 1;
	case 't':
		toggle_totals(t);
		return 1;
	default:
		return column_key(t, ch);
	}
}

/*
 * One key. *changed: the rows must be made again (order, grouping, filter);
 * returns 1 to quit, -errno when a baseline could not be taken.
 */
static int key(struct tui *t, int ch, int *changed)
{
	int rc;

	*changed = 0;
	if (ch == KEY_RESIZE)
		return 0;
	if (t->prompt) {
		prompt_key(t, ch, changed);
		return 0;
	}
	if (t->help) {
		t->help = 0; /* any key closes it */
		return 0;
	}
	rc = screen_key(t, ch);
	if (rc != OTHER_KEY)
		return rc;
	*changed = rows_key(t, ch);
	return 0;
}

/* ---- the terminal -------------------------------------------------------------- */

/* Diagnostics go to a temporary file while the screen is ours (stderr a terminal). */
static void errlog_start(struct tui *t)
{
	t->saved_err = -1;
	t->errlog = NULL;
	if (!isatty(STDERR_FILENO))
		return;
	t->errlog = tmpfile();
	if (!t->errlog)
		return;
	fflush(stderr);
	t->saved_err = dup(STDERR_FILENO);
	if (t->saved_err < 0 || dup2(fileno(t->errlog), STDERR_FILENO) < 0) {
		if (t->saved_err >= 0)
			close(t->saved_err);
		t->saved_err = -1;
		fclose(t->errlog);
		t->errlog = NULL;
	}
}

static void errlog_replay(struct tui *t)
{
	char buf[4096];
	size_t n;

	if (!t->errlog)
		return;
	fflush(stderr);
	dup2(t->saved_err, STDERR_FILENO);
	close(t->saved_err);
	rewind(t->errlog);
	while ((n = fread(buf, 1, sizeof(buf), t->errlog)) > 0)
		fwrite(buf, 1, n, stderr);
	fclose(t->errlog);
	t->errlog = NULL;
}

static int run(struct tui *t)
{
	struct top_opts *o = t->o;
	int ch, changed, err = 0, wait_ms;
	double now;

	t->last_at = mono();
	draw(t);
	while (!stop_signal) {
		now = mono();
		if (!t->paused && now >= t->last_at + o->interval) {
			/* --iterations: the last frame stays on the screen for its interval. */
			if (o->iterations && t->frames >= o->iterations)
				break;
			err = sample(t);
			if (err)
				break;
			draw(t);
			now = mono();
		}
		wait_ms = POLL_MS;
		if (!t->paused && (t->last_at + o->interval - now) * 1000 < wait_ms)
			wait_ms = (int)((t->last_at + o->interval - now) * 1000);
		timeout(wait_ms > 0 ? wait_ms : 0);
		ch = getch();
		if (ch == ERR)
			continue;
		err = key(t, ch, &changed);
		if (err)
			break;
		if (changed)
			err = rebuild(t);
		if (err)
			break;
		draw(t);
	}
	return err > 0 ? 0 : err;
}

int top_interactive(const struct na_global *g, struct top_opts *o)
{
	static const int sigs[] = { SIGINT, SIGTERM, SIGHUP };
	struct sigaction sa, old[3];
	struct winsize ws;
	struct tui t;
	SCREEN *scr;
	int rc, err, i;

	memset(&t, 0, sizeof(t));
	t.g = g;
	t.o = o;
	o->view.text = o->text[0] ? o->text : NULL;
	/* The first snapshot of the kind a screenful needs: no more rows fit than the terminal's lines. */
	if (!ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) && ws.ws_row > 0)
		o->ordered = ws.ws_row;
	rc = top_start(g, &t.ts, o);
	if (rc)
		return rc;
	/*
	 * Ours before ncurses starts: it leaves handlers alone that are not
	 * SIG_DFL. No SA_RESTART, so that a signal ends the wait for a key.
	 */
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_stop;
	sigemptyset(&sa.sa_mask);
	for (i = 0; i < 3; i++)
		sigaction(sigs[i], &sa, &old[i]);
	setlocale(LC_CTYPE, "");
	scr = newterm(NULL, stdout, stdin);
	/* A terminal that cannot move the cursor (TERM=dumb) gets plain frames too. */
	if (scr && (!tigetstr("cup") || tigetstr("cup") == (char *)-1)) {
		endwin();
		delscreen(scr);
		scr = NULL;
	}
	if (!scr) {
		for (i = 0; i < 3; i++)
			sigaction(sigs[i], &old[i], NULL);
		top_stop(&t.ts);
		o->ordered = 0; /* plain frames print every row */
		na_log(NA_LOG_WARN, "top: cannot drive terminal '%s' (TERM): printing plain frames",
		       getenv("TERM") ? getenv("TERM") : "");
		return -ENOTTY;
	}
	errlog_start(&t);
	cbreak();
	noecho();
	nonl();
	keypad(stdscr, TRUE);
	set_escdelay(25);
	curs_set(0);

	err = run(&t);

	endwin();
	delscreen(scr);
	errlog_replay(&t);
	for (i = 0; i < 3; i++)
		sigaction(sigs[i], &old[i], NULL);
	top_frame_free(&t.f);
	top_stop(&t.ts);
	if (err) {
		na_err(err, "top: reading the counters");
		return NA_EXIT_FAIL;
	}
	/* q, --iterations or SIGINT/SIGTERM/SIGHUP: an orderly end, like top(1). */
	return NA_EXIT_OK;
}
