/* SPDX-License-Identifier: (BSD-2-Clause OR GPL-2.0) */
/* Presentation helpers shared by the commands. */
#ifndef NETACCT_CLI_FORMAT_H
#define NETACCT_CLI_FORMAT_H

#include <stdint.h>
#include <stdio.h>

#include "netacct.h"

/* 1536 -> "1.5 KiB" (bits: "12.3 Mbit"). */
void na_human_bytes(char *buf, size_t len, double v, int bits);
/* "2026-11-21 23:59:01" in local time. */
void na_time_str(char *buf, size_t len, uint64_t realtime_s);
/* ns since the epoch as ISO 8601 UTC with milliseconds: 2026-11-21T23:59:01.123Z */
void na_iso_time(char *buf, size_t len, int64_t realtime_ns);
/* Where na_fit() cuts a text longer than its column: the end (names), the
 * start (cgroup paths: the leaf is what tells them apart), or the middle
 * (addr:port: both the address's start and the port stay). */
enum na_elide { NA_ELIDE_END, NA_ELIDE_START, NA_ELIDE_MIDDLE };
/*
 * s in exactly w columns (w >= 0): padded with blanks on the right (left) or
 * the left, or cut to w with ".." where text was taken out. Bytes that are
 * not printable ASCII (control characters, a cut UTF-8 sequence) show as '?'.
 * out holds at least w + 1 bytes.
 */
void na_fit(char *out, const char *s, int w, int left, enum na_elide e);
/* s whole to f, shown as na_fit shows it, then blanks up to w columns (a left-aligned cell never cut). */
void na_put_printable(FILE *f, const char *s, int w);
/*
 * One column of a table whose columns give way by priority on a narrow
 * screen (top): prio 1 is kept longest, 0 means not shown. A column is
 * min cells at least, width when there is room, and up to want (its widest
 * cell, at most its widest allowed) when there is still room after every
 * shown column has its width.
 */
struct na_lay_col {
	int prio;
	int min, width, want;
};
/*
 * Widths of n columns (given in display order) in avail cells, each column
 * preceded by one blank: out[i] is column i's width, 0 when it gives way.
 * Columns are taken by priority (then display order) and the first that
 * does not fit ends the list: a column of lower priority never shows while
 * one above it is left out. A column fits when every column of higher
 * priority keeps its width and it and its equals fit at their min. What is
 * left goes to the columns by priority: up to their width, then up to what
 * they want. Returns how many columns are shown.
 */
int na_layout(const struct na_lay_col *c, int n, int avail, int *out);
/* Sum of a direction's counters. */
uint64_t na_counters_bytes(const struct na_counters *c);

#endif
