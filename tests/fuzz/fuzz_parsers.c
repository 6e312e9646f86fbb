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
 *   5  a networks file (peer classes)         (agent/netclass.c)
 *   6  a cgroup path (units, containers, pods) (agent/names.c)
 *   7  a DNS name in wire form, from na_dns   (agent/dnsnames.c)
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

/* A parsed networks file keeps its bounds: every address has a class of the file or none. */
static void networks(FILE *f)
{
	static const uint8_t probe[][16] = {
		{ 10, 2, 7, 41 }, { 127, 0, 0, 1 }, { 8, 8, 8, 8 }, { 255, 255, 255, 255 },
		{ 0xfd, 0, [15] = 1 }, { 0xfe, 0x80, [15] = 1 }, { 0x20, 0x01, 0x0d, 0xb8, [15] = 1 },
		{ [10] = 0xff, [11] = 0xff, 10, 0, 0, 1 },
	};
	struct na_netclass *c = NULL;
	size_t i;
	int k;

	if (na_netclass_parse(f, "fuzz.networks", &c))
		return;
	for (i = 0; i < NA_ARRAY_SIZE(probe); i++) {
		k = na_netclass_of(c, i < 4 ? NA_F_IPV4 : NA_F_IPV6, probe[i]);
		if (k < 0 || k >= na_netclass_count(c) || !na_netclass_name(c, k)[0])
			abort(); /* a real address always has a class (internet at least) */
	}
	na_netclass_free(c);
}

/* A parsed path keeps its bounds: NUL-terminated names, an id with its runtime, a pod with its QoS. */
static void cgpath(const uint8_t *data, size_t size)
{
	struct na_cgpath_info in;
	char *path = malloc(size + 1);

	if (!path)
		return;
	memcpy(path, data, size);
	path[size] = '\0';
	if (!na_cgpath_parse(path, &in)) {
		if (!memchr(in.n.unit, 0, sizeof(in.n.unit)) || !memchr(in.n.container_id, 0, sizeof(in.n.container_id)))
			abort();
		if ((in.id[0] != 0) != (in.runtime != NA_RT_NONE) || (in.id[0] && strlen(in.id) != 64))
			abort();
		if ((in.n.pod_uid[0] != 0) != (in.n.qos[0] != 0))
			abort();
	}
	free(path);
}

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
	switch (data[0] % 8) {
	case 0:
	case 1:
	case 5:
		f = fmemopen((void *)(data + 1), size - 1 ? size - 1 : 1, "r");
		if (!f)
			return 0;
		if (data[0] % 7 == 5) {
			networks(f);
		} else if (data[0] % 7 == 0) {
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
	case 6:
		cgpath(data + 1, size - 1);
		break;
	case 7: {
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
	default: {
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
