// SPDX-License-Identifier: (BSD-2-Clause OR GPL-2.0)
/*
 * unit.options: cli/options.c, the option tables of the commands, on a
 * table of its own: flags, counts, strings, number ranges, names, functions,
 * --help; unknown options and missing values; the arguments after the
 * options, counted and kept; the usage errors, word for word; the help
 * lines. na_usage_error() (cli/dispatch.c) is replaced by one
 * that keeps the message; netacct's own options (no command) go through
 * na_log(), read back from stderr.
 */
#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "commands.h"
#include "options.h"

static char usage_msg[1024];
static const char *usage_cmd;

int na_usage_error(const char *cmd, const char *fmt, ...)
{
	va_list ap;

	usage_cmd = cmd;
	va_start(ap, fmt);
	vsnprintf(usage_msg, sizeof(usage_msg), fmt, ap);
	va_end(ap);
	return NA_EXIT_USAGE;
}

struct targs {
	int flag, fmt, verbose, help;
	const char *str, *word;
	uint8_t u8;
	uint16_t u16;
	uint32_t u32;
	unsigned long long u64;
	int pick;
	int odd, odd_set;
	char **pos;
	int npos;
};

static int word_ok(const char *arg)
{
	return strcmp(arg, "good") ? -EINVAL : 0;
}

/*
 * A value only a function can judge: odd numbers, and a second field set
 * with it; 999 it refuses in its own words.
 */
static int odd_opt(const char *arg, void *args)
{
	struct targs *a = args;
	uint64_t v;

	if (!strcmp(arg, "999"))
		return na_usage_error("test", "--odd 999: too odd");
	if (na_parse_u64(arg, 0, 1000, &v) || !(v & 1))
		return -EINVAL;
	a->odd = (int)v;
	a->odd_set = 1;
	return 0;
}

static const char *const picks[] = { "one", "two", "three", NULL };

static const struct na_option topts[] = {
	NA_OPT_F(struct targs, flag, "flag", 'f', 7, "a flag"),
	{ .name = "csv", .kind = NA_OPT_FLAG, NA_OPT_AT(struct targs, fmt), .val = 1, .flags = NA_OPTF_JOIN },
	NA_OPT_F(struct targs, fmt, "json", 0, 2, "the format"),
	{ .name = "verbose", .short_name = 'v', .kind = NA_OPT_COUNT, NA_OPT_AT(struct targs, verbose) },
	NA_OPT_S(struct targs, str, "str", 's', "TEXT", "any text"),
	{ .name = "word", .kind = NA_OPT_STR, NA_OPT_AT(struct targs, word), .check = word_ok, .why = "only 'good'",
	  .flags = NA_OPTF_NONEMPTY, .arg = "W", .help = "a word\n                more on a second line" },
	NA_OPT_U(struct targs, u8, "u8", 1, 200, "1 to 200", "N", NULL),
	NA_OPT_U(struct targs, u16, "u16", 0, 65535, "0 to 65535", "N", NULL),
	NA_OPT_U(struct targs, u32, "u32", 16, 1ul << 24, "16 to 16777216", "N", NULL),
	NA_OPT_U(struct targs, u64, "u64", 1, 0xffffffffffULL, "a count", "N", NULL),
	{ .name = "pick", .kind = NA_OPT_ENUM, NA_OPT_AT(struct targs, pick), .names = picks, .min = 10,
	  .why = "one, two or three", .flags = NA_OPTF_BARE },
	{ .name = "odd", .kind = NA_OPT_FUNC, .parse = odd_opt, .why = "an odd number" },
	NA_OPT_HELP_ENTRY(struct targs, help, "this text"),
	{ 0 },
};

static const struct na_opts tspec = { .cmd = "test", .opts = topts, .help_width = 14 };

/*
 * Parse the NULL-terminated words after argv[0] "test" into a; the return of
 * na_opts_parse. argv lives until the next parse (a->pos points into it).
 */
static int parse_spec(const struct na_opts *spec, struct targs *a, const char *const *words)
{
	static char *argv[32] = { "test" };
	int argc = 1;

	while (*words && argc < 31)
		argv[argc++] = (char *)*words++;
	argv[argc] = NULL;
	memset(a, 0, sizeof(*a));
	usage_msg[0] = '\0';
	usage_cmd = NULL;
	optind = 0;
	return na_opts_parse(spec, argc, argv, a);
}

#define PARSE(a, ...) parse_spec(&tspec, (a), (const char *const[]){ __VA_ARGS__, NULL })

/* A usage error: exit 2, the command named, the message word for word. */
static void refused(int rc, const char *msg, const char *what)
{
	ASSERT_EQ(rc, NA_EXIT_USAGE, what);
	ASSERT_STREQ(usage_cmd, "test", what);
	ASSERT_STREQ(usage_msg, msg, what);
}

static void test_values(void)
{
	struct targs a;

	ASSERT_EQ(PARSE(&a, "-f", "--json", "-vv", "--verbose", "--str", "x y", "--word=good"), 0, "valid options");
	ASSERT_EQ(a.flag, 7, "--flag stores its value");
	ASSERT_EQ(a.fmt, 2, "--json");
	ASSERT_EQ(a.verbose, 3, "-vv --verbose counts 3");
	ASSERT_STREQ(a.str, "x y", "--str");
	ASSERT_STREQ(a.word, "good", "--word=good");
	ASSERT_EQ(PARSE(&a, "--json", "--csv"), 0, "the last format wins");
	ASSERT_EQ(a.fmt, 1, "--csv after --json");

	/* ranges, each end and one past it, into fields of each size */
	ASSERT_EQ(PARSE(&a, "--u8", "200", "--u16", "65535", "--u32", "16777216", "--u64", "1099511627775"), 0,
		  "each range's top");
	ASSERT_EQ(a.u8, 200, "--u8 200");
	ASSERT_EQ(a.u16, 65535, "--u16 65535");
	ASSERT_EQ(a.u32, 16777216, "--u32 16777216");
	ASSERT_EQ(a.u64, 1099511627775ULL, "--u64 2^40-1 (no truncation to 32 bits)");
	ASSERT_EQ(a.flag + a.pick + a.odd + a.odd_set, 0, "options not given write nothing (after a memset to 0)");
	ASSERT_EQ(PARSE(&a, "--u32", "1000000", "--u16", "1", "--u8", "1"), 0, "small fields after a wide one");
	ASSERT_EQ(a.u32, 1000000, "--u16 and --u8 write their own bytes only");
	ASSERT_EQ(a.u16 * 1000 + a.u8, 1001, "--u16 1 --u8 1");
	ASSERT_EQ(PARSE(&a, "--u32", "16"), 0, "--u32 16, the bottom");
	ASSERT_EQ(a.u32, 16, "--u32 16");
	refused(PARSE(&a, "--u8", "201"), "--u8 '201': 1 to 200", "--u8 201: over the top");
	refused(PARSE(&a, "--u8", "0"), "--u8 '0': 1 to 200", "--u8 0: under the bottom");
	refused(PARSE(&a, "--u16", "65536"), "--u16 '65536': 0 to 65535", "--u16 65536 (would wrap to 0)");
	refused(PARSE(&a, "--u32", "15"), "--u32 '15': 16 to 16777216", "--u32 15");
	refused(PARSE(&a, "--u32", "-1"), "--u32 '-1': 16 to 16777216", "--u32 -1");
	refused(PARSE(&a, "--u32", "abc"), "--u32 'abc': 16 to 16777216", "--u32 abc");
	refused(PARSE(&a, "--u32", " 20"), "--u32 ' 20': 16 to 16777216", "--u32 ' 20' (a blank)");
	refused(PARSE(&a, "--u32", ""), "--u32 '': 16 to 16777216", "--u32 ''");
	refused(PARSE(&a, "--u64", "18446744073709551616"), "--u64 '18446744073709551616': a count", "--u64 2^64");

	/* names: the index plus min; unquoted in the message (BARE) */
	ASSERT_EQ(PARSE(&a, "--pick", "three"), 0, "--pick three");
	ASSERT_EQ(a.pick, 12, "--pick three: index 2 + 10");
	ASSERT_EQ(PARSE(&a, "--pick", "one"), 0, "--pick one");
	ASSERT_EQ(a.pick, 10, "--pick one: index 0 + 10");
	refused(PARSE(&a, "--pick", "four"), "--pick four: one, two or three", "--pick four");
	refused(PARSE(&a, "--pick", "On"), "--pick On: one, two or three", "--pick: names are exact");
	refused(PARSE(&a, "--pick", ""), "--pick : one, two or three", "--pick ''");

	/* strings a check judges; an empty one said as such (NONEMPTY) */
	refused(PARSE(&a, "--word", "bad"), "--word 'bad': only 'good'", "--word bad");
	refused(PARSE(&a, "--word", ""), "--word: only 'good'", "--word ''");

	/* a function: it stores what it likes, or refuses */
	ASSERT_EQ(PARSE(&a, "--odd", "7"), 0, "--odd 7");
	ASSERT_EQ(a.odd * 10 + a.odd_set, 71, "--odd 7 stores 7 and sets odd_set");
	refused(PARSE(&a, "--odd", "8"), "--odd '8': an odd number", "--odd 8");
	refused(PARSE(&a, "--odd", "999"), "--odd 999: too odd", "--odd 999: the function's own words, not WHY");
}

static void test_usage(void)
{
	struct targs a;

	refused(PARSE(&a, "--bogus"), "unknown option or missing value: --bogus", "--bogus");
	refused(PARSE(&a, "-x"), "unknown option or missing value: -x", "-x");
	refused(PARSE(&a, "--str"), "unknown option or missing value: --str", "--str without its value");
	refused(PARSE(&a, "-s"), "unknown option or missing value: -s", "-s without its value");
	refused(PARSE(&a, "--flag=1"), "unknown option or missing value: --flag=1", "--flag=1: a flag takes no value");
	refused(PARSE(&a, "--u"), "unknown option or missing value: --u", "--u: ambiguous (u8, u16, ...)");
	ASSERT_EQ(PARSE(&a, "--pi", "two"), 0, "--pi: an unambiguous abbreviation");
	ASSERT_EQ(a.pick, 11, "--pi two");
	ASSERT_EQ(PARSE(&a, "-fsX"), 0, "-fsX: a flag, then -s with the rest as its value");
	ASSERT_STREQ(a.str, "X", "-fsX: -s X");
	ASSERT_EQ(a.flag, 7, "-fsX: -f");

	/* --help stops at once: what follows is not looked at */
	ASSERT_EQ(PARSE(&a, "-f", "--help", "--bogus", "--u8", "0"), 0, "--help then bad options");
	ASSERT_EQ(a.help * 10 + (a.flag == 7), 11, "help set, -f before it taken");
	ASSERT_EQ(PARSE(&a, "--u8", "0", "--help"), NA_EXIT_USAGE, "a bad value before --help is refused");

	/* arguments are left for the command, permuted to the end (not in order) */
	ASSERT_EQ(PARSE(&a, "PATH", "-f", "OTHER"), 0, "arguments among options");
	ASSERT_EQ(optind, 2, "optind at the first argument after permutation");
	ASSERT_EQ(a.flag, 7, "-f after an argument taken");
}

/* The arguments after the options: how many each rule takes, the message, what is kept. */
static void test_args(void)
{
	static const struct na_opts none = { .cmd = "test", .opts = topts, .pos = NA_ARGS_NONE("unexpected argument '%s'") };
	static const struct na_opts none_plain = { .cmd = "test", .opts = topts,
						   .pos = NA_ARGS_NONE("no arguments (100% of them are options)") };
	static const struct na_opts some = { .cmd = "test", .opts = topts,
					     .pos = NA_ARGS_SOME(struct targs, "no PATH given") };
	static const struct na_opts two = { .cmd = "test", .opts = topts,
					    .pos = NA_ARGS_AT_MOST(struct targs, 2, "at most 2 PATHs, not '%s' too") };
	static const struct na_opts any = { .cmd = "test", .opts = topts, .pos = NA_ARGS_ANY(struct targs) };
	struct targs a;

	ASSERT_EQ(parse_spec(&none, &a, (const char *const[]){ "-f", NULL }), 0, "none: none given");
	refused(parse_spec(&none, &a, (const char *const[]){ "X", "-f", "Y", NULL }), "unexpected argument 'X'",
		"none: the first argument named");
	refused(parse_spec(&none_plain, &a, (const char *const[]){ "X", NULL }), "no arguments (100% of them are options)",
		"none: a message without %s, as it is");
	ASSERT_EQ(parse_spec(&none, &a, (const char *const[]){ "X", "--help", NULL }), 0,
		  "none: --help stops the parse before the arguments are counted");
	ASSERT_EQ(a.help * 10 + (a.pos == NULL), 11, "none: --help set, nothing kept");
	refused(parse_spec(&none, &a, (const char *const[]){ "X", "--bogus", NULL }),
		"unknown option or missing value: --bogus", "none: a bad option is told before the argument");

	refused(parse_spec(&some, &a, (const char *const[]){ "-f", NULL }), "no PATH given", "some: none given");
	ASSERT_EQ(parse_spec(&some, &a, (const char *const[]){ "A", "-f", "B", NULL }), 0, "some: two among options");
	ASSERT_EQ(a.npos, 2, "some: two kept");
	if (a.npos == 2) {
		ASSERT_STREQ(a.pos[0], "A", "some: the first");
		ASSERT_STREQ(a.pos[1], "B", "some: the second, after -f");
		ASSERT_EQ(a.pos[2] == NULL, 1, "some: NULL-terminated as argv");
	}
	ASSERT_EQ(a.flag, 7, "some: -f among them taken");

	ASSERT_EQ(parse_spec(&two, &a, (const char *const[]){ "A", "B", NULL }), 0, "at most 2: two");
	ASSERT_EQ(a.npos, 2, "at most 2: two kept");
	refused(parse_spec(&two, &a, (const char *const[]){ "A", "B", "C", "D", NULL }), "at most 2 PATHs, not 'C' too",
		"at most 2: the first one too many named");
	ASSERT_EQ(a.npos, 0, "at most 2: nothing kept when refused");

	ASSERT_EQ(parse_spec(&any, &a, (const char *const[]){ "-f", NULL }), 0, "any: none");
	ASSERT_EQ(a.npos == 0 && a.pos && !a.pos[0], 1, "any: none kept, an empty list");
	ASSERT_EQ(parse_spec(&any, &a, (const char *const[]){ "A", "B", "C", NULL }), 0, "any: three");
	ASSERT_EQ(a.npos, 3, "any: three kept");

	ASSERT_EQ(PARSE(&a, "A", "B"), 0, "the command's own: not counted");
	ASSERT_EQ(a.npos == 0 && !a.pos && optind == 1, 1, "the command's own: nothing kept, optind at the first");
}

static void test_in_order(void)
{
	static const struct na_opts spec = { .opts = topts, .in_order = 1 };
	char *msg = NULL;
	size_t len = 0;
	FILE *saved = stderr;
	struct targs a;

	ASSERT_EQ(parse_spec(&spec, &a, (const char *const[]){ "-v", "CMD", "-f", NULL }), 0, "in order");
	ASSERT_EQ(optind, 2, "in order: options end at CMD");
	ASSERT_EQ(a.verbose * 10 + a.flag, 10, "in order: CMD's -f is CMD's");

	/* netacct's own options: na_log's line, with the hint, and no command named */
	stderr = open_memstream(&msg, &len);
	if (!stderr) {
		stderr = saved;
		CHECK(0, "%s", "open_memstream");
		return;
	}
	ASSERT_EQ(parse_spec(&spec, &a, (const char *const[]){ "--bogus", NULL }), NA_EXIT_USAGE, "global --bogus");
	ASSERT_EQ(parse_spec(&spec, &a, (const char *const[]){ "--u8", "300", NULL }), NA_EXIT_USAGE, "global --u8 300");
	fclose(stderr);
	stderr = saved;
	ASSERT_STREQ(msg,
		     "netacct: unknown option or missing value: --bogus (netacct --help lists them)\n"
		     "netacct: --u8 '300': 1 to 200\n",
		     "global usage errors");
	ASSERT_STREQ(usage_msg, "", "global usage errors: no command's usage");
	free(msg);
}

static void test_help(void)
{
	static const struct na_opts plain = { .cmd = "test", .opts = topts + 4, .help_width = 13 };
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	if (!f) {
		CHECK(0, "%s", "open_memstream");
		return;
	}
	na_opts_help(f, &tspec);
	na_opts_help(f, &plain);
	fclose(f);
	ASSERT_STREQ(buf,
		     /* -f has a short name: long names alone move right under the others' */
		     "  -f, --flag    a flag\n"
		     "      --csv, --json  the format\n"
		     "  -s, --str TEXT  any text\n"
		     "      --word W  a word\n"
		     "                more on a second line\n"
		     "  -h, --help    this text\n"
		     /* from --str on, 13 wide: -s still moves --word right */
		     "  -s, --str TEXT  any text\n"
		     "      --word W a word\n"
		     "                more on a second line\n"
		     "  -h, --help   this text\n",
		     "help lines");
	free(buf);
}

int main(void)
{
	opterr = 0; /* as main() sets it: the messages are the table's */
	test_values();
	test_usage();
	test_args();
	test_in_order();
	test_help();
	return check_summary();
}
