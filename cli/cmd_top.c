// SPDX-License-Identifier: (BSD-2-Clause OR GPL-2.0)
/*
 * top: cgroup totals and the busiest sockets (or processes, cgroups, peers),
 * with rates computed in user space as deltas between two snapshots one
 * interval apart. This is the command: its options, and which printer draws
 * the frames (top.h): --batch prints plain text (like top -b); on a terminal
 * the interactive view draws the same frames.
 */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "args.h"
#include "common.h"
#include "format.h"

/* ---- options ----------------------------------------------------------------- */

static int interval_opt(const char *s, void *args)
{
	struct na_top_args *a = args;
	char *end;

	errno = 0;
	a->o.interval = strtod(s, &end);
	if (errno || *end || !*s || !isfinite(a->o.interval) || a->o.interval < 0.1 || a->o.interval > 3600)
		return -EINVAL;
	return 0;
}

static int sort_opt(const char *s, void *args)
{
	struct na_top_args *a = args;
	char names[256];

	if (!na_col_parse(s, &a->o.sort))
		return 0;
	na_col_aliases(names, sizeof(names));
	return na_usage_error("top", "--sort '%s': one of %s", s, names);
}

static int group_opt(const char *s, void *args)
{
	struct na_top_args *a = args;

	return na_group_parse(s, &a->o.view.group) ? -EINVAL : 0;
}

static int cgroup_opt(const char *s, void *args)
{
	struct na_top_args *a = args;

	if (a->ncg == NA_TOP_MAX_CG)
		return na_usage_error("top", "too many --cgroup");
	a->cg[a->ncg++] = (char *)s;
	return 0;
}

static int proto_opt(const char *s, void *args)
{
	struct na_top_args *a = args;
	int i;

	for (i = 0; i <= NA_P_ICMPV6; i++)
		if (!strcmp(s, na_proto_name((uint8_t)i)))
			a->o.view.proto = i;
	return a->o.view.proto < 0 ? -EINVAL : 0;
}

/* A whole number (no sign, blank or fraction: --pid 100.9 is not pid 100). */
#define WHOLE(lo, hi) "a whole number from " #lo " to " #hi

/*
 * The usage line (cli/dispatch.c) is top's help; the short names marked
 * NA_OPTF_SHORT_UNLISTED are taken as top's getopt string took them before
 * this table, and offered nowhere.
 */
static const struct na_option top_opts[] = {
	{ .name = "batch", .short_name = 'B', .kind = NA_OPT_FLAG, NA_OPT_AT(struct na_top_args, o.batch), .val = 1,
	  .flags = NA_OPTF_SHORT_UNLISTED },
	{ .name = "interval", .short_name = 'd', .kind = NA_OPT_FUNC, .parse = interval_opt, .arg = "S",
	  .why = "a number from 0.1 to 3600" },
	{ .name = "iterations", .short_name = 'n', .kind = NA_OPT_UINT, NA_OPT_AT(struct na_top_args, o.iterations),
	  .min = 1, .max = 1000000000, .why = WHOLE(1, 1000000000), .arg = "N" },
	{ .name = "limit", .short_name = 'l', .kind = NA_OPT_UINT, NA_OPT_AT(struct na_top_args, o.limit), .min = 0,
	  .max = 1000000000, .why = WHOLE(0, 1000000000), .arg = "N", .flags = NA_OPTF_SHORT_UNLISTED },
	NA_OPT_F(struct na_top_args, o.bits, "bits", 'b', 1, NULL),
	{ .name = "sort", .short_name = 's', .kind = NA_OPT_FUNC, .parse = sort_opt, .arg = "COL",
	  .flags = NA_OPTF_SHORT_UNLISTED },
	{ .name = "group-by", .short_name = 'g', .kind = NA_OPT_FUNC, .parse = group_opt, .arg = "GROUP",
	  .why = NA_GROUPS_TEXT, .flags = NA_OPTF_SHORT_UNLISTED },
	{ .name = "cgroup", .short_name = 'c', .kind = NA_OPT_FUNC, .parse = cgroup_opt, .arg = "PATH",
	  .flags = NA_OPTF_SHORT_UNLISTED },
	{ .name = "pid", .short_name = 'p', .kind = NA_OPT_UINT, NA_OPT_AT(struct na_top_args, o.view.pid), .min = 1,
	  .max = 4194304, .why = WHOLE(1, 4194304), .arg = "N", .flags = NA_OPTF_SHORT_UNLISTED },
	{ .name = "proto", .short_name = 'P', .kind = NA_OPT_FUNC, .parse = proto_opt, .arg = "PROTO",
	  .why = "tcp, udp, icmp, icmpv6 or other", .flags = NA_OPTF_SHORT_UNLISTED },
	NA_OPT_F(struct na_top_args, o.full_path, "full-path", 0, 1, NULL),
	NA_OPT_S(struct na_top_args, networks, "networks", 0, "FILE", NULL),
	NA_OPT_HELP_ENTRY(struct na_top_args, help, NULL),
	{ 0 },
};

const struct na_opts na_top_spec = { .cmd = "top", .opts = top_opts };

int na_top_parse(int argc, char **argv, struct na_top_args *a)
{
	struct top_opts *o = &a->o;
	int i, rc;

	memset(a, 0, sizeof(*a));
	o->interval = 1.0;
	o->limit = 0;
	o->sort = NA_C_COUNT;
	o->view.proto = -1;
	rc = na_opts_parse(&na_top_spec, argc, argv, a);
	if (rc || a->help)
		return rc;
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

	if (na_cmd_done(&na_top_spec, na_top_parse(argc, argv, &a), &a, &rc))
		return rc;
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
