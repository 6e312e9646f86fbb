/* SPDX-License-Identifier: (BSD-2-Clause OR GPL-2.0) */
/*
 * An append-only log file rotated by size: when a line would take the file
 * past max bytes, the file becomes FILE.1.gz (gzip, zlib), FILE.1.gz
 * becomes FILE.2.gz and so on up to FILE.<keep>.gz, and FILE starts empty.
 * Used by the agent for the connection log (docs/agent.md).
 */
#ifndef NETACCT_AGENT_ROTLOG_H
#define NETACCT_AGENT_ROTLOG_H

#include <limits.h>
#include <stdint.h>
#include <stdio.h>

struct na_rotlog {
	char path[PATH_MAX];
	char dir[PATH_MAX];   /* path's directory, held open as dirfd */
	char name[NAME_MAX + 1];
	int dirfd;            /* every file is opened, renamed and removed in it */
	FILE *f;
	uint64_t size;  /* bytes in the current file */
	uint64_t max;   /* rotate before going past this */
	unsigned keep;  /* compressed files kept (0: the file is only truncated) */
	uint64_t retry_size; /* after a failed rotation: not again before this size */
	int err;              /* the last failure, said at err_said_s, and how often since */
	int64_t err_said_s;
	unsigned err_repeats;
};

/*
 * Open (append) path, creating it 0640; 0 or -errno (reported). Its directory
 * must be root's and writable by nobody else (na_dir_trust_open()), and the
 * file a regular one with one name: a symbolic link is refused, never
 * followed.
 */
int na_rotlog_open(struct na_rotlog *r, const char *path, uint64_t max, unsigned keep);
/* Append one line (with its newline), rotating first when needed; flushed. 0 or -errno (reported). */
int na_rotlog_write(struct na_rotlog *r, const char *line, size_t len);
void na_rotlog_close(struct na_rotlog *r);

#endif
