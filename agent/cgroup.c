// SPDX-License-Identifier: (BSD-2-Clause OR GPL-2.0)
/*
 * cgroup v2 discovery (the mount from /proc/self/mountinfo, never a fixed
 * path), and the create, enter and remove of netacct's own cgroups.
 */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <linux/magic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <time.h>
#include <unistd.h>

#include "netacct.h"

/* mountinfo escapes space, tab, newline and backslash as \ooo. */
static void unescape(char *s)
{
	char *d = s;

	for (; *s; s++) {
		if (s[0] == '\\' && s[1] >= '0' && s[1] <= '3' && s[2] >= '0' && s[2] <= '7' &&
		    s[3] >= '0' && s[3] <= '7') {
			*d++ = (char)((s[1] - '0') << 6 | (s[2] - '0') << 3 | (s[3] - '0'));
			s += 3;
		} else {
			*d++ = *s;
		}
	}
	*d = '\0';
}

/* The first five fields of a mountinfo line (cut at its " - "): the mount's root is [3], its mount point [4]. */
static int mountinfo_fields(char *line, char *fields[5])
{
	char *save = NULL, *tok = strtok_r(line, " ", &save);
	int i;

	for (i = 0; i < 5 && tok; i++, tok = strtok_r(NULL, " ", &save))
		fields[i] = tok;
	return i < 5 ? -EINVAL : 0;
}

static int path_has_prefix(const char *path, const char *dir)
{
	size_t n = strlen(dir);

	if (n == 1 && dir[0] == '/')
		return path[0] == '/';
	return !strncmp(path, dir, n) && (path[n] == '/' || path[n] == '\0');
}

int na_mountinfo_cgroup2(FILE *f, const char *under, struct na_cg2mount *m)
{
	char *line = NULL, *sep, *fields[5];
	size_t cap = 0, best = 0;
	int found = 0;

	while (getline(&line, &cap, f) > 0) {
		sep = strstr(line, " - ");
		if (!sep || strncmp(sep + 3, "cgroup2 ", 8))
			continue;
		*sep = '\0';
		if (mountinfo_fields(line, fields))
			continue;
		unescape(fields[3]);
		unescape(fields[4]);
		/* Both are absolute paths; an escape (\000) can leave one empty or relative. */
		if (fields[3][0] != '/' || fields[4][0] != '/' || strlen(fields[4]) >= sizeof(m->dir) ||
		    strlen(fields[3]) >= sizeof(m->root))
			continue;
		if (under) {
			if (!path_has_prefix(under, fields[4]) || strlen(fields[4]) < best)
				continue;
			best = strlen(fields[4]);
		}
		strcpy(m->dir, fields[4]);
		strcpy(m->root, fields[3]);
		found = 1;
		if (!under)
			break;
	}
	free(line);
	return found ? 0 : -ENOENT;
}

int na_mountinfo_v1(FILE *f, struct na_v1mounts *v)
{
	char *line = NULL, *sep, *fields[5], *opts, *o, *osave = NULL;
	size_t cap = 0;

	memset(v, 0, sizeof(*v));
	while (getline(&line, &cap, f) > 0) {
		sep = strstr(line, " - ");
		if (!sep || strncmp(sep + 3, "cgroup ", 7))
			continue;
		/* " - cgroup SOURCE SUPEROPTS" */
		opts = strrchr(sep + 3, ' ');
		if (!opts)
			continue;
		opts++;
		opts[strcspn(opts, "\n")] = '\0';
		*sep = '\0';
		if (mountinfo_fields(line, fields))
			continue;
		unescape(fields[4]);
		v->any = 1;
		for (o = strtok_r(opts, ",", &osave); o; o = strtok_r(NULL, ",", &osave)) {
			if (strcmp(o, "net_cls") && strcmp(o, "net_prio"))
				continue;
			if (!v->net[0])
				snprintf(v->net, sizeof(v->net), "%s", fields[4]);
		}
	}
	free(line);
	return 0;
}

/* ---- create, enter, remove ------------------------------------------------ */
/*
 * Plain syscalls on the cgroup2 filesystem, not libcgroup: libcgroup 2.0.2
 * makes, enters and removes a group only through the controllers added to
 * it; without one, each call returns 0 and does nothing, and netacct's
 * groups need none (measured by tests/reference/libcgroup_v2.c; docs/design.md).
 */
static int on_cgroup2(const char *dir)
{
	struct statfs sfs;

	if (statfs(dir, &sfs))
		return -errno;
	return sfs.f_type == CGROUP2_SUPER_MAGIC ? 0 : -EMEDIUMTYPE;
}

int na_cgroup_create(const char *path)
{
	char parent[PATH_MAX];
	size_t n = strlen(path);
	char *slash;
	int err;

	if (n >= sizeof(parent))
		return -ENAMETOOLONG;
	memcpy(parent, path, n + 1);
	while (n > 1 && parent[n - 1] == '/')
		parent[--n] = '\0';
	slash = strrchr(parent, '/');
	if (!slash)
		strcpy(parent, ".");
	else if (slash == parent)
		parent[1] = '\0'; /* "/NAME": the parent is "/" */
	else
		*slash = '\0';
	err = on_cgroup2(parent);
	if (err)
		return err;
	return mkdir(path, 0755) ? -errno : 0;
}

int na_cgroup_enter(const char *path, pid_t pid)
{
	static const char file[] = "/cgroup.procs";
	char procs[PATH_MAX], num[24], *p = num + sizeof(num);
	size_t n = strlen(path);
	unsigned long v = pid > 0 ? (unsigned long)pid : 0;
	ssize_t w;
	int fd, err;

	/* No stdio: this runs between fork and exec. The kernel reads 0 as "the writer". */
	*--p = '\n';
	do
		*--p = (char)('0' + v % 10);
	while (v /= 10);
	if (n + sizeof(file) > sizeof(procs))
		return -ENAMETOOLONG;
	err = on_cgroup2(path);
	if (err)
		return err;
	memcpy(procs, path, n);
	memcpy(procs + n, file, sizeof(file));
	fd = open(procs, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	w = write(fd, p, (size_t)(num + sizeof(num) - p));
	err = w < 0 ? -errno : w != num + sizeof(num) - p ? -EIO : 0;
	close(fd);
	return err;
}

int na_cgroup_remove(const char *path, int wait_ms)
{
	const struct timespec step = { .tv_nsec = 10 * 1000 * 1000 };
	int waited, err = on_cgroup2(path);

	if (err)
		return err;
	for (waited = 0;; waited += 10) {
		if (!rmdir(path))
			return 0;
		if (errno != EBUSY || waited >= wait_ms)
			return -errno;
		nanosleep(&step, NULL);
	}
}

int na_cgroup2_mount(const char *under, struct na_cg2mount *m)
{
	FILE *f = fopen("/proc/self/mountinfo", "re");
	int err;

	if (!f)
		return na_err(-errno, "open /proc/self/mountinfo");
	err = na_mountinfo_cgroup2(f, under, m);
	fclose(f);
	return err;
}

static int join_rel(char *out, size_t len, const char *root, const char *below)
{
	if (!strcmp(root, "/"))
		root = "";
	if (snprintf(out, len, "%s%s", root, below) >= (int)len)
		return -ENAMETOOLONG;
	if (!out[0])
		snprintf(out, len, "/");
	return 0;
}

int na_cgroup_resolve(const char *path, struct na_cgroup *cg)
{
	struct na_cg2mount m, any;
	struct statfs sfs;
	struct stat st;
	int err;

	if (!realpath(path, cg->abs))
		return na_err(-errno, "%s", path);
	if (stat(cg->abs, &st))
		return na_err(-errno, "%s", path);
	if (!S_ISDIR(st.st_mode)) {
		na_log(NA_LOG_ERROR, "%s: not a directory (give a cgroup v2 directory)", path);
		return -ENOTDIR;
	}
	if (statfs(cg->abs, &sfs))
		return na_err(-errno, "statfs %s", path);
	if (sfs.f_type != CGROUP2_SUPER_MAGIC) {
		char hint[PATH_MAX + 32] = " (no cgroup2 mount found)";

		if (!na_cgroup2_mount(NULL, &any))
			snprintf(hint, sizeof(hint), " (cgroup2 is mounted at %s)", any.dir);
		na_log(NA_LOG_ERROR, "%s: %s; netacct needs a cgroup v2 directory%s", path,
		       sfs.f_type == CGROUP_SUPER_MAGIC ? "a cgroup v1 hierarchy" : "not on a cgroup2 mount",
		       hint);
		return -EMEDIUMTYPE;
	}
	err = na_cgroup2_mount(cg->abs, &m);
	if (err) {
		na_log(NA_LOG_ERROR, "%s: no cgroup2 mount in /proc/self/mountinfo holds it", path);
		return err;
	}
	err = join_rel(cg->rel, sizeof(cg->rel), m.root, cg->abs + (strcmp(m.dir, "/") ? strlen(m.dir) : 0));
	if (err)
		return na_err(err, "%s", path);
	cg->id = st.st_ino;
	return 0;
}

/* ---- id -> path ---------------------------------------------------------- */
struct na_cgpaths {
	uint64_t *ids;
	char **paths;
	size_t cap, n;
};

int na_cgpaths_new(struct na_cgpaths **out)
{
	struct na_cgpaths *p = calloc(1, sizeof(*p));

	if (!p)
		return -ENOMEM;
	*out = p;
	return 0;
}

static size_t slot(const struct na_cgpaths *p, uint64_t id)
{
	size_t i = (size_t)(id * 0x9E3779B97F4A7C15ull) & (p->cap - 1);

	while (p->paths[i] && p->ids[i] != id)
		i = (i + 1) & (p->cap - 1);
	return i;
}

int na_cgpaths_put(struct na_cgpaths *p, uint64_t id, const char *rel)
{
	size_t i;

	if ((p->n + 1) * 2 > p->cap) {
		struct na_cgpaths g = { .cap = p->cap ? p->cap * 2 : 64 };

		g.ids = calloc(g.cap, sizeof(*g.ids));
		g.paths = calloc(g.cap, sizeof(*g.paths));
		if (!g.ids || !g.paths) {
			free(g.ids);
			free(g.paths);
			return -ENOMEM;
		}
		for (i = 0; i < p->cap; i++) {
			if (p->paths[i]) {
				size_t j = slot(&g, p->ids[i]);

				g.ids[j] = p->ids[i];
				g.paths[j] = p->paths[i];
			}
		}
		g.n = p->n;
		free(p->ids);
		free(p->paths);
		*p = g;
	}
	i = slot(p, id);
	if (p->paths[i])
		return 0;
	p->paths[i] = strdup(rel);
	if (!p->paths[i])
		return -ENOMEM;
	p->ids[i] = id;
	p->n++;
	return 0;
}

const char *na_cgpaths_get(const struct na_cgpaths *p, uint64_t id)
{
	return p->cap ? p->paths[slot(p, id)] : NULL;
}

void na_cgpaths_free(struct na_cgpaths *p)
{
	size_t i;

	if (!p)
		return;
	for (i = 0; i < p->cap; i++)
		free(p->paths[i]);
	free(p->ids);
	free(p->paths);
	free(p);
}

/* nftw has no user pointer: the walk's context is static, one per thread (the agent reads on two). */
static _Thread_local struct {
	struct na_cgpaths *p;
	const char *mount_dir;
	const char *mount_root;
	int err;
} walk;

static int walk_one(const char *fpath, const struct stat *sb, int type, struct FTW *ftw)
{
	char rel[PATH_MAX];

	(void)ftw;
	if (type != FTW_D)
		return 0;
	if (join_rel(rel, sizeof(rel), walk.mount_root,
		     fpath + (strcmp(walk.mount_dir, "/") ? strlen(walk.mount_dir) : 0)))
		return 0; /* too long to name: the row shows no path */
	walk.err = na_cgpaths_put(walk.p, sb->st_ino, rel);
	return walk.err ? 1 : 0;
}

/* rel (relative to the hierarchy's root) as a path under mount m. */
static int abs_under(const struct na_cg2mount *m, const char *rel, char *abs, size_t len)
{
	const char *below = rel;

	if (strcmp(m->root, "/")) {
		if (!path_has_prefix(rel, m->root))
			return -ENOENT;
		below = rel + strlen(m->root);
	}
	if ((size_t)snprintf(abs, len, "%s%s", strcmp(m->dir, "/") ? m->dir : "", below) >= len)
		return -ENAMETOOLONG;
	if (!abs[0])
		snprintf(abs, len, "/");
	return 0;
}

int na_cgroup_abs(const char *rel, char *abs, size_t len)
{
	struct na_cg2mount m;
	int err = na_cgroup2_mount(NULL, &m);

	return err ? err : abs_under(&m, rel, abs, len);
}

int na_cgpaths_add_tree(struct na_cgpaths *p, const char *rel)
{
	struct na_cg2mount m;
	char abs[PATH_MAX];
	int err;

	err = na_cgroup2_mount(NULL, &m);
	if (!err)
		err = abs_under(&m, rel, abs, sizeof(abs));
	if (err)
		return err;
	walk.p = p;
	walk.mount_dir = m.dir;
	walk.mount_root = m.root;
	walk.err = 0;
	if (nftw(abs, walk_one, 16, FTW_PHYS | FTW_MOUNT) && !walk.err)
		return -errno;
	return walk.err;
}
