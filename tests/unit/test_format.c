// SPDX-License-Identifier: (BSD-2-Clause OR GPL-2.0)
/*
 * unit.format: cli/format.c on crafted values: human units (bytes and
 * bits), cells fitted to a width (elided at the end, start or middle, and
 * never a raw control byte), na_layout's columns that give way by
 * priority, counter sums, local and ISO times. No privilege.
 *
 * One line per failed check ("FAIL file:line: what: actual ..., expected ...")
 * and a last line "N passed, N failed". Exit 0 when all passed, 1 otherwise.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "format.h"
#include "netacct.h"

#pragma GCC poison u8 u16 u32 u64

#include "check.h"

/* ---- na_human_bytes ------------------------------------------------------ */
static void human_case(double v, int bits, const char *expected)
{
	char buf[32];

	memset(buf, 'X', sizeof(buf));
	na_human_bytes(buf, sizeof(buf), v, bits);
	CHECK(!strcmp(buf, expected), "human %.0f%s: actual \"%s\", expected \"%s\"", v,
	      bits ? " (bits)" : "", buf, expected);
}

static void test_human(void)
{
	human_case(0, 0, "0 B");
	human_case(1, 0, "1 B");
	human_case(1023, 0, "1023 B");
	human_case(1024, 0, "1.0 KiB");
	human_case(1536, 0, "1.5 KiB");
	human_case(1.5 * 1024 * 1024, 0, "1.5 MiB");
	human_case(3.0 * 1024 * 1024 * 1024, 0, "3.0 GiB");
	human_case(0, 1, "0 bit");
	human_case(124, 1, "992 bit");
	human_case(125, 1, "1.0 kbit");
	human_case(1536000, 1, "12.3 Mbit");
	human_case(125e9, 1, "1.0 Tbit");
}

/* ---- na_fit --------------------------------------------------------------- */
static void fit_case(const char *s, int w, int left, enum na_elide e, const char *expected)
{
	char buf[64];

	memset(buf, 'X', sizeof(buf));
	na_fit(buf, s, w, left, e);
	CHECK(!strcmp(buf, expected), "fit \"%s\" in %d (%s, elide %d): actual \"%s\", expected \"%s\"", s, w,
	      left ? "left" : "right", (int)e, buf, expected);
	CHECK(buf[strlen(expected) + 1] == 'X', "fit \"%s\" in %d: nothing written past the end", s, w);
}

static void test_fit(void)
{
	fit_case("abc", 5, 1, NA_ELIDE_END, "abc  ");
	fit_case("abc", 5, 0, NA_ELIDE_END, "  abc");
	fit_case("abc", 3, 1, NA_ELIDE_START, "abc");
	fit_case("", 2, 1, NA_ELIDE_END, "  ");
	fit_case("abc", 0, 1, NA_ELIDE_END, "");
	fit_case("abcdefgh", 6, 1, NA_ELIDE_END, "abcd..");
	fit_case("/a/b/leaf-name", 10, 1, NA_ELIDE_START, "..eaf-name");
	fit_case("/a/b/leaf-name", 10, 0, NA_ELIDE_START, "..eaf-name");
	fit_case("[2001:db8:1:2:3:4:5:6]:40408", 20, 1, NA_ELIDE_MIDDLE, "[2001:db8..:6]:40408");
	fit_case("[2001:db8:1:2:3:4:5:6]:40408", 21, 1, NA_ELIDE_MIDDLE, "[2001:db8..5:6]:40408");
	/* too narrow for the dots: a plain cut */
	fit_case("abcdef", 2, 1, NA_ELIDE_START, "ab");
	fit_case("abcdef", 1, 0, NA_ELIDE_MIDDLE, "a");
	/* not printable ASCII: '?', also where a UTF-8 sequence is cut */
	fit_case("a\tb\x1b[2J", 9, 1, NA_ELIDE_END, "a?b?[2J  ");
	fit_case("/caf\xc3\xa9-long-name", 8, 1, NA_ELIDE_START, "..g-name");
	fit_case("/caf\xc3\xa9-long-name", 13, 1, NA_ELIDE_START, "..?-long-name");
	fit_case("abc", -1, 1, NA_ELIDE_END, "");
	fit_case("\xc3\xa9" "abcdef", 6, 1, NA_ELIDE_END, "??ab..");
}

/* ---- na_layout: columns that give way by priority ------------------------- */
static void layout_case(const char *what, const struct na_lay_col *c, int n, int avail, const int *expected,
			int shown)
{
	int w[16], i, got;
	char a[128] = "", e[128] = "";

	got = na_layout(c, n, avail, w);
	for (i = 0; i < n; i++) {
		snprintf(a + strlen(a), sizeof(a) - strlen(a), " %d", w[i]);
		snprintf(e + strlen(e), sizeof(e) - strlen(e), " %d", expected[i]);
	}
	CHECK(!strcmp(a, e) && got == shown, "layout %s in %d: actual widths%s (%d shown), expected%s (%d)", what,
	      avail, a, got, e, shown);
}

static void test_layout(void)
{
	/* who (pid, comm), a name that shrinks, two key figures, a spare figure, a hidden column */
	static const struct na_lay_col c[] = {
		{ 1, 7, 7, 7 }, { 1, 10, 15, 15 }, { 4, 12, 24, 40 }, { 2, 21, 24, 30 },
		{ 1, 12, 12, 12 }, { 1, 12, 12, 12 }, { 5, 10, 10, 10 }, { 0, 5, 5, 5 },
	};
	int n = (int)NA_ARRAY_SIZE(c);

	/* everything at its width, then the names grow as far as they want */
	layout_case("wide", c, n, 200, (const int[]){ 7, 15, 40, 30, 12, 12, 10, 0 }, 7);
	layout_case("all at width", c, n, 111, (const int[]){ 7, 15, 24, 24, 12, 12, 10, 0 }, 7);
	/* the lowest priority goes first, whatever its place */
	layout_case("spare figure gone", c, n, 100, (const int[]){ 7, 15, 24, 24, 12, 12, 0, 0 }, 6);
	/* the priority-4 name shrinks to make room for itself, never the others */
	layout_case("name shrinks", c, n, 90, (const int[]){ 7, 15, 14, 24, 12, 12, 0, 0 }, 6);
	layout_case("name at its min", c, n, 88, (const int[]){ 7, 15, 12, 24, 12, 12, 0, 0 }, 6);
	/* below that it goes, and what is left goes to the others, up to their width */
	layout_case("name gone", c, n, 87, (const int[]){ 7, 15, 0, 30, 12, 12, 0, 0 }, 5);
	layout_case("80 columns", c, n, 80, (const int[]){ 7, 15, 0, 29, 12, 12, 0, 0 }, 5);
	/* a priority-2 column fits only while everything above keeps its width */
	layout_case("priority 2 at min", c, n, 72, (const int[]){ 7, 15, 0, 21, 12, 12, 0, 0 }, 5);
	layout_case("priority 2 gone", c, n, 71, (const int[]){ 7, 15, 0, 0, 12, 12, 0, 0 }, 4);
	/* the first level shrinks together; what does not fit at all ends the list */
	layout_case("level 1 squeezed", c, n, 45, (const int[]){ 7, 10, 0, 0, 12, 12, 0, 0 }, 4);
	layout_case("level 1 cut, the rest to the shrunk", c, n, 40, (const int[]){ 7, 15, 0, 0, 12, 0, 0, 0 }, 3);
	layout_case("nothing fits", c, n, 3, (const int[]){ 0, 0, 0, 0, 0, 0, 0, 0 }, 0);
}

/* ---- small format helpers ------------------------------------------------- */
static void test_format_misc(void)
{
	struct na_counters c = { 0 };
	char buf[64];

	c.ip_hdr_bytes = 20;
	c.l4_hdr_bytes = 32;
	c.payload_bytes = 1000;
	ASSERT_EQ(na_counters_bytes(&c), 1052, "counters bytes = ip + l4 + payload");

	setenv("TZ", "UTC", 1);
	tzset();
	na_time_str(buf, sizeof(buf), 0);
	ASSERT_STREQ(buf, "1970-01-01 00:00:00", "time_str epoch in UTC");
	na_time_str(buf, sizeof(buf), 1700000000);
	ASSERT_STREQ(buf, "2023-11-14 22:13:20", "time_str in UTC");

	/* ISO times: the text of a second is kept; the milliseconds are not. */
	na_iso_time(buf, sizeof(buf), 1700000000LL * 1000000000 + 7000000);
	ASSERT_STREQ(buf, "2023-11-14T22:13:20.007Z", "iso time, 7 ms");
	na_iso_time(buf, sizeof(buf), 1700000000LL * 1000000000 + 999999999);
	ASSERT_STREQ(buf, "2023-11-14T22:13:20.999Z", "iso time, same second, 999 ms");
	na_iso_time(buf, sizeof(buf), 1700000001LL * 1000000000 + 120000000);
	ASSERT_STREQ(buf, "2023-11-14T22:13:21.120Z", "iso time, next second");
	na_iso_time(buf, sizeof(buf), 0);
	ASSERT_STREQ(buf, "1970-01-01T00:00:00.000Z", "iso time, epoch");
	na_iso_time(buf, 24, 1700000000LL * 1000000000);
	ASSERT_STREQ(buf, "", "iso time in a buffer one byte short: empty");
	na_iso_time(buf, 25, 1700000000LL * 1000000000);
	ASSERT_STREQ(buf, "2023-11-14T22:13:20.000Z", "iso time in a buffer just large enough");
}

int main(void)
{
	test_human();
	test_fit();
	test_layout();
	test_format_misc();
	return check_summary();
}
