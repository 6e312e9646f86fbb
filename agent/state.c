// SPDX-License-Identifier: (BSD-2-Clause OR GPL-2.0)
/* Reading the pinned state: batched map reads, per-CPU sums, cgroup paths. */
#include <dirent.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "internal.h"

#define NA_BATCH 4096

struct na_state {
	char root[PATH_MAX];
	int socks_fd;
	int attached_fd;
	int ncpu;
	struct na_meta meta;
};

static void abi_hint(const char *root, const char *why)
{
	na_log(NA_LOG_ERROR,
	       "pinned state at %s: %s; this netacct speaks ABI version %d. Detach it with the netacct that created it, or run `netacct --pin-root %s detach --all` (drops its counters)",
	       root, why, NA_ABI_VERSION, root);
}

int na_dir_is_empty(const char *path)
{
	struct dirent *e;
	DIR *d = opendir(path);
	int empty = 1;

	if (!d)
		return 1;
	while ((e = readdir(d))) {
		if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) {
			empty = 0;
			break;
		}
	}
	closedir(d);
	return empty;
}

int na_meta_read(const char *root, struct na_meta *meta, int *have)
{
	struct bpf_map_info info = {};
	__u32 len = sizeof(info), zero = 0;
	struct na_meta m = {};
	char p[PATH_MAX];
	int fd, err = 0;

	if (have)
		*have = 0;
	snprintf(p, sizeof(p), "%s/na_meta", root);
	fd = bpf_obj_get(p);
	if (fd < 0) {
		err = -errno;
		if (err == -ENOENT && na_dir_is_empty(root))
			return 0;
		if (err == -ENOENT) {
			na_log(NA_LOG_ERROR,
			       "%s: holds pinned objects but no na_meta: not netacct's state; use another --pin-root",
			       root);
			return -EPROTO;
		}
		return na_err(err, "open %s%s", p, err == -EACCES || err == -EPERM ? " (run as root)" : "");
	}
	if (bpf_obj_get_info_by_fd(fd, &info, &len) || info.value_size != sizeof(m)) {
		abi_hint(root, "na_meta has another layout");
		err = -EPROTO;
		goto out;
	}
	if (bpf_map_lookup_elem(fd, &zero, &m)) {
		err = na_err(-errno, "read %s", p);
		goto out;
	}
	if (m.abi_version != NA_ABI_VERSION) {
		char why[64];

		snprintf(why, sizeof(why), "ABI version %u", m.abi_version);
		abi_hint(root, why);
		err = -EPROTO;
		goto out;
	}
	if (meta)
		*meta = m;
	if (have)
		*have = 1;
out:
	close(fd);
	return err;
}

static int obj_get(const char *root, const char *name)
{
	char p[PATH_MAX];
	int fd;

	snprintf(p, sizeof(p), "%s/%s", root, name);
	fd = bpf_obj_get(p);
	if (fd < 0)
		return na_err(-errno, "open %s%s", p, errno == EACCES || errno == EPERM ? " (run as root)" : "");
	return fd;
}

int na_state_open(const char *root, struct na_state **out)
{
	struct na_state *st;
	int have = 0, err;

	if (access(root, F_OK)) {
		err = -errno;
		if (err == -EACCES)
			return na_err(err, "%s (run as root)", root);
		return err; /* -ENOENT: nothing attached; the caller says so */
	}
	st = calloc(1, sizeof(*st));
	if (!st)
		return -ENOMEM;
	st->socks_fd = st->attached_fd = -1;
	snprintf(st->root, sizeof(st->root), "%s", root);
	err = na_meta_read(root, &st->meta, &have);
	if (err)
		goto fail;
	if (!have) {
		err = -ENOENT;
		goto fail;
	}
	st->ncpu = libbpf_num_possible_cpus();
	if (st->ncpu <= 0) {
		err = st->ncpu ? st->ncpu : -EINVAL;
		goto fail;
	}
	st->socks_fd = obj_get(root, "na_socks");
	if (st->socks_fd < 0) {
		err = st->socks_fd;
		goto fail;
	}
	st->attached_fd = obj_get(root, "na_attached");
	if (st->attached_fd < 0) {
		err = st->attached_fd;
		goto fail;
	}
	*out = st;
	return 0;
fail:
	na_state_close(st);
	return err;
}

void na_state_close(struct na_state *st)
{
	if (!st)
		return;
	if (st->socks_fd >= 0)
		close(st->socks_fd);
	if (st->attached_fd >= 0)
		close(st->attached_fd);
	free(st);
}

static int read_totals(struct na_state *st, __u64 id, struct na_att_state *a)
{
	size_t vsz = (sizeof(struct na_totals) + 7) & ~7ul;
	char p[PATH_MAX], name[64];
	__u64 *sum = (__u64 *)&a->t, *v;
	struct dirent *e;
	void *buf;
	__u32 zero = 0;
	int fd, cpu, err = 0;
	size_t k;
	DIR *d;

	snprintf(name, sizeof(name), "cg_%llu/totals", (unsigned long long)id);
	fd = obj_get(st->root, name);
	if (fd < 0)
		return fd;
	buf = calloc(st->ncpu, vsz);
	if (!buf) {
		close(fd);
		return -ENOMEM;
	}
	if (bpf_map_lookup_elem(fd, &zero, buf)) {
		err = na_err(-errno, "read %s/%s", st->root, name);
		goto out;
	}
	memset(&a->t, 0, sizeof(a->t));
	for (cpu = 0; cpu < st->ncpu; cpu++) {
		v = (__u64 *)((char *)buf + cpu * vsz);
		for (k = 0; k < sizeof(a->t) / sizeof(__u64); k++)
			sum[k] += v[k];
	}
	d = snprintf(p, sizeof(p), "%s/cg_%llu", st->root, (unsigned long long)id) < (int)sizeof(p) ? opendir(p) : NULL;
	a->programs = 0;
	while (d && (e = readdir(d)))
		a->programs += e->d_name[0] != '.' && strcmp(e->d_name, "totals");
	if (d)
		closedir(d);
out:
	free(buf);
	close(fd);
	return err;
}

static int cgroup_exists(const struct na_attach *a)
{
	struct na_cg2mount m;
	char p[PATH_MAX];
	struct stat s;

	if (na_cgroup2_mount(NULL, &m))
		return 0;
	if (strcmp(m.root, "/") && strncmp(a->path, m.root, strlen(m.root)))
		return 0;
	if (snprintf(p, sizeof(p), "%s%s", strcmp(m.dir, "/") ? m.dir : "",
		     a->path + (strcmp(m.root, "/") ? strlen(m.root) : 0)) >= (int)sizeof(p))
		return 0;
	return !stat(p, &s) && s.st_ino == a->cgroup_id;
}

static int read_attached(struct na_state *st, struct na_snapshot *snap)
{
	__u64 key, next;
	size_t cap = 0;
	int err;

	for (err = bpf_map_get_next_key(st->attached_fd, NULL, &next); !err;
	     err = bpf_map_get_next_key(st->attached_fd, &key, &next)) {
		struct na_att_state *a;

		key = next;
		if (snap->natt == cap) {
			cap = cap ? cap * 2 : 8;
			a = realloc(snap->att, cap * sizeof(*a));
			if (!a)
				return -ENOMEM;
			snap->att = a;
		}
		a = &snap->att[snap->natt];
		memset(a, 0, sizeof(*a));
		if (bpf_map_lookup_elem(st->attached_fd, &key, &a->a))
			continue; /* detached meanwhile */
		if (read_totals(st, key, a))
			continue; /* detached meanwhile, or reported */
		a->cgroup_exists = cgroup_exists(&a->a);
		snap->natt++;
	}
	return 0;
}

static int read_socks(struct na_state *st, struct na_snapshot *snap)
{
	DECLARE_LIBBPF_OPTS(bpf_map_batch_opts, opts);
	struct na_sock *vals = NULL;
	__u64 *keys = NULL, token = 0;
	size_t cap = 0, i;
	int err = 0, first = 1;
	__u32 n;

	keys = malloc(NA_BATCH * sizeof(*keys));
	vals = malloc(NA_BATCH * sizeof(*vals));
	if (!keys || !vals) {
		err = -ENOMEM;
		goto out;
	}
	for (;;) {
		n = NA_BATCH;
		err = bpf_map_lookup_batch(st->socks_fd, first ? NULL : &token, &token, keys, vals, &n, &opts);
		if (err)
			err = -errno;
		first = 0;
		if (snap->nrows + n > cap) {
			struct na_sock_row *r;

			cap = (snap->nrows + n) * 2;
			r = realloc(snap->rows, cap * sizeof(*r));
			if (!r) {
				err = -ENOMEM;
				goto out;
			}
			snap->rows = r;
		}
		for (i = 0; i < n; i++) {
			snap->rows[snap->nrows].cookie = keys[i];
			snap->rows[snap->nrows].s = vals[i];
			snap->rows[snap->nrows].cgroup = NULL;
			snap->nrows++;
		}
		if (err == -ENOENT) {
			err = 0;
			break;
		}
		if (err) {
			na_err(err, "read %s/na_socks", st->root);
			break;
		}
	}
out:
	free(keys);
	free(vals);
	return err;
}

int na_state_read(struct na_state *st, struct na_snapshot *snap)
{
	size_t i;
	int err;

	memset(snap, 0, sizeof(*snap));
	snap->meta = st->meta;
	err = read_attached(st, snap);
	if (!err)
		err = read_socks(st, snap);
	snap->boot_ns = na_boot_ns();
	if (!err)
		err = na_cgpaths_new(&snap->paths);
	if (err) {
		na_snapshot_free(snap);
		return err;
	}
	for (i = 0; i < snap->natt; i++)
		if (snap->att[i].cgroup_exists)
			na_cgpaths_add_tree(snap->paths, snap->att[i].a.path);
	for (i = 0; i < snap->nrows; i++)
		snap->rows[i].cgroup = na_cgpaths_get(snap->paths, snap->rows[i].s.cgroup_id);
	return 0;
}

void na_snapshot_free(struct na_snapshot *snap)
{
	free(snap->att);
	free(snap->rows);
	na_cgpaths_free(snap->paths);
	memset(snap, 0, sizeof(*snap));
}
