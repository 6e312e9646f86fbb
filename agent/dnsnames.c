// SPDX-License-Identifier: (BSD-2-Clause OR GPL-2.0)
/*
 * Peer names from the DNS answers a cgroup received (na_dns): the text of a
 * name, and which name a socket's peer has. The kernel side learns them
 * (dns_learn() in bpf/netacct.bpf.c); docs/accounting.md says what can and
 * cannot be named.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <bpf/bpf.h>

#include "netacct.h"

/* Append text at out[*o], NUL-terminated; 0 when it does not fit (nothing written). */
static int put(char *out, size_t size, size_t *o, const char *text)
{
	size_t n = strlen(text);

	if (*o + n + 1 > size)
		return 0;
	memcpy(out + *o, text, n + 1);
	*o += n;
	return 1;
}

size_t na_dns_name_text(const uint8_t *wire, size_t len, char *out, size_t size)
{
	size_t i = 0, o = 0, l, j;
	char esc[8];

	if (!size)
		return 0;
	out[0] = '\0';
	while (i < len && wire[i] && !(wire[i] & 0xC0)) {
		l = wire[i++];
		if (i + l > len || (o && !put(out, size, &o, ".")))
			break;
		for (j = 0; j < l; j++, i++) {
			unsigned char c = wire[i];

			/* As dig shows a name: a character that is not plain is \DDD, a dot inside a label \. */
			if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
			    c == '_')
				snprintf(esc, sizeof(esc), "%c", c);
			else if (c == '.' || c == '\\')
				snprintf(esc, sizeof(esc), "\\%c", c);
			else
				snprintf(esc, sizeof(esc), "\\%03u", c);
			if (!put(out, size, &o, esc))
				return o;
		}
	}
	return o;
}

/*
 * Does an answer name a socket whose first packet came at first_ns (0:
 * unknown)? A socket begun after the answer expired may talk to another
 * holder of the address. A short TTL (0: "do not cache") still names what
 * the application did right after the lookup.
 */
static int name_valid(uint64_t learnt_ns, uint64_t expires_ns, uint64_t first_ns)
{
	uint64_t until = expires_ns;

	if (until < learnt_ns + NA_DNS_MIN_VALID_NS)
		until = learnt_ns + NA_DNS_MIN_VALID_NS;
	return !first_ns || first_ns <= until;
}

static int no_addr(const uint8_t *addr)
{
	static const uint8_t none[16];

	/* No peer (an unconnected socket's row) is no address, whatever an answer said of 0.0.0.0. */
	return !memcmp(addr, none, 16);
}

int na_dns_lookup(int fd, uint64_t cgroup_id, uint8_t family, const uint8_t *addr, uint64_t first_ns, char *out,
		  size_t size)
{
	struct na_dns_key k = { .cgroup_id = cgroup_id, .family = family };
	struct na_dns_name v;

	if (size)
		out[0] = '\0';
	if (fd < 0 || !family || no_addr(addr))
		return 0;
	memcpy(k.addr, addr, 16);
	if (bpf_map_lookup_elem(fd, &k, &v) || !name_valid(v.learnt_ns, v.expires_ns, first_ns))
		return 0;
	return na_dns_name_text(v.name, v.len < NA_DNS_NAME_MAX ? v.len : NA_DNS_NAME_MAX, out, size) > 0;
}

static int name_cmp(const struct na_peername *a, uint64_t cgroup_id, uint8_t family, const uint8_t *addr)
{
	int c;

	if ((c = NA_CMP(a->cgroup_id, cgroup_id)) || (c = NA_CMP(a->family, family)))
		return c;
	return memcmp(a->addr, addr, 16);
}

static int name_sort(const void *pa, const void *pb)
{
	const struct na_peername *b = pb;

	return name_cmp(pa, b->cgroup_id, b->family, b->addr);
}

int na_peernames_from_map(const struct na_dns_key *keys, const struct na_dns_name *vals, size_t n,
		      struct na_peername **out, size_t *nout)
{
	struct na_peername *rows = calloc(n ? n : 1, sizeof(*rows));
	char text[NA_DNS_NAME_MAX * 4 + 1];
	size_t i, m = 0;

	if (!rows)
		return -ENOMEM;
	for (i = 0; i < n; i++) {
		struct na_peername *r = &rows[m];

		if (!na_dns_name_text(vals[i].name, vals[i].len < NA_DNS_NAME_MAX ? vals[i].len : NA_DNS_NAME_MAX,
				      text, sizeof(text)))
			continue; /* the root: no name */
		r->cgroup_id = keys[i].cgroup_id;
		r->family = keys[i].family;
		memcpy(r->addr, keys[i].addr, 16);
		r->learnt_ns = vals[i].learnt_ns;
		r->expires_ns = vals[i].expires_ns;
		r->name = strdup(text);
		if (!r->name) {
			na_peernames_free(rows, m);
			return -ENOMEM;
		}
		m++;
	}
	if (m)
		qsort(rows, m, sizeof(*rows), name_sort);
	*out = rows;
	*nout = m;
	return 0;
}

void na_peernames_free(struct na_peername *rows, size_t n)
{
	size_t i;

	for (i = 0; rows && i < n; i++)
		free(rows[i].name);
	free(rows);
}

const char *na_peernames_find(const struct na_peername *rows, size_t n, uint64_t cgroup_id, uint8_t family,
			  const uint8_t *addr, uint64_t first_ns)
{
	size_t lo = 0, hi = n, mid;
	int c;

	if (!n || !family || no_addr(addr))
		return NULL;
	while (lo < hi) {
		mid = (lo + hi) / 2;
		c = name_cmp(&rows[mid], cgroup_id, family, addr);
		if (!c)
			return name_valid(rows[mid].learnt_ns, rows[mid].expires_ns, first_ns) ? rows[mid].name : NULL;
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}
