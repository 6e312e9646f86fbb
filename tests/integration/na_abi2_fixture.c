// SPDX-License-Identifier: (BSD-2-Clause OR GPL-2.0)
/*
 * na_abi2_fixture PIN_ROOT CGROUP_PATH: leaves at PIN_ROOT the pinned state
 * netacct 0.1 (ABI 2, commit e1981ad) left after `netacct attach CGROUP_PATH`,
 * attached and counting, for test_upgrade.py:
 *   na_socks na_attached na_active na_sk_owner na_meta na_closed na_log
 *   na_stats na_cgpath                          shared maps
 *   tcp_state cgroup_mkdir                      tracepoint links
 *   cg_<id>/{egress,ingress,sock_create,connect4,connect6,sendmsg4,sendmsg6,
 *            sock_release,totals}
 * with na_meta, na_attached and na_active written as that attach wrote them.
 * (ABI 2's attach.c header comment forgot na_cgpath; its open_skel pinned it.)
 * The programs come from fixtures/abi2_state.bpf.c. Exits when done: the pins
 * keep everything attached. PIN_ROOT must not exist yet; on any failure the
 * whole of it is removed again (unpinning a link detaches its program), so a
 * failed run leaves nothing. Not installed, never part of netacct.
 */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <time.h>
#include <unistd.h>

#include <linux/magic.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "abi2.h"
#include "abi2_state.skel.h"

static const struct {
	const char *prog;
	const char *pin;
} cg_progs[] = {
	{ "na_egress", "egress" },
	{ "na_ingress", "ingress" },
	{ "na_sock_create", "sock_create" },
	{ "na_connect4", "connect4" },
	{ "na_connect6", "connect6" },
	{ "na_sendmsg4", "sendmsg4" },
	{ "na_sendmsg6", "sendmsg6" },
	{ "na_release", "sock_release" },
};

static const struct {
	const char *prog;
	const char *pin;
} global_progs[] = {
	{ "na_tcp_state", "tcp_state" },
	{ "na_cgroup_mkdir", "cgroup_mkdir" },
};

#define NCG (sizeof(cg_progs) / sizeof(cg_progs[0]))
#define NGLOBAL (sizeof(global_progs) / sizeof(global_progs[0]))

/* Prints "na_abi2_fixture: <what>: <why>"; returns -err for `return fail(...)`. */
static int fail(int err, const char *fmt, ...)
{
	va_list ap;

	fputs("na_abi2_fixture: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, ": %s\n", strerror(err < 0 ? -err : err));
	return err < 0 ? err : -err;
}

static int rm_one(const char *p, const struct stat *sb, int type, struct FTW *ftw)
{
	(void)sb;
	(void)type;
	(void)ftw;
	if (remove(p) && errno != ENOENT)
		fail(errno, "undo: remove %s", p);
	return 0;
}

/*
 * The cgroup's path below the cgroup2 root, as ABI 2 recorded it, and its
 * level. The mount is found in /proc/self/mountinfo (hybrid layouts mount it
 * at /sys/fs/cgroup/unified): the one of the hierarchy's root whose mount
 * point holds the cgroup.
 */
static int cgroup_rel(const char *abs, char *rel, size_t len, int *level)
{
	char line[4096], root[PATH_MAX], mnt[PATH_MAX];
	const char *r;
	size_t n;
	int found = 0;
	FILE *f = fopen("/proc/self/mountinfo", "re");

	if (!f)
		return fail(errno, "open /proc/self/mountinfo");
	while (!found && fgets(line, sizeof(line), f)) {
		const char *sep = strstr(line, " - cgroup2 ");

		if (!sep || sscanf(line, "%*s %*s %*s %4095s %4095s", root, mnt) != 2 || strcmp(root, "/"))
			continue;
		n = strlen(mnt);
		if (!strncmp(abs, mnt, n) && (abs[n] == '/' || !abs[n] || !strcmp(mnt, "/")))
			found = 1;
	}
	fclose(f);
	if (!found)
		return fail(ENOENT, "%s: no cgroup2 mount of the hierarchy's root holds it", abs);
	r = strcmp(mnt, "/") ? abs + n : abs;
	if (snprintf(rel, len, "%s", *r ? r : "/") >= (int)len)
		return fail(ENAMETOOLONG, "%s", abs);
	for (*level = 0; *r; r++)
		*level += r[0] == '/' && r[1] && r[1] != '/';
	return 0;
}

static __u64 clock_ns(clockid_t id)
{
	struct timespec ts;

	clock_gettime(id, &ts);
	return (__u64)ts.tv_sec * 1000000000ull + (__u64)ts.tv_nsec;
}

static int pin_link(struct bpf_link **slot, struct bpf_link *link, const char *path, const char *what)
{
	int err = (int)libbpf_get_error(link);

	if (err)
		return fail(err, "attach %s", what);
	err = bpf_link__pin(link, path);
	if (err) {
		bpf_link__destroy(link);
		return fail(err, "pin %s", path);
	}
	*slot = link;
	return 0;
}

static int build(const char *root, const char *cgpath, struct abi2_state_bpf *skel, struct bpf_link **links)
{
	struct bpf_map *shared[] = { skel->maps.na_socks,    skel->maps.na_attached, skel->maps.na_active,
				     skel->maps.na_sk_owner, skel->maps.na_meta,     skel->maps.na_closed,
				     skel->maps.na_log,      skel->maps.na_stats,    skel->maps.na_cgpath };
	char abs[PATH_MAX], dir[PATH_MAX + 32], p[PATH_MAX + 64];
	struct abi2_attach att = {};
	struct abi2_meta meta = {};
	struct statfs sfs;
	struct stat st;
	__u32 zero = 0;
	__u64 token;
	int err, level = 0, cgfd;
	size_t i;

	if (!realpath(cgpath, abs))
		return fail(errno, "%s", cgpath);
	if (stat(abs, &st) || statfs(abs, &sfs))
		return fail(errno, "%s", abs);
	if (!S_ISDIR(st.st_mode) || sfs.f_type != CGROUP2_SUPER_MAGIC)
		return fail(ENOTDIR, "%s: not a cgroup2 directory", abs);
	err = cgroup_rel(abs, att.path, sizeof(att.path), &level);
	if (err)
		return err;

	err = abi2_state_bpf__load(skel);
	if (err)
		return fail(err, "load the ABI 2 programs");
	for (i = 0; i < sizeof(shared) / sizeof(shared[0]); i++) {
		snprintf(p, sizeof(p), "%s/%s", root, bpf_map__name(shared[i]));
		err = bpf_map__pin(shared[i], p);
		if (err)
			return fail(err, "pin %s", p);
	}

	/* What ABI 2's first attach wrote: seq 1 in slot 0, next_seq 2. */
	token = ABI2_TOKEN(1, level, 0);
	meta.abi_version = ABI2_VERSION;
	meta.max_sockets = ABI2_MAX_SOCKETS;
	meta.created_realtime = (__u64)time(NULL);
	meta.next_seq = 2;
	meta.max_closed = ABI2_MAX_CLOSED;
	meta.log_bytes = ABI2_LOG_BYTES;
	err = bpf_map__update_elem(skel->maps.na_meta, &zero, sizeof(zero), &meta, sizeof(meta), 0);
	if (err)
		return fail(err, "write na_meta");

	for (i = 0; i < NGLOBAL; i++) {
		struct bpf_program *prog = bpf_object__find_program_by_name(skel->obj, global_progs[i].prog);

		snprintf(p, sizeof(p), "%s/%s", root, global_progs[i].pin);
		err = pin_link(&links[NCG + i], bpf_program__attach(prog), p, bpf_program__section_name(prog));
		if (err)
			return err;
	}

	snprintf(dir, sizeof(dir), "%s/cg_%llu", root, (unsigned long long)st.st_ino);
	if (mkdir(dir, 0700))
		return fail(errno, "create %s", dir);
	snprintf(p, sizeof(p), "%s/totals", dir);
	err = bpf_map__pin(skel->maps.na_totals, p);
	if (err)
		return fail(err, "pin %s", p);
	cgfd = open(abs, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (cgfd < 0)
		return fail(errno, "open %s", abs);
	for (i = 0; i < NCG; i++) {
		struct bpf_program *prog = bpf_object__find_program_by_name(skel->obj, cg_progs[i].prog);
		char what[PATH_MAX + 64];

		snprintf(p, sizeof(p), "%s/%s", dir, cg_progs[i].pin);
		snprintf(what, sizeof(what), "%s to %s", bpf_program__section_name(prog), abs);
		err = pin_link(&links[i], bpf_program__attach_cgroup(prog, cgfd), p, what);
		if (err)
			break;
	}
	close(cgfd);
	if (err)
		return err;

	att.cgroup_id = st.st_ino;
	att.token = token;
	att.attach_ns = clock_ns(CLOCK_BOOTTIME);
	att.attach_realtime = (__u64)time(NULL);
	err = bpf_map__update_elem(skel->maps.na_attached, &att.cgroup_id, sizeof(att.cgroup_id), &att, sizeof(att),
				   BPF_NOEXIST);
	if (err)
		return fail(err, "write na_attached");
	err = bpf_map__update_elem(skel->maps.na_active, &zero, sizeof(zero), &token, sizeof(token), 0);
	if (err)
		return fail(err, "write na_active");
	return 0;
}

int main(int argc, char **argv)
{
	struct bpf_link *links[NCG + NGLOBAL] = {};
	struct abi2_state_bpf *skel;
	const char *root;
	struct statfs sfs;
	char parent[PATH_MAX];
	size_t i;
	int err;

	if (argc != 3) {
		fprintf(stderr, "usage: na_abi2_fixture PIN_ROOT CGROUP_PATH\n");
		return 2;
	}
	root = argv[1];
	libbpf_set_strict_mode(LIBBPF_STRICT_ALL);
	snprintf(parent, sizeof(parent), "%s", root);
	if (strrchr(parent, '/'))
		*strrchr(parent, '/') = '\0';
	if (statfs(parent[0] ? parent : "/", &sfs)) {
		fail(errno, "%s", parent);
		return 1;
	}
	if (sfs.f_type != BPF_FS_MAGIC) {
		fail(EXDEV, "pin root %s: %s is not on a bpffs mount", root, parent);
		return 1;
	}
	/* Only a new pin root: a failed run may then remove all of it. */
	if (mkdir(root, 0700)) {
		fail(errno, "create pin root %s", root);
		return 1;
	}
	skel = abi2_state_bpf__open();
	if (!skel) {
		fail(errno, "open the ABI 2 object");
		rmdir(root);
		return 1;
	}
	err = build(root, argv[2], skel, links);
	if (err) {
		/* Links first: nothing counts or runs on the cgroup once they go. */
		for (i = 0; i < NCG + NGLOBAL; i++) {
			if (links[i]) {
				bpf_link__unpin(links[i]);
				bpf_link__destroy(links[i]);
			}
		}
		nftw(root, rm_one, 16, FTW_DEPTH | FTW_PHYS);
		abi2_state_bpf__destroy(skel);
		return 1;
	}
	for (i = 0; i < NCG + NGLOBAL; i++) {
		bpf_link__disconnect(links[i]); /* the pin keeps it attached */
		bpf_link__destroy(links[i]);
	}
	abi2_state_bpf__destroy(skel);
	return 0;
}
