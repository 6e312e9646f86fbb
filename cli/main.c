// SPDX-License-Identifier: (BSD-2-Clause OR GPL-2.0)
/* netacct: the global options and the command (dispatch.c), then the command. */
#include <getopt.h>

#include <bpf/libbpf.h>

#include "args.h"

/* libbpf's own words, through our prefix: warnings always, the rest with -v (debug with -vv). */
static int libbpf_print(enum libbpf_print_level lvl, const char *fmt, va_list ap)
{
	int v = na_log_verbose();

	if ((lvl == LIBBPF_INFO && v < 1) || (lvl == LIBBPF_DEBUG && v < 2))
		return 0;
	fputs("netacct: ", stderr);
	return vfprintf(stderr, fmt, ap);
}

int main(int argc, char **argv)
{
	struct na_main_args a;
	int rc;

	opterr = 0; /* every diagnostic goes through our reporter */
	rc = na_main_parse(argc, argv, &a);
	if (rc)
		return rc;
	if (a.help)
		return cmd_help(1, argv, &a.g);
	if (a.version)
		return cmd_version(0, NULL, &a.g);
	na_log_set_verbose(a.verbose);
	libbpf_set_print(libbpf_print);
	optind = 0; /* each command parses its own options; 0 re-initialises getopt */
	return a.cmd->fn(a.argc, a.argv, &a.g);
}
