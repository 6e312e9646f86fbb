// SPDX-License-Identifier: (BSD-2-Clause OR GPL-2.0)
/*
 * report: the traffic history the agent records (agent/history.h), read
 * from its SQLite file only: no BPF, no agent needed, and any machine's
 * file will do (--db). A table for people (human units, a totals line),
 * CSV or JSON lines for machines (export's column names, plus start and
 * end), a bar chart in the terminal (--chart), or an SVG or PNG (cairo,
 * cli/chart.c) to paste into a ticket.
 */
#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#include "args.h"
#include "atomic_out.h"
#include "chart.h"
#include "format.h"
#include "history.h"
#include "record.h"

/* Export's names for the same things, after the period each row covers. */
static const char *const cols[] = {
	"start", "end", "kind", "cgroup_id", "cgroup", "pid", "comm", "family", "raddr",
	"tx_packets", "tx_ip_hdr_bytes", "tx_l4_hdr_bytes", "tx_payload_bytes",
	"rx_packets", "rx_ip_hdr_bytes", "rx_l4_hdr_bytes", "rx_payload_bytes",
	"tx_retrans_bytes", "rx_dup_bytes",
};

#define NCOLS NA_ARRAY_SIZE(cols)
enum { R_START, R_END, R_KIND, R_CGID, R_CGROUP, R_PID, R_COMM, R_FAMILY, R_RADDR, R_TX, R_RETRANS = R_TX + 8,
       R_DUP, R_COUNT };
_Static_assert(R_COUNT == NCOLS, "one name in cols[] per column of the enum");

#define NA_CHART_TOP 7 /* series of a chart without --top: the colours told apart easily */

/* ---- WHEN ------------------------------------------------------------------------ */

static int64_t local_midnight(int64_t t, int day_add, int month_start, int month_add)
{
	time_t tt = (time_t)t;
	struct tm tm;

	localtime_r(&tt, &tm);
	tm.tm_hour = tm.tm_min = tm.tm_sec = 0;
	tm.tm_mday += day_add;
	if (month_start)
		tm.tm_mday = 1;
	tm.tm_mon += month_add;
	tm.tm_isdst = -1;
	return (int64_t)mktime(&tm);
}

int na_when_parse(const char *s, int64_t now, int64_t *out)
{
	struct tm tm = { 0 }, chk;
	uint64_t n;
	char unit, buf[32], *end;
	size_t len = strlen(s);
	int utc = 0, y, mo, d, h = 0, mi = 0, se = 0, k = 0;
	time_t t;

	if (!strcmp(s, "now")) {
		*out = now;
		return 0;
	}
	if (!strcmp(s, "today") || !strcmp(s, "yesterday") || !strcmp(s, "this-month")) {
		*out = local_midnight(now, s[0] == 'y' ? -1 : 0, s[0] == 'm' || s[1] == 'h', 0);
		return 0;
	}
	/* -2h, -30m, -7d, -2w: that long before now */
	if (s[0] == '-' && len >= 3 && len < sizeof(buf)) {
		unit = s[len - 1];
		memcpy(buf, s + 1, len - 2);
		buf[len - 2] = '\0';
		if (na_parse_u64(buf, 1, 100000000, &n))
			return -EINVAL;
		switch (unit) {
		case 'm': n *= 60; break;
		case 'h': n *= 3600; break;
		case 'd': n *= 86400; break;
		case 'w': n *= 7 * 86400; break;
		default: return -EINVAL;
		}
		*out = now - (int64_t)n;
		return 0;
	}
	/* 2026-12-01, 2026-12-01T10:00, 2026-12-01T10:00:30, each local, or UTC with a Z */
	if (len && s[len - 1] == 'Z') {
		utc = 1;
		len--;
	}
	if (len >= sizeof(buf))
		return -EINVAL;
	memcpy(buf, s, len);
	buf[len] = '\0';
	if (len == 10 && !utc && sscanf(buf, "%4d-%2d-%2d%n", &y, &mo, &d, &k) == 3 && k == 10)
		;
	else if (len == 16 && sscanf(buf, "%4d-%2d-%2dT%2d:%2d%n", &y, &mo, &d, &h, &mi, &k) == 5 && k == 16)
		;
	else if (len == 19 && sscanf(buf, "%4d-%2d-%2dT%2d:%2d:%2d%n", &y, &mo, &d, &h, &mi, &se, &k) == 6 && k == 19)
		;
	else
		return -EINVAL;
	/* digits only where digits go (sscanf takes blanks and signs) */
	for (end = buf; *end; end++)
		if (!(*end >= '0' && *end <= '9') && *end != '-' && *end != 'T' && *end != ':')
			return -EINVAL;
	if (buf[4] != '-' || buf[7] != '-' || y < 1970 || y > 9999)
		return -EINVAL;
	tm.tm_year = y - 1900;
	tm.tm_mon = mo - 1;
	tm.tm_mday = d;
	tm.tm_hour = h;
	tm.tm_min = mi;
	tm.tm_sec = se;
	tm.tm_isdst = -1;
	chk = tm;
	t = utc ? timegm(&tm) : mktime(&tm);
	/* 2026-02-30 or 25:00 come back changed: not a time */
	if (t == (time_t)-1 || tm.tm_year != chk.tm_year || tm.tm_mon != chk.tm_mon || tm.tm_mday != chk.tm_mday ||
	    (utc && (tm.tm_hour != h || tm.tm_min != mi)) || h > 23 || mi > 59 || se > 59)
		return -EINVAL;
	*out = (int64_t)t;
	return 0;
}

/* ---- the command line ---------------------------------------------------------------- */

#define WHEN_WHY "takes 2026-12-01, 2026-12-01T10:00, 2026-12-01T10:00:00Z, -2h, -7d, yesterday, today, this-month or now"

static int when_ok(const char *arg)
{
	int64_t t;

	return na_when_parse(arg, 0, &t);
}

static int cgroup_ok(const char *arg)
{
	return arg[0] == '/' ? 0 : -EINVAL;
}

static const char *const everys[] = { "5m", "hour", "day", "month", NULL };
static const char *const bys[] = { "cgroup", "process", "peer", NULL };

#define REPORT_OPT_FILE(field, lname) \
	{ .name = lname, .kind = NA_OPT_STR, NA_OPT_AT(struct na_report_args, field), .why = "takes a FILE", \
	  .arg = "FILE", .flags = NA_OPTF_NONEMPTY }
#define REPORT_OPT_WHEN(field, lname) \
	{ .name = lname, .kind = NA_OPT_STR, NA_OPT_AT(struct na_report_args, field), .check = when_ok, \
	  .why = WHEN_WHY, .arg = "WHEN" }

static const struct na_option report_opts[] = {
	REPORT_OPT_FILE(db, "db"),
	REPORT_OPT_WHEN(since, "since"),
	REPORT_OPT_WHEN(until, "until"),
	{ .name = "every", .kind = NA_OPT_ENUM, NA_OPT_AT(struct na_report_args, every), .names = everys,
	  .why = "expected 5m, hour, day or month", .flags = NA_OPTF_BARE },
	{ .name = "by", .kind = NA_OPT_ENUM, NA_OPT_AT(struct na_report_args, by), .names = bys,
	  .why = "expected cgroup, process or peer", .flags = NA_OPTF_BARE },
	{ .name = "cgroup", .kind = NA_OPT_STR, NA_OPT_AT(struct na_report_args, cgroup), .check = cgroup_ok,
	  .why = "takes a cgroup path (/system.slice/x.service, or under the cgroup2 mount)", .arg = "PATH" },
	NA_OPT_F(struct na_report_args, fmt, "csv", 0, REPORT_CSV, NULL),
	NA_OPT_F(struct na_report_args, fmt, "json", 0, REPORT_JSON, NULL),
	NA_OPT_F(struct na_report_args, fmt, "chart", 0, REPORT_CHART, NULL),
	REPORT_OPT_FILE(svg, "svg"),
	REPORT_OPT_FILE(png, "png"),
	{ .name = "top", .kind = NA_OPT_UINT, NA_OPT_AT(struct na_report_args, top), .min = 1, .max = 1000000,
	  .why = "takes a number, 1 to 1000000", .arg = "N", .flags = NA_OPTF_BARE },
	NA_OPT_HELP_ENTRY(struct na_report_args, help, NULL),
	{ 0 },
};

const struct na_opts na_report_spec = {
	.cmd = "report", .opts = report_opts,
	.pos = NA_ARGS_NONE("no arguments ('%s'): cgroups are chosen with --cgroup PATH"),
};

int na_report_parse(int argc, char **argv, struct na_report_args *a)
{
	memset(a, 0, sizeof(*a));
	a->every = -1;
	return na_opts_parse(&na_report_spec, argc, argv, a);
}

/* ---- grouping and --top -------------------------------------------------------------- */

static uint64_t row_bytes(const struct na_hist_row *r)
{
	return na_counters_bytes(&r->dir[NA_TX]) + na_counters_bytes(&r->dir[NA_RX]);
}

static int str_eq(const char *a, const char *b)
{
	return (!a && !b) || (a && b && !strcmp(a, b));
}

/* Rows about the same group (whatever their period). */
static int same_group(const struct na_hist_row *a, const struct na_hist_row *b)
{
	return a->kind == b->kind && str_eq(a->cgroup, b->cgroup) && a->pid == b->pid && !strcmp(a->comm, b->comm) &&
	       a->family == b->family && !strcmp(a->raddr, b->raddr);
}

struct group {
	const struct na_hist_row *first; /* identity */
	uint64_t bytes;
	int keep; /* among the top N (or "other") */
};

static int group_cmp(const void *pa, const void *pb)
{
	const struct group *a = pa, *b = pb;

	if (a->first->kind >= NA_HK_OTHER_PROC || b->first->kind >= NA_HK_OTHER_PROC)
		return (a->first->kind >= NA_HK_OTHER_PROC) - (b->first->kind >= NA_HK_OTHER_PROC); /* "other" last */
	return a->bytes > b->bytes ? -1 : a->bytes < b->bytes ? 1 : 0;
}

/* The groups of a result, busiest first (the rest, "other", last). */
static int groups_of(const struct na_hist_result *res, struct group **out, size_t *n)
{
	struct group *g = calloc(res->nrows ? res->nrows : 1, sizeof(*g));
	size_t i, j;

	*n = 0;
	if (!g)
		return -ENOMEM;
	for (i = 0; i < res->nrows; i++) {
		for (j = 0; j < *n && !same_group(g[j].first, &res->rows[i]); j++)
			;
		if (j == *n)
			g[(*n)++].first = &res->rows[i];
		g[j].bytes += row_bytes(&res->rows[i]);
	}
	if (*n)
		qsort(g, *n, sizeof(*g), group_cmp);
	*out = g;
	return 0;
}

static size_t group_index(const struct group *g, size_t n, const struct na_hist_row *r)
{
	size_t j;

	for (j = 0; j < n && !same_group(g[j].first, r); j++)
		;
	return j;
}

/* The cgroups of a report by cgroup, counted once: a row below another attached one is in it already. */
static int nested(const struct na_hist_result *res, const struct na_hist_row *r)
{
	size_t i;

	for (i = 0; i < res->nrows; i++)
		if (res->rows[i].cgroup && r->cgroup && strcmp(res->rows[i].cgroup, r->cgroup) &&
		    na_path_below(r->cgroup, res->rows[i].cgroup))
			return 1;
	return 0;
}

/*
 * With --top N: the N busiest groups over the whole span keep their rows;
 * the others (and what the agent's caps already folded) become one "other"
 * row per period.
 */
static int apply_top(struct na_hist_result *res, unsigned top)
{
	struct group *g = NULL;
	struct na_hist_row *out = NULL;
	size_t ng = 0, i, j, n = 0, k;
	char *keep = NULL;
	int err, d;

	if (!top)
		return 0;
	err = groups_of(res, &g, &ng);
	if (err)
		return err;
	for (j = 0; j < ng; j++)
		g[j].keep = j < top && g[j].first->kind < NA_HK_OTHER_PROC;
	out = calloc(res->nrows ? res->nrows : 1, sizeof(*out));
	keep = calloc(res->nrows ? res->nrows : 1, 1);
	if (!out || !keep) {
		free(g);
		free(out);
		free(keep);
		return -ENOMEM;
	}
	/* which rows stay, while the groups still point at the rows as they are */
	for (i = 0; i < res->nrows; i++) {
		j = group_index(g, ng, &res->rows[i]);
		keep[i] = j < ng && g[j].keep;
	}
	for (i = 0; i < res->nrows; i++) {
		struct na_hist_row *r = &res->rows[i];

		if (keep[i]) {
			out[n++] = *r; /* its cgroup string goes with it */
			continue;
		}
		/* the "other" row of its period */
		for (k = 0; k < n && !(out[k].start == r->start && out[k].kind >= NA_HK_OTHER_PROC); k++)
			;
		if (k == n) {
			memset(&out[n], 0, sizeof(out[n]));
			out[n].start = r->start;
			out[n].end = r->end;
			out[n].kind = r->kind == NA_HK_PEER || r->kind == NA_HK_OTHER_PEER ? NA_HK_OTHER_PEER : NA_HK_OTHER_PROC;
			n++;
		}
		for (d = 0; d < NA_NDIR; d++) {
			out[k].dir[d].packets += r->dir[d].packets;
			out[k].dir[d].ip_hdr_bytes += r->dir[d].ip_hdr_bytes;
			out[k].dir[d].l4_hdr_bytes += r->dir[d].l4_hdr_bytes;
			out[k].dir[d].payload_bytes += r->dir[d].payload_bytes;
			out[k].dir[d].resent_bytes += r->dir[d].resent_bytes;
		}
	}
	free(g);
	for (i = 0; i < res->nrows; i++)
		if (!keep[i])
			free(res->rows[i].cgroup);
	free(keep);
	free(res->rows);
	res->rows = out;
	res->nrows = n;
	return 0;
}

/* ---- text ------------------------------------------------------------------------------ */

static void iso(char *buf, size_t len, int64_t t)
{
	time_t tt = (time_t)t;
	struct tm tm;

	gmtime_r(&tt, &tm);
	strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/* A moment in local time, to the minute. */
static void local_min(char *buf, size_t len, int64_t t)
{
	time_t tt = (time_t)t;
	struct tm tm;

	localtime_r(&tt, &tm);
	strftime(buf, len, "%Y-%m-%d %H:%M", &tm);
}

/* A period as people read it, in local time: 2026-12-07 14:35, 2026-12-07, 2026-12. */
static void period_label(char *buf, size_t len, int table, int64_t start, int64_t end)
{
	time_t t = (time_t)(table >= NA_HIST_DAY ? start + (end - start) / 2 : start);
	struct tm tm;

	localtime_r(&t, &tm);
	strftime(buf, len, table == NA_HIST_MONTH ? "%Y-%m" : table == NA_HIST_DAY ? "%Y-%m-%d" : "%Y-%m-%d %H:%M", &tm);
}

static const char *kind_name(const struct na_hist_row *r)
{
	static const char *const k[] = { "cgroup", "process", "peer", "other", "other" };

	return (unsigned)r->kind < 5 ? k[r->kind] : "?";
}

/* What a group is called in a table, a legend. */
static void group_name(char *buf, size_t len, const struct na_hist_row *r, enum na_hist_by by)
{
	if (r->kind >= NA_HK_OTHER_PROC) {
		snprintf(buf, len, "other%s%s", r->cgroup ? " in " : "", r->cgroup ? r->cgroup : "");
		return;
	}
	if (by == NA_HB_PROCESS)
		snprintf(buf, len, "%s (%u) in %s", r->comm, r->pid, r->cgroup ? r->cgroup : "?");
	else if (by == NA_HB_PEER)
		snprintf(buf, len, "%s", r->raddr[0] ? r->raddr : "* (no one peer)");
	else
		snprintf(buf, len, "%s", r->cgroup ? r->cgroup : "?");
}

static void rate_str(char *buf, size_t len, uint64_t bytes, int64_t secs)
{
	if (secs <= 0) {
		snprintf(buf, len, "-");
		return;
	}
	na_human_bytes(buf, len, (double)bytes / (double)secs, 1);
	strncat(buf, "/s", len - strlen(buf) - 1);
}

static int row_cmp_table(const void *pa, const void *pb)
{
	const struct na_hist_row *a = pa, *b = pb;
	uint64_t x = row_bytes(a), y = row_bytes(b);

	if (a->start != b->start)
		return a->start < b->start ? -1 : 1;
	if ((a->kind >= NA_HK_OTHER_PROC) != (b->kind >= NA_HK_OTHER_PROC))
		return a->kind >= NA_HK_OTHER_PROC ? 1 : -1;
	return x > y ? -1 : x < y ? 1 : 0;
}

/* The seconds of a row that have passed: a period still running counts up to the last sample. */
static int64_t elapsed(const struct na_hist_result *res, int64_t start, int64_t end)
{
	int64_t stop = res->last_sample && res->last_sample < end ? res->last_sample : end;

	return stop - start;
}

/* The table's column widths and span, its rows sorted. */
struct table_layout {
	int periods;
	int wp, wname, wcg; /* period, peer and cgroup columns */
	int64_t first, last;
};

static void table_measure(struct na_hist_result *res, const struct na_report_args *a, struct table_layout *w)
{
	char lab[32];
	size_t i;
	int n;

	w->wp = 0;
	w->wname = w->wcg = 6;
	w->first = w->last = 0;
	if (res->nrows)
		qsort(res->rows, res->nrows, sizeof(*res->rows), row_cmp_table);
	for (i = 0; i < res->nrows; i++) {
		const struct na_hist_row *r = &res->rows[i];

		if (w->periods) {
			period_label(lab, sizeof(lab), res->table, r->start, r->end);
			if ((n = (int)strlen(lab)) > w->wp)
				w->wp = n;
		}
		if (a->by == NA_HB_PEER && (n = (int)strlen(r->raddr[0] ? r->raddr : "*")) > w->wname)
			w->wname = n;
		if (r->cgroup && (n = (int)strlen(r->cgroup)) > w->wcg)
			w->wcg = n;
	}
	if (w->wcg > 48)
		w->wcg = 48;
	if (res->nperiods) {
		w->first = res->period_starts[0];
		w->last = res->rows && res->nrows ? res->rows[0].end : w->first;
		for (i = 0; i < res->nrows; i++)
			if (res->rows[i].end > w->last)
				w->last = res->rows[i].end;
	}
}

/* One row of the table; 1 when it is a cgroup inside another one of the table (not in the total). */
static int table_row(FILE *out, const struct na_hist_result *res, const struct na_hist_row *r,
		     const struct na_report_args *a, const struct table_layout *w)
{
	char b1[32], b2[32], b3[32], b4[40], cell[128], lab[32];
	uint64_t t = na_counters_bytes(&r->dir[NA_TX]), u = na_counters_bytes(&r->dir[NA_RX]);
	int is_nested = a->by == NA_HB_CGROUP && nested(res, r);

	if (w->periods) {
		period_label(lab, sizeof(lab), res->table, r->start, r->end);
		fprintf(out, "%-*s  ", w->wp, lab);
	}
	if (a->by == NA_HB_PROCESS) {
		if (r->kind >= NA_HK_OTHER_PROC) {
			fprintf(out, "%7s %-15s ", "-", "(others)");
		} else {
			na_fit(cell, r->comm, 15, 1, NA_ELIDE_END);
			fprintf(out, "%7u %s ", r->pid, cell);
		}
	}
	if (a->by == NA_HB_PEER) {
		na_fit(cell, r->kind >= NA_HK_OTHER_PROC ? "(others)" : r->raddr[0] ? r->raddr : "*", w->wname, 1,
		       NA_ELIDE_MIDDLE);
		fprintf(out, "%s ", cell);
	}
	na_fit(cell, r->cgroup ? r->cgroup : a->by == NA_HB_PEER && r->kind < NA_HK_OTHER_PROC ? "(several)"
					   : a->by == NA_HB_CGROUP ? "(others)" : "",
	       w->wcg, 1, NA_ELIDE_START);
	na_human_bytes(b1, sizeof(b1), (double)t, 0);
	na_human_bytes(b2, sizeof(b2), (double)u, 0);
	na_human_bytes(b3, sizeof(b3), (double)(t + u), 0);
	rate_str(b4, sizeof(b4), t + u, elapsed(res, r->start, r->end));
	fprintf(out, "%s %11s %11s %11s %15s%s\n", cell, b1, b2, b3, b4, is_nested ? "  (in the one above it)" : "");
	return is_nested;
}

static void table_write(FILE *out, struct na_hist_result *res, const struct na_report_args *a, const char *db,
			int periods)
{
	struct table_layout w = { .periods = periods };
	char b1[32], b2[32], b3[32], b4[40], span1[32], span2[32];
	int n, any_nested = 0;
	uint64_t tx = 0, rx = 0;
	size_t i;

	table_measure(res, a, &w);
	local_min(span1, sizeof(span1), w.first);
	local_min(span2, sizeof(span2), res->last_sample && res->last_sample < w.last ? res->last_sample : w.last);
	fprintf(out, "netacct report: %s (host %s), by %s%s%s, %s to %s\n\n", db, res->host[0] ? res->host : "?",
		a->by == NA_HB_PROCESS ? "process" : a->by == NA_HB_PEER ? "peer" : "cgroup", periods ? ", every " : "",
		periods ? na_hist_table_name(res->table) : "", res->nperiods ? span1 : "-", res->nperiods ? span2 : "-");
	if (periods)
		fprintf(out, "%-*s  ", w.wp, res->table == NA_HIST_MONTH ? "MONTH" : res->table == NA_HIST_DAY ? "DAY"
						   : res->table == NA_HIST_HOUR ? "HOUR" : "5MIN");
	if (a->by == NA_HB_PROCESS)
		fprintf(out, "%7s %-15s ", "PID", "COMM");
	if (a->by == NA_HB_PEER)
		fprintf(out, "%-*s ", w.wname, "PEER");
	fprintf(out, "%-*s %11s %11s %11s %15s\n", w.wcg, "CGROUP", "TX", "RX", "TOTAL", "AVG RATE");
	for (i = 0; i < res->nrows; i++) {
		if (table_row(out, res, &res->rows[i], a, &w)) {
			any_nested = 1;
			continue;
		}
		tx += na_counters_bytes(&res->rows[i].dir[NA_TX]);
		rx += na_counters_bytes(&res->rows[i].dir[NA_RX]);
	}
	n = (periods ? w.wp + 2 : 0) + (a->by == NA_HB_PROCESS ? 24 : a->by == NA_HB_PEER ? w.wname + 1 : 0);
	na_human_bytes(b1, sizeof(b1), (double)tx, 0);
	na_human_bytes(b2, sizeof(b2), (double)rx, 0);
	na_human_bytes(b3, sizeof(b3), (double)(tx + rx), 0);
	rate_str(b4, sizeof(b4), tx + rx, res->nperiods ? elapsed(res, w.first, w.last) : 0);
	fprintf(out, "%-*s %11s %11s %11s %15s\n", n + w.wcg, "TOTAL", b1, b2, b3, b4);
	if (any_nested)
		fprintf(out, "\n(the total counts a cgroup attached below another one once, in the one above)\n");
	if (!res->nrows)
		fprintf(out, "\n(nothing recorded in this span)\n");
}

static void machine_write(FILE *out, const struct na_hist_result *res, int json)
{
	struct na_field f[NCOLS];
	char s1[32], s2[32];
	size_t i;
	int d;

	if (!json)
		na_record_header(out, cols, NCOLS);
	for (i = 0; i < res->nrows; i++) {
		const struct na_hist_row *r = &res->rows[i];

		memset(f, 0, sizeof(f));
		iso(s1, sizeof(s1), r->start);
		iso(s2, sizeof(s2), r->end);
		na_field_str(&f[R_START], s1);
		na_field_str(&f[R_END], s2);
		na_field_str(&f[R_KIND], kind_name(r));
		if (r->cgroup_id)
			na_field_u64(&f[R_CGID], r->cgroup_id);
		na_field_str(&f[R_CGROUP], r->cgroup);
		if (r->kind == NA_HK_PROCESS) {
			na_field_u64(&f[R_PID], r->pid);
			na_field_str(&f[R_COMM], r->comm);
		}
		if (r->kind == NA_HK_PEER) {
			na_field_str(&f[R_FAMILY], na_family_name(r->family));
			na_field_str(&f[R_RADDR], r->raddr);
		}
		for (d = 0; d < NA_NDIR; d++) {
			na_field_u64(&f[R_TX + d * 4 + 0], r->dir[d].packets);
			na_field_u64(&f[R_TX + d * 4 + 1], r->dir[d].ip_hdr_bytes);
			na_field_u64(&f[R_TX + d * 4 + 2], r->dir[d].l4_hdr_bytes);
			na_field_u64(&f[R_TX + d * 4 + 3], r->dir[d].payload_bytes);
		}
		na_field_u64(&f[R_RETRANS], r->dir[NA_TX].resent_bytes);
		na_field_u64(&f[R_DUP], r->dir[NA_RX].resent_bytes);
		na_record_write(out, cols, f, NCOLS, json);
	}
}

/* ---- charts ------------------------------------------------------------------------------ */

struct chart_data {
	struct na_chart c;
	char **labels, **names;
	uint64_t *v;
	char title[160], subtitle[400];
	int last_other;
};

static void chart_free(struct chart_data *cd)
{
	size_t i;

	for (i = 0; cd->labels && i < cd->c.nbars; i++)
		free(cd->labels[i]);
	for (i = 0; cd->names && i < cd->c.nseries; i++)
		free(cd->names[i]);
	free(cd->labels);
	free(cd->names);
	free(cd->v);
}

/*
 * Bars per period (with --every; every period a sample reached, quiet ones
 * too), or per group; series: the top N groups and "other".
 */
static int chart_build(struct chart_data *cd, const struct na_hist_result *res, const struct na_report_args *a,
		       int periods)
{
	struct group *g = NULL;
	size_t ng = 0, i, j, s, b, top = a->top ? a->top : NA_CHART_TOP;
	char buf[256], t1[32], t2[32];
	int err, has_other;

	memset(cd, 0, sizeof(*cd));
	err = groups_of(res, &g, &ng);
	if (err)
		return err;
	has_other = ng > top || (ng && g[ng - 1].first->kind >= NA_HK_OTHER_PROC);
	cd->c.nseries = (ng < top ? ng : top) + (size_t)has_other;
	if (ng && cd->c.nseries > ng)
		cd->c.nseries = ng;
	/* an "other" group among the top ones stays last, as "other" */
	cd->last_other = has_other;
	cd->c.nbars = periods ? res->nperiods : ng;
	cd->labels = calloc(cd->c.nbars ? cd->c.nbars : 1, sizeof(char *));
	cd->names = calloc(cd->c.nseries ? cd->c.nseries : 1, sizeof(char *));
	cd->v = calloc((cd->c.nbars ? cd->c.nbars : 1) * (cd->c.nseries ? cd->c.nseries : 1), sizeof(uint64_t));
	if (!cd->labels || !cd->names || !cd->v) {
		free(g);
		return -ENOMEM;
	}
	for (s = 0; s < cd->c.nseries; s++) {
		if (has_other && s + 1 == cd->c.nseries)
			snprintf(buf, sizeof(buf), "other");
		else
			group_name(buf, sizeof(buf), g[s].first, a->by);
		cd->names[s] = strdup(buf);
	}
	for (b = 0; b < cd->c.nbars; b++) {
		if (periods)
			period_label(buf, sizeof(buf), res->table, res->period_starts[b],
				     na_hist_period_end(res->table, res->period_starts[b]));
		else
			group_name(buf, sizeof(buf), g[b].first, a->by);
		cd->labels[b] = strdup(buf);
	}
	for (i = 0; i < res->nrows; i++) {
		const struct na_hist_row *r = &res->rows[i];

		j = group_index(g, ng, r);
		s = j < cd->c.nseries - (size_t)has_other && g[j].first->kind < NA_HK_OTHER_PROC ? j : cd->c.nseries - 1;
		if (periods) {
			for (b = 0; b < res->nperiods && res->period_starts[b] != r->start; b++)
				;
			if (b == res->nperiods)
				continue;
		} else {
			b = j;
		}
		cd->v[b * cd->c.nseries + s] += row_bytes(r);
	}
	free(g);
	for (i = 0; i < cd->c.nbars; i++)
		if (!cd->labels[i])
			return -ENOMEM;
	for (i = 0; i < cd->c.nseries; i++)
		if (!cd->names[i])
			return -ENOMEM;
	snprintf(cd->title, sizeof(cd->title), "netacct: bytes sent and received by %s%s%s",
		 a->by == NA_HB_PROCESS ? "process" : a->by == NA_HB_PEER ? "peer" : "cgroup",
		 periods ? ", every " : "", periods ? na_hist_table_name(res->table) : "");
	local_min(t1, sizeof(t1), res->nperiods ? res->period_starts[0] : 0);
	local_min(t2, sizeof(t2), res->nperiods ? na_hist_period_end(res->table, res->period_starts[res->nperiods - 1]) : 0);
	snprintf(cd->subtitle, sizeof(cd->subtitle), "host %s, %s to %s (local time)", res->host[0] ? res->host : "?",
		 res->nperiods ? t1 : "-", res->nperiods ? t2 : "-");
	cd->c.names_keep_start = a->by != NA_HB_CGROUP;
	cd->c.title = cd->title;
	cd->c.subtitle = cd->subtitle;
	cd->c.bar_labels = (const char **)cd->labels;
	cd->c.series_names = (const char **)cd->names;
	cd->c.v = cd->v;
	return 0;
}

static int chart_file(const struct chart_data *cd, const char *path, int png)
{
	struct na_out out = { .fd = -1 };
	char why[256];
	int err;

	if (na_out_open(&out, path, "report"))
		return -EIO;
	err = png ? na_chart_png(out.f, &cd->c, cd->last_other, why, sizeof(why))
		  : na_chart_svg(out.f, &cd->c, cd->last_other, why, sizeof(why));
	if (err) {
		na_log(NA_LOG_ERROR, "report: draw %s: %s", path, why);
		na_out_abort(&out);
		return err;
	}
	return na_out_commit(&out);
}

static int term_width(void)
{
	struct winsize ws;
	const char *c = getenv("COLUMNS");

	if (isatty(STDOUT_FILENO) && !ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) && ws.ws_col >= 40)
		return ws.ws_col;
	if (c && atoi(c) >= 40)
		return atoi(c);
	return 80;
}

/* ---- the command ---------------------------------------------------------------------------- */

/* The default span of --every: vnstat's (24 five-minute rows, a day of hours, 30 days, 12 months). */
static int64_t default_since(int every, int64_t now)
{
	switch (every) {
	case NA_HIST_5MIN:
		return na_hist_period_start(NA_HIST_5MIN, now) - 23 * 300;
	case NA_HIST_HOUR:
		return na_hist_period_start(NA_HIST_HOUR, now) - 23 * 3600;
	case NA_HIST_DAY:
		return local_midnight(now, -29, 0, 0);
	case NA_HIST_MONTH:
		return local_midnight(now, 0, 1, -11);
	default:
		return 0;
	}
}

/* --cgroup as the history names cgroups: the path below the cgroup2 root. */
static void cgroup_rel(const char *arg, char *out, size_t len)
{
	struct na_cg2mount m;
	size_t n;

	snprintf(out, len, "%s", arg);
	if (na_cgroup2_mount(NULL, &m))
		return;
	n = strlen(m.dir);
	if (!strncmp(arg, m.dir, n) && (arg[n] == '/' || !arg[n]) &&
	    (size_t)snprintf(out, len, "%s%s", strcmp(m.root, "/") ? m.root : "", arg[n] ? arg + n : "/") >= len)
		snprintf(out, len, "%s", arg);
	n = strlen(out);
	while (n > 1 && out[n - 1] == '/')
		out[--n] = '\0';
}

/* The query of the command line: span, periods, grouping, cgroup (cg: its room). 0 or NA_EXIT_USAGE. */
static int report_query(const struct na_report_args *ra, int64_t now, struct na_hist_query *q, char *cg, size_t cglen)
{
	memset(q, 0, sizeof(*q));
	q->table = ra->every;
	q->periods = ra->every >= 0;
	q->by = ra->by;
	q->since = default_since(ra->every, now);
	q->until = now + 1; /* the period now running too */
	if (ra->since)
		na_when_parse(ra->since, now, &q->since);
	if (ra->until)
		na_when_parse(ra->until, now, &q->until);
	if (q->until <= q->since) {
		na_log(NA_LOG_ERROR, "report: --until is not after --since: nothing to report");
		return NA_EXIT_USAGE;
	}
	if (ra->cgroup) {
		cgroup_rel(ra->cgroup, cg, cglen);
		q->cgroup = cg;
	}
	return 0;
}

/*
 * The chart files (--svg, --png) and the terminal's (--chart): 0;
 * NA_EXIT_FAIL when a file failed; -1 when no chart could be built (both
 * reported).
 */
static int report_charts(const struct na_report_args *ra, const struct na_hist_result *res, int periods)
{
	struct chart_data cd;
	const char *nc;
	int rc = NA_EXIT_OK, color;

	if (chart_build(&cd, res, ra, periods)) {
		chart_free(&cd);
		na_err(-ENOMEM, "report");
		return -1;
	}
	if ((ra->svg && chart_file(&cd, ra->svg, 0)) || (ra->png && chart_file(&cd, ra->png, 1)))
		rc = NA_EXIT_FAIL;
	if (ra->svg || ra->png)
		na_chart_release();
	if (ra->fmt == REPORT_CHART) {
		nc = getenv("NO_COLOR");
		color = isatty(STDOUT_FILENO) && !(nc && *nc) && getenv("TERM") && strcmp(getenv("TERM"), "dumb");
		na_chart_text(stdout, &cd.c, cd.last_other, term_width(), color);
	}
	chart_free(&cd);
	return rc;
}

int cmd_report(int argc, char **argv, const struct na_global *g)
{
	struct na_report_args ra;
	struct na_hist_query q;
	struct na_hist_result res;
	char db[PATH_MAX], why[512], cg[PATH_MAX], t1[32];
	int64_t now = (int64_t)time(NULL);
	int rc, err, periods;

	if (na_cmd_done(&na_report_spec, na_report_parse(argc, argv, &ra), &ra, &rc))
		return rc;
	if (ra.db)
		snprintf(db, sizeof(db), "%s", ra.db);
	else if (na_history_default_path(g->pin_root, db, sizeof(db)))
		return na_err(-ENAMETOOLONG, "report: history file for %s", g->pin_root), NA_EXIT_FAIL;
	periods = ra.every >= 0;
	rc = report_query(&ra, now, &q, cg, sizeof(cg));
	if (rc)
		return rc;
	err = na_history_query(db, &q, &res, why, sizeof(why));
	if (err) {
		na_log(NA_LOG_ERROR, "report: %s: %s%s", db, why,
		       err == -EBUSY ? " (another process holds it; try again)" : "");
		return NA_EXIT_FAIL;
	}
	if (periods && ra.since && q.since < res.covered_from && res.covered_from > res.created) {
		local_min(t1, sizeof(t1), res.covered_from);
		na_log(NA_LOG_WARN, "report: %s rows are kept from %s on; earlier periods are in the coarser tables", na_hist_table_name(res.table), t1);
	}
	rc = NA_EXIT_OK;
	if (ra.top && apply_top(&res, ra.top)) {
		na_err(-ENOMEM, "report");
		rc = NA_EXIT_FAIL;
		goto out;
	}
	if (ra.svg || ra.png || ra.fmt == REPORT_CHART) {
		rc = report_charts(&ra, &res, periods);
		if (rc < 0) {
			rc = NA_EXIT_FAIL;
			goto out;
		}
	}
	if (ra.fmt == REPORT_CSV || ra.fmt == REPORT_JSON)
		machine_write(stdout, &res, ra.fmt == REPORT_JSON);
	else if (ra.fmt == REPORT_TABLE && !ra.svg && !ra.png)
		table_write(stdout, &res, &ra, db, periods);
	if (fflush(stdout) || ferror(stdout)) {
		na_err(-EIO, "report: write");
		rc = NA_EXIT_FAIL;
	}
out:
	na_hist_result_free(&res);
	return rc;
}
