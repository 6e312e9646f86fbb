// SPDX-License-Identifier: (BSD-2-Clause OR GPL-2.0)
/*
 * Peer classes (docs/names.md): where a row's bytes went, by named lists of
 * networks. A networks file names classes ("internal 10.0.0.0/8 fd00::/8");
 * the built-in classes name the address ranges every host has (loopback,
 * link-local, private, multicast) and `internet` the rest. The longest
 * prefix wins, a user's network over a built-in one of the same length.
 *
 * Classes are applied in user space to rows that already carry their peer:
 * the kernel's per-packet path does nothing for them. A lookup is a binary
 * search per distinct prefix length, longest first.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

#pragma GCC poison u8 u16 u32 u64

#define MAX_NETWORKS (1u << 18) /* networks a file may list */
#define MAX_LINE (1u << 16)

struct net {
	uint8_t a[16];      /* masked; IPv4 in the first 4 bytes */
	uint8_t len;
	uint8_t v6;
	uint8_t user;       /* from the file (wins over a built-in network of the same prefix) */
	int cls;
	unsigned line;
};

struct level {
	size_t begin, end;  /* nets[begin, end): one prefix length */
	uint8_t len;
};

struct fam {
	struct net *nets;   /* by prefix length (longest first), then address */
	size_t n;
	struct level lv[129];
	size_t nlv;
};

struct na_netclass {
	char names[NA_NETCLASS_MAX + 8][NA_NETCLASS_NAME_MAX];
	int nclass;
	struct fam fam[2];  /* IPv4, IPv6 */
};

/* The built-in classes: ranges that are not the internet, whatever the host (IANA's special-purpose registries). */
static const struct {
	const char *cls;
	const char *nets[6];
} builtin[] = {
	{ "loopback", { "127.0.0.0/8", "::1/128" } },
	/* the limited broadcast never leaves the link either */
	{ "link-local", { "169.254.0.0/16", "fe80::/10", "255.255.255.255/32" } },
	/* RFC 1918, unique local IPv6, and RFC 6598's shared space (carrier NAT, pod and VPN ranges) */
	{ "private", { "10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "100.64.0.0/10", "fc00::/7" } },
	{ "multicast", { "224.0.0.0/4", "ff00::/8" } },
	{ "internet", { "0.0.0.0/0", "::/0" } },
};

/* Clear the bits of a past len (a lookup masks once per prefix length: bytes at a time). */
static void mask(uint8_t *a, unsigned len)
{
	unsigned byte = len / 8;

	if (byte >= 16)
		return;
	if (len % 8)
		a[byte++] &= (uint8_t)(0xffu << (8 - len % 8));
	memset(a + byte, 0, 16 - byte);
}

/* "10.0.0.0/8", "fd00::/8", "192.0.2.1" (one host): 0, or -1 with *why. */
static int parse_cidr(const char *s, struct net *n, const char **why)
{
	char addr[64], *slash;
	uint8_t raw[16];
	uint64_t len;
	int max;

	memset(n, 0, sizeof(*n));
	if (strlen(s) >= sizeof(addr)) {
		*why = "not an address or ADDRESS/LENGTH";
		return -1;
	}
	snprintf(addr, sizeof(addr), "%s", s);
	slash = strchr(addr, '/');
	if (slash)
		*slash++ = '\0';
	memset(raw, 0, sizeof(raw));
	if (inet_pton(AF_INET, addr, raw) == 1) {
		max = 32;
	} else if (inet_pton(AF_INET6, addr, raw) == 1) {
		max = 128;
		n->v6 = 1;
	} else {
		*why = "not an address or ADDRESS/LENGTH";
		return -1;
	}
	if (!slash) {
		len = (uint64_t)max;
	} else if (na_parse_u64(slash, 0, (uint64_t)max, &len)) {
		*why = max == 32 ? "the prefix length of an IPv4 network is 0 to 32" : "the prefix length of an IPv6 network is 0 to 128";
		return -1;
	}
	memcpy(n->a, raw, 16);
	mask(n->a, (unsigned)len);
	if (memcmp(n->a, raw, 16)) {
		*why = "bits set past the prefix length (write the network's first address)";
		return -1;
	}
	n->len = (uint8_t)len;
	return 0;
}

static int name_ok(const char *s)
{
	size_t i, n = strlen(s);

	if (!n || n >= NA_NETCLASS_NAME_MAX || !isalnum((unsigned char)s[0]))
		return 0;
	for (i = 0; i < n; i++)
		if (!isalnum((unsigned char)s[i]) && s[i] != '-' && s[i] != '_' && s[i] != '.')
			return 0;
	return 1;
}

static int class_index(struct na_netclass *c, const char *name)
{
	int i;

	for (i = 0; i < c->nclass; i++)
		if (!strcmp(c->names[i], name))
			return i;
	if (c->nclass >= (int)(NA_ARRAY_SIZE(builtin) + NA_NETCLASS_MAX))
		return -1;
	snprintf(c->names[c->nclass], sizeof(c->names[0]), "%s", name);
	return c->nclass++;
}

static int add_net(struct fam *f, const struct net *n, size_t *cap)
{
	struct net *v;

	if (f->n == *cap) {
		v = realloc(f->nets, (*cap ? *cap * 2 : 32) * sizeof(*v));
		if (!v)
			return -ENOMEM;
		f->nets = v;
		*cap = *cap ? *cap * 2 : 32;
	}
	f->nets[f->n++] = *n;
	return 0;
}

/* Longest prefix first, then the address; on a tie the user's network first. */
static int net_cmp(const void *pa, const void *pb)
{
	const struct net *a = pa, *b = pb;
	int c;

	if ((c = NA_CMP(b->len, a->len)) || (c = memcmp(a->a, b->a, 16)) || (c = NA_CMP(!a->user, !b->user)))
		return c;
	return NA_CMP(a->line, b->line);
}

/* Sort, refuse a network a file names twice, drop the built-in ones it names, and index by length. */
static int finish(struct na_netclass *c, const char *name)
{
	int k;
	size_t i, j;

	for (k = 0; k < 2; k++) {
		struct fam *f = &c->fam[k];

		if (f->n)
			qsort(f->nets, f->n, sizeof(*f->nets), net_cmp);
		for (i = j = 0; i < f->n; i++) {
			struct net *n = &f->nets[i];

			if (j && f->nets[j - 1].len == n->len && !memcmp(f->nets[j - 1].a, n->a, 16)) {
				if (n->user) {
					char a[INET6_ADDRSTRLEN];

					inet_ntop(k ? AF_INET6 : AF_INET, n->a, a, sizeof(a));
					na_log(NA_LOG_ERROR, "%s:%u: %s/%u: already in class %s (line %u)", name, n->line, a,
					       n->len, c->names[f->nets[j - 1].cls], f->nets[j - 1].line);
					return -EINVAL;
				}
				continue; /* a built-in network the file names: the file's class */
			}
			f->nets[j++] = *n;
		}
		f->n = j;
		f->nlv = 0;
		for (i = 0; i < f->n; i++) {
			if (!f->nlv || f->lv[f->nlv - 1].len != f->nets[i].len)
				f->lv[f->nlv++] = (struct level){ .begin = i, .len = f->nets[i].len };
			f->lv[f->nlv - 1].end = i + 1;
		}
	}
	return 0;
}

void na_netclass_free(struct na_netclass *c)
{
	if (!c)
		return;
	free(c->fam[0].nets);
	free(c->fam[1].nets);
	free(c);
}

/* The built-in classes, each network of them a row in c. 0 or -ENOMEM. */
static int add_builtin(struct na_netclass *c, size_t cap[2])
{
	const char *why = NULL;
	struct net n;
	size_t i, j;
	int k;

	for (i = 0; i < NA_ARRAY_SIZE(builtin); i++) {
		k = class_index(c, builtin[i].cls);
		for (j = 0; j < NA_ARRAY_SIZE(builtin[i].nets) && builtin[i].nets[j]; j++) {
			if (parse_cidr(builtin[i].nets[j], &n, &why))
				abort(); /* the table above is wrong */
			n.cls = k;
			if (add_net(&c->fam[n.v6], &n, &cap[n.v6]))
				return -ENOMEM;
		}
	}
	return 0;
}

/* Where a file's lines go, and what its last bad line was. */
struct netclass_reader {
	struct na_netclass *c;
	size_t cap[2];   /* of c->fam[].nets */
	size_t total;    /* networks read from the file */
	unsigned lineno;
	const char *bad; /* the word at fault, or NULL */
	const char *why;
};

static int line_error(struct netclass_reader *r, const char *bad, const char *why)
{
	r->bad = bad;
	if (why)
		r->why = why;
	return -EINVAL;
}

/* One line, "NAME CIDR [CIDR...]", into r->c: 0, -EINVAL with r->bad and r->why set, or -ENOMEM. */
static int parse_line(struct netclass_reader *r, char *line, size_t len)
{
	char *s, *tok, *save = NULL, *cls;
	struct net n;
	int k;

	if (len > MAX_LINE)
		return line_error(r, NULL, "line longer than 65536 bytes (name the class again on another line)");
	if (memchr(line, '\0', len))
		return line_error(r, NULL, "a NUL byte");
	na_cut_comment(line);
	s = na_trim(line);
	if (!*s)
		return 0;
	cls = strtok_r(s, " \t", &save);
	if (!parse_cidr(cls, &n, &r->why))
		return line_error(r, cls, "the class's name comes first: NAME CIDR [CIDR...]");
	if (!name_ok(cls))
		return line_error(r, cls, "a class name is letters, digits, '-', '_' or '.', starting with a letter or digit, at most 63");
	k = class_index(r->c, cls);
	if (k < 0)
		return line_error(r, cls, "more than 64 classes");
	tok = strtok_r(NULL, " \t", &save);
	if (!tok)
		return line_error(r, cls, "no network: NAME CIDR [CIDR...]");
	for (; tok; tok = strtok_r(NULL, " \t", &save)) {
		if (parse_cidr(tok, &n, &r->why))
			return line_error(r, tok, NULL);
		if (++r->total > MAX_NETWORKS)
			return line_error(r, tok, "more than 262144 networks");
		n.cls = k;
		n.user = 1;
		n.line = r->lineno;
		if (add_net(&r->c->fam[n.v6], &n, &r->cap[n.v6]))
			return -ENOMEM;
	}
	return 0;
}

int na_netclass_parse(FILE *f, const char *name, struct na_netclass **out)
{
	struct netclass_reader r = { .c = calloc(1, sizeof(*r.c)) };
	char *line = NULL;
	size_t lcap = 0;
	ssize_t got;
	int err = -ENOMEM;

	*out = NULL;
	if (!r.c)
		return na_err(-ENOMEM, "networks");
	if (add_builtin(r.c, r.cap))
		goto nomem;
	while (f && (got = getline(&line, &lcap, f)) >= 0) {
		r.lineno++;
		err = parse_line(&r, line, (size_t)got);
		if (err == -ENOMEM)
			goto nomem;
		if (err) {
			na_log(NA_LOG_ERROR, "%s:%u: %s%s%s", name, r.lineno, r.bad ? r.bad : "", r.bad ? ": " : "", r.why);
			goto out;
		}
	}
	if (f && ferror(f))
		err = na_err(-EIO, "read %s", name);
	else
		err = finish(r.c, name);
	if (!err) {
		*out = r.c;
		r.c = NULL;
	}
	goto out;
nomem:
	err = na_err(-ENOMEM, "networks %s", name ? name : "");
out:
	free(line);
	na_netclass_free(r.c);
	return err;
}

int na_netclass_load(const char *path, struct na_netclass **out)
{
	const char *p = path ? path : NA_NETWORKS_DEFAULT_PATH;
	FILE *f = fopen(p, "re");
	int err;

	*out = NULL;
	if (!f && !path && errno == ENOENT)
		return na_netclass_parse(NULL, "built-in", out);
	if (!f)
		return na_err(-errno, "networks file %s", p);
	err = na_netclass_parse(f, p, out);
	fclose(f);
	return err;
}

int na_netclass_of(const struct na_netclass *c, uint8_t family, const uint8_t addr[16])
{
	static const uint8_t zero[16], mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };
	const struct fam *f;
	uint8_t a[16];
	size_t i, lo, hi, mid;
	int v6 = family == NA_F_IPV6, r;

	if (!c || (family != NA_F_IPV4 && !v6) || !memcmp(addr, zero, v6 ? 16 : 4))
		return -1;
	memset(a, 0, sizeof(a));
	if (v6 && !memcmp(addr, mapped, 12)) {
		memcpy(a, addr + 12, 4); /* an IPv4-mapped address is that IPv4 address */
		v6 = 0;
	} else {
		memcpy(a, addr, v6 ? 16 : 4);
	}
	f = &c->fam[v6];
	for (i = 0; i < f->nlv; i++) {
		uint8_t m[16];

		memcpy(m, a, 16);
		mask(m, f->lv[i].len);
		for (lo = f->lv[i].begin, hi = f->lv[i].end; lo < hi;) {
			mid = lo + (hi - lo) / 2;
			r = memcmp(f->nets[mid].a, m, 16);
			if (!r)
				return f->nets[mid].cls;
			if (r < 0)
				lo = mid + 1;
			else
				hi = mid;
		}
	}
	return -1;
}

const char *na_netclass_name(const struct na_netclass *c, int cls)
{
	return c && cls >= 0 && cls < c->nclass ? c->names[cls] : "";
}

int na_netclass_count(const struct na_netclass *c)
{
	return c ? c->nclass : 0;
}
