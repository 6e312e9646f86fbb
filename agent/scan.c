// SPDX-License-Identifier: (BSD-2-Clause OR GPL-2.0)
/*
 * The cgroups the agent's configuration names, as paths or glob(7)
 * patterns: expanded at start, at every rescan and at a reload, and attached
 * (a reload also detaches what it no longer names). A pattern that matches
 * nothing yet is looked at again by the next scan.
 */
#include <errno.h>
#include <glob.h>
#include <linux/magic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statfs.h>

#include "daemon.h"

static int is_cgroup2_dir(const char *p)
{
	struct statfs sfs;
	struct stat st;

	return !stat(p, &st) && S_ISDIR(st.st_mode) && !statfs(p, &sfs) && sfs.f_type == CGROUP2_SUPER_MAGIC;
}

static int listed(char **v, size_t n, const char *p)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (!strcmp(v[i], p))
			return 1;
	return 0;
}

/* Every cgroup2 directory the configuration's lines match now, without repeats. */
static int expand(const struct na_conf *c, char ***out, size_t *n)
{
	char **v = NULL, **nv;
	size_t i, j;
	glob_t g;
	int r;

	*n = 0;
	for (i = 0; i < c->nattach; i++) {
		r = glob(c->attach[i], GLOB_ONLYDIR | GLOB_BRACE, NULL, &g);
		if (r == GLOB_NOMATCH)
			continue; /* a service that does not exist yet: the next scan looks again */
		if (r) {
			globfree(&g);
			goto nomem;
		}
		for (j = 0; j < g.gl_pathc; j++) {
			if (!is_cgroup2_dir(g.gl_pathv[j]) || listed(v, *n, g.gl_pathv[j]))
				continue;
			nv = realloc(v, (*n + 1) * sizeof(*v));
			if (!nv || !(nv[*n] = strdup(g.gl_pathv[j]))) {
				v = nv ? nv : v;
				globfree(&g);
				goto nomem;
			}
			v = nv;
			(*n)++;
		}
		globfree(&g);
	}
	*out = v;
	return 0;
nomem:
	for (i = 0; i < *n; i++)
		free(v[i]);
	free(v);
	return -ENOMEM;
}

void na_agent_paths_free(char **v, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

/*
 * Attach what the configuration matches now; with `prune` (a reload),
 * detach what an earlier configuration matched and this one no longer does,
 * after attaching (so that a reload that swaps the whole set never empties
 * the pin root in between). A cgroup that no configuration matched is never
 * touched. A failed detach is kept on the list and tried again at the next
 * reload; other failures are reported and the next scan tries again.
 */
int na_agent_sync(struct na_agent *a, int prune)
{
	struct na_attach_opts ao = {
		.pin_root = a->pin_root,
		.max_sockets = a->conf.max_sockets,
		.max_closed = a->conf.max_closed,
		.max_peers = a->conf.max_peers,
		.log_bytes = a->conf.log_bytes,
		.group_set = a->conf.group_set,
		.gid = a->conf.gid,
		.log_private = a->conf.log_file[0] != '\0',
	};
	char **now = NULL;
	size_t n = 0, i, live = 0;
	int err;

	err = expand(&a->conf, &now, &n);
	if (err)
		return na_err(err, "agent: expand attach patterns");
	for (i = 0; i < n; i++) {
		/* group is applied on every attach: a changed group in the config takes effect */
		err = na_attach_cgroup(&ao, now[i]);
		if (!err)
			na_log(NA_LOG_INFO, "agent: %s: attached", now[i]);
		else if (err < 0)
			na_log(NA_LOG_WARN, "agent: %s: attach failed (the next scan tries again)", now[i]);
		live += err >= 0;
	}
	for (i = 0; prune && i < a->nattached; i++) {
		char **v;

		if (listed(now, n, a->attached[i]))
			continue;
		err = na_detach_cgroup(a->pin_root, a->attached[i]);
		if (!err || err == -ENOENT) {
			na_log(NA_LOG_INFO, "agent: %s: detached (no longer in %s)", a->attached[i], a->conf_path);
			continue;
		}
		v = realloc(now, (n + 1) * sizeof(*now)); /* kept: the next reload tries again */
		if (v) {
			now = v;
			now[n++] = a->attached[i];
			a->attached[i] = NULL;
		}
	}
	na_agent_paths_free(a->attached, a->nattached);
	a->attached = now;
	a->nattached = n;
	a->nlive = live;
	na_agent_publish(a);
	return 0;
}
