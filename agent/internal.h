/* SPDX-License-Identifier: (BSD-2-Clause OR GPL-2.0) */
/* Shared between the agent's own files; not part of its API. */
#ifndef NETACCT_AGENT_INTERNAL_H
#define NETACCT_AGENT_INTERNAL_H

#include <signal.h>
#include <sys/types.h>

#include <bpf/bpf.h>

#include "netacct.h"

struct bpf_object;
struct netacct_bpf;

/* ---- the link table (agent/links.c) --------------------------------------- */
enum na_link_kind {
	NA_LINK_CGROUP, /* one link per attached cgroup, pinned in cg_<id>/ */
	NA_LINK_GLOBAL, /* one link for all attachments, pinned at the pin root */
};
struct na_link_spec {
	const char *prog; /* program name in the BPF object */
	const char *pin;  /* file name of its link pin */
	enum na_link_kind kind;
};
#define NA_MAX_LINKS 32
extern const struct na_link_spec na_links[];
extern const size_t na_nlinks;
extern const char na_totals_pin[];
int na_links_count(enum na_link_kind kind);
const struct na_link_spec *na_link_by_pin(const char *pin, enum na_link_kind kind);
/* A name at the pin root that netacct pins (maps na_*, global links, retired names). */
int na_pin_name_is_ours(const char *name);
/* A name inside an attachment's directory that netacct pins (its links, totals). */
int na_att_pin_is_ours(const char *name);
/* Cgroup link pins an earlier netacct made (NULL-terminated): removed with the table's. */
extern const char *const na_retired_att_pins[];
/* Every program of obj is in the table or a syscall program, and every entry is in obj: 0 or -EINVAL (reported). */
int na_links_check(struct bpf_object *obj);

/* ---- text files (agent/util.c): the configuration and the networks file ------ */
/* Cut line at its comment: a '#' at the line's start or after a blank. */
void na_cut_comment(char *line);
/* s without its leading blanks and its trailing blanks and line end (cut in place). */
char *na_trim(char *s);
/* fmt's text added at the end of the string in buf (len bytes in all), cut to fit. */
void na_str_append(char *buf, size_t len, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* ---- the embedded BPF object (agent/object.c) ----------------------------- */
/*
 * A copy of the programs. reuse: the shared maps are the ones pinned at root
 * (a committed pin root: every one of them must be there); otherwise they
 * are created, unpinned (a new pin root pins them itself).
 */
int na_skel_open(const char *root, const struct na_meta *meta, int reuse, struct netacct_bpf **out);
int na_skel_load(struct netacct_bpf *skel);
/* The maps every attachment shares (all but na_totals and libbpf's own). */
int na_map_is_shared(const struct bpf_map *map);
/* The object, opened but not loaded (its programs' types and hooks). NULL on error (reported). */
struct bpf_object *na_object_open(void);
/* A cgroup hook the link table attaches to. */
struct na_hook {
	enum bpf_attach_type type;
	const char *name; /* the link's pin name */
};
/* The hooks of the table's cgroup links: how many, or -errno. */
int na_cgroup_hooks(struct na_hook *hooks, size_t max);
/*
 * Load one `syscall` program of the object on the pinned maps of root and run
 * it once with ctx (BPF_PROG_RUN). ctx is written back.
 */
int na_syscall_run(const char *root, const struct na_meta *meta, const char *name, void *ctx, size_t size);
/* The same, loaded once and run on each of count contexts of size bytes (an array). */
int na_syscall_run_each(const char *root, const struct na_meta *meta, const char *name, void *ctx, size_t size,
			size_t count);

/* ---- the fast read of na_socks (agent/reader.c) ---------------------------- */
struct na_reader;
/* A reader of the map open at socks_fd (max_rows: its max_entries); nothing is loaded yet. */
int na_reader_new(int socks_fd, uint32_t max_rows, struct na_reader **out);
/*
 * Every live row into a free buffer (made or grown for `expect` rows, or as
 * many as the run finds): *rows is the buffer, *n the rows, *held the
 * reference the snapshot keeps until na_rbuf_put(). -EOPNOTSUPP when the
 * program cannot be loaded here (no CAP_BPF, an older kernel: said once
 * with -v), -EBUSY when snapshots hold every buffer; the caller then reads
 * in batches.
 */
int na_reader_read(struct na_reader *rd, size_t expect, struct na_sock_row **rows, size_t *n, struct na_rbuf **held);
/*
 * top's figures of every live row into the reader's one figures' buffer
 * (made or grown for `expect` rows, keeping what the walk before left in
 * it), as struct na_figs says. -EOPNOTSUPP as above; there is no batched
 * read of figures.
 */
int na_reader_read_figs(struct na_reader *rd, size_t expect, struct na_figs *out);
/* A snapshot is done with the rows (the reader may have gone: the last reference frees the buffer). */
void na_rbuf_put(struct na_rbuf *b);
void na_reader_free(struct na_reader *rd);

/* ---- capabilities and cgroup hooks (agent/probe.c) ------------------------ */
/*
 * 1 when this process may change pinned state (CAP_BPF, or CAP_SYS_ADMIN):
 * readers without it (`attach --group`) skip what writes, such as filling in
 * the owners of sockets from before attach.
 */
int na_can_write_state(void);
/* ---- the pin tree (agent/pintree.c) --------------------------------------- */
/* Exclusive flock on the trusted pin root (created when `create`); -ENOENT if absent. */
int na_root_lock(const char *root, int create, int *lockfd);
/* 1 when a netacct command holds the pin root's lock now (an attach or detach under way). */
int na_root_busy(const char *root);

/* An attachment's directory and where its transaction stands. */
enum na_att_dir {
	NA_DIR_NONE = 0,
	NA_DIR_LIVE,  /* cg_<id>: committed */
	NA_DIR_NEW,   /* new_cg_<id>: an attach before its commit */
	NA_DIR_OLD,   /* old_cg_<id>: a detach after its commit */
};
struct na_tree_att {
	__u64 id;
	enum na_att_dir dir;
	char name[40];      /* the directory's name */
	__u64 links;        /* bit i: na_links[i] (a cgroup link) is pinned there */
	int nlinks;
	int totals;         /* totals is pinned there */
	int foreign;        /* entries netacct does not pin */
	int untrusted;      /* not root's, or writable by others */
};
struct na_tree {
	int has_meta;
	int nours;          /* netacct's entries at the top (maps, global links, attachment dirs) */
	__u64 globals;      /* bit i: na_links[i] (a global link) is pinned */
	struct na_tree_att *att;
	size_t natt;
	size_t nforeign;
	char foreign[256];  /* the first foreign names, for messages */
};
/* Read root's entries into t (and classify them): 0 or -errno (reported). */
int na_tree_scan(const char *root, struct na_tree *t);
void na_tree_free(struct na_tree *t);
/* -EPERM (reported, with the fix) when an attachment directory in t is not one netacct made. */
int na_tree_check_trust(const char *root, const struct na_tree *t);
const struct na_tree_att *na_tree_find(const struct na_tree *t, __u64 id, enum na_att_dir dir);
/* root/<prefix><id> for dir. */
int na_att_dir_path(char *buf, size_t len, const char *root, enum na_att_dir dir, __u64 id);
/*
 * Unpin an attachment's directory: its links in table order, totals, then
 * the directory itself; only names netacct pins (a foreign entry stays, and
 * so does the directory: -ENOTEMPTY, reported).
 */
int na_tree_remove_dir(const char *dir);
/*
 * Remove a pin root that holds nothing attached: na_meta first (from then on
 * it is no committed state), the global links, the maps, leftover attachment
 * directories, then the directory (unless keep_dir). Only netacct's names:
 * -ENOTEMPTY when foreign entries stay.
 */
int na_tree_remove_root(const char *root, int keep_dir);
/*
 * Access to everything under root for group gid (0: root's alone), na_log
 * with log_mode; callers hold the pin root's lock.
 */
int na_tree_share(const char *root, uint32_t gid, mode_t log_mode);

/* ---- transactions (agent/attach.c) ---------------------------------------- */
/*
 * Hold the signals that end a process by default (SIGINT, SIGTERM, ...) until
 * na_signals_release(): a transaction runs to its end and the signal acts
 * afterwards.
 */
void na_signals_hold(sigset_t *old);
void na_signals_release(const sigset_t *old);

/* ---- misc ------------------------------------------------------------------ */
/* 1 when path is an empty directory (or cannot be read). */
int na_dir_is_empty(const char *path);
/*
 * Open a pinned object read-write, or read-only when its file allows only
 * reading (a member of the group given to `attach --group`): an fd, or the
 * -errno of the read-write attempt. *rdonly (may be NULL) tells which.
 */
int na_obj_get(const char *path, int *rdonly);
/* " (hint)" for an error opening pinned state: "" unless err is -EACCES or -EPERM. */
const char *na_perm_hint(int err);
/*
 * The pinned na_meta, checked against this build's ABI: -EPROTO (reported,
 * with the fix) when it is of another version; meta->abi_version is then
 * set to that version, the rest of *meta left alone. *have = 0 when there is
 * none. meta and have may be NULL to check only.
 */
int na_meta_read(const char *root, struct na_meta *meta, int *have);

#endif
