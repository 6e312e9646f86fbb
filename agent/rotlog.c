// SPDX-License-Identifier: (BSD-2-Clause OR GPL-2.0)
/*
 * The agent's connection log, rotated by size. Root writes it: every name is
 * opened in the log's directory, held open as a descriptor after a walk
 * that trusts it only when root's and writable by nobody else (a user who
 * can write there could make root write or remove a file of their choice),
 * and no open follows a link or reuses a file it did not make.
 */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <zlib.h>

#include "netacct.h"
#include "rotlog.h"

#define NA_ROTLOG_REPORT_S 60 /* a failure that repeats is said once a minute */

/*
 * One failure: said at once when it is new (or the cause changed), then at
 * most once a minute with how often it recurred, so that a full disk gives
 * a line a minute, not four a second. Returns err.
 */
static int report(struct na_rotlog *r, int err, const char *what)
{
	int64_t now = na_mono_s();

	if (err == r->err && now - r->err_said_s < NA_ROTLOG_REPORT_S) {
		r->err_repeats++;
		return err;
	}
	if (err == r->err && r->err_repeats)
		na_err(err, "%s %s (and %u times more in the last %d s)", what, r->path, r->err_repeats,
		       (int)(now - r->err_said_s));
	else
		na_err(err, "%s %s", what, r->path);
	r->err = err;
	r->err_said_s = now;
	r->err_repeats = 0;
	return err;
}

/* A file of the log's directory that netacct may write: a regular file with one name, not a link. */
static int check_file(struct na_rotlog *r, int fd, const char *name)
{
	struct stat st;

	if (fstat(fd, &st))
		return -errno;
	if (!S_ISREG(st.st_mode) || st.st_nlink != 1) {
		na_log(NA_LOG_ERROR, "log file %s/%s: %s; netacct writes only a regular file of its own", r->dir, name,
		       S_ISREG(st.st_mode) ? "has other names (hard links)" : "not a regular file");
		return -EPERM;
	}
	return 0;
}

static int open_file(struct na_rotlog *r, int trunc)
{
	struct stat st;
	int fd, err;

	fd = openat(r->dirfd, r->name, O_WRONLY | O_APPEND | O_CREAT | O_NOFOLLOW | O_CLOEXEC | (trunc ? O_TRUNC : 0),
		    0640);
	if (fd < 0)
		return report(r, -errno, errno == ELOOP ? "open log file (a symbolic link: refused)" : "open log file");
	err = check_file(r, fd, r->name);
	if (!err && (fstat(fd, &st) || !(r->f = fdopen(fd, "a"))))
		err = report(r, -errno, "open log file");
	if (err) {
		close(fd);
		return err;
	}
	r->size = (uint64_t)st.st_size;
	return 0;
}

int na_rotlog_open(struct na_rotlog *r, const char *path, uint64_t max, unsigned keep)
{
	char buf[PATH_MAX];
	int err;

	memset(r, 0, sizeof(*r));
	r->dirfd = -1;
	if ((size_t)snprintf(r->path, sizeof(r->path), "%s", path) >= sizeof(r->path) - 16)
		return na_err(-ENAMETOOLONG, "log file %s", path);
	snprintf(buf, sizeof(buf), "%s", path);
	snprintf(r->name, sizeof(r->name), "%s", basename(buf));
	snprintf(buf, sizeof(buf), "%s", path);
	snprintf(r->dir, sizeof(r->dir), "%s", dirname(buf));
	if (!r->name[0] || !strcmp(r->name, "/") || !strcmp(r->name, ".") || !strcmp(r->name, ".."))
		return na_err(-EINVAL, "log file %s: not a file name", path);
	r->max = max;
	r->keep = keep;
	err = na_dir_trust_open(r->dir, "log-file directory", &r->dirfd);
	if (err == -ENOENT)
		na_log(NA_LOG_ERROR, "log file %s: the directory %s does not exist", path, r->dir);
	if (err)
		return err;
	err = open_file(r, 0);
	if (err) {
		close(r->dirfd);
		r->dirfd = -1;
	}
	return err;
}

/* name -> to, gzip, made new (O_EXCL) and 0640 (as private as the log itself). */
static int compress_to(struct na_rotlog *r, const char *to)
{
	char buf[65536];
	gzFile out = NULL;
	ssize_t n;
	int in, fd, err = 0;

	in = openat(r->dirfd, r->name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (in < 0)
		return report(r, -errno, "rotate: open");
	/* A temporary left by a crash goes; the new one is made, never opened as found. */
	if (unlinkat(r->dirfd, to, 0) && errno != ENOENT) {
		close(in);
		return report(r, -errno, "rotate: remove the old temporary of");
	}
	fd = openat(r->dirfd, to, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0640);
	out = fd >= 0 ? gzdopen(fd, "wb") : NULL;
	if (!out) {
		err = fd < 0 ? -errno : -ENOMEM;
		if (fd >= 0)
			close(fd);
		close(in);
		return report(r, err, "rotate: create a temporary for");
	}
	while (!err && (n = read(in, buf, sizeof(buf))) > 0)
		if (gzwrite(out, buf, (unsigned)n) != (int)n)
			err = -EIO;
	if (n < 0)
		err = -errno;
	close(in);
	if (gzclose(out) != Z_OK && !err)
		err = -EIO;
	if (err) {
		unlinkat(r->dirfd, to, 0);
		return report(r, err, "rotate: compress");
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
	char a[NAME_MAX + 16], b[NAME_MAX + 16], tmp[NAME_MAX + 16];
	unsigned k;
	int err;

	if (fflush(r->f))
		return report(r, -errno, "write log file");
	if (r->keep) {
		snprintf(tmp, sizeof(tmp), "%s.1.gz.tmp", r->name);
		err = compress_to(r, tmp);
		if (err) {
			r->retry_size = r->size + r->max;
			return err;
		}
		snprintf(a, sizeof(a), "%s.%u.gz", r->name, r->keep);
		if (unlinkat(r->dirfd, a, 0) && errno != ENOENT)
			report(r, -errno, "rotate: remove the oldest archive of");
		for (k = r->keep - 1; k >= 1; k--) {
			snprintf(a, sizeof(a), "%s.%u.gz", r->name, k);
			snprintf(b, sizeof(b), "%s.%u.gz", r->name, k + 1);
			/* renameat replaces whatever has the new name: a link there is replaced, not followed */
			if (renameat(r->dirfd, a, r->dirfd, b) && errno != ENOENT)
				report(r, -errno, "rotate: shift an archive of");
		}
		snprintf(a, sizeof(a), "%s.1.gz", r->name);
		if (renameat(r->dirfd, tmp, r->dirfd, a)) {
			err = report(r, -errno, "rotate: rename the new archive of");
			unlinkat(r->dirfd, tmp, 0);
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

	if (r->dirfd < 0)
		return -EBADF;
	if (!r->f && (err = open_file(r, 0)))
		return err;
	if (r->size && r->size + len > r->max && r->size >= r->retry_size)
		rotate(r); /* reported; on failure the line goes into the file as it is */
	if (!r->f && (err = open_file(r, 0)))
		return err;
	if (fwrite(line, 1, len, r->f) != len || fflush(r->f)) {
		int fd = dup(fileno(r->f));

		err = report(r, -errno ? -errno : -EIO, "write log file");
		/* No half line stays: back to the last whole one (after fclose's own last try), reopened at the next write. */
		fclose(r->f);
		r->f = NULL;
		if (fd >= 0 && ftruncate(fd, (off_t)r->size))
			report(r, -errno, "truncate to its last whole line: log file");
		if (fd >= 0)
			close(fd);
		return err;
	}
	r->size += len;
	if (r->err) {
		if (r->err_repeats)
			na_log(NA_LOG_INFO, "log file %s is written again (%u more failures since the last report)",
			       r->path, r->err_repeats);
		r->err = 0;
		r->err_repeats = 0;
	}
	return 0;
}

void na_rotlog_close(struct na_rotlog *r)
{
	if (r->f)
		fclose(r->f);
	r->f = NULL;
	if (r->dirfd >= 0)
		close(r->dirfd);
	r->dirfd = -1;
}
