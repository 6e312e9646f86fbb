/* SPDX-License-Identifier: (BSD-2-Clause OR GPL-2.0) */
/* What log (cli/cmd_log.c) gives the agent: its connection record as a JSON line. */
#ifndef NETACCT_CLI_CMD_LOG_H
#define NETACCT_CLI_CMD_LOG_H

#include <stdint.h>
#include <stdio.h>

#include "netacct.h"

/*
 * One connection record as `netacct log --json` writes it (a JSON line);
 * offset is CLOCK_REALTIME - CLOCK_BOOTTIME in ns; names and classes (may
 * be NULL) fill the names and peer_class columns. 0, or -EIO when out
 * failed.
 */
int na_conn_json(FILE *out, struct na_connlog *l, const struct na_conn *c, int64_t offset, struct na_names *names,
		 const struct na_netclass *classes);

#endif
