// SPDX-License-Identifier: (BSD-2-Clause OR GPL-2.0)
/*
 * unit.owners: the parsers of agent/owners.c on crafted input: /proc fd
 * links, /proc/PID/comm, and sock_diag dump replies built here byte by byte
 * (lengths that lie, truncation, errors, foreign sequence numbers). No
 * privilege, no sockets, no filesystem state.
 *
 * One line per failed check ("FAIL file:line: what: actual ..., expected ...")
 * and a last line "N passed, N failed". Exit 0 when all passed, 1 otherwise.
 */
#include <errno.h>
#include <linux/inet_diag.h>
#include <linux/netlink.h>
#include <linux/sock_diag.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "netacct.h"

#pragma GCC poison u8 u16 u32 u64

#include "check.h"

/* ---- /proc/PID/fd links ------------------------------------------------- */

static void fdlink_case(const char *link, size_t len, int err, uint64_t inode)
{
	uint64_t got = 0xdead;
	char what[160];
	int rc = na_owners_parse_fdlink(link, len, &got);

	snprintf(what, sizeof(what), "fdlink \"%.*s\" (len %zu): result", (int)len, link, len);
	ASSERT_EQ(rc, err, what);
	snprintf(what, sizeof(what), "fdlink \"%.*s\" (len %zu): inode", (int)len, link, len);
	ASSERT_EQ(got, rc ? 0xdead : inode, what); /* untouched on failure */
}

#define FDLINK(s, err, ino) fdlink_case((s), sizeof(s) - 1, (err), (ino))

static void test_fdlink(void)
{
	FDLINK("socket:[12345]", 0, 12345);
	FDLINK("socket:[1]", 0, 1);
	FDLINK("socket:[0]", 0, 0);
	FDLINK("socket:[18446744073709551615]", 0, UINT64_MAX);
	FDLINK("socket:[18446744073709551616]", -EINVAL, 0); /* 2^64: overflow */
	FDLINK("socket:[99999999999999999999]", -EINVAL, 0);
	FDLINK("socket:[]", -EINVAL, 0);
	FDLINK("socket:[", -EINVAL, 0);
	FDLINK("socket:[123", -EINVAL, 0);
	FDLINK("socket:[123]x", -EINVAL, 0);
	FDLINK("socket:[12a]", -EINVAL, 0);
	FDLINK("socket:[-1]", -EINVAL, 0);
	FDLINK("socket:[+1]", -EINVAL, 0);
	FDLINK("socket:[ 1]", -EINVAL, 0);
	FDLINK("socket:[0x10]", -EINVAL, 0);
	FDLINK("Socket:[1]", -EINVAL, 0);
	FDLINK("socket:(1)", -EINVAL, 0);
	FDLINK("pipe:[12345]", -EINVAL, 0);
	FDLINK("anon_inode:[eventpoll]", -EINVAL, 0);
	FDLINK("anon_inode:bpf-map", -EINVAL, 0);
	FDLINK("/dev/null", -EINVAL, 0);
	FDLINK("/tmp/socket:[1]", -EINVAL, 0);
	FDLINK("", -EINVAL, 0);
	/* readlink() does not terminate, and truncates: only len bytes count. */
	fdlink_case("socket:[12345]", 12, -EINVAL, 0);
	fdlink_case("socket:[7]trailing", 10, 0, 7);
	fdlink_case("socket:[42]\0", 11, 0, 42);
	fdlink_case("socket:[4\0002]", 12, -EINVAL, 0);
}

/* ---- /proc/PID/comm ----------------------------------------------------- */

static void comm_case(const char *buf, size_t len, const char *expected)
{
	char comm[NA_COMM_LEN], want[NA_COMM_LEN] = { 0 }, what[96];

	memset(comm, 'X', sizeof(comm));
	memcpy(want, expected, strlen(expected));
	na_owners_parse_comm(buf, len, comm);
	snprintf(what, sizeof(what), "comm from \"%.*s\" (NUL-padded, 16 bytes)", (int)len, buf);
	ASSERT_MEMEQ(comm, want, NA_COMM_LEN, what);
}

#define COMM(s, e) comm_case((s), sizeof(s) - 1, (e))

static void test_comm(void)
{
	COMM("nginx\n", "nginx");
	COMM("nginx", "nginx");
	COMM("\n", "");
	COMM("", "");
	COMM("a b\n", "a b");
	COMM("a\n\n", "a\n"); /* one newline is the file's; a comm may hold one too */
	COMM("0123456789abcde\n", "0123456789abcde"); /* the kernel's maximum: 15 */
	COMM("0123456789abcdefghij\n", "0123456789abcde");
	COMM("0123456789abcdef", "0123456789abcde");
}

/* ---- sock_diag dump replies ---------------------------------------------- */

#define SEQ 0x1234

/* A datagram the way the kernel lays it out: aligned messages back to back. */
struct dgram {
	union {
		char b[4096];
		struct nlmsghdr align;
	};
	size_t len;
};

static void *put(struct dgram *d, uint16_t type, uint32_t seq, const void *payload, size_t plen)
{
	struct nlmsghdr *h = (struct nlmsghdr *)(d->b + d->len);

	memset(h, 0, NLMSG_SPACE(plen));
	h->nlmsg_len = NLMSG_LENGTH(plen);
	h->nlmsg_type = type;
	h->nlmsg_flags = NLM_F_MULTI;
	h->nlmsg_seq = seq;
	if (payload)
		memcpy(NLMSG_DATA(h), payload, plen);
	d->len += NLMSG_SPACE(plen);
	return h;
}

static struct inet_diag_msg diag_msg(uint64_t cookie, uint32_t inode, uint32_t uid, uint8_t family, uint8_t state)
{
	struct inet_diag_msg m;

	memset(&m, 0, sizeof(m));
	m.idiag_family = family;
	m.idiag_state = state;
	/* As the kernel's sock_diag_save_cookie() stores it: low half first. */
	m.id.idiag_cookie[0] = (uint32_t)cookie;
	m.id.idiag_cookie[1] = (uint32_t)(cookie >> 32);
	m.idiag_inode = inode;
	m.idiag_uid = uid;
	return m;
}

static void put_sock(struct dgram *d, uint32_t seq, uint64_t cookie, uint32_t inode, uint32_t uid)
{
	struct inet_diag_msg m = diag_msg(cookie, inode, uid, AF_INET, NA_TCP_ESTABLISHED);

	put(d, SOCK_DIAG_BY_FAMILY, seq, &m, sizeof(m));
}

static void put_done(struct dgram *d, uint32_t seq, int err)
{
	put(d, NLMSG_DONE, seq, &err, sizeof(err));
}

static void put_error(struct dgram *d, uint32_t seq, int err)
{
	struct nlmsgerr e;

	memset(&e, 0, sizeof(e));
	e.error = err;
	put(d, NLMSG_ERROR, seq, &e, sizeof(e));
}

struct seen {
	struct na_diag_sock s[8];
	int n;
	int stop_at; /* return 7 from the callback at this call (1-based), 0 never */
};

static int collect(const struct na_diag_sock *d, void *ctx)
{
	struct seen *v = ctx;

	if (v->n < 8)
		v->s[v->n] = *d;
	v->n++;
	return v->stop_at && v->n == v->stop_at ? 7 : 0;
}

static int parse(const struct dgram *d, size_t len, struct seen *v)
{
	memset(v->s, 0, sizeof(v->s));
	v->n = 0;
	return na_owners_parse_diag(d->b, len, SEQ, collect, v);
}

static void test_diag(void)
{
	struct dgram d;
	struct seen v = { .stop_at = 0 };
	struct inet_diag_msg m;
	char attrs[sizeof(m) + 24];
	struct nlmsghdr *h;

	/* Two sockets and the end of the dump in one datagram. */
	memset(&d, 0, sizeof(d));
	put_sock(&d, SEQ, 0x0123456789abcdefull, 4242, 1000);
	m = diag_msg(77, 0, 0, AF_INET6, NA_TCP_LISTEN);
	put(&d, SOCK_DIAG_BY_FAMILY, SEQ, &m, sizeof(m));
	put_done(&d, SEQ, 0);
	ASSERT_EQ(parse(&d, d.len, &v), 1, "two sockets + DONE: returns 1");
	ASSERT_EQ(v.n, 2, "two sockets + DONE: callbacks");
	ASSERT_EQ(v.s[0].cookie, 0x0123456789abcdefull, "cookie = cookie[0] | cookie[1] << 32");
	ASSERT_EQ(v.s[0].inode, 4242, "inode");
	ASSERT_EQ(v.s[0].uid, 1000, "uid");
	ASSERT_EQ(v.s[0].family, AF_INET, "family");
	ASSERT_EQ(v.s[0].state, NA_TCP_ESTABLISHED, "state");
	ASSERT_EQ(v.s[1].cookie, 77, "second cookie (high half 0)");
	ASSERT_EQ(v.s[1].inode, 0, "second inode 0 (no file)");
	ASSERT_EQ(v.s[1].family, AF_INET6, "second family");
	ASSERT_EQ(v.s[1].state, NA_TCP_LISTEN, "second state");

	/* A datagram in the middle of a dump: no DONE yet. */
	memset(&d, 0, sizeof(d));
	put_sock(&d, SEQ, 1, 11, 0);
	ASSERT_EQ(parse(&d, d.len, &v), 0, "no DONE: more to come (0)");
	ASSERT_EQ(v.n, 1, "no DONE: one callback");
	ASSERT_EQ(parse(&d, 0, &v), 0, "empty datagram: 0");
	ASSERT_EQ(v.n, 0, "empty datagram: no callback");

	/* Replies to another request are skipped, whatever they say. */
	memset(&d, 0, sizeof(d));
	put_sock(&d, SEQ - 1, 5, 55, 0);
	put_error(&d, SEQ - 1, -EPERM);
	put_done(&d, SEQ - 1, 0);
	put_sock(&d, SEQ, 6, 66, 0);
	ASSERT_EQ(parse(&d, d.len, &v), 0, "foreign seq skipped, ours parsed");
	ASSERT_EQ(v.n, 1, "foreign seq: one callback");
	ASSERT_EQ(v.s[0].cookie, 6, "foreign seq: ours");

	/* Other message types are skipped. */
	memset(&d, 0, sizeof(d));
	put(&d, NLMSG_NOOP, SEQ, NULL, 0);
	put(&d, 0x7f, SEQ, "abcd", 4);
	put_sock(&d, SEQ, 8, 88, 0);
	ASSERT_EQ(parse(&d, d.len, &v), 0, "NOOP and unknown types skipped");
	ASSERT_EQ(v.n, 1, "skipped types: one callback");

	/* Attributes after the message (INET_DIAG_*): ignored, the next message still found. */
	memset(&d, 0, sizeof(d));
	m = diag_msg(9, 99, 0, AF_INET, NA_TCP_ESTABLISHED);
	memset(attrs, 0xa5, sizeof(attrs));
	memcpy(attrs, &m, sizeof(m));
	put(&d, SOCK_DIAG_BY_FAMILY, SEQ, attrs, sizeof(attrs));
	put_sock(&d, SEQ, 10, 100, 0);
	put_done(&d, SEQ, 0);
	ASSERT_EQ(parse(&d, d.len, &v), 1, "attributes: DONE reached");
	ASSERT_EQ(v.n, 2, "attributes: both messages");
	ASSERT_EQ(v.s[1].cookie, 10, "attributes: second message intact");

	/* Errors. */
	memset(&d, 0, sizeof(d));
	put_error(&d, SEQ, -ENOENT);
	ASSERT_EQ(parse(&d, d.len, &v), -ENOENT, "NLMSG_ERROR -ENOENT (no diag module)");
	memset(&d, 0, sizeof(d));
	put_error(&d, SEQ, 0);
	ASSERT_EQ(parse(&d, d.len, &v), -EBADMSG, "NLMSG_ERROR 0 (an ACK nobody asked for)");
	memset(&d, 0, sizeof(d));
	put(&d, NLMSG_ERROR, SEQ, "\xfe\xff\xff\xff", 4);
	ASSERT_EQ(parse(&d, d.len, &v), -EBADMSG, "NLMSG_ERROR shorter than struct nlmsgerr");
	memset(&d, 0, sizeof(d));
	put_sock(&d, SEQ, 1, 1, 0);
	put_done(&d, SEQ, -EINTR);
	ASSERT_EQ(parse(&d, d.len, &v), -EINTR, "DONE carrying a negative errno: the dump failed");
	memset(&d, 0, sizeof(d));
	put(&d, NLMSG_DONE, SEQ, NULL, 0);
	ASSERT_EQ(parse(&d, d.len, &v), 1, "DONE without payload");

	/* Lengths that lie. */
	memset(&d, 0, sizeof(d));
	put_sock(&d, SEQ, 1, 1, 0);
	ASSERT_EQ(parse(&d, d.len - 4, &v), -EBADMSG, "message longer than the datagram");
	ASSERT_EQ(v.n, 0, "... not parsed");
	memset(&d, 0, sizeof(d));
	put_sock(&d, SEQ, 1, 1, 0);
	ASSERT_EQ(parse(&d, d.len + 3, &v), -EBADMSG, "3 stray bytes after a message");
	ASSERT_EQ(v.n, 1, "... the whole message before them parsed");
	memset(&d, 0, sizeof(d));
	h = put(&d, SOCK_DIAG_BY_FAMILY, SEQ, NULL, 0);
	h->nlmsg_len = 8; /* shorter than its own header */
	ASSERT_EQ(parse(&d, d.len, &v), -EBADMSG, "nlmsg_len < header");
	memset(&d, 0, sizeof(d));
	h = put(&d, SOCK_DIAG_BY_FAMILY, SEQ, NULL, 0);
	h->nlmsg_len = 0xffffffff;
	ASSERT_EQ(parse(&d, d.len, &v), -EBADMSG, "nlmsg_len 4 GiB");
	memset(&d, 0, sizeof(d));
	put(&d, SOCK_DIAG_BY_FAMILY, SEQ, &m, sizeof(m) - 1);
	ASSERT_EQ(parse(&d, d.len, &v), -EBADMSG, "inet_diag_msg one byte short");
	ASSERT_EQ(v.n, 0, "... no callback");

	/* The callback stops the walk. */
	memset(&d, 0, sizeof(d));
	put_sock(&d, SEQ, 1, 1, 0);
	put_sock(&d, SEQ, 2, 2, 0);
	put_sock(&d, SEQ, 3, 3, 0);
	put_done(&d, SEQ, 0);
	v.stop_at = 2;
	ASSERT_EQ(parse(&d, d.len, &v), 7, "callback's return passed back");
	ASSERT_EQ(v.n, 2, "... and nothing after it");
}

int main(void)
{
	test_fdlink();
	test_comm();
	test_diag();
	return check_summary();
}
