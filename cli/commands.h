/* SPDX-License-Identifier: (BSD-2-Clause OR GPL-2.0) */
#ifndef NETACCT_CLI_COMMANDS_H
#define NETACCT_CLI_COMMANDS_H

#include <stdarg.h>

#include "netacct.h"

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
 * printed, or the
 * command's usage line and what it does); 0 when it goes on.
 */
int na_cmd_done(const struct na_opts *o, int rc, const void *args, int *code);

/*
 * Open the pinned state for reading and take one snapshot. Reports
 * "nothing attached" itself. 0 or NA_EXIT_FAIL.
 */
int na_open_snapshot(const struct na_global *g, struct na_state **st, struct na_snapshot *snap);
/*
 * The same; quiet: without the warning na_open_snapshot() gives for every
 * attachment that is not counting (status shows them in its table).
 */
int na_open_snapshot_quiet(const struct na_global *g, struct na_state **st, struct na_snapshot *snap);
/*
 * What an attachment that is not live means and what to do about it, in one
 * clause ("" for a live one). busy: an attach or detach held the lock.
 */
void na_att_explain(char *buf, size_t len, const struct na_att_state *a, int busy);

/*
 * One connection record as `netacct log --json` writes it (a JSON line);
 * offset is CLOCK_REALTIME - CLOCK_BOOTTIME in ns; names and classes (may
 * be NULL) fill the names and peer_class columns. 0, or -EIO when out
 * failed.
 */
int na_conn_json(FILE *out, struct na_connlog *l, const struct na_conn *c, int64_t offset, struct na_names *names,
		 const struct na_netclass *classes);

/* PATH arguments of export/top: rows at or below any of them (all rows when none). */
struct na_filter {
	int n;
	struct na_cgroup *cg;
};
int na_filter_init(struct na_filter *f, char **paths, int n);
int na_filter_match(const struct na_filter *f, const char *rel, uint64_t cgid);
void na_filter_free(struct na_filter *f);

#endif
