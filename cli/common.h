/* SPDX-License-Identifier: (BSD-2-Clause OR GPL-2.0) */
/*
 * What several commands share (cli/common.c): the pinned state opened for
 * one snapshot, what a half-done attachment means, and the PATH filter of
 * export and top.
 */
#ifndef NETACCT_CLI_COMMON_H
#define NETACCT_CLI_COMMON_H

#include <stddef.h>
#include <stdint.h>

#include "netacct.h"

struct na_global;

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
/* na_open_snapshot() with top's figures of the live rows where the walk reads them (na_state_read_figs()), else rows. */
int na_open_snapshot_figs(const struct na_global *g, struct na_state **st, struct na_snapshot *snap);
/*
 * What an attachment that is not live means and what to do about it, in one
 * clause ("" for a live one). busy: an attach or detach held the lock.
 */
void na_att_explain(char *buf, size_t len, const struct na_att_state *a, int busy);

/* PATH arguments of export/top: rows at or below any of them (all rows when none). */
struct na_filter {
	int n;
	struct na_cgroup *cg;
};
int na_filter_init(struct na_filter *f, char **paths, int n);
int na_filter_match(const struct na_filter *f, const char *rel, uint64_t cgid);
void na_filter_free(struct na_filter *f);

#endif
