/* SPDX-License-Identifier: (BSD-2-Clause OR GPL-2.0) */
/*
 * Charts of netacct report (cli/chart.c): stacked bars, one bar per period
 * (or per group), one stack segment per series, drawn in the terminal with
 * characters, or as SVG or PNG with cairo (its SVG and PNG surfaces draw the
 * same picture).
 */
#ifndef NETACCT_CLI_CHART_H
#define NETACCT_CLI_CHART_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

struct na_chart {
	const char *title;     /* "bytes sent and received by cgroup, every hour" */
	const char *subtitle;  /* the span, the host */
	size_t nbars;
	const char **bar_labels;
	size_t nseries;        /* the last may be "other" */
	const char **series_names;
	int names_keep_start;  /* a long name is cut at its end (a process, a peer), not its start (a cgroup path) */
	const uint64_t *v;     /* nbars x nseries bytes, bar-major */
};

/* Colours of the series, as #RRGGBB: the same in every picture (the last is for "other"). */
#define NA_CHART_NCOLORS 8
extern const char *const na_chart_colors[NA_CHART_NCOLORS];
/* The colour of series i of n (the last of several is "other" when last_other). */
const char *na_chart_color(size_t i, size_t n, int last_other);

/* The terminal: one line per bar, `width` columns; with color, ANSI colours too. */
void na_chart_text(FILE *out, const struct na_chart *c, int last_other, int width, int color);
/* SVG or PNG into out: 0 or -EIO (cairo's reason in why). */
int na_chart_svg(FILE *out, const struct na_chart *c, int last_other, char *why, size_t wlen);
int na_chart_png(FILE *out, const struct na_chart *c, int last_other, char *why, size_t wlen);

/* Give back what cairo and fontconfig keep for the process (after the last picture). */
void na_chart_release(void);

#endif
