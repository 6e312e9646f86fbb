/* SPDX-License-Identifier: (BSD-2-Clause OR GPL-2.0) */
/*
 * Assertions of the unit tests: each failure prints where, what, actual and
 * expected; check_summary() prints "N passed, N failed" (the line ctest's
 * readers look for) and gives the exit status.
 */
#ifndef NETACCT_TESTS_CHECK_H
#define NETACCT_TESTS_CHECK_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int passed, failed;

#define CHECK(ok, fmt, ...)                                                          \
	do {                                                                         \
		if (ok) {                                                            \
			passed++;                                                    \
		} else {                                                             \
			failed++;                                                    \
			fprintf(stderr, "FAIL %s:%d: " fmt "\n", __FILE__, __LINE__, \
				__VA_ARGS__);                                        \
		}                                                                    \
	} while (0)

/* Integers, shown signed and in hex (errno values and flags read either way). */
#define ASSERT_EQ(actual, expected, what)                                                  \
	do {                                                                               \
		unsigned long long a_ = (unsigned long long)(actual),                      \
				   e_ = (unsigned long long)(expected);                    \
		CHECK(a_ == e_, "%s: actual %lld (%#llx), expected %lld (%#llx)", (what), \
		      (long long)a_, a_, (long long)e_, e_);                               \
	} while (0)

#define ASSERT_STREQ(actual, expected, what)                                          \
	do {                                                                          \
		const char *a_ = (actual), *e_ = (expected);                          \
		CHECK(a_ && !strcmp(a_, e_), "%s: actual \"%s\", expected \"%s\"",    \
		      (what), a_ ? a_ : "(null)", e_);                                \
	} while (0)

#define ASSERT_MEMEQ(actual, expected, n, what)                                                  \
	do {                                                                                     \
		CHECK(!memcmp((actual), (expected), (n)), "%s: actual \"%.*s\", expected \"%.*s\"", \
		      (what), (int)(n), (const char *)(actual), (int)(n), (const char *)(expected)); \
	} while (0)

/* What fn(stream, in) prints equals expected (formatters of text fields). */
static inline void check_printed(void (*fn)(FILE *, const char *), const char *in, const char *expected,
				 const char *what)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	if (!f) {
		CHECK(0, "%s: open_memstream failed", what);
		return;
	}
	fn(f, in);
	fclose(f);
	ASSERT_STREQ(buf, expected, what);
	free(buf);
}

static inline int check_summary(void)
{
	printf("%d passed, %d failed\n", passed, failed);
	return failed ? 1 : 0;
}

#endif
