// SPDX-License-Identifier: (BSD-2-Clause OR GPL-2.0)
/*
 * Attach lifecycle. Layout under the pin root (docs/design.md):
 *   na_socks na_attached na_active na_meta na_closed na_log na_stats
 *   na_cgpath na_listen na_gone                 maps shared by every attachment
 *   tcp_destroy cgroup_mkdir                    tracepoint links, one for all
 *   cg_<id>/{egress,ingress,sock_create,connect4,connect6,sock_release,totals}
 * Each attachment loads its own copy of the programs (rodata self_token) on
 * the shared maps. An attach either completes or leaves nothing behind; a
 * detach retires the copy so that no packet is counted twice or missed by
 * the copies that stay (docs/design.md, "Nested attachments").
 */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <libgen.h>
#include <linux/capability.h>
#include <linux/magic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "internal.h"
#include "netacct.skel.h"

static const struct {
	const char *prog;
	const char *pin;
} cg_progs[] = {
	{ "na_egress", "egress" },
	{ "na_ingress", "ingress" },
	{ "na_sock_create", "sock_create" },
	{ "na_connect4", "connect4" },
	{ "na_connect6", "connect6" },
	{ "na_release", "sock_release" },
};

/* Tracepoints: attached once for all attachments, first (no row may outlive its socket). */
static const struct {
	const char *prog;
	const char *pin;
} global_progs[] = {
	{ "na_tcp_destroy", "tcp_destroy" },
	{ "na_cgroup_mkdir", "cgroup_mkdir" },
};

#define NA_NGLOBAL (sizeof(global_progs) / sizeof(global_progs[0]))

int na_cgroup_prog_count(void)
{
	return (int)(sizeof(cg_progs) / sizeof(cg_progs[0]));
}

/* dir/name into buf, or -ENAMETOOLONG. */
static int join_path(char *buf, size_t len, const char *dir, const char *name)
{
	return snprintf(buf, len, "%s/%s", dir, name) < (int)len ? 0 : -ENAMETOOLONG;
}

static int has_cap(int cap)
{
	struct __user_cap_header_struct h = { .version = _LINUX_CAPABILITY_VERSION_3 };
	struct __user_cap_data_struct d[2] = {};

	if (syscall(SYS_capget, &h, d))
		return 0;
	return !!(d[cap / 32].effective & (1u << (cap % 32)));
}

int na_can_write_state(void)
{
	return has_cap(CAP_BPF) || has_cap(CAP_SYS_ADMIN);
}

int na_can_attach(void)
{
	return has_cap(CAP_NET_ADMIN) && (has_cap(CAP_BPF) || has_cap(CAP_SYS_ADMIN)) &&
	       (has_cap(CAP_PERFMON) || has_cap(CAP_SYS_ADMIN));
}

int na_caps_check_attach(const char *what)
{
	static const struct {
		int cap;
		const char *name;
	} need[] = {
		{ CAP_BPF, "CAP_BPF" },
		{ CAP_NET_ADMIN, "CAP_NET_ADMIN" },
		{ CAP_PERFMON, "CAP_PERFMON" },
	};
	char missing[96] = "";
	size_t i;

	for (i = 0; i < sizeof(need) / sizeof(need[0]); i++) {
		/* CAP_SYS_ADMIN still stands in for CAP_BPF and CAP_PERFMON. */
		if (has_cap(need[i].cap) || (need[i].cap != CAP_NET_ADMIN && has_cap(CAP_SYS_ADMIN)))
			continue;
		if (missing[0])
			strcat(missing, ", ");
		strcat(missing, need[i].name);
	}
	if (!missing[0])
		return 0;
	na_log(NA_LOG_ERROR, "%s: missing capability %s (run as root, or grant CAP_BPF, CAP_NET_ADMIN and CAP_PERFMON)",
	       what, missing);
	return -EPERM;
}

/* bpffs at the pin root's parent; /sys/fs/bpf is mounted when missing. */
static int ensure_bpffs(const char *root)
{
	char buf[PATH_MAX], *parent;
	struct statfs sfs;

	snprintf(buf, sizeof(buf), "%s", root);
	parent = dirname(buf);
	if (!statfs(parent, &sfs) && sfs.f_type == BPF_FS_MAGIC)
		return 0;
	if (!strcmp(parent, "/sys/fs/bpf")) {
		if (mount("bpf", "/sys/fs/bpf", "bpf", 0, "mode=0700"))
			return na_err(-errno, "mount bpffs at /sys/fs/bpf");
		na_log(NA_LOG_INFO, "mounted bpffs at /sys/fs/bpf");
		return 0;
	}
	na_log(NA_LOG_ERROR, "pin root %s: %s is not on a bpffs mount (mount -t bpf bpf DIR, or use --pin-root /sys/fs/bpf/NAME)",
	       root, parent);
	return -EXDEV;
}

static int rm_err; /* nftw has no user pointer; callers hold the pin root lock */

static int rm_one(const char *p, const struct stat *sb, int type, struct FTW *ftw)
{
	(void)sb;
	(void)type;
	(void)ftw;
	if (remove(p) && errno != ENOENT && !rm_err)
		rm_err = na_err(-errno, "remove %s", p);
	return 0;
}

/*
 * Access to the pinned state (attach --group): directories 0750 and objects
 * 0640 with group share_gid, so that its members open the maps read-only;
 * na_log 0660, because reading the connection log consumes it (the ring
 * buffer's consumer position is written through a writable mapping). Links,
 * programs and maps stay writable by root alone. share_gid 0: back to 0700
 * and 0600, root's alone.
 */
static uint32_t share_gid;
static mode_t share_log_mode;

static int share_one(const char *p, const struct stat *sb, int type, struct FTW *ftw)
{
	mode_t mode;

	(void)sb;
	if (type == FTW_D || type == FTW_DP)
		mode = share_gid ? 0750 : 0700;
	else
		mode = !share_gid ? 0600 : strcmp(p + ftw->base, "na_log") ? 0640 : share_log_mode;
	if (lchown(p, (uid_t)-1, share_gid) || chmod(p, mode)) {
		rm_err = na_err(-errno, "%s: set group %u and mode %o", p, share_gid, mode);
		return 1;
	}
	return 0;
}

/* Apply group gid (0: none) to everything under root; callers hold the pin root lock. */
static int share_tree(const char *root, uint32_t gid, mode_t log_mode)
{
	rm_err = 0;
	share_gid = gid;
	share_log_mode = log_mode;
	if (nftw(root, share_one, 16, FTW_PHYS) && !rm_err)
		return na_err(-errno, "%s: set group", root);
	return rm_err;
}

/*
 * What attach leaves readable: the group asked for, or the one the pin root
 * has. An attach that found the cgroup attached made no pins: the tree is
 * walked only when the group or the log's mode is to change.
 */
static int share_after_attach(const char *root, const struct na_attach_opts *o, int fresh_pins)
{
	mode_t log_mode = o->log_private ? 0640 : 0660;
	char p[PATH_MAX];
	struct stat st, lg;
	uint32_t gid;

	if (stat(root, &st))
		return na_err(-errno, "stat %s", root);
	if (o->group_set)
		gid = o->gid;
	else if (st.st_gid && (st.st_mode & 0050) == 0050)
		gid = st.st_gid;
	else
		return 0; /* root's alone, as pins are made */
	snprintf(p, sizeof(p), "%s/na_log", root);
	if (!fresh_pins && st.st_gid == gid && (st.st_mode & 07777) == (gid ? 0750u : 0700u) && !stat(p, &lg) &&
	    (lg.st_mode & 07777) == (gid ? log_mode : 0600u))
		return 0;
	return share_tree(root, gid, log_mode);
}

int na_rm_tree(const char *path)
{
	rm_err = 0;
	if (nftw(path, rm_one, 16, FTW_DEPTH | FTW_PHYS) && errno != ENOENT)
		return -errno;
	return rm_err;
}

int na_root_lock(const char *root, int create, int *lockfd)
{
	struct stat a, b;
	int fd, err;

	for (;;) {
		if (create) {
			err = ensure_bpffs(root);
			if (err)
				return err;
			if (mkdir(root, 0700) && errno != EEXIST)
				return na_err(-errno, "create pin root %s", root);
		}
		fd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (fd < 0) {
			err = -errno;
			if (err != -ENOENT)
				na_err(err, "open pin root %s%s", root,
				       err == -EACCES || err == -EPERM ? " (run as root)" : "");
			return err;
		}
		if (flock(fd, LOCK_EX)) {
			err = -errno;
			close(fd);
			return na_err(err, "lock pin root %s", root);
		}
		/* A detach may have removed the root while we waited. */
		if (!fstat(fd, &a) && !stat(root, &b) && a.st_ino == b.st_ino)
			break;
		close(fd);
		if (!create)
			return -ENOENT;
	}
	*lockfd = fd;
	return 0;
}

static int pin_exists(const char *root, const char *name)
{
	char p[PATH_MAX];

	snprintf(p, sizeof(p), "%s/%s", root, name);
	return !access(p, F_OK);
}

static int attached_count(int fd)
{
	__u64 key, next;
	int n = 0, err;

	for (err = bpf_map_get_next_key(fd, NULL, &next); !err;
	     err = bpf_map_get_next_key(fd, &key, &next)) {
		key = next;
		n++;
	}
	return n;
}

static struct bpf_link *attach_pin(struct bpf_link *link, const char *path, int *err)
{
	*err = libbpf_get_error(link);
	if (*err) {
		*err = -abs(*err);
		return NULL;
	}
	*err = bpf_link__pin(link, path);
	if (*err) {
		bpf_link__destroy(link);
		return NULL;
	}
	return link;
}

/* A copy of the programs on the pinned shared maps (created and pinned if new). */
static int open_skel(const char *root, const struct na_meta *meta, struct netacct_bpf **out)
{
	struct netacct_bpf *skel = netacct_bpf__open();
	char p[PATH_MAX];
	size_t i;
	int err;

	if (!skel)
		return na_err(-errno, "open BPF object");
	bpf_map__set_max_entries(skel->maps.na_socks, meta->max_sockets);
	bpf_map__set_max_entries(skel->maps.na_closed, meta->max_closed);
	bpf_map__set_max_entries(skel->maps.na_log, meta->log_bytes);
	{
		struct bpf_map *shared[] = { skel->maps.na_socks,  skel->maps.na_attached, skel->maps.na_active,
					     skel->maps.na_meta,   skel->maps.na_closed,   skel->maps.na_log,
					     skel->maps.na_stats,  skel->maps.na_cgpath,   skel->maps.na_listen,
					     skel->maps.na_gone };

		for (i = 0; i < sizeof(shared) / sizeof(shared[0]); i++) {
			snprintf(p, sizeof(p), "%s/%s", root, bpf_map__name(shared[i]));
			err = bpf_map__set_pin_path(shared[i], p);
			if (err) {
				netacct_bpf__destroy(skel);
				return na_err(err, "pin path %s", p);
			}
		}
	}
	*out = skel;
	return 0;
}

static int load_skel(struct netacct_bpf *skel)
{
	int err = netacct_bpf__load(skel);

	if (err)
		na_err(err, "load BPF programs%s",
		       err == -EPERM ? " (need CAP_BPF, CAP_NET_ADMIN, CAP_PERFMON; see -v for the verifier log)"
				     : " (see -v for libbpf's log)");
	return err;
}

/* Level of a cgroup below the hierarchy root ("/" is 0, "/a/b" is 2). */
static int cgroup_level(const char *rel)
{
	int level = 0;

	for (; *rel; rel++)
		level += rel[0] == '/' && rel[1] && rel[1] != '/';
	return level;
}

/* A free na_active slot (0 when the maps are new). */
static int free_slot(const char *root, int have_meta, __u32 *slot)
{
	char p[PATH_MAX];
	__u64 v;
	__u32 i;
	int fd;

	*slot = 0;
	if (!have_meta)
		return 0;
	snprintf(p, sizeof(p), "%s/na_active", root);
	fd = bpf_obj_get(p);
	if (fd < 0)
		return na_err(-errno, "open %s", p);
	for (i = 0; i < NA_MAX_ATTACHED; i++) {
		if (!bpf_map_lookup_elem(fd, &i, &v) && !v) {
			*slot = i;
			close(fd);
			return 0;
		}
	}
	close(fd);
	na_log(NA_LOG_ERROR, "attach: all %d attachment slots are in use (detach some first)", NA_MAX_ATTACHED);
	return -ENOSPC;
}

/*
 * Wait until every BPF program run that started before now has finished:
 * updating a map-in-map makes the kernel call synchronize_rcu(), and a cgroup
 * program chain runs in one RCU read-side section.
 */
static int sync_programs(void)
{
	int inner = -1, outer = -1, err = 0;
	__u32 zero = 0;
	DECLARE_LIBBPF_OPTS(bpf_map_create_opts, opts);

	inner = bpf_map_create(BPF_MAP_TYPE_ARRAY, "na_sync_in", 4, 4, 1, NULL);
	if (inner < 0)
		return na_err(-errno, "create sync map");
	opts.inner_map_fd = inner;
	outer = bpf_map_create(BPF_MAP_TYPE_ARRAY_OF_MAPS, "na_sync", 4, 4, 1, &opts);
	if (outer < 0)
		err = na_err(-errno, "create sync map");
	else if (bpf_map_update_elem(outer, &zero, &inner, 0))
		err = na_err(-errno, "sync with running programs");
	if (outer >= 0)
		close(outer);
	close(inner);
	return err;
}

int na_attach_cgroup(const struct na_attach_opts *o, const char *path)
{
	const char *root = o->pin_root;
	char dir[PATH_MAX], tmp[PATH_MAX] = "", p[PATH_MAX];
	struct bpf_link *links[sizeof(cg_progs) / sizeof(cg_progs[0]) + NA_NGLOBAL] = {};
	struct netacct_bpf *skel = NULL;
	struct na_attach att = {};
	struct na_meta meta = {};
	int lockfd = -1, cgfd = -1, err, have_meta = 0, added = 0, level;
	int fresh; /* the pin root was empty: a failed attach may remove it again */
	__u32 zero = 0, slot;
	__u64 token;
	struct timespec rt;
	struct na_cgroup cg;
	size_t i;

	err = na_cgroup_resolve(path, &cg);
	if (err)
		return err;
	if (strlen(cg.rel) >= sizeof(att.path)) {
		na_log(NA_LOG_ERROR, "%s: cgroup path longer than %d bytes", path, NA_PATH_MAX - 1);
		return -ENAMETOOLONG;
	}
	err = na_caps_check_attach("attach");
	if (err)
		return err;
	err = na_root_lock(root, 1, &lockfd);
	if (err)
		return err;
	fresh = na_dir_is_empty(root);

	err = na_meta_read(root, &meta, &have_meta);
	if (err)
		goto out_empty;
	if (have_meta && ((o->max_sockets && o->max_sockets != meta.max_sockets) ||
			  (o->max_closed && o->max_closed != meta.max_closed) ||
			  (o->log_bytes && o->log_bytes != meta.log_bytes)))
		na_log(NA_LOG_WARN, "map sizes ignored: the maps exist with %u sockets, %u closed, %u log bytes (detach everything to change them)",
		       meta.max_sockets, meta.max_closed, meta.log_bytes);

	snprintf(dir, sizeof(dir), "%s/cg_%llu", root, (unsigned long long)cg.id);
	if (!access(dir, F_OK)) {
		err = 1;
		goto out;
	}

	level = cgroup_level(cg.rel);
	if (level > NA_MAX_LEVEL) {
		na_log(NA_LOG_ERROR, "%s: nested %d levels deep; netacct attaches up to level %d", path, level,
		       NA_MAX_LEVEL);
		err = -E2BIG;
		goto out_empty;
	}
	err = free_slot(root, have_meta, &slot);
	if (err)
		goto out_empty;
	if (!have_meta) {
		meta.abi_version = NA_ABI_VERSION;
		meta.max_sockets = o->max_sockets ? o->max_sockets : NA_DEFAULT_MAX_SOCKETS;
		meta.max_closed = o->max_closed ? o->max_closed : NA_DEFAULT_MAX_CLOSED;
		meta.log_bytes = o->log_bytes ? o->log_bytes : NA_DEFAULT_LOG_BYTES;
		meta.next_seq = 1;
	}
	token = NA_TOKEN(meta.next_seq, level, slot);

	err = open_skel(root, &meta, &skel);
	if (err)
		goto out_empty;
	skel->rodata->self_token = token;
	err = libbpf_num_possible_cpus();
	if (err < 0) {
		na_err(err, "count the possible CPUs");
		goto out_empty;
	}
	skel->rodata->nr_cpus = (__u32)err;
	bpf_program__set_autoload(skel->progs.na_sweep, false);
	bpf_program__set_autoload(skel->progs.na_set_owner, false);
	for (i = 0; i < NA_NGLOBAL; i++)
		if (pin_exists(root, global_progs[i].pin))
			bpf_program__set_autoload(bpf_object__find_program_by_name(skel->obj, global_progs[i].prog),
						  false);
	err = load_skel(skel);
	if (err)
		goto out_empty;

	clock_gettime(CLOCK_REALTIME, &rt);
	if (!have_meta)
		meta.created_realtime = (__u64)rt.tv_sec;
	meta.next_seq++;
	err = bpf_map__update_elem(skel->maps.na_meta, &zero, sizeof(zero), &meta, sizeof(meta), 0);
	if (err) {
		na_err(err, "write na_meta");
		goto out_empty;
	}

	for (i = 0; i < NA_NGLOBAL; i++) {
		struct bpf_program *prog = bpf_object__find_program_by_name(skel->obj, global_progs[i].prog);

		if (pin_exists(root, global_progs[i].pin))
			continue;
		snprintf(p, sizeof(p), "%s/%s", root, global_progs[i].pin);
		links[i] = attach_pin(bpf_program__attach(prog), p, &err);
		if (err) {
			na_err(err, "attach %s", bpf_program__section_name(prog));
			goto out_empty;
		}
	}

	/*
	 * The links go in while the copy is inactive (it counts and creates
	 * nothing), so that it becomes live with all its hooks in place at once.
	 */
	cgfd = open(cg.abs, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (cgfd < 0) {
		err = na_err(-errno, "open %s", cg.abs);
		goto out_empty;
	}
	snprintf(tmp, sizeof(tmp), "%s/new_cg_%llu", root, (unsigned long long)cg.id);
	na_rm_tree(tmp);
	if (mkdir(tmp, 0700)) {
		err = na_err(-errno, "create %s", tmp);
		goto out_empty;
	}
	err = join_path(p, sizeof(p), tmp, "totals");
	if (!err)
		err = bpf_map__pin(skel->maps.na_totals, p);
	if (err) {
		na_err(err, "pin %s", p);
		goto out_empty;
	}
	for (i = 0; i < sizeof(cg_progs) / sizeof(cg_progs[0]); i++) {
		struct bpf_program *prog = bpf_object__find_program_by_name(skel->obj, cg_progs[i].prog);

		err = join_path(p, sizeof(p), tmp, cg_progs[i].pin);
		if (!err)
			links[NA_NGLOBAL + i] = attach_pin(bpf_program__attach_cgroup(prog, cgfd), p, &err);
		if (err) {
			na_err(err, "attach %s to %s%s", bpf_program__section_name(prog), cg.abs,
			       err == -EPERM ? " (need CAP_NET_ADMIN)" : "");
			goto out_empty;
		}
	}
	/* Recorded before it goes live, so that nested copies defer to it. */
	att.cgroup_id = cg.id;
	att.token = token;
	att.attach_realtime = (__u64)rt.tv_sec;
	memcpy(att.path, cg.rel, strlen(cg.rel) + 1);
	att.attach_ns = na_boot_ns();
	err = bpf_map__update_elem(skel->maps.na_attached, &cg.id, sizeof(cg.id), &att, sizeof(att), BPF_NOEXIST);
	if (err) {
		na_err(err, "record attachment%s", err == -E2BIG ? " (too many attached cgroups)" : "");
		goto out_empty;
	}
	added = 1;
	if (rename(tmp, dir)) {
		err = na_err(-errno, "rename %s to %s", tmp, dir);
		goto out_empty;
	}
	tmp[0] = '\0';
	err = bpf_map__update_elem(skel->maps.na_active, &slot, sizeof(slot), &token, sizeof(token), 0);
	if (err) {
		na_err(err, "activate attachment");
		snprintf(tmp, sizeof(tmp), "%s", dir); /* undone below like a new one */
		goto out_empty;
	}
	err = 0;
	goto out;

out_empty:
	/* Undo: links first (stops counting), then the record, then empty state. */
	for (i = 0; i < sizeof(links) / sizeof(links[0]); i++) {
		if (links[i]) {
			bpf_link__unpin(links[i]);
			bpf_link__destroy(links[i]);
			links[i] = NULL;
		}
	}
	if (tmp[0])
		na_rm_tree(tmp);
	if (added)
		bpf_map__delete_elem(skel->maps.na_attached, &cg.id, sizeof(cg.id), 0);
	if (fresh) {
		int fd = skel ? bpf_map__fd(skel->maps.na_attached) : -1;

		/* Only what this attach created: never another version's or tool's pins. */
		if (fd < 0 || attached_count(fd) == 0)
			na_rm_tree(root);
	}
out:
	if (err >= 0) {
		int e = share_after_attach(root, o, err == 0);

		if (e) {
			na_log(NA_LOG_ERROR, "%s: %s, but the access to its pinned state may be only partly set (attach --group again)",
			       path, err ? "was attached already" : "attached");
			err = e;
		}
	}
	for (i = 0; i < sizeof(links) / sizeof(links[0]); i++) {
		if (links[i]) {
			bpf_link__disconnect(links[i]); /* the pin keeps it attached */
			bpf_link__destroy(links[i]);
		}
	}
	netacct_bpf__destroy(skel);
	if (cgfd >= 0)
		close(cgfd);
	close(lockfd);
	return err;
}

/* The attached cgroup id for `path`: its inode, or, for a cgroup removed since, its recorded path. */
static int attached_id(int attached_fd, const char *path, __u64 *id)
{
	struct na_attach att;
	struct na_cg2mount m;
	__u64 key, next;
	struct stat st;
	char rel[PATH_MAX];
	int err;

	struct statfs sfs;

	/* A cgroup2 directory by its id; a removed (or re-created) one by its recorded path. */
	if (!stat(path, &st) && S_ISDIR(st.st_mode) && !statfs(path, &sfs) &&
	    sfs.f_type == CGROUP2_SUPER_MAGIC) {
		*id = st.st_ino;
		if (!bpf_map_lookup_elem(attached_fd, id, &att))
			return 0;
	}
	if (na_cgroup2_mount(path, &m))
		return -ENOENT;
	snprintf(rel, sizeof(rel), "%s%s", strcmp(m.root, "/") ? m.root : "",
		 path + (strcmp(m.dir, "/") ? strlen(m.dir) : 0));
	for (err = bpf_map_get_next_key(attached_fd, NULL, &next); !err;
	     err = bpf_map_get_next_key(attached_fd, &key, &next)) {
		key = next;
		if (!bpf_map_lookup_elem(attached_fd, &key, &att) && !strcmp(att.path, rel)) {
			*id = key;
			return 0;
		}
	}
	return -ENOENT;
}

int na_syscall_run_each(const char *root, const struct na_meta *meta, const char *name, void *ctx, size_t size,
			size_t count)
{
	DECLARE_LIBBPF_OPTS(bpf_test_run_opts, run, .ctx_size_in = (__u32)size);
	struct netacct_bpf *skel = NULL;
	struct bpf_program *prog, *want;
	size_t i;
	int err;

	err = open_skel(root, meta, &skel);
	if (err)
		return err;
	want = bpf_object__find_program_by_name(skel->obj, name);
	if (!want) {
		netacct_bpf__destroy(skel);
		return -ENOENT;
	}
	bpf_object__for_each_program(prog, skel->obj)
		bpf_program__set_autoload(prog, prog == want);
	err = load_skel(skel);
	for (i = 0; !err && i < count; i++) {
		run.ctx_in = (char *)ctx + i * size;
		err = bpf_prog_test_run_opts(bpf_program__fd(want), &run);
		if (err)
			na_err(err, "run %s", name);
	}
	netacct_bpf__destroy(skel);
	return err;
}

int na_syscall_run(const char *root, const struct na_meta *meta, const char *name, void *ctx, size_t size)
{
	return na_syscall_run_each(root, meta, name, ctx, size, 1);
}

/* Hand every row still owned by token to whichever live copy sees it next. */
static int sweep_rows(const char *root, const struct na_meta *meta, __u64 token)
{
	struct na_sweep_args args = { .token = token };
	int err = na_syscall_run(root, meta, "na_sweep", &args, sizeof(args));

	if (!err)
		na_log(NA_LOG_DEBUG, "detach: %llu rows handed over", (unsigned long long)args.released);
	return err;
}

/*
 * Retire an attachment without counting a packet twice or missing one:
 * mark it inactive, wait until no program run that saw it live is in flight,
 * release its rows, unpin its links, and wait for their last runs.
 */
static int retire(const char *root, const struct na_meta *meta, const struct na_attach *att)
{
	__u32 slot = NA_TOKEN_SLOT(att->token);
	__u64 dead = 0, live = att->token;
	char p[PATH_MAX];
	int fd, err;

	snprintf(p, sizeof(p), "%s/na_active", root);
	fd = bpf_obj_get(p);
	if (fd < 0)
		return na_err(-errno, "open %s", p);
	err = bpf_map_update_elem(fd, &slot, &dead, 0) ? -errno : 0;
	if (err) {
		close(fd);
		return na_err(err, "deactivate %s", att->path);
	}
	err = sync_programs();
	if (!err)
		err = sweep_rows(root, meta, att->token);
	if (err) {
		/* Nothing handed over yet, or not all of it: live again, unchanged. */
		bpf_map_update_elem(fd, &slot, &live, 0);
		close(fd);
		return err;
	}
	close(fd);
	snprintf(p, sizeof(p), "%s/cg_%llu", root, (unsigned long long)att->cgroup_id);
	err = na_rm_tree(p);
	if (!err)
		err = sync_programs();
	return err;
}

int na_detach_cgroup(const char *root, const char *path)
{
	struct na_attach att;
	struct na_meta meta;
	char p[PATH_MAX];
	int lockfd = -1, fd = -1, err, have = 0;
	__u64 id;

	err = na_caps_check_attach("detach");
	if (err)
		return err;
	err = na_root_lock(root, 0, &lockfd);
	if (err == -ENOENT)
		goto not_attached;
	if (err)
		return err;
	err = na_meta_read(root, &meta, &have);
	if (err)
		goto out;
	if (!have)
		goto not_attached;
	snprintf(p, sizeof(p), "%s/na_attached", root);
	fd = bpf_obj_get(p);
	if (fd < 0) {
		err = na_err(-errno, "open %s", p);
		goto out;
	}
	err = attached_id(fd, path, &id);
	if (err || bpf_map_lookup_elem(fd, &id, &att))
		goto not_attached;
	err = retire(root, &meta, &att);
	if (err) {
		na_log(NA_LOG_ERROR, "detach %s: not detached (still attached; try again)", path);
		goto out;
	}
	bpf_map_delete_elem(fd, &id);
	if (attached_count(fd) == 0) {
		close(fd);
		fd = -1;
		if (na_rm_tree(root))
			err = na_err(-errno, "remove %s", root);
	}
	goto out;
not_attached:
	na_log(NA_LOG_ERROR, "detach %s: not attached (netacct status lists what is)", path);
	err = -ENOENT;
out:
	if (fd >= 0)
		close(fd);
	if (lockfd >= 0)
		close(lockfd);
	return err;
}

int na_detach_all(const char *root)
{
	int lockfd = -1, err;

	err = na_caps_check_attach("detach");
	if (err)
		return err;
	err = na_root_lock(root, 0, &lockfd);
	if (err == -ENOENT) {
		na_log(NA_LOG_ERROR, "detach --all: nothing attached (no pinned state at %s)", root);
		return err;
	}
	if (err)
		return err;
	/* Any netacct state, of any ABI version, has na_meta; never remove another tool's pins. */
	if (!pin_exists(root, "na_meta") && !na_dir_is_empty(root)) {
		na_log(NA_LOG_ERROR, "detach --all: %s holds no na_meta: not netacct's state, left alone", root);
		close(lockfd);
		return -EPROTO;
	}
	/* Unpinning every link detaches it; the maps go with their last pin. */
	err = na_rm_tree(root);
	if (err)
		na_err(err, "remove %s", root);
	close(lockfd);
	return err;
}
