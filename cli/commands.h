/* SPDX-License-Identifier: (BSD-2-Clause OR GPL-2.0) */
/*
 * The commands: their exit codes, their entry points cmd_X(), and what
 * cli/dispatch.c gives them (the command table, usage errors, the start of
 * each command).
 */
#ifndef NETACCT_CLI_COMMANDS_H
#define NETACCT_CLI_COMMANDS_H

#include <stdarg.h>

#include "netacct.h"
/* struct na_filter, which view.h (including this header) takes from here */
#include "common.h"

enum { NA_EXIT_OK = 0, NA_EXIT_FAIL = 1, NA_EXIT_USAGE = 2 };

struct na_global {
	const char *pin_root;
};

struct na_opts;

struct na_cmd {
	const char *name;
	int (*fn)(int argc, char **argv, const struct na_global *g);
	const char *args;
	const char *help;
	const struct na_opts *opts; /* its option table (cli/options.h), NULL: none (help, version) */
};

/* The command table (cli/dispatch.c), entry i; NULL past its end. */
const struct na_cmd *na_cmd_at(size_t i);

int cmd_attach(int argc, char **argv, const struct na_global *g);
int cmd_detach(int argc, char **argv, const struct na_global *g);
int cmd_status(int argc, char **argv, const struct na_global *g);
int cmd_export(int argc, char **argv, const struct na_global *g);
int cmd_top(int argc, char **argv, const struct na_global *g);
int cmd_log(int argc, char **argv, const struct na_global *g);
int cmd_agent(int argc, char **argv, const struct na_global *g);
int cmd_doctor(int argc, char **argv, const struct na_global *g);
int cmd_trace(int argc, char **argv, const struct na_global *g);
int cmd_run(int argc, char **argv, const struct na_global *g);
int cmd_report(int argc, char **argv, const struct na_global *g);

int cmd_help(int argc, char **argv, const struct na_global *g);
int cmd_version(int argc, char **argv, const struct na_global *g);

/* "netacct: CMD: <message>" plus the command's usage line; returns NA_EXIT_USAGE. */
int na_usage_error(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/*
 * The start of a command, after its parse step returned rc into args (by
 * table o): 1 when the command ends here with exit code *code, after a
 * usage error (NA_EXIT_USAGE) or -h/--help (0: o->about and the help lines
 * printed, or the command's usage line and what it does); 0 when it goes on.
 */
int na_cmd_done(const struct na_opts *o, int rc, const void *args, int *code);

#endif
