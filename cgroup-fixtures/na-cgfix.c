// SPDX-License-Identifier: (BSD-2-Clause OR GPL-2.0)
/*
 * na-cgfix: create, enter and remove netacct's own throw-away cgroups, for the
 * quickstart and the tests.
 *
 *   na-cgfix create NAME            mkdir <cgroup2 mount>/NAME, print its path
 *   na-cgfix exec PATH -- CMD [ARG...]  move self into PATH, then execvp CMD
 *   na-cgfix remove PATH            rmdir PATH and its child cgroups, deepest first
 *
 * The cgroup2 mount comes from /proc/self/mountinfo; the cgroups are made,
 * entered and removed by na_cgroup_create/enter/remove (agent/cgroup.c, shared
 * with `netacct run`), which work on the cgroup2 filesystem only and refuse
 * any directory that statfs() does not report as cgroup2 (why not libcgroup:
 * docs/design.md).
 *
 * Safety: it only creates and removes cgroups whose every name component
 * matches "netacct-*", and never kills anything: when processes remain in a
 * cgroup to be removed it names them and fails, leaving the tree in place.
 *
 * Exit: 0 ok, 1 failure ("na-cgfix: <what>: <why>" on stderr), 2 usage.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/magic.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <unistd.h>

#include "netacct.h"

#pragma GCC poison u8 u16 u32 u64

#define PROG "na-cgfix"
#define NAME_PREFIX "netacct-"
#define EXIT_USAGE 2

#define SYNOPSIS                                                                   \
	"Usage: " PROG " create NAME\n"                                            \
	"       " PROG " exec PATH -- CMD [ARG...]\n"                              \
	"       " PROG " remove PATH\n"

static const char usage_text[] =
	SYNOPSIS
	"\n"
	"Throw-away cgroup v2 fixtures for netacct's quickstart and tests.\n"
	"\n"
	"  create NAME  make <cgroup2 mount>/NAME and print its absolute path; every\n"
	"               component of NAME must match 'netacct-*' (netacct-a/netacct-b\n"
	"               nests under an existing netacct-a)\n"
	"  exec PATH -- CMD [ARG...]\n"
	"               write our pid to PATH/cgroup.procs, then execvp CMD\n"
	"  remove PATH  rmdir PATH and its child cgroups, deepest first; only\n"
	"               'netacct-*' names; fails (kills nothing) if processes remain\n"
	"\n"
	"The cgroup2 mount is read from /proc/self/mountinfo.\n"
	"\n"
	"Examples:\n"
	"  cg=$(" PROG " create netacct-demo)\n"
	"  " PROG " exec \"$cg\" -- python3 -m http.server &\n"
	"  " PROG " remove \"$cg\"\n";

/* "na-cgfix: <what>: <strerror(-err)>"; returns 1, the failure exit status. */
__attribute__((format(printf, 2, 3))) static int fail(int err, const char *fmt, ...)
{
	va_list ap;

	fputs(PROG ": ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, ": %s\n", strerror(err < 0 ? -err : err));
	return 1;
}

/* "na-cgfix: <what>: <why>" for a reason that is no errno; returns 1. */
__attribute__((format(printf, 2, 3))) static int fail_why(const char *why, const char *fmt, ...)
{
	va_list ap;

	fputs(PROG ": ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, ": %s\n", why);
	return 1;
}

static int usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int usage_error(const char *fmt, ...)
{
	va_list ap;

	fputs(PROG ": ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputs("\n" SYNOPSIS, stderr);
	return EXIT_USAGE;
}

static int name_ok(const char *name, size_t len)
{
	size_t n = strlen(NAME_PREFIX);

	return len > n && !strncmp(name, NAME_PREFIX, n) && !memchr(name, '/', len);
}

/* Every '/'-separated component of rel matches netacct-*, no empty ones. */
static int rel_ok(const char *rel)
{
	const char *s = rel, *slash;

	if (!*rel)
		return 0;
	for (;;) {
		slash = strchr(s, '/');
		if (!name_ok(s, slash ? (size_t)(slash - s) : strlen(s)))
			return 0;
		if (!slash)
			return 1;
		s = slash + 1;
	}
}

static const char *base_name(const char *path)
{
	const char *b = strrchr(path, '/');

	return b ? b + 1 : path;
}

static int is_cgroup2(const char *path)
{
	struct statfs sfs;

	if (statfs(path, &sfs))
		return -errno;
	return sfs.f_type == CGROUP2_SUPER_MAGIC ? 0 : -EMEDIUMTYPE;
}

/* 0 when path is a cgroup2 directory; else 1 after "<what> PATH: <why>". */
static int require_cgroup2(const char *what, const char *path)
{
	struct na_cg2mount m;
	FILE *f;
	int err;

	err = is_cgroup2(path);
	if (err != -EMEDIUMTYPE)
		return err ? fail(err, "%s %s", what, path) : 0;
	f = fopen("/proc/self/mountinfo", "re");
	if (f && !na_mountinfo_cgroup2(f, NULL, &m))
		fprintf(stderr, PROG ": %s %s: not a cgroup v2 directory, refusing (cgroup2 is mounted at %s)\n",
			what, path, m.dir);
	else
		fprintf(stderr, PROG ": %s %s: not a cgroup v2 directory, refusing\n", what, path);
	if (f)
		fclose(f);
	return 1;
}

/* The cgroup2 mount holding under, or the first one when under is NULL. */
static int find_mount(const char *under, struct na_cg2mount *m)
{
	FILE *f = fopen("/proc/self/mountinfo", "re");
	int err;

	if (!f)
		return fail(-errno, "open /proc/self/mountinfo");
	err = na_mountinfo_cgroup2(f, under, m);
	fclose(f);
	if (err)
		return fail_why("no cgroup2 filesystem in /proc/self/mountinfo (mount one with: "
				     "mount -t cgroup2 none /sys/fs/cgroup)", "find cgroup2 mount");
	err = is_cgroup2(m->dir);
	if (err)
		return fail(err, "cgroup2 mount %s", m->dir);
	return 0;
}

/* ---- create -------------------------------------------------------------- */
static int cmd_create(int argc, char **argv)
{
	char path[PATH_MAX];
	struct na_cg2mount m;
	int err;

	if (argc != 2)
		return usage_error("create: expected one NAME");
	if (!rel_ok(argv[1]))
		return fail_why("refusing: every name component must match 'netacct-*'",
				"create %s", argv[1]);
	if (find_mount(NULL, &m))
		return 1;
	if (snprintf(path, sizeof(path), "%s/%s", strcmp(m.dir, "/") ? m.dir : "", argv[1]) >=
	    (int)sizeof(path))
		return fail(-ENAMETOOLONG, "create %s", argv[1]);
	err = na_cgroup_create(path);
	if (err) {
		if (err == -EEXIST)
			return fail_why("already exists (remove it with: " PROG " remove PATH)",
					"create %s", path);
		return fail(err, "create %s%s", path,
			    err == -EACCES || err == -EPERM ? " (run as root)" : "");
	}
	printf("%s\n", path);
	if (fflush(stdout) || ferror(stdout)) {
		err = -errno;
		na_cgroup_remove(path, 0);
		return fail(err, "write path to stdout");
	}
	return 0;
}

/* ---- exec ---------------------------------------------------------------- */
static int cmd_exec(int argc, char **argv)
{
	int err;

	if (argc < 4 || strcmp(argv[2], "--"))
		return usage_error("exec: expected PATH -- CMD [ARG...]");
	if (require_cgroup2("exec", argv[1]))
		return 1;
	err = na_cgroup_enter(argv[1], getpid());
	if (err)
		return fail(err, "exec: move pid %d into %s", (int)getpid(), argv[1]);
	execvp(argv[3], argv + 3);
	return fail(-errno, "exec %s", argv[3]);
}

/* ---- remove -------------------------------------------------------------- */
/* The next child directory of d, or NULL (errno set on a read error, 0 at the end). */
static struct dirent *next_subdir(DIR *d)
{
	struct dirent *de;
	struct stat st;

	while ((errno = 0, de = readdir(d))) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		if (de->d_type == DT_DIR)
			return de;
		if (de->d_type == DT_UNKNOWN && !fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) &&
		    S_ISDIR(st.st_mode))
			return de;
	}
	return NULL;
}

/*
 * Check the whole tree before removing anything: every child directory is a
 * netacct-* cgroup, and no process is left in any of them. Returns 0, or 1
 * after reporting every offender.
 */
static int check_tree(const char *path)
{
	char sub[PATH_MAX], comm[64];
	struct dirent *de;
	int bad = 0, err, pid;
	DIR *d;
	FILE *f;

	if (snprintf(sub, sizeof(sub), "%s/cgroup.procs", path) >= (int)sizeof(sub))
		return fail(-ENAMETOOLONG, "remove %s", path);
	f = fopen(sub, "re");
	if (!f)
		return fail(-errno, "remove: read %s", sub);
	while (fscanf(f, "%d", &pid) == 1) {
		char cpath[64];
		FILE *c;

		snprintf(cpath, sizeof(cpath), "/proc/%d/comm", pid);
		comm[0] = '\0';
		c = fopen(cpath, "re");
		if (c) {
			if (!fgets(comm, sizeof(comm), c))
				comm[0] = '\0';
			comm[strcspn(comm, "\n")] = '\0';
			fclose(c);
		}
		fprintf(stderr, PROG ": remove %s: process %d (%s) is still in it; not killing it\n",
			path, pid, comm[0] ? comm : "?");
		bad = 1;
	}
	fclose(f);

	d = opendir(path);
	if (!d)
		return fail(-errno, "remove: open %s", path);
	while ((de = next_subdir(d))) {
		if (snprintf(sub, sizeof(sub), "%s/%s", path, de->d_name) >= (int)sizeof(sub)) {
			fail(-ENAMETOOLONG, "remove %s/%s", path, de->d_name);
			bad = 1;
			continue;
		}
		if (!name_ok(de->d_name, strlen(de->d_name))) {
			fail_why("child cgroup not named 'netacct-*'; not ours, not removing", "remove %s",
				 sub);
			bad = 1;
			continue;
		}
		bad |= check_tree(sub);
	}
	err = errno;
	closedir(d);
	if (err)
		return fail(-err, "remove: read %s", path);
	return bad;
}

/* Depth first: a cgroup with children cannot be removed. 0, or 1 after reporting. */
static int remove_tree(const char *path)
{
	char sub[PATH_MAX];
	struct dirent *de;
	int bad = 0, err;
	DIR *d;

	d = opendir(path);
	if (!d)
		return fail(-errno, "remove: open %s", path);
	while ((de = next_subdir(d))) {
		/* check_tree() vetted these names; re-check in case the tree changed since. */
		if (!name_ok(de->d_name, strlen(de->d_name)) ||
		    snprintf(sub, sizeof(sub), "%s/%s", path, de->d_name) >= (int)sizeof(sub)) {
			fail_why("appeared during removal and is not ours; leaving it", "remove %s/%s",
				 path, de->d_name);
			bad = 1;
			continue;
		}
		bad |= remove_tree(sub);
	}
	err = errno;
	closedir(d);
	if (err)
		return fail(-err, "remove: read %s", path);
	if (bad)
		return 1;
	err = na_cgroup_remove(path, NA_CGROUP_EXIT_WAIT_MS);
	if (err)
		return fail(err, "remove %s%s", path,
			    err == -EBUSY ? " (a process or child cgroup appeared in it)" : "");
	return 0;
}

static int cmd_remove(int argc, char **argv)
{
	char abs[PATH_MAX];
	struct na_cg2mount m;

	if (argc != 2)
		return usage_error("remove: expected one PATH");
	if (!realpath(argv[1], abs))
		return fail(-errno, "remove %s", argv[1]);
	if (require_cgroup2("remove", abs))
		return 1;
	if (!name_ok(base_name(abs), strlen(base_name(abs))))
		return fail_why("refusing: only cgroups named 'netacct-*' are removed", "remove %s",
				abs);
	if (find_mount(abs, &m))
		return 1;
	if (!strcmp(abs, m.dir))
		return fail_why("refusing to remove the cgroup2 root", "remove %s", abs);
	if (check_tree(abs))
		return fail_why("nothing removed", "remove %s", abs);
	return remove_tree(abs);
}

static const struct cmd {
	const char *name;
	int (*fn)(int argc, char **argv);
} cmds[] = {
	{ "create", cmd_create },
	{ "exec", cmd_exec },
	{ "remove", cmd_remove },
};

int main(int argc, char **argv)
{
	size_t i;

	if (argc < 2)
		return usage_error("expected a command");
	if (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help") || !strcmp(argv[1], "help")) {
		fputs(usage_text, stdout);
		return 0;
	}
	for (i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++)
		if (!strcmp(argv[1], cmds[i].name))
			return cmds[i].fn(argc - 1, argv + 1);
	return usage_error("'%s': unknown command", argv[1]);
}
