// SPDX-License-Identifier: (BSD-2-Clause OR GPL-2.0)
/*
 * Attach and detach as transactions, and the repair of one that was
 * interrupted (docs/design.md, "Transactions").
 *
 * Attach: plan (the cgroup, its slot and token), load (a copy of the
 * programs with that token), root (a new pin root's maps and global links,
 * na_meta pinned last), record (na_attached), link (the cgroup links pinned
 * in new_cg_<id>/, the copy still inactive), commit (rename to cg_<id>),
 * activate (na_active[slot] = token). Detach: plan, commit (rename cg_<id>
 * to old_cg_<id>), retire (inactive, wait, hand the rows over, unpin, wait),
 * forget (the record), and the pin root with the last one.
 *
 * A failure undoes what was done. A process killed on the way leaves the
 * tree in a state any netacct sees (na_tree_scan) and every writer repairs
 * under the lock before its own work: before a commit, the attach is rolled
 * back; after it, the attach or the detach is finished. The signals that end
 * a process by default are held meanwhile, so SIGINT or SIGTERM act after
 * the transaction, never half-way.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "internal.h"
#include "netacct.skel.h" /* the types; agent/object.c opens it */

/* ---- signals --------------------------------------------------------------- */

static const int held_signals[] = { SIGHUP, SIGINT, SIGQUIT, SIGTERM, SIGPIPE, SIGUSR1, SIGUSR2, SIGALRM };

void na_signals_hold(sigset_t *old)
{
	sigset_t s;
	size_t i;

	sigemptyset(&s);
	for (i = 0; i < NA_ARRAY_SIZE(held_signals); i++)
		sigaddset(&s, held_signals[i]);
	pthread_sigmask(SIG_BLOCK, &s, old);
}

void na_signals_release(const sigset_t *old)
{
	pthread_sigmask(SIG_SETMASK, old, NULL);
}

/* ---- shared helpers -------------------------------------------------------- */

/* dir/name into buf, or -ENAMETOOLONG (reported). */
static int join_path(char *buf, size_t len, const char *dir, const char *name)
{
	if ((size_t)snprintf(buf, len, "%s/%s", dir, name) >= len)
		return na_err(-ENAMETOOLONG, "%s/%s", dir, name);
	return 0;
}

static int obj_open(const char *root, const char *name)
{
	char p[PATH_MAX];
	int fd;

	snprintf(p, sizeof(p), "%s/%s", root, name);
	fd = bpf_obj_get(p);
	return fd >= 0 ? fd : na_err(-errno, "open %s", p);
}

/*
 * Wait until every BPF program run that started before now has finished:
 * updating a map-in-map makes the kernel call synchronize_rcu(), and a cgroup
 * program chain runs in one RCU read-side section.
 */
static int sync_programs(void)
{
	int inner = -1, outer = -1, err = 0;
	__u32 zero = 0;
	DECLARE_LIBBPF_OPTS(bpf_map_create_opts, opts);

	inner = bpf_map_create(BPF_MAP_TYPE_ARRAY, "na_sync_in", 4, 4, 1, NULL);
	if (inner < 0)
		return na_err(-errno, "create sync map");
	opts.inner_map_fd = inner;
	outer = bpf_map_create(BPF_MAP_TYPE_ARRAY_OF_MAPS, "na_sync", 4, 4, 1, &opts);
	if (outer < 0)
		err = na_err(-errno, "create sync map");
	else if (bpf_map_update_elem(outer, &zero, &inner, 0))
		err = na_err(-errno, "sync with running programs");
	if (outer >= 0)
		close(outer);
	close(inner);
	return err;
}

/* Every na_active slot in one call (a lookup per slot would be 1 024 syscalls). */
static int read_slots(int active_fd, __u64 *slots)
{
	DECLARE_LIBBPF_OPTS(bpf_map_batch_opts, opts);
	__u32 keys[NA_MAX_ATTACHED], count = NA_MAX_ATTACHED, out_batch = 0, i;
	__u64 *vals = calloc(NA_MAX_ATTACHED, sizeof(*vals));
	int err;

	if (!vals)
		return -ENOMEM;
	memset(slots, 0, NA_MAX_ATTACHED * sizeof(*slots));
	err = bpf_map_lookup_batch(active_fd, NULL, &out_batch, keys, vals, &count, &opts) ? -errno : 0;
	if (err == -ENOENT)
		err = 0; /* the whole array came in this one batch */
	for (i = 0; !err && i < count; i++)
		if (keys[i] < NA_MAX_ATTACHED)
			slots[keys[i]] = vals[i];
	free(vals);
	return err ? na_err(err, "read na_active") : 0;
}

/* Hand every row still owned by token to whichever live copy sees it next. */
static int sweep_rows(const char *root, const struct na_meta *meta, __u64 token)
{
	struct na_sweep_args args = { .token = token };
	int err = na_syscall_run(root, meta, "na_sweep", &args, sizeof(args));

	if (!err)
		na_log(NA_LOG_DEBUG, "detach: %llu rows handed over", (unsigned long long)args.released);
	return err;
}

/* Level of a cgroup below the hierarchy root ("/" is 0, "/a/b" is 2). */
static int cgroup_level(const char *rel)
{
	int level = 0;

	for (; *rel; rel++)
		level += rel[0] == '/' && rel[1] && rel[1] != '/';
	return level;
}

static int attached_count(int fd)
{
	__u64 key, next;
	int n = 0, err;

	for (err = bpf_map_get_next_key(fd, NULL, &next); !err; err = bpf_map_get_next_key(fd, &key, &next)) {
		key = next;
		n++;
	}
	return n;
}

static void links_close(struct bpf_link **links)
{
	size_t i;

	/* The pins keep them attached: closing the descriptors detaches nothing. */
	for (i = 0; i < na_nlinks; i++) {
		bpf_link__destroy(links[i]);
		links[i] = NULL;
	}
}

/* Attach program i of the table (to cgroup cgfd, or globally) and pin its link in dir. */
static int link_pin(struct netacct_bpf *skel, size_t i, int cgfd, const char *cgpath, const char *dir,
		    struct bpf_link **out)
{
	struct bpf_program *prog = bpf_object__find_program_by_name(skel->obj, na_links[i].prog);
	struct bpf_link *link;
	char p[PATH_MAX];
	int err;

	if (join_path(p, sizeof(p), dir, na_links[i].pin))
		return -ENAMETOOLONG;
	link = na_links[i].kind == NA_LINK_CGROUP ? bpf_program__attach_cgroup(prog, cgfd) : bpf_program__attach(prog);
	err = libbpf_get_error(link);
	if (err) {
		struct na_blockers b;
		char why[1024], fix[PATH_MAX + 128];

		err = -abs(err);
		if (na_links[i].kind == NA_LINK_CGROUP && err == -EPERM && !na_cgroup_blockers(cgpath, &b) &&
		    na_blockers_explain(cgpath, &b, why, sizeof(why), fix, sizeof(fix)))
			na_log(NA_LOG_ERROR, "attach %s to %s: %s (fix: %s)", bpf_program__section_name(prog), cgpath,
			       why, fix);
		else
			na_err(err, "attach %s%s%s%s", bpf_program__section_name(prog), cgpath ? " to " : "",
			       cgpath ? cgpath : "", err == -EPERM ? " (need CAP_NET_ADMIN)" : "");
		return err;
	}
	err = bpf_link__pin(link, p);
	if (err) {
		bpf_link__destroy(link);
		return na_err(err, "pin %s", p);
	}
	*out = link;
	return 0;
}

/*
 * Retire the copy with token att->token whose pins are in dir ("" when none
 * are left): inactive, wait until no program run that saw it live is in
 * flight, hand its rows over, unpin its links, wait for their last runs.
 * Every step may already be done (a repair finishing a killed detach).
 */
static int retire(const char *root, const struct na_meta *meta, const struct na_attach *att, const char *dir,
		  int active_fd)
{
	__u32 slot = NA_TOKEN_SLOT(att->token);
	__u64 cur = 0, dead = 0;
	int err;

	if (!bpf_map_lookup_elem(active_fd, &slot, &cur) && cur == att->token &&
	    bpf_map_update_elem(active_fd, &slot, &dead, 0))
		return na_err(-errno, "deactivate %s", att->path);
	err = sync_programs();
	if (!err)
		err = sweep_rows(root, meta, att->token);
	if (!err && dir[0])
		err = na_tree_remove_dir(dir);
	if (!err)
		err = sync_programs();
	return err;
}

/* ---- repair ------------------------------------------------------------------ */

enum repaired {
	REPAIRED_NONE,
	REPAIRED_FINISHED,   /* an interrupted attach made live */
	REPAIRED_ROLLED_BACK,/* an interrupted attach removed */
	REPAIRED_DETACHED,   /* an interrupted detach finished */
};

struct repair_ctx {
	const char *root;
	const struct na_meta *meta;
	struct na_tree *t;
	int attached_fd, active_fd;
	__u64 *slots;
	char *done;          /* per tree entry: dealt with */
	__u64 want;          /* the caller's cgroup id, 0: none */
	enum repaired what;  /* what happened to it */
};

/*
 * Link the cgroup programs missing from a committed attachment's directory,
 * with a copy of its own token and on its own totals: the attachment then
 * counts as before. Needs the cgroup still there.
 */
static int relink(struct repair_ctx *c, const struct na_attach *att, const struct na_tree_att *ta)
{
	struct bpf_link *links[NA_MAX_LINKS] = {};
	struct netacct_bpf *skel = NULL;
	char abs[PATH_MAX], dir[PATH_MAX], p[PATH_MAX];
	struct stat st;
	size_t i;
	int cgfd = -1, err;

	if (na_cgroup_abs(att->path, abs, sizeof(abs)) || stat(abs, &st) || st.st_ino != att->cgroup_id)
		return -ENOENT; /* the cgroup is gone: nothing of it runs any more */
	err = na_att_dir_path(dir, sizeof(dir), c->root, ta->dir, ta->id);
	if (!err)
		err = na_skel_open(c->root, c->meta, 1, &skel);
	if (err)
		return err;
	skel->rodata->self_token = att->token;
	err = join_path(p, sizeof(p), dir, na_totals_pin);
	if (!err)
		err = bpf_map__set_pin_path(skel->maps.na_totals, p);
	if (err)
		goto out;
	for (i = 0; i < na_nlinks; i++) {
		struct bpf_program *prog = bpf_object__find_program_by_name(skel->obj, na_links[i].prog);

		bpf_program__set_autoload(prog, na_links[i].kind == NA_LINK_CGROUP && !(ta->links & (1ull << i)));
	}
	{
		struct bpf_program *prog;

		bpf_object__for_each_program(prog, skel->obj)
			if (bpf_program__type(prog) == BPF_PROG_TYPE_SYSCALL)
				bpf_program__set_autoload(prog, false);
	}
	err = na_skel_load(skel);
	if (err)
		goto out;
	cgfd = open(abs, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (cgfd < 0) {
		err = na_err(-errno, "open %s", abs);
		goto out;
	}
	for (i = 0; !err && i < na_nlinks; i++)
		if (na_links[i].kind == NA_LINK_CGROUP && !(ta->links & (1ull << i)))
			err = link_pin(skel, i, cgfd, abs, dir, &links[i]);
out:
	links_close(links);
	if (cgfd >= 0)
		close(cgfd);
	netacct_bpf__destroy(skel);
	return err;
}

static void note(struct repair_ctx *c, __u64 id, enum repaired what)
{
	if (id == c->want)
		c->what = what;
}

/* One recorded attachment: finish it or roll it back, by where its transaction stands. */
static int repair_one(struct repair_ctx *c, __u64 id, const struct na_attach *att)
{
	const struct na_tree_att *live = na_tree_find(c->t, id, NA_DIR_LIVE), *nw = na_tree_find(c->t, id, NA_DIR_NEW),
				 *old = na_tree_find(c->t, id, NA_DIR_OLD);
	__u32 slot = NA_TOKEN_SLOT(att->token);
	int ncg = na_links_count(NA_LINK_CGROUP), err = 0;
	char dir[PATH_MAX] = "";

	if (live)
		c->done[live - c->t->att] = 1;
	if (nw)
		c->done[nw - c->t->att] = 1;
	if (old)
		c->done[old - c->t->att] = 1;
	if ((live && live->untrusted) || (nw && nw->untrusted) || (old && old->untrusted)) {
		na_log(NA_LOG_ERROR, "%s: a directory of %s's attachment is not root's or is writable by others: not made by netacct; look at it and remove it by hand",
		       c->root, att->path);
		return -EPERM;
	}
	if (old || !live) {
		/* Detach committed (old_cg_<id>), or an attach that never got its directory committed. */
		const struct na_tree_att *d = old ? old : nw;

		if (d)
			na_att_dir_path(dir, sizeof(dir), c->root, d->dir, d->id);
		if (old && nw) {
			char p[PATH_MAX];

			na_att_dir_path(p, sizeof(p), c->root, nw->dir, nw->id);
			err = na_tree_remove_dir(p);
		}
		if (!err)
			err = retire(c->root, c->meta, att, dir, c->active_fd);
		if (!err && bpf_map_delete_elem(c->attached_fd, &id) && errno != ENOENT)
			err = na_err(-errno, "forget %s", att->path);
		if (err)
			return err;
		na_log(NA_LOG_INFO, old ? "%s: finished an interrupted detach" : "%s: rolled back an interrupted attach",
		       att->path);
		note(c, id, old ? REPAIRED_DETACHED : REPAIRED_ROLLED_BACK);
		return 0;
	}
	/* Committed (cg_<id>): finish it. */
	if (nw) {
		na_att_dir_path(dir, sizeof(dir), c->root, nw->dir, nw->id);
		err = na_tree_remove_dir(dir);
		if (err)
			return err;
	}
	if (live->nlinks < ncg) {
		if (!live->totals) {
			na_log(NA_LOG_ERROR, "%s: its totals pin is gone: the attachment cannot be repaired; detach it and attach again",
			       att->path);
			return 0; /* status shows it incomplete; the caller goes on */
		}
		err = relink(c, att, live);
		if (err == -ENOENT)
			return 0; /* cgroup removed: nothing runs for it; status shows it */
		if (err)
			return err;
		na_log(NA_LOG_INFO, "%s: re-attached the programs missing from its attachment (%d of %d were pinned)",
		       att->path, live->nlinks, ncg);
		note(c, id, REPAIRED_FINISHED);
	}
	if (c->slots[slot] != att->token) {
		if (c->slots[slot]) {
			na_log(NA_LOG_ERROR, "%s: its slot %u is taken by another attachment; detach it and attach again",
			       att->path, slot);
			return 0;
		}
		if (bpf_map_update_elem(c->active_fd, &slot, &att->token, 0))
			return na_err(-errno, "activate %s", att->path);
		c->slots[slot] = att->token;
		na_log(NA_LOG_INFO, "%s: finished an interrupted attach (it counts from now on)", att->path);
		note(c, id, REPAIRED_FINISHED);
	}
	return 0;
}

/* The keys of na_attached, read before the repair deletes some: *keys (malloc'd), *n. */
static int record_keys(int attached_fd, __u64 **keys, size_t *n)
{
	size_t cap = 0;
	__u64 key, next;
	int err;

	*keys = NULL;
	*n = 0;
	for (err = bpf_map_get_next_key(attached_fd, NULL, &next); !err;
	     err = bpf_map_get_next_key(attached_fd, &key, &next)) {
		key = next;
		if (*n == cap) {
			__u64 *nk = realloc(*keys, (cap = cap ? cap * 2 : 16) * sizeof(**keys));

			if (!nk)
				return -ENOMEM;
			*keys = nk;
		}
		(*keys)[(*n)++] = key;
	}
	return 0;
}

/* Each record in turn; tokens[i]: the token of record keys[i] (0: gone). */
static int repair_records(struct repair_ctx *c, const __u64 *keys, size_t n, __u64 *tokens)
{
	struct na_attach att;
	size_t i;
	int err = 0;

	for (i = 0; !err && i < n; i++) {
		if (bpf_map_lookup_elem(c->attached_fd, &keys[i], &att))
			continue;
		att.path[sizeof(att.path) - 1] = '\0';
		tokens[i] = att.token;
		err = repair_one(c, keys[i], &att);
	}
	return err;
}

/* Directories that no record names: a copy that never counted; unpin it. */
static int remove_unrecorded_dirs(struct repair_ctx *c)
{
	const struct na_tree *t = c->t;
	char dir[PATH_MAX];
	size_t i;
	int err = 0;

	for (i = 0; !err && i < t->natt; i++) {
		if (c->done[i] || t->att[i].untrusted)
			continue;
		err = na_att_dir_path(dir, sizeof(dir), c->root, t->att[i].dir, t->att[i].id);
		if (!err)
			err = na_tree_remove_dir(dir);
		if (!err)
			na_log(NA_LOG_INFO, "%s: removed %s, which no attachment records", c->root, t->att[i].name);
	}
	return err;
}

/* Slots live for a token no record has (none of tokens[0..n)): clear them and hand their rows over. */
static int clear_unrecorded_slots(struct repair_ctx *c, const __u64 *tokens, size_t n)
{
	size_t i, k;
	int err = 0;

	for (i = 0; !err && i < NA_MAX_ATTACHED; i++) {
		struct na_attach none = { .token = c->slots[i], .path = "(unrecorded)" };

		if (!c->slots[i])
			continue;
		for (k = 0; k < n && tokens[k] != c->slots[i]; k++)
			;
		if (k < n)
			continue;
		err = retire(c->root, c->meta, &none, "", c->active_fd);
		if (!err)
			na_log(NA_LOG_INFO, "%s: cleared slot %zu, live for an attachment no record has", c->root, i);
	}
	return err;
}

/*
 * Bring every attachment of a committed pin root to a committed state:
 * before its commit an attach is rolled back, after it an attach or a detach
 * is finished; directories and slots that no record names are removed.
 * Callers hold the lock. *what: what happened to cgroup want.
 */
static int repair(const char *root, const struct na_meta *meta, __u64 want, enum repaired *what)
{
	struct repair_ctx c = { .root = root, .meta = meta, .attached_fd = -1, .active_fd = -1, .want = want };
	struct na_tree t = {};
	__u64 *keys = NULL, *tokens = NULL;
	size_t n = 0;
	int err;

	if (what)
		*what = REPAIRED_NONE;
	err = na_tree_scan(root, &t);
	if (err)
		return err;
	c.t = &t;
	c.slots = calloc(NA_MAX_ATTACHED, sizeof(*c.slots));
	c.done = calloc(t.natt + 1, 1);
	if (!c.slots || !c.done) {
		err = -ENOMEM;
		goto out;
	}
	c.attached_fd = obj_open(root, "na_attached");
	c.active_fd = obj_open(root, "na_active");
	if (c.attached_fd < 0 || c.active_fd < 0) {
		err = c.attached_fd < 0 ? c.attached_fd : c.active_fd;
		goto out;
	}
	err = read_slots(c.active_fd, c.slots);
	if (!err)
		err = record_keys(c.attached_fd, &keys, &n);
	if (err)
		goto out;
	tokens = calloc(n + 1, sizeof(*tokens));
	if (!tokens) {
		err = -ENOMEM;
		goto out;
	}
	err = repair_records(&c, keys, n, tokens);
	if (!err)
		err = remove_unrecorded_dirs(&c);
	if (!err)
		err = clear_unrecorded_slots(&c, tokens, n);
out:
	if (what)
		*what = c.what;
	if (c.attached_fd >= 0)
		close(c.attached_fd);
	if (c.active_fd >= 0)
		close(c.active_fd);
	free(keys);
	free(tokens);
	free(c.slots);
	free(c.done);
	na_tree_free(&t);
	return err;
}

/*
 * The pin root as a writer finds it, under the lock: 0 with *committed set
 * when it holds netacct's state of this ABI (repaired), 0 with *committed 0
 * when it is empty now (the remains of an unfinished first attach or last
 * detach removed), or -errno (reported): not netacct's, another ABI version.
 */
static int writer_open_root(const char *root, struct na_meta *meta, int *committed, __u64 want, enum repaired *what)
{
	struct na_tree t;
	int err;

	*committed = 0;
	if (what)
		*what = REPAIRED_NONE;
	err = na_tree_scan(root, &t);
	if (err)
		return err;
	err = na_tree_check_trust(root, &t);
	if (err) {
		na_tree_free(&t);
		return err;
	}
	if (!t.has_meta) {
		if (!t.nours && !t.nforeign) {
			na_tree_free(&t);
			return 0;
		}
		if (t.nforeign) {
			na_log(NA_LOG_ERROR, "%s: holds pinned objects but no na_meta: not netacct's state (%s); use another --pin-root",
			       root, t.foreign);
			na_tree_free(&t);
			return -EPROTO;
		}
		/* Only netacct's names, no na_meta: a first attach or a last detach that did not finish. */
		na_tree_free(&t);
		err = na_tree_remove_root(root, 1);
		if (err)
			return err;
		na_log(NA_LOG_INFO, "%s: removed the remains of an interrupted first attach or last detach", root);
		return 0;
	}
	na_tree_free(&t);
	err = na_meta_read(root, meta, committed);
	if (!err && *committed)
		err = repair(root, meta, want, what);
	return err;
}

/* ---- attach --------------------------------------------------------------------- */

struct att_txn {
	const struct na_attach_opts *o;
	const char *root;
	struct na_cgroup cg;
	struct na_meta meta;
	int committed;       /* the pin root held netacct's state when we came */
	__u32 slot;
	__u64 token;
	struct timespec rt;
	struct netacct_bpf *skel;
	struct bpf_link *links[NA_MAX_LINKS];
	int cgfd;
	char stage[PATH_MAX];  /* new_cg_<id> */
	char dir[PATH_MAX];    /* cg_<id> */
	/* what to undo */
	int root_made, recorded, staged, renamed;
};

/* Plan: which slot and token; the sizes of a new pin root. */
static int attach_plan(struct att_txn *t)
{
	const struct na_attach_opts *o = t->o;
	__u64 *slots;
	int level, fd, err;
	__u32 i;

	level = cgroup_level(t->cg.rel);
	if (level > NA_MAX_LEVEL) {
		na_log(NA_LOG_ERROR, "%s: nested %d levels deep; netacct attaches up to level %d", t->cg.abs, level,
		       NA_MAX_LEVEL);
		return -E2BIG;
	}
	t->slot = 0;
	if (t->committed) {
		if ((o->max_sockets && o->max_sockets != t->meta.max_sockets) ||
		    (o->max_closed && o->max_closed != t->meta.max_closed) ||
		    (o->log_bytes && o->log_bytes != t->meta.log_bytes) ||
		    (o->max_peers && o->max_peers != t->meta.max_peers))
			na_log(NA_LOG_WARN, "map sizes ignored: the maps exist with %u sockets, %u closed, %u log bytes, %u peers (detach everything to change them)",
			       t->meta.max_sockets, t->meta.max_closed, t->meta.log_bytes, t->meta.max_peers);
		fd = obj_open(t->root, "na_active");
		if (fd < 0)
			return fd;
		slots = calloc(NA_MAX_ATTACHED, sizeof(*slots));
		err = slots ? read_slots(fd, slots) : -ENOMEM;
		close(fd);
		for (i = 0; !err && i < NA_MAX_ATTACHED && slots[i]; i++)
			;
		free(slots);
		if (err)
			return err;
		if (i == NA_MAX_ATTACHED) {
			na_log(NA_LOG_ERROR, "attach: all %d attachment slots are in use (detach some first)", NA_MAX_ATTACHED);
			return -ENOSPC;
		}
		t->slot = i;
	} else {
		t->meta.abi_version = NA_ABI_VERSION;
		t->meta.max_sockets = o->max_sockets ? o->max_sockets : NA_DEFAULT_MAX_SOCKETS;
		t->meta.max_closed = o->max_closed ? o->max_closed : NA_DEFAULT_MAX_CLOSED;
		t->meta.log_bytes = o->log_bytes ? o->log_bytes : NA_DEFAULT_LOG_BYTES;
		t->meta.max_peers = o->max_peers ? o->max_peers : NA_DEFAULT_MAX_PEERS;
		t->meta.next_seq = 1;
	}
	t->token = NA_TOKEN(t->meta.next_seq, level, t->slot);
	clock_gettime(CLOCK_REALTIME, &t->rt);
	if (!t->committed)
		t->meta.created_realtime = (__u64)t->rt.tv_sec;
	t->meta.next_seq++;
	return 0;
}

/* Load: a copy of the programs with this attachment's token, on the shared maps. */
static int attach_load(struct att_txn *t)
{
	struct bpf_program *prog;
	char p[PATH_MAX];
	size_t i;
	int err;

	err = na_skel_open(t->root, &t->meta, t->committed, &t->skel);
	if (err)
		return err;
	t->skel->rodata->self_token = t->token;
	bpf_object__for_each_program(prog, t->skel->obj)
		if (bpf_program__type(prog) == BPF_PROG_TYPE_SYSCALL)
			bpf_program__set_autoload(prog, false);
	/* A global link already pinned stays as it is: its program is not loaded again. */
	for (i = 0; i < na_nlinks; i++) {
		if (na_links[i].kind != NA_LINK_GLOBAL)
			continue;
		snprintf(p, sizeof(p), "%s/%s", t->root, na_links[i].pin);
		if (t->committed && !access(p, F_OK))
			bpf_program__set_autoload(bpf_object__find_program_by_name(t->skel->obj, na_links[i].prog), false);
	}
	return na_skel_load(t->skel);
}

/*
 * The pin root: a new one gets its maps pinned, its global links, and na_meta
 * last, which commits it; an existing one gets na_meta's next token
 * sequence, and any global link it lacks.
 */
static int attach_root(struct att_txn *t)
{
	struct bpf_map *map;
	char p[PATH_MAX];
	__u32 zero = 0;
	size_t i;
	int err;

	err = bpf_map__update_elem(t->skel->maps.na_meta, &zero, sizeof(zero), &t->meta, sizeof(t->meta), 0);
	if (err)
		return na_err(err, "write na_meta");
	if (!t->committed) {
		t->root_made = 1;
		bpf_object__for_each_map(map, t->skel->obj) {
			if (!na_map_is_shared(map) || map == t->skel->maps.na_meta)
				continue;
			snprintf(p, sizeof(p), "%s/%s", t->root, bpf_map__name(map));
			err = bpf_map__pin(map, p);
			if (err)
				return na_err(err, "pin %s", p);
		}
	}
	for (i = 0; i < na_nlinks; i++) {
		if (na_links[i].kind != NA_LINK_GLOBAL ||
		    !bpf_program__autoload(bpf_object__find_program_by_name(t->skel->obj, na_links[i].prog)))
			continue;
		err = link_pin(t->skel, i, -1, NULL, t->root, &t->links[i]);
		if (err)
			return err;
	}
	if (!t->committed) {
		snprintf(p, sizeof(p), "%s/na_meta", t->root);
		err = bpf_map__pin(t->skel->maps.na_meta, p);
		if (err)
			return na_err(err, "pin %s", p);
	}
	return 0;
}

/* Record: in na_attached before anything of it runs, so that nested copies see it (inactive). */
static int attach_record(struct att_txn *t)
{
	struct na_attach att = {
		.cgroup_id = t->cg.id,
		.token = t->token,
		.attach_realtime = (__u64)t->rt.tv_sec,
		.attach_ns = na_boot_ns(),
	};
	int err;

	memcpy(att.path, t->cg.rel, strlen(t->cg.rel) + 1);
	err = bpf_map__update_elem(t->skel->maps.na_attached, &t->cg.id, sizeof(t->cg.id), &att, sizeof(att),
				   BPF_NOEXIST);
	if (err)
		return na_err(err, "record attachment%s", err == -E2BIG ? " (too many attached cgroups)" : "");
	t->recorded = 1;
	return 0;
}

/*
 * Link: the cgroup links pinned in new_cg_<id>/ with the copy's totals. The
 * copy is inactive: it counts and creates nothing until it is activated with
 * all its hooks in place.
 */
static int attach_link(struct att_txn *t)
{
	char p[PATH_MAX];
	size_t i;
	int err;

	t->cgfd = open(t->cg.abs, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (t->cgfd < 0)
		return na_err(-errno, "open %s", t->cg.abs);
	if (mkdir(t->stage, 0700))
		return na_err(-errno, "create %s", t->stage);
	t->staged = 1;
	err = join_path(p, sizeof(p), t->stage, na_totals_pin);
	if (err)
		return err;
	err = bpf_map__pin(t->skel->maps.na_totals, p);
	if (err)
		return na_err(err, "pin %s", p);
	for (i = 0; i < na_nlinks; i++) {
		if (na_links[i].kind != NA_LINK_CGROUP)
			continue;
		err = link_pin(t->skel, i, t->cgfd, t->cg.abs, t->stage, &t->links[i]);
		if (err)
			return err;
	}
	return 0;
}

/* Commit: the attachment's directory gets its name; from here on a repair finishes it. */
static int attach_commit(struct att_txn *t)
{
	if (rename(t->stage, t->dir))
		return na_err(-errno, "rename %s to %s", t->stage, t->dir);
	t->renamed = 1;
	return 0;
}

/* Activate: the copy counts from the next packet on. */
static int attach_activate(struct att_txn *t)
{
	return bpf_map__update_elem(t->skel->maps.na_active, &t->slot, sizeof(t->slot), &t->token, sizeof(t->token),
				    0)
		       ? na_err(-errno, "activate attachment")
		       : 0;
}

/* An attach's steps, in order: the first that fails ends it, and attach_undo() takes back what was done. */
static int (*const attach_steps[])(struct att_txn *t) = {
	attach_plan, attach_load, attach_root, attach_record, attach_link, attach_commit, attach_activate,
};

/* Undo, last step first. Nothing was live: no row belongs to the copy. */
static void attach_undo(struct att_txn *t)
{
	size_t i;

	for (i = 0; i < na_nlinks; i++) {
		if (t->links[i]) {
			bpf_link__unpin(t->links[i]);
			bpf_link__destroy(t->links[i]);
			t->links[i] = NULL;
		}
	}
	if (t->renamed || t->staged)
		na_tree_remove_dir(t->renamed ? t->dir : t->stage);
	if (t->recorded)
		bpf_map__delete_elem(t->skel->maps.na_attached, &t->cg.id, sizeof(t->cg.id), 0);
	/* A pin root this attach made goes again (only netacct's own names). */
	if (t->root_made && attached_count(bpf_map__fd(t->skel->maps.na_attached)) == 0)
		na_tree_remove_root(t->root, 0);
}

/*
 * What attach leaves readable: the group asked for, or the one the pin root
 * has (a trusted root: root's, writable by nobody else). An attach that found
 * the cgroup attached made no pins: the tree is walked only when the group
 * or the log's mode is to change.
 */
static int share_after_attach(const char *root, const struct na_attach_opts *o, int fresh_pins)
{
	mode_t log_mode = o->log_private ? 0640 : 0660;
	char p[PATH_MAX];
	struct stat st, lg;
	uint32_t gid;

	if (lstat(root, &st))
		return na_err(-errno, "stat %s", root);
	if (o->group_set)
		gid = o->gid;
	else if (st.st_gid && (st.st_mode & 0050) == 0050)
		gid = st.st_gid;
	else
		return 0; /* root's alone, as pins are made */
	snprintf(p, sizeof(p), "%s/na_log", root);
	if (!fresh_pins && st.st_gid == gid && (st.st_mode & 07777) == (gid ? 0750u : 0700u) && !lstat(p, &lg) &&
	    (lg.st_mode & 07777) == (gid ? log_mode : 0600u))
		return 0;
	return na_tree_share(root, gid, log_mode);
}

int na_attach_cgroup(const struct na_attach_opts *o, const char *path)
{
	struct att_txn t = { .o = o, .root = o->pin_root, .cgfd = -1 };
	enum repaired what = REPAIRED_NONE;
	int lockfd = -1, err;
	sigset_t sigs;
	size_t i;

	err = na_cgroup_resolve(path, &t.cg);
	if (err)
		return err;
	if (strlen(t.cg.rel) >= NA_PATH_MAX) {
		na_log(NA_LOG_ERROR, "%s: cgroup path longer than %d bytes", path, NA_PATH_MAX - 1);
		return -ENAMETOOLONG;
	}
	err = na_caps_check_attach("attach");
	if (err)
		return err;
	na_signals_hold(&sigs);
	err = na_root_lock(t.root, 1, &lockfd);
	if (err)
		goto out;
	err = writer_open_root(t.root, &t.meta, &t.committed, t.cg.id, &what);
	if (err)
		goto out;
	if (na_att_dir_path(t.dir, sizeof(t.dir), t.root, NA_DIR_LIVE, t.cg.id) ||
	    na_att_dir_path(t.stage, sizeof(t.stage), t.root, NA_DIR_NEW, t.cg.id)) {
		err = na_err(-ENAMETOOLONG, "pin root %s", t.root);
		goto out;
	}
	if (!access(t.dir, F_OK)) {
		/* Attached; or its interrupted attach just finished, which this command asked for. */
		err = what == REPAIRED_FINISHED ? 0 : 1;
		goto share;
	}
	for (i = 0; !err && i < NA_ARRAY_SIZE(attach_steps); i++)
		err = attach_steps[i](&t);
	if (err) {
		attach_undo(&t);
		if (!t.committed) /* the pin root was empty when we came: empty it stays, or goes */
			na_tree_remove_root(t.root, 0);
		goto out;
	}
share:
	{
		int e = share_after_attach(t.root, o, err == 0);

		if (e) {
			na_log(NA_LOG_ERROR, "%s: %s, but the access to its pinned state may be only partly set (attach --group again)",
			       path, err ? "was attached already" : "attached");
			err = e;
		}
	}
out:
	links_close(t.links);
	netacct_bpf__destroy(t.skel);
	if (t.cgfd >= 0)
		close(t.cgfd);
	if (lockfd >= 0)
		close(lockfd);
	na_signals_release(&sigs);
	return err;
}

/* ---- detach ------------------------------------------------------------------------ */

/* The attached cgroup id for `path`: its inode, or, for a cgroup removed since, its recorded path. */
static int attached_id(int attached_fd, const char *path, __u64 *id)
{
	struct na_attach att;
	struct na_cg2mount m;
	__u64 key, next;
	struct stat st;
	char rel[PATH_MAX];
	int err;

	if (!stat(path, &st) && S_ISDIR(st.st_mode)) {
		*id = st.st_ino;
		if (!bpf_map_lookup_elem(attached_fd, id, &att))
			return 0;
	}
	if (na_cgroup2_mount(path, &m))
		return -ENOENT;
	snprintf(rel, sizeof(rel), "%s%s", strcmp(m.root, "/") ? m.root : "",
		 path + (strcmp(m.dir, "/") ? strlen(m.dir) : 0));
	for (err = bpf_map_get_next_key(attached_fd, NULL, &next); !err;
	     err = bpf_map_get_next_key(attached_fd, &key, &next)) {
		key = next;
		if (!bpf_map_lookup_elem(attached_fd, &key, &att) && !strncmp(att.path, rel, sizeof(att.path))) {
			*id = key;
			return 0;
		}
	}
	return -ENOENT;
}

/* The id of the cgroup at path as na_attached records it (0: none), read before a repair may forget it. */
static __u64 recorded_id(const char *root, const char *path)
{
	char p[PATH_MAX];
	__u64 id = 0;
	int fd;

	if (access(root, F_OK))
		return 0;
	snprintf(p, sizeof(p), "%s/na_attached", root);
	fd = bpf_obj_get(p);
	if (fd < 0)
		return 0;
	if (attached_id(fd, path, &id))
		id = 0;
	close(fd);
	return id;
}

/*
 * Detach the committed attachment att (cgroup id): commit (its directory
 * renamed old_cg_, from where a repair finishes the detach), retire it,
 * forget its record. A retire that fails has unpinned nothing (links go
 * after the sweep): undone, the attachment is live again, as it was.
 */
static int detach_one(const char *root, const struct na_meta *meta, const struct na_attach *att, __u64 id,
		      const char *path, int attached_fd, int active_fd)
{
	__u32 slot = NA_TOKEN_SLOT(att->token);
	char dir[PATH_MAX], old[PATH_MAX];
	int err;

	na_att_dir_path(dir, sizeof(dir), root, NA_DIR_LIVE, id);
	na_att_dir_path(old, sizeof(old), root, NA_DIR_OLD, id);
	if (rename(dir, old))
		return na_err(-errno, "rename %s to %s", dir, old);
	err = retire(root, meta, att, old, active_fd);
	if (err) {
		if (!access(old, F_OK) && !rename(old, dir))
			bpf_map_update_elem(active_fd, &slot, &att->token, 0);
		na_log(NA_LOG_ERROR, "detach %s: not detached (still attached; try again)", path);
		return err;
	}
	if (bpf_map_delete_elem(attached_fd, &id) && errno != ENOENT)
		return na_err(-errno, "forget %s", path);
	return 0;
}

/* Whether the pin root records no attachment (then *attached_fd is closed). */
static int nothing_attached(const char *root, int *attached_fd)
{
	if (*attached_fd < 0)
		*attached_fd = obj_open(root, "na_attached");
	if (*attached_fd < 0 || attached_count(*attached_fd) != 0)
		return 0;
	close(*attached_fd);
	*attached_fd = -1;
	return 1;
}

int na_detach_cgroup(const char *root, const char *path)
{
	enum repaired what = REPAIRED_NONE;
	struct na_attach att;
	struct na_meta meta = {};
	int lockfd = -1, attached_fd = -1, active_fd = -1, err, have = 0;
	sigset_t sigs;
	__u64 id;

	err = na_caps_check_attach("detach");
	if (err)
		return err;
	na_signals_hold(&sigs);
	err = na_root_lock(root, 0, &lockfd);
	if (err == -ENOENT)
		goto not_attached;
	if (err)
		goto out;
	id = recorded_id(root, path);
	err = writer_open_root(root, &meta, &have, id, &what);
	if (err)
		goto out;
	if (!have) {
		na_tree_remove_root(root, 0); /* empty now */
		goto not_attached;
	}
	if (what == REPAIRED_DETACHED || what == REPAIRED_ROLLED_BACK)
		goto last; /* what was asked is done */
	attached_fd = obj_open(root, "na_attached");
	active_fd = obj_open(root, "na_active");
	if (attached_fd < 0 || active_fd < 0) {
		err = attached_fd < 0 ? attached_fd : active_fd;
		goto out;
	}
	if (!id || bpf_map_lookup_elem(attached_fd, &id, &att))
		goto not_attached;
	att.path[sizeof(att.path) - 1] = '\0';
	err = detach_one(root, &meta, &att, id, path, attached_fd, active_fd);
	if (err)
		goto out;
last:
	if (nothing_attached(root, &attached_fd))
		err = na_tree_remove_root(root, 0);
	goto out;
not_attached:
	/* A committed pin root with nothing attached: what a last detach stopped short of removing. */
	if (have && nothing_attached(root, &attached_fd) && !na_tree_remove_root(root, 0))
		na_log(NA_LOG_INFO, "%s: removed (nothing was attached: an interrupted detach or attach left it)", root);
	na_log(NA_LOG_ERROR, "detach %s: not attached (netacct status lists what is)", path);
	err = -ENOENT;
out:
	if (attached_fd >= 0)
		close(attached_fd);
	if (active_fd >= 0)
		close(active_fd);
	if (lockfd >= 0)
		close(lockfd);
	na_signals_release(&sigs);
	return err;
}

int na_detach_all(const char *root)
{
	struct na_tree t;
	int lockfd = -1, err;
	sigset_t sigs;

	err = na_caps_check_attach("detach");
	if (err)
		return err;
	na_signals_hold(&sigs);
	err = na_root_lock(root, 0, &lockfd);
	if (err == -ENOENT) {
		na_log(NA_LOG_ERROR, "detach --all: nothing attached (no pinned state at %s)", root);
		goto out;
	}
	if (err)
		goto out;
	err = na_tree_scan(root, &t);
	if (err)
		goto out;
	/* Any netacct state, of any ABI version, has na_meta (or is a half-made one with nothing foreign). */
	if (!t.has_meta && t.nforeign) {
		na_log(NA_LOG_ERROR, "detach --all: %s holds no na_meta: not netacct's state (%s), left alone", root,
		       t.foreign);
		na_tree_free(&t);
		err = -EPROTO;
		goto out;
	}
	na_tree_free(&t);
	/* Unpinning every link detaches it; the maps go with their last pin. Only netacct's names. */
	err = na_tree_remove_root(root, 0);
	if (err == -ENOTEMPTY && !na_tree_scan(root, &t)) {
		na_log(NA_LOG_ERROR, "detach --all: netacct's pins removed; %s still holds %s, which netacct did not pin: left alone",
		       root, t.foreign);
		na_tree_free(&t);
	}
out:
	if (lockfd >= 0)
		close(lockfd);
	na_signals_release(&sigs);
	return err;
}
