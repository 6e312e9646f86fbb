// SPDX-License-Identifier: (BSD-2-Clause OR GPL-2.0)
/*
 * doctor: what netacct needs from this host, checked (probed, not guessed),
 * one line per check with the fix when one is needed. FAIL means netacct
 * cannot work as asked; warn means it works with a limit worth knowing.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <getopt.h>
#include <linux/magic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>
#include <json-c/json.h>

#include "args.h"

enum verdict { OK, WARN, FAIL };
static const char *const verdict_name[] = { "ok", "warn", "FAIL" };

struct check {
	const char *name;
	enum verdict v;
	char detail[512];
	char fix[512];
};

struct report {
	struct check c[NA_DOCTOR_MAX_PATHS + 16];
	size_t n;
};

/* Room for every host check and NA_DOCTOR_MAX_PATHS targets (cmd_doctor refuses more). */
static struct check *add(struct report *r, const char *name, enum verdict v)
{
	struct check *c = &r->c[r->n++];

	memset(c, 0, sizeof(*c));
	c->name = name;
	c->v = v;
	return c;
}

/* Text for a check; a path too long for it is cut (the check's verdict is what matters). */
__attribute__((format(printf, 3, 4))) static void say(char *buf, size_t len, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, len, fmt, ap);
	va_end(ap);
}

#define SAY(buf, ...) say((buf), sizeof(buf), __VA_ARGS__)

static void check_kernel(struct report *r)
{
	struct utsname u;
	unsigned maj = 0, min = 0;
	struct check *c;

	uname(&u);
	sscanf(u.release, "%u.%u", &maj, &min);
	c = add(r, "kernel", maj > 5 || (maj == 5 && min >= 15) ? OK : FAIL);
	SAY(c->detail, "Linux %s (5.15 or newer needed)", u.release);
	if (c->v == FAIL)
		SAY(c->fix, "run a newer kernel: tp_btf tracepoints, ring buffers and bpf_loop are needed");
	c = add(r, "btf", access("/sys/kernel/btf/vmlinux", R_OK) ? FAIL : OK);
	SAY(c->detail, "/sys/kernel/btf/vmlinux %s", c->v == OK ? "present" : "missing");
	if (c->v == FAIL)
		SAY(c->fix, "a kernel built with CONFIG_DEBUG_INFO_BTF=y (the TCP state and cgroup tracepoints need it)");
}

/* Program and map types, probed by loading tiny ones (needs CAP_BPF). */
static void check_types(struct report *r, int privileged)
{
	static const struct {
		enum bpf_prog_type t;
		const char *name;
	} progs[] = {
		{ BPF_PROG_TYPE_CGROUP_SKB, "cgroup_skb" },
		{ BPF_PROG_TYPE_CGROUP_SOCK, "cgroup_sock" },
		{ BPF_PROG_TYPE_CGROUP_SOCK_ADDR, "cgroup_sock_addr" },
		{ BPF_PROG_TYPE_SYSCALL, "syscall" },
	};
	static const struct {
		enum bpf_map_type t;
		const char *name;
	} maps[] = {
		{ BPF_MAP_TYPE_HASH, "hash" },
		{ BPF_MAP_TYPE_PERCPU_ARRAY, "percpu_array" },
		{ BPF_MAP_TYPE_LRU_HASH, "lru_hash" },
		{ BPF_MAP_TYPE_RINGBUF, "ringbuf" },
	};
	static const char *const tps[] = { "btf_trace_tcp_destroy_sock", "btf_trace_cgroup_mkdir" };
	char missing[256] = "";
	struct check *c;
	struct btf *btf;
	size_t i;

	if (!privileged) {
		c = add(r, "bpf types", WARN);
		SAY(c->detail, "not probed: loading a probe needs CAP_BPF");
		SAY(c->fix, "run netacct doctor as root");
		return;
	}
	for (i = 0; i < sizeof(progs) / sizeof(progs[0]); i++)
		if (libbpf_probe_bpf_prog_type(progs[i].t, NULL) != 1)
			snprintf(missing + strlen(missing), sizeof(missing) - strlen(missing), " %s", progs[i].name);
	for (i = 0; i < sizeof(maps) / sizeof(maps[0]); i++)
		if (libbpf_probe_bpf_map_type(maps[i].t, NULL) != 1)
			snprintf(missing + strlen(missing), sizeof(missing) - strlen(missing), " %s", maps[i].name);
	/* Tracing programs are not probed by libbpf: the tracepoints they attach to are looked up in BTF. */
	btf = btf__load_vmlinux_btf();
	for (i = 0; i < sizeof(tps) / sizeof(tps[0]); i++)
		if (!btf || btf__find_by_name_kind(btf, tps[i], BTF_KIND_TYPEDEF) < 0)
			snprintf(missing + strlen(missing), sizeof(missing) - strlen(missing), " %s", tps[i]);
	btf__free(btf);
	c = add(r, "bpf types", missing[0] ? FAIL : OK);
	if (missing[0]) {
		SAY(c->detail, "not supported by this kernel:%s", missing);
		SAY(c->fix, "a kernel with these BPF program and map types (5.15 or newer, CONFIG_BPF_SYSCALL)");
	} else {
		SAY(c->detail, "cgroup_skb, cgroup_sock, cgroup_sock_addr, syscall programs; hash, percpu_array, "
			       "lru_hash, ringbuf maps: all load; tracepoints tcp_destroy_sock, "
			       "cgroup_mkdir in BTF");
	}
}

static void check_cgroups(struct report *r)
{
	struct na_v1mounts v1;
	struct na_cg2mount m;
	struct check *c;
	FILE *f;

	f = fopen("/proc/self/mountinfo", "re");
	if (!f || na_mountinfo_cgroup2(f, NULL, &m)) {
		c = add(r, "cgroup2", FAIL);
		SAY(c->detail, "no cgroup2 mount in /proc/self/mountinfo");
		SAY(c->fix, "mount -t cgroup2 none /sys/fs/cgroup (or boot with systemd.unified_cgroup_hierarchy=1)");
		if (f)
			fclose(f);
		return;
	}
	rewind(f);
	na_mountinfo_v1(f, &v1);
	fclose(f);
	c = add(r, "cgroup2", OK);
	SAY(c->detail, "%s at %s%s", v1.any ? "hybrid layout: cgroup2" : "unified layout: cgroup2", m.dir,
	    v1.any ? " (cgroup v1 hierarchies beside it; netacct uses cgroup2 only)" : "");
	c = add(r, "net_cls/net_prio", v1.net[0] ? WARN : OK);
	if (v1.net[0]) {
		SAY(c->detail, "a cgroup v1 net_cls or net_prio hierarchy is mounted at %s", v1.net);
		SAY(c->fix, "once anything writes net_cls.classid or net_prio.ifpriomap, the kernel stops matching new "
			    "sockets to cgroup2 (dmesg: \"disabling cgroup2 socket matching\") and netacct sees "
			    "nothing of them: unmount it, or boot with cgroup_no_v1=net_cls,net_prio");
	} else {
		SAY(c->detail, "no cgroup v1 net_cls or net_prio hierarchy (they would disable cgroup2 socket matching)");
	}
}

static void check_bpffs(struct report *r, const char *pin_root)
{
	char parent[PATH_MAX], *slash;
	struct statfs sfs;
	struct check *c;

	snprintf(parent, sizeof(parent), "%s", pin_root);
	slash = strrchr(parent, '/');
	if (slash && slash != parent)
		*slash = '\0';
	if (!statfs(parent, &sfs) && sfs.f_type == BPF_FS_MAGIC) {
		c = add(r, "bpffs", OK);
		SAY(c->detail, "%s is a bpffs mount (the pin root %s goes there)", parent, pin_root);
	} else if (!strcmp(parent, "/sys/fs/bpf")) {
		c = add(r, "bpffs", WARN);
		SAY(c->detail, "/sys/fs/bpf is not mounted");
		SAY(c->fix, "attach mounts it (mode 0700); or: mount -t bpf bpf /sys/fs/bpf");
	} else {
		c = add(r, "bpffs", FAIL);
		SAY(c->detail, "%s, the pin root's parent, is not a bpffs mount", parent);
		SAY(c->fix, "mount -t bpf bpf %s, or use --pin-root /sys/fs/bpf/NAME", parent);
	}
}

static void check_caps(struct report *r, int privileged)
{
	struct check *c = add(r, "capabilities", privileged ? OK : WARN);

	if (privileged) {
		SAY(c->detail, "CAP_BPF, CAP_NET_ADMIN and CAP_PERFMON: attach and detach can run");
	} else {
		SAY(c->detail, "CAP_BPF, CAP_NET_ADMIN or CAP_PERFMON missing: attach and detach will not run");
		SAY(c->fix, "run them as root; to read without root, root attaches with --group GROUP");
	}
}

static void check_state(struct report *r, const char *pin_root)
{
	struct na_meta meta = {};
	struct check *c;
	int have = 0, err;
	DIR *d;

	/* na_meta_read() reports its own errors: quiet here, the check says it. */
	d = opendir(pin_root);
	if (!d && errno == ENOENT) {
		c = add(r, "pinned state", OK);
		SAY(c->detail, "nothing attached under %s", pin_root);
		return;
	}
	if (d)
		closedir(d);
	err = na_state_meta(pin_root, &meta, &have);
	if (err == -EPROTO) {
		c = add(r, "pinned state", FAIL);
		if (meta.abi_version && meta.abi_version != NA_ABI_VERSION)
			SAY(c->detail, "%s holds state of ABI version %u (this netacct speaks %u)", pin_root,
			    meta.abi_version, NA_ABI_VERSION);
		else
			SAY(c->detail, "%s holds state of another netacct version or layout (ABI %u expected)",
			    pin_root, NA_ABI_VERSION);
		SAY(c->fix, "netacct --pin-root %s detach --all (its counts go with it), then attach again", pin_root);
	} else if (err == -EACCES || err == -EPERM) {
		c = add(r, "pinned state", WARN);
		SAY(c->detail, "%s is not readable by this user", pin_root);
		SAY(c->fix, "run as root, or ask root to attach with --group GROUP");
	} else if (err) {
		c = add(r, "pinned state", FAIL);
		SAY(c->detail, "%s: %s", pin_root, strerror(-err));
	} else {
		c = add(r, "pinned state", OK);
		SAY(c->detail, have ? "%s: ABI %u, %u socket rows at most" : "%s: empty", pin_root, meta.abi_version,
		    meta.max_sockets);
	}
}

static void check_agent(struct report *r, const char *pin_root)
{
	char p[PATH_MAX], pid[32] = "";
	struct check *c;
	ssize_t n;
	int fd;

	c = add(r, "agent", OK);
	if (na_agent_lock_path(pin_root, p, sizeof(p)) || (fd = open(p, O_RDONLY | O_CLOEXEC)) < 0) {
		SAY(c->detail, "no agent runs for %s", pin_root);
		return;
	}
	if (!flock(fd, LOCK_SH | LOCK_NB)) {
		SAY(c->detail, "no agent runs for %s", pin_root);
	} else {
		n = pread(fd, pid, sizeof(pid) - 1, 0);
		pid[n > 0 ? n : 0] = '\0';
		pid[strcspn(pid, "\n")] = '\0';
		SAY(c->detail, "an agent runs for %s (pid %s): `netacct log` gets nothing while it follows the log",
		    pin_root, pid[0] ? pid : "?");
	}
	close(fd);
}

/*
 * Programs already on a target cgroup: fine when they allow others (multi),
 * blocking when attached exclusively (or with override only), which is what
 * makes attach fail.
 */
static void check_target(struct report *r, const char *path)
{
	static const struct {
		enum bpf_attach_type t;
		const char *name;
	} hooks[] = {
		{ BPF_CGROUP_INET_INGRESS, "ingress" },     { BPF_CGROUP_INET_EGRESS, "egress" },
		{ BPF_CGROUP_INET_SOCK_CREATE, "sock_create" }, { BPF_CGROUP_INET4_CONNECT, "connect4" },
		{ BPF_CGROUP_INET6_CONNECT, "connect6" },   { BPF_CGROUP_INET_SOCK_RELEASE, "sock_release" },
	};
	char blocking[256] = "", others[256] = "", above[PATH_MAX] = "", dir[PATH_MAX];
	struct na_cg2mount m;
	struct na_cgroup cg;
	struct check *c;
	__u32 ids[64], cnt, flags, effective = 0;
	size_t i;
	int fd, denied = 0;
	char *slash;

	if (na_cgroup_resolve(path, &cg)) {
		c = add(r, "target", FAIL);
		SAY(c->detail, "%s is not a cgroup v2 directory", path);
		return;
	}
	fd = open(cg.abs, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0) {
		c = add(r, "target", FAIL);
		SAY(c->detail, "%s: %s", path, strerror(errno));
		return;
	}
	for (i = 0; i < sizeof(hooks) / sizeof(hooks[0]); i++) {
		cnt = 64;
		flags = 0;
		if (bpf_prog_query(fd, hooks[i].t, 0, &flags, ids, &cnt)) {
			denied |= errno == EPERM || errno == EACCES;
			continue;
		}
		if (cnt && !(flags & BPF_F_ALLOW_MULTI))
			snprintf(blocking + strlen(blocking), sizeof(blocking) - strlen(blocking), " %s", hooks[i].name);
		else if (cnt)
			snprintf(others + strlen(others), sizeof(others) - strlen(others), " %s(%u)", hooks[i].name, cnt);
		cnt = 64;
		if (!bpf_prog_query(fd, hooks[i].t, BPF_F_QUERY_EFFECTIVE, NULL, ids, &cnt))
			effective += cnt;
	}
	close(fd);
	/*
	 * An ancestor with an exclusive program (no flags) refuses every attach
	 * below it (the kernel's hierarchy_allows_attach()).
	 */
	if (!na_cgroup2_mount(cg.abs, &m)) {
		snprintf(dir, sizeof(dir), "%s", cg.abs);
		while ((slash = strrchr(dir, '/')) && slash > dir && strlen(dir) > strlen(m.dir) && !above[0]) {
			*slash = '\0';
			if (strlen(dir) < strlen(m.dir) || (fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0)
				break;
			for (i = 0; i < sizeof(hooks) / sizeof(hooks[0]) && !above[0]; i++) {
				cnt = 64;
				flags = 0;
				if (!bpf_prog_query(fd, hooks[i].t, 0, &flags, ids, &cnt) && cnt &&
				    !(flags & (BPF_F_ALLOW_MULTI | BPF_F_ALLOW_OVERRIDE)))
					say(above, sizeof(above), "%s (%s)", dir, hooks[i].name);
			}
			close(fd);
		}
	}
	if (denied) {
		c = add(r, "target", WARN);
		SAY(c->detail, "%s: not checked: reading a cgroup's programs needs CAP_NET_ADMIN", path);
		SAY(c->fix, "run netacct doctor as root");
		return;
	}
	if (above[0]) {
		c = add(r, "target", FAIL);
		SAY(c->detail, "%s: an ancestor, %s, holds a program attached without multi-attach: no attach below it "
			       "works", path, above);
		SAY(c->fix, "attach that program again with the multi flag, or detach it (bpftool cgroup show DIR)");
		return;
	}
	c = add(r, "target", blocking[0] ? FAIL : OK);
	if (blocking[0]) {
		SAY(c->detail, "%s: programs attached without multi-attach on:%s; netacct's attach will fail there",
		    path, blocking);
		SAY(c->fix, "find them (bpftool cgroup show %s) and attach them again with the multi flag, or detach them",
		    cg.abs);
	} else {
		SAY(c->detail, "%s: %s%s; %u programs run for its packets and sockets in all (its own and its ancestors')",
		    path, others[0] ? "programs already here (netacct's included) allow multi-attach:" : "no programs here yet",
		    others, effective);
	}
}

static void usage_help(void)
{
	printf("Usage: netacct doctor [--json] [PATH...]\n"
	       "\n"
	       "Check what netacct needs from this host: kernel, BTF, BPF program and map\n"
	       "types (probed), the cgroup2 mount, cgroup v1 net_cls/net_prio, bpffs,\n"
	       "capabilities, the pinned state's version, the agent; and, for each cgroup\n"
	       "PATH, programs already attached there that would block attach. One line per\n"
	       "check, with the fix; exit 0 when no check fails (a warning is not a failure).\n"
	       "\n"
	       "  --json       one JSON array of {check, status, detail, fix}\n"
	       "  -h, --help   this text\n");
}

int na_doctor_parse(int argc, char **argv, struct na_doctor_args *a)
{
	static const struct option opts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{},
	};
	int o;

	memset(a, 0, sizeof(*a));
	while ((o = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (o) {
		case 'j':
			a->json = 1;
			break;
		case 'h':
			a->help = 1;
			return 0;
		default:
			return na_usage_error("doctor", "unknown option or missing value: %s", argv[optind - 1]);
		}
	}
	if (argc - optind > NA_DOCTOR_MAX_PATHS)
		return na_usage_error("doctor", "at most %d cgroup PATHs", NA_DOCTOR_MAX_PATHS);
	a->pos = argv + optind;
	a->npos = argc - optind;
	return 0;
}

int cmd_doctor(int argc, char **argv, const struct na_global *g)
{
	struct na_doctor_args a;
	struct report r = { .n = 0 };
	int json, privileged, fails = 0, rc;
	size_t i;

	rc = na_doctor_parse(argc, argv, &a);
	if (rc)
		return rc;
	if (a.help) {
		usage_help();
		return NA_EXIT_OK;
	}
	json = a.json;
	privileged = na_can_attach();
	check_kernel(&r);
	check_types(&r, privileged);
	check_cgroups(&r);
	check_bpffs(&r, g->pin_root);
	check_caps(&r, privileged);
	check_state(&r, g->pin_root);
	check_agent(&r, g->pin_root);
	for (i = 0; i < (size_t)a.npos; i++)
		check_target(&r, a.pos[i]);

	for (i = 0; i < r.n; i++)
		fails += r.c[i].v == FAIL;
	if (json) {
		json_object *a = json_object_new_array();

		for (i = 0; i < r.n; i++) {
			json_object *e = json_object_new_object();

			json_object_object_add(e, "check", json_object_new_string(r.c[i].name));
			json_object_object_add(e, "status", json_object_new_string(r.c[i].v == FAIL ? "fail"
										  : verdict_name[r.c[i].v]));
			json_object_object_add(e, "detail", json_object_new_string(r.c[i].detail));
			json_object_object_add(e, "fix", r.c[i].fix[0] ? json_object_new_string(r.c[i].fix) : NULL);
			json_object_array_add(a, e);
		}
		puts(json_object_to_json_string_ext(a, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE));
		json_object_put(a);
	} else {
		for (i = 0; i < r.n; i++) {
			printf("%-4s  %-16s %s\n", verdict_name[r.c[i].v], r.c[i].name, r.c[i].detail);
			if (r.c[i].fix[0])
				printf("      %-16s fix: %s\n", "", r.c[i].fix);
		}
	}
	if (fflush(stdout))
		return NA_EXIT_FAIL;
	return fails ? NA_EXIT_FAIL : NA_EXIT_OK;
}
