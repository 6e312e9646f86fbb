// SPDX-License-Identifier: (BSD-2-Clause OR GPL-2.0)
/*
 * unit.util: agent/util.c's small functions: addresses as text (IPv4
 * without stdio, IPv6, mapped, all-zero, buffers just large enough or one
 * byte short), protocol and family names, na_parse_u64 (digits only,
 * within bounds), the pin root (option, environment, default) and text
 * added to a fixed buffer. No privilege.
 *
 * One line per failed check ("FAIL file:line: what: actual ..., expected ...")
 * and a last line "N passed, N failed". Exit 0 when all passed, 1 otherwise.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "netacct.h"

#pragma GCC poison u8 u16 u32 u64

#include "check.h"

/* ---- addresses, names ---------------------------------------------------- */
static void test_addr(void)
{
	uint8_t a[16] = { 0 };
	char buf[64];

	memcpy(a, (const uint8_t[]){ 127, 0, 0, 1 }, 4);
	na_addr_str(NA_F_IPV4, a, buf, sizeof(buf));
	ASSERT_STREQ(buf, "127.0.0.1", "v4 loopback");

	memcpy(a, (const uint8_t[]){ 192, 0, 2, 255 }, 4);
	na_addr_str(NA_F_IPV4, a, buf, sizeof(buf));
	ASSERT_STREQ(buf, "192.0.2.255", "v4");

	memcpy(a, (const uint8_t[]){ 10, 100, 9, 200 }, 4);
	na_addr_str(NA_F_IPV4, a, buf, sizeof(buf));
	ASSERT_STREQ(buf, "10.100.9.200", "v4: one, two and three digits");

	memcpy(a, (const uint8_t[]){ 255, 255, 255, 255 }, 4);
	na_addr_str(NA_F_IPV4, a, buf, 15);
	ASSERT_STREQ(buf, "", "v4 that does not fit the buffer: empty");
	na_addr_str(NA_F_IPV4, a, buf, 16);
	ASSERT_STREQ(buf, "255.255.255.255", "v4 in a buffer just large enough");

	memset(a, 0, sizeof(a));
	a[15] = 1;
	na_addr_str(NA_F_IPV6, a, buf, sizeof(buf));
	ASSERT_STREQ(buf, "::1", "v6 loopback");

	memcpy(a, (const uint8_t[]){ 0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x12, 0x34 }, 16);
	na_addr_str(NA_F_IPV6, a, buf, sizeof(buf));
	ASSERT_STREQ(buf, "2001:db8::1234", "v6");

	memcpy(a, (const uint8_t[]){ 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 10, 0, 0, 1 }, 16);
	na_addr_str(NA_F_IPV6, a, buf, sizeof(buf));
	ASSERT_STREQ(buf, "::ffff:10.0.0.1", "v4-mapped v6");

	memset(a, 0, sizeof(a));
	strcpy(buf, "stale");
	na_addr_str(NA_F_IPV4, a, buf, sizeof(buf));
	ASSERT_STREQ(buf, "", "all-zero v4");
	strcpy(buf, "stale");
	na_addr_str(NA_F_IPV6, a, buf, sizeof(buf));
	ASSERT_STREQ(buf, "", "all-zero v6");
	/* Only the first 4 bytes are a v4 address: junk after them does not count. */
	a[8] = 1;
	strcpy(buf, "stale");
	na_addr_str(NA_F_IPV4, a, buf, sizeof(buf));
	ASSERT_STREQ(buf, "", "all-zero v4 with bytes beyond the first four");
	a[0] = 10;
	strcpy(buf, "stale");
	na_addr_str(NA_F_UNSPEC, a, buf, sizeof(buf));
	ASSERT_STREQ(buf, "", "unknown family");
}

static void test_proto_family(void)
{
	ASSERT_STREQ(na_proto_name(NA_P_TCP), "tcp", "proto tcp");
	ASSERT_STREQ(na_proto_name(NA_P_UDP), "udp", "proto udp");
	ASSERT_STREQ(na_proto_name(NA_P_ICMP), "icmp", "proto icmp");
	ASSERT_STREQ(na_proto_name(NA_P_ICMPV6), "icmpv6", "proto icmpv6");
	ASSERT_STREQ(na_proto_name(NA_P_OTHER), "other", "proto other");
	ASSERT_STREQ(na_proto_name(200), "other", "proto out of range");
	ASSERT_STREQ(na_family_name(NA_F_IPV4), "ipv4", "family ipv4");
	ASSERT_STREQ(na_family_name(NA_F_IPV6), "ipv6", "family ipv6");
	ASSERT_STREQ(na_family_name(NA_F_UNSPEC), "", "family unspec");
	ASSERT_STREQ(na_family_name(2), "", "family AF_INET is not an NA_F_ value");
}

/* ---- na_parse_u64: digits only, within bounds ----------------------------- */

static void test_parse_u64(void)
{
	static const char *const bad[] = { "", " 5", "+5", "-5", "5 ", "5x", "0x10", "5.0", "1e3",
					   "18446744073709551616", "101", "9" };
	uint64_t v = 0;
	size_t i;

	ASSERT_EQ(na_parse_u64("10", 10, 100, &v), 0, "10 in [10, 100]");
	ASSERT_EQ(v, 10, "10 parsed");
	ASSERT_EQ(na_parse_u64("0100", 10, 100, &v), 0, "leading zeros are digits");
	ASSERT_EQ(v, 100, "0100 parsed as 100");
	ASSERT_EQ(na_parse_u64("18446744073709551615", 0, UINT64_MAX, &v), 0, "UINT64_MAX");
	ASSERT_EQ(v == UINT64_MAX, 1, "UINT64_MAX parsed");
	for (i = 0; i < NA_ARRAY_SIZE(bad); i++) {
		v = 42;
		CHECK(na_parse_u64(bad[i], 10, 100, &v) == -EINVAL && v == 42,
		      "'%s' refused for [10, 100] and the output left alone", bad[i]);
	}
}

/* ---- na_pin_root: option > $NETACCT_PIN_ROOT > default ------------------- */
static void test_pin_root(void)
{
	unsetenv(NA_PIN_ROOT_ENV);
	ASSERT_STREQ(na_pin_root(NULL), NA_DEFAULT_PIN_ROOT, "no option, no env");
	ASSERT_STREQ(na_pin_root(""), NA_DEFAULT_PIN_ROOT, "empty option, no env");
	ASSERT_STREQ(na_pin_root("/sys/fs/bpf/opt"), "/sys/fs/bpf/opt", "option, no env");

	setenv(NA_PIN_ROOT_ENV, "/sys/fs/bpf/env", 1);
	ASSERT_STREQ(na_pin_root(NULL), "/sys/fs/bpf/env", "env, no option");
	ASSERT_STREQ(na_pin_root(""), "/sys/fs/bpf/env", "env, empty option");
	ASSERT_STREQ(na_pin_root("/sys/fs/bpf/opt"), "/sys/fs/bpf/opt", "option beats env");

	setenv(NA_PIN_ROOT_ENV, "", 1);
	ASSERT_STREQ(na_pin_root(NULL), NA_DEFAULT_PIN_ROOT, "empty env");
	unsetenv(NA_PIN_ROOT_ENV);
}

/* ---- na_str_append: text added to a fixed buffer, cut to fit --------------- */
static void test_str_append(void)
{
	char buf[12] = "";

	na_str_append(buf, sizeof(buf), "%s", "hash");
	na_str_append(buf, sizeof(buf), " %s(%u)", "lru", 2u);
	ASSERT_STREQ(buf, "hash lru(2)", "two pieces, the second at the end of the first");
	na_str_append(buf, sizeof(buf), " %s", "ringbuf");
	ASSERT_STREQ(buf, "hash lru(2)", "a full buffer takes nothing more");
	memcpy(buf, "0123456789", 11);
	na_str_append(buf, sizeof(buf), "%s", "abc");
	ASSERT_STREQ(buf, "0123456789a", "cut to what fits, NUL-terminated");
	memset(buf, 'X', sizeof(buf));
	buf[0] = '\0';
	na_str_append(buf, 4, "%d", 123456);
	ASSERT_EQ(buf[3] == '\0' && buf[4] == 'X', 1, "nothing written past len");
	ASSERT_STREQ(buf, "123", "a number cut to len - 1");
}

int main(void)
{
	test_addr();
	test_proto_family();
	test_parse_u64();
	test_pin_root();
	test_str_append();
	return check_summary();
}
