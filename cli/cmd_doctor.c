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
#include "common.h"

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

/*
 * Every program and map type the BPF object uses, probed by loading tiny
 * ones (needs CAP_BPF), and the tracepoints of its tp_btf programs in BTF.
 */
static void check_types(struct report *r, int privileged)
{
	char missing[512], present[512];
	struct check *c;
	int n;

	if (!privileged) {
		c = add(r, "bpf types", WARN);
		SAY(c->detail, "not probed: loading a probe needs CAP_BPF");
		SAY(c->fix, "run netacct doctor as root");
		return;
	}
	n = na_object_probe(missing, sizeof(missing), present, sizeof(present));
	c = add(r, "bpf types", n ? FAIL : OK);
	if (n < 0) {
		SAY(c->detail, "the BPF object could not be opened");
	} else if (n) {
		SAY(c->detail, "not supported by this kernel:%s", missing);
		SAY(c->fix, "a kernel with these BPF program and map types (5.15 or newer, CONFIG_BPF_SYSCALL)");
	} else {
		SAY(c->detail, "every program and map type netacct uses loads, and its tracepoints are in BTF: %s",
		    present);
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

/* Attachments that do not count as they should, by the link table and na_active. */
static void check_attachments(struct check *c, const char *pin_root)
{
	struct na_state *st = NULL;
	struct na_snapshot snap;
	char why[PATH_MAX + 256];
	size_t i, bad = 0;

	if (na_state_open(pin_root, &st) || na_state_read(st, &snap)) {
		na_state_close(st);
		return;
	}
	for (i = 0; i < snap.natt; i++) {
		if (snap.att[i].phase == NA_ATT_LIVE)
			continue;
		if (!bad++) {
			c->v = snap.busy ? WARN : FAIL;
			na_att_explain(why, sizeof(why), &snap.att[i], snap.busy);
			SAY(c->detail, "%s: %s is %s: %s", pin_root, snap.att[i].a.path,
			    na_att_phase_name(snap.att[i].phase), why);
			SAY(c->fix, snap.busy ? "an attach or detach is under way: run doctor again"
					      : "netacct attach %s (any attach or detach repairs the pinned state; netacct status lists the rest)",
			    snap.att[i].a.path);
		}
	}
	if (bad > 1)
		snprintf(c->detail + strlen(c->detail), sizeof(c->detail) - strlen(c->detail), " (and %zu more)", bad - 1);
	if (!bad && snap.globals < na_global_link_count()) {
		c->v = FAIL;
		SAY(c->detail, "%s: %d of %d global links pinned: socket rows may outlive their sockets", pin_root,
		    snap.globals, na_global_link_count());
		SAY(c->fix, "netacct attach any cgroup: it attaches the missing ones");
	}
	if (!bad && c->v == OK)
		SAY(c->detail, "%s: ABI %u, %u socket rows at most; %zu cgroup(s) attached, each with all %d programs, live",
		    pin_root, snap.meta.abi_version, snap.meta.max_sockets, snap.natt, na_cgroup_prog_count());
	na_snapshot_free(&snap);
	na_state_close(st);
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
	err = na_pin_root_trust(pin_root);
	if (err && err != -ENOENT) {
		c = add(r, "pinned state", FAIL);
		SAY(c->detail, "%s is not a pin root netacct may use (the reason is above)", pin_root);
		SAY(c->fix, "look at what it holds and remove it, or use another --pin-root");
		return;
	}
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
	} else if (!have) {
		c = add(r, "pinned state", OK);
		SAY(c->detail, "%s: nothing attached", pin_root);
	} else {
		c = add(r, "pinned state", OK);
		check_attachments(c, pin_root);
	}
}

static void check_agent(struct report *r, const char *pin_root)
{
	struct check *c = add(r, "agent", OK);
	int pid = 0;

	/* From /proc/locks: a try-lock of doctor's own could make an agent starting just then fail. */
	if (!na_agent_running(pin_root, &pid))
		SAY(c->detail, "no agent runs for %s", pin_root);
	else
		SAY(c->detail, "an agent runs for %s (pid %d): `netacct log` gets nothing while it follows the log, and `netacct detach` refuses the cgroups it manages",
		    pin_root, pid);
}

/*
 * Programs already on a target cgroup: fine when they allow others (multi),
 * blocking when attached exclusively (or with override only), which is what
 * makes attach fail (attach says the same, from the same probe).
 */
static void check_target(struct report *r, const char *path)
{
	char why[sizeof(((struct check *)0)->detail)], fix[sizeof(((struct check *)0)->fix)];
	struct na_blockers b;
	struct na_cgroup cg;
	struct check *c;
	int err;

	if (na_cgroup_resolve(path, &cg)) {
		c = add(r, "target", FAIL);
		SAY(c->detail, "%s is not a cgroup v2 directory", path);
		return;
	}
	err = na_cgroup_blockers(cg.abs, &b);
	if (err) {
		c = add(r, "target", FAIL);
		SAY(c->detail, "%s: %s", path, strerror(-err));
		return;
	}
	if (b.denied) {
		c = add(r, "target", WARN);
		SAY(c->detail, "%s: not checked: reading a cgroup's programs needs CAP_NET_ADMIN", path);
		SAY(c->fix, "run netacct doctor as root");
		return;
	}
	if (na_blockers_explain(cg.abs, &b, why, sizeof(why), fix, sizeof(fix))) {
		c = add(r, "target", FAIL);
		SAY(c->detail, "%s: %s", path, why);
		SAY(c->fix, "%s", fix);
		return;
	}
	c = add(r, "target", OK);
	SAY(c->detail, "%s: %s%s; %u programs run for its packets and sockets in all (its own and its ancestors')",
	    path, b.others[0] ? "programs already here (netacct's included) allow multi-attach:" : "no programs here yet",
	    b.others, b.effective);
}

static const struct na_option doctor_opts[] = {
	NA_OPT_F(struct na_doctor_args, json, "json", 0, 1, "one JSON array of {check, status, detail, fix}"),
	NA_OPT_HELP_ENTRY(struct na_doctor_args, help, "this text"),
	{ 0 },
};

static const char doctor_about[] =
	"Usage: netacct doctor [--json] [PATH...]\n"
	"\n"
	"Check what netacct needs from this host: kernel, BTF, BPF program and map\n"
	"types (probed), the cgroup2 mount, cgroup v1 net_cls/net_prio, bpffs,\n"
	"capabilities, the pinned state's version, the agent; and, for each cgroup\n"
	"PATH, programs already attached there that would block attach. One line per\n"
	"check, with the fix; exit 0 when no check fails (a warning is not a failure).\n"
	"\n";

const struct na_opts na_doctor_spec = {
	.cmd = "doctor", .opts = doctor_opts, .help_width = 13, .about = doctor_about,
	.pos = NA_ARGS_AT_MOST(struct na_doctor_args, NA_DOCTOR_MAX_PATHS,
			       "at most " NA_STR(NA_DOCTOR_MAX_PATHS) " cgroup PATHs"),
};

int na_doctor_parse(int argc, char **argv, struct na_doctor_args *a)
{
	memset(a, 0, sizeof(*a));
	return na_opts_parse(&na_doctor_spec, argc, argv, a);
}

int cmd_doctor(int argc, char **argv, const struct na_global *g)
{
	struct na_doctor_args a;
	struct report r = { .n = 0 };
	int json, privileged, fails = 0, rc;
	size_t i;

	if (na_cmd_done(&na_doctor_spec, na_doctor_parse(argc, argv, &a), &a, &rc))
		return rc;
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
