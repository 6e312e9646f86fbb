/* SPDX-License-Identifier: (BSD-2-Clause OR GPL-2.0) */
/*
 * Output that appears whole or not at all: `-o FILE` writes a temporary file
 * beside FILE (.FILE.XXXXXX, same directory, so rename() cannot cross file
 * systems), fsyncs it and renames it over FILE. On an error, or on a
 * terminating signal while it is open, the temporary file is removed and FILE
 * is left as it was. A SIGKILL can leave the temporary file behind, never a
 * partial FILE. A FILE ending in ".gz" is gzip (zlib) data.
 */
#ifndef NETACCT_CLI_ATOMIC_OUT_H
#define NETACCT_CLI_ATOMIC_OUT_H

#include <stdio.h>

struct na_out {
	FILE *f;          /* write here */
	const char *what; /* for messages: "export" */
	const char *path; /* the target; NULL: stdout */
	char *tmp;        /* the temporary file; NULL once renamed or removed */
	int fd;           /* the temporary file's descriptor, -1: none */
	void *gz;         /* gzFile when the target ends in ".gz", else NULL */
	int err;          /* first write error (-errno), 0: none */
};

/* 1 when path names a gzip file (ends in ".gz"). */
int na_out_is_gz(const char *path);

/*
 * path NULL or "-": o->f is stdout. Otherwise creates the temporary file
 * (with FILE's permission bits when FILE is a regular file, else 0666 minus
 * the umask) and arms the signal handlers that remove it. FILE must be a
 * regular file or not exist: -EINVAL for a directory, a device, a symlink
 * (/dev/stdout...), after saying so. 0 or -errno (reported); nothing is
 * left behind on failure.
 */
int na_out_open(struct na_out *o, const char *path, const char *what);

/*
 * Flush and finish (gzip trailer), fsync, rename over FILE, fsync the
 * directory; for stdout, flush it. On failure the temporary file is removed
 * and FILE untouched. 0 or -errno (reported). o is closed either way.
 */
int na_out_commit(struct na_out *o);

/* Remove the temporary file; FILE stays as it was. Safe to call twice. */
void na_out_abort(struct na_out *o);

#endif
