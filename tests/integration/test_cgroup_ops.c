// SPDX-License-Identifier: (BSD-2-Clause OR GPL-2.0)
/*
 * na_cgroup_create, na_cgroup_enter and na_cgroup_remove (agent/cgroup.c),
 * the create, enter and remove of `netacct run` and na-cgfix, on real
 * cgroups, with their error paths; each answer is checked against the
 * filesystem (stat, statfs) and /proc/PID/cgroup, not against the return code
 * alone:
 *   - off the cgroup2 filesystem (a directory under /tmp) each refuses with
 *     -EMEDIUMTYPE and makes, moves or removes nothing;
 *   - create: a second create of the same group is -EEXIST, one below a
 *     missing parent -ENOENT;
 *   - enter: a missing group is -ENOENT and the process stays where it was;
 *     a pid is moved, and 0 moves the caller (a forked child);
 *   - remove: a group with a process in it, or with a child group, is -EBUSY
 *     and stays; one whose last process leaves within the wait is removed
 *     when it has left; a missing one is -ENOENT.
 * Everything is made below netacct-test-ops-PID in the cgroup2 mount of
 * /proc/self/mountinfo and removed on every exit path, with the two
 * processes it forks. Exit 0 passed, 1 failed, 77 not root or no cgroup2
 * (1 under CI=true).
 */
#include <errno.h>
#include <linux/magic.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cg_probe.h"
#include "check.h"
#include "netacct.h"

#define PROG "test_cgroup_ops"

static char top[PATH_MAX], top_rel[PATH_MAX], tmpdir[] = "/tmp/netacct-test-ops-XXXXXX";
static pid_t kids[3] = { -1, -1, -1 };

/* Wait (at most 1 s) until pid's cgroup is rel: 1 when it is. */
static int arrives(pid_t pid, const char *rel)
{
	char now[PATH_MAX];
	int i;

	for (i = 0; i < 100; i++) {
		v2_path_of(pid, now, sizeof(now));
		if (!strcmp(now, rel))
			return 1;
		usleep(10 * 1000);
	}
	return 0;
}

/*
 * A child that waits to be killed, or exits after linger_ms; with self_into,
 * it first moves itself there (na_cgroup_enter(.., 0)).
 */
static pid_t spawn(const char *self_into, int linger_ms)
{
	pid_t pid = fork();

	if (pid)
		return pid;
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (getppid() == 1 || (self_into && na_cgroup_enter(self_into, 0)))
		_exit(1);
	if (linger_ms) {
		usleep(linger_ms * 1000);
		_exit(0);
	}
	for (;;)
		pause();
}

static void reap(pid_t *pid)
{
	if (*pid > 0) {
		kill(*pid, SIGKILL);
		waitpid(*pid, NULL, 0);
	}
	*pid = -1;
}

static void cleanup(void)
{
	static const char *const subs[] = { "netacct-test-a/netacct-test-c", "netacct-test-a", "netacct-test-b" };
	char path[PATH_MAX];
	size_t i;

	reap(&kids[0]);
	reap(&kids[1]);
	reap(&kids[2]);
	for (i = 0; i < sizeof(subs) / sizeof(subs[0]); i++) {
		pathf(path, sizeof(path), "%s/%s", top, subs[i]);
		if (top[0] && exists(path) && rmdir(path))
			fprintf(stderr, PROG ": cleanup: rmdir %s: %s\n", path, strerror(errno));
	}
	if (top[0] && exists(top) && rmdir(top))
		fprintf(stderr, PROG ": cleanup: rmdir %s: %s; it is left behind\n", top, strerror(errno));
	pathf(path, sizeof(path), "%s/netacct-test-x", tmpdir);
	rmdir(path);
	rmdir(tmpdir);
}

static int skip(const char *why)
{
	const char *ci = getenv("CI");

	if (ci && !strcmp(ci, "true")) {
		fprintf(stderr, PROG ": %s; CI=true, so this is a failure, not a skip\n", why);
		return 1;
	}
	fprintf(stderr, PROG ": %s: skipped\n", why);
	return 77;
}

static void run(void)
{
	char a[PATH_MAX], b[PATH_MAX], c[PATH_MAX], x[PATH_MAX], missing[PATH_MAX], rel[PATH_MAX], was[PATH_MAX];
	char longp[PATH_MAX + 16];

	pathf(a, sizeof(a), "%s/netacct-test-a", top);
	pathf(b, sizeof(b), "%s/netacct-test-b", top);
	pathf(c, sizeof(c), "%s/netacct-test-c", a);
	pathf(missing, sizeof(missing), "%s/netacct-test-missing", top);
	pathf(x, sizeof(x), "%s/netacct-test-x", tmpdir);

	/* create */
	ASSERT_EQ(na_cgroup_create(top), 0, "create the test's own group");
	CHECK(on_cgroup2(top), "create: %s is a cgroup2 directory", top);
	ASSERT_EQ(na_cgroup_create(top), -EEXIST, "create of a group that is there");
	ASSERT_EQ(na_cgroup_create(a), 0, "create a group below it");
	ASSERT_EQ(na_cgroup_create(b), 0, "create a second group below it");
	ASSERT_EQ(na_cgroup_create(c), 0, "create a group two levels down");
	CHECK(on_cgroup2(c), "create: %s is a cgroup2 directory", c);
	pathf(rel, sizeof(rel), "%s/netacct-test-none", missing);
	ASSERT_EQ(na_cgroup_create(rel), -ENOENT, "create below a missing group");
	ASSERT_EQ(na_cgroup_create(x), -EMEDIUMTYPE, "create off the cgroup2 filesystem (/tmp)");
	CHECK(!exists(x), "create off cgroup2: %s must not exist", x);
	memset(longp, 'n', sizeof(longp) - 1);
	longp[sizeof(longp) - 1] = '\0';
	memcpy(longp, top, strlen(top));
	longp[strlen(top)] = '/';
	ASSERT_EQ(na_cgroup_create(longp), -ENAMETOOLONG, "create of a path longer than PATH_MAX");

	/* enter */
	kids[0] = spawn(NULL, 0);
	CHECK(kids[0] > 0, "fork: %s", strerror(errno));
	if (kids[0] < 0)
		return;
	v2_path_of(kids[0], was, sizeof(was));
	ASSERT_EQ(na_cgroup_enter(missing, kids[0]), -ENOENT, "enter a missing group");
	ASSERT_EQ(na_cgroup_enter(tmpdir, kids[0]), -EMEDIUMTYPE, "enter a directory off cgroup2 (/tmp)");
	v2_path_of(kids[0], rel, sizeof(rel));
	ASSERT_STREQ(rel, was, "after the failed enters, the child is where it was");
	ASSERT_EQ(na_cgroup_enter(a, kids[0]), 0, "enter a pid into a group");
	pathf(rel, sizeof(rel), "%s/netacct-test-a", top_rel);
	CHECK(arrives(kids[0], rel), "enter: the child is in %s (/proc/PID/cgroup)", rel);
	pathf(rel, sizeof(rel), "%s/netacct-test-b", top_rel);
	kids[1] = spawn(b, 0);
	CHECK(kids[1] > 0 && arrives(kids[1], rel), "enter with pid 0 moves the caller (a child) into %s", rel);

	/* remove */
	ASSERT_EQ(na_cgroup_remove(a, 100), -EBUSY, "remove a group with a child group and a process in it");
	ASSERT_EQ(na_cgroup_remove(c, 0), 0, "remove an empty group");
	CHECK(!exists(c), "remove: %s is gone", c);
	ASSERT_EQ(na_cgroup_remove(a, 100), -EBUSY, "remove a group with a process in it");
	CHECK(exists(a), "remove of a busy group: %s stays", a);
	ASSERT_EQ(na_cgroup_remove(missing, 0), -ENOENT, "remove a missing group");
	ASSERT_EQ(na_cgroup_remove(x, 0), -ENOENT, "remove a missing directory off cgroup2");
	ASSERT_EQ(mkdir(x, 0755), 0, "mkdir a plain directory in /tmp");
	ASSERT_EQ(na_cgroup_remove(x, 0), -EMEDIUMTYPE, "remove a directory off cgroup2 (/tmp)");
	CHECK(exists(x), "remove off cgroup2: %s stays", x);
	ASSERT_EQ(na_cgroup_remove(top, 0), -EBUSY, "remove a group with child groups");
	CHECK(exists(top), "remove of a parent: %s stays", top);
	/* A group is busy until its last process has exited: remove waits for it, up to its wait. */
	reap(&kids[0]);
	pathf(rel, sizeof(rel), "%s/netacct-test-a", top_rel);
	kids[2] = spawn(a, 300);
	CHECK(kids[2] > 0 && arrives(kids[2], rel), "a child that exits after 300 ms is in %s", rel);
	ASSERT_EQ(na_cgroup_remove(a, NA_CGROUP_EXIT_WAIT_MS), 0,
		  "remove a group whose last process exits within the wait");
	CHECK(!exists(a), "remove after the wait: %s is gone", a);
	reap(&kids[2]);
	reap(&kids[1]);
	ASSERT_EQ(na_cgroup_remove(b, NA_CGROUP_EXIT_WAIT_MS), 0, "remove a group whose process was killed");
	ASSERT_EQ(na_cgroup_remove(top, 0), 0, "remove the test's own group");
	CHECK(!exists(a) && !exists(b) && !exists(top), "remove: %s and its groups are gone", top);
}

int main(void)
{
	struct na_cg2mount m;
	sigset_t old;

	if (geteuid())
		return skip("not root (cgroups are made and processes moved)");
	if (na_cgroup2_mount(NULL, &m) || strcmp(m.root, "/"))
		return skip("no cgroup2 mount of the whole hierarchy in /proc/self/mountinfo");
	if (!mkdtemp(tmpdir)) {
		fprintf(stderr, PROG ": mkdtemp: %s\n", strerror(errno));
		return 1;
	}
	pathf(top_rel, sizeof(top_rel), "/netacct-test-ops-%d", (int)getpid());
	pathf(top, sizeof(top), "%s%s", strcmp(m.dir, "/") ? m.dir : "", top_rel);
	block_ending_signals(&old);
	run();
	cleanup();
	sigprocmask(SIG_SETMASK, &old, NULL);
	return check_summary();
}
