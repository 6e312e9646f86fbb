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
 *  ledger   floor, and what the per-connection promises add to it: the
 *           owner where only the kernel knows it (a row with pid, uid, comm
 *           and cgroup made at socket(), sock_create; taken over by the
 *           caller of connect(), on the connect4 hook netacct's shape names),
 *           the endpoints at the first packet, and at the socket's end its
 *           counters folded into a closed row by owner and peer address (a
 *           hash lookup, atomic adds) and a connection record in a ring
 *           buffer (no wake-up). No listener owners, nesting, retransmits,
 *           state, RTT, DNS or many-peer UDP.
 *
 * How far netacct is from `floor` is what its own bookkeeping costs; how far
 * `floor` is from `empty` is the price of per-socket counting at all
 * (docs/performance.md); `ledger` between them prices the owner, the closed
 * rows and the log.
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

/* ledger's rows (netacct's own layout), closed rows and log. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(max_entries, NA_DEFAULT_MAX_SOCKETS);
	__type(key, __u64);
	__type(value, struct na_row);
} ledger_socks SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16384);
	__type(key, struct na_closed_key);
	__type(value, struct na_closed);
} ledger_closed SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 4 << 20);
} ledger_log SEC(".maps");

typedef struct {
	__s64 counter;
} floor_atomic64_t;

struct sock_common {
	floor_atomic64_t skc_cookie;
} __attribute__((preserve_access_index));

struct sock {
	struct sock_common __sk_common;
} __attribute__((preserve_access_index));

/* The cookie of the socket tcp_destroy_sock destroys: 0 when no program asked for one. */
static __always_inline __u64 destroyed_cookie(__u64 *ctx)
{
	struct sock *sk = (struct sock *)ctx[0];

	return sk->__sk_common.skc_cookie.counter;
}

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

/* The current process as the row's owner. */
static __always_inline void ledger_owner(struct na_row *s, __u32 pid)
{
	s->pid = pid;
	s->uid = (__u32)bpf_get_current_uid_gid();
	bpf_get_current_comm(s->comm, sizeof(s->comm));
}

/* A row for a socket: at socket() with its owner, or at its first packet (an accepted socket) without. */
static __always_inline void ledger_birth(__u64 cookie, int owned)
{
	struct na_row s = {};

	s.cookie = cookie;
	s.flags = NA_ROW_FRESH;
	if (owned) {
		ledger_owner(&s, bpf_get_current_pid_tgid() >> 32);
		s.owner_src = NA_OWN_CREATE;
	}
	bpf_map_update_elem(&ledger_socks, &cookie, &s, BPF_NOEXIST);
}

static __always_inline void ledger(struct __sk_buff *skb, int dir)
{
	struct bpf_sock *sk = skb->sk;
	struct na_totals *t;
	struct na_row *s;
	struct na_pkt p;
	__u32 zero = 0;
	__u64 cookie;

	na_pkt_parse(skb, &p);
	t = bpf_map_lookup_elem(&floor_totals, &zero);
	if (t)
		counters_add(&t->dir[dir], &p);
	cookie = bpf_get_socket_cookie(skb);
	s = bpf_map_lookup_elem(&ledger_socks, &cookie);
	if (!s) {
		ledger_birth(cookie, 0);
		s = bpf_map_lookup_elem(&ledger_socks, &cookie);
		if (!s)
			return;
	}
	if (s->flags & NA_ROW_FRESH) {
		s->flags &= ~NA_ROW_FRESH;
		s->cgroup_id = bpf_skb_cgroup_id(skb);
		s->first_ns = bpf_ktime_get_boot_ns();
		s->family = p.family;
		s->proto = p.proto;
		if (sk && (sk = bpf_sk_fullsock(sk)) && !p.bad)
			na_pkt_endpoints(skb, &p, dir, sk->dst_port != 0, s);
	}
	counters_add(dir == NA_TX ? &s->tx.c : &s->rx.c, &p);
}

static __always_inline void ledger_fold(const struct na_row *s, __u64 now)
{
	struct na_closed_key k = {};
	struct na_closed *c, init = {};

	k.cgroup_id = s->cgroup_id;
	k.pid = s->pid;
	__builtin_memcpy(k.comm, s->comm, NA_COMM_LEN);
	k.proto = s->proto;
	k.family = s->family;
	/* By peer address only: a server's peers come from ephemeral ports (netacct keeps a client's port). */
	__builtin_memcpy(k.raddr, s->raddr, 16);
	c = bpf_map_lookup_elem(&ledger_closed, &k);
	if (!c) {
		init.first_ns = s->first_ns;
		bpf_map_update_elem(&ledger_closed, &k, &init, BPF_NOEXIST);
		c = bpf_map_lookup_elem(&ledger_closed, &k);
		if (!c)
			return;
	}
	__sync_fetch_and_add(&c->conns, 1);
	counters_sum(&c->dir[NA_TX], &s->tx.c);
	counters_sum(&c->dir[NA_RX], &s->rx.c);
	if (now > c->last_ns)
		c->last_ns = now;
}

static __always_inline void ledger_log_conn(const struct na_row *s, __u64 cookie, __u64 now)
{
	struct na_conn *r = bpf_ringbuf_reserve(&ledger_log, sizeof(*r), 0);

	if (!r)
		return;
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
	r->flags = 0;
	r->dir[NA_TX] = s->tx.c;
	r->dir[NA_RX] = s->rx.c;
	bpf_ringbuf_submit(r, BPF_RB_NO_WAKEUP);
}

static __always_inline void ledger_end(__u64 cookie)
{
	struct na_row *s = bpf_map_lookup_elem(&ledger_socks, &cookie);
	__u64 now;

	if (!s)
		return;
	now = bpf_ktime_get_boot_ns();
	ledger_fold(s, now);
	ledger_log_conn(s, cookie, now);
	bpf_map_delete_elem(&ledger_socks, &cookie);
}

SEC("cgroup/sock_create")
int ledger_sock_create(struct bpf_sock *sk)
{
	ledger_birth(bpf_get_socket_cookie(sk), 1);
	return 1;
}

/* connect(): the caller owns the socket from here on. */
SEC("cgroup/connect4")
int ledger_connect4(struct bpf_sock_addr *ctx)
{
	__u64 cookie = bpf_get_socket_cookie(ctx);
	struct na_row *s = bpf_map_lookup_elem(&ledger_socks, &cookie);
	__u32 pid = bpf_get_current_pid_tgid() >> 32;

	if (s && s->pid != pid)
		ledger_owner(s, pid);
	return 1;
}

SEC("cgroup_skb/egress")
int ledger_egress(struct __sk_buff *skb)
{
	ledger(skb, NA_TX);
	return 1;
}

SEC("cgroup_skb/ingress")
int ledger_ingress(struct __sk_buff *skb)
{
	ledger(skb, NA_RX);
	return 1;
}

SEC("cgroup/sock_release")
int ledger_release(struct bpf_sock *sk)
{
	if (sk->protocol != IPPROTO_TCP)
		ledger_end(bpf_get_socket_cookie(sk));
	return 1;
}

SEC("tp_btf/tcp_destroy_sock")
int ledger_tcp_destroy(__u64 *ctx)
{
	__u64 cookie = destroyed_cookie(ctx);

	if (cookie)
		ledger_end(cookie);
	return 0;
}

SEC("tp_btf/tcp_destroy_sock")
int floor_tcp_destroy(__u64 *ctx)
{
	__u64 cookie = destroyed_cookie(ctx);

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
