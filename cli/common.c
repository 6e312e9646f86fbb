// SPDX-License-Identifier: (BSD-2-Clause OR GPL-2.0)
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "commands.h"
#include "common.h"

void na_att_explain(char *buf, size_t len, const struct na_att_state *a, int busy)
{
	switch (a->phase) {
	case NA_ATT_LIVE:
		buf[0] = '\0';
		break;
	case NA_ATT_INACTIVE:
		snprintf(buf, len, busy ? "being attached now"
					: "its attach stopped before its last step: it counts nothing until the next netacct attach or detach finishes it");
		break;
	case NA_ATT_INCOMPLETE: {
		char abs[PATH_MAX];

		if (na_cgroup_abs(a->a.path, abs, sizeof(abs)))
			snprintf(abs, sizeof(abs), "%s", a->a.path);
		snprintf(buf, len, "%d of its %d programs are attached: part of its traffic is not counted; `netacct attach %s` attaches the rest",
			 a->programs, na_cgroup_prog_count(), abs);
		break;
	}
	case NA_ATT_ATTACHING:
		snprintf(buf, len, busy ? "being attached now"
					: "its attach stopped before its commit: it counts nothing; the next netacct attach or detach removes it");
		break;
	case NA_ATT_DETACHING:
		snprintf(buf, len, busy ? "being detached now"
					: "its detach stopped half-way; the next netacct attach or detach finishes it");
		break;
	case NA_ATT_UNLINKED:
		snprintf(buf, len, busy ? "being attached or detached now"
					: "an attach or detach of it stopped half-way: it has no program and counts nothing; the next netacct attach or detach removes it");
		break;
	}
}

static int open_snapshot(const struct na_global *g, struct na_state **st, struct na_snapshot *snap, int quiet,
			 int figs)
{
	char why[PATH_MAX + 256];
	size_t i;
	int err = na_state_open(g->pin_root, st);

	if (err == -ENOENT) {
		na_log(NA_LOG_ERROR, "nothing attached (no pinned state at %s; start with: netacct attach PATH)",
		       g->pin_root);
		return NA_EXIT_FAIL;
	}
	if (err)
		return NA_EXIT_FAIL;
	err = figs ? na_state_read_figs(*st, snap) : na_state_read(*st, snap);
	if (err) {
		na_state_close(*st);
		*st = NULL;
		return NA_EXIT_FAIL;
	}
	for (i = 0; !quiet && i < snap->natt; i++) {
		if (snap->att[i].phase == NA_ATT_LIVE)
			continue;
		na_att_explain(why, sizeof(why), &snap->att[i], snap->busy); /* na_log shows control characters as '?' */
		na_log(NA_LOG_WARN, "%s: %s", snap->att[i].a.path, why);
	}
	return NA_EXIT_OK;
}

int na_open_snapshot(const struct na_global *g, struct na_state **st, struct na_snapshot *snap)
{
	return open_snapshot(g, st, snap, 0, 0);
}

int na_open_snapshot_quiet(const struct na_global *g, struct na_state **st, struct na_snapshot *snap)
{
	return open_snapshot(g, st, snap, 1, 0);
}

int na_open_snapshot_figs(const struct na_global *g, struct na_state **st, struct na_snapshot *snap)
{
	return open_snapshot(g, st, snap, 0, 1);
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
