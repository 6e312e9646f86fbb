// SPDX-License-Identifier: (BSD-2-Clause OR GPL-2.0)
/*
 * libcgroup_v2: what libcgroup, the Debian library the build checks for,
 * does when asked to make a cgroup v2 group, move a process into it and
 * remove it, on this host. It is the measurement behind netacct's own
 * create, enter and remove (agent/cgroup.c) and the libcgroup paragraph of
 * docs/design.md; not part of the product.
 *
 * It asks libcgroup's public API (cgroup_init, cgroup_new_cgroup,
 * cgroup_add_controller, cgroup_create_cgroup, cgroup_attach_task_pid,
 * cgroup_delete_cgroup_ext) three ways:
 *   - with no controller: the group netacct needs (it counts, it limits
 *     nothing);
 *   - with "cgroup", the name libcgroup takes for the cgroup.* files of the
 *     v2 hierarchy (cgroup_test_subsys_mounted() lets it through whenever a
 *     v2 controller is known);
 *   - with each controller that libcgroup places at the cgroup2 mount;
 * and checks each answer against the filesystem and /proc/PID/cgroup, not
 * against libcgroup's return code.
 *
 * Safety, from libcgroup 2.0.2's src/api.c, read before this was first run:
 * every group is below netacct-test-lcg-PID, which this program makes itself
 * in the cgroup2 mount of /proc/self/mountinfo (na_cgroup_create) and removes
 * with all below it on every exit path; the only process moved is its own
 * child, which starts in that group. No v1 controller is ever named (a
 * controller counts as v2 only when statfs of every mount point libcgroup
 * gives for it says cgroup2, and it is that mount), and no group is asked
 * for at the top of the hierarchy: for a v2 controller, cgroup_create_cgroup
 * writes "+CONTROLLER" into the cgroup.subtree_control of each ancestor below
 * the mount point down to the parent, and for a group at the top into the
 * root cgroup's, the host's. Deletes
 * use CGFLAG_DELETE_EMPTY_ONLY only: without it libcgroup moves a group's
 * processes to its parent. cgroup_add_all_controllers() (every v1 hierarchy)
 * and cgroup_attach_task_pid(NULL, ...) (which dereferences the NULL group
 * in 2.0.2) are left alone.
 *
 * Output: one line per measurement on stdout, libcgroup's own warnings on
 * stderr. Exit 0: libcgroup makes, enters and removes no group without a
 * controller, as docs/design.md says; 1: it does one of them (a libcgroup
 * that netacct could use: docs/design.md and agent/cgroup.c are out of date),
 * it knows the cgroup2 mount or removes through "cgroup" otherwise than
 * measured there, or the measurement failed; 77: not root or no cgroup2 (1
 * under CI=true).
 */
#include <dirent.h>
#include <errno.h>
#include <libcgroup.h>
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
#include "netacct.h"

#define PROG "libcgroup_v2"
#define MAX_V2 16

static struct na_cg2mount mnt;
static char top[PATH_MAX];  /* netacct-test-lcg-PID, absolute */
static char top_rel[PATH_MAX]; /* the same below the mount: libcgroup's names are relative to it */
static pid_t child = -1;
static int unexpected; /* a measurement that differs from docs/design.md */

static void libcgroup_log(void *userdata, int level, const char *fmt, va_list ap)
{
	(void)userdata;
	(void)level;
	fputs(PROG ": libcgroup says: ", stderr);
	vfprintf(stderr, fmt, ap);
}

/* "R (libcgroup's words)" */
static const char *said(int ret)
{
	static char buf[256];

	snprintf(buf, sizeof(buf), "returned %d (%s)", ret, ret ? cgroup_strerror(ret) : "success");
	return buf;
}

/* A libcgroup group named top_rel/SUB, with controller ctrl (NULL: none). */
static struct cgroup *group(const char *sub, const char *ctrl)
{
	char name[PATH_MAX];
	struct cgroup *cg;

	pathf(name, sizeof(name), "%s/%s", top_rel + 1, sub);
	cg = cgroup_new_cgroup(name);
	if (cg && ctrl && !cgroup_add_controller(cg, ctrl)) {
		cgroup_free(&cg);
		return NULL;
	}
	return cg;
}

static void at(char *out, size_t len, const char *sub)
{
	pathf(out, len, "%s/%s", top, sub);
}

/* ---- cleanup ------------------------------------------------------------- */
/* Depth first; every directory below top is this program's. */
static int remove_below(const char *path)
{
	char sub[PATH_MAX];
	struct dirent *de;
	int bad = 0;
	DIR *d = opendir(path);

	if (!d)
		return -errno;
	while ((de = readdir(d))) {
		if (de->d_type != DT_DIR || !strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		pathf(sub, sizeof(sub), "%s/%s", path, de->d_name);
		bad |= remove_below(sub) != 0;
	}
	closedir(d);
	if (bad)
		return -EBUSY;
	return na_cgroup_remove(path, NA_CGROUP_EXIT_WAIT_MS);
}

static int cleanup(void)
{
	int err = 0;

	if (child > 0) {
		kill(child, SIGKILL);
		waitpid(child, NULL, 0);
		child = -1;
	}
	if (top[0] && exists(top)) {
		err = remove_below(top);
		if (err)
			fprintf(stderr, PROG ": remove %s and its groups: %s; it is left behind\n", top, strerror(-err));
	}
	return err;
}

/* ---- measurements --------------------------------------------------------- */
struct v2ctrls {
	char name[MAX_V2][64];
	int n;
};

/* The controllers libcgroup places at the cgroup2 mount and nowhere else. */
static int libcgroup_v2_controllers(struct v2ctrls *v)
{
	struct cgroup_mount_point info;
	char path[FILENAME_MAX];
	void *h = NULL, *mh = NULL;
	int ret, all, n = 0;

	v->n = 0;
	for (ret = cgroup_get_controller_begin(&h, &info); !ret; ret = cgroup_get_controller_next(&h, &info)) {
		n++;
		if (strcmp(info.path, mnt.dir) || v->n == MAX_V2 || strlen(info.name) >= sizeof(v->name[0]))
			continue;
		all = 1;
		for (ret = cgroup_get_subsys_mount_point_begin(info.name, &mh, path); !ret;
		     ret = cgroup_get_subsys_mount_point_next(&mh, path))
			all &= on_cgroup2(path) && !strcmp(path, mnt.dir);
		cgroup_get_subsys_mount_point_end(&mh);
		if (all)
			pathf(v->name[v->n++], sizeof(v->name[0]), "%s", info.name);
	}
	if (h)
		cgroup_get_controller_end(&h);
	return n;
}

static void try_create(const char *what, const char *sub, const char *ctrl, int expect_made)
{
	struct cgroup *cg = group(sub, ctrl);
	char path[PATH_MAX];
	int ret, made;

	if (!cg) {
		printf("create, %s: cgroup_new_cgroup/cgroup_add_controller failed\n", what);
		unexpected = 1;
		return;
	}
	at(path, sizeof(path), sub);
	ret = cgroup_create_cgroup(cg, 1);
	made = exists(path);
	printf("create, %s: %s; %s\n", what, said(ret), made ? "made the group in cgroup v2" : "made nothing");
	cgroup_free(&cg);
	if (expect_made >= 0 && made != expect_made)
		unexpected = 1;
}

/* Move our child with libcgroup into top/SUB (made by us); did it arrive? */
static void try_enter(const char *what, const char *sub, const char *ctrl, int expect_moved)
{
	struct cgroup *cg = group(sub, ctrl);
	char want[PATH_MAX], now[PATH_MAX];
	int ret, moved;

	if (!cg) {
		printf("enter, %s: cgroup_new_cgroup/cgroup_add_controller failed\n", what);
		unexpected = 1;
		return;
	}
	ret = cgroup_attach_task_pid(cg, child);
	cgroup_free(&cg);
	pathf(want, sizeof(want), "%s/%s", top_rel, sub);
	v2_path_of(child, now, sizeof(now));
	moved = !strcmp(now, want);
	printf("enter, %s: %s; the child is in %s%s\n", what, said(ret), now, moved ? " (moved)" : " (not moved)");
	if (moved && na_cgroup_enter(top, child))
		unexpected = 1; /* back to the top, for the next one */
	if (expect_moved >= 0 && moved != expect_moved)
		unexpected = 1;
}

/* Remove top/SUB (made by us) with libcgroup, empty groups only; is it gone? */
static void try_remove(const char *what, const char *sub, const char *ctrl, int expect_gone)
{
	struct cgroup *cg = group(sub, ctrl);
	char path[PATH_MAX];
	int ret, gone, was;

	if (!cg) {
		printf("remove, %s: cgroup_new_cgroup/cgroup_add_controller failed\n", what);
		unexpected = 1;
		return;
	}
	at(path, sizeof(path), sub);
	was = exists(path);
	ret = cgroup_delete_cgroup_ext(cg, CGFLAG_DELETE_EMPTY_ONLY);
	cgroup_free(&cg);
	gone = was && !exists(path);
	printf("remove, %s: %s; %s\n", what, said(ret),
	       !was ? "there was no such group" : gone ? "removed" : "the group is still there");
	if (expect_gone >= 0 && gone != expect_gone)
		unexpected = 1;
}

static int make(const char *sub)
{
	char path[PATH_MAX];
	int err;

	at(path, sizeof(path), sub);
	err = na_cgroup_create(path);
	if (err)
		fprintf(stderr, PROG ": create %s: %s\n", path, strerror(-err));
	return err;
}

static int measure(void)
{
	char offered[512] = "", path[PATH_MAX], ctl[96];
	struct v2ctrls v;
	int ret, nlisted, i, known;
	FILE *f;

	if (strlen(mnt.dir) > PATH_MAX / 2) {
		fprintf(stderr, PROG ": the cgroup2 mount point is too long to measure: %s\n", mnt.dir);
		return 1;
	}
	pathf(path, sizeof(path), "%s/cgroup.controllers", mnt.dir);
	f = fopen(path, "re");
	if (f) {
		if (!fgets(offered, sizeof(offered), f))
			offered[0] = '\0';
		offered[strcspn(offered, "\n")] = '\0';
		fclose(f);
	}
	printf("host: cgroup2 at %s, offering the controllers [%s]\n", mnt.dir, offered);

	ret = cgroup_init();
	printf("init: %s\n", said(ret));
	if (ret)
		return 1;
	nlisted = libcgroup_v2_controllers(&v);
	known = v.n > 0;
	printf("mount: libcgroup lists %d controller mounts; at the cgroup2 mount: [", nlisted);
	for (i = 0; i < v.n; i++)
		printf("%s%s", i ? " " : "", v.name[i]);
	printf("]%s\n", known ? "" : " (libcgroup does not know the cgroup2 mount)");
	/* libcgroup 2.0.2 learns a cgroup2 mount only from its cgroup.controllers. */
	if (known != (offered[0] != '\0'))
		unexpected = 1;

	/* The parent of it all, and a child in it to move around. */
	snprintf(top_rel, sizeof(top_rel), "/netacct-test-lcg-%d", (int)getpid());
	pathf(top, sizeof(top), "%s%s", strcmp(mnt.dir, "/") ? mnt.dir : "", top_rel);
	if (strcmp(mnt.root, "/")) {
		fprintf(stderr, PROG ": the cgroup2 mount's root is %s, not the hierarchy's: not measured\n", mnt.root);
		return 1;
	}
	ret = na_cgroup_create(top);
	if (ret) {
		top[0] = '\0';
		fprintf(stderr, PROG ": create %s%s: %s\n", mnt.dir, top_rel, strerror(-ret));
		return 1;
	}
	child = fork();
	if (child < 0) {
		fprintf(stderr, PROG ": fork: %s\n", strerror(errno));
		return 1;
	}
	if (child == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (getppid() == 1 || na_cgroup_enter(top, 0))
			_exit(1);
		for (;;)
			pause();
	}
	for (i = 0; i < 100; i++) {
		v2_path_of(child, path, sizeof(path));
		if (!strcmp(path, top_rel))
			break;
		usleep(10 * 1000);
	}
	if (strcmp(path, top_rel)) {
		fprintf(stderr, PROG ": the child did not reach %s (it is in %s)\n", top, path);
		return 1;
	}

	/* Create: libcgroup makes the group. Never a v1 controller, never at the top (see above). */
	try_create("no controller", "netacct-test-bare", NULL, 0);
	try_create("pseudo-controller \"cgroup\"", "netacct-test-pseudo", "cgroup", 0);
	for (i = 0; i < v.n; i++) {
		snprintf(ctl, sizeof(ctl), "netacct-test-ctl-%s", v.name[i]);
		snprintf(path, sizeof(path), "controller %s (at the cgroup2 mount)", v.name[i]);
		try_create(path, ctl, v.name[i], -1);
	}

	/* Enter: the group is made by us, libcgroup moves the child. */
	if (make("netacct-test-enter"))
		return 1;
	try_enter("no controller", "netacct-test-enter", NULL, 0);
	try_enter("pseudo-controller \"cgroup\"", "netacct-test-enter", "cgroup", 0);
	for (i = 0; i < v.n; i++) {
		snprintf(path, sizeof(path), "controller %s", v.name[i]);
		try_enter(path, "netacct-test-enter", v.name[i], -1);
	}

	/* Remove: groups made by us, empty unless said. */
	if (make("netacct-test-rm-bare") || make("netacct-test-rm-pseudo"))
		return 1;
	try_remove("no controller", "netacct-test-rm-bare", NULL, 0);
	/* Through "cgroup", libcgroup rmdirs the group in the first v2 mount it knows, if any. */
	try_remove("pseudo-controller \"cgroup\"", "netacct-test-rm-pseudo", "cgroup", known);
	at(path, sizeof(path), "netacct-test-enter");
	ret = na_cgroup_enter(path, child);
	if (ret) {
		fprintf(stderr, PROG ": move the child into %s: %s\n", path, strerror(-ret));
		return 1;
	}
	try_remove("pseudo-controller \"cgroup\", the child in it", "netacct-test-enter", "cgroup", 0);
	try_remove("pseudo-controller \"cgroup\", a group that is not there", "netacct-test-missing", "cgroup", -1);
	return 0;
}

int main(void)
{
	sigset_t old;
	int rc, err;

	if (geteuid()) {
		const char *ci = getenv("CI");

		fprintf(stderr, PROG ": not root (cgroups are made and processes moved)%s\n",
			ci && !strcmp(ci, "true") ? "; CI=true, so this is a failure, not a skip" : "");
		return ci && !strcmp(ci, "true") ? 1 : 77;
	}
	if (na_cgroup2_mount(NULL, &mnt)) {
		fprintf(stderr, PROG ": no cgroup2 mount in /proc/self/mountinfo\n");
		return getenv("CI") && !strcmp(getenv("CI"), "true") ? 1 : 77;
	}
	cgroup_set_logger(libcgroup_log, CGROUP_LOG_WARNING, NULL);
	/* Whatever comes, the groups and the child go. */
	block_ending_signals(&old);
	setvbuf(stdout, NULL, _IOLBF, 0);
	rc = measure();
	err = cleanup();
	if (!rc && !err)
		printf("verdict: %s\n",
		       unexpected ? "NOT as docs/design.md says: this libcgroup does something else (above); "
				    "see whether netacct's create/enter/remove (agent/cgroup.c) can use it"
				  : "as docs/design.md says: libcgroup makes, enters and removes no cgroup v2 group "
				    "without a controller");
	sigprocmask(SIG_SETMASK, &old, NULL);
	return rc || err || unexpected ? 1 : 0;
}
