// SPDX-License-Identifier: (BSD-2-Clause OR GPL-2.0)
/*
 * netacct kernel side: per-socket, per-attachment accounting of every packet
 * a cgroup sends and receives, split into IP header, transport header and
 * payload bytes. Semantics: docs/accounting.md. Design: docs/design.md.
 *
 * One copy of this object is loaded per attached cgroup (self_token in
 * rodata); na_socks, na_attached, na_active, na_sk_owner and na_meta are
 * shared between the copies through bpffs pins, na_totals is private to each.
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
 * Not preallocated: a deleted row is freed after an RCU grace period, so a
 * program that looked it up just before the delete never adds to a row that
 * another socket has meanwhile been given (preallocated elements are reused
 * at once).
 */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(max_entries, NA_DEFAULT_MAX_SOCKETS);
	__type(key, __u64); /* socket cookie */
	__type(value, struct na_sock);
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

static __always_inline void counters_add(struct na_counters *c, const struct na_pkt *p)
{
	__sync_fetch_and_add(&c->packets, p->segs);
	__sync_fetch_and_add(&c->ip_hdr_bytes, p->ip_hdr_bytes);
	__sync_fetch_and_add(&c->l4_hdr_bytes, p->l4_hdr_bytes);
	__sync_fetch_and_add(&c->payload_bytes, p->payload_bytes);
}

static __always_inline void copy_owner(struct na_sock *s, const struct na_owner *o)
{
	s->pid = o->pid;
	s->uid = o->uid;
	__builtin_memcpy(s->comm, o->comm, NA_COMM_LEN);
}

enum row_create {
	ROW_INSERTED, /* with this packet already in it */
	ROW_RACED,    /* another CPU inserted it first: add to it */
	ROW_NONE,     /* this socket gets no row (closed, or no full socket) */
	ROW_FULL,     /* na_socks is full */
};

/* A new row for a socket seen for the first time. */
static __always_inline enum row_create sock_row_create(struct __sk_buff *skb, __u64 cookie, int dir,
						       const struct na_pkt *p, const union na_iphdr *ih)
{
	struct bpf_sock *sk = skb->sk;
	struct na_owner *o = NULL;
	struct na_sock s = {};
	int err;

	if (!sk)
		return ROW_NONE;
	sk = bpf_sk_fullsock(sk);
	if (!sk)
		return ROW_NONE;
	/* A TCP socket in CLOSE sends only its last RST: its row is gone for good. */
	if (sk->protocol == IPPROTO_TCP && sk->state == NA_TCP_CLOSE)
		return ROW_NONE;
	o = bpf_sk_storage_get(&na_sk_owner, sk, 0, 0);
	if (o && (o->flags & NA_OWNER_RELEASED))
		return ROW_NONE;

	s.cgroup_id = bpf_skb_cgroup_id(skb);
	s.acct_token = self_token;
	s.first_ns = bpf_ktime_get_boot_ns();
	s.uid = (__u32)-1;
	if (o && (o->flags & NA_OWNER_KNOWN))
		copy_owner(&s, o);
	s.family = p->family;
	s.proto = p->proto;
	na_pkt_endpoints(skb, p, ih, dir, sk->dst_port != 0, &s);
	s.dir[dir].packets = p->segs;
	s.dir[dir].ip_hdr_bytes = p->ip_hdr_bytes;
	s.dir[dir].l4_hdr_bytes = p->l4_hdr_bytes;
	s.dir[dir].payload_bytes = p->payload_bytes;

	err = bpf_map_update_elem(&na_socks, &cookie, &s, BPF_NOEXIST);
	if (!err)
		return ROW_INSERTED;
	return err == -17 /* EEXIST */ ? ROW_RACED : ROW_FULL;
}

static __always_inline int token_alive(__u64 token)
{
	__u32 slot = NA_TOKEN_SLOT(token);
	__u64 *live = bpf_map_lookup_elem(&na_active, &slot);

	return live && *live == token;
}

/* Will a live attachment above ours run after us for this packet? */
static __always_inline int live_ancestor(struct __sk_buff *skb)
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
static __always_inline int row_is_mine(struct __sk_buff *skb, struct na_sock *s, int live)
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

static __always_inline int account(struct __sk_buff *skb, int dir)
{
	int live = token_alive(self_token);
	union na_iphdr ih;
	struct na_pkt p;
	struct na_totals *t;
	struct na_sock *s;
	__u32 zero = 0;
	__u64 cookie;

	na_pkt_parse(skb, &p, &ih);

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
		switch (sock_row_create(skb, cookie, dir, &p, &ih)) {
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
	if (row_is_mine(skb, s, live))
		counters_add(&s->dir[dir], &p);
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

/* The caller of connect() owns the socket; pid/comm are meaningful only here. */
static __always_inline void record_owner(struct bpf_sock_addr *ctx)
{
	struct na_owner *o;
	struct na_sock *s;
	__u64 cookie;

	o = bpf_sk_storage_get(&na_sk_owner, ctx->sk, 0, BPF_SK_STORAGE_GET_F_CREATE);
	if (!o)
		return;
	o->pid = bpf_get_current_pid_tgid() >> 32;
	o->uid = (__u32)bpf_get_current_uid_gid();
	bpf_get_current_comm(o->comm, sizeof(o->comm));
	o->flags = NA_OWNER_KNOWN;

	cookie = bpf_get_socket_cookie(ctx);
	s = bpf_map_lookup_elem(&na_socks, &cookie);
	if (s)
		copy_owner(s, o);
}

SEC("cgroup/connect4")
int na_connect4(struct bpf_sock_addr *ctx)
{
	record_owner(ctx);
	return 1;
}

SEC("cgroup/connect6")
int na_connect6(struct bpf_sock_addr *ctx)
{
	record_owner(ctx);
	return 1;
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
	__u64 cookie;

	if (sk->protocol == IPPROTO_TCP)
		return 1;
	/* Marked even without a row: a packet racing with the close must not create one. */
	o = bpf_sk_storage_get(&na_sk_owner, sk, 0, BPF_SK_STORAGE_GET_F_CREATE);
	if (o)
		o->flags |= NA_OWNER_RELEASED;
	cookie = bpf_get_socket_cookie(sk);
	bpf_map_delete_elem(&na_socks, &cookie);
	return 1;
}

/*
 * A full TCP socket that enters TCP_CLOSE can send only an RST (not given a
 * row, see sock_row_create); TIME_WAIT is handled by a minisock that cgroup
 * programs never see. This is the one point where a TCP row can go.
 */
SEC("tp_btf/inet_sock_set_state")
int na_tcp_state(__u64 *ctx)
{
	void *sk = (void *)ctx[0];
	int newstate = (int)ctx[2];
	__u64 cookie;

	if (newstate != NA_TCP_CLOSE)
		return 0;
	cookie = bpf_get_socket_cookie(sk);
	bpf_map_delete_elem(&na_socks, &cookie);
	return 0;
}

static long sweep_one(void *map, const void *key, void *value, void *ctx)
{
	struct na_sock *s = value;
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
