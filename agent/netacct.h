/* SPDX-License-Identifier: (BSD-2-Clause OR GPL-2.0) */
/*
 * libnetacct-agent: load, attach, pin, detach and read netacct's BPF state.
 * No output on stdout from here: callers present. Every function returns 0 or
 * a negative errno and reports the cause through na_log().
 */
#ifndef NETACCT_AGENT_H
#define NETACCT_AGENT_H

#include <limits.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "netacct_abi.h"

#define NA_DEFAULT_PIN_ROOT "/sys/fs/bpf/netacct"
#define NA_PIN_ROOT_ENV "NETACCT_PIN_ROOT"

/* ---- logging ---------------------------------------------------------- */
enum na_log_level { NA_LOG_ERROR, NA_LOG_WARN, NA_LOG_INFO, NA_LOG_DEBUG };
void na_log_set_verbose(int verbose);
int na_log_verbose(void);
void na_log(enum na_log_level lvl, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Log "netacct: <what>: <strerror(-err)>" and return err. */
int na_err(int err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* ---- cgroups ------------------------------------------------------------ */
struct na_cgroup {
	char abs[PATH_MAX]; /* absolute path, as given, canonicalized */
	char rel[PATH_MAX]; /* as /proc/PID/cgroup shows it: "/" + path below the cgroup2 root */
	uint64_t id;        /* cgroup id == inode of the directory */
};

/* The cgroup2 mount (mount point and root within the hierarchy). */
struct na_cg2mount {
	char dir[PATH_MAX];
	char root[PATH_MAX];
};
/* The cgroup2 mount holding `under` (longest prefix), or the first one when under is NULL. */
int na_mountinfo_cgroup2(FILE *mountinfo, const char *under, struct na_cg2mount *m);
int na_cgroup2_mount(const char *under, struct na_cg2mount *m);
int na_cgroup_resolve(const char *path, struct na_cgroup *cg);

/* id -> relative path, for the subtrees of the attached cgroups. */
struct na_cgpaths;
int na_cgpaths_new(struct na_cgpaths **out);
int na_cgpaths_add_tree(struct na_cgpaths *p, const char *rel);
const char *na_cgpaths_get(const struct na_cgpaths *p, uint64_t id);
void na_cgpaths_free(struct na_cgpaths *p);

/* ---- privileges ---------------------------------------------------------- */
/* 0, or -EPERM after logging which capability is missing for `what`. */
int na_caps_check_attach(const char *what);

/* ---- attach / detach ---------------------------------------------------- */
struct na_attach_opts {
	const char *pin_root;
	uint32_t max_sockets; /* 0: default, or what the pinned state has */
};
/* 0 when attached now, 1 when it already was, -errno on failure (nothing left behind). */
int na_attach_cgroup(const struct na_attach_opts *o, const char *path);
/* 0, -ENOENT when not attached. */
int na_detach_cgroup(const char *pin_root, const char *path);
/* Unpin everything under pin_root, whatever its ABI version. 0, or -ENOENT if nothing. */
int na_detach_all(const char *pin_root);

/* ---- reading ------------------------------------------------------------ */
struct na_att_state {
	struct na_attach a;
	struct na_totals t;  /* summed over CPUs */
	int programs;        /* pinned program links found */
	int cgroup_exists;
};

struct na_sock_row {
	uint64_t cookie;
	struct na_sock s;
	const char *cgroup; /* relative path or NULL when unknown (points into the snapshot) */
};

struct na_snapshot {
	uint64_t boot_ns; /* CLOCK_BOOTTIME when read */
	struct na_meta meta;
	struct na_att_state *att;
	size_t natt;
	struct na_sock_row *rows;
	size_t nrows;
	struct na_cgpaths *paths;
};

struct na_state;
/* -ENOENT when nothing is attached (no pin root); -EPROTO on an ABI mismatch. */
int na_state_open(const char *pin_root, struct na_state **out);
int na_state_read(struct na_state *st, struct na_snapshot *snap);
void na_state_close(struct na_state *st);
void na_snapshot_free(struct na_snapshot *snap);

/* ---- helpers shared by the front ends ---------------------------------- */
const char *na_proto_name(uint8_t proto);
const char *na_family_name(uint8_t family);
/* inet_ntop of a row address; "" for an all-zero address. */
void na_addr_str(uint8_t family, const uint8_t addr[16], char *buf, size_t len);
const char *na_pin_root(const char *opt);
uint64_t na_boot_ns(void);

#endif /* NETACCT_AGENT_H */
