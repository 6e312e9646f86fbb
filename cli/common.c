// SPDX-License-Identifier: (BSD-2-Clause OR GPL-2.0)
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "commands.h"

int na_open_snapshot(const struct na_global *g, struct na_state **st, struct na_snapshot *snap)
{
	int err = na_state_open(g->pin_root, st);

	if (err == -ENOENT) {
		na_log(NA_LOG_ERROR, "nothing attached (no pinned state at %s; start with: netacct attach PATH)",
		       g->pin_root);
		return NA_EXIT_FAIL;
	}
	if (err)
		return NA_EXIT_FAIL;
	err = na_state_read(*st, snap);
	if (err) {
		na_state_close(*st);
		*st = NULL;
		return NA_EXIT_FAIL;
	}
	return NA_EXIT_OK;
}

int na_filter_init(struct na_filter *f, char **paths, int n)
{
	int i;

	f->n = 0;
	f->cg = NULL;
	if (n <= 0)
		return NA_EXIT_OK;
	f->cg = calloc(n, sizeof(*f->cg));
	if (!f->cg)
		return NA_EXIT_FAIL;
	for (i = 0; i < n; i++) {
		/* The resolver says what is wrong with the path, in one line. */
		if (na_cgroup_resolve(paths[i], &f->cg[i])) {
			na_filter_free(f);
			return NA_EXIT_FAIL;
		}
		f->n++;
	}
	return NA_EXIT_OK;
}

int na_filter_match(const struct na_filter *f, const char *rel, uint64_t cgid)
{
	int i;

	if (!f->n)
		return 1;
	for (i = 0; i < f->n; i++)
		if (cgid == f->cg[i].id || na_path_below(rel, f->cg[i].rel))
			return 1;
	return 0;
}

void na_filter_free(struct na_filter *f)
{
	free(f->cg);
	f->cg = NULL;
	f->n = 0;
}
