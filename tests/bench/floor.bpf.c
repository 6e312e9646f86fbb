// SPDX-License-Identifier: (BSD-2-Clause OR GPL-2.0)
/*
 * Reference points for the per-packet cost (tests/bench/run --variants),
 * never part of netacct. Each is a cgroup_skb egress+ingress pair:
 *
 *  counter  what systemd's IPAccounting does: packets and bytes per
 *           direction in a per-CPU array, no parsing, no sockets.
 *  floor    the least that netacct's promise needs on every packet:
 *           netacct's own header parse (bpf/netacct.bpf.h), the attachment's
 *           per-CPU totals, and the socket's counters (header/payload split)
 *           in socket-local storage. No socket metadata, owner, ownership
 *           between nested attachments, retransmit tracking or RTT.
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
	struct na_counters tx;
	__u8 pad[64];
	struct na_counters rx;
};

struct {
	__uint(type, BPF_MAP_TYPE_SK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, struct floor_sock);
} floor_socks SEC(".maps");

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
	struct floor_sock *fs;
	struct na_totals *t;
	struct bpf_sock *sk;
	struct na_pkt p;
	__u32 zero = 0;

	na_pkt_parse(skb, &p);
	t = bpf_map_lookup_elem(&floor_totals, &zero);
	if (t)
		counters_add(&t->dir[dir], &p);
	sk = skb->sk;
	if (!sk)
		return;
	fs = bpf_sk_storage_get(&floor_socks, sk, 0, BPF_SK_STORAGE_GET_F_CREATE);
	if (fs)
		counters_add(dir == NA_TX ? &fs->tx : &fs->rx, &p);
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
