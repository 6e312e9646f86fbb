// SPDX-License-Identifier: (BSD-2-Clause OR GPL-2.0)
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <grp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "internal.h"

int na_parse_u64(const char *s, uint64_t min, uint64_t max, uint64_t *out)
{
	unsigned long long v;
	char *end;

	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || *end || !isdigit((unsigned char)s[0]) || v < min || v > max)
		return -EINVAL;
	*out = v;
	return 0;
}

int na_parse_group(const char *s, uint32_t *gid)
{
	struct group *gr = getgrnam(s);
	uint64_t v;

	if (gr) {
		*gid = (uint32_t)gr->gr_gid;
		return 0;
	}
	if (na_parse_u64(s, 0, 0xfffffffeull, &v))
		return -EINVAL;
	*gid = (uint32_t)v;
	return 0;
}

int na_path_below(const char *rel, const char *dir)
{
	size_t l = strlen(dir);

	if (!rel)
		return 0;
	if (!strcmp(dir, "/"))
		return 1;
	return !strncmp(rel, dir, l) && (rel[l] == '/' || rel[l] == '\0');
}

const char *na_proto_name(uint8_t proto)
{
	switch (proto) {
	case NA_P_TCP:
		return "tcp";
	case NA_P_UDP:
		return "udp";
	case NA_P_ICMP:
		return "icmp";
	case NA_P_ICMPV6:
		return "icmpv6";
	}
	return "other";
}

const char *na_family_name(uint8_t family)
{
	switch (family) {
	case NA_F_IPV4:
		return "ipv4";
	case NA_F_IPV6:
		return "ipv6";
	}
	return "";
}

/* Dotted quad without stdio (glibc's inet_ntop formats IPv4 with sprintf). */
static void v4_str(const uint8_t a[4], char *buf, size_t len)
{
	char t[16], *p = t;
	int i;

	for (i = 0; i < 4; i++) {
		if (a[i] >= 100)
			*p++ = (char)('0' + a[i] / 100);
		if (a[i] >= 10)
			*p++ = (char)('0' + a[i] / 10 % 10);
		*p++ = (char)('0' + a[i] % 10);
		*p++ = i < 3 ? '.' : '\0';
	}
	if ((size_t)(p - t) <= len)
		memcpy(buf, t, (size_t)(p - t));
}

void na_addr_str(uint8_t family, const uint8_t addr[16], char *buf, size_t len)
{
	static const uint8_t zero[16];

	buf[0] = '\0';
	if (family == NA_F_IPV4 && memcmp(addr, zero, 4))
		v4_str(addr, buf, len);
	else if (family == NA_F_IPV6 && memcmp(addr, zero, 16))
		inet_ntop(AF_INET6, addr, buf, len);
}

const char *na_pin_root(const char *opt)
{
	const char *env = getenv(NA_PIN_ROOT_ENV);

	if (opt && *opt)
		return opt;
	if (env && *env)
		return env;
	return NA_DEFAULT_PIN_ROOT;
}

uint64_t na_boot_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_BOOTTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

const char *na_tcp_state_name(uint8_t state)
{
	static const char *const names[] = {
		[NA_TCP_ESTABLISHED] = "established", [NA_TCP_SYN_SENT] = "syn-sent",
		[NA_TCP_SYN_RECV] = "syn-recv",       [NA_TCP_FIN_WAIT1] = "fin-wait-1",
		[NA_TCP_FIN_WAIT2] = "fin-wait-2",    [NA_TCP_TIME_WAIT] = "time-wait",
		[NA_TCP_CLOSE] = "close",             [NA_TCP_CLOSE_WAIT] = "close-wait",
		[NA_TCP_LAST_ACK] = "last-ack",       [NA_TCP_LISTEN] = "listen",
		[NA_TCP_CLOSING] = "closing",         [NA_TCP_NEW_SYN_RECV] = "new-syn-recv",
	};

	return state < NA_ARRAY_SIZE(names) && names[state] ? names[state] : "";
}

int64_t na_boot_offset_ns(void)
{
	struct timespec b0, r, b1;
	int64_t boot, real, off;

	/* The realtime sample sits between two boottime samples: take their middle. */
	clock_gettime(CLOCK_BOOTTIME, &b0);
	clock_gettime(CLOCK_REALTIME, &r);
	clock_gettime(CLOCK_BOOTTIME, &b1);
	boot = ((int64_t)b0.tv_sec + b1.tv_sec) * 500000000 + ((int64_t)b0.tv_nsec + b1.tv_nsec) / 2;
	real = (int64_t)r.tv_sec * 1000000000 + r.tv_nsec;
	off = real - boot;
	/*
	 * Whole milliseconds (the precision times are printed with), so that two
	 * reads of an idle state print the same times instead of flipping at a
	 * millisecond boundary; the error is at most 0.5 ms.
	 */
	return (off >= 0 ? off + 500000 : off - 500000) / 1000000 * 1000000;
}

void na_cut_comment(char *line)
{
	char *hash;

	for (hash = line; (hash = strchr(hash, '#')); hash++)
		if (hash == line || hash[-1] == ' ' || hash[-1] == '\t') {
			*hash = '\0';
			return;
		}
}

char *na_trim(char *s)
{
	char *e;

	while (*s == ' ' || *s == '\t')
		s++;
	e = s + strlen(s);
	while (e > s && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\n' || e[-1] == '\r'))
		*--e = '\0';
	return s;
}

void na_str_append(char *buf, size_t len, const char *fmt, ...)
{
	size_t n = strlen(buf);
	va_list ap;

	if (n + 1 >= len)
		return;
	va_start(ap, fmt);
	vsnprintf(buf + n, len - n, fmt, ap);
	va_end(ap);
}

/*
 * PREFIX, the pin root's path and EXT: one file name per pin root, '/'
 * written %2F and '%' %25; repeated and trailing slashes do not count.
 */
int na_pin_root_file(const char *prefix, const char *pin_root, const char *ext, char *p, size_t len)
{
	const char *r, *s;
	size_t k;

	k = (size_t)snprintf(p, len, "%s", prefix);
	for (r = pin_root; *r && k + 8 < len; r++) {
		if (*r == '/' && (r[1] == '/' || !r[1]))
			continue;
		s = *r == '/' ? "%2F" : *r == '%' ? "%25" : NULL;
		if (s) {
			memcpy(p + k, s, 3);
			k += 3;
		} else {
			p[k++] = *r;
		}
	}
	if (*r || k + strlen(ext) + 1 > len)
		return -ENAMETOOLONG;
	memcpy(p + k, ext, strlen(ext) + 1);
	return 0;
}
