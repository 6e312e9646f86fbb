// SPDX-License-Identifier: (BSD-2-Clause OR GPL-2.0)
/*
 * netacct trace: one event per packet of the traced cgroups, from cgroup_skb
 * programs that exist only while `netacct trace` runs (their links are not
 * pinned: the end of the process detaches them), so tracing costs nothing
 * the rest of the time. Filters and a rate limit are applied here, before
 * anything is copied. Headers are parsed by netacct's own parser.
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

const volatile struct na_trace_cfg cfg = {};

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 1 << 20);
} events SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct na_trace_stats);
} stats SEC(".maps");

/*
 * The attached state's socket rows, for their owners, when there is one
 * (user space reuses the pinned map; otherwise this one stays empty).
 */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(max_entries, 1);
	__type(key, __u64);
	__type(value, struct na_row);
} na_socks SEC(".maps");

static __always_inline int trace(struct __sk_buff *skb, int dir)
{
	struct na_trace_stats *st;
	struct na_trace_ev *e;
	struct na_row *o = NULL;
	struct na_pkt p;
	__u16 ports[2] = {};
	__u8 fl = 0;
	__u32 zero = 0;
	__u64 now, cookie;

	if (cfg.dir && cfg.dir != dir + 1)
		return 1;
	na_pkt_parse(skb, &p);
	if (cfg.proto && cfg.proto != p.proto + 1)
		return 1;
	if (p.has_ports && na_load(skb, p.l4_off, ports, sizeof(ports)))
		ports[0] = ports[1] = 0;
	if (cfg.port && bpf_ntohs(ports[0]) != cfg.port && bpf_ntohs(ports[1]) != cfg.port)
		return 1;
	cookie = bpf_get_socket_cookie(skb);
	o = bpf_map_lookup_elem(&na_socks, &cookie);
	if (o && (o->cookie != cookie || !o->pid))
		o = NULL;
	if (cfg.pid && (!o || o->pid != cfg.pid))
		return 1;
	st = bpf_map_lookup_elem(&stats, &zero);
	if (!st)
		return 1;
	/* Atomic: ingress (softirq) can interrupt egress on this CPU. */
	__sync_fetch_and_add(&st->seen, 1);
	now = bpf_ktime_get_boot_ns();
	if (cfg.rate) {
		if (now - st->window_ns >= 1000000000ull) {
			st->window_ns = now;
			st->window_n = 0;
		}
		if (__sync_fetch_and_add(&st->window_n, 1) >= cfg.rate) {
			__sync_fetch_and_add(&st->dropped_rate, 1);
			return 1;
		}
	}
	e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
	if (!e) {
		__sync_fetch_and_add(&st->dropped_full, 1);
		return 1;
	}
	__builtin_memset(e, 0, sizeof(*e));
	e->ts_ns = now;
	e->cgroup_id = bpf_skb_cgroup_id(skb);
	e->cookie = cookie;
	if (o) {
		e->pid = o->pid;
		__builtin_memcpy(e->comm, o->comm, NA_COMM_LEN);
	}
	e->len = skb->len;
	na_pkt_addrs(skb, &p, e->saddr, e->daddr); /* left zero when it fails */
	if (p.proto == NA_P_TCP && p.has_ports && !na_load(skb, p.l4_off + 13, &fl, 1))
		e->tcp_flags = fl & 0x3f;
	e->sport = bpf_ntohs(ports[0]);
	e->dport = bpf_ntohs(ports[1]);
	e->ip_hdr_len = (__u16)(p.ip_hdr_bytes / p.segs);
	e->l4_hdr_len = (__u16)(p.l4_hdr_bytes / p.segs);
	e->payload = (__u32)p.payload_bytes;
	e->segs = (__u16)p.segs;
	e->dir = dir;
	e->family = p.family;
	e->proto = p.proto;
	e->flags = p.bad ? NA_TRACE_BAD : 0;
	bpf_ringbuf_submit(e, 0);
	__sync_fetch_and_add(&st->shown, 1);
	return 1;
}

SEC("cgroup_skb/egress")
int na_trace_egress(struct __sk_buff *skb)
{
	return trace(skb, NA_TX);
}

SEC("cgroup_skb/ingress")
int na_trace_ingress(struct __sk_buff *skb)
{
	return trace(skb, NA_RX);
}
