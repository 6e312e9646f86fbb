// SPDX-License-Identifier: (BSD-2-Clause OR GPL-2.0)
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <zlib.h>

#include "netacct.h"
#include "rotlog.h"

static int open_file(struct na_rotlog *r, int trunc)
{
	struct stat st;
	int fd = open(r->path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | (trunc ? O_TRUNC : 0), 0640);

	if (fd < 0)
		return na_err(-errno, "open log file %s", r->path);
	if (fstat(fd, &st) || !(r->f = fdopen(fd, "a"))) {
		int err = -errno;

		close(fd);
		return na_err(err, "open log file %s", r->path);
	}
	r->size = (uint64_t)st.st_size;
	return 0;
}

int na_rotlog_open(struct na_rotlog *r, const char *path, uint64_t max, unsigned keep)
{
	memset(r, 0, sizeof(*r));
	if ((size_t)snprintf(r->path, sizeof(r->path), "%s", path) >= sizeof(r->path) - 16)
		return na_err(-ENAMETOOLONG, "log file %s", path);
	r->max = max;
	r->keep = keep;
	return open_file(r, 0);
}

/* FILE -> to, gzip, created 0640 (as private as the log itself). */
static int compress_to(const char *from, const char *to)
{
	char buf[65536];
	FILE *in = fopen(from, "re");
	gzFile out;
	size_t n;
	int fd, err = 0;

	if (!in)
		return na_err(-errno, "rotate: open %s", from);
	fd = open(to, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0640);
	out = fd >= 0 ? gzdopen(fd, "wb") : NULL;
	if (!out) {
		err = fd < 0 ? -errno : -ENOMEM;
		if (fd >= 0)
			close(fd);
		fclose(in);
		return na_err(err, "rotate: create %s", to);
	}
	while (!err && (n = fread(buf, 1, sizeof(buf), in)) > 0)
		if (gzwrite(out, buf, (unsigned)n) != (int)n)
			err = -EIO;
	if (ferror(in))
		err = -EIO;
	fclose(in);
	if (gzclose(out) != Z_OK && !err)
		err = -EIO;
	if (err) {
		unlink(to);
		return na_err(err, "rotate: compress %s into %s", from, to);
	}
	return 0;
}

/*
 * Compress first (into FILE.1.gz.tmp); only when that worked are the older
 * files shifted, the oldest dropped and FILE emptied: a failure (a full
 * disk) loses no archive. It is tried again when the file has grown by
 * another max bytes, not at every line.
 */
static int rotate(struct na_rotlog *r)
{
	char a[PATH_MAX + 16], b[PATH_MAX + 16], tmp[PATH_MAX + 32];
	unsigned k;
	int err;

	if (fflush(r->f))
		return na_err(-errno, "write log file %s", r->path);
	if (r->keep) {
		snprintf(tmp, sizeof(tmp), "%s.1.gz.tmp", r->path);
		err = compress_to(r->path, tmp);
		if (err) {
			r->retry_size = r->size + r->max;
			return err;
		}
		snprintf(a, sizeof(a), "%s.%u.gz", r->path, r->keep);
		if (unlink(a) && errno != ENOENT)
			na_err(-errno, "rotate: remove %s", a);
		for (k = r->keep - 1; k >= 1; k--) {
			snprintf(a, sizeof(a), "%s.%u.gz", r->path, k);
			snprintf(b, sizeof(b), "%s.%u.gz", r->path, k + 1);
			if (rename(a, b) && errno != ENOENT)
				na_err(-errno, "rotate: rename %s", a);
		}
		snprintf(a, sizeof(a), "%s.1.gz", r->path);
		if (rename(tmp, a)) {
			err = na_err(-errno, "rotate: rename %s", tmp);
			unlink(tmp);
			r->retry_size = r->size + r->max;
			return err;
		}
	}
	fclose(r->f);
	r->f = NULL;
	r->retry_size = 0;
	return open_file(r, 1);
}

int na_rotlog_write(struct na_rotlog *r, const char *line, size_t len)
{
	int err;

	if (!r->f && (err = open_file(r, 0)))
		return err;
	if (r->size && r->size + len > r->max && r->size >= r->retry_size)
		rotate(r); /* reported; on failure the line goes into the file as it is */
	if (!r->f && (err = open_file(r, 0)))
		return err;
	if (fwrite(line, 1, len, r->f) != len || fflush(r->f)) {
		err = na_err(-errno ? -errno : -EIO, "write log file %s", r->path);
		/* No half line stays: back to the last whole one, reopened at the next write. */
		fclose(r->f);
		r->f = NULL;
		if (truncate(r->path, (off_t)r->size))
			na_err(-errno, "truncate %s to its last whole line", r->path);
		return err;
	}
	r->size += len;
	return 0;
}

void na_rotlog_close(struct na_rotlog *r)
{
	if (r->f)
		fclose(r->f);
	r->f = NULL;
}
