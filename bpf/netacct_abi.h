/* SPDX-License-Identifier: (BSD-2-Clause OR GPL-2.0) */
/*
 * netacct kernel/user ABI: every struct, enum and constant that crosses the
 * boundary between bpf/netacct.bpf.c and user space. Fixed-width fields only,
 * explicit padding, sizes asserted. Bump NA_ABI_VERSION on any layout change:
 * pinned state of another version is refused (see docs/design.md).
 */
#ifndef NETACCT_ABI_H
#define NETACCT_ABI_H

#include <linux/types.h>

#define NA_ABI_VERSION 4

#define NA_COMM_LEN 16
#define NA_DEFAULT_MAX_SOCKETS 65536
#define NA_DEFAULT_MAX_CLOSED 16384
#define NA_DEFAULT_MAX_PEERS 16384
#define NA_DEFAULT_LOG_BYTES (4u << 20) /* ring buffer of connection records */
#define NA_MAX_ATTACHED 1024 /* slots in na_active; a power of two */
#define NA_MAX_LEVEL 63      /* deepest attachable cgroup level */

/*
 * An attachment's token: unique per attach (seq), with its cgroup level and
 * its slot in na_active. A row's acct_token names the attachment whose copy
 * of the programs counts it; 0 = no owner (handed over). docs/design.md.
 */
#define NA_TOKEN(seq, level, slot) (((__u64)(seq) << 16) | ((__u64)(level) << 10) | (__u64)(slot))
#define NA_TOKEN_SLOT(t) ((__u32)((t) & (NA_MAX_ATTACHED - 1)))
#define NA_TOKEN_LEVEL(t) ((__u32)(((t) >> 10) & NA_MAX_LEVEL))

enum na_dir {
	NA_TX = 0, /* cgroup_skb/egress */
	NA_RX = 1, /* cgroup_skb/ingress */
	NA_NDIR = 2,
};

/* Protocol classes, as exported (tcp, udp, icmp, icmpv6, other). */
enum na_proto {
	NA_P_OTHER = 0,
	NA_P_TCP = 1,
	NA_P_UDP = 2,
	NA_P_ICMP = 3,
	NA_P_ICMPV6 = 4,
};

enum na_family {
	NA_F_UNSPEC = 0,
	NA_F_IPV4 = 4,
	NA_F_IPV6 = 6,
};

/* One direction's counters; wire semantics in docs/accounting.md. */
struct na_counters {
	__u64 packets;       /* wire segments: sum of max(gso_segs, 1) */
	__u64 ip_hdr_bytes;  /* per-segment IP header (+ wire extension headers) x packets */
	__u64 l4_hdr_bytes;  /* per-segment TCP/UDP/ICMP header x packets */
	__u64 payload_bytes; /* skb->len minus one skb's headers */
	/*
	 * TCP payload that passed the hook before: tx retransmitted, rx
	 * duplicates. Added per packet as (payload - how far it moved the
	 * stream), which is negative for a segment that jumps a hole and is
	 * made good by the segment that fills it: read it as a signed sum and
	 * show 0 while it is below 0 (na_resent()). payload_bytes - resent_bytes
	 * is what the application wrote (tx) or TCP took in for it (rx).
	 */
	__u64 resent_bytes;
};

/* Where a row's owner (pid, uid, comm) came from. */
enum na_owner_src {
	NA_OWN_NONE = 0,
	NA_OWN_CREATE = 1,   /* cgroup/sock_create: the process that called socket() */
	NA_OWN_CONNECT = 2,  /* cgroup/connect4/6 */
	NA_OWN_SENDMSG = 3,  /* no longer set (ABI 3: cgroup/sendmsg4/6); kept so values stay */
	NA_OWN_LISTENER = 4, /* accepted connection: its listener's owner (na_listen) */
	NA_OWN_PROC = 5,     /* resolved in user space: sock_diag inode -> /proc/PID/fd */
	NA_OWN_UNKNOWN = 6,  /* user space looked and found no process */
	NA_OWN_USER = 7,     /* the process that sent on it in its own context (accepted it, was handed it) */
};

/* TCP states, the kernel's numbering (include/net/tcp_states.h). */
enum na_tcp_state {
	NA_TCP_ESTABLISHED = 1,
	NA_TCP_SYN_SENT = 2,
	NA_TCP_SYN_RECV = 3,
	NA_TCP_FIN_WAIT1 = 4,
	NA_TCP_FIN_WAIT2 = 5,
	NA_TCP_TIME_WAIT = 6,
	NA_TCP_CLOSE = 7,
	NA_TCP_CLOSE_WAIT = 8,
	NA_TCP_LAST_ACK = 9,
	NA_TCP_LISTEN = 10,
	NA_TCP_CLOSING = 11,
	NA_TCP_NEW_SYN_RECV = 12,
};

/* na_row.flags */
#define NA_ROW_TX_SEQ   (1U << 0) /* tx.hi_seq is set */
#define NA_ROW_RX_SEQ   (1U << 1) /* rx.hi_seq is set */
#define NA_ROW_ACCEPTED (1U << 2) /* server side of a connection (accepted from a listener) */
#define NA_ROW_ENDED    (1U << 3) /* folded into na_closed (or being): ends once, counts no more */
#define NA_ROW_FRESH    (1U << 4) /* made at socket()/connect(): endpoints and first_ns not yet set */
#define NA_ROW_LISTENER (1U << 5) /* a listener, registered in na_listen */
#define NA_ROW_USED     (1U << 6) /* a process sent on it in its own context: owner_from_user() ran */
#define NA_ROW_UNCONN   (1U << 7) /* unconnected UDP: raddr/rport hold its first peer, its peer until a second */
#define NA_ROW_MULTI    (1U << 8) /* ... and it talked to a second one: its peers have na_peers rows, it has none */
#define NA_ROW_PEER1    (1U << 9) /* ... its first peer is in raddr/rport */

/* Whether a row's raddr/rport are its peer: not once it has many (readers and the log show none). */
static inline int na_row_shows_peer(__u32 flags)
{
	return !(flags & NA_ROW_MULTI);
}

/*
 * One direction of a live row: everything a packet of that direction writes,
 * in one 64-byte block. last_* describe the last TCP segment the row's owner
 * counted, so that the copies of nested attachments above it can add the
 * same resent bytes to their totals without tracking the stream themselves.
 */
struct na_row_dir {
	struct na_counters c;
	__u32 hi_seq;     /* TCP: end of the highest sequence seen, SYN and FIN included */
	__u32 srtt_us;    /* rx: TCP smoothed RTT (bpf_tcp_sock), 0 = no sample; tx: 0 */
	__u32 last_seq;   /* TCP: sequence number of the last segment counted */
	__u32 last_len;   /* ... its payload */
	__s32 last_resent; /* ... what it added to c.resent_bytes */
	__u32 pad;
};

/*
 * na_socks value: one live socket, keyed by socket cookie (__u64).
 *
 * Laid out for the CPUs that share it: the two directions of a socket are
 * often handled on two CPUs (on loopback a packet's ingress runs on its
 * sender's CPU). The first 24 bytes are read on every packet and written
 * rarely; tx and rx are written on every packet of their direction. 64 bytes
 * or more lie between any two of the three, so whatever the row's alignment
 * in memory no cache line holds two of them (docs/performance.md).
 */
struct na_row {
	/* hot, read-mostly (flags, state: written on the rare packet that changes them) */
	__u64 cookie;     /* the key again: a row is checked before it is added to */
	__u64 acct_token; /* attachment whose copy of the programs counts this row */
	__u32 flags;      /* NA_ROW_* */
	__u8 family;      /* enum na_family */
	__u8 proto;       /* enum na_proto */
	__u8 state;       /* enum na_tcp_state; 0 for other protocols */
	__u8 owner_src;   /* enum na_owner_src */
	/* cold: written when the row is made, or when its owner is found */
	__u64 cgroup_id;  /* leaf cgroup of the socket */
	__u64 first_ns;   /* bpf_ktime_get_boot_ns() at the first packet */
	__u32 pid;        /* owner tgid, 0 = unknown */
	__u32 uid;        /* owner uid, (__u32)-1 = unknown */
	char comm[NA_COMM_LEN];
	__u8 laddr[16];   /* IPv4 in the first 4 bytes */
	__u8 raddr[16];   /* all zero: not connected to one peer */
	__u16 lport;      /* host byte order */
	__u16 rport;      /* host byte order, 0 = not connected */
	__u32 pad0;
	struct na_row_dir tx;
	__u8 pad1[64];
	struct na_row_dir rx;
};

/* A row's direction d (enum na_dir). */
#define NA_ROW_DIR(r, d) ((d) == NA_TX ? &(r)->tx : &(r)->rx)

/*
 * na_totals value (per-CPU array, one per attachment): everything the
 * attachment's programs saw since attach, whatever happened to socket rows.
 */
struct na_totals {
	struct na_counters dir[NA_NDIR]; /* resent_bytes: of the rows this copy counts or follows */
	__u64 overflow_packets; /* packets whose socket got no na_socks entry (map full) */
	__u64 overflow_bytes;
	__u64 parse_errors;     /* packets counted as 'other' because headers were bad */
	__u64 norow_packets;    /* packets counted without a socket row: no cookie, or the socket was already closed */
	__u64 norow_bytes;
};

/*
 * na_listen: the listeners of attached cgroups, by (network namespace, port),
 * so that a connection accepted from one finds its listener's row (owner,
 * server side) without per-socket storage. A second listener on the same
 * port (SO_REUSEPORT, another address) replaces the first.
 */
struct na_listen_key {
	__u64 netns;            /* bpf_get_netns_cookie() */
	__u16 port;             /* host byte order */
	__u8 pad[6];
};

/*
 * na_gone (per-CPU array, one entry): the cookies of the last non-TCP sockets
 * whose row sock_release ended on this CPU. A packet racing with close() on
 * another CPU may find no row and make one; it looks here first and undoes
 * it (docs/design.md, "Rows and the sockets' ends").
 */
#define NA_GONE_SLOTS 16
struct na_gone {
	__u64 next;             /* slot of the next cookie, modulo NA_GONE_SLOTS */
	__u64 cookie[NA_GONE_SLOTS];
};

/*
 * na_closed: sockets that can send nothing more, folded per (cgroup, owner,
 * proto, family, peer). A server's accepted connections fold without the
 * peer's ephemeral port (rport 0) so that a busy server stays bounded.
 */
struct na_closed_key {
	__u64 cgroup_id;
	__u32 pid;
	char comm[NA_COMM_LEN];
	__u8 proto;
	__u8 family;
	__u16 rport;
	__u8 raddr[16];
};

#define NA_CLOSED_SERVER (1U << 0) /* accepted connections */
struct na_closed {
	__u64 conns;
	__u64 first_ns;         /* earliest first packet of the folded sockets */
	__u64 last_ns;          /* latest close */
	__u32 uid;
	__u32 flags;            /* NA_CLOSED_* */
	struct na_counters dir[NA_NDIR];
};

/* Ring buffer record (na_log): one per socket that can send nothing more. */
struct na_conn {
	__u64 cookie;
	__u64 cgroup_id;
	__u64 start_ns;         /* first packet (boot ns) */
	__u64 end_ns;           /* the socket's end (boot ns) */
	__u32 pid;
	__u32 uid;
	char comm[NA_COMM_LEN];
	__u8 laddr[16];
	__u8 raddr[16];
	__u16 lport;
	__u16 rport;
	__u8 family;
	__u8 proto;
	__u8 owner_src;
	__u8 flags;             /* NA_ROW_ACCEPTED */
	struct na_counters dir[NA_NDIR];
};

/* na_stats (array, one entry): shared counters that belong to no attachment. */
struct na_stats {
	__u64 closed_evicted;   /* closed sockets not folded: na_closed full (bytes stay in totals) */
	__u64 log_dropped;      /* connection records lost: ring buffer full */
	__u64 log_written;
	__u64 peer_overflow;    /* packets of a many-peer UDP socket on its row only: na_peers full */
};

/*
 * na_peers: the peers of an unconnected UDP socket that talks to more than
 * one (a DNS, syslog, statsd, QUIC or game server), a row each. The peer's
 * port is kept when it is a well-known one (below NA_PEER_PORT_KEPT: a DNS
 * or NTP server's, seen from its client); a server's clients come from
 * ever-changing ephemeral ports and are one row per address. The socket's
 * row still counts everything.
 */
#define NA_PEER_PORT_KEPT 1024
struct na_peer_key {
	__u64 cookie;           /* the socket */
	__u8 addr[16];          /* IPv4 in the first 4 bytes */
	__u16 port;             /* host byte order, 0 = any */
	__u8 family;            /* enum na_family */
	__u8 pad[5];
};

struct na_peer {
	struct na_counters tx;  /* what the socket sent to the peer */
	__u64 first_ns;         /* first packet (boot ns) */
	__u8 pad[56];           /* tx and rx on cache lines of their own, as in na_row */
	struct na_counters rx;  /* what it received from the peer */
};

/*
 * na_dns: the names a cgroup's applications looked up, learnt from the DNS
 * answers its sockets received from port 53 (UDP, and TCP messages that
 * start a segment). Every A/AAAA address of an answer gets the name that
 * was asked (the question's, so a CNAME chain ends in the name the
 * application used). Least recently used names go first.
 */
#define NA_DNS_PORT 53
#define NA_DNS_MAX_NAMES 16384
#define NA_DNS_NAME_MAX 256      /* the wire form's limit is 255 */
#define NA_DNS_MSG_MAX 1024      /* what is read of an answer; records beyond it are not seen */
#define NA_DNS_MAX_ANSWERS 32
struct na_dns_key {
	__u64 cgroup_id;        /* the cgroup of the socket that received the answer */
	__u8 addr[16];          /* IPv4 in the first 4 bytes */
	__u8 family;            /* enum na_family */
	__u8 pad[7];
};

struct na_dns_name {
	__u64 learnt_ns;        /* boot ns of the answer */
	__u64 expires_ns;       /* learnt_ns + the least TTL of the records on the way */
	__u16 len;              /* of name, NA_DNS_NAME_MAX at most */
	__u8 pad[6];
	__u8 name[NA_DNS_NAME_MAX]; /* wire form: length-prefixed labels, 0 at the end */
};

/* The ring buffer wakes its reader when this much is waiting (docs/design.md). */
#define NA_LOG_WAKE_DIV 16 /* 1/16 of the buffer */

/* ctx of the na_set_owner syscall program: an owner resolved in user space. */
struct na_set_owner_args {
	__u64 cookie;
	__u32 pid;
	__u32 uid;
	char comm[NA_COMM_LEN];
	__u32 src;              /* NA_OWN_PROC or NA_OWN_UNKNOWN */
	__s32 result;           /* 0, or -ENOENT: no such row */
};

/* na_attached value, keyed by attached cgroup id (__u64). */
#define NA_PATH_MAX 512
struct na_attach {
	__u64 cgroup_id;
	__u64 token;            /* NA_TOKEN(); live while na_active[slot] == token */
	__u64 attach_ns;        /* CLOCK_BOOTTIME at attach */
	__u64 attach_realtime;  /* CLOCK_REALTIME seconds at attach */
	char path[NA_PATH_MAX]; /* relative to the cgroup2 root, as /proc/PID/cgroup shows */
};

/* na_cgpath value, keyed by cgroup id: the last path a cgroup had (LRU). */
#define NA_CGPATH_LEN 256
#define NA_MAX_CGPATHS 8192
struct na_cgpath {
	char path[NA_CGPATH_LEN]; /* as /proc/PID/cgroup shows it, "" if longer */
};

/* na_meta value (array, one entry): what created the pinned state. */
struct na_meta {
	__u32 abi_version;
	__u32 max_sockets;
	__u64 created_realtime;
	__u64 next_seq;         /* for NA_TOKEN() */
	__u32 max_closed;
	__u32 log_bytes;
	__u32 max_peers;
	__u32 pad;
};

/* ctx of the na_sweep syscall program: release every row owned by token. */
struct na_sweep_args {
	__u64 token;
	__u64 released;
};

/*
 * netacct trace (bpf/trace.bpf.c): what to show, set in rodata at load, and
 * one event per packet shown. Not part of the pinned state.
 */
struct na_trace_cfg {
	__u32 pid;      /* owner pid, 0 = any */
	__u32 rate;     /* events per second per CPU, 0 = no limit */
	__u16 port;     /* either port, host order, 0 = any */
	__u8 proto;     /* enum na_proto + 1, 0 = any */
	__u8 dir;       /* 1 = egress (tx), 2 = ingress (rx), 0 = both */
};

#define NA_TRACE_BAD 1 /* headers could not be parsed */
struct na_trace_ev {
	__u64 ts_ns;        /* bpf_ktime_get_boot_ns() */
	__u64 cgroup_id;
	__u64 cookie;
	__u32 pid;          /* socket owner (na_sk_owner), 0 = unknown */
	__u32 len;          /* skb->len */
	char comm[NA_COMM_LEN];
	__u8 saddr[16];     /* as in the packet: IPv4 in the first 4 bytes */
	__u8 daddr[16];
	__u16 sport;        /* host order */
	__u16 dport;
	__u16 ip_hdr_len;   /* one segment's IP header (+ extension headers) */
	__u16 l4_hdr_len;   /* one segment's TCP/UDP/ICMP header */
	__u32 payload;      /* this skb's payload */
	__u16 segs;         /* max(gso_segs, 1) */
	__u8 dir;           /* enum na_dir */
	__u8 family;        /* enum na_family */
	__u8 proto;         /* enum na_proto */
	__u8 tcp_flags;     /* FIN 0x01, SYN 0x02, RST 0x04, PSH 0x08, ACK 0x10, URG 0x20 */
	__u8 flags;         /* NA_TRACE_BAD */
	__u8 pad[5];
};

/* Counters of one trace session (a per-CPU array entry). */
struct na_trace_stats {
	__u64 seen;         /* packets that passed the filters */
	__u64 shown;
	__u64 dropped_rate; /* over the rate limit */
	__u64 dropped_full; /* the ring buffer was full */
	__u64 window_ns;    /* rate limit: start of the current second */
	__u64 window_n;
};

/*
 * What a reader's own program (bpf/netacct_read.bpf.c) hands to user space:
 * its copy of the live rows. Not pinned state: each reading process loads
 * the program and makes the buffers, so these layouts change with the
 * netacct binary alone, never with NA_ABI_VERSION.
 */
/*
 * One live row (struct na_row, as readers see it): its cookie, 8 bytes the
 * program never writes, and what user space calls struct na_sock
 * (agent/reader.c asserts that the two agree field by field). A buffer of
 * these is the rows array of a snapshot as it is (struct na_sock_row): user
 * space keeps its pointer to the row's cgroup path in `user`.
 */
struct na_rd_row {
	__u64 cookie;
	__u64 user;
	__u64 cgroup_id;
	__u8 family;
	__u8 proto;
	__u8 state;
	__u8 owner_src;
	__u32 flags;
	__u64 first_ns;
	__u32 pid;
	__u32 uid;
	struct na_counters dir[NA_NDIR]; /* resent_bytes 0 while below 0 (na_resent()) */
	__u32 srtt_us;
	__u16 lport;
	__u16 rport;
	char comm[NA_COMM_LEN];
	__u8 laddr[16];
	__u8 raddr[16];
};

/* The reader has two buffers: top keeps the rows of two snapshots. */
#define NA_RD_BUFS 2

/*
 * top's compact read by socket (na_read_socks into na_rd_figs): what top weighs every row by,
 * not what it shows of the few rows on screen (those it looks up by cookie).
 * One slot holds this walk's row and, in then_*, what the walk before left
 * in the slot, copied by the walk itself: top keeps no second snapshot of
 * its rows, and rates come from the two. Header bytes are one figure (IP
 * and transport together): top shows their share, not the split.
 */
struct na_rd_fig_dir {
	__u64 packets;
	__u64 hdr_bytes;     /* ip_hdr_bytes + l4_hdr_bytes */
	__u64 payload_bytes;
	__u64 resent_bytes;  /* 0 while below 0 (na_resent()) */
};

struct na_rd_fig {
	__u64 cookie;
	__u64 first_ns;
	__u64 cgroup_id;
	__u32 pid;
	__u8 family;
	__u8 proto;
	__u8 state;
	__u8 owner_src;
	struct na_rd_fig_dir dir[NA_NDIR];
	/* the slot's row of the walk before: cookie and first_ns say which */
	__u64 then_cookie;
	__u64 then_first_ns;
	__u64 then_bytes[NA_NDIR];
	__u64 then_packets;  /* both directions */
};

/* na_rd_args.buf of the figures' buffer */
#define NA_RD_FIGS NA_RD_BUFS

/* ctx of the na_read_socks syscall program. */
struct na_rd_args {
	__u32 buf;     /* in: which buffer, 0 .. NA_RD_BUFS - 1, or NA_RD_FIGS */
	__u32 cap;     /* in: rows the buffer holds */
	__u64 rows;    /* out: rows in na_socks (the first min(rows, cap) are in the buffer) */
};

#ifndef __cplusplus
_Static_assert(sizeof(struct na_trace_ev) == 104, "na_trace_ev layout");
_Static_assert(sizeof(struct na_trace_cfg) == 12, "na_trace_cfg layout");
_Static_assert(sizeof(struct na_counters) == 40, "na_counters layout");
_Static_assert(sizeof(struct na_row_dir) == 64, "na_row_dir layout");
_Static_assert(sizeof(struct na_row) == 296, "na_row layout");
_Static_assert(__builtin_offsetof(struct na_row, tx) >= 24 + 63 &&
	       __builtin_offsetof(struct na_row, rx) >= __builtin_offsetof(struct na_row, tx) + 64 + 63,
	       "na_row: 64 bytes between the hot fields, tx and rx");
_Static_assert(sizeof(struct na_closed_key) == 48, "na_closed_key layout");
_Static_assert(sizeof(struct na_closed) == 112, "na_closed layout");
_Static_assert(sizeof(struct na_conn) == 176, "na_conn layout");
_Static_assert(sizeof(struct na_listen_key) == 16, "na_listen_key layout");
_Static_assert(sizeof(struct na_gone) == 136, "na_gone layout");
_Static_assert(sizeof(struct na_stats) == 32, "na_stats layout");
_Static_assert(sizeof(struct na_set_owner_args) == 40, "na_set_owner_args layout");
_Static_assert(sizeof(struct na_totals) == 120, "na_totals layout");
_Static_assert(sizeof(struct na_attach) == 544, "na_attach layout");
_Static_assert(sizeof(struct na_meta) == 40, "na_meta layout");
_Static_assert(sizeof(struct na_peer_key) == 32, "na_peer_key layout");
_Static_assert(sizeof(struct na_peer) == 144, "na_peer layout");
_Static_assert(sizeof(struct na_cgpath) == 256, "na_cgpath layout");
_Static_assert(sizeof(struct na_dns_key) == 32, "na_dns_key layout");
_Static_assert(sizeof(struct na_dns_name) == 280, "na_dns_name layout");
_Static_assert(sizeof(struct na_sweep_args) == 16, "na_sweep_args layout");
_Static_assert(sizeof(struct na_rd_row) == 184, "na_rd_row layout");
_Static_assert(sizeof(struct na_rd_fig) == 136, "na_rd_fig layout");
_Static_assert(sizeof(struct na_rd_args) == 16, "na_rd_args layout");
#endif

#endif /* NETACCT_ABI_H */
