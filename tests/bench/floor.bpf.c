// SPDX-License-Identifier: (BSD-2-Clause OR GPL-2.0)
/*
 * Reference points for the per-packet cost (tests/bench/run --variants),
 * never part of netacct. Each is a cgroup_skb egress+ingress pair:
 *
 *  counter  what systemd's IPAccounting does: packets and bytes per
 *           direction in a per-CPU array, no parsing, no sockets.
 *  floor    the least that netacct's promise needs, per packet and per
 *           socket: netacct's own header parse (bpf/netacct.bpf.h), the
 *           attachment's per-CPU totals, the socket's counters (header and
 *           payload split) in a row by socket cookie made at its first
 *           packet, and at the socket's end (tcp_destroy_sock, sock_release)
 *           the row folded into a per-CPU sum and deleted, so that nothing
 *           is lost when sockets close. No owner, ownership between nested
 *           attachments, retransmit tracking, state, RTT, closed rows by
 *           peer or connection log.
 *
 * How far netacct is from `floor` is what its own bookkeeping costs; how far
 * `floor` is from `empty` is the price of per-socket counting at all
 * (docs/performance.md).
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

struct pk_bytes {
	__u64 packets;
	__u64 bytes;
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, NA_NDIR);
	__type(key, __u32);
	__type(value, struct pk_bytes);
} counter_map SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct na_totals);
} floor_totals SEC(".maps");

/*
 * A socket's two directions are counted on two CPUs on loopback (a packet's
 * ingress runs on its sender's CPU): 64 bytes between them keep them on two
 * cache lines, as in struct na_row. Sharing one line costs ~100 ns a packet.
 */
struct floor_sock {
	__u64 cookie;
	struct na_counters tx;
	__u8 pad[64];
	struct na_counters rx;
};

/* Rows by socket cookie, made at a socket's first packet. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(max_entries, NA_DEFAULT_MAX_SOCKETS);
	__type(key, __u64);
	__type(value, struct floor_sock);
} floor_socks SEC(".maps");

/* What ended sockets counted, so that nothing is lost when they close. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct na_totals);
} floor_closed SEC(".maps");

typedef struct {
	__s64 counter;
} floor_atomic64_t;

struct sock_common {
	floor_atomic64_t skc_cookie;
} __attribute__((preserve_access_index));

struct sock {
	struct sock_common __sk_common;
} __attribute__((preserve_access_index));

static __always_inline void counter(struct __sk_buff *skb, __u32 dir)
{
	struct pk_bytes *c = bpf_map_lookup_elem(&counter_map, &dir);

	if (c) {
		c->packets++;
		c->bytes += skb->len;
	}
}

static __always_inline void floor(struct __sk_buff *skb, int dir)
{
	struct floor_sock *fs, init = {};
	struct na_totals *t;
	struct na_pkt p;
	__u32 zero = 0;
	__u64 cookie;

	na_pkt_parse(skb, &p);
	t = bpf_map_lookup_elem(&floor_totals, &zero);
	if (t)
		counters_add(&t->dir[dir], &p);
	cookie = bpf_get_socket_cookie(skb);
	fs = bpf_map_lookup_elem(&floor_socks, &cookie);
	if (fs) {
		counters_add(dir == NA_TX ? &fs->tx : &fs->rx, &p);
		return;
	}
	init.cookie = cookie;
	counters_add(dir == NA_TX ? &init.tx : &init.rx, &p);
	bpf_map_update_elem(&floor_socks, &cookie, &init, BPF_NOEXIST);
}

static __always_inline void counters_sum(struct na_counters *d, const struct na_counters *s)
{
	__sync_fetch_and_add(&d->packets, s->packets);
	__sync_fetch_and_add(&d->ip_hdr_bytes, s->ip_hdr_bytes);
	__sync_fetch_and_add(&d->l4_hdr_bytes, s->l4_hdr_bytes);
	__sync_fetch_and_add(&d->payload_bytes, s->payload_bytes);
}

/* A socket's end: its row folds into floor_closed and goes. */
static __always_inline void floor_end(__u64 cookie)
{
	struct floor_sock *fs = bpf_map_lookup_elem(&floor_socks, &cookie);
	struct na_totals *c;
	__u32 zero = 0;

	if (!fs)
		return;
	c = bpf_map_lookup_elem(&floor_closed, &zero);
	if (c) {
		counters_sum(&c->dir[NA_TX], &fs->tx);
		counters_sum(&c->dir[NA_RX], &fs->rx);
	}
	bpf_map_delete_elem(&floor_socks, &cookie);
}

SEC("tp_btf/tcp_destroy_sock")
int floor_tcp_destroy(__u64 *ctx)
{
	struct sock *sk = (struct sock *)ctx[0];
	__u64 cookie = sk->__sk_common.skc_cookie.counter;

	if (cookie)
		floor_end(cookie);
	return 0;
}

SEC("cgroup/sock_release")
int floor_release(struct bpf_sock *sk)
{
	if (sk->protocol != IPPROTO_TCP)
		floor_end(bpf_get_socket_cookie(sk));
	return 1;
}

SEC("cgroup_skb/egress")
int counter_egress(struct __sk_buff *skb)
{
	counter(skb, NA_TX);
	return 1;
}

SEC("cgroup_skb/ingress")
int counter_ingress(struct __sk_buff *skb)
{
	counter(skb, NA_RX);
	return 1;
}

SEC("cgroup_skb/egress")
int floor_egress(struct __sk_buff *skb)
{
	floor(skb, NA_TX);
	return 1;
}

SEC("cgroup_skb/ingress")
int floor_ingress(struct __sk_buff *skb)
{
	floor(skb, NA_RX);
	return 1;
}
