// SPDX-License-Identifier: (BSD-2-Clause OR GPL-2.0)
/*
 * The pin tree: whether a pin root may be trusted, its lock, what is in it
 * (netacct's pins by name, attachment directories and where their
 * transactions stand, anything foreign), and removing netacct's own pins by
 * name. Layout (docs/design.md):
 *   na_*                  maps shared by every attachment; na_meta pinned last
 *   <global link pins>    tcp_destroy cgroup_mkdir (agent/links.c)
 *   cg_<id>/              a committed attachment: its cgroup links, totals
 *   new_cg_<id>/          an attach before its commit
 *   old_cg_<id>/          a detach after its commit
 * Nothing here follows a symbolic link or removes a name it does not know.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <libgen.h>
#include <linux/magic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <unistd.h>

#include "internal.h"

static const char *const dir_prefix[] = {
	[NA_DIR_NONE] = "",
	[NA_DIR_LIVE] = "cg_",
	[NA_DIR_NEW] = "new_cg_",
	[NA_DIR_OLD] = "old_cg_",
};

/* ---- trust ------------------------------------------------------------------- */

static int owner_ok(uid_t uid)
{
	return uid == 0 || uid == geteuid();
}

/* Why the directory a walk ends at cannot be trusted, and what to do. */
static void log_untrusted_end(const char *what, const char *path, const struct stat *st, int bpffs)
{
	const char *is = !owner_ok(st->st_uid) ? "not root's" : "writable by others";
	unsigned uid = (unsigned)st->st_uid, mode = (unsigned)(st->st_mode & 07777);

	if (bpffs)
		na_log(NA_LOG_ERROR,
		       "%s %s is %s (owner uid %u, mode %04o): netacct makes it root's and 0700; someone else made or changed it, and could read every counter or unpin the links. Look at what it holds (ls -la %s), remove it (rm -r %s), and attach again",
		       what, path, is, uid, mode, path, path);
	else
		na_log(NA_LOG_ERROR,
		       "%s %s is %s (owner uid %u, mode %04o): whoever can write there could make root write or remove a file of their choice; use a directory that is root's and writable by root alone (chown root %s; chmod go-w %s)",
		       what, path, is, uid, mode, path, path);
}

/*
 * One step of walk_trusted: comp in directory dirfd (sofar, the path up to
 * and with it; last, whether it is the walk's end) is a directory, no link,
 * and nobody else's to change. 0, or -errno after saying why.
 */
static int component_trusted(int dirfd, const char *comp, const char *sofar, int last, const char *what,
			     const char *path, int bpffs)
{
	struct stat st;
	int err;

	if (!strcmp(comp, ".") || !strcmp(comp, "..")) {
		na_log(NA_LOG_ERROR, "%s %s: '%s' in the path; give it without . or ..", what, path, comp);
		return -EINVAL;
	}
	if (fstatat(dirfd, comp, &st, AT_SYMLINK_NOFOLLOW)) {
		err = -errno;
		if (err != -ENOENT)
			na_err(err, "%s %s: %s%s", what, path, sofar,
			       err == -EACCES ? " (run as root, or as a member of the group given to `netacct attach --group`)" : "");
		return err;
	}
	if (S_ISLNK(st.st_mode)) {
		char to[PATH_MAX];
		ssize_t n = readlinkat(dirfd, comp, to, sizeof(to) - 1);

		to[n > 0 ? n : 0] = '\0';
		na_log(NA_LOG_ERROR,
		       "%s %s: %s is a symbolic link (to %s); netacct follows no link there: give the directory itself",
		       what, path, sofar, n > 0 ? to : "?");
		return -ELOOP;
	}
	if (!S_ISDIR(st.st_mode)) {
		na_log(NA_LOG_ERROR, "%s %s: %s is not a directory", what, path, sofar);
		return -ENOTDIR;
	}
	if (!last && (!owner_ok(st.st_uid) || ((st.st_mode & 022) && !(st.st_mode & S_ISVTX)))) {
		na_log(NA_LOG_ERROR,
		       "%s %s: %s (owner uid %u, mode %04o) can be changed by others, who could replace what is below it; use a directory below directories only root can write",
		       what, path, sofar, (unsigned)st.st_uid, (unsigned)(st.st_mode & 07777));
		return -EPERM;
	}
	if (last && (!owner_ok(st.st_uid) || (st.st_mode & 022))) {
		log_untrusted_end(what, path, &st, bpffs);
		return -EPERM;
	}
	return 0;
}

/*
 * Walk path from "/" one component at a time, never following a link: every
 * directory above it must be one that only root (or this user) can change,
 * or sticky (as /sys/fs/bpf is: nobody can rename another's entry there);
 * the directory itself must be root's (or this user's) and writable by
 * nobody else, or anyone who can write there could plant, replace or remove
 * what netacct keeps in it. *fd (may be NULL): the directory, opened by the
 * walk (O_PATH), so that nothing swapped in afterwards is used.
 */
static int walk_trusted(const char *path, const char *what, int bpffs, int *out)
{
	char buf[PATH_MAX], *comp, *save = NULL, *next;
	char sofar[PATH_MAX] = "";
	struct statfs sfs;
	int fd, nfd, err = 0;

	if (path[0] != '/' || strlen(path) >= sizeof(buf)) {
		na_log(NA_LOG_ERROR, "%s '%s': must be an absolute path", what, path);
		return -EINVAL;
	}
	snprintf(buf, sizeof(buf), "%s", path);
	fd = open("/", O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return na_err(-errno, "open /");
	for (comp = strtok_r(buf, "/", &save); comp; comp = next) {
		next = strtok_r(NULL, "/", &save);
		snprintf(sofar + strlen(sofar), sizeof(sofar) - strlen(sofar), "/%s", comp);
		err = component_trusted(fd, comp, sofar, !next, what, path, bpffs);
		if (err)
			break;
		nfd = openat(fd, comp, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (nfd < 0) {
			err = na_err(-errno, "%s %s: open %s", what, path, sofar);
			break;
		}
		close(fd);
		fd = nfd;
	}
	if (!err && bpffs && (fstatfs(fd, &sfs) || sfs.f_type != BPF_FS_MAGIC)) {
		na_log(NA_LOG_ERROR,
		       "%s %s is not on a bpffs mount: netacct keeps and removes its state only there (mount -t bpf bpf DIR, or use --pin-root /sys/fs/bpf/NAME)",
		       what, path);
		err = -EXDEV;
	}
	if (!err && out) {
		*out = fd;
		return 0;
	}
	close(fd);
	return err;
}

int na_pin_root_trust(const char *root)
{
	return walk_trusted(root, "pin root", 1, NULL);
}

int na_dir_trust_open(const char *dir, const char *what, int *fd)
{
	char real[PATH_MAX];

	/* Links root made on the way (/var/run) are followed once, here; the walk then follows none. */
	if (!realpath(dir, real))
		return errno == ENOENT ? -ENOENT : na_err(-errno, "%s %s", what, dir);
	return walk_trusted(real, what, 0, fd);
}

int na_file_dir_check(const char *file, const char *what, mode_t mode)
{
	char dir[PATH_MAX], parent[PATH_MAX], name[PATH_MAX], buf[PATH_MAX], whatdir[64];
	int fd = -1, pfd = -1, err;

	snprintf(whatdir, sizeof(whatdir), "%s directory", what);
	snprintf(buf, sizeof(buf), "%s", file);
	snprintf(dir, sizeof(dir), "%s", dirname(buf));
	err = na_dir_trust_open(dir, whatdir, &fd);
	if (err == -ENOENT) {
		snprintf(buf, sizeof(buf), "%s", dir);
		snprintf(name, sizeof(name), "%s", basename(buf));
		snprintf(buf, sizeof(buf), "%s", dir);
		snprintf(parent, sizeof(parent), "%s", dirname(buf));
		err = na_dir_trust_open(parent, whatdir, &pfd);
		if (err == -ENOENT)
			na_log(NA_LOG_ERROR, "agent: %s %s: %s does not exist", what, file, parent);
		if (!err && mkdirat(pfd, name, mode) && errno != EEXIST)
			err = na_err(-errno, "agent: create %s", dir);
		if (pfd >= 0)
			close(pfd);
		if (!err)
			err = na_dir_trust_open(dir, whatdir, &fd);
	}
	if (fd >= 0)
		close(fd);
	return err;
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
		err = na_pin_root_trust(root);
		if (err)
			return err;
		fd = open(root, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
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
		if (!fstat(fd, &a) && !lstat(root, &b) && a.st_ino == b.st_ino && a.st_dev == b.st_dev)
			break;
		close(fd);
		if (!create)
			return -ENOENT;
	}
	*lockfd = fd;
	return 0;
}

int na_root_busy(const char *root)
{
	int fd = open(root, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC), busy = 0;

	if (fd < 0)
		return 0;
	if (flock(fd, LOCK_SH | LOCK_NB))
		busy = errno == EWOULDBLOCK;
	close(fd); /* drops the shared lock at once */
	return busy;
}

/* ---- what is there ------------------------------------------------------------ */

/* "cg_123" -> NA_DIR_LIVE, 123 (digits only, no sign, no leading blank). */
static enum na_att_dir parse_dir(const char *name, __u64 *id)
{
	uint64_t v;
	int d;

	for (d = NA_DIR_OLD; d > NA_DIR_NONE; d--) {
		size_t n = strlen(dir_prefix[d]);

		char canon[40];

		if (strncmp(name, dir_prefix[d], n) || na_parse_u64(name + n, 1, UINT64_MAX, &v))
			continue;
		/* One spelling per id: "cg_0123" is not netacct's. */
		snprintf(canon, sizeof(canon), "%s%llu", dir_prefix[d], (unsigned long long)v);
		if (strcmp(canon, name))
			return NA_DIR_NONE;
		*id = v;
		return (enum na_att_dir)d;
	}
	return NA_DIR_NONE;
}

int na_att_dir_path(char *buf, size_t len, const char *root, enum na_att_dir dir, __u64 id)
{
	return snprintf(buf, len, "%s/%s%llu", root, dir_prefix[dir], (unsigned long long)id) < (int)len
		       ? 0
		       : -ENAMETOOLONG;
}

static void note_foreign(struct na_tree *t, const char *name)
{
	size_t n = strlen(t->foreign);

	t->nforeign++;
	if (n + strlen(name) + 3 < sizeof(t->foreign))
		snprintf(t->foreign + n, sizeof(t->foreign) - n, "%s%s", n ? ", " : "", name);
}

static int trusted_dir(const struct stat *st)
{
	return owner_ok(st->st_uid) && !(st->st_mode & 022);
}

static void scan_att(int rootfd, struct na_tree_att *a)
{
	struct dirent *e;
	struct stat st;
	size_t i;
	DIR *d;
	int fd;

	if (fstatat(rootfd, a->name, &st, AT_SYMLINK_NOFOLLOW) || !trusted_dir(&st))
		a->untrusted = 1;
	fd = openat(rootfd, a->name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	d = fd >= 0 ? fdopendir(fd) : NULL;
	if (!d) {
		if (fd >= 0)
			close(fd);
		a->untrusted = 1;
		return;
	}
	while ((e = readdir(d))) {
		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		if (e->d_type == DT_DIR || e->d_type == DT_LNK) {
			a->foreign++;
			continue;
		}
		if (!strcmp(e->d_name, na_totals_pin)) {
			a->totals = 1;
			continue;
		}
		for (i = 0; i < na_nlinks; i++) {
			if (na_links[i].kind == NA_LINK_CGROUP && !strcmp(na_links[i].pin, e->d_name)) {
				a->links |= 1ull << i;
				a->nlinks++;
				break;
			}
		}
		a->foreign += i == na_nlinks;
	}
	closedir(d);
}

int na_tree_scan(const char *root, struct na_tree *t)
{
	struct na_tree_att *a;
	struct dirent *e;
	size_t cap = 0, i;
	int fd, err = 0;
	DIR *d;

	memset(t, 0, sizeof(*t));
	fd = open(root, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	d = fd >= 0 ? fdopendir(fd) : NULL;
	if (!d) {
		err = -errno;
		if (fd >= 0)
			close(fd);
		return err == -ENOENT ? err : na_err(err, "read pin root %s%s", root, na_perm_hint(err));
	}
	while ((e = readdir(d))) {
		enum na_att_dir kind;
		__u64 id;

		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		if (e->d_type == DT_DIR) {
			kind = parse_dir(e->d_name, &id);
			if (kind == NA_DIR_NONE) {
				note_foreign(t, e->d_name);
				continue;
			}
			if (t->natt == cap) {
				cap = cap ? cap * 2 : 16;
				a = realloc(t->att, cap * sizeof(*a));
				if (!a) {
					err = -ENOMEM;
					break;
				}
				t->att = a;
			}
			a = &t->att[t->natt++];
			memset(a, 0, sizeof(*a));
			a->id = id;
			a->dir = kind;
			snprintf(a->name, sizeof(a->name), "%s%llu", dir_prefix[kind], (unsigned long long)id);
			scan_att(dirfd(d), a);
			t->nours++;
			continue;
		}
		if (e->d_type != DT_REG || !na_pin_name_is_ours(e->d_name)) {
			note_foreign(t, e->d_name); /* bpffs pins are regular files; a link is nobody's pin */
			continue;
		}
		t->nours++;
		if (!strcmp(e->d_name, "na_meta"))
			t->has_meta = 1;
		for (i = 0; i < na_nlinks; i++)
			if (na_links[i].kind == NA_LINK_GLOBAL && !strcmp(na_links[i].pin, e->d_name))
				t->globals |= 1ull << i;
	}
	closedir(d);
	if (err)
		na_tree_free(t);
	return err;
}

int na_tree_check_trust(const char *root, const struct na_tree *t)
{
	char p[PATH_MAX];
	struct stat st;
	size_t i;

	for (i = 0; i < t->natt; i++) {
		if (!t->att[i].untrusted)
			continue;
		snprintf(p, sizeof(p), "%s/%s", root, t->att[i].name);
		if (lstat(p, &st))
			continue; /* gone meanwhile */
		na_log(NA_LOG_ERROR,
		       "%s (owner uid %u, mode %04o) is not a directory netacct made (root's, writable by nobody else): look at what it holds and remove it (rm -r %s)",
		       p, (unsigned)st.st_uid, (unsigned)(st.st_mode & 07777), p);
		return -EPERM;
	}
	return 0;
}

void na_tree_free(struct na_tree *t)
{
	free(t->att);
	t->att = NULL;
	t->natt = 0;
}

const struct na_tree_att *na_tree_find(const struct na_tree *t, __u64 id, enum na_att_dir dir)
{
	size_t i;

	for (i = 0; i < t->natt; i++)
		if (t->att[i].id == id && t->att[i].dir == dir)
			return &t->att[i];
	return NULL;
}

/* ---- removing netacct's own pins ----------------------------------------------- */

static int unpin(int dirfd, const char *dir, const char *name)
{
	if (unlinkat(dirfd, name, 0) && errno != ENOENT)
		return na_err(-errno, "unpin %s/%s", dir, name);
	return 0;
}

int na_tree_remove_dir(const char *dir)
{
	int fd, err = 0, e;
	size_t i;

	fd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return errno == ENOENT ? 0 : na_err(-errno, "open %s", dir);
	/* The links first (the programs stop), in table order; the totals last. */
	for (i = 0; i < na_nlinks; i++) {
		if (na_links[i].kind == NA_LINK_CGROUP) {
			e = unpin(fd, dir, na_links[i].pin);
			err = err ? err : e;
		}
	}
	for (i = 0; na_retired_att_pins[i]; i++) {
		e = unpin(fd, dir, na_retired_att_pins[i]);
		err = err ? err : e;
	}
	e = unpin(fd, dir, na_totals_pin);
	err = err ? err : e;
	close(fd);
	if (!err && rmdir(dir) && errno != ENOENT) {
		err = -errno;
		if (err == -ENOTEMPTY)
			na_log(NA_LOG_ERROR, "%s: holds entries netacct did not pin; left in place", dir);
		else
			na_err(err, "remove %s", dir);
	}
	return err;
}

int na_tree_remove_root(const char *root, int keep_dir)
{
	struct na_tree t;
	char p[PATH_MAX];
	struct dirent *e;
	int fd, err, e2;
	size_t i;
	DIR *d;

	err = na_tree_scan(root, &t);
	if (err)
		return err == -ENOENT ? 0 : err;
	fd = open(root, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0) {
		na_tree_free(&t);
		return na_err(-errno, "open %s", root);
	}
	/*
	 * na_meta first: from here on this is no committed state, and any netacct
	 * removes the rest. Then the links (the programs stop), then the maps.
	 * An error is reported and the rest still goes.
	 */
	err = unpin(fd, root, "na_meta");
	for (i = 0; i < na_nlinks; i++) {
		if (na_links[i].kind == NA_LINK_GLOBAL) {
			e2 = unpin(fd, root, na_links[i].pin);
			err = err ? err : e2;
		}
	}
	for (i = 0; i < t.natt; i++) {
		e2 = na_att_dir_path(p, sizeof(p), root, t.att[i].dir, t.att[i].id);
		if (!e2)
			e2 = na_tree_remove_dir(p);
		err = err ? err : e2;
	}
	na_tree_free(&t);
	/* Then every other name netacct pins (the maps, names of earlier versions). */
	e2 = dup(fd);
	d = e2 >= 0 ? fdopendir(e2) : NULL;
	if (!d && e2 >= 0)
		close(e2);
	while (d && (e = readdir(d))) {
		if (e->d_type == DT_REG && na_pin_name_is_ours(e->d_name)) {
			e2 = unpin(fd, root, e->d_name);
			err = err ? err : e2;
		}
	}
	if (d)
		closedir(d);
	close(fd);
	if (!err && !keep_dir && rmdir(root) && errno != ENOENT) {
		err = -errno;
		if (err != -ENOTEMPTY)
			na_err(err, "remove %s", root);
	}
	return err;
}

/* ---- who may read ------------------------------------------------------------- */

/*
 * Access to the pinned state (attach --group): directories 0750 and objects
 * 0640 with group share_gid, so that its members open the maps read-only;
 * na_log share_log_mode (0660 when members read the connection log
 * themselves: reading consumes it, through a writable mapping). Links,
 * programs and maps stay writable by root alone. share_gid 0: back to 0700
 * and 0600, root's alone. nftw has no user pointer; callers hold the lock.
 */
static uint32_t share_gid;
static mode_t share_log_mode;
static int share_err;

static int share_one(const char *p, const struct stat *sb, int type, struct FTW *ftw)
{
	mode_t mode;

	(void)sb;
	if (type == FTW_SL || type == FTW_SLN)
		return 0; /* never netacct's, never followed */
	if (type == FTW_D || type == FTW_DP)
		mode = share_gid ? 0750 : 0700;
	else
		mode = !share_gid ? 0600 : strcmp(p + ftw->base, "na_log") ? 0640 : share_log_mode;
	if (lchown(p, (uid_t)-1, share_gid) || chmod(p, mode)) {
		share_err = na_err(-errno, "%s: set group %u and mode %o", p, share_gid, mode);
		return 1;
	}
	return 0;
}

int na_tree_share(const char *root, uint32_t gid, mode_t log_mode)
{
	share_err = 0;
	share_gid = gid;
	share_log_mode = log_mode;
	if (nftw(root, share_one, 16, FTW_PHYS) && !share_err)
		return na_err(-errno, "%s: set group", root);
	return share_err;
}
