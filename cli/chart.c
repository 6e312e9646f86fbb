// SPDX-License-Identifier: (BSD-2-Clause OR GPL-2.0)
/*
 * Stacked bar charts of netacct report: text for a terminal, SVG and PNG
 * through cairo. One drawing routine serves both cairo surfaces, so the two
 * files show the same picture; bars are whole pixels (no anti-aliased
 * edges), so a bar's height in a PNG is its share of the scale to a pixel.
 */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <cairo.h>
#include <cairo-svg.h>
#include <fontconfig/fontconfig.h>

#include "chart.h"
#include "format.h"

/* Okabe and Ito's palette (told apart with every kind of colour blindness), then grey for "other". */
const char *const na_chart_colors[NA_CHART_NCOLORS] = { "#0072B2", "#E69F00", "#009E73", "#CC79A7",
							"#56B4E9", "#D55E00", "#F0E442", "#999999" };

const char *na_chart_color(size_t i, size_t n, int last_other)
{
	if (last_other && i + 1 == n)
		return na_chart_colors[NA_CHART_NCOLORS - 1];
	return na_chart_colors[i % (NA_CHART_NCOLORS - 1)];
}

static uint64_t bar_total(const struct na_chart *c, size_t b)
{
	uint64_t t = 0;
	size_t s;

	for (s = 0; s < c->nseries; s++)
		t += c->v[b * c->nseries + s];
	return t;
}

static uint64_t max_total(const struct na_chart *c)
{
	uint64_t m = 0, t;
	size_t b;

	for (b = 0; b < c->nbars; b++)
		if ((t = bar_total(c, b)) > m)
			m = t;
	return m;
}

/* ---- the terminal ------------------------------------------------------------- */

static const char glyphs[] = "#=+*%@ox";

static char glyph(size_t i, size_t n, int last_other)
{
	if (last_other && i + 1 == n)
		return '.';
	return glyphs[i % (sizeof(glyphs) - 2)];
}

/* The ANSI 256-colour index nearest to #RRGGBB (the 6x6x6 cube). */
static int ansi_of(const char *hex)
{
	unsigned r = 0, g = 0, b = 0;

	sscanf(hex, "#%2x%2x%2x", &r, &g, &b);
	return 16 + 36 * ((r * 5 + 127) / 255) + 6 * ((g * 5 + 127) / 255) + (int)((b * 5 + 127) / 255);
}

void na_chart_text(FILE *out, const struct na_chart *c, int last_other, int width, int color)
{
	uint64_t max = max_total(c), cum, t;
	int lw = 0, bar, col, end, n;
	char tot[32], name[64];
	size_t b, s;

	for (b = 0; b < c->nbars; b++)
		if ((n = (int)strlen(c->bar_labels[b])) > lw)
			lw = n;
	if (lw > 40)
		lw = 40;
	bar = width - lw - 13;
	if (bar < 10)
		bar = 10;
	fprintf(out, "%s\n", c->title);
	if (c->subtitle && *c->subtitle)
		fprintf(out, "%s\n", c->subtitle);
	fputc('\n', out);
	for (b = 0; b < c->nbars; b++) {
		char lab[48];

		t = bar_total(c, b);
		na_human_bytes(tot, sizeof(tot), (double)t, 0);
		na_fit(lab, c->bar_labels[b], lw, 1, NA_ELIDE_START);
		fprintf(out, "%s %10s ", lab, tot);
		/* cumulative ends, so that rounding never makes a bar longer than its share */
		for (s = 0, cum = 0, col = 0; s < c->nseries && max; s++) {
			cum += c->v[b * c->nseries + s];
			end = (int)((double)cum * bar / (double)max + 0.5);
			if (end <= col)
				continue;
			if (color)
				fprintf(out, "\033[38;5;%dm", ansi_of(na_chart_color(s, c->nseries, last_other)));
			for (; col < end; col++)
				fputc(glyph(s, c->nseries, last_other), out);
			if (color)
				fputs("\033[0m", out);
		}
		fputc('\n', out);
	}
	fputc('\n', out);
	for (s = 0; s < c->nseries; s++) {
		for (b = 0, t = 0; b < c->nbars; b++)
			t += c->v[b * c->nseries + s];
		na_human_bytes(tot, sizeof(tot), (double)t, 0);
		na_fit(name, c->series_names[s], width > 40 ? (width - 16 < 60 ? width - 16 : 60) : 24, 1,
		       c->names_keep_start ? NA_ELIDE_END : NA_ELIDE_START);
		if (color)
			fprintf(out, "\033[38;5;%dm", ansi_of(na_chart_color(s, c->nseries, last_other)));
		fprintf(out, "%c%c", glyph(s, c->nseries, last_other), glyph(s, c->nseries, last_other));
		if (color)
			fputs("\033[0m", out);
		fprintf(out, " %s %10s\n", name, tot);
	}
}

/* ---- cairo --------------------------------------------------------------------- */

#define W 1100
#define H 560
#define M_LEFT 86
#define M_RIGHT 330
#define M_TOP 64
#define M_BOTTOM 56

static void rgb(cairo_t *cr, const char *hex)
{
	unsigned r = 0, g = 0, b = 0;

	sscanf(hex, "#%2x%2x%2x", &r, &g, &b);
	cairo_set_source_rgb(cr, r / 255.0, g / 255.0, b / 255.0);
}

static double text_w(cairo_t *cr, const char *s)
{
	cairo_text_extents_t e;

	cairo_text_extents(cr, s, &e);
	return e.x_advance;
}

/* s cut (with "..") to at most w points wide: at its start (the end of a path tells paths apart), or its end */
static void fit_text(cairo_t *cr, const char *s, double w, char *out, size_t len, int keep_start)
{
	size_t n = strlen(s), cut;

	snprintf(out, len, "%s", s);
	if (text_w(cr, out) <= w)
		return;
	for (cut = 1; cut < n; cut++) {
		if (keep_start)
			snprintf(out, len, "%.*s..", (int)(n - cut), s);
		else
			snprintf(out, len, "..%s", s + cut);
		if (text_w(cr, out) <= w)
			return;
	}
}

/* A scale with round steps in binary units: the step, the unit and its name. */
static void scale(uint64_t max, double *top, double *step, double *unit, const char **uname)
{
	static const char *const names[] = { "B", "KiB", "MiB", "GiB", "TiB", "PiB" };
	static const double mult[] = { 1, 2, 2.5, 5, 10 };
	double m = max ? (double)max : 1, u = 1, s, p;
	int i = 0, k;

	while (m / u >= 1024 && i < 5) {
		u *= 1024;
		i++;
	}
	*unit = u;
	*uname = names[i];
	p = pow(10, floor(log10(m / u / 5)));
	for (k = 0; k < 5; k++) {
		s = mult[k] * p;
		if (m / u / s <= 6)
			break;
	}
	*step = s * u;
	*top = ceil(m / *step) * *step;
}

/* The plot area's size, the value at its top and the width of one bar's slot. */
struct plot {
	double pw, ph, top, slot;
};

static void draw_titles(cairo_t *cr, const struct na_chart *c)
{
	cairo_set_source_rgb(cr, 1, 1, 1);
	cairo_paint(cr);
	cairo_select_font_face(cr, "DejaVu Sans", CAIRO_FONT_SLANT_NORMAL, CAIRO_FONT_WEIGHT_BOLD);
	cairo_set_font_size(cr, 17);
	rgb(cr, "#222222");
	cairo_move_to(cr, M_LEFT, 28);
	cairo_show_text(cr, c->title);
	cairo_select_font_face(cr, "DejaVu Sans", CAIRO_FONT_SLANT_NORMAL, CAIRO_FONT_WEIGHT_NORMAL);
	cairo_set_font_size(cr, 12);
	rgb(cr, "#555555");
	cairo_move_to(cr, M_LEFT, 48);
	cairo_show_text(cr, c->subtitle ? c->subtitle : "");
}

/* The grid and the y axis's labels; p->top set from the largest bar. */
static void draw_grid(cairo_t *cr, const struct na_chart *c, struct plot *p)
{
	double step, unit, y;
	const char *uname;
	char buf[160];

	scale(max_total(c), &p->top, &step, &unit, &uname);
	cairo_set_font_size(cr, 11);
	cairo_set_line_width(cr, 1);
	for (y = 0; y <= p->top + step / 2; y += step) {
		double py = floor(M_TOP + p->ph - y / p->top * p->ph) + 0.5;

		rgb(cr, y ? "#e4e4e4" : "#888888");
		cairo_move_to(cr, M_LEFT, py);
		cairo_line_to(cr, M_LEFT + p->pw, py);
		cairo_stroke(cr);
		if (y)
			snprintf(buf, sizeof(buf), "%g %s", y / unit, uname);
		else
			snprintf(buf, sizeof(buf), "0");
		rgb(cr, "#444444");
		cairo_move_to(cr, M_LEFT - 8 - text_w(cr, buf), py + 4);
		cairo_show_text(cr, buf);
	}
}

/* The bars: whole pixels, each segment from the rounded cumulative sums. */
static void draw_bars(cairo_t *cr, const struct na_chart *c, const struct plot *p, int last_other)
{
	double bw = p->slot * 0.75 < 1 ? 1 : p->slot * 0.75, x;
	uint64_t cum, t;
	int y0, y1, x0, x1;
	size_t b, s;

	for (b = 0; b < c->nbars; b++) {
		x = M_LEFT + p->slot * (double)b + (p->slot - bw) / 2;
		x0 = (int)floor(x);
		x1 = (int)floor(x + bw);
		if (x1 <= x0)
			x1 = x0 + 1;
		for (s = 0, cum = 0; s < c->nseries; s++) {
			t = c->v[b * c->nseries + s];
			if (!t)
				continue;
			y0 = (int)floor(M_TOP + p->ph - (double)cum / p->top * p->ph + 0.5);
			cum += t;
			y1 = (int)floor(M_TOP + p->ph - (double)cum / p->top * p->ph + 0.5);
			if (y1 >= y0)
				continue;
			rgb(cr, na_chart_color(s, c->nseries, last_other));
			cairo_rectangle(cr, x0, y1, x1 - x0, y0 - y1);
			cairo_fill(cr);
		}
	}
}

/* The x labels, thinned so that they do not overlap. */
static void draw_bar_labels(cairo_t *cr, const struct na_chart *c, const struct plot *p)
{
	double slot = p->slot, x;
	size_t b, every;
	char buf[160];

	rgb(cr, "#444444");
	for (b = 0, every = 1; b < c->nbars; b++) {
		double w = text_w(cr, c->bar_labels[b]) + 10;

		while (slot * (double)every < w)
			every++;
	}
	for (b = 0; b < c->nbars; b += every) {
		const char *l = c->bar_labels[b];

		/* "2026-12-07 14:00" after a label of the same day: "14:00" */
		if (b >= every && strlen(l) == 16 && l[10] == ' ' && !strncmp(l, c->bar_labels[b - every], 11))
			l += 11;
		fit_text(cr, l, slot * (double)every - 6 > 40 ? slot * (double)every - 6 : 40, buf, sizeof(buf),
			 c->names_keep_start);
		x = M_LEFT + slot * ((double)b + 0.5) - text_w(cr, buf) / 2;
		cairo_move_to(cr, x < 2 ? 2 : x, M_TOP + p->ph + 18);
		cairo_show_text(cr, buf);
	}
}

/* The legend: colour, name, total. */
static void draw_legend(cairo_t *cr, const struct na_chart *c, int last_other)
{
	char buf[160], tot[32];
	size_t b, s;
	uint64_t t;

	for (s = 0; s < c->nseries; s++) {
		double ly = M_TOP + 8 + 22.0 * (double)s;

		if (ly > H - 20)
			break;
		rgb(cr, na_chart_color(s, c->nseries, last_other));
		cairo_rectangle(cr, W - M_RIGHT + 20, ly - 10, 12, 12);
		cairo_fill(cr);
		for (b = 0, t = 0; b < c->nbars; b++)
			t += c->v[b * c->nseries + s];
		na_human_bytes(tot, sizeof(tot), (double)t, 0);
		rgb(cr, "#222222");
		fit_text(cr, c->series_names[s], M_RIGHT - 40 - 62, buf, sizeof(buf), c->names_keep_start);
		cairo_move_to(cr, W - M_RIGHT + 38, ly);
		cairo_show_text(cr, buf);
		rgb(cr, "#555555");
		cairo_move_to(cr, W - 10 - text_w(cr, tot), ly);
		cairo_show_text(cr, tot);
	}
}

static void draw(cairo_t *cr, const struct na_chart *c, int last_other)
{
	struct plot p = { .pw = W - M_LEFT - M_RIGHT, .ph = H - M_TOP - M_BOTTOM };

	p.slot = c->nbars ? p.pw / (double)c->nbars : p.pw;
	draw_titles(cr, c);
	draw_grid(cr, c, &p);
	draw_bars(cr, c, &p, last_other);
	draw_bar_labels(cr, c, &p);
	draw_legend(cr, c, last_other);
}

static cairo_status_t write_stream(void *closure, const unsigned char *data, unsigned int len)
{
	return fwrite(data, 1, len, closure) == len ? CAIRO_STATUS_SUCCESS : CAIRO_STATUS_WRITE_ERROR;
}

static int finish(cairo_t *cr, cairo_surface_t *sf, char *why, size_t wlen)
{
	cairo_status_t st = cairo_status(cr);

	cairo_destroy(cr);
	if (st == CAIRO_STATUS_SUCCESS)
		st = cairo_surface_status(sf);
	if (st != CAIRO_STATUS_SUCCESS)
		snprintf(why, wlen, "%s", cairo_status_to_string(st));
	return st == CAIRO_STATUS_SUCCESS ? 0 : -EIO;
}

int na_chart_svg(FILE *out, const struct na_chart *c, int last_other, char *why, size_t wlen)
{
	cairo_surface_t *sf = cairo_svg_surface_create_for_stream(write_stream, out, W, H);
	cairo_t *cr = cairo_create(sf);
	int err;

	draw(cr, c, last_other);
	err = finish(cr, sf, why, wlen);
	cairo_surface_finish(sf); /* writes the rest of the file */
	if (!err && cairo_surface_status(sf) != CAIRO_STATUS_SUCCESS) {
		snprintf(why, wlen, "%s", cairo_status_to_string(cairo_surface_status(sf)));
		err = -EIO;
	}
	cairo_surface_destroy(sf);
	return err;
}

int na_chart_png(FILE *out, const struct na_chart *c, int last_other, char *why, size_t wlen)
{
	cairo_surface_t *sf = cairo_image_surface_create(CAIRO_FORMAT_RGB24, W, H);
	cairo_t *cr = cairo_create(sf);
	cairo_status_t st;
	int err;

	draw(cr, c, last_other);
	err = finish(cr, sf, why, wlen);
	if (!err) {
		st = cairo_surface_write_to_png_stream(sf, write_stream, out);
		if (st != CAIRO_STATUS_SUCCESS) {
			snprintf(why, wlen, "%s", cairo_status_to_string(st));
			err = -EIO;
		}
	}
	cairo_surface_destroy(sf);
	return err;
}

void na_chart_release(void)
{
	/*
	 * cairo's font caches hold fontconfig's patterns, and fontconfig its
	 * configuration, until the process ends: given back, so that a leak
	 * checker (the ASan build's) sees none of it.
	 */
	cairo_debug_reset_static_data();
	FcFini();
}
