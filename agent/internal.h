/* SPDX-License-Identifier: (BSD-2-Clause OR GPL-2.0) */
/* Shared between the agent's own files; not part of its API. */
#ifndef NETACCT_AGENT_INTERNAL_H
#define NETACCT_AGENT_INTERNAL_H

#include "netacct.h"

/* 1 when path is an empty directory (or cannot be read). */
int na_dir_is_empty(const char *path);
/* Remove a bpffs tree (unpinning links detaches them). */
int na_rm_tree(const char *path);
/*
 * Open a pinned object read-write, or read-only when its file allows only
 * reading (a member of the group given to `attach --group`): an fd, or the
 * -errno of the read-write attempt. *rdonly (may be NULL) tells which.
 */
int na_obj_get(const char *path, int *rdonly);
/*
 * 1 when this process may change pinned state (CAP_BPF, or CAP_SYS_ADMIN):
 * readers without it (`attach --group`) skip what writes, such as filling in
 * the owners of sockets from before attach.
 */
int na_can_write_state(void);
/* " (hint)" for an error opening pinned state: "" unless err is -EACCES or -EPERM. */
const char *na_perm_hint(int err);
/* Exclusive flock on the pin root (created when `create`); -ENOENT if absent. */
int na_root_lock(const char *root, int create, int *lockfd);
/*
 * The pinned na_meta, checked against this build's ABI: -EPROTO (reported,
 * with the fix) when it is of another version; meta->abi_version is then
 * set to that version, the rest of *meta left alone. *have = 0 when there is
 * none. meta and have may be NULL to check only.
 */
int na_meta_read(const char *root, struct na_meta *meta, int *have);

/*
 * Load one `syscall` program of the object on the pinned maps of root and run
 * it once with ctx (BPF_PROG_RUN). ctx is written back.
 */
int na_syscall_run(const char *root, const struct na_meta *meta, const char *name, void *ctx, size_t size);
/* The same, loaded once and run on each of count contexts of size bytes (an array). */
int na_syscall_run_each(const char *root, const struct na_meta *meta, const char *name, void *ctx, size_t size,
			size_t count);

#endif
