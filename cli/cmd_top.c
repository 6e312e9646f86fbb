// SPDX-License-Identifier: (BSD-2-Clause OR GPL-2.0)
/*
 * top: cgroup totals and the busiest sockets (or processes, cgroups, peers),
 * with rates computed in user space as deltas between two snapshots one
 * interval apart. This is the command: its options, and which printer draws
 * the frames (top.h): --batch prints plain text (like top -b); on a terminal
 * the interactive view draws the same frames.
 */
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "args.h"
#include "format.h"

/* ---- options ----------------------------------------------------------------- */

static int parse_num(const char *opt, const char *s, double min, double max, double *out)
{
	char *end;

	errno = 0;
	*out = strtod(s, &end);
	if (errno || *end || !*s || !isfinite(*out) || *out < min || *out > max)
		return na_usage_error("top", "%s '%s': a number from %g to %g", opt, s, min, max);
	return 0;
}

/* A whole number (no sign, blank or fraction: --pid 100.9 is not pid 100). */
static int parse_count(const char *opt, const char *s, uint64_t min, uint64_t max, uint64_t *out)
{
	if (na_parse_u64(s, min, max, out))
		return na_usage_error("top", "%s '%s': a whole number from %llu to %llu", opt, s,
				      (unsigned long long)min, (unsigned long long)max);
	return 0;
}

static int parse_sort(const char *s, enum na_col *out)
{
	char names[256];

	if (!na_col_parse(s, out))
		return 0;
	na_col_aliases(names, sizeof(names));
	return na_usage_error("top", "--sort '%s': one of %s", s, names);
}

static int parse_proto(const char *s, int *out)
{
	int i;

	for (i = 0; i <= NA_P_ICMPV6; i++)
		if (!strcmp(s, na_proto_name((uint8_t)i)))
			*out = i;
	if (*out < 0)
		return na_usage_error("top", "--proto '%s': tcp, udp, icmp, icmpv6 or other", s);
	return 0;
}

/* Option c (not --help) with its value arg: 0, NA_EXIT_USAGE, or -ENOENT when c is none of top's. */
static int top_option(int c, char *arg, struct na_top_args *a)
{
	struct top_opts *o = &a->o;
	uint64_t n;

	switch (c) {
	case 'B':
		o->batch = 1;
		return 0;
	case 'd':
		return parse_num("--interval", arg, 0.1, 3600, &o->interval) ? NA_EXIT_USAGE : 0;
	case 'n':
		if (parse_count("--iterations", arg, 1, 1000000000, &n))
			return NA_EXIT_USAGE;
		o->iterations = (long)n;
		return 0;
	case 'l':
		if (parse_count("--limit", arg, 0, 1000000000, &n))
			return NA_EXIT_USAGE;
		o->limit = (long)n;
		return 0;
	case 'b':
		o->bits = 1;
		return 0;
	case 's':
		return parse_sort(arg, &o->sort);
	case 'g':
		if (na_group_parse(arg, &o->view.group))
			return na_usage_error("top", "--group-by '%s': %s", arg, NA_GROUPS_TEXT);
		return 0;
	case 'F':
		o->full_path = 1;
		return 0;
	case 'N':
		a->networks = arg;
		return 0;
	case 'c':
		if (a->ncg == NA_TOP_MAX_CG)
			return na_usage_error("top", "too many --cgroup");
		a->cg[a->ncg++] = arg;
		return 0;
	case 'p':
		if (parse_count("--pid", arg, 1, 4194304, &n))
			return NA_EXIT_USAGE;
		o->view.pid = (uint32_t)n;
		return 0;
	case 'P':
		return parse_proto(arg, &o->view.proto);
	default:
		return -ENOENT;
	}
}

int na_top_parse(int argc, char **argv, struct na_top_args *a)
{
	static const struct option opts[] = {
		{ "batch", no_argument, NULL, 'B' },
		{ "interval", required_argument, NULL, 'd' },
		{ "iterations", required_argument, NULL, 'n' },
		{ "limit", required_argument, NULL, 'l' },
		{ "bits", no_argument, NULL, 'b' },
		{ "sort", required_argument, NULL, 's' },
		{ "group-by", required_argument, NULL, 'g' },
		{ "cgroup", required_argument, NULL, 'c' },
		{ "pid", required_argument, NULL, 'p' },
		{ "proto", required_argument, NULL, 'P' },
		{ "full-path", no_argument, NULL, 'F' },
		{ "networks", required_argument, NULL, 'N' },
		{ "help", no_argument, NULL, 'h' },
		{},
	};
	struct top_opts *o = &a->o;
	int c, i, rc;

	memset(a, 0, sizeof(*a));
	o->interval = 1.0;
	o->limit = 0;
	o->sort = NA_C_COUNT;
	o->view.proto = -1;
	while ((c = getopt_long(argc, argv, "Bd:n:l:bs:g:c:p:P:h", opts, NULL)) != -1) {
		if (c == 'h') {
			a->help = 1;
			return 0;
		}
		rc = top_option(c, optarg, a);
		if (rc == -ENOENT)
			return na_usage_error("top", "unknown option or missing value: %s", argv[optind - 1]);
		if (rc)
			return rc;
	}
	/* PATH arguments and --cgroup both filter by cgroup: none may be dropped (fuzz.cli found it). */
	if (argc - optind > NA_TOP_MAX_CG - a->ncg)
		return na_usage_error("top", "at most %d cgroups in all, PATHs and --cgroup", NA_TOP_MAX_CG);
	for (i = optind; i < argc; i++)
		a->cg[a->ncg++] = argv[i];
	return 0;
}

/* The full screen needs a terminal for the frames and one for the keys. */
static int top_interactive_wanted(const struct top_opts *o)
{
	return !o->batch && isatty(STDOUT_FILENO) && isatty(STDIN_FILENO);
}

int cmd_top(int argc, char **argv, const struct na_global *g)
{
	struct na_netclass *classes = NULL;
	struct na_top_args a;
	struct top_opts *o = &a.o;
	int rc;

	rc = na_top_parse(argc, argv, &a);
	if (rc)
		return rc;
	if (a.help)
		return cmd_help(2, (char *[]){ "help", "top" }, g);
	rc = na_filter_init(&o->paths, a.cg, a.ncg);
	if (rc)
		return rc;
	/* Before any state is read: a bad networks file is the operator's to fix (nothing of it is used). */
	if (na_netclass_load(a.networks, &classes) || na_names_new(NULL, &o->names)) {
		na_netclass_free(classes);
		na_filter_free(&o->paths);
		return NA_EXIT_FAIL;
	}
	o->classes = classes;
	top_view_bind(o);
	rc = top_interactive_wanted(o) ? top_interactive(g, o) : -ENOTTY;
	/* Without a terminal to draw on and read keys from, plain frames. */
	if (rc == -ENOTTY)
		rc = top_batch(g, o);
	na_names_free(o->names);
	na_netclass_free(classes);
	na_filter_free(&o->paths);
	return rc;
}
