// SPDX-License-Identifier: (BSD-2-Clause OR GPL-2.0)
/*
 * bpf.reader: the readers' walk of na_socks (agent/reader.c,
 * bpf/netacct_read.bpf.c) on a map of na_socks' definition made here and
 * filled with rows the test knows, checked row by row against
 * na_sock_from_row() of what was put (the batched read's conversion):
 *   - a reader told to expect 10 rows finds 3 000: its buffer is made again,
 *     larger, and every row is there, once, equal field by field (a resent
 *     figure below 0 shows 0);
 *   - while a snapshot holds the first buffer, 5 000 more rows go into the
 *     second (made larger too), and the first still holds its 3 000 as they
 *     were;
 *   - with both held, a third read is refused (-EBUSY: the caller reads in
 *     batches), and succeeds once one is let go;
 *   - a buffer a snapshot holds outlives its reader.
 *
 * Exit: 0 all passed, 1 a failure, 77 skip (no BPF privilege; a failure
 * under CI=true).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "internal.h"
#include "../unit/check.h"

#pragma GCC poison u8 u16 u32 u64

#define MAX_ROWS 16384

static void make_row(struct na_row *r, __u64 cookie, unsigned i)
{
	int d;

	memset(r, 0, sizeof(*r));
	r->cookie = cookie;
	r->acct_token = NA_TOKEN(1, 1, 1);
	r->flags = i % 3 ? NA_ROW_TX_SEQ : NA_ROW_ACCEPTED;
	r->family = i % 4 == 3 ? NA_F_IPV6 : NA_F_IPV4;
	r->proto = i % 5 ? NA_P_TCP : NA_P_UDP;
	r->state = i % 5 ? NA_TCP_ESTABLISHED : 0;
	r->owner_src = (__u8)(i % 8);
	r->cgroup_id = 100 + i % 7;
	r->first_ns = 1000000ull * i + 17;
	r->pid = 1000 + i % 300;
	r->uid = 500 + i % 3;
	snprintf(r->comm, sizeof(r->comm), "w%u", i % 40);
	r->laddr[0] = 10;
	r->laddr[3] = (__u8)i;
	r->raddr[0] = 192;
	r->raddr[15] = (__u8)(i >> 8);
	r->lport = (__u16)(1024 + i);
	r->rport = 443;
	for (d = 0; d < NA_NDIR; d++) {
		struct na_row_dir *rd = NA_ROW_DIR(r, d);

		rd->c.packets = 3ull * i + (unsigned)d;
		rd->c.ip_hdr_bytes = 20ull * i;
		rd->c.l4_hdr_bytes = 32ull * i + 1;
		rd->c.payload_bytes = 1000ull * i + (unsigned)d;
		/* a sequence hole open on every ninth: below 0, shown as 0 */
		rd->c.resent_bytes = i % 9 ? 7ull * i : (__u64)-40;
		rd->hi_seq = i;
		rd->srtt_us = d == NA_RX ? 100 + i : 0;
	}
}

static int fill(int fd, unsigned from, unsigned to)
{
	struct na_row r;
	unsigned i;

	for (i = from; i < to; i++) {
		make_row(&r, (1ull << 40) + i, i);
		if (bpf_map_update_elem(fd, &(__u64){ (1ull << 40) + i }, &r, BPF_NOEXIST))
			return -errno;
	}
	return 0;
}

/* rows[0..n) are exactly the rows from..to, each once, as the batched read converts them. */
static void check_rows(const char *what, const struct na_sock_row *rows, size_t n, unsigned to)
{
	static unsigned char seen[MAX_ROWS];
	size_t i, bad = 0, dup = 0, missing = 0;
	struct na_sock want;
	struct na_row r;

	ASSERT_EQ(n, to, what);
	memset(seen, 0, sizeof(seen));
	for (i = 0; i < n; i++) {
		__u64 k = rows[i].cookie - (1ull << 40);

		if (k >= to) {
			bad++;
			continue;
		}
		dup += seen[k]++;
		make_row(&r, rows[i].cookie, (unsigned)k);
		na_sock_from_row(&want, &r);
		bad += memcmp(&want, &rows[i].s, sizeof(want)) != 0;
	}
	for (i = 0; i < to; i++)
		missing += !seen[i];
	CHECK(!bad && !dup && !missing, "%s: %zu rows unlike what was put, %zu twice, %zu missing", what, bad, dup,
	      missing);
}

int main(void)
{
	struct na_sock_row *a = NULL, *b = NULL, *c = NULL;
	struct na_rbuf *ha = NULL, *hb = NULL, *hc = NULL;
	LIBBPF_OPTS(bpf_map_create_opts, mo, .map_flags = BPF_F_NO_PREALLOC);
	struct na_reader *rd = NULL;
	size_t na = 0, nb = 0, nc = 0;
	int fd, err;

	fd = bpf_map_create(BPF_MAP_TYPE_HASH, "na_socks", sizeof(__u64), sizeof(struct na_row), MAX_ROWS, &mo);
	if (fd < 0) {
		fprintf(stderr, "bpf.reader: cannot make a map (%s): needs CAP_BPF\n", strerror(errno));
		if (getenv("CI") && !strcmp(getenv("CI"), "true"))
			return 1;
		return 77;
	}
	ASSERT_EQ(fill(fd, 0, 3000), 0, "fill 3000 rows");
	ASSERT_EQ(na_reader_new(fd, MAX_ROWS, &rd), 0, "na_reader_new");

	/* expect 10, find 3000: a larger buffer, and the walk again */
	err = na_reader_read(rd, 10, &a, &na, &ha);
	ASSERT_EQ(err, 0, "read 1 (the buffer grows)");
	if (!err)
		check_rows("read 1", a, na, 3000);

	/* the first buffer held; the second made for them, then too small for 8000 */
	ASSERT_EQ(fill(fd, 3000, 8000), 0, "fill 5000 more");
	err = na_reader_read(rd, na, &b, &nb, &hb);
	ASSERT_EQ(err, 0, "read 2 (the other buffer)");
	if (!err) {
		check_rows("read 2", b, nb, 8000);
		CHECK(b != a, "read 2: another buffer than read 1's (%p)", (void *)b);
	}
	if (ha)
		check_rows("read 1 after read 2", a, na, 3000);

	/* both held: none free */
	ASSERT_EQ(na_reader_read(rd, nb, &c, &nc, &hc), -EBUSY, "read 3 with both buffers held");
	na_rbuf_put(ha);
	ha = NULL;
	err = na_reader_read(rd, nb, &c, &nc, &hc);
	ASSERT_EQ(err, 0, "read 3 once the first is let go");
	if (!err)
		check_rows("read 3", c, nc, 8000);

	/* the reader goes; the buffers its snapshots hold stay until they are let go */
	na_reader_free(rd);
	if (hb)
		check_rows("read 2 after the reader is gone", b, nb, 8000);
	na_rbuf_put(hb);
	na_rbuf_put(hc);
	close(fd);
	return check_summary();
}
