/* SPDX-License-Identifier: (BSD-2-Clause OR GPL-2.0) */
/*
 * Series the agent adds to prom.c's: per leaf cgroup and (optionally) per
 * process, the socket rows, live and closed, as view.c groups and sums them
 * (na_view_build(), na_view_regroup()). A sum of rows can
 * fall when the closed-connection table is full and a closed socket is not
 * kept; the agent publishes each series' highest value so far, so that what
 * Prometheus reads as a counter never goes back (docs/agent.md).
 */
#ifndef NETACCT_CLI_SERIES_H
#define NETACCT_CLI_SERIES_H

#include <stdio.h>

#include "netacct.h"

struct na_series;

int na_series_new(struct na_series **out);
void na_series_free(struct na_series *s);
/*
 * The leaf-cgroup families, and with per_process_max > 0 the per-process
 * family: a process keeps its series once it has one; beyond per_process_max
 * processes, the others of a cgroup are summed under pid="other". 0 or -ENOMEM.
 */
int na_series_write(FILE *f, const struct na_snapshot *snap, struct na_series *s, unsigned per_process_max);
/*
 * With per_peer_max > 0, the per-peer family: for each attached cgroup, the
 * payload of its sockets by peer address (the peers of many-peer UDP sockets
 * included, docs/accounting.md); a peer keeps its series once it has one,
 * the ones beyond per_peer_max are summed under peer="other". 0 or -ENOMEM.
 */
int na_series_write_peers(FILE *f, const struct na_snapshot *snap, struct na_series *s, unsigned per_peer_max);
/*
 * The names of the cgroups (their unit, container, pod and namespace label
 * the per-leaf-cgroup series) and the peer classes; either may be NULL.
 */
void na_series_set_names(struct na_series *s, struct na_names *names, const struct na_netclass *classes);
/*
 * The per-class family: for each leaf cgroup and peer class, the payload its
 * sockets exchanged with peers of that class (docs/names.md): at most
 * (leaf cgroups x classes x 2) series, however many peers. Bytes without a
 * known peer are in none. 0 or -ENOMEM.
 */
int na_series_write_classes(FILE *f, const struct na_snapshot *snap, struct na_series *s);
/*
 * The agent's whole /metrics text (na_agent_opts.metrics, ctx a struct
 * na_series): prom.c's families, held by s, then the families above, as
 * configuration c asks for them. 0 or -errno.
 */
int na_series_metrics(void *ctx, FILE *f, const struct na_snapshot *snap, const struct na_conf *c,
		      struct na_names *names, const struct na_netclass *classes);
/* na_prom_hold_fn on s: the highest value published for key so far (v, when memory runs out). */
uint64_t na_series_hold(void *s, const char *key, uint64_t v);

#endif
