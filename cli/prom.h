/* SPDX-License-Identifier: (BSD-2-Clause OR GPL-2.0) */
/*
 * The per-cgroup counters of a snapshot in the Prometheus text exposition
 * format, version 0.0.4. Depends on libnetacct-agent and view.c's grouping
 * only (no CLI state), so that the agent can serve the same text over HTTP
 * and its sums are the ones top and export show.
 */
#ifndef NETACCT_CLI_PROM_H
#define NETACCT_CLI_PROM_H

#include <stdio.h>

#include "netacct.h"

/* The Content-Type an HTTP server sends with this text. */
#define NA_PROM_CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"

/*
 * The value to publish for a counter that can dip for a while (a cgroup's
 * retransmitted and duplicate bytes, low while a loss is being repaired):
 * the highest one published so far for key, v included. The agent keeps
 * them (na_series_hold()); a one-off export passes no hold function.
 */
typedef uint64_t (*na_prom_hold_fn)(void *ctx, const char *key, uint64_t v);

/*
 * Every metric family of the snapshot's attached cgroups (snap->att, in the
 * order of their paths; an attachment whose path another one already has is
 * left out, so that no series appears twice). Live and closed rows count
 * towards every attached cgroup at or above their leaf cgroup. 0, -ENOMEM,
 * or -EIO when writing to f failed.
 */
int na_prom_write(FILE *f, const struct na_snapshot *snap, na_prom_hold_fn hold, void *hold_ctx);

/*
 * A label value between its double quotes: backslash, double quote and
 * newline escaped as the format wants; bytes that are not UTF-8 (the format
 * requires it, cgroup names need not be) become U+FFFD.
 */
void na_prom_label_value(FILE *f, const char *s);

#endif
