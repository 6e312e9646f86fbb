// SPDX-License-Identifier: (BSD-2-Clause OR GPL-2.0)
/*
 * What this process may do and what stands in a cgroup's way, asked of the
 * kernel: capabilities (capget), and the programs already on a cgroup and
 * its ancestors (BPF_PROG_QUERY). attach, detach and doctor ask here, so
 * that an attach refused by the kernel says what doctor says.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <bpf/bpf.h>

#include "internal.h"

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

	for (i = 0; i < NA_ARRAY_SIZE(need); i++) {
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

/*
 * The kernel refuses a multi-attach (EPERM) where a program of the same hook
 * is attached without BPF_F_ALLOW_MULTI on the cgroup itself, and anywhere
 * below an ancestor holding a program attached with no flag at all
 * (kernel/bpf/cgroup.c: __cgroup_bpf_attach(), hierarchy_allows_attach()).
 */
int na_cgroup_blockers(const char *abs, struct na_blockers *b)
{
	struct na_hook hooks[NA_MAX_LINKS];
	char dir[PATH_MAX], *slash;
	struct na_cg2mount m;
	__u32 ids[64], cnt, flags;
	int nh, i, fd;

	memset(b, 0, sizeof(*b));
	nh = na_cgroup_hooks(hooks, NA_MAX_LINKS);
	if (nh < 0)
		return nh;
	fd = open(abs, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	for (i = 0; i < nh; i++) {
		cnt = 64;
		flags = 0;
		if (bpf_prog_query(fd, hooks[i].type, 0, &flags, ids, &cnt)) {
			b->denied |= errno == EPERM || errno == EACCES;
			continue;
		}
		if (cnt && !(flags & BPF_F_ALLOW_MULTI))
			na_str_append(b->here, sizeof(b->here), " %s", hooks[i].name);
		else if (cnt)
			na_str_append(b->others, sizeof(b->others), " %s(%u)", hooks[i].name, cnt);
		cnt = 64;
		if (!bpf_prog_query(fd, hooks[i].type, BPF_F_QUERY_EFFECTIVE, NULL, ids, &cnt))
			b->effective += cnt;
	}
	close(fd);
	if (na_cgroup2_mount(abs, &m))
		return 0;
	snprintf(dir, sizeof(dir), "%s", abs);
	while (!b->above[0] && (slash = strrchr(dir, '/')) && slash > dir && strlen(dir) > strlen(m.dir)) {
		*slash = '\0';
		if (strlen(dir) < strlen(m.dir) || (fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0)
			break;
		for (i = 0; i < nh && !b->above[0]; i++) {
			cnt = 64;
			flags = 0;
			if (!bpf_prog_query(fd, hooks[i].type, 0, &flags, ids, &cnt) && cnt &&
			    !(flags & (BPF_F_ALLOW_MULTI | BPF_F_ALLOW_OVERRIDE)))
				snprintf(b->above, sizeof(b->above), "%s (%s)", dir, hooks[i].name);
		}
		close(fd);
	}
	return 0;
}

int na_blockers_explain(const char *abs, const struct na_blockers *b, char *why, size_t wlen, char *fix,
			size_t flen)
{
	if (b->above[0]) {
		snprintf(why, wlen,
			 "an ancestor, %s, holds a program attached without multi-attach: the kernel refuses any attach below it",
			 b->above);
		snprintf(fix, flen, "attach that program again with the multi flag, or detach it (bpftool cgroup show DIR)");
		return 1;
	}
	if (b->here[0]) {
		snprintf(why, wlen,
			 "programs attached without multi-attach hold its hooks:%s; the kernel refuses any other program there",
			 b->here);
		snprintf(fix, flen,
			 "find them (bpftool cgroup show %s) and attach them again with the multi flag, or detach them", abs);
		return 1;
	}
	return 0;
}
