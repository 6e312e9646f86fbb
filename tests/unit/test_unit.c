// SPDX-License-Identifier: (BSD-2-Clause OR GPL-2.0)
/*
 * unit.agent: the pure functions of libnetacct-agent and the CLI's format.c,
 * on crafted input (mountinfo text through fmemopen, CSV through
 * open_memstream). No privilege, no BPF, no filesystem state.
 *
 * One line per failed check ("FAIL file:line: what: actual ..., expected ...")
 * and a last line "N passed, N failed". Exit 0 when all passed, 1 otherwise.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <bpf/libbpf.h>

#include "format.h"
#include "internal.h"
#include "netacct.h"

#pragma GCC poison u8 u16 u32 u64

#include "check.h"

/* ---- na_mountinfo_cgroup2 ------------------------------------------------ */
/* A systemd hybrid layout: v1 controllers under a tmpfs, cgroup2 beside them. */
static const char mi_hybrid[] =
	"22 1 8:1 / / rw,relatime shared:1 - ext4 /dev/sda1 rw\n"
	"31 23 0:28 / /sys/fs/cgroup ro,nosuid,nodev,noexec shared:9 - tmpfs tmpfs ro,mode=755\n"
	"32 31 0:29 / /sys/fs/cgroup/unified rw,nosuid,nodev,noexec,relatime shared:10 - cgroup2 cgroup2 rw,nsdelegate\n"
	"33 31 0:30 / /sys/fs/cgroup/systemd rw,nosuid,nodev,noexec,relatime shared:11 - cgroup cgroup rw,xattr,name=systemd\n"
	"34 31 0:31 / /sys/fs/cgroup/memory rw,nosuid,nodev,noexec,relatime shared:12 - cgroup cgroup rw,memory\n";

static const char mi_v2[] =
	"22 1 8:1 / / rw,relatime shared:1 - ext4 /dev/sda1 rw\n"
	"29 23 0:26 / /sys/fs/cgroup rw,nosuid,nodev,noexec,relatime shared:4 - cgroup2 cgroup2 rw,nsdelegate,memory_recursiveprot\n"
	"30 23 0:27 / /sys/fs/bpf rw,nosuid,nodev,noexec,relatime shared:5 - bpf bpf rw,mode=700\n";

static const char mi_escaped[] =
	"22 1 8:1 / / rw,relatime - ext4 /dev/sda1 rw\n"
	"40 22 0:38 / /mnt/my\\040cgroups rw,relatime - cgroup2 none rw\n";

/* No optional fields at all next to several: the separator, not a column count, ends them. */
static const char mi_optional[] =
	"22 1 8:1 / / rw,relatime - ext4 /dev/sda1 rw\n"
	"41 22 0:39 / /run/cg2 rw,relatime shared:5 master:1 - cgroup2 cgroup2 rw\n";

static const char mi_none[] =
	"22 1 8:1 / / rw,relatime shared:1 - ext4 /dev/sda1 rw\n"
	"31 23 0:28 / /sys/fs/cgroup ro shared:9 - tmpfs tmpfs ro,mode=755\n"
	"34 31 0:31 / /sys/fs/cgroup/memory rw shared:12 - cgroup cgroup rw,memory\n"
	"35 22 0:40 / /mnt/cgroup2 rw - tmpfs cgroup2 rw\n";

/* Two cgroup2 mounts, one inside the other, listed outer first and inner first. */
static const char mi_two_outer_first[] =
	"50 22 0:26 / /sys/fs/cgroup rw - cgroup2 cgroup2 rw\n"
	"51 50 0:26 /app /sys/fs/cgroup/app-view rw - cgroup2 cgroup2 rw\n";
static const char mi_two_inner_first[] =
	"51 50 0:26 /app /sys/fs/cgroup/app-view rw - cgroup2 cgroup2 rw\n"
	"50 22 0:26 / /sys/fs/cgroup rw - cgroup2 cgroup2 rw\n";

/* Root or mount point not absolute once unescaped (\000 ends the string; found by fuzz.parsers). */
static const char mi_not_absolute[] =
	"60 22 0:26 / \\000 rw - cgroup2 cgroup2 rw\n"
	"61 22 0:26 \\000x /x rw - cgroup2 cgroup2 rw\n"
	"62 22 0:26 / sys/fs/cgroup rw - cgroup2 cgroup2 rw\n";

/* In a container: the cgroup2 mount shows a subtree of the hierarchy. */
static const char mi_rooted[] =
	"22 1 8:1 / / rw,relatime - ext4 /dev/sda1 rw\n"
	"60 22 0:26 /foo /sys/fs/cgroup rw,nosuid - cgroup2 cgroup2 rw\n";

static int mountinfo(const char *text, const char *under, struct na_cg2mount *m)
{
	FILE *f = fmemopen((void *)text, strlen(text), "r");
	int err;

	if (!f) {
		fprintf(stderr, "FAIL fmemopen: %s\n", strerror(errno));
		return -errno;
	}
	memset(m, 0, sizeof(*m));
	err = na_mountinfo_cgroup2(f, under, m);
	fclose(f);
	return err;
}

/* One reading: what it returns and, where given, the mount's dir and root. */
struct mi_case {
	const char *name;
	const char *text;
	const char *under; /* NULL: any cgroup2 mount */
	int ret;
	const char *dir, *root; /* NULL: not checked */
};

static const struct mi_case mi_cases[] = {
	{ "hybrid", mi_hybrid, NULL, 0, "/sys/fs/cgroup/unified", "/" },
	{ "hybrid under", mi_hybrid, "/sys/fs/cgroup/unified/netacct-x", 0, "/sys/fs/cgroup/unified", NULL },
	{ "hybrid: a v1 path is under no cgroup2 mount", mi_hybrid, "/sys/fs/cgroup/memory/x", -ENOENT, NULL, NULL },
	{ "v2", mi_v2, NULL, 0, "/sys/fs/cgroup", "/" },
	{ "v2 under the mount point itself", mi_v2, "/sys/fs/cgroup", 0, "/sys/fs/cgroup", NULL },
	{ "v2: a sibling sharing a string prefix is not under the mount", mi_v2, "/sys/fs/cgroupx/a", -ENOENT, NULL, NULL },
	{ "escaped: \\040 becomes a space", mi_escaped, NULL, 0, "/mnt/my cgroups", NULL },
	{ "escaped under", mi_escaped, "/mnt/my cgroups/netacct-a", 0, NULL, NULL },
	{ "optional fields", mi_optional, NULL, 0, "/run/cg2", "/" },
	{ "no cgroup2 (a tmpfs with source 'cgroup2' does not count)", mi_none, NULL, -ENOENT, NULL, NULL },
	{ "empty mountinfo", "", NULL, -ENOENT, NULL, NULL },
	{ "a root or mount point that is not an absolute path is no mount", mi_not_absolute, NULL, -ENOENT, NULL, NULL },
	{ "two mounts, outer first: the longest prefix", mi_two_outer_first, "/sys/fs/cgroup/app-view/netacct-a", 0,
	  "/sys/fs/cgroup/app-view", "/app" },
	{ "two mounts, inner first: the longest prefix", mi_two_inner_first, "/sys/fs/cgroup/app-view/netacct-a", 0,
	  "/sys/fs/cgroup/app-view", NULL },
	{ "two mounts, path under the outer only", mi_two_inner_first, "/sys/fs/cgroup/netacct-b", 0, "/sys/fs/cgroup",
	  "/" },
	{ "two mounts, no under: the first listed", mi_two_inner_first, NULL, 0, "/sys/fs/cgroup/app-view", NULL },
	{ "rooted", mi_rooted, NULL, 0, "/sys/fs/cgroup", "/foo" },
};

static void test_mountinfo(void)
{
	struct na_cg2mount m;
	char what[160];
	size_t i;

	for (i = 0; i < NA_ARRAY_SIZE(mi_cases); i++) {
		const struct mi_case *c = &mi_cases[i];

		snprintf(what, sizeof(what), "%s: %s", c->name, c->ret ? "refused" : "found");
		ASSERT_EQ(mountinfo(c->text, c->under, &m), c->ret, what);
		if (c->dir) {
			snprintf(what, sizeof(what), "%s: dir", c->name);
			ASSERT_STREQ(m.dir, c->dir, what);
		}
		if (c->root) {
			snprintf(what, sizeof(what), "%s: root", c->name);
			ASSERT_STREQ(m.root, c->root, what);
		}
	}
}

/* ---- na_human_bytes ------------------------------------------------------ */
static void human_case(double v, int bits, const char *expected)
{
	char buf[32];

	memset(buf, 'X', sizeof(buf));
	na_human_bytes(buf, sizeof(buf), v, bits);
	CHECK(!strcmp(buf, expected), "human %.0f%s: actual \"%s\", expected \"%s\"", v,
	      bits ? " (bits)" : "", buf, expected);
}

static void test_human(void)
{
	human_case(0, 0, "0 B");
	human_case(1, 0, "1 B");
	human_case(1023, 0, "1023 B");
	human_case(1024, 0, "1.0 KiB");
	human_case(1536, 0, "1.5 KiB");
	human_case(1.5 * 1024 * 1024, 0, "1.5 MiB");
	human_case(3.0 * 1024 * 1024 * 1024, 0, "3.0 GiB");
	human_case(0, 1, "0 bit");
	human_case(124, 1, "992 bit");
	human_case(125, 1, "1.0 kbit");
	human_case(1536000, 1, "12.3 Mbit");
	human_case(125e9, 1, "1.0 Tbit");
}

/* ---- na_fit --------------------------------------------------------------- */
static void fit_case(const char *s, int w, int left, enum na_elide e, const char *expected)
{
	char buf[64];

	memset(buf, 'X', sizeof(buf));
	na_fit(buf, s, w, left, e);
	CHECK(!strcmp(buf, expected), "fit \"%s\" in %d (%s, elide %d): actual \"%s\", expected \"%s\"", s, w,
	      left ? "left" : "right", (int)e, buf, expected);
	CHECK(buf[strlen(expected) + 1] == 'X', "fit \"%s\" in %d: nothing written past the end", s, w);
}

static void test_fit(void)
{
	fit_case("abc", 5, 1, NA_ELIDE_END, "abc  ");
	fit_case("abc", 5, 0, NA_ELIDE_END, "  abc");
	fit_case("abc", 3, 1, NA_ELIDE_START, "abc");
	fit_case("", 2, 1, NA_ELIDE_END, "  ");
	fit_case("abc", 0, 1, NA_ELIDE_END, "");
	fit_case("abcdefgh", 6, 1, NA_ELIDE_END, "abcd..");
	fit_case("/a/b/leaf-name", 10, 1, NA_ELIDE_START, "..eaf-name");
	fit_case("/a/b/leaf-name", 10, 0, NA_ELIDE_START, "..eaf-name");
	fit_case("[2001:db8:1:2:3:4:5:6]:40408", 20, 1, NA_ELIDE_MIDDLE, "[2001:db8..:6]:40408");
	fit_case("[2001:db8:1:2:3:4:5:6]:40408", 21, 1, NA_ELIDE_MIDDLE, "[2001:db8..5:6]:40408");
	/* too narrow for the dots: a plain cut */
	fit_case("abcdef", 2, 1, NA_ELIDE_START, "ab");
	fit_case("abcdef", 1, 0, NA_ELIDE_MIDDLE, "a");
	/* not printable ASCII: '?', also where a UTF-8 sequence is cut */
	fit_case("a\tb\x1b[2J", 9, 1, NA_ELIDE_END, "a?b?[2J  ");
	fit_case("/caf\xc3\xa9-long-name", 8, 1, NA_ELIDE_START, "..g-name");
	fit_case("/caf\xc3\xa9-long-name", 13, 1, NA_ELIDE_START, "..?-long-name");
	fit_case("abc", -1, 1, NA_ELIDE_END, "");
	fit_case("\xc3\xa9" "abcdef", 6, 1, NA_ELIDE_END, "??ab..");
}

/* ---- na_layout: columns that give way by priority ------------------------- */
static void layout_case(const char *what, const struct na_lay_col *c, int n, int avail, const int *expected,
			int shown)
{
	int w[16], i, got;
	char a[128] = "", e[128] = "";

	got = na_layout(c, n, avail, w);
	for (i = 0; i < n; i++) {
		snprintf(a + strlen(a), sizeof(a) - strlen(a), " %d", w[i]);
		snprintf(e + strlen(e), sizeof(e) - strlen(e), " %d", expected[i]);
	}
	CHECK(!strcmp(a, e) && got == shown, "layout %s in %d: actual widths%s (%d shown), expected%s (%d)", what,
	      avail, a, got, e, shown);
}

static void test_layout(void)
{
	/* who (pid, comm), a name that shrinks, two key figures, a spare figure, a hidden column */
	static const struct na_lay_col c[] = {
		{ 1, 7, 7, 7 }, { 1, 10, 15, 15 }, { 4, 12, 24, 40 }, { 2, 21, 24, 30 },
		{ 1, 12, 12, 12 }, { 1, 12, 12, 12 }, { 5, 10, 10, 10 }, { 0, 5, 5, 5 },
	};
	int n = (int)NA_ARRAY_SIZE(c);

	/* everything at its width, then the names grow as far as they want */
	layout_case("wide", c, n, 200, (const int[]){ 7, 15, 40, 30, 12, 12, 10, 0 }, 7);
	layout_case("all at width", c, n, 111, (const int[]){ 7, 15, 24, 24, 12, 12, 10, 0 }, 7);
	/* the lowest priority goes first, whatever its place */
	layout_case("spare figure gone", c, n, 100, (const int[]){ 7, 15, 24, 24, 12, 12, 0, 0 }, 6);
	/* the priority-4 name shrinks to make room for itself, never the others */
	layout_case("name shrinks", c, n, 90, (const int[]){ 7, 15, 14, 24, 12, 12, 0, 0 }, 6);
	layout_case("name at its min", c, n, 88, (const int[]){ 7, 15, 12, 24, 12, 12, 0, 0 }, 6);
	/* below that it goes, and what is left goes to the others, up to their width */
	layout_case("name gone", c, n, 87, (const int[]){ 7, 15, 0, 30, 12, 12, 0, 0 }, 5);
	layout_case("80 columns", c, n, 80, (const int[]){ 7, 15, 0, 29, 12, 12, 0, 0 }, 5);
	/* a priority-2 column fits only while everything above keeps its width */
	layout_case("priority 2 at min", c, n, 72, (const int[]){ 7, 15, 0, 21, 12, 12, 0, 0 }, 5);
	layout_case("priority 2 gone", c, n, 71, (const int[]){ 7, 15, 0, 0, 12, 12, 0, 0 }, 4);
	/* the first level shrinks together; what does not fit at all ends the list */
	layout_case("level 1 squeezed", c, n, 45, (const int[]){ 7, 10, 0, 0, 12, 12, 0, 0 }, 4);
	layout_case("level 1 cut, the rest to the shrunk", c, n, 40, (const int[]){ 7, 15, 0, 0, 12, 0, 0, 0 }, 3);
	layout_case("nothing fits", c, n, 3, (const int[]){ 0, 0, 0, 0, 0, 0, 0, 0 }, 0);
}

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

static void test_names(void)
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

/* ---- small format helpers ------------------------------------------------- */
static void test_format_misc(void)
{
	struct na_counters c = { 0 };
	char buf[64];

	c.ip_hdr_bytes = 20;
	c.l4_hdr_bytes = 32;
	c.payload_bytes = 1000;
	ASSERT_EQ(na_counters_bytes(&c), 1052, "counters bytes = ip + l4 + payload");

	setenv("TZ", "UTC", 1);
	tzset();
	na_time_str(buf, sizeof(buf), 0);
	ASSERT_STREQ(buf, "1970-01-01 00:00:00", "time_str epoch in UTC");
	na_time_str(buf, sizeof(buf), 1700000000);
	ASSERT_STREQ(buf, "2023-11-14 22:13:20", "time_str in UTC");

	/* ISO times: the text of a second is kept; the milliseconds are not. */
	na_iso_time(buf, sizeof(buf), 1700000000LL * 1000000000 + 7000000);
	ASSERT_STREQ(buf, "2023-11-14T22:13:20.007Z", "iso time, 7 ms");
	na_iso_time(buf, sizeof(buf), 1700000000LL * 1000000000 + 999999999);
	ASSERT_STREQ(buf, "2023-11-14T22:13:20.999Z", "iso time, same second, 999 ms");
	na_iso_time(buf, sizeof(buf), 1700000001LL * 1000000000 + 120000000);
	ASSERT_STREQ(buf, "2023-11-14T22:13:21.120Z", "iso time, next second");
	na_iso_time(buf, sizeof(buf), 0);
	ASSERT_STREQ(buf, "1970-01-01T00:00:00.000Z", "iso time, epoch");
	na_iso_time(buf, 24, 1700000000LL * 1000000000);
	ASSERT_STREQ(buf, "", "iso time in a buffer one byte short: empty");
	na_iso_time(buf, 25, 1700000000LL * 1000000000);
	ASSERT_STREQ(buf, "2023-11-14T22:13:20.000Z", "iso time in a buffer just large enough");
}

/* ---- the agent's configuration (agent/conf.c) ---------------------------- */
static int conf_of(const char *text, struct na_conf *c)
{
	FILE *f = fmemopen((void *)text, strlen(text), "r");
	int err;

	if (!f)
		return -ENOMEM;
	err = na_conf_parse(f, "test.conf", c);
	fclose(f);
	return err;
}

static void test_conf(void)
{
	struct na_conf c;

	ASSERT_EQ(conf_of("# a comment\n\n  attach /sys/fs/cgroup/a.service   # trailing comment\n"
			  "attach\t/sys/fs/cgroup/system.slice/*.service\n"
			  "attach /x/with#hash\nlisten [::1]:9000\nrescan 3600\ngroup 4242\n"
			  "max-sockets 1024\nmax-closed 16\nlog-size 65536\r\n", &c), 0, "conf: every key");
	ASSERT_EQ(c.nattach, 3, "conf: three attach lines");
	if (c.nattach == 3) {
		ASSERT_STREQ(c.attach[0], "/sys/fs/cgroup/a.service", "conf: comment after a blank is cut");
		ASSERT_STREQ(c.attach[1], "/sys/fs/cgroup/system.slice/*.service", "conf: tab separates, glob kept");
		ASSERT_STREQ(c.attach[2], "/x/with#hash", "conf: '#' inside a word is not a comment");
	}
	ASSERT_STREQ(c.listen_addr, "::1", "conf: [IPv6]:port");
	ASSERT_EQ(c.listen_port, 9000, "conf: port");
	ASSERT_EQ(c.rescan_s, 3600, "conf: rescan");
	ASSERT_EQ(c.group_set && c.gid == 4242, 1, "conf: numeric group");
	ASSERT_EQ(c.max_sockets == 1024 && c.max_closed == 16 && c.log_bytes == 65536, 1, "conf: sizes, CRLF");
	na_conf_free(&c);

	ASSERT_EQ(conf_of("attach /a\n", &c), 0, "conf: defaults");
	ASSERT_STREQ(c.listen_addr, "127.0.0.1", "conf: default address");
	ASSERT_EQ(c.listen_port == NA_CONF_DEFAULT_PORT && c.rescan_s == 10 && !c.group_set, 1,
		  "conf: default port, rescan, no group");
	na_conf_free(&c);

	ASSERT_EQ(conf_of("attach /a\ngroup root\n", &c), 0, "conf: group by name");
	ASSERT_EQ(c.group_set && c.gid == 0, 1, "conf: group root is gid 0");
	na_conf_free(&c);

	/* Each is refused as a whole (-EINVAL). */
	ASSERT_EQ(conf_of("", &c), -EINVAL, "conf: empty file: no attach line");
	ASSERT_EQ(conf_of("# only\nrescan 5\n", &c), -EINVAL, "conf: no attach line");
	ASSERT_EQ(conf_of("attach /a\nbogus 1\n", &c), -EINVAL, "conf: unknown key");
	ASSERT_EQ(conf_of("attach relative/path\n", &c), -EINVAL, "conf: relative path");
	ASSERT_EQ(conf_of("attach /a\nrescan\n", &c), -EINVAL, "conf: missing value");
	ASSERT_EQ(conf_of("attach /a\nrescan 0\n", &c), -EINVAL, "conf: rescan 0");
	ASSERT_EQ(conf_of("attach /a\nrescan 3601\n", &c), -EINVAL, "conf: rescan too long");
	ASSERT_EQ(conf_of("attach /a\nrescan 5\nrescan 6\n", &c), -EINVAL, "conf: a key twice");
	ASSERT_EQ(conf_of("attach /a\nlisten 127.0.0.1\n", &c), -EINVAL, "conf: listen without port");
	ASSERT_EQ(conf_of("attach /a\nlisten 127.0.0.1:0\n", &c), -EINVAL, "conf: port 0");
	ASSERT_EQ(conf_of("attach /a\nlisten 127.0.0.1:65536\n", &c), -EINVAL, "conf: port too big");
	ASSERT_EQ(conf_of("attach /a\nlisten [::1:9000\n", &c), -EINVAL, "conf: unclosed [");
	ASSERT_EQ(conf_of("attach /a\ngroup no-such-group-netacct\n", &c), -EINVAL, "conf: unknown group");
	ASSERT_EQ(conf_of("attach /a\nmax-sockets 15\n", &c), -EINVAL, "conf: max-sockets too small");
	ASSERT_EQ(conf_of("attach /a\nlog-size 5000\n", &c), -EINVAL, "conf: log-size not a power of two");
	ASSERT_EQ(conf_of("attach /a\nrescan -1\n", &c), -EINVAL, "conf: negative");
	ASSERT_EQ(conf_of("attach /a\nlog-file var/log/x\n", &c), -EINVAL, "conf: relative log-file");
	ASSERT_EQ(conf_of("attach /a\nlog-max-bytes 4095\n", &c), -EINVAL, "conf: log-max-bytes too small");
	ASSERT_EQ(conf_of("attach /a\nlog-keep 101\n", &c), -EINVAL, "conf: log-keep too many");

	ASSERT_EQ(conf_of("attach /a\n", &c), 0, "conf: log defaults");
	ASSERT_STREQ(c.log_file, NA_CONF_DEFAULT_LOG_FILE, "conf: default log-file");
	ASSERT_EQ(c.log_max_bytes == 16u << 20 && c.log_keep == 5, 1, "conf: default rotation");
	na_conf_free(&c);
	ASSERT_EQ(conf_of("attach /a\nlog-file none\nlog-max-bytes 4096\nlog-keep 0\n", &c), 0, "conf: log keys");
	ASSERT_EQ(!c.log_file[0] && c.log_max_bytes == 4096 && c.log_keep == 0, 1, "conf: log-file none, sizes");
	ASSERT_EQ(c.per_process == 0 && c.per_process_max == 1000, 1, "conf: per-process defaults");
	na_conf_free(&c);
	ASSERT_EQ(conf_of("attach /a\nper-process yes\nper-process-max 7\n", &c), 0, "conf: per-process keys");
	ASSERT_EQ(c.per_process == 1 && c.per_process_max == 7, 1, "conf: per-process yes, max 7");
	na_conf_free(&c);
	ASSERT_EQ(conf_of("attach /a\nper-process maybe\n", &c), -EINVAL, "conf: per-process not yes/no");
	ASSERT_EQ(conf_of("attach /a\nper-process-max 0\n", &c), -EINVAL, "conf: per-process-max 0");
	ASSERT_EQ(conf_of("attach /a\n", &c), 0, "conf: networks default");
	ASSERT_STREQ(c.networks, "", "conf: no networks key: the default file when there is one");
	na_conf_free(&c);
	ASSERT_EQ(conf_of("attach /a\nnetworks /etc/netacct/zones\n", &c), 0, "conf: networks");
	ASSERT_STREQ(c.networks, "/etc/netacct/zones", "conf: networks file");
	na_conf_free(&c);
	ASSERT_EQ(conf_of("attach /a\nnetworks zones\n", &c), -EINVAL, "conf: relative networks file");
}

/* ---- cgroup v1 hierarchies in mountinfo (doctor) ------------------------ */
static void v1_case(const char *text, int any, const char *net, const char *what)
{
	struct na_v1mounts v;
	FILE *f = fmemopen((void *)text, strlen(text), "r");

	if (!f) {
		CHECK(0, "%s: fmemopen", what);
		return;
	}
	na_mountinfo_v1(f, &v);
	fclose(f);
	ASSERT_EQ(v.any, any, what);
	ASSERT_STREQ(v.net, net, what);
}

static void test_v1(void)
{
	v1_case("30 25 0:26 / /sys/fs/cgroup/unified rw - cgroup2 cgroup2 rw,nsdelegate\n", 0, "",
		"unified: no v1");
	v1_case("30 25 0:26 / /sys/fs/cgroup/unified rw - cgroup2 cgroup2 rw\n"
		"31 25 0:27 / /sys/fs/cgroup/cpu rw,nosuid - cgroup cgroup rw,cpu\n", 1, "",
		"hybrid without net_cls");
	v1_case("31 25 0:27 / /sys/fs/cgroup/net_cls,net_prio rw shared:9 - cgroup cgroup rw,net_cls,net_prio\n", 1,
		"/sys/fs/cgroup/net_cls,net_prio", "net_cls,net_prio hierarchy (optional field before -)");
	v1_case("31 25 0:27 / /mnt/my\\040prio rw - cgroup none rw,net_prio\n", 1, "/mnt/my prio",
		"net_prio alone, escaped mount point");
	v1_case("31 25 0:27 / /x rw - cgroup none rw,name=net_cls_not\n", 1, "",
		"a named hierarchy is not net_cls");
	v1_case("31 25 0:27 / /x rw - tmpfs cgroup rw,net_cls\n", 0, "", "not a cgroup filesystem");
}

/* ---- the link table against the BPF object ------------------------------ */
/*
 * Every program of the embedded object is in agent/links.c's table or is a
 * syscall program, and every line of the table names a program of the
 * object: attach, detach, status and doctor count and attach by that table.
 * Opening the object parses it only (no BPF syscall, no privilege).
 */
static void test_link_table(void)
{
	struct bpf_object *obj = na_object_open();
	struct bpf_program *prog;
	int ncg = 0, nglobal = 0, nsyscall = 0;
	size_t i;

	ASSERT_EQ(obj != NULL, 1, "the embedded BPF object opens");
	if (!obj)
		return;
	ASSERT_EQ(na_links_check(obj), 0, "link table and BPF object agree");
	bpf_object__for_each_program(prog, obj)
		nsyscall += bpf_program__type(prog) == BPF_PROG_TYPE_SYSCALL;
	for (i = 0; i < na_nlinks; i++) {
		prog = bpf_object__find_program_by_name(obj, na_links[i].prog);
		if (na_links[i].kind == NA_LINK_CGROUP) {
			ncg++;
			/* a cgroup link attaches to a cgroup hook */
			ASSERT_EQ(prog && bpf_program__type(prog) != BPF_PROG_TYPE_TRACING &&
					  bpf_program__type(prog) != BPF_PROG_TYPE_SYSCALL,
				  1, na_links[i].prog);
		} else {
			nglobal++;
		}
		ASSERT_EQ(na_att_pin_is_ours(na_links[i].pin) || na_pin_name_is_ours(na_links[i].pin), 1,
			  na_links[i].pin);
	}
	ASSERT_EQ(ncg, na_cgroup_prog_count(), "cgroup links counted");
	ASSERT_EQ(nglobal, na_global_link_count(), "global links counted");
	ASSERT_EQ(nsyscall > 0, 1, "the object has syscall programs (na_sweep, na_set_owner)");
	ASSERT_EQ(na_pin_name_is_ours("cg_12"), 0, "an attachment directory is not a top-level pin name");
	ASSERT_EQ(na_pin_name_is_ours("other_tool_map"), 0, "a foreign name");
	ASSERT_EQ(na_att_pin_is_ours("totals"), 1, "totals");
	bpf_object__close(obj);
}

int main(int argc, char **argv)
{
	struct na_conf c;

	/* test_unit FILE: FILE is a valid agent configuration (the shipped example). */
	if (argc == 2) {
		FILE *f = fopen(argv[1], "r");

		ASSERT_EQ(f && !na_conf_parse(f, argv[1], &c), 1, "the example configuration parses");
		if (f)
			fclose(f);
		na_conf_free(&c);
		return check_summary();
	}
	test_mountinfo();
	test_v1();
	test_human();
	test_fit();
	test_layout();
	test_addr();
	test_names();
	test_parse_u64();
	test_pin_root();
	test_format_misc();
	test_link_table();
	fprintf(stderr, "# the next messages are expected (configuration errors):\n");
	test_conf();
	return check_summary();
}
