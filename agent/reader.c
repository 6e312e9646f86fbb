// SPDX-License-Identifier: (BSD-2-Clause OR GPL-2.0)
/*
 * The fast read of na_socks (bpf/netacct_read.bpf.c): for a process that may
 * load programs, one run of a `syscall` program copies every live row into
 * a buffer this process has mapped, already in the layout of a snapshot's
 * rows. The snapshot then uses the buffer as its rows, with no copy; the
 * buffer goes back to the reader when the snapshot is freed.
 *
 * A reader has NA_RD_BUFS buffers (top holds the rows of two snapshots),
 * sized for the rows there are with room to grow, not for the map's
 * capacity: a map sized for millions of sockets that holds a thousand costs
 * a thousand rows here. A run that finds more rows than its buffer holds
 * says how many; the buffer is made again, larger, and the run repeated.
 * Anything that fails here (no CAP_BPF, a kernel without syscall programs
 * or bpf_for_each_map_elem) leaves the batched map read to the caller.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "internal.h"
#include "netacct_abi.h"
#include "netacct_read.skel.h"

/* The program writes struct na_rd_row; snapshots read struct na_sock_row: the same bytes. */
#define SAME(f, g) _Static_assert(offsetof(struct na_rd_row, f) == offsetof(struct na_sock_row, g), #f)
SAME(cookie, cookie);
SAME(cgroup_id, s.cgroup_id);
SAME(first_ns, s.first_ns);
SAME(pid, s.pid);
SAME(uid, s.uid);
SAME(comm, s.comm);
SAME(laddr, s.laddr);
SAME(raddr, s.raddr);
SAME(lport, s.lport);
SAME(rport, s.rport);
SAME(family, s.family);
SAME(proto, s.proto);
SAME(state, s.state);
SAME(owner_src, s.owner_src);
SAME(srtt_us, s.srtt_us);
SAME(flags, s.flags);
SAME(dir, s.dir);
SAME(user, cgroup);
#undef SAME
_Static_assert(sizeof(struct na_rd_row) == sizeof(struct na_sock_row), "one row, one size");

struct na_rbuf {
	int refs;   /* the reader's, and a snapshot's while it holds the rows */
	int fd;     /* the array map */
	void *mem;
	size_t len; /* of the mapping */
	uint32_t cap;
};

/* The rows buffers, then top's figures (NA_RD_FIGS). */
#define NBUF (NA_RD_BUFS + 1)

struct na_reader {
	int socks_fd;           /* a copy of the state's na_socks descriptor */
	uint32_t max_rows;      /* na_socks' max_entries: no run finds more */
	struct netacct_read_bpf *skel;
	struct na_rbuf *buf[NBUF];
	uint32_t fig_rows;      /* rows the last figures' walk left in its buffer (their then_* to be) */
	uint64_t fig_seq;       /* walks of the figures' buffer so far */
	int fig_valid;          /* the figures' buffer holds the rows of walk fig_seq */
	int failed;             /* loading failed: the batched read from then on */
};

void na_rbuf_put(struct na_rbuf *b)
{
	if (!b || --b->refs > 0)
		return;
	if (b->mem && b->mem != MAP_FAILED)
		munmap(b->mem, b->len);
	if (b->fd >= 0)
		close(b->fd);
	free(b);
}

int na_reader_new(int socks_fd, uint32_t max_rows, struct na_reader **out)
{
	struct na_reader *rd = calloc(1, sizeof(*rd));

	if (!rd)
		return -ENOMEM;
	rd->socks_fd = fcntl(socks_fd, F_DUPFD_CLOEXEC, 0);
	if (rd->socks_fd < 0) {
		free(rd);
		return -errno;
	}
	rd->max_rows = max_rows;
	*out = rd;
	return 0;
}

void na_reader_free(struct na_reader *rd)
{
	size_t i;

	if (!rd)
		return;
	/* A buffer a snapshot still holds stays until that snapshot is freed. */
	for (i = 0; i < NBUF; i++)
		na_rbuf_put(rd->buf[i]);
	netacct_read_bpf__destroy(rd->skel);
	close(rd->socks_fd);
	free(rd);
}

/* libbpf's words about a load that may fail for want of privilege: -vv only (the batched read follows). */
static int quiet_print(enum libbpf_print_level lvl, const char *fmt, va_list ap)
{
	(void)lvl;
	return na_log_verbose() >= 2 ? vfprintf(stderr, fmt, ap) : 0;
}

static struct bpf_map *buf_map(struct netacct_read_bpf *skel, int i)
{
	return i == NA_RD_FIGS ? skel->maps.na_rd_figs : i == 0 ? skel->maps.na_rd_buf0 : skel->maps.na_rd_buf1;
}

static size_t slot_size(int i)
{
	return i == NA_RD_FIGS ? sizeof(struct na_rd_fig) : sizeof(struct na_rd_row);
}

/*
 * (Re)load the program with buffer `grow` made anew for cap rows (grow < 0:
 * none); every other buffer that exists is kept, with the rows a snapshot
 * may be reading in it.
 */
static int reader_load(struct na_reader *rd, int grow, uint32_t cap)
{
	struct netacct_read_bpf *skel;
	struct na_rbuf *nb = NULL;
	libbpf_print_fn_t old;
	int i, err;

	skel = netacct_read_bpf__open();
	if (!skel)
		return -errno ? -errno : -ENOMEM;
	err = bpf_map__reuse_fd(skel->maps.na_socks, rd->socks_fd);
	for (i = 0; !err && i < NBUF; i++) {
		if (i != grow && rd->buf[i])
			err = bpf_map__reuse_fd(buf_map(skel, i), rd->buf[i]->fd);
		else
			err = bpf_map__set_max_entries(buf_map(skel, i), i == grow ? cap : 1);
	}
	if (!err) {
		old = libbpf_set_print(quiet_print);
		err = netacct_read_bpf__load(skel);
		libbpf_set_print(old);
	}
	for (i = 0; !err && i < NBUF; i++) {
		struct bpf_map *m = buf_map(skel, i);
		long page = sysconf(_SC_PAGESIZE);

		if (i != grow && rd->buf[i])
			continue;
		nb = calloc(1, sizeof(*nb));
		if (!nb) {
			err = -ENOMEM;
			break;
		}
		nb->refs = 1;
		nb->cap = bpf_map__max_entries(m);
		nb->len = ((size_t)nb->cap * slot_size(i) + page - 1) / page * page;
		nb->fd = fcntl(bpf_map__fd(m), F_DUPFD_CLOEXEC, 0);
		nb->mem = nb->fd < 0 ? MAP_FAILED : mmap(NULL, nb->len, PROT_READ | PROT_WRITE, MAP_SHARED, nb->fd, 0);
		if (nb->mem == MAP_FAILED) {
			err = -errno;
			na_rbuf_put(nb);
			break;
		}
		na_rbuf_put(rd->buf[i]);
		rd->buf[i] = nb;
	}
	if (err) {
		netacct_read_bpf__destroy(skel);
		return err;
	}
	netacct_read_bpf__destroy(rd->skel);
	rd->skel = skel;
	return 0;
}

/*
 * Rows to make a buffer for n rows: a 1/part more (the table grows while it
 * is read, or by the next read), within the map's size. A buffer made for a
 * guess has little room (a one-off export pays for every row of it); one
 * made because the rows outgrew theirs has more (top reads again and again).
 */
static uint32_t room_for(struct na_reader *rd, uint64_t n, unsigned part)
{
	uint64_t cap = n + n / part + 1024;

	return cap > rd->max_rows ? rd->max_rows : (uint32_t)cap;
}

/* One walk into buffer b: 0 and *rows (those in na_socks: more than the buffer holds when it overflowed), or -errno. */
static int run_walk(struct na_reader *rd, int b, uint64_t *rows)
{
	DECLARE_LIBBPF_OPTS(bpf_test_run_opts, run);
	struct na_rd_args args;

	memset(&args, 0, sizeof(args));
	args.buf = (uint32_t)b;
	args.cap = rd->buf[b]->cap;
	run.ctx_in = &args;
	run.ctx_size_in = sizeof(args);
	if (bpf_prog_test_run_opts(bpf_program__fd(rd->skel->progs.na_read_socks), &run))
		return -errno;
	*rows = args.rows;
	return 0;
}

/*
 * The last walk's left rows in old, as the rows of the new buffer nb, so
 * that the walk into nb moves them into then_*. moved: a walk since (one
 * that overflowed old) moved them into then_* already, else they are
 * still in their slots' rows.
 */
static void figs_carry(const struct na_rbuf *old, int moved, uint32_t left, struct na_rbuf *nb)
{
	const struct na_rd_fig *o = old->mem;
	struct na_rd_fig *f = nb->mem;
	uint32_t i, n = left < nb->cap ? left : nb->cap;
	int d;

	for (i = 0; i < n; i++) {
		if (!moved) {
			f[i] = o[i];
			continue;
		}
		memset(&f[i], 0, sizeof(f[i]));
		f[i].cookie = o[i].then_cookie;
		f[i].first_ns = o[i].then_first_ns;
		for (d = 0; d < NA_NDIR; d++)
			f[i].dir[d].payload_bytes = o[i].then_bytes[d];
		f[i].dir[NA_TX].packets = o[i].then_packets;
	}
}

/*
 * A reader keeps the buffers of the read it is used for: those of the other
 * kind that no snapshot holds (top switched between its reads) are made
 * anew for one row. Their memory is the kernel's until the program that
 * names them is gone, so the program is loaded again without them.
 */
static int reader_trim(struct na_reader *rd, int figs)
{
	int i, dropped = 0;

	for (i = 0; i < NBUF; i++) {
		struct na_rbuf *b = rd->buf[i];

		if (!b || (i == NA_RD_FIGS) == figs || b->refs > 1 || b->cap <= 1)
			continue;
		na_rbuf_put(b);
		rd->buf[i] = NULL;
		dropped = 1;
	}
	if (!figs && dropped)
		rd->fig_rows = rd->fig_valid = 0;
	return dropped ? reader_load(rd, -1, 0) : 0;
}

/*
 * A figures' buffer of cap slots in place of the reader's, the last walk's
 * rows carried over (moved: as figs_carry()). On failure no baseline is
 * left: what the slots held may have moved.
 */
static int figs_regrow(struct na_reader *rd, uint32_t cap, int moved)
{
	struct na_rbuf *old = rd->buf[NA_RD_FIGS];
	int err;

	if (old)
		old->refs++;
	err = reader_load(rd, NA_RD_FIGS, cap);
	if (!err && old) /* reader_load() made the buffer anew */
		figs_carry(old, moved, rd->fig_rows, rd->buf[NA_RD_FIGS]);
	else
		rd->fig_rows = rd->fig_valid = 0;
	na_rbuf_put(old);
	return err;
}

int na_reader_read_figs(struct na_reader *rd, size_t expect, struct na_figs *out)
{
	uint64_t rows;
	int tries, err;

	memset(out, 0, sizeof(*out));
	if (rd->failed)
		return -EOPNOTSUPP;
	if (rd->skel && (err = reader_trim(rd, 1)))
		return err;
	if (!rd->skel || !rd->buf[NA_RD_FIGS] || rd->buf[NA_RD_FIGS]->cap < expect) {
		err = figs_regrow(rd, room_for(rd, expect, 32), 0);
		if (err) {
			rd->failed = 1;
			na_log(NA_LOG_DEBUG, "reader: cannot load the walk of na_socks (%s): batched reads",
			       strerror(-err));
			return -EOPNOTSUPP;
		}
	}
	for (tries = 0; tries < 4; tries++) {
		err = run_walk(rd, NA_RD_FIGS, &rows);
		if (err)
			return err;
		if (rows <= rd->buf[NA_RD_FIGS]->cap)
			break;
		/* Overflowed: the walk moved the rows into then_*; carried over into a larger buffer. */
		err = figs_regrow(rd, room_for(rd, rows, 8), 1);
		if (err)
			return err;
		na_log(NA_LOG_DEBUG, "reader: figures' buffer for %u rows made, %u rows of the read before carried over",
		       rd->buf[NA_RD_FIGS]->cap, rd->fig_rows);
	}
	if (tries == 4) {
		rd->fig_rows = rd->fig_valid = 0;
		return -EAGAIN;
	}
	out->slots = rd->buf[NA_RD_FIGS]->mem;
	out->n = (size_t)rows;
	out->nthen = rd->fig_rows;
	out->then_seq = rd->fig_valid ? rd->fig_seq : 0;
	out->seq = ++rd->fig_seq;
	rd->fig_rows = (uint32_t)rows;
	rd->fig_valid = 1;
	rd->buf[NA_RD_FIGS]->refs++;
	out->held = rd->buf[NA_RD_FIGS];
	return 0;
}

int na_reader_read(struct na_reader *rd, size_t expect, struct na_sock_row **rows, size_t *n, struct na_rbuf **held)
{
	uint64_t got;
	int b = -1, i, tries, err;

	if (rd->failed)
		return -EOPNOTSUPP;
	/* A free buffer, the larger one first (a snapshot holds the other). */
	for (i = 0; i < NA_RD_BUFS; i++)
		if (!rd->buf[i] || rd->buf[i]->refs == 1)
			if (b < 0 || (rd->buf[i] && (!rd->buf[b] || rd->buf[i]->cap > rd->buf[b]->cap)))
				b = i;
	if (b < 0)
		return -EBUSY;
	if (rd->skel && (err = reader_trim(rd, 0)))
		return err;
	if (!rd->skel || !rd->buf[b] || rd->buf[b]->cap < expect) {
		uint64_t t0 = na_boot_ns();

		err = reader_load(rd, b, room_for(rd, expect, 16));
		na_log(NA_LOG_DEBUG, "reader: buffer %d for %u rows made in %.2f ms", b, rd->buf[b] ? rd->buf[b]->cap : 0,
		       (na_boot_ns() - t0) / 1e6);
		if (err) {
			rd->failed = 1;
			na_log(NA_LOG_DEBUG, "reader: cannot load the walk of na_socks (%s): batched reads",
			       strerror(-err));
			return -EOPNOTSUPP;
		}
	}
	for (tries = 0; tries < 4; tries++) {
		err = run_walk(rd, b, &got);
		if (err)
			return err;
		if (got <= rd->buf[b]->cap) {
			rd->buf[b]->refs++;
			*held = rd->buf[b];
			*rows = rd->buf[b]->mem;
			*n = (size_t)got;
			return 0;
		}
		/* More rows than room: a larger buffer (room to grow), and again (the map may grow meanwhile). */
		err = reader_load(rd, b, room_for(rd, got, 4));
		if (err)
			return err;
	}
	return -EAGAIN;
}
