// SPDX-License-Identifier: (BSD-2-Clause OR GPL-2.0)
/*
 * -o FILE: temporary file, fsync, rename. The caller writes through a stdio
 * stream whose writes land in our own function (fopencookie), so the first
 * write error keeps its errno for the report, and gzip is the same stream
 * with gzwrite underneath.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <zlib.h>

#include "atomic_out.h"
#include "netacct.h"

#pragma GCC poison u8 u16 u32 u64

#define OUT_BUF (64 * 1024)

/*
 * Terminating signals that remove the temporary file. A signal handler can
 * only reach static storage: one armed output at a time (there is only one).
 */
static const int out_sigs[] = { SIGHUP, SIGINT, SIGQUIT, SIGTERM, SIGPIPE, SIGALRM,
				SIGUSR1, SIGUSR2, SIGXFSZ };
#define NSIGS NA_ARRAY_SIZE(out_sigs)
static struct sigaction sig_old[NSIGS];
static int sig_installed[NSIGS];
static char sig_tmp[PATH_MAX];
static volatile sig_atomic_t sig_armed;

static void on_signal(int sig)
{
	int saved = errno;

	if (sig_armed)
		unlink(sig_tmp);
	/* SA_RESETHAND put the default action back: it runs once we return */
	raise(sig);
	errno = saved;
}

static void sigs_block(sigset_t *old)
{
	sigset_t set;
	size_t i;

	sigemptyset(&set);
	for (i = 0; i < NSIGS; i++)
		sigaddset(&set, out_sigs[i]);
	sigprocmask(SIG_BLOCK, &set, old);
}

static void sigs_arm(const char *tmp)
{
	struct sigaction sa = { .sa_handler = on_signal, .sa_flags = SA_RESETHAND };
	size_t i;

	snprintf(sig_tmp, sizeof(sig_tmp), "%s", tmp);
	sig_armed = 1;
	sigemptyset(&sa.sa_mask);
	for (i = 0; i < NSIGS; i++) {
		sig_installed[i] = 0;
		if (sigaction(out_sigs[i], NULL, &sig_old[i]))
			continue;
		if (sig_old[i].sa_handler == SIG_IGN) /* nohup and friends: keep ignoring */
			continue;
		if (!sigaction(out_sigs[i], &sa, NULL))
			sig_installed[i] = 1;
	}
}

/* With the signals blocked: the temporary file is gone or renamed. */
static void sigs_disarm(void)
{
	size_t i;

	sig_armed = 0;
	for (i = 0; i < NSIGS; i++)
		if (sig_installed[i])
			sigaction(out_sigs[i], &sig_old[i], NULL);
	memset(sig_installed, 0, sizeof(sig_installed));
}

int na_out_is_gz(const char *path)
{
	size_t n = path ? strlen(path) : 0;

	return n > 3 && !strcmp(path + n - 3, ".gz");
}

static ssize_t fd_write(void *cookie, const char *buf, size_t len)
{
	struct na_out *o = cookie;
	size_t done = 0;
	ssize_t w;

	while (done < len) {
		w = write(o->fd, buf + done, len - done);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0) {
			if (!o->err)
				o->err = w < 0 ? -errno : -EIO;
			errno = -o->err;
			return -1;
		}
		done += (size_t)w;
	}
	return (ssize_t)len;
}

static ssize_t gz_write(void *cookie, const char *buf, size_t len)
{
	struct na_out *o = cookie;
	size_t done = 0;
	int w, zerr;

	while (done < len) {
		unsigned int chunk = len - done > (1u << 30) ? (1u << 30) : (unsigned int)(len - done);

		errno = 0;
		w = gzwrite(o->gz, buf + done, chunk);
		if (w <= 0) {
			gzerror(o->gz, &zerr);
			if (!o->err)
				o->err = zerr == Z_ERRNO && errno ? -errno : -EIO;
			errno = -o->err;
			return -1;
		}
		done += (size_t)w;
	}
	return (ssize_t)len;
}

/*
 * FILE's permission bits and owner when it is a regular file (*uid -1 when
 * it does not exist yet); -EINVAL when it is something else.
 */
static int target_mode(const char *path, mode_t *mode, uid_t *uid, gid_t *gid)
{
	struct stat st;
	mode_t um;

	*uid = (uid_t)-1;
	*gid = (gid_t)-1;
	if (lstat(path, &st) == 0) {
		if (!S_ISREG(st.st_mode))
			return -EINVAL;
		*mode = st.st_mode & 07777;
		*uid = st.st_uid;
		*gid = st.st_gid;
		return 0;
	}
	if (errno != ENOENT)
		return -errno;
	um = umask(0);
	umask(um);
	*mode = 0666 & ~um;
	return 0;
}

/* "dir/.name.XXXXXX" beside path; the name is shortened to stay within NAME_MAX. */
static char *tmp_name(const char *path)
{
	const char *slash = strrchr(path, '/');
	const char *base = slash ? slash + 1 : path;
	int dlen = slash ? (int)(slash - path + 1) : 0;
	int blen = (int)strlen(base);
	char *t;

	if (blen > NAME_MAX - 8)
		blen = NAME_MAX - 8;
	if (asprintf(&t, "%.*s.%.*s.XXXXXX", dlen, path, blen, base) < 0)
		return NULL;
	return t;
}

/* The temporary file beside path, with the handlers that remove it armed. 0 or -errno (reported). */
static int create_tmp(struct na_out *o, const char *path)
{
	sigset_t old;
	int err;

	o->tmp = tmp_name(path);
	if (!o->tmp)
		return na_err(-ENOMEM, "%s: -o %s", o->what, path);
	/* no signal between creating the file and arming its removal */
	sigs_block(&old);
	o->fd = mkostemp(o->tmp, O_CLOEXEC);
	err = o->fd < 0 ? -errno : 0;
	if (!err)
		sigs_arm(o->tmp);
	sigprocmask(SIG_SETMASK, &old, NULL);
	if (err) {
		na_err(err, "%s: create a temporary file beside %s", o->what, path);
		free(o->tmp);
		o->tmp = NULL;
	}
	return err;
}

/* o->f over the temporary file: gzip when path ends in ".gz", buffered. 0 or -errno (reported). */
static int open_stream(struct na_out *o, const char *path)
{
	cookie_io_functions_t fns = { 0 };
	int fd2;

	if (na_out_is_gz(path)) {
		/* gzclose() closes the descriptor it was given; ours stays open for fsync */
		fd2 = fcntl(o->fd, F_DUPFD_CLOEXEC, 0);
		if (fd2 < 0)
			return na_err(-errno, "%s: dup", o->what);
		o->gz = gzdopen(fd2, "wb");
		if (!o->gz) {
			close(fd2);
			return na_err(-ENOMEM, "%s: gzdopen %s", o->what, o->tmp);
		}
		fns.write = gz_write;
	} else {
		fns.write = fd_write;
	}
	o->f = fopencookie(o, "w", fns);
	if (!o->f)
		return na_err(-errno, "%s: open a stream on %s", o->what, o->tmp);
	setvbuf(o->f, NULL, _IOFBF, OUT_BUF);
	return 0;
}

int na_out_open(struct na_out *o, const char *path, const char *what)
{
	mode_t mode = 0;
	uid_t uid;
	gid_t gid;
	int err;

	memset(o, 0, sizeof(*o));
	o->fd = -1;
	o->what = what;
	if (!path || !strcmp(path, "-")) {
		o->f = stdout;
		return 0;
	}
	o->path = path;
	if (!*path || path[strlen(path) - 1] == '/') {
		na_log(NA_LOG_ERROR, "%s: -o '%s': not a file name", what, path);
		return -EINVAL;
	}
	err = target_mode(path, &mode, &uid, &gid);
	if (err == -EINVAL) {
		na_log(NA_LOG_ERROR, "%s: -o %s: not a regular file (to write to a device or a pipe, "
				     "leave -o out and redirect stdout)", what, path);
		return err;
	}
	if (err)
		return na_err(err, "%s: -o %s", what, path);
	err = create_tmp(o, path);
	if (err)
		return err;
	/* replacing a file keeps its owner where we may (root), then its mode */
	if (uid != (uid_t)-1 && fchown(o->fd, uid, gid) && errno != EPERM)
		err = na_err(-errno, "%s: chown %s", what, o->tmp);
	else if (fchmod(o->fd, mode))
		err = na_err(-errno, "%s: chmod %s", what, o->tmp);
	else
		err = open_stream(o, path);
	if (err)
		na_out_abort(o);
	return err;
}

void na_out_abort(struct na_out *o)
{
	sigset_t old;

	if (o->f && o->f != stdout)
		fclose(o->f); /* its writes may fail: the file goes anyway */
	o->f = NULL;
	if (o->gz)
		gzclose(o->gz);
	o->gz = NULL;
	if (o->fd >= 0)
		close(o->fd);
	o->fd = -1;
	if (o->tmp) {
		sigs_block(&old);
		unlink(o->tmp);
		sigs_disarm();
		sigprocmask(SIG_SETMASK, &old, NULL);
		free(o->tmp);
		o->tmp = NULL;
	}
}

/* fsync the directory so that the rename survives a crash; a failure there is only a warning. */
static void sync_dir(const struct na_out *o)
{
	const char *slash = strrchr(o->path, '/');
	char *dir = slash ? strndup(o->path, (size_t)(slash - o->path + 1)) : strdup(".");
	int fd;

	if (!dir)
		return;
	fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0 || (fsync(fd) && errno != EINVAL))
		na_log(NA_LOG_WARN, "%s: fsync %s: %s (the file is complete; a crash may lose it)",
		       o->what, dir, strerror(errno));
	if (fd >= 0)
		close(fd);
	free(dir);
}

int na_out_commit(struct na_out *o)
{
	sigset_t old;
	int err = 0, zrc;

	if (o->f == stdout) {
		o->f = NULL;
		if (fflush(stdout) || ferror(stdout)) {
			na_log(NA_LOG_ERROR, "%s: write to stdout failed", o->what);
			return -EIO;
		}
		return 0;
	}
	if (!o->tmp)
		return -EBADF;
	if (fclose(o->f) && !o->err)
		o->err = -(errno ? errno : EIO);
	o->f = NULL;
	if (o->err) {
		err = na_err(o->err, "%s: write %s", o->what, o->tmp);
		goto fail;
	}
	if (o->gz) {
		/* writes the deflate tail and the trailer: its result is the last write's */
		errno = 0;
		zrc = gzclose(o->gz);
		o->gz = NULL;
		if (zrc != Z_OK) {
			err = na_err(zrc == Z_ERRNO && errno ? -errno : -EIO, "%s: gzip %s", o->what, o->tmp);
			goto fail;
		}
	}
	if (fsync(o->fd)) {
		err = na_err(-errno, "%s: fsync %s", o->what, o->tmp);
		goto fail;
	}
	if (close(o->fd)) {
		o->fd = -1;
		err = na_err(-errno, "%s: close %s", o->what, o->tmp);
		goto fail;
	}
	o->fd = -1;
	/* a signal now finds the file renamed and whole, or removes it: never both */
	sigs_block(&old);
	if (rename(o->tmp, o->path)) {
		err = -errno;
		sigprocmask(SIG_SETMASK, &old, NULL);
		na_err(err, "%s: rename %s to %s", o->what, o->tmp, o->path);
		goto fail;
	}
	sigs_disarm();
	sigprocmask(SIG_SETMASK, &old, NULL);
	free(o->tmp);
	o->tmp = NULL;
	sync_dir(o);
	return 0;
fail:
	na_out_abort(o);
	return err;
}
