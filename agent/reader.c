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

struct na_reader {
	int socks_fd;           /* a copy of the state's na_socks descriptor */
	uint32_t max_rows;      /* na_socks' max_entries: no run finds more */
	struct netacct_read_bpf *skel;
	struct na_rbuf *buf[NA_RD_BUFS];
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
	for (i = 0; i < NA_RD_BUFS; i++)
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
	return i == 0 ? skel->maps.na_rd_buf0 : skel->maps.na_rd_buf1;
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
	for (i = 0; !err && i < NA_RD_BUFS; i++) {
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
	for (i = 0; !err && i < NA_RD_BUFS; i++) {
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
		nb->len = ((size_t)nb->cap * sizeof(struct na_rd_row) + page - 1) / page * page;
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

int na_reader_read(struct na_reader *rd, size_t expect, struct na_sock_row **rows, size_t *n, struct na_rbuf **held)
{
	DECLARE_LIBBPF_OPTS(bpf_test_run_opts, run);
	struct na_rd_args args;
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
		memset(&args, 0, sizeof(args));
		args.buf = (uint32_t)b;
		args.cap = rd->buf[b]->cap;
		run.ctx_in = &args;
		run.ctx_size_in = sizeof(args);
		if (bpf_prog_test_run_opts(bpf_program__fd(rd->skel->progs.na_read_socks), &run))
			return -errno;
		if (args.rows <= args.cap) {
			rd->buf[b]->refs++;
			*held = rd->buf[b];
			*rows = rd->buf[b]->mem;
			*n = (size_t)args.rows;
			return 0;
		}
		/* More rows than room: a larger buffer (room to grow), and again (the map may grow meanwhile). */
		err = reader_load(rd, b, room_for(rd, args.rows, 4));
		if (err)
			return err;
	}
	return -EAGAIN;
}
