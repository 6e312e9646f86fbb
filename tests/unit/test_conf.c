// SPDX-License-Identifier: (BSD-2-Clause OR GPL-2.0)
/*
 * unit.conf: the agent's configuration parser (agent/conf.c) on crafted
 * files (through fmemopen): every key, the defaults, and each line it
 * refuses as a whole. `test_conf FILE` checks one file instead (ctest
 * docs.agent_conf: the example configuration shipped in docs/deploy/).
 * No privilege.
 *
 * One line per failed check ("FAIL file:line: what: actual ..., expected ...")
 * and a last line "N passed, N failed". Exit 0 when all passed, 1 otherwise.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "netacct.h"

#pragma GCC poison u8 u16 u32 u64

#include "check.h"

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

int main(int argc, char **argv)
{
	struct na_conf c;

	/* test_conf FILE: FILE is a valid agent configuration (the shipped example). */
	if (argc == 2) {
		FILE *f = fopen(argv[1], "r");

		ASSERT_EQ(f && !na_conf_parse(f, argv[1], &c), 1, "the example configuration parses");
		if (f)
			fclose(f);
		na_conf_free(&c);
		return check_summary();
	}
	fprintf(stderr, "# the next messages are expected (configuration errors):\n");
	test_conf();
	return check_summary();
}
