/* SPDX-License-Identifier: (BSD-2-Clause OR GPL-2.0) */
/*
 * A command's options, declared once: one table gives each option's names,
 * the kind of its value, where in the command's args struct the value goes,
 * what a bad value is told, and its help line; struct na_pos says which
 * arguments follow the options. na_opts_parse() builds the getopt_long
 * tables from it, parses, checks ranges, names and the number of arguments,
 * and reports a usage error as every command does ("netacct: CMD: ...", the
 * usage line, NA_EXIT_USAGE); na_opts_help() prints the table's help lines.
 *
 *	static const struct na_option opts[] = {
 *		NA_OPT_U(struct na_trace_args, cfg.port, "port", 1, 65535, "1 to 65535", "N", "..."),
 *		NA_OPT_HELP_ENTRY(struct na_trace_args, help, "this text"),
 *		{ 0 },
 *	};
 */
#ifndef NETACCT_CLI_OPTIONS_H
#define NETACCT_CLI_OPTIONS_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define NA_STR_(x) #x
#define NA_STR(x) NA_STR_(x) /* a number macro as a string literal, for help text */

enum na_opt_kind {
	NA_OPT_FLAG,  /* no value: stores val */
	NA_OPT_COUNT, /* no value: adds 1 to the count (-v -v) */
	NA_OPT_STOP,  /* no value: stores 1 and ends the parse (--help, --version) */
	NA_OPT_STR,   /* the value itself (const char *), when check (if any) takes it */
	NA_OPT_UINT,  /* a decimal number from min to max */
	NA_OPT_ENUM,  /* one of names: its index plus min */
	NA_OPT_FUNC,  /* parse(value, args) stores it, or refuses it: -EINVAL (told as
		       * "--NAME 'VALUE': WHY"), or NA_EXIT_USAGE after telling it itself */
};

/* flags */
#define NA_OPTF_BARE 1     /* the usage error shows the value unquoted: "--by x: ..." */
#define NA_OPTF_NONEMPTY 2 /* an empty value is refused as "--NAME: WHY" */
#define NA_OPTF_JOIN 4     /* listed on one help line with the next option ("--csv, --json") */
/*
 * The short name is taken but not offered: the usage line and the shell
 * completion leave it out (top's -B -l -s -g -c -p -P, which its getopt
 * string took before the table); the help lines show it.
 */
#define NA_OPTF_SHORT_UNLISTED 8

struct na_option {
	const char *name;        /* the long name, without "--"; NULL ends the table */
	int short_name;          /* 'f' for -f, or 0 */
	enum na_opt_kind kind;
	size_t off, size;        /* the value's place in the args struct (not for FUNC) */
	long long val;           /* FLAG: the value stored */
	uint64_t min, max;       /* UINT: the range; ENUM: min is added to the index */
	const char *const *names; /* ENUM: NULL-terminated */
	int (*check)(const char *arg);             /* STR: 0 when the value will do */
	int (*parse)(const char *arg, void *args); /* FUNC */
	const char *why;         /* a bad value: "--NAME 'VALUE': WHY" */
	const char *arg;         /* the value's name in the help line (N, FILE), NULL: none */
	const char *help;        /* the help line, NULL: not listed */
	unsigned flags;
};

/* The field of type's args struct an option stores into. */
#define NA_OPT_AT(type, field) .off = offsetof(type, field), .size = sizeof(((type *)0)->field)

#define NA_OPT_F(type, field, lname, sname, v, hlp) \
	{ .name = lname, .short_name = sname, .kind = NA_OPT_FLAG, NA_OPT_AT(type, field), .val = v, .help = hlp }
#define NA_OPT_S(type, field, lname, sname, metavar, hlp) \
	{ .name = lname, .short_name = sname, .kind = NA_OPT_STR, NA_OPT_AT(type, field), .arg = metavar, .help = hlp }
#define NA_OPT_U(type, field, lname, lo, hi, whytext, metavar, hlp)                                                \
	{ .name = lname, .kind = NA_OPT_UINT, NA_OPT_AT(type, field), .min = lo, .max = hi, .why = whytext,        \
	  .arg = metavar, .help = hlp }
#define NA_OPT_E(type, field, lname, list, base, whytext, metavar, hlp)                                            \
	{ .name = lname, .kind = NA_OPT_ENUM, NA_OPT_AT(type, field), .names = list, .min = base, .why = whytext, \
	  .arg = metavar, .help = hlp }
#define NA_OPT_HELP_ENTRY(type, field, hlp) \
	{ .name = "help", .short_name = 'h', .kind = NA_OPT_STOP, NA_OPT_AT(type, field), .help = hlp }

/*
 * The arguments a command takes after its options (cgroup PATHs, run's
 * CMD), checked by na_opts_parse() once the options are read.
 */
enum na_pos_kind {
	NA_POS_OWN,     /* the command reads them itself (top, netacct's COMMAND) */
	NA_POS_NONE,    /* none: more is refused with why */
	NA_POS_ANY,     /* any number, kept */
	NA_POS_SOME,    /* at least one, kept: none is refused with why */
	NA_POS_AT_MOST, /* at most max, kept: more is refused with why */
};

struct na_pos {
	enum na_pos_kind kind;
	int max;                  /* NA_POS_AT_MOST */
	const char *why;          /* the usage error; a "%s" in it shows the first argument too many */
	size_t pos_off, npos_off; /* kept: argv's rest (char **) and its count (int) in the args struct */
};

/* The args struct's pos and npos fields keep the arguments. */
#define NA_POS_AT(type) .pos_off = offsetof(type, pos), .npos_off = offsetof(type, npos)
/* A struct na_pos of each kind: .pos = NA_ARGS_SOME(struct na_attach_args, "no cgroup PATH given") */
#define NA_ARGS_NONE(whytext) { .kind = NA_POS_NONE, .why = whytext }
#define NA_ARGS_ANY(type) { .kind = NA_POS_ANY, NA_POS_AT(type) }
#define NA_ARGS_SOME(type, whytext) { .kind = NA_POS_SOME, .why = whytext, NA_POS_AT(type) }
#define NA_ARGS_AT_MOST(type, n, whytext) { .kind = NA_POS_AT_MOST, .max = n, .why = whytext, NA_POS_AT(type) }

/* A command's options and how its help lists them. */
struct na_opts {
	const char *cmd;               /* "trace"; NULL: netacct's global options */
	const struct na_option *opts;
	int in_order;                  /* options end at the first argument (run's CMD, the COMMAND) */
	int help_width;                /* of the names column in na_opts_help() */
	const char *about;             /* --help: this, then the help lines; NULL: the usage line and what it does */
	void (*help_tail)(void);       /* --help: what follows the help lines, or NULL */
	struct na_pos pos;             /* the arguments after the options */
};

/*
 * Parse argv's options into args (zeroed first only by the caller, who sets
 * the defaults), then check the arguments after them by o->pos and keep
 * them there. 0, with optind at the first argument that is no option (or
 * at the end); 0 at once after a STOP option (nothing checked or kept);
 * NA_EXIT_USAGE after the usage error is printed. optind and opterr are
 * the caller's to set.
 */
int na_opts_parse(const struct na_opts *o, int argc, char **argv, void *args);

/* Whether the parse into args met -h/--help (the table's STOP option named "help"). */
int na_opts_help_asked(const struct na_opts *o, const void *args);

/*
 * The options' help lines: "  -f, --follow  what it does", the names
 * column help_width wide; long names alone are moved right under the long
 * names of the others when any listed option but --help has a short one.
 */
void na_opts_help(FILE *f, const struct na_opts *o);

#endif
