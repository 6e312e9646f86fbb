// SPDX-License-Identifier: (BSD-2-Clause OR GPL-2.0)
/*
 * top --batch: the frames as plain text on stdout, one every interval (like
 * top -b), every column at its full width. Also what top prints with no
 * terminal to draw on.
 */
#include <errno.h>
#include <stdio.h>
#include <time.h>

#include "commands.h"
#include "top.h"

/*
 * After sep, text in a column width wide: names are fitted to it; figures
 * never cut (a wider one shifts its line).
 */
static void print_cell(const char *sep, const char *text, int width, int left, enum na_elide e)
{
	char out[128];

	if (!left) {
		printf("%s%*s", sep, width, text);
		return;
	}
	na_fit(out, text, width, 1, e);
	printf("%s%s", sep, out);
}

/* One line of the attached cgroups (g NULL: their header); the path starts the line. */
static void print_cg_line(const struct top_opts *o, const struct top_cg *g)
{
	char cell[64];
	int k;

	for (k = 0; k < TOP_CG_COUNT; k++) {
		enum top_cg_col c = top_cg_col_at(o, k);
		const struct top_cg_coldef *d = &top_cg_cols[c];

		print_cell(k ? " " : "", top_cg_cell(cell, sizeof(cell), g, c, o), d->width, d->left, d->elide);
	}
	putchar('\n');
}

static void print_table(const struct top_opts *o, const struct top_frame *f)
{
	enum na_col cols[NA_C_COUNT];
	char cell[96];
	int c, ncols;
	size_t i;

	ncols = top_columns(o, cols);
	for (c = 0; c < ncols; c++)
		print_cell(" ", na_col_name(cols[c]), top_col_width(cols[c]), top_col_left(cols[c]),
			   top_col_elide(cols[c]));
	putchar('\n');
	for (i = 0; i < f->nrows && (o->limit <= 0 || (long)i < o->limit); i++) {
		for (c = 0; c < ncols; c++) {
			top_cell(cell, sizeof(cell), &f->rows[i], cols[c], o);
			print_cell(" ", cell, top_col_width(cols[c]), top_col_left(cols[c]), top_col_elide(cols[c]));
		}
		putchar('\n');
	}
	if (f->total_rows > i)
		printf("(%zu more; --limit N shows more)\n", f->total_rows - i);
}

static void print_frame(const struct top_opts *o, const struct top_frame *f)
{
	char when[32];
	size_t i;

	na_time_str(when, sizeof(when), (uint64_t)time(NULL));
	printf("netacct top - %s, interval %.1f s, %zu live sockets, by %s\n", when, f->secs, f->live_sockets,
	       na_group_name(o->view.group));
	print_cg_line(o, NULL);
	for (i = 0; i < f->ncg; i++)
		print_cg_line(o, &f->cg[i]);
	putchar('\n');
	print_table(o, f);
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

	rc = top_start(g, &ts, o);
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
