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
/* Sum of a direction's counters. */
uint64_t na_counters_bytes(const struct na_counters *c);

#endif
