// SPDX-License-Identifier: (BSD-2-Clause OR GPL-2.0)
/*
 * agent: the command (docs/agent.md). It parses the options and runs the
 * agent (agent/daemon.c), giving it what it presents: /metrics is
 * export --prom's families and the agent's own series (prom.c, series.c),
 * and a line of the log file is netacct log --json's record (cmd_log.c).
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "args.h"
#include "cmd_log.h"
#include "prom.h"
#include "series.h"

static const char agent_about[] =
	"Usage: netacct agent [--config FILE] [--listen ADDR:PORT] [--networks FILE] [--detach-on-exit]\n"
	"\n"
	"Run as a service: attach the cgroups the configuration names (paths or globs,\n"
	"scanned again every `rescan` seconds) and serve Prometheus metrics on\n"
	"http://ADDR:PORT/metrics. SIGHUP reloads the configuration, SIGTERM ends the\n"
	"agent and leaves the attachments counting.\n"
	"\n";

static const struct na_option agent_opts[] = {
	NA_OPT_S(struct na_agent_args, conf_path, "config", 0, "FILE",
		 "the configuration (default " NA_CONF_DEFAULT_PATH "; docs/agent.md)"),
	NA_OPT_S(struct na_agent_args, listen, "listen", 0, "ADDR:PORT",
		 "where to serve /metrics (overrides the config's listen;\n"
		 "                       default 127.0.0.1:" NA_STR(NA_CONF_DEFAULT_PORT) ")"),
	NA_OPT_S(struct na_agent_args, networks, "networks", 0, "FILE",
		 "peer classes (overrides the config's networks; default\n"
		 "                       " NA_NETWORKS_DEFAULT_PATH " when it exists; docs/names.md)"),
	NA_OPT_F(struct na_agent_args, detach_on_exit, "detach-on-exit", 0, 1,
		 "detach what the configuration attached when ending"),
	NA_OPT_HELP_ENTRY(struct na_agent_args, help, "this text"),
	{ 0 },
};

const struct na_opts na_agent_spec = { .cmd = "agent", .opts = agent_opts, .help_width = 21, .about = agent_about,
				       .pos = NA_ARGS_NONE("no arguments (the cgroups are in the configuration)") };

int na_agent_listen(struct na_conf *c, const char *listen)
{
	/*
	 * The configuration's own rule for the value, and the same refusal of
	 * blanks the configuration's line parser gives by trimming (fuzz.cli
	 * found ":9477 " accepted as :9477 when the value went through it).
	 */
	if (listen[strcspn(listen, " \t\r\n")] || na_conf_listen(listen, c)) {
		na_log(NA_LOG_ERROR, "--listen '%s': " NA_CONF_LISTEN_WHY, listen);
		return -EINVAL;
	}
	return 0;
}

int na_agent_parse(int argc, char **argv, struct na_agent_args *a)
{
	memset(a, 0, sizeof(*a));
	a->conf_path = NA_CONF_DEFAULT_PATH;
	return na_opts_parse(&na_agent_spec, argc, argv, a);
}

int cmd_agent(int argc, char **argv, const struct na_global *g)
{
	struct na_agent_opts o = { .pin_root = g->pin_root, .listen_apply = na_agent_listen, .conn_line = na_conn_json,
				   .metrics = na_series_metrics, .metrics_type = NA_PROM_CONTENT_TYPE };
	struct na_agent_args args;
	struct na_series *series = NULL;
	int err;

	/* First: a SIGHUP (systemctl reload) while starting must not end the agent. */
	na_agent_signals_hold();
	if (na_cmd_done(&na_agent_spec, na_agent_parse(argc, argv, &args), &args, &err))
		return err;
	o.conf_path = args.conf_path;
	o.listen = args.listen;
	o.networks = args.networks;
	o.detach_on_exit = args.detach_on_exit;
	if (na_series_new(&series)) {
		na_err(-ENOMEM, "agent: start");
		return NA_EXIT_FAIL;
	}
	o.metrics_ctx = series;
	err = na_agent_run(&o);
	na_series_free(series);
	return !err ? NA_EXIT_OK : err == NA_AGENT_LISTEN_REFUSED ? NA_EXIT_USAGE : NA_EXIT_FAIL;
}
