// SPDX-License-Identifier: (BSD-2-Clause OR GPL-2.0)
/*
 * unit.cgroup: the mountinfo parsers of agent/cgroup.c on crafted text
 * (through fmemopen): the cgroup2 mount a path is under (hybrid and
 * unified layouts, escapes, optional fields, nested mounts, a container's
 * rooted view) and the cgroup v1 hierarchies doctor reports. No privilege,
 * no filesystem state.
 *
 * One line per failed check ("FAIL file:line: what: actual ..., expected ...")
 * and a last line "N passed, N failed". Exit 0 when all passed, 1 otherwise.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "netacct.h"

#pragma GCC poison u8 u16 u32 u64

#include "check.h"

/* ---- na_mountinfo_cgroup2 ------------------------------------------------ */
/* A systemd hybrid layout: v1 controllers under a tmpfs, cgroup2 beside them. */
static const char mi_hybrid[] =
	"22 1 8:1 / / rw,relatime shared:1 - ext4 /dev/sda1 rw\n"
	"31 23 0:28 / /sys/fs/cgroup ro,nosuid,nodev,noexec shared:9 - tmpfs tmpfs ro,mode=755\n"
	"32 31 0:29 / /sys/fs/cgroup/unified rw,nosuid,nodev,noexec,relatime shared:10 - cgroup2 cgroup2 rw,nsdelegate\n"
	"33 31 0:30 / /sys/fs/cgroup/systemd rw,nosuid,nodev,noexec,relatime shared:11 - cgroup cgroup rw,xattr,name=systemd\n"
	"34 31 0:31 / /sys/fs/cgroup/memory rw,nosuid,nodev,noexec,relatime shared:12 - cgroup cgroup rw,memory\n";

static const char mi_v2[] =
	"22 1 8:1 / / rw,relatime shared:1 - ext4 /dev/sda1 rw\n"
	"29 23 0:26 / /sys/fs/cgroup rw,nosuid,nodev,noexec,relatime shared:4 - cgroup2 cgroup2 rw,nsdelegate,memory_recursiveprot\n"
	"30 23 0:27 / /sys/fs/bpf rw,nosuid,nodev,noexec,relatime shared:5 - bpf bpf rw,mode=700\n";

static const char mi_escaped[] =
	"22 1 8:1 / / rw,relatime - ext4 /dev/sda1 rw\n"
	"40 22 0:38 / /mnt/my\\040cgroups rw,relatime - cgroup2 none rw\n";

/* No optional fields at all next to several: the separator, not a column count, ends them. */
static const char mi_optional[] =
	"22 1 8:1 / / rw,relatime - ext4 /dev/sda1 rw\n"
	"41 22 0:39 / /run/cg2 rw,relatime shared:5 master:1 - cgroup2 cgroup2 rw\n";

static const char mi_none[] =
	"22 1 8:1 / / rw,relatime shared:1 - ext4 /dev/sda1 rw\n"
	"31 23 0:28 / /sys/fs/cgroup ro shared:9 - tmpfs tmpfs ro,mode=755\n"
	"34 31 0:31 / /sys/fs/cgroup/memory rw shared:12 - cgroup cgroup rw,memory\n"
	"35 22 0:40 / /mnt/cgroup2 rw - tmpfs cgroup2 rw\n";

/* Two cgroup2 mounts, one inside the other, listed outer first and inner first. */
static const char mi_two_outer_first[] =
	"50 22 0:26 / /sys/fs/cgroup rw - cgroup2 cgroup2 rw\n"
	"51 50 0:26 /app /sys/fs/cgroup/app-view rw - cgroup2 cgroup2 rw\n";
static const char mi_two_inner_first[] =
	"51 50 0:26 /app /sys/fs/cgroup/app-view rw - cgroup2 cgroup2 rw\n"
	"50 22 0:26 / /sys/fs/cgroup rw - cgroup2 cgroup2 rw\n";

/* Root or mount point not absolute once unescaped (\000 ends the string; found by fuzz.parsers). */
static const char mi_not_absolute[] =
	"60 22 0:26 / \\000 rw - cgroup2 cgroup2 rw\n"
	"61 22 0:26 \\000x /x rw - cgroup2 cgroup2 rw\n"
	"62 22 0:26 / sys/fs/cgroup rw - cgroup2 cgroup2 rw\n";

/* In a container: the cgroup2 mount shows a subtree of the hierarchy. */
static const char mi_rooted[] =
	"22 1 8:1 / / rw,relatime - ext4 /dev/sda1 rw\n"
	"60 22 0:26 /foo /sys/fs/cgroup rw,nosuid - cgroup2 cgroup2 rw\n";

static int mountinfo(const char *text, const char *under, struct na_cg2mount *m)
{
	FILE *f = fmemopen((void *)text, strlen(text), "r");
	int err;

	if (!f) {
		fprintf(stderr, "FAIL fmemopen: %s\n", strerror(errno));
		return -errno;
	}
	memset(m, 0, sizeof(*m));
	err = na_mountinfo_cgroup2(f, under, m);
	fclose(f);
	return err;
}

/* One reading: what it returns and, where given, the mount's dir and root. */
struct mi_case {
	const char *name;
	const char *text;
	const char *under; /* NULL: any cgroup2 mount */
	int ret;
	const char *dir, *root; /* NULL: not checked */
};

static const struct mi_case mi_cases[] = {
	{ "hybrid", mi_hybrid, NULL, 0, "/sys/fs/cgroup/unified", "/" },
	{ "hybrid under", mi_hybrid, "/sys/fs/cgroup/unified/netacct-x", 0, "/sys/fs/cgroup/unified", NULL },
	{ "hybrid: a v1 path is under no cgroup2 mount", mi_hybrid, "/sys/fs/cgroup/memory/x", -ENOENT, NULL, NULL },
	{ "v2", mi_v2, NULL, 0, "/sys/fs/cgroup", "/" },
	{ "v2 under the mount point itself", mi_v2, "/sys/fs/cgroup", 0, "/sys/fs/cgroup", NULL },
	{ "v2: a sibling sharing a string prefix is not under the mount", mi_v2, "/sys/fs/cgroupx/a", -ENOENT, NULL, NULL },
	{ "escaped: \\040 becomes a space", mi_escaped, NULL, 0, "/mnt/my cgroups", NULL },
	{ "escaped under", mi_escaped, "/mnt/my cgroups/netacct-a", 0, NULL, NULL },
	{ "optional fields", mi_optional, NULL, 0, "/run/cg2", "/" },
	{ "no cgroup2 (a tmpfs with source 'cgroup2' does not count)", mi_none, NULL, -ENOENT, NULL, NULL },
	{ "empty mountinfo", "", NULL, -ENOENT, NULL, NULL },
	{ "a root or mount point that is not an absolute path is no mount", mi_not_absolute, NULL, -ENOENT, NULL, NULL },
	{ "two mounts, outer first: the longest prefix", mi_two_outer_first, "/sys/fs/cgroup/app-view/netacct-a", 0,
	  "/sys/fs/cgroup/app-view", "/app" },
	{ "two mounts, inner first: the longest prefix", mi_two_inner_first, "/sys/fs/cgroup/app-view/netacct-a", 0,
	  "/sys/fs/cgroup/app-view", NULL },
	{ "two mounts, path under the outer only", mi_two_inner_first, "/sys/fs/cgroup/netacct-b", 0, "/sys/fs/cgroup",
	  "/" },
	{ "two mounts, no under: the first listed", mi_two_inner_first, NULL, 0, "/sys/fs/cgroup/app-view", NULL },
	{ "rooted", mi_rooted, NULL, 0, "/sys/fs/cgroup", "/foo" },
};

static void test_mountinfo(void)
{
	struct na_cg2mount m;
	char what[160];
	size_t i;

	for (i = 0; i < NA_ARRAY_SIZE(mi_cases); i++) {
		const struct mi_case *c = &mi_cases[i];

		snprintf(what, sizeof(what), "%s: %s", c->name, c->ret ? "refused" : "found");
		ASSERT_EQ(mountinfo(c->text, c->under, &m), c->ret, what);
		if (c->dir) {
			snprintf(what, sizeof(what), "%s: dir", c->name);
			ASSERT_STREQ(m.dir, c->dir, what);
		}
		if (c->root) {
			snprintf(what, sizeof(what), "%s: root", c->name);
			ASSERT_STREQ(m.root, c->root, what);
		}
	}
}

/* ---- cgroup v1 hierarchies in mountinfo (doctor) ------------------------ */
static void v1_case(const char *text, int any, const char *net, const char *what)
{
	struct na_v1mounts v;
	FILE *f = fmemopen((void *)text, strlen(text), "r");

	if (!f) {
		CHECK(0, "%s: fmemopen", what);
		return;
	}
	na_mountinfo_v1(f, &v);
	fclose(f);
	ASSERT_EQ(v.any, any, what);
	ASSERT_STREQ(v.net, net, what);
}

static void test_v1(void)
{
	v1_case("30 25 0:26 / /sys/fs/cgroup/unified rw - cgroup2 cgroup2 rw,nsdelegate\n", 0, "",
		"unified: no v1");
	v1_case("30 25 0:26 / /sys/fs/cgroup/unified rw - cgroup2 cgroup2 rw\n"
		"31 25 0:27 / /sys/fs/cgroup/cpu rw,nosuid - cgroup cgroup rw,cpu\n", 1, "",
		"hybrid without net_cls");
	v1_case("31 25 0:27 / /sys/fs/cgroup/net_cls,net_prio rw shared:9 - cgroup cgroup rw,net_cls,net_prio\n", 1,
		"/sys/fs/cgroup/net_cls,net_prio", "net_cls,net_prio hierarchy (optional field before -)");
	v1_case("31 25 0:27 / /mnt/my\\040prio rw - cgroup none rw,net_prio\n", 1, "/mnt/my prio",
		"net_prio alone, escaped mount point");
	v1_case("31 25 0:27 / /x rw - cgroup none rw,name=net_cls_not\n", 1, "",
		"a named hierarchy is not net_cls");
	v1_case("31 25 0:27 / /x rw - tmpfs cgroup rw,net_cls\n", 0, "", "not a cgroup filesystem");
}

int main(void)
{
	test_mountinfo();
	test_v1();
	return check_summary();
}
