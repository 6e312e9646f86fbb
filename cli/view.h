/* SPDX-License-Identifier: (BSD-2-Clause OR GPL-2.0) */
/*
 * The rows people and scripts look at: live sockets and closed-connection
 * aggregates grouped by socket, process, cgroup, peer, unit, container, pod
 * or peer class, with totals and rates over an interval, filtered and sorted. Shared by top (both modes),
 * export --group-by and the Prometheus text (export --prometheus, the
 * agent's /metrics), so that they cannot disagree: rows are folded and
 * summed here only.
 */
#ifndef NETACCT_CLI_VIEW_H
#define NETACCT_CLI_VIEW_H

#include <stddef.h>
#include <stdint.h>

#include "netacct.h"
#include "common.h"

enum na_group {
	NA_G_SOCKET,  /* one row per live socket */
	NA_G_PROCESS, /* pid + comm (live sockets and closed connections) */
	NA_G_CGROUP,  /* leaf cgroup */
	NA_G_PEER,    /* remote address */
	NA_G_UNIT,    /* systemd unit of the leaf cgroup (docs/names.md) */
	NA_G_CONTAINER, /* container id */
	NA_G_POD,     /* Kubernetes pod UID */
	NA_G_PEER_CLASS, /* class of the remote address (a networks file, the built-in classes) */
	NA_G_COUNT,
	/*
	 * Not groupings people ask for, but the Prometheus text's: (leaf cgroup,
	 * peer class), the agent's per-class series; (leaf cgroup, pid, comm), its
	 * per-process series and, regrouped, its per-leaf-cgroup ones; the peer's
	 * name, its per-name series (peer rows regrouped).
	 */
	NA_G_CGROUP_CLASS = NA_G_COUNT,
	NA_G_CGROUP_PROCESS,
	NA_G_PEER_NAME,
};

/* Columns, in display order; each has a sort key letter. */
enum na_col {
	NA_C_PID,
	NA_C_COMM,
	NA_C_CGROUP,
	NA_C_NAME,   /* by unit, container or pod: the group's name */
	NA_C_CLASS,  /* the peer's class */
	NA_C_PROTO,
	NA_C_FAMILY, /* ipv4 or ipv6: by peer, part of what a row is (two listeners' "*" differ by it) */
	NA_C_LOCAL,
	NA_C_REMOTE,
	NA_C_HOST,    /* the peer's name, from the cgroup's own DNS answers */
	NA_C_TX_RATE,
	NA_C_RX_RATE,
	NA_C_TX,
	NA_C_RX,
	NA_C_RETRANS, /* TCP payload sent again */
	NA_C_DUP,     /* TCP payload received again */
	NA_C_HDR,
	NA_C_PKT_RATE,
	NA_C_CONNS,
	NA_C_COUNT,
};

struct na_vrow {
	/* identity: what the group keeps (the rest is zero / NULL) */
	uint64_t cookie;    /* NA_G_SOCKET */
	uint64_t first_ns;  /* NA_G_SOCKET: with the cookie, which row of the socket; NA_G_PROCESS: the earliest */
	uint32_t pid;
	char comm[NA_COMM_LEN + 1];
	uint64_t cgroup_id;
	const char *cgroup; /* points into the snapshot */
	uint8_t family;
	uint8_t proto;      /* NA_G_SOCKET; other groups: one protocol, or 0xff for several */
	uint8_t state;
	uint8_t laddr[16];
	uint8_t raddr[16];
	uint16_t lport;
	uint16_t rport;
	const char *peer_name; /* the name the cgroup looked the peer up by (na_peernames_find()), or NULL */
	int16_t pclass;     /* by peer and peer class: the class of raddr (na_netclass_of), -1: none */
	uint8_t group;      /* enum na_group it was made for (what NAME shows) */
	const struct na_cgnames *names; /* by unit, container, pod: its first member's cgroup's names */
	/* figures */
	uint64_t conns;     /* live sockets + closed connections in the group */
	uint64_t live;      /* live sockets */
	struct na_counters tot[NA_NDIR];   /* resent_bytes as na_resent() shows it, summed */
	struct na_counters delta[NA_NDIR]; /* since the previous snapshot */
	double secs;        /* the interval the delta covers; 0: no rates */
};

struct na_view_opts {
	enum na_group group;
	const struct na_filter *paths; /* cgroup PATHs, may be NULL */
	const char *below;              /* rows at or below this cgroup path (relative), NULL: any */
	uint64_t below_id;              /* ... and rows of this cgroup id, whose path is unknown */
	uint32_t pid;                   /* 0: any */
	int proto;                      /* enum na_proto, -1: any */
	const char *text;               /* substring of comm, cgroup, addresses; NULL: any */
	/*
	 * By process, in a live view (top): does the process that made a row's
	 * sockets still run? pid as the rows have it, first_ns the group's
	 * earliest first packet (boot ns), so that a pid used again by a later
	 * process does not count. A row whose process is gone, with no live
	 * socket and nothing in the interval, is left out: its bytes stay in
	 * the cgroup and closed rows. NULL: every row is kept (export).
	 */
	int (*proc_alive)(uint32_t pid, uint64_t first_ns);
	/* By unit, container or pod: the names of a cgroup (na_view_names for agent/names.c's); NULL: none known. */
	const struct na_cgnames *(*names)(void *ctx, uint64_t cgroup_id, const char *cgroup);
	void *names_ctx;
	/* By peer class: the classes (agent/netclass.c); NULL: every peer has none. */
	const struct na_netclass *classes;
	/*
	 * top's figures (a snapshot of na_state_read_figs()): the row of a
	 * socket on screen, for its names (na_state_sock_row()); NULL: shown
	 * without them.
	 */
	int (*sock_row)(void *ctx, uint64_t cookie, struct na_sock_row *out);
	void *sock_row_ctx;
};

/* The names callback of struct na_view_opts for a struct na_names (ctx). */
const struct na_cgnames *na_view_names(void *ctx, uint64_t cgroup_id, const char *cgroup);

/* Rows of cur, grouped; rates against prev (may be NULL) over secs. *out is malloc'ed. */
int na_view_build(const struct na_snapshot *cur, const struct na_snapshot *prev, double secs,
		  const struct na_view_opts *o, struct na_vrow **out, size_t *n);
/*
 * Rows of one grouping folded again into a coarser group g whose key they
 * keep (cgroup from NA_G_CGROUP_PROCESS, peer name from NA_G_PEER, ...), in
 * the order of each group's first row; rates are not kept. One pass over the
 * groups, not over the snapshot's rows. *out is malloc'ed. 0 or -ENOMEM.
 */
int na_view_regroup(const struct na_vrow *rows, size_t n, enum na_group g, struct na_vrow **out, size_t *nout);
/*
 * Stable order: by col (descending for figures, ascending for names), ties by
 * identity. NA_C_COUNT: the busiest first (TX/s + RX/s, then TX + RX).
 */
void na_view_sort(struct na_vrow *rows, size_t n, enum na_col col, int reverse);
/*
 * The same order for the first k rows only (k = 0: all); the rest follow in
 * no particular order. O(n log k): top shows a screenful of 100 000 rows.
 */
void na_view_sort_top(struct na_vrow *rows, size_t n, enum na_col col, int reverse, size_t k);
/*
 * na_view_build() then na_view_sort_top(), keeping only the first k rows
 * (k = 0: all); *total is how many rows there are in all. By socket, the
 * rows that do not make the first k are never made: top keeps a screenful
 * of view rows, not one per socket.
 */
int na_view_build_top(const struct na_snapshot *cur, const struct na_snapshot *prev, double secs,
		      const struct na_view_opts *o, enum na_col col, int reverse, size_t k,
		      struct na_vrow **out, size_t *n, size_t *total);

/*
 * Does a snapshot of figures (na_state_read_figs()) serve this view: by
 * socket, ordered by a figure, a screenful (k > 0), no text filter? Then
 * na_view_build_top() takes it, its rates against prev's figures when cur's
 * then are prev's rows (struct na_figs), or against prev's rows when prev is
 * a snapshot of rows (top came from a view of rows); ties in order go by cgroup, pid,
 * protocol, family and cookie (the names are looked up for the k rows
 * only). A view it does not serve gets -EAGAIN from a snapshot of figures.
 */
int na_view_figs_serve(const struct na_view_opts *o, enum na_col col, size_t k);

/* What --group-by takes, for a usage message. */
#define NA_GROUPS_TEXT "socket, process, cgroup, peer, unit, container, pod or peer-class"

/*
 * export's order of a snapshot's live rows: cgroup path, cgroup id, pid,
 * comm, protocol, family, peer address and port, local address and port,
 * cookie. By radix on each row's first distinguishing bytes, not by
 * comparisons that fetch two rows each: at a million rows those fetches
 * were most of export's time. *out (malloc'ed) points into s->rows.
 */
int na_view_sock_order(const struct na_snapshot *s, const struct na_sock_row ***out);

const char *na_group_name(enum na_group g);
int na_group_parse(const char *s, enum na_group *g);
const char *na_col_name(enum na_col c);
/* "tx", "TX/s", "pid", ... or the column's key letter. */
int na_col_parse(const char *s, enum na_col *c);
/* The names --sort takes ("pid comm ..."), for a usage message. */
void na_col_aliases(char *buf, size_t len);
char na_col_key(enum na_col c);

/* Per-row figures. */
uint64_t na_vrow_bytes(const struct na_vrow *r, int dir);       /* total */
uint64_t na_vrow_resent(const struct na_vrow *r, int dir);      /* retransmitted (tx), duplicates (rx) */
double na_vrow_rate(const struct na_vrow *r, int dir);          /* bytes/s, 0 without rates */
double na_vrow_pkt_rate(const struct na_vrow *r);
double na_vrow_hdr_pct(const struct na_vrow *r);
/*
 * A group's name by unit, container or pod (the unit; "pod/container" or the
 * container's id; "namespace/pod" or its UID), "" for the rest.
 */
void na_vrow_name(char *buf, size_t len, const struct na_vrow *r, enum na_group g);
/* "127.0.0.1:80", "[::1]:80", "*" */
void na_vrow_endpoint(char *buf, size_t len, uint8_t family, const uint8_t *addr, uint16_t port);

#endif
