// SPDX-License-Identifier: (BSD-2-Clause OR GPL-2.0)
/* Reading the pinned state: batched map reads, per-CPU sums, cgroup paths. */
#include <dirent.h>
#include <errno.h>
#include <ftw.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "internal.h"

/*
 * valgrind does not know BPF_MAP_LOOKUP_BATCH (it warns "unhandled eBPF
 * command 24") and takes what the kernel wrote for uninitialised: tell it.
 * A no-op outside valgrind, and when its header is not installed.
 */
#if defined(__has_include)
#if __has_include(<valgrind/memcheck.h>)
#include <valgrind/memcheck.h>
#define NA_KERNEL_WROTE(p, n) VALGRIND_MAKE_MEM_DEFINED((p), (n))
#endif
#endif
#ifndef NA_KERNEL_WROTE
#define NA_KERNEL_WROTE(p, n) ((void)(p), (void)(n))
#endif

#define NA_BATCH 4096

struct na_state {
	char root[PATH_MAX];
	int socks_fd;
	int attached_fd;
	int closed_fd;
	int peers_fd;
	int dns_fd;
	int stats_fd;
	int log_fd;
	int cgpath_fd;
	int active_fd;
	int ncpu;
	struct na_meta meta;
	size_t last_nrows; /* rows at the last read: the next read's first guess */
	int have_read;
	__u64 *chunk_keys; /* NA_BATCH of each, reused by every read */
	struct na_row *chunk_rows;
	int walk;          /* NETACCT_READ: 1 walk, -1 batch, 0 the walk when it pays */
	struct na_reader *reader;
	__u32 socks_id;    /* na_socks' map id: is the pinned one still the one open here? */
};

/*
 * Below this many rows a batched read costs less than loading the reader's
 * program (a few ms), which a one-off command such as status pays once.
 */
#define NA_WALK_MIN_ROWS 4096

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

int na_obj_get(const char *path, int *rdonly)
{
	DECLARE_LIBBPF_OPTS(bpf_obj_get_opts, ro, .file_flags = BPF_F_RDONLY);
	int fd = bpf_obj_get(path), err;

	if (rdonly)
		*rdonly = 0;
	if (fd >= 0 || (errno != EACCES && errno != EPERM))
		return fd >= 0 ? fd : -errno;
	err = -errno;
	fd = bpf_obj_get_opts(path, &ro);
	if (fd < 0)
		return err;
	if (rdonly)
		*rdonly = 1;
	return fd;
}

const char *na_perm_hint(int err)
{
	return err == -EACCES || err == -EPERM
		       ? " (run as root, or as a member of the group given to `netacct attach --group`)"
		       : "";
}

/*
 * A pin root without na_meta: nothing attached when it is empty, or when it
 * holds only what an unfinished first attach or last detach left (the next
 * attach or detach removes it); not netacct's state when anything else is
 * there.
 */
static int meta_missing(const char *root)
{
	struct na_tree t;
	int err = na_tree_scan(root, &t);

	if (err)
		return err == -ENOENT ? 0 : err;
	if (t.nforeign) {
		na_log(NA_LOG_ERROR, "%s: holds pinned objects but no na_meta: not netacct's state (%s); use another --pin-root",
		       root, t.foreign);
		err = -EPROTO;
	} else if (t.nours && !na_root_busy(root)) {
		na_log(NA_LOG_WARN, "%s holds what an interrupted first attach or last detach left (no na_meta): nothing is attached; the next netacct attach or detach removes it",
		       root);
	}
	na_tree_free(&t);
	return err;
}

int na_meta_read(const char *root, struct na_meta *meta, int *have)
{
	struct bpf_map_info info = {};
	__u32 len = sizeof(info), zero = 0;
	struct na_meta m = {};
	char p[PATH_MAX];
	struct stat st;
	int fd, err = 0;

	if (have)
		*have = 0;
	err = na_pin_root_trust(root);
	if (err)
		return err == -ENOENT ? 0 : err;
	snprintf(p, sizeof(p), "%s/na_meta", root);
	if (!lstat(p, &st) && !S_ISREG(st.st_mode)) {
		na_log(NA_LOG_ERROR, "%s is a %s, not a pinned map: not netacct's state; use another --pin-root", p,
		       S_ISDIR(st.st_mode) ? "directory" : S_ISLNK(st.st_mode) ? "symbolic link" : "special file");
		return -EPROTO;
	}
	fd = na_obj_get(p, NULL);
	if (fd < 0) {
		err = fd;
		if (err == -ENOENT)
			return meta_missing(root);
		return na_err(err, "open %s%s", p, na_perm_hint(err));
	}
	if (bpf_obj_get_info_by_fd(fd, &info, &len) || info.value_size != sizeof(m)) {
		/* The version has come first in every layout: name it when it can be read. */
		__u32 v = 0;
		char why[64], *buf = info.value_size >= sizeof(v) && info.value_size <= 4096 ? calloc(1, info.value_size) : NULL;

		if (buf && !bpf_map_lookup_elem(fd, &zero, buf))
			memcpy(&v, buf, sizeof(v));
		free(buf);
		if (v && v != NA_ABI_VERSION) {
			snprintf(why, sizeof(why), "ABI version %u", v);
			abi_hint(root, why);
			if (meta)
				meta->abi_version = v;
		} else {
			abi_hint(root, "na_meta has another layout");
		}
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
		if (meta)
			meta->abi_version = m.abi_version; /* for a caller that names it */
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

	if ((size_t)snprintf(p, sizeof(p), "%s/%s", root, name) >= sizeof(p))
		return na_err(-ENAMETOOLONG, "open %s/%s", root, name);
	fd = na_obj_get(p, NULL);
	if (fd < 0)
		return na_err(fd, "open %s%s", p, na_perm_hint(fd));
	return fd;
}

int na_state_meta(const char *root, struct na_meta *meta, int *have)
{
	return na_meta_read(root, meta, have);
}

int na_state_open(const char *root, struct na_state **out)
{
	struct na_state *st;
	int have = 0, err;

	err = na_pin_root_trust(root);
	if (err)
		return err; /* -ENOENT: nothing attached; the caller says so (others are reported) */
	st = calloc(1, sizeof(*st));
	if (!st)
		return -ENOMEM;
	st->socks_fd = st->attached_fd = st->closed_fd = st->stats_fd = st->log_fd = st->cgpath_fd = -1;
	st->peers_fd = -1;
	st->dns_fd = -1;
	st->active_fd = -1;
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
	st->closed_fd = obj_get(root, "na_closed");
	st->stats_fd = obj_get(root, "na_stats");
	st->log_fd = obj_get(root, "na_log");
	st->cgpath_fd = obj_get(root, "na_cgpath");
	st->active_fd = obj_get(root, "na_active");
	st->peers_fd = obj_get(root, "na_peers");
	st->dns_fd = obj_get(root, "na_dns");
	{
		int fds[] = { st->attached_fd, st->closed_fd, st->stats_fd, st->log_fd, st->cgpath_fd, st->active_fd,
			      st->peers_fd, st->dns_fd };
		size_t i;

		for (i = 0; i < NA_ARRAY_SIZE(fds); i++) {
			if (fds[i] < 0) {
				err = fds[i];
				goto fail;
			}
		}
	}
	{
		struct bpf_map_info info = {};
		__u32 len = sizeof(info);

		if (!bpf_obj_get_info_by_fd(st->socks_fd, &info, &len))
			st->socks_id = info.id;
	}
	{
		const char *e = getenv("NETACCT_READ");

		st->walk = e && !strcmp(e, "walk") ? 1 : e && !strcmp(e, "batch") ? -1 : 0;
	}
	*out = st;
	return 0;
fail:
	na_state_close(st);
	return err;
}

/* The id of the map pinned at root/name, 0 when there is none (or it cannot be opened). */
static __u32 pinned_map_id(const char *root, const char *name)
{
	struct bpf_map_info info = {};
	__u32 len = sizeof(info);
	char p[PATH_MAX];
	int fd;

	if ((size_t)snprintf(p, sizeof(p), "%s/%s", root, name) >= sizeof(p))
		return 0;
	fd = na_obj_get(p, NULL);
	if (fd < 0)
		return 0;
	if (bpf_obj_get_info_by_fd(fd, &info, &len))
		info.id = 0;
	close(fd);
	return info.id;
}

int na_state_current(struct na_state *st)
{
	int err = na_pin_root_trust(st->root);

	if (err)
		return err;
	return st->socks_id && pinned_map_id(st->root, "na_socks") == st->socks_id;
}

void na_state_close(struct na_state *st)
{
	if (!st)
		return;
	na_reader_free(st->reader);
	free(st->chunk_keys);
	free(st->chunk_rows);
	if (st->socks_fd >= 0)
		close(st->socks_fd);
	if (st->attached_fd >= 0)
		close(st->attached_fd);
	if (st->closed_fd >= 0)
		close(st->closed_fd);
	if (st->stats_fd >= 0)
		close(st->stats_fd);
	if (st->log_fd >= 0)
		close(st->log_fd);
	if (st->cgpath_fd >= 0)
		close(st->cgpath_fd);
	if (st->active_fd >= 0)
		close(st->active_fd);
	if (st->peers_fd >= 0)
		close(st->peers_fd);
	if (st->dns_fd >= 0)
		close(st->dns_fd);
	free(st);
}

/* The attachment's totals, from its directory (none yet, or none left: zero). */
static int read_totals(struct na_state *st, const struct na_tree_att *dir, struct na_att_state *a)
{
	size_t vsz = (sizeof(struct na_totals) + 7) & ~7ul;
	__u64 *sum = (__u64 *)&a->t, *v;
	char name[PATH_MAX];
	void *buf;
	__u32 zero = 0;
	int fd, cpu, err = 0;
	size_t k;

	memset(&a->t, 0, sizeof(a->t));
	if (!dir || !dir->totals)
		return 0;
	if ((size_t)snprintf(name, sizeof(name), "%s/%s/%s", st->root, dir->name, na_totals_pin) >= sizeof(name))
		return na_err(-ENAMETOOLONG, "%s/%s", st->root, dir->name);
	fd = na_obj_get(name, NULL);
	if (fd < 0) /* gone meanwhile (a transaction under way): zero */
		return fd == -ENOENT ? 0 : na_err(fd, "open %s%s", name, na_perm_hint(fd));
	buf = calloc(st->ncpu, vsz);
	if (!buf) {
		close(fd);
		return -ENOMEM;
	}
	if (bpf_map_lookup_elem(fd, &zero, buf)) {
		err = na_err(-errno, "read %s", name);
		goto out;
	}
	for (cpu = 0; cpu < st->ncpu; cpu++) {
		v = (__u64 *)((char *)buf + cpu * vsz);
		for (k = 0; k < sizeof(a->t) / sizeof(__u64); k++)
			sum[k] += v[k];
	}
out:
	free(buf);
	close(fd);
	return err;
}

const char *na_att_phase_name(enum na_att_phase p)
{
	static const char *const names[] = {
		[NA_ATT_LIVE] = "live",           [NA_ATT_INACTIVE] = "inactive",   [NA_ATT_INCOMPLETE] = "incomplete",
		[NA_ATT_ATTACHING] = "attaching", [NA_ATT_DETACHING] = "detaching",   [NA_ATT_UNLINKED] = "unlinked",
	};

	return (unsigned)p < NA_ARRAY_SIZE(names) ? names[p] : "?";
}

/* Where the attachment's transaction stands, from its directory and na_active (docs/design.md). */
static void classify(struct na_state *st, const struct na_tree *t, __u64 id, struct na_att_state *a,
		     const struct na_tree_att **dir)
{
	const struct na_tree_att *live = na_tree_find(t, id, NA_DIR_LIVE), *old = na_tree_find(t, id, NA_DIR_OLD),
				 *nw = na_tree_find(t, id, NA_DIR_NEW);
	__u32 slot = NA_TOKEN_SLOT(a->a.token);
	__u64 cur = 0;

	a->active = !bpf_map_lookup_elem(st->active_fd, &slot, &cur) && cur == a->a.token;
	*dir = old ? old : live ? live : nw;
	a->programs = *dir ? (*dir)->nlinks : 0;
	if (old)
		a->phase = NA_ATT_DETACHING;
	else if (nw)
		a->phase = NA_ATT_ATTACHING;
	else if (!live)
		a->phase = NA_ATT_UNLINKED;
	else if (live->nlinks < na_cgroup_prog_count() || !live->totals)
		a->phase = NA_ATT_INCOMPLETE;
	else
		a->phase = a->active ? NA_ATT_LIVE : NA_ATT_INACTIVE;
}

static int cgroup_exists(const struct na_attach *a)
{
	char p[PATH_MAX];
	struct stat s;

	return !na_cgroup_abs(a->path, p, sizeof(p)) && !stat(p, &s) && s.st_ino == a->cgroup_id;
}

static int read_attached(struct na_state *st, struct na_snapshot *snap)
{
	struct na_tree t;
	__u64 key, next;
	size_t cap = 0, i;
	int err;

	/* Lock first, tree second: a transaction that ended in between shows as stopped, not the reverse. */
	snap->busy = na_root_busy(st->root);
	err = na_tree_scan(st->root, &t);
	if (err)
		return err;
	err = na_tree_check_trust(st->root, &t);
	if (err) {
		na_tree_free(&t);
		return err;
	}
	for (i = 0; i < na_nlinks; i++)
		snap->globals += na_links[i].kind == NA_LINK_GLOBAL && (t.globals & (1ull << i));
	for (err = bpf_map_get_next_key(st->attached_fd, NULL, &next); !err;
	     err = bpf_map_get_next_key(st->attached_fd, &key, &next)) {
		const struct na_tree_att *dir;
		struct na_att_state *a;

		key = next;
		if (snap->natt == cap) {
			cap = cap ? cap * 2 : 8;
			a = realloc(snap->att, cap * sizeof(*a));
			if (!a) {
				na_tree_free(&t);
				return -ENOMEM;
			}
			snap->att = a;
		}
		a = &snap->att[snap->natt];
		memset(a, 0, sizeof(*a));
		if (bpf_map_lookup_elem(st->attached_fd, &key, &a->a))
			continue; /* detached meanwhile */
		a->a.path[sizeof(a->a.path) - 1] = '\0'; /* a string read from a map: bounded here */
		classify(st, &t, key, a, &dir);
		if (read_totals(st, dir, a))
			continue; /* reported */
		a->cgroup_exists = cgroup_exists(&a->a);
		snap->natt++;
	}
	na_tree_free(&t);
	return 0;
}

/*
 * Every entry of a hash map, NA_BATCH at a time (BPF_MAP_LOOKUP_BATCH: a few
 * syscalls for the whole map). *keys and *vals are malloc'ed arrays of *n.
 */
static int batch_read(int fd, size_t ksz, size_t vsz, void **keys, void **vals, size_t *n)
{
	DECLARE_LIBBPF_OPTS(bpf_map_batch_opts, opts);
	size_t cap = NA_BATCH;
	__u64 token = 0;
	int err, first = 1;
	__u32 got;
	void *k, *v;

	*n = 0;
	*keys = malloc(cap * ksz);
	*vals = malloc(cap * vsz);
	if (!*keys || !*vals)
		return -ENOMEM;
	for (;;) {
		if (*n + NA_BATCH > cap) {
			cap *= 2;
			k = realloc(*keys, cap * ksz);
			if (k)
				*keys = k;
			v = realloc(*vals, cap * vsz);
			if (v)
				*vals = v;
			if (!k || !v)
				return -ENOMEM;
		}
		got = NA_BATCH;
		err = bpf_map_lookup_batch(fd, first ? NULL : &token, &token, (char *)*keys + *n * ksz,
					   (char *)*vals + *n * vsz, &got, &opts);
		err = err ? -errno : 0;
		NA_KERNEL_WROTE((char *)*keys + *n * ksz, got * ksz);
		NA_KERNEL_WROTE((char *)*vals + *n * vsz, got * vsz);
		NA_KERNEL_WROTE(&token, sizeof(token));
		first = 0;
		*n += got;
		if (err == -ENOENT)
			return 0;
		if (err)
			return err;
	}
}

/* No padding: na_sock_from_row() sets every byte (read_socks() does not clear rows first). */
_Static_assert(sizeof(struct na_sock) == 168, "struct na_sock has no padding");

void na_sock_from_row(struct na_sock *s, const struct na_row *r)
{
	int d;

	s->cgroup_id = r->cgroup_id;
	s->first_ns = r->first_ns;
	s->pid = r->pid;
	s->uid = r->uid;
	memcpy(s->comm, r->comm, NA_COMM_LEN);
	memcpy(s->laddr, r->laddr, 16);
	s->lport = r->lport;
	s->family = r->family;
	s->proto = r->proto;
	s->state = r->state;
	s->owner_src = r->owner_src;
	if (na_row_shows_peer(r->flags)) {
		memcpy(s->raddr, r->raddr, 16);
		s->rport = r->rport;
	} else { /* raddr/rport hold its first peer of many: it has no one peer */
		memset(s->raddr, 0, sizeof(s->raddr));
		s->rport = 0;
	}
	s->srtt_us = r->rx.srtt_us;
	s->flags = r->flags;
	for (d = 0; d < NA_NDIR; d++) {
		const struct na_row_dir *rd = NA_ROW_DIR(r, d);

		s->dir[d] = rd->c;
		s->dir[d].resent_bytes = na_resent(&rd->c);
	}
}

/* The number an fdinfo file (/proc/PID/fdinfo/FD) gives for key ("memlock"), or 0 when it gives none. */
static unsigned long long fdinfo_value(const char *path, const char *key)
{
	unsigned long long v = 0;
	size_t klen = strlen(key);
	FILE *f = fopen(path, "re");
	char line[128];

	while (f && fgets(line, sizeof(line), f))
		if (!strncmp(line, key, klen) && line[klen] == ':' && sscanf(line + klen + 1, "%llu", &v) == 1)
			break;
	if (f)
		fclose(f);
	return v;
}

/*
 * Rows in na_socks now, as a guess for the first read: the kernel's memory
 * figure for the map (fdinfo's memlock) grows by one element per row, and
 * starts at its buckets. Only the size of the first buffer depends on it: a
 * wrong guess costs one more walk, never a row.
 */
static size_t socks_guess(struct na_state *st)
{
	unsigned long long memlock, buckets = 1;
	char p[64];

	snprintf(p, sizeof(p), "/proc/self/fdinfo/%d", st->socks_fd);
	memlock = fdinfo_value(p, "memlock");
	while (buckets < st->meta.max_sockets)
		buckets <<= 1;
	/* a bucket is 16 bytes; an element its header, key and value, about 360 bytes */
	return memlock > buckets * 16 ? (size_t)((memlock - buckets * 16) / (sizeof(struct na_row) + 64)) : 0;
}

/* Is the reader's walk used here (NETACCT_READ, or it pays and may be loaded)? 0 with st->reader made, or -errno. */
/* The rows a read may find: as many as the last one read, or the table's count before any. */
static size_t expect_rows(struct na_state *st)
{
	return st->have_read ? st->last_nrows : socks_guess(st);
}

static int walk_wanted(struct na_state *st, size_t expect)
{
	if (st->walk < 0 || (!st->reader && st->walk == 0 && (expect < NA_WALK_MIN_ROWS || !na_can_write_state())))
		return -EOPNOTSUPP;
	return st->reader ? 0 : na_reader_new(st->socks_fd, st->meta.max_sockets, &st->reader);
}

/* The reader's walk, when it may be used and pays: 0, or -errno for the batched read. */
static int walk_socks(struct na_state *st, struct na_snapshot *snap)
{
	size_t expect = expect_rows(st);
	int err;

	err = walk_wanted(st, expect);
	if (err)
		return err;
	err = na_reader_read(st->reader, expect, &snap->rows, &snap->nrows, &snap->rows_buf);
	if (err && err != -EOPNOTSUPP && err != -EBUSY)
		na_log(NA_LOG_DEBUG, "read %s/na_socks with the reader's program: %s; batched reads", st->root,
		       strerror(-err));
	return err;
}

/*
 * na_socks NA_BATCH rows at a time through one reused buffer, each converted
 * into the snapshot at once: no copy of the whole map in its kernel layout.
 */
static int read_socks(struct na_state *st, struct na_snapshot *snap)
{
	DECLARE_LIBBPF_OPTS(bpf_map_batch_opts, opts);
	size_t cap = st->last_nrows + st->last_nrows / 8 + NA_BATCH, n = 0, i;
	struct na_sock_row *rows;
	__u64 token = 0;
	int err = 0, first = 1;
	__u32 got;

	if (!walk_socks(st, snap)) {
		st->last_nrows = snap->nrows;
		st->have_read = 1;
		return 0;
	}
	if (!st->chunk_keys)
		st->chunk_keys = malloc(NA_BATCH * sizeof(*st->chunk_keys));
	if (!st->chunk_rows)
		st->chunk_rows = malloc(NA_BATCH * sizeof(*st->chunk_rows));
	snap->rows = malloc(cap * sizeof(*snap->rows));
	if (!st->chunk_keys || !st->chunk_rows || !snap->rows)
		err = -ENOMEM;
	while (!err) {
		got = NA_BATCH;
		err = bpf_map_lookup_batch(st->socks_fd, first ? NULL : &token, &token, st->chunk_keys,
					   st->chunk_rows, &got, &opts);
		err = err ? -errno : 0;
		NA_KERNEL_WROTE(st->chunk_keys, got * sizeof(*st->chunk_keys));
		NA_KERNEL_WROTE(st->chunk_rows, got * sizeof(*st->chunk_rows));
		NA_KERNEL_WROTE(&token, sizeof(token));
		first = 0;
		if (n + got > cap) {
			cap = 2 * (n + got);
			rows = realloc(snap->rows, cap * sizeof(*rows));
			if (!rows) {
				err = -ENOMEM;
				break;
			}
			snap->rows = rows;
		}
		for (i = 0; i < got; i++) {
			snap->rows[n].cookie = st->chunk_keys[i];
			na_sock_from_row(&snap->rows[n].s, &st->chunk_rows[i]); /* every field */
			snap->rows[n].cgroup = NULL;
			n++;
		}
		if (err == -ENOENT) {
			err = 0;
			break;
		}
	}
	if (err) {
		free(snap->rows);
		snap->rows = NULL;
		return na_err(err, "read %s/na_socks", st->root);
	}
	snap->nrows = n;
	st->last_nrows = n;
	st->have_read = 1;
	return 0;
}

/*
 * A whole map into rows of rowsz bytes (zeroed, at least one), each with
 * its key at offset 0 and its value at voff: 0 with *rows and *n, or
 * -errno (nothing set).
 */
static int read_rows(int fd, size_t ksz, size_t vsz, size_t rowsz, size_t voff, void **rows, size_t *n)
{
	void *keys = NULL, *vals = NULL;
	char *r = NULL;
	size_t got = 0, i;
	int err;

	err = batch_read(fd, ksz, vsz, &keys, &vals, &got);
	if (!err) {
		r = calloc(got ? got : 1, rowsz);
		err = r ? 0 : -ENOMEM;
	}
	for (i = 0; !err && i < got; i++) {
		memcpy(r + i * rowsz, (char *)keys + i * ksz, ksz);
		memcpy(r + i * rowsz + voff, (char *)vals + i * vsz, vsz);
	}
	if (!err) {
		*rows = r;
		*n = got;
	}
	free(keys);
	free(vals);
	return err;
}

_Static_assert(offsetof(struct na_closed_row, k) == 0, "read_rows() puts the key first");
_Static_assert(offsetof(struct na_peer_row, k) == 0, "read_rows() puts the key first");

static int read_closed(struct na_state *st, struct na_snapshot *snap)
{
	int err = read_rows(st->closed_fd, sizeof(struct na_closed_key), sizeof(struct na_closed),
			    sizeof(*snap->closed), offsetof(struct na_closed_row, c), (void **)&snap->closed,
			    &snap->nclosed);

	return err ? na_err(err, "read %s/na_closed", st->root) : 0;
}

static int peer_cmp(const void *pa, const void *pb)
{
	const struct na_peer_row *a = pa, *b = pb;

	return NA_CMP(a->k.cookie, b->k.cookie);
}

static int read_peers(struct na_state *st, struct na_snapshot *snap)
{
	int err = read_rows(st->peers_fd, sizeof(struct na_peer_key), sizeof(struct na_peer), sizeof(*snap->peers),
			    offsetof(struct na_peer_row, p), (void **)&snap->peers, &snap->npeers);

	if (err)
		return na_err(err, "read %s/na_peers", st->root);
	if (snap->npeers)
		qsort(snap->peers, snap->npeers, sizeof(*snap->peers), peer_cmp);
	return 0;
}

const struct na_peer_row *na_snapshot_peers(const struct na_snapshot *snap, uint64_t cookie, size_t *n)
{
	size_t lo = 0, hi = snap->npeers, mid, end;

	while (lo < hi) {
		mid = (lo + hi) / 2;
		if (snap->peers[mid].k.cookie < cookie)
			lo = mid + 1;
		else
			hi = mid;
	}
	for (end = lo; end < snap->npeers && snap->peers[end].k.cookie == cookie; end++)
		;
	*n = end - lo;
	return *n ? &snap->peers[lo] : NULL;
}

static int read_names(struct na_state *st, struct na_snapshot *snap)
{
	struct na_dns_key *keys = NULL;
	struct na_dns_name *vals = NULL;
	size_t n = 0;
	int err;

	err = batch_read(st->dns_fd, sizeof(*keys), sizeof(*vals), (void **)&keys, (void **)&vals, &n);
	if (!err)
		err = na_peernames_from_map(keys, vals, n, &snap->peernames, &snap->npeernames);
	if (err)
		na_err(err, "read %s/na_dns", st->root);
	free(keys);
	free(vals);
	return err;
}

/*
 * Bytes the connection log holds, from the ring buffer's consumer and
 * producer positions (its first two pages, mapped read-only).
 */
static uint64_t log_pending(int fd)
{
	long page = sysconf(_SC_PAGESIZE);
	uint64_t pending = 0;
	void *cons, *prod;

	cons = mmap(NULL, page, PROT_READ, MAP_SHARED, fd, 0);
	if (cons == MAP_FAILED)
		return 0;
	prod = mmap(NULL, page, PROT_READ, MAP_SHARED, fd, page);
	if (prod != MAP_FAILED) {
		pending = __atomic_load_n((uint64_t *)prod, __ATOMIC_ACQUIRE) -
			  __atomic_load_n((uint64_t *)cons, __ATOMIC_ACQUIRE);
		munmap(prod, page);
	}
	munmap(cons, page);
	return pending;
}

/*
 * A row's cgroup path: the live tree first (and remembered in na_cgpath, so
 * that it outlives the directory), else the last path na_cgpath has for it
 * (written by the cgroup_mkdir tracepoint, or by an earlier read).
 */
static const char *cgroup_path(struct na_state *st, struct na_cgpaths *paths, uint64_t id)
{
	const char *p = na_cgpaths_get(paths, id);
	struct na_cgpath v;
	size_t n;

	if (p) {
		n = strlen(p);
		if (n < sizeof(v.path) && bpf_map_lookup_elem(st->cgpath_fd, &id, &v)) {
			memset(&v, 0, sizeof(v));
			memcpy(v.path, p, n);
			bpf_map_update_elem(st->cgpath_fd, &id, &v, BPF_NOEXIST); /* best effort: readers may be read-only */
		}
		return p;
	}
	if (bpf_map_lookup_elem(st->cgpath_fd, &id, &v) || !v.path[0])
		return NULL;
	v.path[sizeof(v.path) - 1] = '\0';
	return na_cgpaths_put(paths, id, v.path) ? NULL : na_cgpaths_get(paths, id);
}

static const char *cgroup_path_once(struct na_state *st, struct na_cgpaths *paths, struct na_cgpaths *seen,
				    uint64_t id)
{
	if (!na_cgpaths_get(seen, id)) {
		na_cgpaths_put(seen, id, "");
		return cgroup_path(st, paths, id);
	}
	return na_cgpaths_get(paths, id);
}

static int cg_live_cmp(const void *pa, const void *pb)
{
	const struct na_cg_live *a = pa, *b = pb;

	return a->id < b->id ? -1 : a->id > b->id;
}

const char *na_snapshot_cgroup(const struct na_snapshot *snap, uint64_t id)
{
	const struct na_cg_live key = { .id = id }, *c;

	c = snap->ncglive ? bsearch(&key, snap->cglive, snap->ncglive, sizeof(key), cg_live_cmp) : NULL;
	return c ? c->path : NULL;
}

/*
 * The one pass over the live rows: each gets its cgroup's path, and the
 * snapshot the rows per cgroup and those without an owner, so that the
 * readers need not pass over every row again for them (top's header,
 * na_owners_resolve()). Cgroups are found through a small table by id;
 * rows of one cgroup often follow each other: the previous row's first.
 */
static int rows_by_cgroup(struct na_state *st, struct na_snapshot *snap, struct na_cgpaths *seen)
{
	uint32_t *slot = NULL; /* index + 1 into snap->cglive, 0: empty */
	size_t mask = 0, cap = 0, i, k, at = 0;
	uint64_t last = 0;
	struct na_cg_live *c;

	size_t n = na_snapshot_nlive(snap);

	for (i = 0; i < n; i++) {
		struct na_sock_row *r = snap->figs.slots ? NULL : &snap->rows[i];
		const struct na_rd_fig *f = r ? NULL : &snap->figs.slots[i];
		uint64_t id = r ? r->s.cgroup_id : f->cgroup_id;
		uint8_t owner = r ? r->s.owner_src : f->owner_src, proto = r ? r->s.proto : f->proto;

		snap->unowned += na_unowned(owner, proto);
		if (i && id == last) {
			if (r)
				r->cgroup = snap->cglive[at].path;
			snap->cglive[at].live++;
			continue;
		}
		if (2 * (snap->ncglive + 1) > mask + 1) {
			uint32_t *ns;
			size_t nm = mask ? 2 * (mask + 1) - 1 : 63, j;

			ns = calloc(nm + 1, sizeof(*ns));
			if (!ns)
				goto nomem;
			for (j = 0; j < snap->ncglive; j++) {
				for (k = (size_t)(snap->cglive[j].id * 0x9E3779B97F4A7C15ull >> 32) & nm; ns[k]; k = (k + 1) & nm)
					;
				ns[k] = (uint32_t)j + 1;
			}
			free(slot);
			slot = ns;
			mask = nm;
		}
		for (k = (size_t)(id * 0x9E3779B97F4A7C15ull >> 32) & mask; slot[k] && snap->cglive[slot[k] - 1].id != id;
		     k = (k + 1) & mask)
			;
		if (!slot[k]) {
			if (snap->ncglive == cap) {
				c = realloc(snap->cglive, (cap = cap ? 2 * cap : 16) * sizeof(*c));
				if (!c)
					goto nomem;
				snap->cglive = c;
			}
			c = &snap->cglive[snap->ncglive];
			c->id = id;
			c->path = cgroup_path_once(st, snap->paths, seen, id);
			c->live = 0;
			slot[k] = (uint32_t)++snap->ncglive;
		}
		at = slot[k] - 1;
		last = id;
		if (r)
			r->cgroup = snap->cglive[at].path;
		snap->cglive[at].live++;
	}
	free(slot);
	if (snap->ncglive > 1)
		qsort(snap->cglive, snap->ncglive, sizeof(*snap->cglive), cg_live_cmp);
	return 0;
nomem:
	free(slot);
	return -ENOMEM;
}

/* top's figures of every live row, by the reader's walk only (there is no batched read of them). */
static int read_figs(struct na_state *st, struct na_snapshot *snap)
{
	size_t expect = expect_rows(st);
	int err;

	err = na_reader_read_figs(st->reader, expect, &snap->figs);
	if (err == -ENOMEM)
		return na_err(err, "read %s/na_socks with the reader's program", st->root);
	if (err) {
		/* As a walk of rows that fails: the caller reads rows, in batches if need be. */
		na_log(NA_LOG_DEBUG, "read %s/na_socks' figures with the reader's program: %s; rows instead", st->root,
		       strerror(-err));
		if (err == -EOPNOTSUPP)
			st->walk = -1; /* the program cannot be loaded here: no more tries, figures or rows */
		return -EOPNOTSUPP;
	}
	st->last_nrows = snap->figs.n;
	st->have_read = 1;
	return 0;
}

static int state_read(struct na_state *st, struct na_snapshot *snap, int figs)
{
	struct na_cgpaths *seen = NULL;
	__u32 zero = 0;
	size_t i;
	int err;

	uint64_t t0, t1, t2;

	memset(snap, 0, sizeof(*snap));
	snap->meta = st->meta;
	t0 = na_boot_ns();
	err = read_attached(st, snap);
	/*
	 * Closed rows before live ones: a socket that ends in between (its row
	 * folded into na_closed, then deleted) is then in neither for this
	 * snapshot rather than in both; one whose end had begun when na_socks
	 * was read shows NA_ROW_ENDED there. A sum of rows that must never
	 * count a byte twice (the history's processes and peers) leaves such
	 * rows out, and sees the socket one snapshot late at worst.
	 */
	if (!err)
		err = read_closed(st, snap);
	t1 = na_boot_ns();
	if (!err)
		err = figs ? read_figs(st, snap) : read_socks(st, snap);
	t2 = na_boot_ns();
	if (!err)
		err = read_peers(st, snap);
	if (!err)
		err = read_names(st, snap);
	if (!err && bpf_map_lookup_elem(st->stats_fd, &zero, &snap->stats))
		err = na_err(-errno, "read %s/na_stats", st->root);
	if (!err)
		snap->log_pending = log_pending(st->log_fd);
	snap->boot_ns = na_boot_ns();
	snap->realtime_off = na_boot_offset_ns();
	if (!err)
		err = na_cgpaths_new(&snap->paths);
	if (err) {
		na_snapshot_free(snap);
		return err;
	}
	for (i = 0; i < snap->natt; i++)
		if (snap->att[i].cgroup_exists)
			na_cgpaths_add_tree(snap->paths, snap->att[i].a.path);
	/* Once per distinct cgroup (map lookups are syscalls; rows are many, cgroups few). */
	if (na_cgpaths_new(&seen) || rows_by_cgroup(st, snap, seen)) {
		na_cgpaths_free(seen);
		na_snapshot_free(snap);
		return -ENOMEM;
	}
	for (i = 0; i < snap->nclosed; i++)
		snap->closed[i].cgroup = cgroup_path_once(st, snap->paths, seen, snap->closed[i].k.cgroup_id);
	na_cgpaths_free(seen);
	if (na_log_verbose())
		na_log(NA_LOG_DEBUG, "snapshot: %zu attachments and the closed rows %.2f ms, %zu live rows (%s) %.2f ms, the rest %.2f ms",
		       snap->natt, (t1 - t0) / 1e6, figs ? snap->figs.n : snap->nrows,
		       figs ? "figures" : snap->rows_buf ? "walk" : "batches", (t2 - t1) / 1e6, (na_boot_ns() - t2) / 1e6);
	return 0;
}

int na_state_read(struct na_state *st, struct na_snapshot *snap)
{
	return state_read(st, snap, 0);
}

int na_state_read_figs(struct na_state *st, struct na_snapshot *snap)
{
	/* Only where the walk would read the rows (walk_socks()'s rule). */
	int err = walk_wanted(st, expect_rows(st)) ? -EOPNOTSUPP : state_read(st, snap, 1);

	return err == -EOPNOTSUPP ? state_read(st, snap, 0) : err;
}

int na_state_sock_row(struct na_state *st, uint64_t cookie, struct na_sock_row *out)
{
	struct na_row r;

	if (bpf_map_lookup_elem(st->socks_fd, &cookie, &r))
		return -errno;
	NA_KERNEL_WROTE(&r, sizeof(r));
	out->cookie = cookie;
	out->cgroup = NULL;
	na_sock_from_row(&out->s, &r);
	return 0;
}

void na_snapshot_free(struct na_snapshot *snap)
{
	free(snap->att);
	if (snap->rows_buf)
		na_rbuf_put(snap->rows_buf);
	else
		free(snap->rows);
	na_rbuf_put(snap->figs.held);
	free(snap->cglive);
	free(snap->closed);
	free(snap->peers);
	na_peernames_free(snap->peernames, snap->npeernames);
	na_cgpaths_free(snap->paths);
	memset(snap, 0, sizeof(*snap));
}

/* ---- links that nothing pins ----------------------------------------------- */

static int link_id_of(const char *path, __u32 *id)
{
	struct bpf_link_info info = {};
	__u32 len = sizeof(info);
	int fd = bpf_obj_get(path), err;

	if (fd < 0)
		return -errno;
	err = bpf_obj_get_info_by_fd(fd, &info, &len) ? -errno : 0;
	close(fd);
	*id = info.id;
	return err;
}

/* Ids of the links pinned at the pin root and in every attachment directory. */
static int pinned_links(struct na_state *st, __u32 **ids, size_t *n)
{
	struct na_tree t;
	char p[PATH_MAX];
	size_t i, j, cap = 0;
	__u32 id = 0, *v;
	int err;

	*ids = NULL;
	*n = 0;
	err = na_tree_scan(st->root, &t);
	if (err)
		return err;
	for (i = 0; i <= t.natt; i++) {
		for (j = 0; j < na_nlinks; j++) {
			int global = i == t.natt;

			if (global ? !(t.globals & (1ull << j)) : !(t.att[i].links & (1ull << j)))
				continue;
			if ((size_t)snprintf(p, sizeof(p), "%s/%s/%s", st->root, global ? "." : t.att[i].name,
					     na_links[j].pin) >= sizeof(p) ||
			    link_id_of(p, &id))
				continue;
			if (*n == cap) {
				v = realloc(*ids, (cap = cap ? 2 * cap : 64) * sizeof(*v));
				if (!v) {
					na_tree_free(&t);
					return -ENOMEM;
				}
				*ids = v;
			}
			(*ids)[(*n)++] = id;
		}
	}
	na_tree_free(&t);
	return 0;
}

/* Does program prog_id use map map_id? */
static int prog_uses_map(__u32 prog_id, __u32 map_id)
{
	struct bpf_prog_info info = {};
	__u32 len = sizeof(info), maps[64], i;
	int fd = bpf_prog_get_fd_by_id(prog_id), uses = 0;

	if (fd < 0)
		return 0;
	/* valgrind does not model what BPF_OBJ_GET_INFO_BY_FD writes for a program */
	if (!bpf_obj_get_info_by_fd(fd, &info, &len) && (NA_KERNEL_WROTE(&info, sizeof(info)), info.nr_map_ids)) {
		__u32 nr = info.nr_map_ids < 64 ? info.nr_map_ids : 64;

		memset(&info, 0, sizeof(info));
		info.nr_map_ids = nr;
		info.map_ids = (__u64)(unsigned long)maps;
		len = sizeof(info);
		if (!bpf_obj_get_info_by_fd(fd, &info, &len)) {
			NA_KERNEL_WROTE(maps, nr * sizeof(maps[0]));
			for (i = 0; i < nr && !uses; i++)
				uses = maps[i] == map_id;
		}
	}
	close(fd);
	return uses;
}

/* Processes with a descriptor of each leftover link (their fdinfo names its id). */
static void link_holders(struct na_leftover *lo, size_t n)
{
	char p[64], target[64];
	struct dirent *pe, *fe;
	DIR *pd, *fd_dir;
	size_t i;

	pd = opendir("/proc");
	while (pd && (pe = readdir(pd))) {
		int pid = atoi(pe->d_name);

		if (pid <= 0)
			continue;
		snprintf(p, sizeof(p), "/proc/%d/fd", pid);
		fd_dir = opendir(p);
		while (fd_dir && (fe = readdir(fd_dir))) {
			ssize_t k;
			unsigned id;

			snprintf(p, sizeof(p), "/proc/%d/fd/%.16s", pid, fe->d_name);
			k = readlink(p, target, sizeof(target) - 1);
			if (k <= 0)
				continue;
			target[k] = '\0';
			if (strcmp(target, "anon_inode:bpf-link") && strcmp(target, "anon_inode:bpf_link"))
				continue;
			snprintf(p, sizeof(p), "/proc/%d/fdinfo/%.16s", pid, fe->d_name);
			id = (unsigned)fdinfo_value(p, "link_id");
			for (i = 0; id && i < n; i++)
				if (lo[i].link_id == id && lo[i].npids < 4 &&
				    (!lo[i].npids || lo[i].pids[lo[i].npids - 1] != pid))
					lo[i].pids[lo[i].npids++] = pid;
		}
		if (fd_dir)
			closedir(fd_dir);
	}
	if (pd)
		closedir(pd);
}

/*
 * A cgroup's path by id: what na_cgpath remembers, else a walk of the cgroup2
 * tree. nftw passes its callback no user pointer: what the walk looks for is
 * static, one per thread (the agent reads on two).
 */
static _Thread_local struct {
	uint64_t id;
	char found[PATH_MAX];
} find;

static int find_one(const char *p, const struct stat *sb, int type, struct FTW *ftw)
{
	(void)ftw;
	if (type == FTW_D && sb->st_ino == find.id) {
		snprintf(find.found, sizeof(find.found), "%s", p);
		return 1;
	}
	return 0;
}

static void cgroup_path_of(struct na_state *st, uint64_t id, char *out, size_t len)
{
	struct na_cgpath v;
	struct na_cg2mount m;

	out[0] = '\0';
	if (!bpf_map_lookup_elem(st->cgpath_fd, &id, &v) && v.path[0]) {
		v.path[sizeof(v.path) - 1] = '\0';
		snprintf(out, len, "%s", v.path);
		return;
	}
	if (na_cgroup2_mount(NULL, &m))
		return;
	find.id = id;
	find.found[0] = '\0';
	if (nftw(m.dir, find_one, 16, FTW_PHYS | FTW_MOUNT) == 1) {
		const char *below = find.found + (strcmp(m.dir, "/") ? strlen(m.dir) : 0);
		int k = snprintf(out, len, "%s%s", strcmp(m.root, "/") ? m.root : "", *below ? below : "/");

		if (k < 0 || (size_t)k >= len)
			out[0] = '\0'; /* too long to show: the id says it */
	}
}

int na_state_leftovers(struct na_state *st, struct na_leftover **out, size_t *n)
{
	struct bpf_map_info mi = {};
	__u32 len = sizeof(mi), id = 0, *pinned = NULL;
	struct na_leftover *lo = NULL, *v;
	size_t npinned = 0, cap = 0, i;
	int err;

	*out = NULL;
	*n = 0;
	if (bpf_obj_get_info_by_fd(st->active_fd, &mi, &len))
		return na_err(-errno, "read %s/na_active", st->root);
	err = pinned_links(st, &pinned, &npinned);
	if (err)
		return err;
	while (!bpf_link_get_next_id(id, &id)) {
		struct bpf_link_info li = {};
		int fd;

		NA_KERNEL_WROTE(&id, sizeof(id)); /* valgrind does not know BPF_LINK_GET_NEXT_ID */
		fd = bpf_link_get_fd_by_id(id);

		if (fd < 0) {
			if (errno == EPERM || errno == EACCES)
				break; /* not ours to see: nothing to say */
			continue;  /* gone meanwhile */
		}
		len = sizeof(li);
		err = bpf_obj_get_info_by_fd(fd, &li, &len);
		NA_KERNEL_WROTE(&li, sizeof(li));
		close(fd);
		if (err || !prog_uses_map(li.prog_id, mi.id))
			continue;
		for (i = 0; i < npinned && pinned[i] != id; i++)
			;
		if (i < npinned)
			continue;
		if (*n == cap) {
			v = realloc(lo, (cap = cap ? 2 * cap : 16) * sizeof(*v));
			if (!v) {
				free(lo);
				free(pinned);
				return -ENOMEM;
			}
			lo = v;
		}
		v = &lo[(*n)++];
		memset(v, 0, sizeof(*v));
		v->link_id = id;
		if (li.type == BPF_LINK_TYPE_CGROUP) {
			v->cgroup_id = li.cgroup.cgroup_id;
			snprintf(v->hook, sizeof(v->hook), "%s",
				 libbpf_bpf_attach_type_str(li.cgroup.attach_type) ?: "cgroup");
		} else {
			snprintf(v->hook, sizeof(v->hook), "%s", libbpf_bpf_link_type_str(li.type) ?: "link");
		}
	}
	free(pinned);
	if (*n)
		link_holders(lo, *n);
	for (i = 0; i < *n; i++)
		if (lo[i].cgroup_id)
			cgroup_path_of(st, lo[i].cgroup_id, lo[i].cgroup, sizeof(lo[i].cgroup));
	*out = lo;
	return 0;
}
