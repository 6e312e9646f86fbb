/* SPDX-License-Identifier: (BSD-2-Clause OR GPL-2.0) */
/*
 * What bpf/netacct_read.bpf.c hands to user space: a reader's copy of the
 * live rows. Not pinned state: each reading process loads the program and
 * makes the buffers, so this layout changes with the netacct binary alone,
 * never with NA_ABI_VERSION. Fixed-width fields, sizes asserted.
 */
#ifndef NETACCT_READ_H
#define NETACCT_READ_H

#include "netacct_abi.h"

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

/* ctx of the na_read_socks syscall program. */
struct na_rd_args {
	__u32 buf;     /* in: which buffer, 0 .. NA_RD_BUFS - 1 */
	__u32 cap;     /* in: rows the buffer holds */
	__u64 rows;    /* out: rows in na_socks (the first min(rows, cap) are in the buffer) */
};

#ifndef __cplusplus
_Static_assert(sizeof(struct na_rd_row) == 184, "na_rd_row layout");
_Static_assert(sizeof(struct na_rd_args) == 16, "na_rd_args layout");
#endif

#endif /* NETACCT_READ_H */
