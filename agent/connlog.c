// SPDX-License-Identifier: (BSD-2-Clause OR GPL-2.0)
/*
 * The connection log: reading <pin root>/na_log, the BPF ring buffer that
 * row_end() fills with one struct na_conn per socket that can send nothing
 * more, and <pin root>/na_stats, which counts the records the kernel could
 * not write (ring buffer full).
 *
 * A ring buffer is a queue with one consumer position, shared by everybody
 * who maps it: reading a record consumes it for every reader. One reader at a
 * time; two concurrent readers would each see part of the records, and could
 * both see one record.
 *
 * When a record counts as consumed (libbpf 1.1.2, src/ringbuf.c,
 * ringbuf_process_ring()): the position is advanced in a local variable, the
 * sample callback runs, and only then is the new position stored to the
 * shared consumer page (smp_store_release(r->consumer_pos, cons_pos)), one
 * record at a time. So a reader killed while its callback runs (kill -9 in
 * the middle of printing) leaves that record in the buffer: the next reader
 * gets it again. The catch: a callback that returns an error ALSO has the
 * position stored past its record before libbpf bails out ("update consumer
 * pos and bail out"), so a negative return means "this record is done". A
 * callback that could not deliver its record must not return at all (exit
 * instead) if the record is to stay in the buffer; see cli/cmd_log.c.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "internal.h"

#pragma GCC poison u8 u16 u32 u64

#define NA_PATHS_REFRESH_NS 1000000000ull /* walk the attached trees at most once a second */

struct na_connlog {
	char root[PATH_MAX];
	int log_fd;
	int stats_fd;
	int attached_fd;
	int cgpath_fd;      /* na_cgpath: the last path of every cgroup made since attach */
	int dns_fd;         /* na_dns: peer names */
	char peer_name[NA_DNS_NAME_MAX * 4 + 1];
	__u32 log_id;       /* the ring buffer's map id, to tell it from a newer one */
	struct ring_buffer *rb;
	na_connlog_fn fn;
	void *ctx;
	struct na_cgpaths *paths;
	uint64_t walked_ns; /* CLOCK_BOOTTIME of the last walk */
};

/* A pinned map of the expected type and value size, or -errno (reported). */
static int map_get(const char *root, const char *name, __u32 type, __u32 value_size, __u32 *id)
{
	struct bpf_map_info info = {};
	__u32 len = sizeof(info);
	char p[PATH_MAX];
	int fd, err;

	snprintf(p, sizeof(p), "%s/%s", root, name);
	fd = na_obj_get(p, NULL);
	if (fd < 0) {
		err = fd;
		if (err == -ENOENT)
			na_log(NA_LOG_ERROR,
			       "%s: not pinned: the attached state has no connection log (attached by an older netacct? `netacct detach --all` and attach again)",
			       p);
		else
			na_err(err, "open %s%s", p, na_perm_hint(err));
		return err;
	}
	if (bpf_obj_get_info_by_fd(fd, &info, &len)) {
		err = na_err(-errno, "inspect %s", p);
		close(fd);
		return err;
	}
	if (info.type != type || info.value_size != value_size) {
		na_log(NA_LOG_ERROR, "%s: map type %u, value size %u; expected type %u, value size %u (not this netacct's layout)",
		       p, info.type, info.value_size, type, value_size);
		close(fd);
		return -EPROTO;
	}
	if (id)
		*id = info.id;
	return fd;
}

/* The pinned maps the log reads, each checked by map_get(): 0, or -errno (reported) with the fds open so far. */
static int maps_get(struct na_connlog *l, const char *root)
{
	const struct {
		const char *name;
		__u32 type, value_size;
		int *fd;
		__u32 *id;
	} maps[] = {
		{ "na_log", BPF_MAP_TYPE_RINGBUF, 0, &l->log_fd, &l->log_id },
		{ "na_stats", BPF_MAP_TYPE_ARRAY, sizeof(struct na_stats), &l->stats_fd, NULL },
		{ "na_attached", BPF_MAP_TYPE_HASH, sizeof(struct na_attach), &l->attached_fd, NULL },
		{ "na_cgpath", BPF_MAP_TYPE_LRU_HASH, sizeof(struct na_cgpath), &l->cgpath_fd, NULL },
		{ "na_dns", BPF_MAP_TYPE_LRU_HASH, sizeof(struct na_dns_name), &l->dns_fd, NULL },
	};
	size_t i;

	for (i = 0; i < NA_ARRAY_SIZE(maps); i++) {
		*maps[i].fd = map_get(root, maps[i].name, maps[i].type, maps[i].value_size, maps[i].id);
		if (*maps[i].fd < 0)
			return *maps[i].fd;
	}
	return 0;
}

/* Add every cgroup below the attached ones; a cgroup removed meanwhile is skipped. */
static int walk_attached(struct na_connlog *l)
{
	struct na_attach a;
	__u64 key, next;
	int err;

	l->walked_ns = na_boot_ns();
	for (err = bpf_map_get_next_key(l->attached_fd, NULL, &next); !err;
	     err = bpf_map_get_next_key(l->attached_fd, &key, &next)) {
		key = next;
		if (bpf_map_lookup_elem(l->attached_fd, &key, &a))
			continue; /* detached meanwhile */
		a.path[sizeof(a.path) - 1] = '\0';
		if (na_cgpaths_add_tree(l->paths, a.path) == -ENOMEM)
			return -ENOMEM;
	}
	return err == -ENOENT ? 0 : na_err(err, "read %s/na_attached", l->root);
}

static int on_sample(void *ctx, void *data, size_t size)
{
	struct na_connlog *l = ctx;
	struct na_conn c;

	if (size != sizeof(c)) {
		na_log(NA_LOG_ERROR, "%s/na_log: a record of %zu bytes, expected %zu (another ABI version wrote it)",
		       l->root, size, sizeof(c));
		return -EPROTO;
	}
	memcpy(&c, data, sizeof(c)); /* 8-byte aligned in the ring, but the copy costs nothing */
	return l->fn(l->ctx, &c);
}

int na_connlog_open(const char *pin_root, na_connlog_fn fn, void *ctx, struct na_connlog **out)
{
	struct na_connlog *l;
	int have = 0, err;

	l = calloc(1, sizeof(*l));
	if (!l)
		return -ENOMEM;
	l->log_fd = l->stats_fd = l->attached_fd = l->cgpath_fd = l->dns_fd = -1;
	l->fn = fn;
	l->ctx = ctx;
	snprintf(l->root, sizeof(l->root), "%s", pin_root);
	err = na_meta_read(pin_root, NULL, &have);
	if (!err && !have)
		err = -ENOENT;
	if (!err)
		err = maps_get(l, pin_root);
	if (err)
		goto fail;
	l->rb = ring_buffer__new(l->log_fd, on_sample, l, NULL);
	if (!l->rb) {
		err = na_err(-errno, "map the ring buffer %s/na_log", pin_root);
		goto fail;
	}
	err = na_cgpaths_new(&l->paths);
	if (err)
		goto fail;
	err = walk_attached(l);
	if (err)
		goto fail;
	*out = l;
	return 0;
fail:
	na_connlog_close(l);
	return err;
}

int na_connlog_poll(struct na_connlog *l, int timeout_ms)
{
	int n = ring_buffer__poll(l->rb, timeout_ms);

	/*
	 * The programs wake a waiting reader only once a sixteenth of the buffer
	 * is filled (bpf/netacct.bpf.c, log_conn()): whatever came in without a
	 * wake-up is read when the wait times out.
	 */
	return n ? n : ring_buffer__consume(l->rb);
}

int na_connlog_consume(struct na_connlog *l)
{
	return ring_buffer__consume(l->rb);
}

int na_connlog_stats(const struct na_connlog *l, struct na_stats *st)
{
	__u32 zero = 0;

	if (bpf_map_lookup_elem(l->stats_fd, &zero, st))
		return na_err(-errno, "read %s/na_stats", l->root);
	return 0;
}

int na_connlog_pinned(const struct na_connlog *l)
{
	struct bpf_map_info info = {};
	__u32 len = sizeof(info);
	char p[PATH_MAX + 8];
	int fd, err;

	snprintf(p, sizeof(p), "%s/na_log", l->root);
	fd = na_obj_get(p, NULL);
	if (fd < 0)
		return fd == -ENOENT ? 0 : na_err(fd, "open %s%s", p, na_perm_hint(fd));
	err = bpf_obj_get_info_by_fd(fd, &info, &len) ? na_err(-errno, "inspect %s", p) : info.id == l->log_id;
	close(fd);
	return err;
}

/*
 * The trees walked at open (and again at most once a second), then what the
 * cgroup_mkdir tracepoint recorded in na_cgpath: a connection's cgroup is
 * often gone by the time its record is read (a finished job, a container).
 */
const char *na_connlog_cgroup(struct na_connlog *l, uint64_t cgroup_id)
{
	const char *p = na_cgpaths_get(l->paths, cgroup_id);
	struct na_cgpath v;

	if (p)
		return p;
	if (!bpf_map_lookup_elem(l->cgpath_fd, &cgroup_id, &v) && v.path[0]) {
		v.path[sizeof(v.path) - 1] = '\0';
		return na_cgpaths_put(l->paths, cgroup_id, v.path) ? NULL : na_cgpaths_get(l->paths, cgroup_id);
	}
	/* Made before attach and after the last walk: walk again, but not for every record of a removed one. */
	if (na_boot_ns() - l->walked_ns >= NA_PATHS_REFRESH_NS && !walk_attached(l))
		p = na_cgpaths_get(l->paths, cgroup_id);
	return p;
}

const char *na_connlog_peer_name(struct na_connlog *l, const struct na_conn *c)
{
	return na_dns_lookup(l->dns_fd, c->cgroup_id, c->family, c->raddr, c->start_ns, l->peer_name,
			     sizeof(l->peer_name))
		       ? l->peer_name
		       : NULL;
}

void na_connlog_close(struct na_connlog *l)
{
	if (!l)
		return;
	ring_buffer__free(l->rb);
	if (l->log_fd >= 0)
		close(l->log_fd);
	if (l->stats_fd >= 0)
		close(l->stats_fd);
	if (l->attached_fd >= 0)
		close(l->attached_fd);
	if (l->cgpath_fd >= 0)
		close(l->cgpath_fd);
	if (l->dns_fd >= 0)
		close(l->dns_fd);
	na_cgpaths_free(l->paths);
	free(l);
}

