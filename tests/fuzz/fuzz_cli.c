// SPDX-License-Identifier: (BSD-2-Clause OR GPL-2.0)
/*
 * libFuzzer target for the command line (docs/testing.md): the
 * real parse steps of cli/args.h, which the commands run before anything
 * else, so a fuzz run attaches, loads, writes, forks and listens nothing.
 *
 * Input: the first byte picks what parses, the rest is split on NUL bytes
 * into argv[1..] (at most MAX_ARGS; argv[0] is the command's name, as main()
 * passes it):
 *   0  netacct's own argv: global options and the command lookup
 *      (na_main_parse), then that command's parse step, as main() runs them
 *   1..12  one command's argv: attach detach status export top log agent
 *      run trace doctor help report
 * Every parse must return 0 or NA_EXIT_USAGE without a memory error or
 * undefined behaviour (ASan and UBSan), and what a successful parse yields
 * must keep the documented bounds, checked below (abort() otherwise).
 *
 * Usage errors and help go to /dev/null: stdout and stderr are replaced as
 * FILE pointers only (glibc lets a program assign them), so that libFuzzer
 * and the sanitizers still report on file descriptor 2. NA_FUZZ_VERBOSE=1
 * keeps the messages, to look at what an input does.
 */
#include <getopt.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "args.h"
#include "netacct.h"

#define MAX_ARGS 128 /* above the 64 PATHs of top and trace, to reach their limits */

static void check(int ok)
{
	if (!ok)
		abort();
}

/* The PATH or CMD arguments: the tail of argv, in order, NULL-terminated like argv. */
static void check_pos(char **pos, int npos, int argc, char **argv)
{
	check(npos >= 0 && npos <= argc);
	check(!npos || (pos >= argv && pos + npos <= argv + argc));
	if (pos)
		check(pos[npos] == NULL);
}

static void attach(int argc, char **argv)
{
	struct na_attach_args a;

	if (na_attach_parse(argc, argv, &a) || a.help)
		return;
	check(a.npos >= 1);
	check_pos(a.pos, a.npos, argc, argv);
	check(!a.ao.max_sockets || (a.ao.max_sockets >= 16 && a.ao.max_sockets <= 1u << 24));
	check(!a.ao.max_closed || (a.ao.max_closed >= 16 && a.ao.max_closed <= 1u << 24));
	check(!a.ao.log_bytes || (a.ao.log_bytes >= 4096 && a.ao.log_bytes <= 1u << 30 &&
				  !(a.ao.log_bytes & (a.ao.log_bytes - 1))));
	check(a.ao.group_set || !a.ao.gid);
	check(a.ao.gid != (uint32_t)-1); /* not a gid: na_parse_group refuses it */
}

static void detach(int argc, char **argv)
{
	struct na_detach_args a;

	if (na_detach_parse(argc, argv, &a) || a.help)
		return;
	check(a.all ? !a.npos : a.npos >= 1);
	check_pos(a.pos, a.npos, argc, argv);
}

static void status(int argc, char **argv)
{
	struct na_status_args a;

	na_status_parse(argc, argv, &a);
}

static void export(int argc, char **argv)
{
	struct na_export_args a;

	if (na_export_parse(argc, argv, &a) || a.help)
		return;
	check(a.fmt == OUT_CSV || a.fmt == OUT_JSON || a.fmt == OUT_PROM);
	check(a.fmt != OUT_PROM || (!a.grouped && a.header));
	check(a.group < NA_G_COUNT);
	check_pos(a.pos, a.npos, argc, argv);
}

static void top(int argc, char **argv)
{
	struct na_top_args a;
	int first, i, j, found;

	if (na_top_parse(argc, argv, &a) || a.help)
		return;
	first = optind; /* where getopt_long left the PATH arguments */
	check(a.o.interval >= 0.1 && a.o.interval <= 3600);
	check(a.o.iterations >= 0 && a.o.iterations <= 1000000000);
	check(a.o.limit >= 0 && a.o.limit <= 1000000000);
	check(a.o.sort <= NA_C_COUNT);
	check(a.o.view.group < NA_G_COUNT);
	check(a.o.view.pid <= 4194304);
	check(a.o.view.proto >= -1 && a.o.view.proto <= NA_P_ICMPV6);
	check(!a.o.view.paths && !a.o.paths.n); /* the run step resolves them */
	check(a.ncg >= 0 && a.ncg <= NA_TOP_MAX_CG);
	/* Every PATH argument filters: none may be dropped. */
	for (i = first; i < argc; i++) {
		for (j = 0, found = 0; j < a.ncg && !found; j++)
			found = a.cg[j] == argv[i];
		check(found);
	}
}

static void log_(int argc, char **argv)
{
	struct na_log_args a;

	if (na_log_parse(argc, argv, &a) || a.help)
		return;
	check(a.fmt == FMT_TABLE || a.fmt == FMT_CSV || a.fmt == FMT_JSON);
}

static void agent(int argc, char **argv)
{
	struct na_agent_args a;
	struct na_conf c;
	size_t n;
	uint64_t port;
	const char *p;

	if (na_agent_parse(argc, argv, &a) || a.help)
		return;
	check(a.conf_path != NULL);
	if (!a.listen)
		return;
	/* The value parser of --listen, as the agent applies it over a loaded configuration. */
	na_conf_defaults(&c);
	if (na_agent_listen(&c, a.listen))
		return;
	check(c.listen_port >= 1);
	n = strnlen(c.listen_addr, sizeof(c.listen_addr));
	check(n > 0 && n < sizeof(c.listen_addr));
	/* The address is the argument's, and the rest is ":PORT", nothing more. */
	p = a.listen;
	if (p[0] == '[')
		p++;
	check(!strncmp(p, c.listen_addr, n));
	p += n;
	if (a.listen[0] == '[')
		check(*p++ == ']');
	check(*p++ == ':');
	check(!na_parse_u64(p, 1, 65535, &port) && port == c.listen_port);
	na_conf_free(&c);
}

static void run(int argc, char **argv)
{
	struct na_run_args a;

	if (na_run_parse(argc, argv, &a) || a.help)
		return;
	check(a.npos >= 1 && a.pos[0]);
	check_pos(a.pos, a.npos, argc, argv);
	if (a.name) /* one directory below the parent, never a path out of it */
		check(a.name[0] && !strchr(a.name, '/') && strcmp(a.name, ".") && strcmp(a.name, "..") &&
		      strlen(a.name) < NA_RUN_NAME_MAX);
	check(a.fmt >= 0 && a.fmt <= 2);
}

static void trace(int argc, char **argv)
{
	struct na_trace_args a;

	if (na_trace_parse(argc, argv, &a) || a.help)
		return;
	check(a.cfg.pid <= 0x7fffffff);
	check(a.cfg.proto <= NA_P_ICMPV6 + 1);
	check(a.cfg.dir <= 2);
	check(a.cfg.rate <= 10000000);
	check(a.count <= 0xffffffffULL);
	check(a.npos <= NA_TRACE_MAX_CG);
	check_pos(a.pos, a.npos, argc, argv);
}

static void doctor(int argc, char **argv)
{
	struct na_doctor_args a;

	if (na_doctor_parse(argc, argv, &a) || a.help)
		return;
	check(a.npos <= NA_DOCTOR_MAX_PATHS);
	check_pos(a.pos, a.npos, argc, argv);
}

static void report(int argc, char **argv)
{
	struct na_report_args a;
	int64_t t;

	if (na_report_parse(argc, argv, &a) || a.help)
		return;
	check(a.every >= -1 && a.every <= 3);
	check(a.by >= 0 && a.by <= 2);
	check(a.fmt >= REPORT_TABLE && a.fmt <= REPORT_CHART);
	check(a.top <= 1000000);
	check(!a.cgroup || a.cgroup[0] == '/');
	check(!a.db || a.db[0]);
	/* a WHEN the parse step took is one the run step can resolve, whenever it runs */
	check(!a.since || !na_when_parse(a.since, 1800000000, &t));
	check(!a.until || !na_when_parse(a.until, 1800000000, &t));
}

static void help(int argc, char **argv)
{
	const struct na_global g = { .pin_root = NA_DEFAULT_PIN_ROOT };
	int rc = cmd_help(argc, argv, &g);

	check(rc == NA_EXIT_OK || rc == NA_EXIT_USAGE);
}

static const struct {
	const char *name;
	void (*parse)(int argc, char **argv);
} cmds[] = {
	{ "attach", attach }, { "detach", detach }, { "status", status }, { "export", export },
	{ "top", top },	      { "log", log_ },	    { "agent", agent },	  { "run", run },
	{ "trace", trace },   { "doctor", doctor }, { "help", help },   { "report", report },
};


static void netacct(int argc, char **argv)
{
	struct na_main_args m;
	size_t i;

	if (na_main_parse(argc, argv, &m) || m.help || m.version)
		return;
	check(m.cmd && m.argc >= 1 && m.argv == argv + (argc - m.argc));
	check(!strncmp(m.cmd->name, m.argv[0], strlen(m.argv[0]))); /* a name or a prefix of it */
	check(m.g.pin_root && m.g.pin_root[0] == '/');
	optind = 0; /* as main() does before the command */
	for (i = 0; i < NA_ARRAY_SIZE(cmds); i++)
		if (!strcmp(cmds[i].name, m.cmd->name))
			cmds[i].parse(m.argc, m.argv);
}

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	if (!getenv("NA_FUZZ_VERBOSE")) {
		stdout = fopen("/dev/null", "w");
		stderr = fopen("/dev/null", "w");
		if (!stdout || !stderr)
			abort();
	}
	/* A NETACCT_PIN_ROOT of the environment would change what selector 0 accepts. */
	unsetenv(NA_PIN_ROOT_ENV);
	opterr = 0; /* as main() sets it: our own messages, not getopt's */
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *argv[MAX_ARGS + 2], *buf, *p, *end;
	unsigned sel;
	int argc = 1;

	if (size < 1)
		return 0;
	sel = data[0] % (NA_ARRAY_SIZE(cmds) + 1);
	/* A copy of exactly the input, NUL-terminated: an overread hits ASan's redzone. */
	buf = malloc(size);
	if (!buf)
		return 0;
	memcpy(buf, data + 1, size - 1);
	buf[size - 1] = '\0';
	argv[0] = sel ? (char *)cmds[sel - 1].name : "netacct";
	for (p = buf, end = buf + size - 1; size > 1 && argc <= MAX_ARGS; p += strlen(p) + 1) {
		argv[argc++] = p;
		if (p + strlen(p) >= end)
			break;
	}
	argv[argc] = NULL;
	/*
	 * getopt_long keeps its state (optind, and glibc's position inside a
	 * cluster of short options) between calls; optind = 0 makes glibc
	 * start over completely, as main() does between its parse and the
	 * command's.
	 */
	optind = 0;
	if (sel)
		cmds[sel - 1].parse(argc, argv);
	else
		netacct(argc, argv);
	free(buf);
	return 0;
}
