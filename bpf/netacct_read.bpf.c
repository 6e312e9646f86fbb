// SPDX-License-Identifier: (BSD-2-Clause OR GPL-2.0)
/*
 * netacct's reader: one run copies every live row of the pinned na_socks
 * into a buffer the reading process has mapped (an mmapable array), in the
 * layout its snapshots use (struct na_rd_row). It replaces the batched map
 * read for readers that may load programs (CAP_BPF): the kernel walks the
 * map once, with no bucket locks, no copy of the padding and no second copy
 * to user space (docs/performance.md, "User-space costs").
 *
 * top by socket reads less (na_rd_figs): the figures it orders every row by,
 * beside the figures the walk before left in the same slot, whose
 * differences are the rates.
 *
 * Not part of the pinned state: loaded by a reader on the pinned na_socks
 * (bpf_map__reuse_fd) and gone with it. It reads rows and writes only its
 * own buffers; the counting programs never see it.
 */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

#include "netacct_abi.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

/* The pinned na_socks (its definition must match netacct.bpf.c's for the reuse). */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(max_entries, NA_DEFAULT_MAX_SOCKETS);
	__type(key, __u64);
	__type(value, struct na_row);
} na_socks SEC(".maps");

/* The buffers: sized by the reader before load (rows it expects, with room to grow). */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(map_flags, BPF_F_MMAPABLE);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct na_rd_row);
} na_rd_buf0 SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(map_flags, BPF_F_MMAPABLE);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct na_rd_row);
} na_rd_buf1 SEC(".maps");

/* top's compact buffer (struct na_rd_fig): each slot keeps what the walk before wrote there. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(map_flags, BPF_F_MMAPABLE);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct na_rd_fig);
} na_rd_figs SEC(".maps");

struct walk {
	__u64 rows;
	__u32 cap;
};

static __always_inline __u64 shown_resent(__u64 v)
{
	return (__s64)v < 0 ? 0 : v; /* as na_resent() shows it */
}

static __always_inline void copy_row(struct na_rd_row *o, __u64 cookie, const struct na_row *r)
{
	int d;

	/* In the buffer's order (user stays user space's). */
	o->cookie = cookie;
	o->cgroup_id = r->cgroup_id;
	o->family = r->family;
	o->proto = r->proto;
	o->state = r->state;
	o->owner_src = r->owner_src;
	o->flags = r->flags;
	o->first_ns = r->first_ns;
	o->pid = r->pid;
	o->uid = r->uid;
	for (d = 0; d < NA_NDIR; d++) {
		const struct na_row_dir *rd = NA_ROW_DIR(r, d);

		o->dir[d].packets = rd->c.packets;
		o->dir[d].ip_hdr_bytes = rd->c.ip_hdr_bytes;
		o->dir[d].l4_hdr_bytes = rd->c.l4_hdr_bytes;
		o->dir[d].payload_bytes = rd->c.payload_bytes;
		o->dir[d].resent_bytes = shown_resent(rd->c.resent_bytes);
	}
	o->srtt_us = r->rx.srtt_us;
	o->lport = r->lport;
	__builtin_memcpy(o->comm, r->comm, NA_COMM_LEN);
	__builtin_memcpy(o->laddr, r->laddr, 16);
	if (na_row_shows_peer(r->flags)) {
		__builtin_memcpy(o->raddr, r->raddr, 16);
		o->rport = r->rport;
	} else { /* raddr/rport hold its first peer of many: it has no one peer */
		__builtin_memset(o->raddr, 0, 16);
		o->rport = 0;
	}
}

/*
 * Rows past the buffer's end are counted, not copied: the reader grows the
 * buffer and runs again. buf is one of the two buffers, a constant once
 * inlined into its callback: a callback names its map, the verifier takes
 * no map chosen at run time.
 */
static __always_inline long to_buf(void *buf, const __u64 *key, const struct na_row *r, struct walk *w)
{
	__u32 i = (__u32)w->rows++;
	struct na_rd_row *o;

	if (i >= w->cap)
		return 0;
	o = bpf_map_lookup_elem(buf, &i);
	if (o)
		copy_row(o, *key, r);
	return 0;
}

static long to_buf0(void *map, const __u64 *key, const struct na_row *r, struct walk *w)
{
	(void)map;
	return to_buf(&na_rd_buf0, key, r, w);
}

static long to_buf1(void *map, const __u64 *key, const struct na_row *r, struct walk *w)
{
	(void)map;
	return to_buf(&na_rd_buf1, key, r, w);
}

/* The slot's row becomes its then_*, the row the slot's now. */
static __always_inline void copy_fig(struct na_rd_fig *o, __u64 cookie, const struct na_row *r)
{
	int d;

	o->then_cookie = o->cookie;
	o->then_first_ns = o->first_ns;
	o->then_packets = 0;
	for (d = 0; d < NA_NDIR; d++) {
		o->then_bytes[d] = o->dir[d].hdr_bytes + o->dir[d].payload_bytes;
		o->then_packets += o->dir[d].packets;
	}
	o->cookie = cookie;
	o->first_ns = r->first_ns;
	o->cgroup_id = r->cgroup_id;
	o->pid = r->pid;
	o->family = r->family;
	o->proto = r->proto;
	o->state = r->state;
	o->owner_src = r->owner_src;
	for (d = 0; d < NA_NDIR; d++) {
		const struct na_row_dir *rd = NA_ROW_DIR(r, d);

		o->dir[d].packets = rd->c.packets;
		o->dir[d].hdr_bytes = rd->c.ip_hdr_bytes + rd->c.l4_hdr_bytes;
		o->dir[d].payload_bytes = rd->c.payload_bytes;
		o->dir[d].resent_bytes = shown_resent(rd->c.resent_bytes);
	}
}

static long to_figs(void *map, const __u64 *key, const struct na_row *r, struct walk *w)
{
	__u32 i = (__u32)w->rows++;
	struct na_rd_fig *o;

	(void)map;
	if (i >= w->cap)
		return 0;
	o = bpf_map_lookup_elem(&na_rd_figs, &i);
	if (o)
		copy_fig(o, *key, r);
	return 0;
}

SEC("syscall")
int na_read_socks(struct na_rd_args *args)
{
	struct walk w = { .cap = args->cap };

	if (args->buf == NA_RD_FIGS)
		bpf_for_each_map_elem(&na_socks, to_figs, &w, 0);
	else if (args->buf == 0)
		bpf_for_each_map_elem(&na_socks, to_buf0, &w, 0);
	else
		bpf_for_each_map_elem(&na_socks, to_buf1, &w, 0);
	args->rows = w.rows;
	return 0;
}
