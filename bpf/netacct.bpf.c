// SPDX-License-Identifier: (BSD-2-Clause OR GPL-2.0)
/*
 * netacct kernel side: per-socket, per-attachment accounting of every packet
 * a cgroup sends and receives, split into IP header, transport header and
 * payload bytes. Semantics: docs/accounting.md. Design: docs/design.md.
 *
 * One copy of this object is loaded per attached cgroup (self_token in
 * rodata); every map but na_totals is shared between the copies through
 * bpffs pins, na_totals is private to each.
 *
 * Nested attachments run several copies for one packet, innermost first (the
 * kernel builds a cgroup's effective program array leaf first). Exactly one
 * copy counts a row: its owner (acct_token). Ownership moves only by
 * compare-and-swap, and only in ways that cannot count a packet twice or miss
 * it while an attachment is detached mid-flow (row_is_mine()).
 */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

#include "netacct_abi.h"
#include "netacct.bpf.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

/* The attachment this copy of the programs accounts for (NA_TOKEN()). */
const volatile __u64 self_token = 0;

/*
 * Not preallocated: memory follows the sockets there are. A deleted element's
 * memory stays valid for a program that looked it up before the delete, but
 * the BPF allocator (bpf_mem_alloc) may hand it to the next insert at once,
 * as a preallocated map would: a row stores its cookie, checked before an
 * add (docs/design.md, "Known limits of the row protocol").
 */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(max_entries, NA_DEFAULT_MAX_SOCKETS);
	__type(key, __u64); /* socket cookie */
	__type(value, struct na_row);
} na_socks SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, NA_MAX_ATTACHED);
	__type(key, __u64); /* cgroup id */
	__type(value, struct na_attach);
} na_attached SEC(".maps");

/* na_active[slot] == token while the attachment is live; 0 once detaching. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, NA_MAX_ATTACHED);
	__type(key, __u32);
	__type(value, __u64);
} na_active SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct na_totals);
} na_totals SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_SK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC | BPF_F_CLONE);
	__type(key, int);
	__type(value, struct na_owner);
} na_sk_owner SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct na_meta);
} na_meta SEC(".maps");

/* Sockets that can send nothing more, folded per (cgroup, owner, peer). */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(max_entries, NA_DEFAULT_MAX_CLOSED);
	__type(key, struct na_closed_key);
	__type(value, struct na_closed);
} na_closed SEC(".maps");

/* One struct na_conn per socket that ended, for `netacct log`. */
struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, NA_DEFAULT_LOG_BYTES);
} na_log SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct na_stats);
} na_stats SEC(".maps");

/* Cgroup id -> path, so that rows of a removed cgroup keep its last path. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, NA_MAX_CGPATHS);
	__type(key, __u64);
	__type(value, struct na_cgpath);
} na_cgpath SEC(".maps");

/*
 * The few kernel fields cgroup_mkdir needs, relocated against the running
 * kernel's BTF (CO-RE) at load time: no vmlinux.h.
 */
struct kernfs_node {
	__u64 id;
} __attribute__((preserve_access_index));

struct cgroup_root {
	int hierarchy_id;
} __attribute__((preserve_access_index));

struct cgroup {
	struct kernfs_node *kn;
	struct cgroup_root *root;
} __attribute__((preserve_access_index));

static __always_inline void copy_owner(struct na_row *s, const struct na_owner *o, __u8 src)
{
	s->pid = o->pid;
	s->uid = o->uid;
	__builtin_memcpy(s->comm, o->comm, NA_COMM_LEN);
	s->owner_src = src;
}

enum row_create {
	ROW_INSERTED, /* with this packet already in it */
	ROW_RACED,    /* another CPU inserted it first: add to it */
	ROW_NONE,     /* this socket gets no row (closed, or no full socket) */
	ROW_FULL,     /* na_socks is full */
};

/*
 * A new row for a socket seen for the first time. Not inlined, like every
 * path that runs once per socket: the per-packet path stays a short run of
 * code, which matters because each packet mostly finds it out of the CPU's
 * caches (docs/performance.md).
 */
static __noinline enum row_create sock_row_create(struct __sk_buff *skb, __u64 cookie, int dir,
						       const struct na_pkt *p)
{
	struct bpf_sock *sk = skb->sk;
	struct na_owner *o = NULL;
	struct na_row s = {};
	int err;

	if (!sk)
		return ROW_NONE;
	sk = bpf_sk_fullsock(sk);
	if (!sk)
		return ROW_NONE;
	/* A TCP socket in CLOSE sends only its last RST: its row is gone for good. */
	if (sk->protocol == IPPROTO_TCP && sk->state == NA_TCP_CLOSE)
		return ROW_NONE;
	/*
	 * A listener gets storage at its first packet (the first SYN), so that the
	 * kernel clones it into every connection it accepts from then on: a row
	 * whose storage was made for another socket is the server side.
	 */
	o = bpf_sk_storage_get(&na_sk_owner, sk, 0,
			       sk->state == NA_TCP_LISTEN ? BPF_SK_STORAGE_GET_F_CREATE : 0);
	if (o && (o->flags & (NA_OWNER_RELEASED | NA_OWNER_ENDED)))
		return ROW_NONE;
	if (o && sk->state == NA_TCP_LISTEN && !o->cookie) {
		o->cookie = cookie;
		__sync_fetch_and_or(&o->flags, NA_OWNER_LISTENER);
	}

	s.cookie = cookie;
	s.cgroup_id = bpf_skb_cgroup_id(skb);
	s.acct_token = self_token;
	s.first_ns = bpf_ktime_get_boot_ns();
	s.uid = (__u32)-1;
	if (o && o->cookie && o->cookie != cookie) {
		s.flags |= NA_ROW_ACCEPTED;
		if (o->flags & NA_OWNER_KNOWN) {
			copy_owner(&s, o, NA_OWN_LISTENER);
		} else {
			/* A listener from before attach: user space may have found its owner (na_set_owner). */
			struct na_row *l = bpf_map_lookup_elem(&na_socks, &o->cookie);

			if (l && l->owner_src == NA_OWN_PROC) {
				s.pid = l->pid;
				s.uid = l->uid;
				__builtin_memcpy(s.comm, l->comm, NA_COMM_LEN);
				s.owner_src = NA_OWN_LISTENER;
			}
		}
	} else if (o && (o->flags & NA_OWNER_KNOWN)) {
		copy_owner(&s, o, o->src);
	}
	s.family = p->family;
	s.proto = p->proto;
	if (sk->protocol == IPPROTO_TCP)
		s.state = sk->state;
	na_pkt_endpoints(skb, p, dir, sk->dst_port != 0, &s);
	NA_ROW_DIR(&s, dir)->c.packets = p->segs;
	NA_ROW_DIR(&s, dir)->c.ip_hdr_bytes = p->ip_hdr_bytes;
	NA_ROW_DIR(&s, dir)->c.l4_hdr_bytes = p->l4_hdr_bytes;
	NA_ROW_DIR(&s, dir)->c.payload_bytes = p->payload_bytes;
	if (p->proto == NA_P_TCP && p->has_ports) {
		NA_ROW_DIR(&s, dir)->hi_seq = p->seq + p->syn + (__u32)p->payload_bytes;
		NA_ROW_DIR(&s, dir)->seq_adv = p->payload_bytes;
		s.flags |= dir == NA_TX ? NA_ROW_TX_SEQ : NA_ROW_RX_SEQ;
	}

	err = bpf_map_update_elem(&na_socks, &cookie, &s, BPF_NOEXIST);
	if (err)
		return err == -17 /* EEXIST */ ? ROW_RACED : ROW_FULL;
	/*
	 * The socket may have ended on another CPU while we made its row: the
	 * ender marks the storage, then looks for the row; we inserted the row,
	 * then look at the mark (an atomic read: a full barrier). One of us sees
	 * the other. If the mark is there and the ender has not claimed the row,
	 * the row goes again and the packet counts without a row.
	 */
	o = bpf_sk_storage_get(&na_sk_owner, sk, 0, 0);
	if (o && (__sync_fetch_and_or(&o->flags, 0) & (NA_OWNER_RELEASED | NA_OWNER_ENDED))) {
		struct na_row *mine = bpf_map_lookup_elem(&na_socks, &cookie);

		if (mine && mine->cookie == cookie &&
		    !(__sync_fetch_and_or(&mine->flags, NA_ROW_ENDED) & NA_ROW_ENDED)) {
			bpf_map_delete_elem(&na_socks, &cookie);
			return ROW_NONE;
		}
	}
	return ROW_INSERTED;
}

static __always_inline int token_alive(__u64 token)
{
	__u32 slot = NA_TOKEN_SLOT(token);
	__u64 *live = bpf_map_lookup_elem(&na_active, &slot);

	return live && *live == token;
}

/* Will a live attachment above ours run after us for this packet? */
static __noinline int live_ancestor(struct __sk_buff *skb)
{
	__u32 level = NA_TOKEN_LEVEL(self_token);
	struct na_attach *a;
	__u64 id;
	int l;

	for (l = 0; l < NA_MAX_LEVEL; l++) {
		if ((__u32)l >= level)
			break;
		id = bpf_skb_ancestor_cgroup_id(skb, l);
		a = bpf_map_lookup_elem(&na_attached, &id);
		if (a && token_alive(a->token))
			return 1;
	}
	return 0;
}

/*
 * Does this copy count the packet on row s? Copies run innermost first.
 *  - The owner counts. A detaching (inactive) owner hands the row to a live
 *    attachment above it, which runs later in this same chain, instead.
 *  - A row without owner is taken by the first live copy that sees it.
 *  - A dead owner above us runs after us: we take its row. A dead owner below
 *    us already ran (and counted, or handed over): we leave its row alone.
 * Inactive copies never take rows, so no packet is counted twice.
 */
static __noinline int row_take(struct __sk_buff *skb, struct na_row *s, int live)
{
	__u64 owner = s->acct_token, prev;
	int i;

	if (owner == self_token) {
		if (live || !live_ancestor(skb))
			return 1;
		__sync_val_compare_and_swap(&s->acct_token, owner, 0);
		return 0;
	}
	if (!live)
		return 0;
	for (i = 0; i < 4; i++) {
		if (owner == self_token)
			return 1; /* another CPU took it for us */
		if (owner && (token_alive(owner) ||
			      NA_TOKEN_LEVEL(owner) >= NA_TOKEN_LEVEL(self_token)))
			return 0;
		prev = __sync_val_compare_and_swap(&s->acct_token, owner, self_token);
		if (prev == owner)
			return 1;
		owner = prev;
	}
	return 0;
}

static __always_inline int row_is_mine(struct __sk_buff *skb, struct na_row *s, int live)
{
	return (live && s->acct_token == self_token) || row_take(skb, s, live);
}

/*
 * How far this direction's byte stream moved: payload above the highest
 * sequence end seen before advances it; payload below it was seen before (a
 * retransmission sent, or a duplicate received). payload - seq_adv is then
 * exact whenever no reordering hole is open (a segment that jumps ahead
 * counts the hole as advance; the late segment that fills it does not:
 * segments of one direction do pass the hook out of order, on two CPUs).
 * Serial numbers wrap: compare signed differences.
 */
static __noinline void track_seq_start(struct na_row_dir *rd, __u32 bit, __u32 *flags,
				      const struct na_pkt *p)
{
	rd->hi_seq = p->seq + p->syn + (__u32)p->payload_bytes;
	__sync_fetch_and_add(&rd->seq_adv, p->payload_bytes);
	__sync_fetch_and_or(flags, bit);
}

static __always_inline void track_seq(struct na_row_dir *rd, __u32 bit, __u32 *flags,
				      const struct na_pkt *p)
{
	__u32 end = p->seq + p->syn + (__u32)p->payload_bytes, hi, prev;
	__s32 ahead;
	int i;

	if (!(*flags & bit)) {
		track_seq_start(rd, bit, flags, p);
		return;
	}
	hi = rd->hi_seq;
	for (i = 0; i < 4; i++) {
		ahead = (__s32)(end - hi);
		if (ahead <= 0)
			return;
		prev = __sync_val_compare_and_swap(&rd->hi_seq, hi, end);
		if (prev == hi) {
			/*
			 * All of it, a hole included: the segments of the hole
			 * (sent on another CPU, still on their way) come later
			 * and then move nothing. A SYN's sequence number is no byte.
			 */
			__sync_fetch_and_add(&rd->seq_adv, (__u64)ahead - p->syn);
			return;
		}
		hi = prev;
	}
}

/* The socket's smoothed RTT, from an ingress packet (the ACKs come in). */
static __noinline void sample_srtt(struct __sk_buff *skb, struct na_row_dir *rx)
{
	struct bpf_tcp_sock *tp;
	struct bpf_sock *sk;

	if ((sk = skb->sk) && (sk = bpf_sk_fullsock(sk)) && (tp = bpf_tcp_sock(sk)))
		rx->srtt_us = tp->srtt_us >> 3;
}

static __always_inline void row_add(struct __sk_buff *skb, struct na_row *s, int dir,
				    const struct na_pkt *p)
{
	struct na_row_dir *rd = NA_ROW_DIR(s, dir);
	__u64 before;

	/* No clock read here: it was a quarter of the per-packet cost (docs/performance.md). */
	before = __sync_fetch_and_add(&rd->c.packets, p->segs);
	__sync_fetch_and_add(&rd->c.ip_hdr_bytes, p->ip_hdr_bytes);
	__sync_fetch_and_add(&rd->c.l4_hdr_bytes, p->l4_hdr_bytes);
	__sync_fetch_and_add(&rd->c.payload_bytes, p->payload_bytes);
	if (p->proto != NA_P_TCP || !p->has_ports)
		return;
	track_seq(rd, dir == NA_TX ? NA_ROW_TX_SEQ : NA_ROW_RX_SEQ, &s->flags, p);
	/*
	 * The RTT is sampled on the first ingress packets of a row and on every
	 * 64th after: reading it costs two helper calls and the socket's cache
	 * lines, and it moves slowly.
	 */
	if (dir == NA_RX && (before < 8 || !(before & 63)))
		sample_srtt(skb, rd);
}

/* Payload seen again (retransmitted, duplicated); see track_seq(). */
static __always_inline __u64 retrans_of(const struct na_row *s, int dir)
{
	const struct na_row_dir *rd = NA_ROW_DIR(s, dir);
	__u64 pay = rd->c.payload_bytes, adv = rd->seq_adv;

	return s->proto == NA_P_TCP && pay > adv ? pay - adv : 0;
}

static __always_inline int account(struct __sk_buff *skb, int dir)
{
	int live = token_alive(self_token);
	struct na_pkt p;
	struct na_totals *t;
	struct na_row *s;
	__u32 zero = 0;
	__u64 cookie;

	na_pkt_parse(skb, &p);

	t = bpf_map_lookup_elem(&na_totals, &zero);
	if (!t)
		return 1; /* cannot happen: a one-entry array always has its entry */
	if (live) {
		counters_add(&t->dir[dir], &p);
		if (p.bad)
			__sync_fetch_and_add(&t->parse_errors, 1);
	}

	cookie = bpf_get_socket_cookie(skb);
	if (!cookie)
		goto norow;
	s = bpf_map_lookup_elem(&na_socks, &cookie);
	if (!s) {
		if (!live)
			return 1; /* a detaching copy creates nothing */
		switch (sock_row_create(skb, cookie, dir, &p)) {
		case ROW_INSERTED:
			return 1;
		case ROW_NONE:
			goto norow;
		case ROW_FULL:
			__sync_fetch_and_add(&t->overflow_packets, p.segs);
			__sync_fetch_and_add(&t->overflow_bytes,
					     p.ip_hdr_bytes + p.l4_hdr_bytes + p.payload_bytes);
			return 1;
		case ROW_RACED:
			break;
		}
		s = bpf_map_lookup_elem(&na_socks, &cookie);
		if (!s)
			goto norow; /* deleted right after a racing insert: socket closed */
	}
	/* A row freed and handed to another socket since the lookup is not ours. */
	if (s->cookie != cookie)
		goto norow;
	if (row_is_mine(skb, s, live))
		row_add(skb, s, dir, &p);
	return 1;
norow:
	if (live) {
		__sync_fetch_and_add(&t->norow_packets, p.segs);
		__sync_fetch_and_add(&t->norow_bytes, p.ip_hdr_bytes + p.l4_hdr_bytes + p.payload_bytes);
	}
	return 1;
}

SEC("cgroup_skb/egress")
int na_egress(struct __sk_buff *skb)
{
	return account(skb, NA_TX);
}

SEC("cgroup_skb/ingress")
int na_ingress(struct __sk_buff *skb)
{
	return account(skb, NA_RX);
}

/*
 * The process in whose context socket(), connect() or an unconnected sendmsg()
 * runs owns the socket; in cgroup_skb the current task is arbitrary. The owner
 * goes into socket storage (cloned into accepted sockets) and into the row.
 */
static __always_inline void record_owner(struct bpf_sock *sk, __u64 cookie, __u8 src)
{
	struct na_owner *o;
	struct na_row *s;

	o = bpf_sk_storage_get(&na_sk_owner, sk, 0, BPF_SK_STORAGE_GET_F_CREATE);
	if (!o)
		return;
	/* sendmsg runs per datagram: only the first sender is recorded. */
	if (src == NA_OWN_SENDMSG && (o->flags & NA_OWNER_KNOWN))
		return;
	o->cookie = cookie;
	o->pid = bpf_get_current_pid_tgid() >> 32;
	o->uid = (__u32)bpf_get_current_uid_gid();
	bpf_get_current_comm(o->comm, sizeof(o->comm));
	__sync_fetch_and_or(&o->flags, NA_OWNER_KNOWN);
	if (src == NA_OWN_CONNECT)
		__sync_fetch_and_and(&o->flags, ~NA_OWNER_ENDED); /* a closed TCP socket connects again */
	o->src = src;

	s = bpf_map_lookup_elem(&na_socks, &cookie);
	if (s && (src == NA_OWN_CONNECT || s->owner_src == NA_OWN_NONE || s->owner_src == NA_OWN_UNKNOWN))
		copy_owner(s, o, src);
}

SEC("cgroup/sock_create")
int na_sock_create(struct bpf_sock *sk)
{
	record_owner(sk, bpf_get_socket_cookie(sk), NA_OWN_CREATE);
	return 1;
}

SEC("cgroup/connect4")
int na_connect4(struct bpf_sock_addr *ctx)
{
	record_owner(ctx->sk, bpf_get_socket_cookie(ctx), NA_OWN_CONNECT);
	return 1;
}

SEC("cgroup/connect6")
int na_connect6(struct bpf_sock_addr *ctx)
{
	record_owner(ctx->sk, bpf_get_socket_cookie(ctx), NA_OWN_CONNECT);
	return 1;
}

SEC("cgroup/sendmsg4")
int na_sendmsg4(struct bpf_sock_addr *ctx)
{
	record_owner(ctx->sk, bpf_get_socket_cookie(ctx), NA_OWN_SENDMSG);
	return 1;
}

SEC("cgroup/sendmsg6")
int na_sendmsg6(struct bpf_sock_addr *ctx)
{
	record_owner(ctx->sk, bpf_get_socket_cookie(ctx), NA_OWN_SENDMSG);
	return 1;
}

static __always_inline void stat_add(__u32 field, __u64 v)
{
	__u32 zero = 0;
	struct na_stats *st = bpf_map_lookup_elem(&na_stats, &zero);

	if (!st)
		return;
	if (field == 0)
		__sync_fetch_and_add(&st->closed_evicted, v);
	else if (field == 1)
		__sync_fetch_and_add(&st->log_dropped, v);
	else
		__sync_fetch_and_add(&st->log_written, v);
}

static __always_inline void closed_add(struct na_closed *c, const struct na_row *s, __u64 now)
{
	int d;

	__sync_fetch_and_add(&c->conns, 1);
	for (d = 0; d < NA_NDIR; d++) {
		const struct na_counters *sc = &NA_ROW_DIR(s, d)->c;

		__sync_fetch_and_add(&c->dir[d].packets, sc->packets);
		__sync_fetch_and_add(&c->dir[d].ip_hdr_bytes, sc->ip_hdr_bytes);
		__sync_fetch_and_add(&c->dir[d].l4_hdr_bytes, sc->l4_hdr_bytes);
		__sync_fetch_and_add(&c->dir[d].payload_bytes, sc->payload_bytes);
		__sync_fetch_and_add(&c->retrans_bytes[d], retrans_of(s, d));
	}
	/* Times only order the rows; a lost race between two closes moves them by nanoseconds. */
	if (s->first_ns < c->first_ns)
		c->first_ns = s->first_ns;
	if (now > c->last_ns)
		c->last_ns = now;
}

static __always_inline void closed_fold(const struct na_row *s, __u64 now)
{
	struct na_closed_key k = {};
	struct na_closed *c, init = {};
	int err;

	k.cgroup_id = s->cgroup_id;
	k.pid = s->pid;
	__builtin_memcpy(k.comm, s->comm, NA_COMM_LEN);
	k.proto = s->proto;
	k.family = s->family;
	__builtin_memcpy(k.raddr, s->raddr, 16);
	/* A server's peers connect from ephemeral ports: fold them per peer address. */
	if (!(s->flags & NA_ROW_ACCEPTED))
		k.rport = s->rport;

	c = bpf_map_lookup_elem(&na_closed, &k);
	if (!c) {
		init.first_ns = s->first_ns;
		init.last_ns = now;
		init.uid = s->uid;
		if (s->flags & NA_ROW_ACCEPTED)
			init.flags = NA_CLOSED_SERVER;
		err = bpf_map_update_elem(&na_closed, &k, &init, BPF_NOEXIST);
		if (err && err != -17 /* EEXIST: another CPU made it */) {
			stat_add(0, 1);
			return;
		}
		c = bpf_map_lookup_elem(&na_closed, &k);
		if (!c) {
			stat_add(0, 1);
			return;
		}
	}
	closed_add(c, s, now);
}

static __always_inline void log_conn(__u64 cookie, const struct na_row *s, __u64 now)
{
	struct na_conn *r = bpf_ringbuf_reserve(&na_log, sizeof(*r), 0);

	if (!r) {
		stat_add(1, 1);
		return;
	}
	r->cookie = cookie;
	r->cgroup_id = s->cgroup_id;
	r->start_ns = s->first_ns;
	r->end_ns = now;
	r->pid = s->pid;
	r->uid = s->uid;
	__builtin_memcpy(r->comm, s->comm, NA_COMM_LEN);
	__builtin_memcpy(r->laddr, s->laddr, 16);
	__builtin_memcpy(r->raddr, s->raddr, 16);
	r->lport = s->lport;
	r->rport = s->rport;
	r->family = s->family;
	r->proto = s->proto;
	r->owner_src = s->owner_src;
	r->flags = s->flags & NA_ROW_ACCEPTED;
	r->dir[NA_TX] = s->tx.c;
	r->dir[NA_RX] = s->rx.c;
	r->retrans_bytes[0] = retrans_of(s, 0);
	r->retrans_bytes[1] = retrans_of(s, 1);
	bpf_ringbuf_submit(r, 0);
	stat_add(2, 1);
}

/*
 * A socket can send nothing more: fold its row into na_closed, log it, drop
 * it. NA_ROW_ENDED claims the row, so that two enders (nested sock_release
 * copies) fold it once; the element's memory stays valid after the delete,
 * though it may be reused (see na_socks).
 */
static __always_inline void row_end(__u64 cookie)
{
	struct na_row *s = bpf_map_lookup_elem(&na_socks, &cookie);
	__u64 now;

	if (!s || (__sync_fetch_and_or(&s->flags, NA_ROW_ENDED) & NA_ROW_ENDED))
		return;
	now = bpf_ktime_get_boot_ns();
	closed_fold(s, now);
	log_conn(cookie, s, now);
	bpf_map_delete_elem(&na_socks, &cookie);
}

/*
 * close(): non-TCP sockets send nothing after release, so their row ends here
 * (the RELEASED mark stops a late ingress packet from re-creating it). TCP
 * goes on sending after release (FIN, unsent data): its row ends at TCP_CLOSE.
 */
SEC("cgroup/sock_release")
int na_release(struct bpf_sock *sk)
{
	struct na_owner *o;

	if (sk->protocol == IPPROTO_TCP)
		return 1;
	/* Marked even without a row: a packet racing with the close must not create one. */
	o = bpf_sk_storage_get(&na_sk_owner, sk, 0, BPF_SK_STORAGE_GET_F_CREATE);
	if (o)
		__sync_fetch_and_or(&o->flags, NA_OWNER_RELEASED);
	row_end(bpf_get_socket_cookie(sk));
	return 1;
}

/*
 * Every TCP state change, system-wide: a row follows its socket's state, and
 * ends when a full socket enters TCP_CLOSE. After that it can send only an
 * RST (not given a row, see sock_row_create); TIME_WAIT and orphaned
 * FIN_WAIT2 are minisocks that cgroup programs never see.
 */
SEC("tp_btf/inet_sock_set_state")
int na_tcp_state(__u64 *ctx)
{
	void *sk = (void *)ctx[0];
	int newstate = (int)ctx[2];
	struct na_owner *o;
	struct na_row *s;
	__u64 cookie;

	cookie = bpf_get_socket_cookie(sk);
	if (newstate == NA_TCP_CLOSE) {
		/* Marked first: a row created meanwhile on another CPU goes again. */
		o = bpf_sk_storage_get(&na_sk_owner, sk, 0, BPF_SK_STORAGE_GET_F_CREATE);
		if (o)
			__sync_fetch_and_or(&o->flags, NA_OWNER_ENDED);
		row_end(cookie);
		return 0;
	}
	s = bpf_map_lookup_elem(&na_socks, &cookie);
	if (s)
		s->state = newstate;
	return 0;
}

/* An owner found in user space (sock_diag + /proc) for a row that had none. */
SEC("syscall")
int na_set_owner(struct na_set_owner_args *args)
{
	__u64 cookie = args->cookie;
	struct na_row *s = bpf_map_lookup_elem(&na_socks, &cookie);

	if (!s) {
		args->result = -2; /* -ENOENT */
		return 0;
	}
	if (s->owner_src == NA_OWN_NONE || s->owner_src == NA_OWN_UNKNOWN) {
		s->pid = args->pid;
		s->uid = args->uid;
		__builtin_memcpy(s->comm, args->comm, NA_COMM_LEN);
		s->owner_src = args->src;
	}
	args->result = 0;
	return 0;
}

static long sweep_one(void *map, const void *key, void *value, void *ctx)
{
	struct na_row *s = value;
	struct na_sweep_args *a = ctx;

	(void)map;
	(void)key;
	if (__sync_val_compare_and_swap(&s->acct_token, a->token, 0) == a->token)
		a->released++;
	return 0;
}

/*
 * Run by `detach` once the attachment is inactive and every program run that
 * saw it live has finished: hands its remaining rows to whoever sees them next.
 */
SEC("syscall")
int na_sweep(struct na_sweep_args *args)
{
	struct na_sweep_args a = { .token = args->token };

	bpf_for_each_map_elem(&na_socks, sweep_one, &a, 0);
	args->released = a.released;
	return 0;
}

/*
 * Every cgroup v2 directory made on the host (the default hierarchy has id
 * 0): remember its path, since rows outlive the directory.
 */
SEC("tp_btf/cgroup_mkdir")
int na_cgroup_mkdir(__u64 *ctx)
{
	struct cgroup *cgrp = (struct cgroup *)ctx[0];
	const char *path = (const char *)ctx[1];
	struct na_cgpath v;
	__u64 id;

	if (cgrp->root->hierarchy_id != 0)
		return 0;
	id = cgrp->kn->id;
	/* A longer path is not kept (a cut one would name another cgroup). */
	if ((__u32)bpf_probe_read_kernel_str(v.path, sizeof(v.path), path) >= sizeof(v.path))
		return 0;
	bpf_map_update_elem(&na_cgpath, &id, &v, BPF_ANY);
	return 0;
}
