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

static int open_append(struct na_rotlog *r)
{
	struct stat st;
	int fd = open(r->path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);

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
	return open_append(r);
}

/* FILE -> FILE.1.gz through a temporary file: a crash leaves FILE whole. */
static int compress_to(const char *from, const char *to)
{
	char tmp[PATH_MAX + 32], buf[65536];
	FILE *in = fopen(from, "re");
	gzFile out;
	size_t n;
	int err = 0;

	if (!in)
		return na_err(-errno, "rotate: open %s", from);
	snprintf(tmp, sizeof(tmp), "%s.tmp", to);
	out = gzopen(tmp, "wb");
	if (!out) {
		fclose(in);
		return na_err(-EIO, "rotate: create %s", tmp);
	}
	while (!err && (n = fread(buf, 1, sizeof(buf), in)) > 0)
		if (gzwrite(out, buf, (unsigned)n) != (int)n)
			err = -EIO;
	if (ferror(in))
		err = -EIO;
	fclose(in);
	if (gzclose(out) != Z_OK && !err)
		err = -EIO;
	if (!err && rename(tmp, to))
		err = -errno;
	if (err) {
		unlink(tmp);
		return na_err(err, "rotate: compress %s into %s", from, to);
	}
	return 0;
}

static int rotate(struct na_rotlog *r)
{
	char a[PATH_MAX + 16], b[PATH_MAX + 16];
	unsigned k;
	int err;

	fclose(r->f);
	r->f = NULL;
	if (r->keep) {
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
		err = compress_to(r->path, a);
		if (err) {
			open_append(r); /* keep writing to the uncompressed file */
			return err;
		}
	}
	if (truncate(r->path, 0))
		na_err(-errno, "rotate: truncate %s", r->path);
	return open_append(r);
}

int na_rotlog_write(struct na_rotlog *r, const char *line, size_t len)
{
	int err;

	if (!r->f && (err = open_append(r)))
		return err;
	if (r->size && r->size + len > r->max && (err = rotate(r)) && !r->f)
		return err;
	if (fwrite(line, 1, len, r->f) != len || fflush(r->f))
		return na_err(-errno ? -errno : -EIO, "write log file %s", r->path);
	r->size += len;
	return 0;
}

void na_rotlog_close(struct na_rotlog *r)
{
	if (r->f)
		fclose(r->f);
	r->f = NULL;
}
