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
 *
 * What a socket costs, besides its packets: one na_socks element, made at
 * socket() (or at its first packet: accepted connections, sockets from before
 * attach) and freed at its end, which is the kernel's destruction of a TCP
 * socket (tcp_destroy_sock) or close() of any other. No per-socket storage,
 * no program on TCP state changes: docs/performance.md has the measurements.
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

#define NA_AF_INET6 10
#define NA_EEXIST 17
#define NA_E2BIG 7
/* A log record in the ring buffer: the record and its 8-byte header. */
#define NA_LOG_REC_BYTES (sizeof(struct na_conn) + 8)

/* The attachment this copy of the programs accounts for (NA_TOKEN()). */
const volatile __u64 self_token = 0;
/* Possible CPUs (libbpf_num_possible_cpus()): na_gone has one entry each. */
const volatile __u32 nr_cpus = 1;

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

/* Listeners by (network namespace, port) -> their cookie: see struct na_listen_key. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 4096);
	__type(key, struct na_listen_key);
	__type(value, __u64);
} na_listen SEC(".maps");

/* The peers of unconnected UDP sockets that talk to more than one: struct na_peer_key. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(max_entries, NA_DEFAULT_MAX_PEERS);
	__type(key, struct na_peer_key);
	__type(value, struct na_peer);
} na_peers SEC(".maps");

/* Names looked up per cgroup, from the DNS answers it received: see struct na_dns_key. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, NA_DNS_MAX_NAMES);
	__type(key, struct na_dns_key);
	__type(value, struct na_dns_name);
} na_dns SEC(".maps");

/* A DNS answer being read, per CPU: too large for the stack. This copy's own. */
struct dns_scratch {
	__u8 msg[NA_DNS_MSG_MAX];
	struct na_dns_key key;
	struct na_dns_name val;
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct dns_scratch);
} na_dns_scratch SEC(".maps");

/* Recently released non-TCP sockets, per CPU: see struct na_gone. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct na_gone);
} na_gone SEC(".maps");

/*
 * The few kernel fields the tracepoints need, relocated against the running
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

typedef struct {
	__s64 counter;
} na_atomic64_t;

struct sock_common {
	na_atomic64_t skc_cookie;
} __attribute__((preserve_access_index));

/* sk_lock.owned: a process holds the socket (lock_sock()), sending or reading on it. */
struct sock {
	struct sock_common __sk_common;
	struct {
		int owned;
	} sk_lock;
} __attribute__((preserve_access_index));

static __always_inline struct na_stats *stats(void)
{
	__u32 zero = 0;

	return bpf_map_lookup_elem(&na_stats, &zero);
}

/* A full barrier: an atomic read-modify-write on a line of this CPU's own. */
static __always_inline void full_barrier(void)
{
	__u32 zero = 0;
	struct na_gone *g = bpf_map_lookup_elem(&na_gone, &zero);

	if (g)
		__sync_fetch_and_add(&g->next, 0);
}

static __always_inline int token_alive(__u64 token)
{
	__u32 slot = NA_TOKEN_SLOT(token);
	__u64 *live = bpf_map_lookup_elem(&na_active, &slot);

	return live && *live == token;
}

static __always_inline __u8 proto_of_sock(__u32 protocol, __u32 family)
{
	return na_proto_class((__u8)protocol, family == NA_AF_INET6 ? NA_F_IPV6 : NA_F_IPV4);
}

static __always_inline void owner_from_current(struct na_row *s, __u8 src)
{
	s->pid = bpf_get_current_pid_tgid() >> 32;
	s->uid = (__u32)bpf_get_current_uid_gid();
	bpf_get_current_comm(s->comm, sizeof(s->comm));
	s->owner_src = src;
}

/*
 * A row for a socket made or connected by the current process: its owner is
 * known here and nowhere later. Endpoints and the first packet's time come
 * with the first packet (NA_ROW_FRESH). The first live copy in the chain
 * makes it; the others find it there.
 */
static __noinline void row_birth(struct bpf_sock *sk, __u64 cookie, __u8 src)
{
	struct na_row s = {};

	s.cookie = cookie;
	s.acct_token = self_token;
	s.flags = NA_ROW_FRESH;
	s.family = sk->family == NA_AF_INET6 ? NA_F_IPV6 : NA_F_IPV4;
	s.proto = proto_of_sock(sk->protocol, sk->family);
	s.cgroup_id = bpf_get_current_cgroup_id();
	owner_from_current(&s, src);
	bpf_map_update_elem(&na_socks, &cookie, &s, BPF_NOEXIST);
}

SEC("cgroup/sock_create")
int na_sock_create(struct bpf_sock *sk)
{
	if (token_alive(self_token))
		row_birth(sk, bpf_get_socket_cookie(sk), NA_OWN_CREATE);
	return 1;
}

/*
 * connect(): the caller owns the socket from here on (it may have been made
 * by another process, or before attach).
 */
static __always_inline void on_connect(struct bpf_sock_addr *ctx)
{
	__u64 cookie = bpf_get_socket_cookie(ctx);
	struct na_row *s;

	if (!token_alive(self_token))
		return;
	s = bpf_map_lookup_elem(&na_socks, &cookie);
	if (!s) {
		row_birth(ctx->sk, cookie, NA_OWN_CONNECT);
		return;
	}
	if (s->pid != bpf_get_current_pid_tgid() >> 32)
		owner_from_current(s, NA_OWN_CONNECT);
}

SEC("cgroup/connect4")
int na_connect4(struct bpf_sock_addr *ctx)
{
	on_connect(ctx);
	return 1;
}

SEC("cgroup/connect6")
int na_connect6(struct bpf_sock_addr *ctx)
{
	on_connect(ctx);
	return 1;
}

enum row_create {
	ROW_MADE,     /* made now: see whether the socket ended meanwhile (row_ended_meanwhile()) */
	ROW_RACED,    /* another CPU made it meanwhile: add to it */
	ROW_NONE,     /* this socket gets no row (ended, or no full socket) */
	ROW_FULL,     /* na_socks is full */
};

/* One CPU's na_gone: does it hold cookie? (bpf_loop callback; ctx: struct gone_scan) */
struct gone_scan {
	__u64 cookie;
	int found;
};

static long gone_scan_cpu(__u32 cpu, void *ctx)
{
	struct gone_scan *g = ctx;
	struct na_gone *v;
	__u32 zero = 0;
	int i;

	v = bpf_map_lookup_percpu_elem(&na_gone, &zero, cpu);
	if (!v)
		return 0;
	for (i = 0; i < NA_GONE_SLOTS; i++) {
		if (v->cookie[i] == g->cookie) {
			g->found = 1;
			return 1;
		}
	}
	return 0;
}

/*
 * Has the socket ended while its row was being made? The ender marks first
 * (a TCP socket is in TCP_CLOSE before it is destroyed; sock_release notes a
 * non-TCP socket's cookie in na_gone), then looks for the row; we inserted
 * the row, then look at the mark. With a full barrier on both sides one of
 * us sees the other. If it has, the row goes again, unless the ender took it.
 * Returns 1 when the row is gone.
 */
static __noinline int row_ended_meanwhile(struct __sk_buff *skb, __u64 cookie)
{
	struct gone_scan g = { .cookie = cookie };
	struct bpf_sock *sk = skb->sk;
	struct na_row *mine;

	if (!sk || !(sk = bpf_sk_fullsock(sk)))
		return 0;
	full_barrier();
	if (sk->protocol == IPPROTO_TCP)
		g.found = sk->state == NA_TCP_CLOSE;
	else
		bpf_loop(nr_cpus, gone_scan_cpu, &g, 0);
	if (!g.found)
		return 0;
	mine = bpf_map_lookup_elem(&na_socks, &cookie);
	if (mine && mine->cookie == cookie &&
	    !(__sync_fetch_and_or(&mine->flags, NA_ROW_ENDED) & NA_ROW_ENDED))
		bpf_map_delete_elem(&na_socks, &cookie);
	return 1;
}

/* The row of the listener a connection on this local port was accepted from. */
static __always_inline struct na_row *listener_of(struct __sk_buff *skb, __u16 lport)
{
	struct na_listen_key k = { .netns = bpf_get_netns_cookie(skb), .port = lport };
	struct na_row *l;
	__u64 *lc;

	lc = bpf_map_lookup_elem(&na_listen, &k);
	if (!lc)
		return NULL;
	l = bpf_map_lookup_elem(&na_socks, lc);
	return l && l->cookie == *lc && (l->flags & NA_ROW_LISTENER) ? l : NULL;
}

/*
 * A new row for a socket seen first at a packet: a connection accepted from a
 * listener (its owner is the listener's), or a socket from before attach
 * (user space finds its owner). Not inlined, like every path that runs once
 * per socket: the per-packet path stays a short run of code, which matters
 * because each packet mostly finds it out of the CPU's caches
 * (docs/performance.md).
 */
static __noinline enum row_create sock_row_create(struct __sk_buff *skb, __u64 cookie, int dir,
						       const struct na_pkt *p)
{
	struct bpf_sock *sk = skb->sk;
	struct na_row s = {}, *l;
	int err;

	if (!sk)
		return ROW_NONE;
	sk = bpf_sk_fullsock(sk);
	if (!sk)
		return ROW_NONE;
	/* A TCP socket in CLOSE sends only its last RST: no row begins there. */
	if (sk->protocol == IPPROTO_TCP && sk->state == NA_TCP_CLOSE)
		return ROW_NONE;

	s.cookie = cookie;
	s.cgroup_id = bpf_skb_cgroup_id(skb);
	s.acct_token = self_token;
	s.first_ns = bpf_ktime_get_boot_ns();
	s.uid = (__u32)-1;
	s.family = p->family;
	s.proto = p->proto;
	na_pkt_endpoints(skb, p, dir, sk->dst_port != 0, &s);
	if (sk->protocol == IPPROTO_UDP && !sk->dst_port && !p->bad)
		s.flags |= NA_ROW_UNCONN;
	if (sk->protocol == IPPROTO_TCP) {
		s.state = sk->state;
		if (sk->state != NA_TCP_LISTEN && (l = listener_of(skb, s.lport))) {
			s.flags |= NA_ROW_ACCEPTED;
			if (l->owner_src != NA_OWN_NONE && l->owner_src != NA_OWN_UNKNOWN) {
				s.pid = l->pid;
				s.uid = l->uid;
				__builtin_memcpy(s.comm, l->comm, NA_COMM_LEN);
				s.owner_src = NA_OWN_LISTENER;
			}
		}
	}

	err = bpf_map_update_elem(&na_socks, &cookie, &s, BPF_NOEXIST);
	if (err)
		return err == -NA_EEXIST ? ROW_RACED : ROW_FULL;
	return ROW_MADE;
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
 * The first packet of a row made at socket() or connect(): where the socket
 * is, and since when. Its cgroup is the skb's (a socket made by one cgroup's
 * process and used by another's is charged where the kernel charges it).
 */
static __noinline void row_fill(struct __sk_buff *skb, struct na_row *s, int dir, const struct na_pkt *p)
{
	struct bpf_sock *sk = skb->sk;
	int connected = 0;

	if (sk && (sk = bpf_sk_fullsock(sk)))
		connected = sk->dst_port != 0;
	s->cgroup_id = bpf_skb_cgroup_id(skb);
	s->first_ns = bpf_ktime_get_boot_ns();
	if (p->bad)
		return;
	s->family = p->family;
	s->proto = p->proto;
	na_pkt_endpoints(skb, p, dir, connected, s);
	if (sk && sk->protocol == IPPROTO_UDP && !connected)
		__sync_fetch_and_or(&s->flags, NA_ROW_UNCONN);
}

/*
 * Where this direction's stream was when the row first saw it: a SYN starts
 * it; otherwise TCP's own next sequence number (snd_nxt on egress, where a new
 * segment has not moved it yet; rcv_nxt on ingress, read before TCP takes the
 * segment), so that a segment lost before the hook and sent again later counts
 * as new, and one sent before the row began counts as resent.
 */
static __noinline void seq_start(struct __sk_buff *skb, struct na_row *s, int dir, const struct na_pkt *p)
{
	struct na_row_dir *rd = NA_ROW_DIR(s, dir);
	struct bpf_tcp_sock *tp;
	struct bpf_sock *sk;
	__u32 start = p->seq;

	if (!(p->tcp_flags & NA_TCP_SYN) && (sk = skb->sk) && (sk = bpf_sk_fullsock(sk)) &&
	    (tp = bpf_tcp_sock(sk))) {
		/* Both read: the verifier takes no computed offset into the socket. */
		__u32 snd_nxt = *(volatile __u32 *)&tp->snd_nxt, rcv_nxt = *(volatile __u32 *)&tp->rcv_nxt;

		start = dir == NA_TX ? snd_nxt : rcv_nxt;
	}
	rd->hi_seq = start;
	__sync_fetch_and_or(&s->flags, dir == NA_TX ? NA_ROW_TX_SEQ : NA_ROW_RX_SEQ);
}

/*
 * How much of this segment's payload passed the hook before: its payload
 * less how far it moved the stream's highest sequence end (SYN and FIN take
 * a sequence number each and are no payload). A segment that jumps a hole
 * moves the end by more than its payload (a negative figure); the segment
 * that fills the hole later moves nothing, and the two cancel: the sum is
 * exact whenever no hole is open. Holes come from segments lost before the
 * hook (sent again later) and from segments of one socket passing the hook
 * out of order on two CPUs. Serial numbers wrap: signed differences.
 */
static __always_inline __s32 track_seq(struct __sk_buff *skb, struct na_row *s, struct na_row_dir *rd,
				       int dir, const struct na_pkt *p)
{
	__u32 bit = dir == NA_TX ? NA_ROW_TX_SEQ : NA_ROW_RX_SEQ;
	__u32 syn = !!(p->tcp_flags & NA_TCP_SYN), fin = p->tcp_flags & NA_TCP_FIN;
	__u32 len = (__u32)p->payload_bytes, end, hi, prev;
	__s32 ahead, resent = (__s32)len;
	int i;

	if (!(s->flags & bit))
		seq_start(skb, s, dir, p);
	end = p->seq + syn + len + fin;
	hi = rd->hi_seq;
	/*
	 * A segment that takes no sequence number (an ACK, an RST) moves
	 * nothing: its number is where its sender's stream ends, which may lie
	 * past a hole that a FIN is lost in. Moving the end over that FIN here
	 * would leave the FIN's number to no segment, and the stream one byte
	 * short of its figure when the FIN comes again.
	 */
	if (end == p->seq) {
		resent = 0;
		goto out;
	}
	for (i = 0; i < 4; i++) {
		ahead = (__s32)(end - hi);
		if (ahead <= 0)
			break;
		prev = __sync_val_compare_and_swap(&rd->hi_seq, hi, end);
		if (prev == hi) {
			resent = (__s32)len - (ahead - (__s32)fin - (__s32)(syn && (__s32)(p->seq - hi) >= 0));
			break;
		}
		hi = prev;
	}
	if (resent)
		__sync_fetch_and_add(&rd->c.resent_bytes, (__u64)(__s64)resent);
out:
	rd->last_seq = p->seq;
	rd->last_len = len;
	rd->last_resent = resent;
	return resent;
}

/* A listener's row, found by the connections it accepts (na_listen). */
static __noinline void listen_register(struct __sk_buff *skb, struct na_row *s, __u64 cookie)
{
	struct na_listen_key k = { .netns = bpf_get_netns_cookie(skb), .port = s->lport };

	if (!k.port || bpf_map_update_elem(&na_listen, &k, &cookie, BPF_ANY))
		return;
	__sync_fetch_and_or(&s->flags, NA_ROW_LISTENER);
}

/*
 * The row follows its socket's TCP state, read from the socket where it
 * changes: on an outgoing SYN, FIN or RST (TCP changes the state before it
 * sends them), and on every outgoing packet while the state is not
 * ESTABLISHED. An incoming FIN or RST changes it only after the hook: the row
 * says 0 ("changing") until the next outgoing packet reads it. An incoming SYN
 * without ACK comes to a listener, which registers (na_listen).
 */
static __noinline void row_state(struct __sk_buff *skb, struct na_row *s, __u64 cookie)
{
	struct bpf_sock *sk = skb->sk;
	__u8 st;

	if (!sk || !(sk = bpf_sk_fullsock(sk)) || sk->protocol != IPPROTO_TCP)
		return;
	st = sk->state;
	if (st == NA_TCP_LISTEN && !(s->flags & NA_ROW_LISTENER))
		listen_register(skb, s, cookie);
	if (s->state != st)
		s->state = st;
}

static __always_inline void follow_state(struct __sk_buff *skb, struct na_row *s, __u64 cookie, int dir,
					 const struct na_pkt *p)
{
	__u8 fl = p->tcp_flags;

	if (dir == NA_TX) {
		if ((fl & (NA_TCP_SYN | NA_TCP_FIN | NA_TCP_RST)) || s->state != NA_TCP_ESTABLISHED)
			row_state(skb, s, cookie);
	} else if ((fl & (NA_TCP_SYN | NA_TCP_ACK)) == NA_TCP_SYN) {
		row_state(skb, s, cookie);
	} else if ((fl & (NA_TCP_FIN | NA_TCP_RST)) && s->state && s->state != NA_TCP_LISTEN) {
		s->state = 0;
	}
}

/*
 * A packet a process sends on a socket it holds: that process uses the
 * socket, so it owns it (the worker that accepted a connection from its
 * master's listener, the process a socket was handed to, the child that
 * went on with it). A TCP socket is held (sk_lock.owned) only by a process
 * in its own context, sending or reading (the ACKs a read sends), never by
 * a softirq or a timer, which defer to it; UDP sends only from sendmsg().
 * A listener keeps its maker: its SYN-ACKs may leave from whichever
 * process is in accept() at the time.
 */
static __noinline void owner_from_user(struct __sk_buff *skb, struct na_row *s)
{
	struct bpf_sock *sk = skb->sk;
	struct sock *ksk;
	__u32 pid;

	if (!sk || !(sk = bpf_sk_fullsock(sk)))
		return;
	if (sk->protocol == IPPROTO_TCP) {
		ksk = (struct sock *)bpf_skc_to_tcp_sock(sk);
		if (!ksk || !ksk->sk_lock.owned || sk->state == NA_TCP_LISTEN)
			return;
	} else if (sk->protocol != IPPROTO_UDP) {
		return;
	}
	__sync_fetch_and_or(&s->flags, NA_ROW_USED);
	pid = bpf_get_current_pid_tgid() >> 32;
	if (pid && pid != s->pid)
		owner_from_current(s, NA_OWN_USER);
}

/* The socket's smoothed RTT, from an ingress packet (the ACKs come in). */
static __noinline void sample_srtt(struct __sk_buff *skb, struct na_row_dir *rx)
{
	struct bpf_tcp_sock *tp;
	struct bpf_sock *sk;

	if ((sk = skb->sk) && (sk = bpf_sk_fullsock(sk)) && (tp = bpf_tcp_sock(sk)))
		rx->srtt_us = tp->srtt_us >> 3;
}

/* Count the packet on its row; returns the TCP payload it sent or received again. */
static __always_inline __s32 row_add(struct __sk_buff *skb, struct na_row *s, __u64 cookie, int dir,
				     const struct na_pkt *p)
{
	struct na_row_dir *rd = NA_ROW_DIR(s, dir);
	__s32 resent;
	__u64 before;

	/* No clock read here: it was a quarter of the per-packet cost (docs/performance.md). */
	before = __sync_fetch_and_add(&rd->c.packets, p->segs);
	__sync_fetch_and_add(&rd->c.ip_hdr_bytes, p->ip_hdr_bytes);
	__sync_fetch_and_add(&rd->c.l4_hdr_bytes, p->l4_hdr_bytes);
	__sync_fetch_and_add(&rd->c.payload_bytes, p->payload_bytes);
	if ((s->flags & NA_ROW_FRESH) && (__sync_fetch_and_and(&s->flags, ~NA_ROW_FRESH) & NA_ROW_FRESH))
		row_fill(skb, s, dir, p);
	/*
	 * Who uses the socket: looked at on its packets out until one comes from
	 * a process in its own context (NA_ROW_USED), and again after every 16
	 * packets out (a hand-over, a fork), so that it costs a packet next to
	 * nothing. Packets from a softirq (ACKs) do not count as a look.
	 */
	if (dir == NA_TX) {
		if ((before >> 4) != ((before + p->segs) >> 4) && (s->flags & NA_ROW_USED))
			__sync_fetch_and_and(&s->flags, ~NA_ROW_USED);
		if (!(s->flags & NA_ROW_USED))
			owner_from_user(skb, s);
	}
	if (p->proto != NA_P_TCP || !p->has_ports)
		return 0;
	resent = track_seq(skb, s, rd, dir, p);
	follow_state(skb, s, cookie, dir, p);
	/*
	 * The RTT is sampled on ingress packets until TCP has a first estimate,
	 * then on every 64th: reading it costs two helper calls and the socket's
	 * cache lines, and it moves slowly.
	 */
	if (dir == NA_RX && (!rd->srtt_us || !(before & 63)))
		sample_srtt(skb, rd);
	return resent;
}

static __always_inline int addr_eq(const __u8 *a, const __u8 *b)
{
	return *(const __u64 *)a == *(const __u64 *)b && *(const __u64 *)(a + 8) == *(const __u64 *)(b + 8);
}

static __always_inline void peer_overflow(__u64 n)
{
	struct na_stats *st = stats();

	if (st)
		__sync_fetch_and_add(&st->peer_overflow, n);
}

/*
 * An unconnected UDP socket's second peer: from here on each peer has a row.
 * The first one's gets what the socket counted before this packet.
 */
static __noinline void peer_first(struct na_row *s, __u64 cookie, int dir, const struct na_pkt *p)
{
	struct na_peer_key k = { .cookie = cookie, .family = s->family, .port = s->rport };
	struct na_peer init = {};

	__builtin_memcpy(k.addr, s->raddr, 16);
	init.tx = s->tx.c;
	init.rx = s->rx.c;
	init.first_ns = s->first_ns;
	counters_sub_pkt(dir == NA_TX ? &init.tx : &init.rx, p);
	if (bpf_map_update_elem(&na_peers, &k, &init, BPF_NOEXIST) == -NA_E2BIG)
		peer_overflow(init.tx.packets + init.rx.packets);
}

/* A new peer's row; NULL when na_peers is full. */
static __noinline struct na_peer *peer_new(const struct na_peer_key *k)
{
	struct na_peer init = {};
	int err;

	init.first_ns = bpf_ktime_get_boot_ns();
	err = bpf_map_update_elem(&na_peers, k, &init, BPF_NOEXIST);
	return !err || err == -NA_EEXIST ? bpf_map_lookup_elem(&na_peers, k) : NULL;
}

/*
 * Per-peer work, on unconnected UDP sockets only: their first peer is their
 * peer (raddr, rport); from a second one on (NA_ROW_MULTI) the row shows
 * none and each peer gets a row in na_peers (struct na_peer_key says which
 * port is kept).
 */
static __noinline void peer_track(struct __sk_buff *skb, struct na_row *s, __u64 cookie, int dir,
				  const struct na_pkt *p)
{
	struct na_peer_key k = { .cookie = cookie, .family = p->family };
	struct na_peer *pr;
	__u16 pport;

	if (na_pkt_peer(skb, p, dir, k.addr, &pport))
		return;
	k.port = pport < NA_PEER_PORT_KEPT ? pport : 0;
	if (!(s->flags & NA_ROW_MULTI)) {
		if (!(s->flags & NA_ROW_PEER1)) {
			if (!(__sync_fetch_and_or(&s->flags, NA_ROW_PEER1) & NA_ROW_PEER1)) {
				__builtin_memcpy(s->raddr, k.addr, 16);
				s->rport = k.port;
			}
			return;
		}
		if (addr_eq(s->raddr, k.addr) && s->rport == k.port)
			return;
		if (!(__sync_fetch_and_or(&s->flags, NA_ROW_MULTI) & NA_ROW_MULTI))
			peer_first(s, cookie, dir, p);
	}
	pr = bpf_map_lookup_elem(&na_peers, &k);
	if (!pr)
		pr = peer_new(&k);
	if (!pr) {
		peer_overflow(p->segs);
		return;
	}
	counters_add(dir == NA_TX ? &pr->tx : &pr->rx, p);
}

#define DNS_MASK (NA_DNS_MSG_MAX - 1)

/*
 * The offset after the name at off in the answer (a pointer ends it), or -1.
 * A global function: the verifier checks it once, with off unknown, rather
 * than once per record of the loop that calls it.
 */
__noinline int na_dns_skip_name(struct dns_scratch *sc, __u32 off, __u32 end)
{
	__u32 c;
	int i;

	if (!sc)
		return -1;
	for (i = 0; i < 128; i++) {
		if (off >= end)
			return -1;
		c = sc->msg[off & DNS_MASK];
		if (!c)
			return off + 1;
		if ((c & 0xC0) == 0xC0)
			return off + 2 <= end ? (int)(off + 2) : -1;
		if (c & 0xC0)
			return -1;
		off += c + 1;
	}
	return -1;
}

static __always_inline __u32 dns_u16(const __u8 *msg, __u32 off)
{
	return (__u32)msg[off & DNS_MASK] << 8 | msg[(off + 1) & DNS_MASK];
}

struct dns_walk {
	struct dns_scratch *sc;
	__u32 off, end;
	__u32 ttl;  /* the least TTL of the records so far: a CNAME's counts for the addresses after it */
	__u64 now;
};

/* One record of the answer section: an address gets the question's name. */
static long dns_answer(__u32 i, void *ctx)
{
	struct dns_walk *w = ctx;
	struct dns_scratch *sc = w->sc;
	__u32 type, cls, ttl, rdlen, rd, j;
	int off = na_dns_skip_name(sc, w->off, w->end);

	if (off < 0 || (__u32)off + 10 > w->end)
		return 1;
	type = dns_u16(sc->msg, off);
	cls = dns_u16(sc->msg, off + 2);
	ttl = dns_u16(sc->msg, off + 4) << 16 | dns_u16(sc->msg, off + 6);
	rdlen = dns_u16(sc->msg, off + 8);
	rd = off + 10;
	if (rd + rdlen > w->end)
		return 1;
	w->off = rd + rdlen;
	if (cls != 1) /* IN */
		return 0;
	if (ttl < w->ttl)
		w->ttl = ttl;
	if (!((type == 1 && rdlen == 4) || (type == 28 && rdlen == 16)))
		return 0; /* a CNAME on the way, or a record of another type */
	__builtin_memset(sc->key.addr, 0, sizeof(sc->key.addr));
	sc->key.family = type == 1 ? NA_F_IPV4 : NA_F_IPV6;
	for (j = 0; j < 16 && j < rdlen; j++)
		sc->key.addr[j] = sc->msg[(rd + j) & DNS_MASK];
	sc->val.learnt_ns = w->now;
	sc->val.expires_ns = w->now + (__u64)w->ttl * 1000000000ULL;
	bpf_map_update_elem(&na_dns, &sc->key, &sc->val, BPF_ANY);
	return 0;
}

/*
 * A packet from port 53 to a socket of the cgroup: when it holds a DNS
 * answer (a response without error, one question), each of its A and AAAA
 * records names its address for the cgroup. Only such packets run this.
 */
static __noinline void dns_learn(struct __sk_buff *skb, const struct na_pkt *p, __u64 cgroup_id)
{
	struct dns_walk w = { .ttl = 0xFFFFFFFF };
	__u32 zero = 0, len = skb->len, off, n, qlen;
	__u8 h[13];
	int qend;

	if (!p->has_ports || p->bad || na_load(skb, p->l4_off, h, sizeof(h)) ||
	    (__u32)(h[0] << 8 | h[1]) != NA_DNS_PORT)
		return;
	if (p->proto == NA_P_UDP) {
		off = p->l4_off + 8;
	} else {
		/* TCP: a message starts the segment, after its 2-byte length. */
		__u8 ml[2];

		off = p->l4_off + (h[12] >> 4) * 4;
		if (bpf_skb_load_bytes(skb, off, ml, sizeof(ml)))
			return;
		off += 2;
		if (off + ((__u32)ml[0] << 8 | ml[1]) < len)
			len = off + ((__u32)ml[0] << 8 | ml[1]);
	}
	if (off + 12 > len)
		return;
	n = len - off;
	if (n < 12)
		return; /* cannot be: for the verifier */
	if (n > NA_DNS_MSG_MAX)
		n = NA_DNS_MSG_MAX;
	/*
	 * The message is payload, which lies in page fragments beyond the
	 * linear area that bpf_skb_load_bytes_relative() reads; offset 0 of
	 * bpf_skb_load_bytes() is the IP header here too (docs/kernel.md).
	 */
	w.sc = bpf_map_lookup_elem(&na_dns_scratch, &zero);
	if (!w.sc || bpf_skb_load_bytes(skb, off, w.sc->msg, n))
		return;
	/* QR set, opcode QUERY, no error; one question; answers. */
	if ((w.sc->msg[2] & 0xF8) != 0x80 || (w.sc->msg[3] & 0x0F) || dns_u16(w.sc->msg, 4) != 1 ||
	    !dns_u16(w.sc->msg, 6))
		return;
	qend = na_dns_skip_name(w.sc, 12, n);
	/* The question's name is whole, never a pointer: 12 + 255 at most. */
	if (qend < 14 || qend > 12 + NA_DNS_NAME_MAX - 1 || (w.sc->msg[(qend - 1) & DNS_MASK]))
		return;
	qlen = qend - 12;
	if (qlen > NA_DNS_NAME_MAX || bpf_skb_load_bytes(skb, off + 12, w.sc->val.name, qlen))
		return;
	w.sc->val.len = qlen;
	w.sc->key.cgroup_id = cgroup_id;
	w.off = qend + 4;
	w.end = n;
	w.now = bpf_ktime_get_boot_ns();
	n = dns_u16(w.sc->msg, 6);
	bpf_loop(n < NA_DNS_MAX_ANSWERS ? n : NA_DNS_MAX_ANSWERS, dns_answer, &w, 0);
}

/*
 * A row another copy counts (nested attachments): the resent bytes that copy
 * found in this segment, for this copy's totals. Its last_* describe the last
 * segment it counted; another segment of the socket counted meanwhile on
 * another CPU makes them disagree, and then nothing is added.
 */
static __always_inline __s32 resent_of_owner(struct na_row *s, int dir, const struct na_pkt *p)
{
	struct na_row_dir *rd = NA_ROW_DIR(s, dir);

	if (p->proto != NA_P_TCP || !p->has_ports)
		return 0;
	return rd->last_seq == p->seq && rd->last_len == (__u32)p->payload_bytes ? rd->last_resent : 0;
}

static __always_inline int account(struct __sk_buff *skb, int dir)
{
	int live = token_alive(self_token);
	struct na_pkt p;
	struct na_totals *t;
	struct na_row *s;
	__u32 zero = 0;
	__u64 cookie;
	__s32 resent;

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
		case ROW_MADE:
			if (row_ended_meanwhile(skb, cookie))
				goto norow;
			break;
		case ROW_RACED:
			break;
		case ROW_NONE:
			goto norow;
		case ROW_FULL:
			__sync_fetch_and_add(&t->overflow_packets, p.segs);
			__sync_fetch_and_add(&t->overflow_bytes,
					     p.ip_hdr_bytes + p.l4_hdr_bytes + p.payload_bytes);
			return 1;
		}
		s = bpf_map_lookup_elem(&na_socks, &cookie);
		if (!s)
			goto norow; /* deleted right after it was made: the socket ended */
	}
	/*
	 * A row freed and handed to another socket since the lookup is not ours;
	 * an ended row is folded (or being folded) and takes nothing more.
	 */
	if (s->cookie != cookie || (s->flags & NA_ROW_ENDED))
		goto norow;
	if (row_is_mine(skb, s, live)) {
		resent = row_add(skb, s, cookie, dir, &p);
		if (s->flags & NA_ROW_UNCONN)
			peer_track(skb, s, cookie, dir, &p);
		if (dir == NA_RX && s->rport == NA_DNS_PORT)
			dns_learn(skb, &p, s->cgroup_id);
	} else if (live)
		resent = resent_of_owner(s, dir, &p);
	else
		return 1;
	if (live && resent)
		__sync_fetch_and_add(&t->dir[dir].resent_bytes, (__u64)(__s64)resent);
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

/* What one closed row is folded from: a socket's counters, or one of its peers'. */
struct fold {
	const struct na_counters *dir[NA_NDIR];
	const __u8 *raddr;     /* NULL: none */
	__u16 rport;
	__u64 first_ns;
	__u64 conns;           /* 1 for a socket; 0 for its peers but the first */
};

static __always_inline void closed_add(struct na_closed *c, const struct fold *f, __u64 now)
{
	int d;

	if (f->conns)
		__sync_fetch_and_add(&c->conns, f->conns);
	for (d = 0; d < NA_NDIR; d++) {
		const struct na_counters *sc = f->dir[d];

		__sync_fetch_and_add(&c->dir[d].packets, sc->packets);
		__sync_fetch_and_add(&c->dir[d].ip_hdr_bytes, sc->ip_hdr_bytes);
		__sync_fetch_and_add(&c->dir[d].l4_hdr_bytes, sc->l4_hdr_bytes);
		__sync_fetch_and_add(&c->dir[d].payload_bytes, sc->payload_bytes);
		if (sc->resent_bytes)
			__sync_fetch_and_add(&c->dir[d].resent_bytes, sc->resent_bytes);
	}
	/* Times only order the rows; a lost race between two closes moves them by nanoseconds. */
	if (f->first_ns < c->first_ns)
		c->first_ns = f->first_ns;
	if (now > c->last_ns)
		c->last_ns = now;
}

/* Fold f into the closed row of socket s's owner and f's peer. */
static __noinline void closed_fold(const struct na_row *s, const struct fold *f, __u64 now)
{
	struct na_closed_key k = {};
	struct na_closed *c, init = {};
	struct na_stats *st;
	int err;

	k.cgroup_id = s->cgroup_id;
	k.pid = s->pid;
	__builtin_memcpy(k.comm, s->comm, NA_COMM_LEN);
	k.proto = s->proto;
	k.family = s->family;
	if (f->raddr)
		__builtin_memcpy(k.raddr, f->raddr, 16);
	/* A server's peers connect from ephemeral ports: fold them per peer address. */
	if (!(s->flags & NA_ROW_ACCEPTED))
		k.rport = f->rport;

	c = bpf_map_lookup_elem(&na_closed, &k);
	if (!c) {
		init.first_ns = f->first_ns;
		init.last_ns = now;
		init.uid = s->uid;
		if (s->flags & NA_ROW_ACCEPTED)
			init.flags = NA_CLOSED_SERVER;
		err = bpf_map_update_elem(&na_closed, &k, &init, BPF_NOEXIST);
		if (!err || err == -NA_EEXIST) /* EEXIST: another CPU made it */
			c = bpf_map_lookup_elem(&na_closed, &k);
		if (!c) {
			if ((st = stats()))
				__sync_fetch_and_add(&st->closed_evicted, 1);
			return;
		}
	}
	closed_add(c, f, now);
}

static __always_inline void counters_sub(struct na_counters *d, const struct na_counters *s)
{
	d->packets -= s->packets;
	d->ip_hdr_bytes -= s->ip_hdr_bytes;
	d->l4_hdr_bytes -= s->l4_hdr_bytes;
	d->payload_bytes -= s->payload_bytes;
	d->resent_bytes -= s->resent_bytes;
}

/* The peers of a socket that ends, found by socket_fold()'s walk (peer_end_one()). */
struct peers_end {
	__u64 cookie;
	const struct na_row *s;
	__u64 now;
	struct na_counters rest[NA_NDIR]; /* the socket's counters less its peers' */
	__u64 first;
};

static long peer_end_one(void *map, const void *key, void *value, void *ctx)
{
	const struct na_peer_key *k = key;
	struct na_peer *pr = value;
	struct peers_end *e = ctx;
	struct fold f = {};

	if (k->cookie != e->cookie)
		return 0;
	f.dir[NA_TX] = &pr->tx;
	f.dir[NA_RX] = &pr->rx;
	f.raddr = k->addr;
	f.rport = k->port;
	f.first_ns = pr->first_ns;
	f.conns = e->first; /* the socket counts once, on its first peer's row */
	e->first = 0;
	closed_fold(e->s, &f, e->now);
	counters_sub(&e->rest[NA_TX], &pr->tx);
	counters_sub(&e->rest[NA_RX], &pr->rx);
	bpf_map_delete_elem(map, key);
	return 0;
}

/*
 * A socket's closed rows: one by its peer; a socket that talked to many peers
 * (NA_ROW_MULTI) one by each of them, and what no peer row holds (what found
 * na_peers full, the first peer's too when its row found no room) on the row
 * without a peer.
 */
static __noinline void socket_fold(const struct na_row *s, __u64 cookie, __u64 now)
{
	struct peers_end e = { .cookie = cookie, .s = s, .now = now, .first = 1 };
	struct fold f = {};

	if (s->flags & NA_ROW_MULTI) {
		e.rest[NA_TX] = s->tx.c;
		e.rest[NA_RX] = s->rx.c;
		bpf_for_each_map_elem(&na_peers, peer_end_one, &e, 0);
		if (e.first || e.rest[NA_TX].packets || e.rest[NA_RX].packets) {
			f.dir[NA_TX] = &e.rest[NA_TX];
			f.dir[NA_RX] = &e.rest[NA_RX];
			f.first_ns = s->first_ns;
			f.conns = e.first;
			closed_fold(s, &f, now);
		}
		return;
	}
	f.dir[NA_TX] = &s->tx.c;
	f.dir[NA_RX] = &s->rx.c;
	/* An unconnected socket's one peer is its peer, as its live row shows it. */
	f.raddr = s->raddr;
	f.rport = s->rport;
	f.first_ns = s->first_ns;
	f.conns = 1;
	closed_fold(s, &f, now);
}

/*
 * One record per ended socket. The reader is woken only when what waits
 * crosses a sixteenth of the buffer (and each further sixteenth): a wake-up
 * costs an interrupt (on a VM, an exit) and a context switch, which per
 * connection would be a large part of its cost. Readers poll at least every
 * quarter of a second for the rest (docs/design.md).
 */
static __always_inline void log_conn(__u64 cookie, const struct na_row *s, __u64 now)
{
	struct na_conn *r = bpf_ringbuf_reserve(&na_log, sizeof(*r), 0);
	struct na_stats *st = stats();
	__u64 step, avail;

	if (!r) {
		if (st)
			__sync_fetch_and_add(&st->log_dropped, 1);
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
	if (na_row_shows_peer(s->flags)) {
		__builtin_memcpy(r->raddr, s->raddr, 16);
		r->rport = s->rport;
	} else {
		__builtin_memset(r->raddr, 0, 16);
		r->rport = 0;
	}
	r->lport = s->lport;
	r->family = s->family;
	r->proto = s->proto;
	r->owner_src = s->owner_src;
	r->flags = s->flags & NA_ROW_ACCEPTED;
	r->dir[NA_TX] = s->tx.c;
	r->dir[NA_RX] = s->rx.c;
	step = bpf_ringbuf_query(&na_log, BPF_RB_RING_SIZE) / NA_LOG_WAKE_DIV;
	avail = bpf_ringbuf_query(&na_log, BPF_RB_AVAIL_DATA); /* this record included */
	if (step && avail >= NA_LOG_REC_BYTES && avail / step != (avail - NA_LOG_REC_BYTES) / step)
		bpf_ringbuf_submit(r, BPF_RB_FORCE_WAKEUP);
	else
		bpf_ringbuf_submit(r, BPF_RB_NO_WAKEUP);
	if (st)
		__sync_fetch_and_add(&st->log_written, 1);
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

	if (!s || s->cookie != cookie || (__sync_fetch_and_or(&s->flags, NA_ROW_ENDED) & NA_ROW_ENDED))
		return;
	now = bpf_ktime_get_boot_ns();
	socket_fold(s, cookie, now);
	log_conn(cookie, s, now);
	bpf_map_delete_elem(&na_socks, &cookie);
}

/*
 * close(): non-TCP sockets send nothing after release, so their row ends
 * here, after the cookie is noted in this CPU's na_gone (a packet racing with
 * the close looks there before it makes a new row). TCP goes on sending
 * after release (FIN, unsent data): its row ends when the kernel destroys it.
 */
SEC("cgroup/sock_release")
int na_release(struct bpf_sock *sk)
{
	__u64 cookie;
	__u32 zero = 0;
	struct na_gone *g;

	if (sk->protocol == IPPROTO_TCP)
		return 1;
	cookie = bpf_get_socket_cookie(sk);
	g = bpf_map_lookup_elem(&na_gone, &zero);
	if (g) {
		g->cookie[g->next % NA_GONE_SLOTS] = cookie;
		__sync_fetch_and_add(&g->next, 1); /* also the barrier before the lookup */
	}
	row_end(cookie);
	return 1;
}

/*
 * A TCP socket's end, system-wide: the kernel destroys it once it is in
 * TCP_CLOSE and can send nothing more (a socket that goes to TIME_WAIT is
 * destroyed as its minisock takes over; an abortive close's RST comes before
 * this). A socket no program asked the cookie of has none, and no row: the
 * sockets of cgroups netacct does not count cost one load here.
 */
SEC("tp_btf/tcp_destroy_sock")
int na_tcp_destroy(__u64 *ctx)
{
	struct sock *sk = (struct sock *)ctx[0];
	__u64 cookie = sk->__sk_common.skc_cookie.counter;

	if (!cookie)
		return 0;
	full_barrier(); /* TCP_CLOSE was stored before: see ended_meanwhile() */
	row_end(cookie);
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
