/* SPDX-License-Identifier: (BSD-2-Clause OR GPL-2.0) */
/*
 * The parse step of every command. cmd_X() is na_X_parse() then the run
 * step, so that tests/fuzz/fuzz_cli.c can drive the real argument parsing
 * (getopt_long and every option value) without running anything.
 *
 * A parse step reads argv (which getopt_long permutes, as before) into its
 * args and touches nothing else: no BPF, no files, no signals. It returns 0,
 * or NA_EXIT_USAGE after printing the usage error. -h/--help stops the
 * parse with help set: the run step prints the help. What is left of argv
 * (cgroup PATHs, run's CMD) is pos[0..npos), NULL-terminated as argv is.
 * optind and opterr are the caller's to set (0 and 0: see main()).
 */
#ifndef NETACCT_CLI_ARGS_H
#define NETACCT_CLI_ARGS_H

#include "commands.h"
#include "options.h"
#include "top.h"

/* main(): the global options and the command. */
struct na_main_args {
	const char *pin_opt;        /* --pin-root, NULL: the environment's or the default */
	int verbose;
	int help;                   /* -h/--help: the usage on stdout */
	int version;                /* --version */
	struct na_global g;         /* pin root resolved and checked */
	const struct na_cmd *cmd;   /* with argc/argv: the command's own (argv[0] is its name) */
	int argc;
	char **argv;
};

struct na_attach_args {
	struct na_attach_opts ao; /* everything but pin_root */
	char **pos;               /* cgroup PATHs, at least one */
	int npos;
	int help;
};

struct na_detach_args {
	int all;
	char **pos; /* cgroup PATHs: none with all, at least one without */
	int npos;
	int help;
};

struct na_status_args {
	int json;
	int help;
};

enum out_fmt { OUT_CSV, OUT_JSON, OUT_PROM };

struct na_export_args {
	enum out_fmt fmt;
	int header;
	int grouped;
	enum na_group group;
	const char *out; /* -o FILE, NULL: stdout */
	const char *networks; /* --networks FILE, NULL: the default file when there is one */
	char **pos;      /* filter PATHs */
	int npos;
	int help;
};

#define NA_TOP_MAX_CG 64

struct na_top_args {
	struct top_opts o;              /* paths unset: the run step resolves cg */
	const char *networks;           /* --networks FILE, NULL: the default file when there is one */
	char *cg[NA_TOP_MAX_CG];        /* --cgroup values, then the PATH arguments */
	int ncg;
	int help;
};

enum log_fmt { FMT_TABLE, FMT_CSV, FMT_JSON };

struct na_log_args {
	enum log_fmt fmt;
	int follow;
	int human;
	const char *networks; /* --networks FILE, NULL: the default file when there is one */
	int help;
};

struct na_agent_args {
	const char *conf_path;
	const char *listen; /* --listen, applied over the configuration by na_agent_listen() */
	const char *networks; /* --networks FILE, over the configuration's networks */
	int detach_on_exit;
	int help;
};

#define NA_RUN_NAME_MAX 64 /* --name, with its NUL */

struct na_run_args {
	const char *name;   /* --name, a checked directory name, or NULL */
	const char *parent; /* --parent DIR, or NULL */
	int keep;
	enum log_fmt fmt;   /* the summary: a table, CSV or JSON lines, as log's */
	char **pos;         /* CMD [ARGS...], at least CMD */
	int npos;
	int help;
};

#define NA_TRACE_MAX_CG 64

struct na_trace_args {
	struct na_trace_cfg cfg;
	unsigned long long count; /* --count, 0: until interrupted */
	int json;
	char **pos;               /* cgroup PATHs, at most NA_TRACE_MAX_CG */
	int npos;
	int help;
};

#define NA_DOCTOR_MAX_PATHS 200

struct na_doctor_args {
	int json;
	char **pos; /* cgroup PATHs, at most NA_DOCTOR_MAX_PATHS */
	int npos;
	int help;
};

enum report_fmt { REPORT_TABLE, REPORT_CSV, REPORT_JSON, REPORT_CHART };

struct na_report_args {
	const char *db;           /* --db FILE, NULL: the pin root's (agent/history.h) */
	const char *since, *until; /* WHEN, checked (na_when_parse); resolved by the run step */
	int every;                /* enum na_hist_table, -1: one row per group over the span */
	int by;                   /* enum na_hist_by */
	const char *cgroup;       /* --cgroup PATH (absolute) */
	enum report_fmt fmt;
	const char *svg, *png;    /* chart files */
	unsigned top;             /* --top N, 0: every group */
	int help;
};

/*
 * A WHEN of report: 2026-12-01 (local midnight), 2026-12-01T10:00 (local),
 * ...T10:00:00, either with a Z (UTC), -30m, -2h, -7d, -2w, yesterday,
 * today, this-month, now; relative to now. 0 or -EINVAL.
 */
int na_when_parse(const char *s, int64_t now, int64_t *out);

/* The option tables of the commands. */
extern const struct na_opts na_attach_spec, na_detach_spec, na_status_spec, na_export_spec, na_top_spec,
	na_log_spec, na_agent_spec, na_run_spec, na_trace_spec, na_doctor_spec, na_report_spec;

int na_main_parse(int argc, char **argv, struct na_main_args *a);
int na_attach_parse(int argc, char **argv, struct na_attach_args *a);
int na_detach_parse(int argc, char **argv, struct na_detach_args *a);
int na_status_parse(int argc, char **argv, struct na_status_args *a);
int na_export_parse(int argc, char **argv, struct na_export_args *a);
int na_top_parse(int argc, char **argv, struct na_top_args *a);
int na_log_parse(int argc, char **argv, struct na_log_args *a);
int na_agent_parse(int argc, char **argv, struct na_agent_args *a);
int na_run_parse(int argc, char **argv, struct na_run_args *a);
int na_trace_parse(int argc, char **argv, struct na_trace_args *a);
int na_doctor_parse(int argc, char **argv, struct na_doctor_args *a);
int na_report_parse(int argc, char **argv, struct na_report_args *a);

/*
 * agent --listen ADDR:PORT over configuration c, by the configuration's own
 * rules. It runs after the configuration is loaded (a usage error of
 * --listen comes after one of the file), so it is not in na_agent_parse().
 * 0, or -errno after reporting.
 */
int na_agent_listen(struct na_conf *c, const char *listen);

#endif
