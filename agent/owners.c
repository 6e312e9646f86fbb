// SPDX-License-Identifier: (BSD-2-Clause OR GPL-2.0)
/*
 * Owners of sockets that existed before attach, found the way `ss -p` does:
 * sock_diag maps cookie -> inode, /proc/PID/fd maps inode -> process. The
 * result goes into the pinned row through the na_set_owner syscall program,
 * whose owner_src is the cache: a row is looked at while it is NA_OWN_NONE
 * only. See the "owner resolution" section of netacct.h.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/inet_diag.h>
#include <linux/netlink.h>
#include <linux/sock_diag.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "internal.h"

#pragma GCC poison u8 u16 u32 u64

/* Every TCP state but TIME_WAIT and NEW_SYN_RECV: those have no file, no owner, no row. */
#define DIAG_STATES (((1u << (NA_TCP_CLOSING + 1)) - 1) & ~(1u << NA_TCP_TIME_WAIT))
#define DIAG_BUF (64u << 10) /* > the 32 KiB a dump skb can hold */

struct want {
	uint64_t cookie;
	size_t row;        /* index in snap->rows, or in snap->figs.slots */
	uint64_t inode;
	uint32_t uid;
	uint32_t pid;      /* 0: no process found (yet) */
	char comm[NA_COMM_LEN];
	uint8_t proto;     /* enum na_proto */
	uint8_t listed;    /* sock_diag listed it */
};

struct resolver {
	struct want *w;    /* sorted by cookie */
	size_t n;
	size_t listed;
	struct want **by_ino; /* listed wants with an inode, sorted by inode */
	size_t nino;
	struct na_owners_stats st;
};

int na_owners_parse_fdlink(const char *link, size_t len, uint64_t *inode)
{
	static const char pre[] = "socket:[";
	const size_t npre = sizeof(pre) - 1;
	uint64_t v = 0;
	size_t i;

	/* At least one digit and the closing bracket. */
	if (len < npre + 2 || memcmp(link, pre, npre) || link[len - 1] != ']')
		return -EINVAL;
	for (i = npre; i < len - 1; i++) {
		unsigned d = (unsigned char)link[i] - '0';

		if (d > 9 || v > (UINT64_MAX - d) / 10)
			return -EINVAL;
		v = v * 10 + d;
	}
	*inode = v;
	return 0;
}

void na_owners_parse_comm(const char *buf, size_t len, char comm[NA_COMM_LEN])
{
	if (len && buf[len - 1] == '\n')
		len--;
	if (len > NA_COMM_LEN - 1)
		len = NA_COMM_LEN - 1;
	memset(comm, 0, NA_COMM_LEN);
	memcpy(comm, buf, len);
}

int na_owners_parse_diag(const void *buf, size_t len, uint32_t seq, na_diag_cb cb, void *ctx)
{
	const struct nlmsghdr *h = buf;
	int left = len > INT32_MAX ? INT32_MAX : (int)len; /* NLMSG_OK/NEXT work on an int */
	int err;

	for (; NLMSG_OK(h, left); h = NLMSG_NEXT(h, left)) {
		size_t plen = h->nlmsg_len - NLMSG_HDRLEN;

		if (h->nlmsg_seq != seq)
			continue; /* a reply to an earlier, abandoned request */
		if (h->nlmsg_type == NLMSG_DONE) {
			/* A dump that failed midway ends with a negative errno here. */
			if (plen >= sizeof(int)) {
				int e;

				memcpy(&e, NLMSG_DATA(h), sizeof(e));
				if (e < 0)
					return e;
			}
			return 1;
		}
		if (h->nlmsg_type == NLMSG_ERROR) {
			struct nlmsgerr e;

			if (plen < sizeof(e))
				return -EBADMSG;
			memcpy(&e, NLMSG_DATA(h), sizeof(e));
			/* error 0 is an ACK; a dump does not ask for one. */
			return e.error < 0 ? e.error : -EBADMSG;
		}
		if (h->nlmsg_type != SOCK_DIAG_BY_FAMILY)
			continue;
		if (plen < sizeof(struct inet_diag_msg))
			return -EBADMSG;
		{
			struct inet_diag_msg m;
			struct na_diag_sock d;

			memcpy(&m, NLMSG_DATA(h), sizeof(m));
			/* The kernel stores the 64-bit cookie as two host-order halves, low first. */
			d.cookie = (uint64_t)m.id.idiag_cookie[0] | (uint64_t)m.id.idiag_cookie[1] << 32;
			d.inode = m.idiag_inode;
			d.uid = m.idiag_uid;
			d.family = m.idiag_family;
			d.state = m.idiag_state;
			err = cb(&d, ctx);
			if (err)
				return err;
		}
	}
	/* Bytes left over that do not form a whole message: a truncated reply. */
	return left > 0 ? -EBADMSG : 0;
}

static int cmp_cookie(const void *a, const void *b)
{
	return NA_CMP(((const struct want *)a)->cookie, ((const struct want *)b)->cookie);
}

static int cmp_inode(const void *a, const void *b)
{
	return NA_CMP((*(struct want *const *)a)->inode, (*(struct want *const *)b)->inode);
}

static struct want *find_cookie(struct resolver *r, uint64_t cookie)
{
	struct want key = { .cookie = cookie };

	return bsearch(&key, r->w, r->n, sizeof(*r->w), cmp_cookie);
}

static struct want *find_inode(struct resolver *r, uint64_t inode)
{
	struct want key = { .inode = inode }, *kp = &key, **hit;

	hit = bsearch(&kp, r->by_ino, r->nino, sizeof(*r->by_ino), cmp_inode);
	return hit ? *hit : NULL;
}

static int on_diag(const struct na_diag_sock *d, void *ctx)
{
	struct resolver *r = ctx;
	struct want *w = find_cookie(r, d->cookie);

	r->st.diag_socks++;
	if (!w || w->listed)
		return 0;
	w->listed = 1;
	w->inode = d->inode;
	w->uid = d->uid;
	r->listed++;
	return 0;
}

static size_t listed_of(const struct resolver *r, uint8_t proto)
{
	size_t i, n = 0;

	for (i = 0; i < r->n; i++)
		n += r->w[i].proto == proto && r->w[i].listed;
	return n;
}

static size_t wanted_of(const struct resolver *r, uint8_t proto)
{
	size_t i, n = 0;

	for (i = 0; i < r->n; i++)
		n += r->w[i].proto == proto;
	return n;
}

/* One SOCK_DIAG_BY_FAMILY dump, every reply datagram through on_diag(). */
static int diag_dump(int nl, char *buf, uint32_t seq, uint8_t family, uint8_t proto, struct resolver *r)
{
	struct {
		struct nlmsghdr h;
		struct inet_diag_req_v2 r;
	} req = {
		.h = {
			.nlmsg_len = sizeof(req),
			.nlmsg_type = SOCK_DIAG_BY_FAMILY,
			.nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP,
			.nlmsg_seq = seq,
		},
		.r = {
			.sdiag_family = family,
			.sdiag_protocol = proto,
			.idiag_states = DIAG_STATES,
		},
	};
	struct sockaddr_nl kernel = { .nl_family = AF_NETLINK };
	int err;

	if (sendto(nl, &req, sizeof(req), 0, (struct sockaddr *)&kernel, sizeof(kernel)) < 0)
		return -errno;
	r->st.dumps++;
	for (;;) {
		struct sockaddr_nl from;
		struct iovec iov = { .iov_base = buf, .iov_len = DIAG_BUF };
		struct msghdr msg = { .msg_name = &from, .msg_namelen = sizeof(from), .msg_iov = &iov, .msg_iovlen = 1 };
		ssize_t n = recvmsg(nl, &msg, 0);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (msg.msg_flags & MSG_TRUNC)
			return -EMSGSIZE;
		if (msg.msg_namelen < sizeof(from) || from.nl_pid != 0)
			continue; /* not from the kernel */
		err = na_owners_parse_diag(buf, n, seq, on_diag, r);
		if (err)
			return err < 0 ? err : 0;
	}
}

static int diag_all(struct resolver *r)
{
	static const struct {
		uint8_t na, ipproto;
	} protos[] = { { NA_P_TCP, IPPROTO_TCP }, { NA_P_UDP, IPPROTO_UDP } };
	/* An AF_INET6 socket also carries IPv4 (mapped) traffic: dump both families. */
	static const uint8_t families[] = { AF_INET, AF_INET6 };
	struct timeval tmo = { .tv_sec = 5 };
	uint32_t seq = (uint32_t)time(NULL);
	char *buf = NULL;
	int nl, err = 0;
	size_t p, f;

	nl = socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC, NETLINK_SOCK_DIAG);
	if (nl < 0)
		return na_err(-errno, "owners: open sock_diag socket");
	/* The kernel always answers a dump; never hang if it somehow does not. */
	setsockopt(nl, SOL_SOCKET, SO_RCVTIMEO, &tmo, sizeof(tmo));
	buf = malloc(DIAG_BUF);
	if (!buf) {
		err = -ENOMEM;
		goto out;
	}
	for (p = 0; p < NA_ARRAY_SIZE(protos); p++) {
		size_t want = wanted_of(r, protos[p].na);

		for (f = 0; f < sizeof(families) && listed_of(r, protos[p].na) < want; f++) {
			err = diag_dump(nl, buf, ++seq, families[f], protos[p].ipproto, r);
			if (err == -ENOENT || err == -EAFNOSUPPORT) {
				/* No diag module for it (udp_diag), or no IPv6: nothing of it to list. */
				na_log(NA_LOG_DEBUG, "owners: sock_diag %s/%s: %s", families[f] == AF_INET ? "inet" : "inet6",
				       protos[p].na == NA_P_TCP ? "tcp" : "udp", strerror(-err));
				err = 0;
				continue;
			}
			if (err) {
				na_err(err, "owners: sock_diag dump of %s %s sockets", families[f] == AF_INET ? "IPv4" : "IPv6",
				       protos[p].na == NA_P_TCP ? "TCP" : "UDP");
				goto out;
			}
		}
	}
out:
	free(buf);
	close(nl);
	return err;
}

/* A /proc entry naming a process: digits only, a pid that fits. */
static int parse_pid(const char *s, uint32_t *pid)
{
	uint64_t v = 0;
	size_t i;

	for (i = 0; s[i]; i++) {
		if (s[i] < '0' || s[i] > '9' || i >= 10)
			return -EINVAL;
		v = v * 10 + (uint64_t)(s[i] - '0');
	}
	if (!i || !v || v > UINT32_MAX)
		return -EINVAL;
	*pid = (uint32_t)v;
	return 0;
}

static int read_comm(int procfd, uint32_t pid, char comm[NA_COMM_LEN])
{
	char p[32], buf[64];
	ssize_t n;
	int fd;

	snprintf(p, sizeof(p), "%u/comm", pid);
	fd = openat(procfd, p, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	n = read(fd, buf, sizeof(buf));
	close(fd);
	if (n < 0)
		return -errno;
	na_owners_parse_comm(buf, n, comm);
	return 0;
}

/*
 * One pass over /proc/PID/fd (PID: thread group leaders, the only entries
 * readdir shows). A process that exits meanwhile (ENOENT) is passed over
 * quietly, and so is one we may not read (EACCES: ptrace access denied, e.g.
 * a process with capabilities we lack): its sockets could never be resolved
 * here, so retrying them on every pass would only cost; they are counted.
 */
static int scan_proc(struct resolver *r)
{
	size_t left = r->nino;
	struct dirent *e, *f;
	DIR *proc, *d;
	int procfd;

	proc = opendir("/proc");
	if (!proc)
		return na_err(-errno, "owners: open /proc");
	procfd = dirfd(proc);
	while (left && (e = readdir(proc))) {
		char p[32], comm[NA_COMM_LEN];
		uint32_t pid;
		int fdfd, have_comm = 0;

		if (parse_pid(e->d_name, &pid))
			continue;
		snprintf(p, sizeof(p), "%u/fd", pid);
		fdfd = openat(procfd, p, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (fdfd < 0) {
			r->st.procs_denied += errno == EACCES || errno == EPERM;
			continue;
		}
		d = fdopendir(fdfd);
		if (!d) {
			close(fdfd);
			continue;
		}
		r->st.procs++;
		while (left && (f = readdir(d))) {
			char link[64];
			uint64_t ino;
			struct want *w;
			ssize_t n;

			if (f->d_type != DT_LNK && f->d_type != DT_UNKNOWN)
				continue;
			n = readlinkat(fdfd, f->d_name, link, sizeof(link));
			if (n < 0) {
				if (errno == EACCES || errno == EPERM) {
					r->st.procs_denied++;
					break;
				}
				if (errno == ENOENT && faccessat(procfd, p, F_OK, 0))
					break; /* the process is gone */
				continue;  /* that fd was closed meanwhile */
			}
			r->st.fds++;
			if (na_owners_parse_fdlink(link, n, &ino) || !(w = find_inode(r, ino)) || w->pid)
				continue;
			if (!have_comm) {
				if (read_comm(procfd, pid, comm))
					break; /* gone: another holder may still be found */
				have_comm = 1;
			}
			w->pid = pid;
			memcpy(w->comm, comm, NA_COMM_LEN);
			left--;
		}
		closedir(d);
	}
	closedir(proc);
	return 0;
}

static int set_owners(const char *root, struct na_snapshot *snap, struct resolver *r)
{
	struct na_set_owner_args *a = NULL;
	struct want **which = NULL;
	char p[PATH_MAX];
	int socks = -1, err = 0;
	size_t i, n = 0;

	a = calloc(r->listed, sizeof(*a));
	which = calloc(r->listed, sizeof(*which));
	if (!a || !which) {
		err = -ENOMEM;
		goto out;
	}
	for (i = 0; i < r->n; i++) {
		struct want *w = &r->w[i];

		/* Not listed: closed meanwhile or out of our sight; tried again next time. */
		if (!w->listed)
			continue;
		a[n].cookie = w->cookie;
		a[n].pid = w->pid;
		a[n].uid = w->uid;
		memcpy(a[n].comm, w->comm, NA_COMM_LEN);
		a[n].src = w->pid ? NA_OWN_PROC : NA_OWN_UNKNOWN;
		which[n++] = w;
	}
	if (!n)
		goto out;
	/* One program load for the lot: a load costs milliseconds, a run microseconds. */
	err = na_syscall_run_each(root, &snap->meta, "na_set_owner", a, sizeof(*a), n);
	if (err)
		goto out;
	snprintf(p, sizeof(p), "%s/na_socks", root);
	socks = bpf_obj_get(p);
	if (socks < 0) {
		err = na_err(-errno, "open %s", p);
		goto out;
	}
	for (i = 0; i < n; i++) {
		struct na_sock_row *row = snap->figs.slots ? NULL : &snap->rows[which[i]->row];
		struct na_row s;

		if (a[i].result)
			continue; /* the row ended meanwhile */
		if (a[i].src == NA_OWN_PROC)
			r->st.resolved++;
		else
			r->st.unknown++;
		/* What the row holds now: a kernel hook may have set the owner first. */
		if (bpf_map_lookup_elem(socks, &a[i].cookie, &s))
			continue;
		if (!row) { /* top's figures: the comm is looked up with the rest of a row shown */
			snap->figs.slots[which[i]->row].pid = s.pid;
			snap->figs.slots[which[i]->row].owner_src = s.owner_src;
			continue;
		}
		row->s.pid = s.pid;
		row->s.uid = s.uid;
		memcpy(row->s.comm, s.comm, NA_COMM_LEN);
		row->s.owner_src = s.owner_src;
	}
out:
	if (socks >= 0)
		close(socks);
	free(which);
	free(a);
	return err;
}

static uint64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* Row i of a snapshot's rows, or of its figures (top's read), is a TCP or UDP row without an owner. */
static int row_unowned(const struct na_snapshot *snap, size_t i)
{
	uint8_t owner = snap->figs.slots ? snap->figs.slots[i].owner_src : snap->rows[i].s.owner_src;
	uint8_t proto = snap->figs.slots ? snap->figs.slots[i].proto : snap->rows[i].s.proto;

	return na_unowned(owner, proto);
}

int na_owners_resolve(const char *root, struct na_snapshot *snap, struct na_owners_stats *stats)
{
	size_t nrows = na_snapshot_nlive(snap);
	struct resolver r = {};
	uint64_t t0 = mono_ns(), t_diag = t0, t_proc = t0, t1;
	int err = 0;
	size_t i;

	/* na_state_read() counted them: no pass over every row in the steady state. */
	for (i = 0; snap->unowned && i < nrows; i++)
		r.n += row_unowned(snap, i);
	r.st.wanted = r.n;
	if (!r.n)
		goto out; /* the steady state: every row has an owner or was looked at */
	if (!na_can_write_state())
		goto out; /* a reader of `attach --group`: owners stay unknown until root reads */
	r.w = calloc(r.n, sizeof(*r.w));
	if (!r.w) {
		err = -ENOMEM;
		goto out;
	}
	r.n = 0;
	for (i = 0; i < nrows; i++) {
		if (!row_unowned(snap, i))
			continue;
		r.w[r.n].cookie = snap->figs.slots ? snap->figs.slots[i].cookie : snap->rows[i].cookie;
		r.w[r.n].row = i;
		r.w[r.n].proto = snap->figs.slots ? snap->figs.slots[i].proto : snap->rows[i].s.proto;
		r.n++;
	}
	qsort(r.w, r.n, sizeof(*r.w), cmp_cookie);

	err = diag_all(&r);
	t_diag = t_proc = mono_ns();
	if (err || !r.listed)
		goto out;
	r.by_ino = calloc(r.listed, sizeof(*r.by_ino));
	if (!r.by_ino) {
		err = -ENOMEM;
		goto out;
	}
	for (i = 0; i < r.n; i++)
		if (r.w[i].listed && r.w[i].inode)
			r.by_ino[r.nino++] = &r.w[i];
	qsort(r.by_ino, r.nino, sizeof(*r.by_ino), cmp_inode);
	if (r.nino) {
		err = scan_proc(&r);
		t_proc = mono_ns();
		if (err)
			goto out;
	}
	err = set_owners(root, snap, &r);
out:
	t1 = mono_ns();
	r.st.listed = r.listed;
	if (r.st.wanted)
		na_log(NA_LOG_DEBUG,
		       "owners: %zu rows without owner, %zu listed by sock_diag (%zu dumps, %zu sockets), %zu resolved, %zu unknown; %zu processes, %zu fds read (%zu processes not readable); %.2f ms: sock_diag %.2f, /proc %.2f, set %.2f",
		       r.st.wanted, r.st.listed, r.st.dumps, r.st.diag_socks, r.st.resolved, r.st.unknown, r.st.procs,
		       r.st.fds, r.st.procs_denied, (t1 - t0) / 1e6, (t_diag - t0) / 1e6, (t_proc - t_diag) / 1e6,
		       (t1 - t_proc) / 1e6);
	if (stats)
		*stats = r.st;
	free(r.by_ino);
	free(r.w);
	return err;
}
