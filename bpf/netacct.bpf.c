// SPDX-License-Identifier: (BSD-2-Clause OR GPL-2.0)
/*
 * netacct kernel side: per-socket, per-attachment accounting of every packet
 * a cgroup sends and receives, split into IP header, transport header and
 * payload bytes. Semantics: docs/accounting.md. Design: docs/design.md.
 *
 * One copy of this object is loaded per attached cgroup (self_cgid in
 * rodata); na_socks, na_attached, na_sk_owner and na_meta are shared between
 * the copies through bpffs pins, na_totals is private to each copy.
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

/* The attached cgroup this copy of the programs accounts for. */
const volatile __u64 self_cgid = 0;

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
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

/*
 * A new row for a socket seen for the first time. Returns 0 when a row now
 * exists (inserted here with the packet included, or by a racing CPU, in which
 * case the caller adds to it), 1 when the socket must stay without a row,
 * or a negative error (map full).
 */
static __always_inline int sock_row_create(struct __sk_buff *skb, __u64 cookie, int dir,
					   const struct na_pkt *p, const union na_iphdr *ih)
{
	struct bpf_sock *sk = skb->sk;
	struct na_owner *o = NULL;
	struct na_sock s = {};
	int err;

	if (!sk)
		return 1;
	sk = bpf_sk_fullsock(sk);
	if (!sk)
		return 1;
	/* A TCP socket in CLOSE sends only its last RST: its row is gone for good. */
	if (sk->protocol == IPPROTO_TCP && sk->state == NA_TCP_CLOSE)
		return 1;
	o = bpf_sk_storage_get(&na_sk_owner, sk, 0, 0);
	if (o && (o->flags & NA_OWNER_RELEASED))
		return 1;

	s.cgroup_id = bpf_skb_cgroup_id(skb);
	s.acct_cgid = self_cgid;
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
	if (err == -17 /* EEXIST: another CPU won the race */)
		return 0;
	return err ? err : 2;
}

/*
 * Nested attachments run every copy of the programs for the same packet; only
 * the copy named in acct_cgid updates the row. If that attachment is gone, the
 * first surviving copy takes the row over (compare-and-swap, so only one does).
 */
static __always_inline int sock_row_is_mine(struct na_sock *s)
{
	__u64 acct = s->acct_cgid;

	if (acct == self_cgid)
		return 1;
	if (bpf_map_lookup_elem(&na_attached, &acct))
		return 0;
	return __sync_val_compare_and_swap(&s->acct_cgid, acct, self_cgid) == acct;
}

static __always_inline int account(struct __sk_buff *skb, int dir)
{
	union na_iphdr ih;
	struct na_pkt p;
	struct na_totals *t;
	struct na_sock *s;
	__u32 zero = 0;
	__u64 cookie;
	int err;

	na_pkt_parse(skb, &p, &ih);

	t = bpf_map_lookup_elem(&na_totals, &zero);
	if (!t)
		return 1; /* cannot happen: a one-entry array always has its entry */
	counters_add(&t->dir[dir], &p);
	if (p.bad)
		__sync_fetch_and_add(&t->parse_errors, 1);

	cookie = bpf_get_socket_cookie(skb);
	if (!cookie)
		goto norow;
	s = bpf_map_lookup_elem(&na_socks, &cookie);
	if (!s) {
		err = sock_row_create(skb, cookie, dir, &p, &ih);
		if (err == 2)
			return 1;
		if (err == 1)
			goto norow;
		if (err < 0) {
			__sync_fetch_and_add(&t->overflow_packets, p.segs);
			__sync_fetch_and_add(&t->overflow_bytes,
					     p.ip_hdr_bytes + p.l4_hdr_bytes + p.payload_bytes);
			return 1;
		}
		s = bpf_map_lookup_elem(&na_socks, &cookie);
		if (!s)
			goto norow; /* deleted right after a racing insert: socket closed */
	}
	if (sock_row_is_mine(s))
		counters_add(&s->dir[dir], &p);
	return 1;
norow:
	__sync_fetch_and_add(&t->norow_packets, p.segs);
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
	cookie = bpf_get_socket_cookie(sk);
	if (!bpf_map_lookup_elem(&na_socks, &cookie))
		return 1;
	o = bpf_sk_storage_get(&na_sk_owner, sk, 0, BPF_SK_STORAGE_GET_F_CREATE);
	if (o)
		o->flags |= NA_OWNER_RELEASED;
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
