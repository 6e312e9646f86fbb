// SPDX-License-Identifier: (BSD-2-Clause OR GPL-2.0)
/*
 * libFuzzer target for the parsers of text and data netacct reads from
 * outside (docs/testing.md). The first byte picks the parser, the
 * rest is its input:
 *   0  the agent's configuration file        (agent/conf.c)
 *   1  /proc/self/mountinfo, cgroup2 and v1  (agent/cgroup.c)
 *   2  a /proc/PID/fd link                    (agent/owners.c)
 *   3  /proc/PID/comm                         (agent/owners.c)
 *   4  a sock_diag dump reply datagram        (agent/owners.c)
 *   5  a DNS name in wire form, from na_dns   (agent/dnsnames.c)
 * Every parser must return without a memory error or undefined behaviour
 * (the build adds ASan and UBSan) and keep its documented contract, checked
 * below where there is one.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "netacct.h"

static int on_sock(const struct na_diag_sock *d, void *ctx)
{
	size_t *n = ctx;

	(*n)++;
	return d->family == 0xff ? 1 : 0; /* a callback's non-zero ends the parse */
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct na_v1mounts v1;
	struct na_cg2mount m;
	struct na_conf c;
	char comm[NA_COMM_LEN];
	uint64_t inode;
	size_t n = 0;
	FILE *f;
	int r;

	if (size < 1)
		return 0;
	switch (data[0] % 6) {
	case 0:
	case 1:
		f = fmemopen((void *)(data + 1), size - 1 ? size - 1 : 1, "r");
		if (!f)
			return 0;
		if (data[0] % 5 == 0) {
			if (!na_conf_parse(f, "fuzz.conf", &c)) {
				if (!c.nattach || c.rescan_s < 1 || c.rescan_s > 3600 || !c.listen_port)
					abort(); /* a parsed configuration keeps its documented bounds */
				na_conf_free(&c);
			}
		} else {
			if (!na_mountinfo_cgroup2(f, NULL, &m) && (!memchr(m.dir, 0, sizeof(m.dir)) || m.dir[0] == 0))
				abort();
			rewind(f);
			na_mountinfo_v1(f, &v1);
			if (!memchr(v1.net, 0, sizeof(v1.net)))
				abort();
		}
		fclose(f);
		break;
	case 2:
		r = na_owners_parse_fdlink((const char *)data + 1, size - 1, &inode);
		if (r && r != -EINVAL)
			abort();
		break;
	case 3:
		na_owners_parse_comm((const char *)data + 1, size - 1, comm);
		if (comm[NA_COMM_LEN - 1] != 0)
			abort(); /* always NUL-terminated */
		break;
	case 5: {
		/* The kernel stores any bytes an answer had: the text must stay within its buffer. */
		uint8_t *wire = malloc(size - 1 ? size - 1 : 1);
		char text[64];
		size_t len;

		if (!wire)
			return 0;
		memcpy(wire, data + 1, size - 1);
		len = na_dns_name_text(wire, size - 1, text, sizeof(text));
		if (len >= sizeof(text) || strlen(text) != len)
			abort();
		free(wire);
		break;
	}
	case 4: {
		/* In an exact-size, aligned copy, as recv() gives it: overreads hit ASan's redzone. */
		void *buf = malloc(size - 1 ? size - 1 : 1);

		if (!buf)
			return 0;
		memcpy(buf, data + 1, size - 1);
		r = na_owners_parse_diag(buf, size - 1, 7, on_sock, &n);
		(void)r;
		free(buf);
		break;
	}
	}
	return 0;
}
