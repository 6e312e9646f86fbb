/* SPDX-License-Identifier: (BSD-2-Clause OR GPL-2.0) */
/*
 * What the filesystem and /proc say about a cgroup, for the programs that
 * check cgroup operations against them rather than against a return code:
 * test_cgroup_ops (netacct's own) and the libcgroup_v2 reference.
 */
#ifndef NETACCT_TESTS_CG_PROBE_H
#define NETACCT_TESTS_CG_PROBE_H

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/magic.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/types.h>

/* A path; each program checks its mount point short enough for every one it makes to fit. */
__attribute__((format(printf, 3, 4))) static inline void pathf(char *out, size_t len, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(out, len, fmt, ap);
	va_end(ap);
}

static inline int exists(const char *path)
{
	struct stat st;

	return !stat(path, &st);
}

static inline int on_cgroup2(const char *path)
{
	struct statfs sfs;

	return !statfs(path, &sfs) && sfs.f_type == CGROUP2_SUPER_MAGIC;
}

/* The process's cgroup v2 path ("0::" of /proc/PID/cgroup), or "?". */
static inline void v2_path_of(pid_t pid, char *out, size_t len)
{
	char file[64], *line = NULL;
	size_t cap = 0;
	FILE *f;

	pathf(out, len, "?");
	snprintf(file, sizeof(file), "/proc/%d/cgroup", (int)pid);
	f = fopen(file, "re");
	if (!f)
		return;
	while (getline(&line, &cap, f) > 0)
		if (!strncmp(line, "0::", 3)) {
			line[strcspn(line, "\n")] = '\0';
			pathf(out, len, "%s", line + 3);
		}
	free(line);
	fclose(f);
}

/* The signals that end a process wait (blocked, old the mask before) until the cleanup is done. */
static inline void block_ending_signals(sigset_t *old)
{
	sigset_t ends;

	sigemptyset(&ends);
	sigaddset(&ends, SIGINT);
	sigaddset(&ends, SIGTERM);
	sigaddset(&ends, SIGHUP);
	sigaddset(&ends, SIGQUIT);
	sigprocmask(SIG_BLOCK, &ends, old);
}

#endif
