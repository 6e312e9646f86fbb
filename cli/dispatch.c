// SPDX-License-Identifier: (BSD-2-Clause OR GPL-2.0)
/*
 * netacct [global options] COMMAND [options] [args]: one table drives
 * dispatch and help. main() (main.c) is na_main_parse() and the command.
 */
#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include <bpf/libbpf.h>

#include "args.h"

/*
 * The one description of the commands: dispatch, `netacct help` and each
 * usage line come from it. README.md's usage block is `netacct help` word
 * for word, and netacct(8)'s SYNOPSIS and command headings spell each
 * command's arguments as args does (ctest cli.usage_docs checks both).
 */
static const struct na_cmd cmds[] = {
	{ "attach", cmd_attach, "[--max-sockets N] [--max-closed N] [--max-peers N] [--log-size BYTES] [--group GROUP] PATH...", "start counting the traffic of the cgroup v2 PATHs; counting goes on after it returns", &na_attach_spec },
	{ "detach", cmd_detach, "PATH... | --all", "stop counting (the programs detach; the maps and counters go with the last one)", &na_detach_spec },
	{ "status", cmd_status, "[--json]", "attached cgroups, programs, map fill, error counters", &na_status_spec },
	{ "export", cmd_export, "[--csv|--json|--prometheus] [--group-by GROUP] [--networks FILE] [--no-header] [-o|--output FILE[.gz]] [PATH...]", "snapshot: cgroup totals, then live sockets and closed connections, or one row per GROUP (socket, process, cgroup, peer, unit, container, pod, peer-class); -o FILE appears whole or not at all (.gz: gzip)", &na_export_spec },
	{ "top", cmd_top, "[--batch] [-d|--interval S] [-n|--iterations N] [--sort COL] [--group-by GROUP] [--cgroup PATH]... [--pid N] [--proto PROTO] [--limit N] [-b|--bits] [--full-path] [--networks FILE] [PATH...]", "live view: the busiest sockets (or processes, cgroups, peers, units, containers, pods, peer classes) and the cgroups' rates; --batch prints plain frames", &na_top_spec },
	{ "log", cmd_log, "[-f|--follow] [--csv|--json] [-H|--human] [--networks FILE]", "one record per closed connection, like tcplife (reading consumes them)", &na_log_spec },
	{ "agent", cmd_agent, "[--config FILE] [--listen ADDR:PORT] [--networks FILE] [--detach-on-exit]", "service: attach what the configuration names, serve Prometheus metrics on /metrics (default 127.0.0.1:9477)", &na_agent_spec },
	{ "report", cmd_report, "[--db FILE] [--since WHEN] [--until WHEN] [--every 5m|hour|day|month] [--by cgroup|process|peer] [--cgroup PATH] [--csv|--json|--chart] [--svg FILE] [--png FILE] [--top N]", "what each cgroup, process or peer sent and received, per 5 minutes, hour, day or month, from the history the agent records (no agent needed)", &na_report_spec },
	{ "run", cmd_run, "[--name NAME] [--parent DIR] [--keep] [--csv|--json] -- CMD [ARGS...]", "run CMD in a counted cgroup, its network bill on stderr", &na_run_spec },
	{ "trace", cmd_trace, "[--pid N] [--port N] [--proto P] [--dir tx|rx] [--rate N] [--count N] [--json] [PATH...]", "one line per packet while it runs (filters in the kernel; no cost otherwise)", &na_trace_spec },
	{ "doctor", cmd_doctor, "[--json] [PATH...]", "check what netacct needs from this host (and from cgroup PATHs), with fixes", &na_doctor_spec },
	{ "help", cmd_help, "[COMMAND]", "this text, or one command's usage", NULL },
	{ "version", cmd_version, "", "print the version and ABI version", NULL },
};

#define NCMDS NA_ARRAY_SIZE(cmds)

const struct na_cmd *na_cmd_at(size_t i)
{
	return i < NCMDS ? &cmds[i] : NULL;
}

#define HELP_WIDTH 80

/*
 * s from column col on, wrapped before HELP_WIDTH at blanks (with brackets,
 * not at those inside [...]: "[--group GROUP]" stays whole), the lines after
 * the first indented by indent. Ends the line.
 */
static void put_wrapped(FILE *f, const char *s, int col, int indent, int brackets)
{
	int first = 1;

	while (*s) {
		const char *e = s;
		int depth = 0, n;

		while (*e && (*e != ' ' || depth > 0)) {
			if (brackets && *e == '[')
				depth++;
			else if (brackets && *e == ']' && depth > 0)
				depth--;
			e++;
		}
		n = (int)(e - s);
		if (!first && col + 1 + n >= HELP_WIDTH) {
			fprintf(f, "\n%*s", indent, "");
			col = indent;
		} else if (!first) {
			fputc(' ', f);
			col++;
		}
		fwrite(s, 1, (size_t)n, f);
		col += n;
		first = 0;
		for (s = e; *s == ' '; s++)
			;
	}
	fputc('\n', f);
}

static void usage(FILE *f)
{
	size_t i;
	int col;

	fprintf(f, "Usage: netacct [--pin-root DIR] [-v] COMMAND [options] [args]\n\n"
		   "Exact per-socket network accounting for cgroup v2.\n\nCommands:\n");
	for (i = 0; i < NCMDS; i++) {
		col = fprintf(f, "  %s%s", cmds[i].name, *cmds[i].args ? " " : "");
		put_wrapped(f, cmds[i].args, col, col, 1);
		fprintf(f, "    ");
		put_wrapped(f, cmds[i].help, 4, 4, 0);
	}
	fprintf(f, "\nGlobal options:\n"
		   "  --pin-root DIR  where pinned state lives (default %s,\n"
		   "                  or $%s)\n"
		   "  -v, --verbose   show libbpf's log and debug messages\n"
		   "  -h, --help      this text\n\n"
		   "Examples:\n"
		   "  netacct attach /sys/fs/cgroup/myapp\n"
		   "  netacct top --batch -n 2\n"
		   "  netacct export --csv > traffic.csv\n"
		   "  netacct detach /sys/fs/cgroup/myapp\n",
		NA_DEFAULT_PIN_ROOT, NA_PIN_ROOT_ENV);
}

/* The table's entry for an exact command name, or NULL. */
static const struct na_cmd *cmd_named(const char *name)
{
	size_t i;

	for (i = 0; i < NCMDS; i++)
		if (!strcmp(cmds[i].name, name))
			return &cmds[i];
	return NULL;
}

/* "Usage: netacct NAME ARGS", and with help the line that says what it does. */
static void cmd_usage(FILE *f, const struct na_cmd *c, int help)
{
	fprintf(f, "Usage: netacct %s%s%s\n", c->name, *c->args ? " " : "", c->args);
	if (help)
		fprintf(f, "  %s\n", c->help);
}

static int is_help(const char *arg)
{
	return !strcmp(arg, "-h") || !strcmp(arg, "--help");
}

int na_usage_error(const char *cmd, const char *fmt, ...)
{
	const struct na_cmd *c = cmd_named(cmd);
	va_list ap;

	fprintf(stderr, "netacct: %s: ", cmd);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	if (c)
		cmd_usage(stderr, c, 0);
	return NA_EXIT_USAGE;
}

int na_cmd_done(const struct na_opts *o, int rc, const void *args, int *code)
{
	*code = rc;
	if (rc)
		return 1;
	if (!na_opts_help_asked(o, args))
		return 0;
	if (!o->about) {
		cmd_usage(stdout, cmd_named(o->cmd), 1);
		return 1;
	}
	fputs(o->about, stdout);
	na_opts_help(stdout, o);
	if (o->help_tail)
		o->help_tail();
	return 1;
}

int cmd_help(int argc, char **argv, const struct na_global *g)
{
	const struct na_cmd *c;

	(void)g;
	if (argc > 2)
		return na_usage_error("help", "one COMMAND at most; '%s' is one too many", argv[2]);
	if (argc > 1 && !is_help(argv[1])) {
		c = cmd_named(argv[1]);
		if (!c)
			return na_usage_error("help", "unknown command '%s'", argv[1]);
		cmd_usage(stdout, c, 1);
		return 0;
	}
	usage(stdout);
	return 0;
}

int cmd_version(int argc, char **argv, const struct na_global *g)
{
	(void)g;
	if (argc == 2 && is_help(argv[1])) {
		cmd_usage(stdout, cmd_named("version"), 1);
		return 0;
	}
	if (argc > 1)
		return na_usage_error("version", "takes no arguments; got '%s'",
				      argc > 2 && is_help(argv[1]) ? argv[2] : argv[1]);
	printf("netacct %s (ABI %d, libbpf %d.%d)\n", NETACCT_VERSION, NA_ABI_VERSION,
	       libbpf_major_version(), libbpf_minor_version());
	return 0;
}

/* Exact name, or a prefix that names one command only. */
static const struct na_cmd *find_cmd(const char *name)
{
	const struct na_cmd *hit = NULL;
	size_t i, n = strlen(name);

	for (i = 0; i < NCMDS; i++) {
		if (!strcmp(cmds[i].name, name))
			return &cmds[i];
		if (!strncmp(cmds[i].name, name, n)) {
			if (hit)
				return NULL;
			hit = &cmds[i];
		}
	}
	return hit;
}


static const struct na_option main_opts[] = {
	NA_OPT_S(struct na_main_args, pin_opt, "pin-root", 0, "DIR", NULL),
	{ .name = "verbose", .short_name = 'v', .kind = NA_OPT_COUNT, NA_OPT_AT(struct na_main_args, verbose) },
	NA_OPT_HELP_ENTRY(struct na_main_args, help, NULL),
	{ .name = "version", .kind = NA_OPT_STOP, NA_OPT_AT(struct na_main_args, version) },
	{ 0 },
};

int na_main_parse(int argc, char **argv, struct na_main_args *a)
{
	/* in order: the first non-option is the command; what follows is its own. */
	static const struct na_opts o = { .opts = main_opts, .in_order = 1 };
	int rc;

	memset(a, 0, sizeof(*a));
	rc = na_opts_parse(&o, argc, argv, a);
	if (rc || a->help || a->version)
		return rc;
	a->g.pin_root = na_pin_root(a->pin_opt);
	if (a->g.pin_root[0] != '/') {
		na_log(NA_LOG_ERROR, "pin root '%s': must be an absolute path on bpffs", a->g.pin_root);
		return NA_EXIT_USAGE;
	}
	if (optind >= argc) {
		usage(stderr);
		return NA_EXIT_USAGE;
	}
	a->cmd = find_cmd(argv[optind]);
	if (!a->cmd) {
		na_log(NA_LOG_ERROR, "'%s': unknown or ambiguous command (netacct help lists them)", argv[optind]);
		return NA_EXIT_USAGE;
	}
	a->argv = argv + optind;
	a->argc = argc - optind;
	return 0;
}
