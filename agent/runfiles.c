// SPDX-License-Identifier: (BSD-2-Clause OR GPL-2.0)
/*
 * One agent per pin root: its files in /run/netacct, named by the pin root.
 * The lock (agent<pin root>.lock, holding the agent's pid) keeps a second
 * agent from starting and tells who holds it; the list of the cgroups the
 * agent manages (agent<pin root>.cgroups) lets `netacct detach` refuse them.
 * The agent writes both (agent/daemon.c); the commands read them.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "daemon.h"

/* /run/netacct/agent<pin root>EXT: the pin root's path names the agent's files. */
static int agent_file(const char *pin_root, const char *ext, char *p, size_t len)
{
	return na_pin_root_file(NA_AGENT_LOCK_DIR "/agent", pin_root, ext, p, len);
}

int na_agent_lock_path(const char *pin_root, char *p, size_t len)
{
	return agent_file(pin_root, ".lock", p, len);
}

int na_agent_running(const char *pin_root, int *pid)
{
	char p[PATH_MAX], *line = NULL;
	unsigned maj, min;
	unsigned long long ino;
	size_t cap = 0;
	struct stat st;
	int found = 0, lpid;
	FILE *f;

	/*
	 * /proc/locks, not a try-lock of our own: a shared lock taken just then
	 * would make an agent starting at that moment find the lock taken.
	 */
	if (na_agent_lock_path(pin_root, p, sizeof(p)) || stat(p, &st))
		return 0;
	f = fopen("/proc/locks", "re");
	while (f && !found && getline(&line, &cap, f) > 0) {
		if (sscanf(line, "%*d: FLOCK %*s WRITE %d %x:%x:%llu", &lpid, &maj, &min, &ino) == 4 &&
		    ino == st.st_ino && maj == major(st.st_dev) && min == minor(st.st_dev)) {
			found = 1;
			if (pid)
				*pid = lpid;
		}
	}
	free(line);
	if (f)
		fclose(f);
	return found;
}

int na_agent_manages(const char *pin_root, uint64_t cgroup_id, char *conf, size_t clen)
{
	char p[PATH_MAX], *line = NULL;
	unsigned long long id;
	size_t cap = 0;
	int found = 0;
	FILE *f;

	if (conf && clen)
		conf[0] = '\0';
	if (agent_file(pin_root, ".cgroups", p, sizeof(p)) || !(f = fopen(p, "re")))
		return 0;
	while (getline(&line, &cap, f) > 0) {
		if (conf && clen && !strncmp(line, "config ", 7)) {
			line[strcspn(line, "\n")] = '\0';
			snprintf(conf, clen, "%s", line + 7);
		}
		found |= sscanf(line, "cgroup %llu", &id) == 1 && id == cgroup_id;
	}
	free(line);
	fclose(f);
	return found;
}

int na_agent_lock_take(struct na_agent *a)
{
	char p[PATH_MAX], pid[32];
	struct stat fst, pst;
	ssize_t n;
	int fd;

	if (mkdir(NA_AGENT_LOCK_DIR, 0755) && errno != EEXIST)
		return na_err(-errno, "agent: create %s", NA_AGENT_LOCK_DIR);
	if (na_agent_lock_path(a->pin_root, p, sizeof(p)))
		return na_err(-ENAMETOOLONG, "agent: lock file for %s", a->pin_root);
	for (;;) {
		fd = open(p, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0644);
		if (fd < 0)
			return na_err(-errno, "agent: open %s", p);
		if (flock(fd, LOCK_EX | LOCK_NB)) {
			int err = -errno;

			n = pread(fd, pid, sizeof(pid) - 1, 0);
			pid[n > 0 ? n : 0] = '\0';
			pid[strcspn(pid, "\n")] = '\0';
			close(fd);
			if (err == -EWOULDBLOCK) {
				na_log(NA_LOG_ERROR, "agent: another agent runs for pin root %s (pid %s, lock %s)",
				       a->pin_root, pid[0] ? pid : "?", p);
				return -EBUSY;
			}
			return na_err(err, "agent: lock %s", p);
		}
		/*
		 * An agent that ended removed the file it held: a lock on that
		 * file (opened before the removal) locks nothing. Locked and still
		 * the file at that path: ours.
		 */
		if (!fstat(fd, &fst) && !lstat(p, &pst) && fst.st_ino == pst.st_ino && fst.st_dev == pst.st_dev)
			break;
		close(fd);
	}
	n = snprintf(pid, sizeof(pid), "%d\n", (int)getpid());
	if (ftruncate(fd, 0) || pwrite(fd, pid, (size_t)n, 0) != n)
		na_log(NA_LOG_WARN, "agent: could not write the pid into %s", p);
	a->lockfd = fd;
	return 0;
}

/* At the end: the lock file goes first (while still locked), then the lock. */
void na_agent_lock_drop(struct na_agent *a)
{
	char p[PATH_MAX];

	if (a->lockfd < 0)
		return;
	if (!na_agent_lock_path(a->pin_root, p, sizeof(p)) && unlink(p) && errno != ENOENT)
		na_err(-errno, "agent: remove %s", p);
	close(a->lockfd);
	a->lockfd = -1;
}

/*
 * The cgroups this agent manages, by id, in /run/netacct/agent<pin root>.cgroups
 * (written whole through a new file and a rename, when it changes):
 * `netacct detach` refuses them, naming the agent, since the next scan would
 * attach them again. Gone with the agent at a clean exit; a killed agent's
 * file counts for nothing, as it holds no lock.
 */
void na_agent_publish(struct na_agent *a)
{
	char p[PATH_MAX], tmp[PATH_MAX + 8], *text = NULL, *c;
	size_t len = 0, i;
	struct stat st;
	FILE *m;
	int fd;

	if (agent_file(a->pin_root, ".cgroups", p, sizeof(p)) || !(m = open_memstream(&text, &len)))
		return;
	fprintf(m, "pid %d\nconfig %s\n", (int)getpid(), a->conf_path);
	for (i = 0; i < a->nattached; i++) {
		if (stat(a->attached[i], &st))
			continue;
		fprintf(m, "cgroup %llu ", (unsigned long long)st.st_ino);
		for (c = a->attached[i]; *c; c++)
			fputc((unsigned char)*c < 0x20 || *c == 0x7f ? '?' : *c, m);
		fputc('\n', m);
	}
	if (fclose(m) || (a->published && !strcmp(a->published, text))) {
		free(text);
		return;
	}
	snprintf(tmp, sizeof(tmp), "%s.tmp", p);
	unlink(tmp);
	fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
	if (fd < 0 || write(fd, text, len) != (ssize_t)len || close(fd) || rename(tmp, p)) {
		na_err(-errno, "agent: write %s (detach cannot tell which cgroups the agent manages)", p);
		if (fd >= 0)
			unlink(tmp);
		free(text);
		return;
	}
	free(a->published);
	a->published = text;
}

void na_agent_unpublish(struct na_agent *a)
{
	char p[PATH_MAX];

	if (a->published && !agent_file(a->pin_root, ".cgroups", p, sizeof(p)))
		unlink(p);
	free(a->published);
	a->published = NULL;
}
