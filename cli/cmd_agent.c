// SPDX-License-Identifier: (BSD-2-Clause OR GPL-2.0)
/*
 * agent: the long-running service (docs/agent.md). It attaches the cgroups
 * its configuration names (paths or globs, scanned again every `rescan`
 * seconds), and serves the Prometheus text of prom.c on /metrics with
 * libmicrohttpd. SIGHUP reloads the configuration (a bad one is reported and
 * the running one kept); SIGTERM and SIGINT end it, leaving the attachments
 * in place unless --detach-on-exit. One agent per pin root: a second one
 * finds the lock taken and says who holds it.
 *
 * The counters come from the pinned maps, so they do not go back when the
 * agent restarts; the agent holds no counting state of its own.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <glob.h>
#include <libgen.h>
#include <linux/magic.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/sysmacros.h>
#include <time.h>
#include <unistd.h>

#include <microhttpd.h>

#include "args.h"
#include "history.h"
#include "prom.h"
#include "rotlog.h"
#include "series.h"


struct agent {
	const char *pin_root;
	const char *conf_path;
	struct na_conf conf;
	char **attached;        /* paths from the config: attached, found attached, or to retry */
	size_t nattached;
	size_t nlive;           /* of those, attached at the last scan */
	struct MHD_Daemon *http;
	pthread_mutex_t lock;   /* the configuration, the attachments, the connection log */
	/*
	 * /metrics: the scraper thread reads the maps; a request waits for
	 * its reading, suspended (see scraper_main()). Under scrape_lock:
	 * waiting, want, scraping, closing.
	 */
	pthread_mutex_t scrape_lock;
	pthread_cond_t scrape_wake;
	pthread_t scraper;
	int scraper_started;
	struct waiter *waiting; /* suspended requests, answered when the next reading ends */
	int want;               /* a request waits for a reading that has not begun */
	int scraping;           /* a reading is under way: a request that comes now gets its text */
	int closing;            /* the agent ends: requests get 503 at once */
	struct na_state *st;    /* kept from scrape to scrape (the reader's program and buffer); the scraper's */
	struct na_series *series; /* what was published of the derived series; the scraper's */
	int lockfd;
	struct na_connlog *log; /* the connection log, followed into rl */
	struct na_rotlog rl;
	char *pending;          /* a record taken from the ring buffer, not yet in the file */
	size_t pending_len;
	char *published;        /* what /run/netacct/agent<pin root>.cgroups says */
	int64_t log_retry_s;    /* after a failed log_open(): not again before this (mono_s()) */
	struct na_ratelimit mhd_said;  /* libmicrohttpd's messages */
	struct na_ratelimit http_said; /* connections closed at their deadline */
	struct na_recorder *rec; /* the traffic history (agent/recorder.c), NULL with history none */
	const char *networks_opt;      /* --networks FILE: over the configuration's */
	struct na_netclass *classes;   /* peer classes of /metrics and the log file */
	struct na_names *names;        /* the cgroups' names, kept across scrapes */
};

/* The peer classes the configuration (or --networks) names: 0, or -errno after reporting FILE:LINE. */
static int load_classes(const struct agent *a, const struct na_conf *c, struct na_netclass **out)
{
	return na_netclass_load(a->networks_opt ? a->networks_opt : c->networks[0] ? c->networks : NULL, out);
}

/* Seconds on the monotonic clock: a wall clock set back must not stop the scans. */
static int64_t mono_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec;
}

/* ---- one agent per pin root ---------------------------------------------- */

/* /run/netacct/agent<pin root>EXT: the pin root's path names the agent's files. */
static int agent_file(const char *pin_root, const char *ext, char *p, size_t len)
{
	const char *r, *s;
	size_t k;

	/*
	 * '/' written %2F and '%' %25 (one name per path); repeated and trailing
	 * slashes do not count.
	 */
	k = (size_t)snprintf(p, len, "%s/agent", NA_AGENT_LOCK_DIR);
	for (r = pin_root; *r && k + 8 < len; r++) {
		if (*r == '/' && (r[1] == '/' || !r[1]))
			continue;
		s = *r == '/' ? "%2F" : *r == '%' ? "%25" : NULL;
		if (s) {
			memcpy(p + k, s, 3);
			k += 3;
		} else {
			p[k++] = *r;
		}
	}
	if (*r || k + strlen(ext) + 1 > len)
		return -ENAMETOOLONG;
	memcpy(p + k, ext, strlen(ext) + 1);
	return 0;
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

static int take_lock(struct agent *a)
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
static void drop_lock(struct agent *a)
{
	char p[PATH_MAX];

	if (a->lockfd < 0)
		return;
	if (!na_agent_lock_path(a->pin_root, p, sizeof(p)) && unlink(p) && errno != ENOENT)
		na_err(-errno, "agent: remove %s", p);
	close(a->lockfd);
	a->lockfd = -1;
}

/* ---- attaching what the configuration names ------------------------------ */

static int is_cgroup2_dir(const char *p)
{
	struct statfs sfs;
	struct stat st;

	return !stat(p, &st) && S_ISDIR(st.st_mode) && !statfs(p, &sfs) && sfs.f_type == CGROUP2_SUPER_MAGIC;
}

static int listed(char **v, size_t n, const char *p)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (!strcmp(v[i], p))
			return 1;
	return 0;
}

/* Every cgroup2 directory the configuration's lines match now, without repeats. */
static int expand(const struct na_conf *c, char ***out, size_t *n)
{
	char **v = NULL, **nv;
	size_t i, j;
	glob_t g;
	int r;

	*n = 0;
	for (i = 0; i < c->nattach; i++) {
		r = glob(c->attach[i], GLOB_ONLYDIR | GLOB_BRACE, NULL, &g);
		if (r == GLOB_NOMATCH)
			continue; /* a service that does not exist yet: the next scan looks again */
		if (r) {
			globfree(&g);
			goto nomem;
		}
		for (j = 0; j < g.gl_pathc; j++) {
			if (!is_cgroup2_dir(g.gl_pathv[j]) || listed(v, *n, g.gl_pathv[j]))
				continue;
			nv = realloc(v, (*n + 1) * sizeof(*v));
			if (!nv || !(nv[*n] = strdup(g.gl_pathv[j]))) {
				v = nv ? nv : v;
				globfree(&g);
				goto nomem;
			}
			v = nv;
			(*n)++;
		}
		globfree(&g);
	}
	*out = v;
	return 0;
nomem:
	for (i = 0; i < *n; i++)
		free(v[i]);
	free(v);
	return -ENOMEM;
}

static void free_list(char **v, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

/*
 * The cgroups this agent manages, by id, in /run/netacct/agent<pin root>.cgroups
 * (written whole through a new file and a rename, when it changes):
 * `netacct detach` refuses them, naming the agent, since the next scan would
 * attach them again. Gone with the agent at a clean exit; a killed agent's
 * file counts for nothing, as it holds no lock.
 */
static void publish_managed(struct agent *a)
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

static void unpublish_managed(struct agent *a)
{
	char p[PATH_MAX];

	if (a->published && !agent_file(a->pin_root, ".cgroups", p, sizeof(p)))
		unlink(p);
	free(a->published);
	a->published = NULL;
}

/*
 * Attach what the configuration matches now; with `prune` (a reload),
 * detach what an earlier configuration matched and this one no longer does,
 * after attaching (so that a reload that swaps the whole set never empties
 * the pin root in between). A cgroup that no configuration matched is never
 * touched. A failed detach is kept on the list and tried again at the next
 * reload; other failures are reported and the next scan tries again.
 */
static int sync_attachments(struct agent *a, int prune)
{
	struct na_attach_opts ao = {
		.pin_root = a->pin_root,
		.max_sockets = a->conf.max_sockets,
		.max_closed = a->conf.max_closed,
		.max_peers = a->conf.max_peers,
		.log_bytes = a->conf.log_bytes,
		.group_set = a->conf.group_set,
		.gid = a->conf.gid,
		.log_private = a->conf.log_file[0] != '\0',
	};
	char **now = NULL;
	size_t n = 0, i, live = 0;
	int err;

	err = expand(&a->conf, &now, &n);
	if (err)
		return na_err(err, "agent: expand attach patterns");
	for (i = 0; i < n; i++) {
		/* group is applied on every attach: a changed group in the config takes effect */
		err = na_attach_cgroup(&ao, now[i]);
		if (!err)
			na_log(NA_LOG_INFO, "agent: %s: attached", now[i]);
		else if (err < 0)
			na_log(NA_LOG_WARN, "agent: %s: attach failed (the next scan tries again)", now[i]);
		live += err >= 0;
	}
	for (i = 0; prune && i < a->nattached; i++) {
		char **v;

		if (listed(now, n, a->attached[i]))
			continue;
		err = na_detach_cgroup(a->pin_root, a->attached[i]);
		if (!err || err == -ENOENT) {
			na_log(NA_LOG_INFO, "agent: %s: detached (no longer in %s)", a->attached[i], a->conf_path);
			continue;
		}
		v = realloc(now, (n + 1) * sizeof(*now)); /* kept: the next reload tries again */
		if (v) {
			now = v;
			now[n++] = a->attached[i];
			a->attached[i] = NULL;
		}
	}
	free_list(a->attached, a->nattached);
	a->attached = now;
	a->nattached = n;
	a->nlive = live;
	publish_managed(a);
	return 0;
}

/* ---- the connection log, into a file rotated by size -------------------- */

/*
 * One record. libbpf stores the consumer position past a record even when
 * its callback fails (agent/connlog.c), so a record whose line could not be
 * written is kept here (`pending`) and consuming stops: the records after it
 * stay in the ring buffer until the file takes the pending line.
 */
static int on_log_record(void *ctx, const struct na_conn *c)
{
	struct agent *a = ctx;
	char *line = NULL;
	size_t len = 0;
	FILE *m = open_memstream(&line, &len);
	int err;

	if (!m)
		return na_err(-ENOMEM, "agent: a connection record is lost"); /* consumed all the same */
	err = na_conn_json(m, a->log, c, na_boot_offset_ns(), a->names, a->classes);
	if (fclose(m) && !err)
		err = na_err(-ENOMEM, "agent: a connection record is lost");
	if (!err && na_rotlog_write(&a->rl, line, len)) {
		na_log(NA_LOG_ERROR, "agent: connection records wait in the ring buffer until %s can be written",
		       a->rl.path);
		a->pending = line;
		a->pending_len = len;
		return -EAGAIN;
	}
	free(line);
	return err;
}

/* Consume the ring buffer into the file, the pending line first; under a->lock. */
static void log_drain(struct agent *a)
{
	if (!a->log)
		return;
	if (a->pending) {
		if (na_rotlog_write(&a->rl, a->pending, a->pending_len))
			return;
		free(a->pending);
		a->pending = NULL;
		na_log(NA_LOG_INFO, "agent: %s is written again", a->rl.path);
	}
	na_connlog_consume(a->log);
}

static void log_close(struct agent *a)
{
	if (a->log) {
		log_drain(a);
		na_connlog_close(a->log);
	}
	a->log = NULL;
	if (a->pending)
		na_log(NA_LOG_ERROR, "agent: one connection record could not be written to %s and is lost",
		       a->rl.path);
	free(a->pending);
	a->pending = NULL;
	na_rotlog_close(&a->rl);
}

/*
 * The log file's directory, made (0750) when missing below a trusted one,
 * and trusted: root's and writable by nobody else (na_dir_trust_open()).
 * 0, or -errno reported with the reason.
 */
static int log_dir_check(const char *file)
{
	char dir[PATH_MAX], parent[PATH_MAX], name[PATH_MAX], buf[PATH_MAX];
	int fd = -1, pfd = -1, err;

	snprintf(buf, sizeof(buf), "%s", file);
	snprintf(dir, sizeof(dir), "%s", dirname(buf));
	err = na_dir_trust_open(dir, "log-file directory", &fd);
	if (err == -ENOENT) {
		snprintf(buf, sizeof(buf), "%s", dir);
		snprintf(name, sizeof(name), "%s", basename(buf));
		snprintf(buf, sizeof(buf), "%s", dir);
		snprintf(parent, sizeof(parent), "%s", dirname(buf));
		err = na_dir_trust_open(parent, "log-file directory", &pfd);
		if (err == -ENOENT)
			na_log(NA_LOG_ERROR, "agent: log-file %s: %s does not exist", file, parent);
		if (!err && mkdirat(pfd, name, 0750) && errno != EEXIST)
			err = na_err(-errno, "agent: create %s", dir);
		if (pfd >= 0)
			close(pfd);
		if (!err)
			err = na_dir_trust_open(dir, "log-file directory", &fd);
	}
	if (fd >= 0)
		close(fd);
	return err;
}

/* Follow the pinned ring buffer into the configured file (none: nothing to do). */
static int log_open(struct agent *a)
{
	int err;

	log_close(a);
	if (!a->conf.log_file[0])
		return 0;
	err = log_dir_check(a->conf.log_file);
	if (!err)
		err = na_rotlog_open(&a->rl, a->conf.log_file, a->conf.log_max_bytes, a->conf.log_keep);
	if (!err)
		err = na_connlog_open(a->pin_root, on_log_record, a, &a->log);
	if (err) {
		na_rotlog_close(&a->rl);
		a->log = NULL;
		a->log_retry_s = mono_s() + 60; /* a failure is tried again (and said again) once a minute */
	}
	return err;
}

/* The pinned ring buffer may have been replaced (detach --all, attach): follow the new one. */
static void log_check(struct agent *a)
{
	if (a->conf.log_file[0] && (!a->log || na_connlog_pinned(a->log) != 1) &&
	    (a->log || mono_s() >= a->log_retry_s))
		log_open(a);
}

/* ---- /metrics ------------------------------------------------------------- */

static enum MHD_Result reply(struct MHD_Connection *c, unsigned status, const char *type, char *body, size_t len)
{
	struct MHD_Response *r = MHD_create_response_from_buffer(len, body, MHD_RESPMEM_MUST_FREE);
	enum MHD_Result ret;

	if (!r) {
		free(body);
		return MHD_NO;
	}
	MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, type);
	ret = MHD_queue_response(c, status, r);
	MHD_destroy_response(r);
	return ret;
}

static enum MHD_Result text_reply(struct MHD_Connection *c, unsigned status, const char *msg)
{
	char *b = strdup(msg);

	return b ? reply(c, status, "text/plain; charset=utf-8", b, strlen(b)) : MHD_NO;
}

/*
 * The exposition of one fresh snapshot, in a buffer the caller frees. The
 * pinned state stays open from one scrape to the next (the reader's program
 * and buffer are made once), and is opened again when the pin root's maps
 * were replaced. Runs in the scraper thread only.
 */
static int metrics_text(struct agent *a, char **out, size_t *len)
{
	struct na_snapshot snap;
	FILE *f;
	int err;

	*out = NULL;
	*len = 0;
	err = a->st ? na_state_current(a->st) : 0;
	if (err != 1) {
		na_state_close(a->st);
		a->st = NULL;
		if (err < 0)
			return err;
		err = na_state_open(a->pin_root, &a->st);
		if (err)
			return err;
	}
	/* The reading, the long part, without the lock; what a reload replaces (names, classes, keys) with it. */
	err = na_state_read(a->st, &snap);
	if (err)
		return err;
	na_owners_resolve(a->pin_root, &snap, NULL);
	f = open_memstream(out, len);
	pthread_mutex_lock(&a->lock);
	na_names_pass(a->names);
	na_series_set_names(a->series, a->names, a->classes);
	err = f ? na_prom_write(f, &snap, na_series_hold, a->series) : -ENOMEM;
	if (!err)
		err = na_series_write(f, &snap, a->series, a->conf.per_process ? a->conf.per_process_max : 0);
	if (!err)
		err = na_series_write_peers(f, &snap, a->series, a->conf.per_peer ? a->conf.per_peer_max : 0);
	if (!err)
		err = na_series_write_classes(f, &snap, a->series);
	na_names_expire(a->names, NA_NAMES_IDLE_S);
	pthread_mutex_unlock(&a->lock);
	if (f && fclose(f) && !err)
		err = -ENOMEM;
	na_snapshot_free(&snap);
	if (err) {
		free(*out);
		*out = NULL;
	}
	return err;
}

/* A request for /metrics, suspended until a reading ends. */
struct waiter {
	struct MHD_Connection *c;
	struct waiter *next;
};

static const char unreadable[] = "netacct agent: cannot read the pinned state (see the agent's log)\n";

/* Answer every waiting request with text (NULL: 503) and resume it; under scrape_lock. */
static void answer_waiting(struct agent *a, const char *text, size_t len)
{
	struct MHD_Response *r;
	struct waiter *w;

	if (!a->waiting)
		return;
	/* One response for all: libmicrohttpd counts its users and frees it after the last. */
	r = text ? MHD_create_response_from_buffer(len, (void *)text, MHD_RESPMEM_MUST_COPY)
		 : MHD_create_response_from_buffer(sizeof(unreadable) - 1, (void *)unreadable,
						   MHD_RESPMEM_PERSISTENT);
	if (r)
		MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE,
					text ? NA_PROM_CONTENT_TYPE : "text/plain; charset=utf-8");
	while ((w = a->waiting)) {
		a->waiting = w->next;
		/* A suspended connection may be given its answer from any thread; it goes out on resume. */
		if (r)
			MHD_queue_response(w->c, text ? MHD_HTTP_OK : MHD_HTTP_SERVICE_UNAVAILABLE, r);
		MHD_resume_connection(w->c); /* without an answer (no memory), libmicrohttpd closes it */
		free(w);
	}
	if (r)
		MHD_destroy_response(r);
}

/*
 * The scraper: one reading of the maps at a time, off libmicrohttpd's
 * threads. A request for /metrics is suspended (its thread goes on with
 * other connections) and waits for a reading: the one under way when it
 * came, or the next, which it asks for. Every request waiting when a
 * reading ends gets its text. So scrapes that come together (two
 * Prometheus servers) cost one reading and are answered together, instead
 * of queueing behind each other (a request whose thread of the pool was
 * busy reading for another used to wait for that reading, then do its own).
 */
static void *scraper_main(void *arg)
{
	struct agent *a = arg;
	char *text;
	size_t len;
	int err;

	pthread_mutex_lock(&a->scrape_lock);
	for (;;) {
		while (!a->want && !a->closing)
			pthread_cond_wait(&a->scrape_wake, &a->scrape_lock);
		if (a->closing)
			break;
		a->want = 0;
		a->scraping = 1;
		pthread_mutex_unlock(&a->scrape_lock);
		err = metrics_text(a, &text, &len);
		pthread_mutex_lock(&a->scrape_lock);
		a->scraping = 0;
		answer_waiting(a, err ? NULL : text, len);
		free(text);
	}
	answer_waiting(a, NULL, 0); /* the agent ends: 503, and no connection stays suspended */
	pthread_mutex_unlock(&a->scrape_lock);
	return NULL;
}

/* Suspend the request c until a reading ends; MHD_NO to close it (no memory). */
static enum MHD_Result metrics_wait(struct agent *a, struct MHD_Connection *c)
{
	struct waiter *w;

	pthread_mutex_lock(&a->scrape_lock);
	if (a->closing) {
		pthread_mutex_unlock(&a->scrape_lock);
		return text_reply(c, MHD_HTTP_SERVICE_UNAVAILABLE, unreadable);
	}
	w = malloc(sizeof(*w));
	if (!w) {
		pthread_mutex_unlock(&a->scrape_lock);
		return MHD_NO;
	}
	w->c = c;
	w->next = a->waiting;
	a->waiting = w;
	if (!a->scraping) {
		a->want = 1;
		pthread_cond_signal(&a->scrape_wake);
	}
	/* Under the lock: the scraper resumes it only after this. */
	MHD_suspend_connection(c);
	pthread_mutex_unlock(&a->scrape_lock);
	return MHD_YES;
}

/* No request is suspended once this returns (libmicrohttpd must not be stopped with one). */
static void scraper_stop(struct agent *a)
{
	if (!a->scraper_started)
		return;
	pthread_mutex_lock(&a->scrape_lock);
	a->closing = 1;
	pthread_cond_broadcast(&a->scrape_wake);
	pthread_mutex_unlock(&a->scrape_lock);
	pthread_join(a->scraper, NULL);
	a->scraper_started = 0;
}

/*
 * /metrics is for Prometheus, on a port any local user can reach: it must
 * stay answerable whatever one of them does. libmicrohttpd runs a pool of
 * threads on epoll (no limit of 1024 descriptors; a slow request does not
 * hold the others up), takes at most NA_HTTP_PER_IP connections from one
 * address and NA_HTTP_MAX_CONNS in all, and times out a connection idle for
 * NA_HTTP_TIMEOUT_S. That timeout starts again at every byte, so a client
 * sending one header line now and then would hold its connection for ever:
 * a connection must also deliver a whole request within NA_HTTP_HEADER_S of
 * its start (or of its last answer), whatever it sends meanwhile, or the
 * main loop shuts it down (http_reap()).
 */
#define NA_HTTP_THREADS 4
#define NA_HTTP_PER_IP 8
#define NA_HTTP_MAX_CONNS 64
#define NA_HTTP_TIMEOUT_S 10u
#define NA_HTTP_HEADER_S 10

struct http_conn {
	int fd;
	int64_t deadline_ms;      /* a whole request by then; 0 while one is answered */
	struct http_conn *prev, *next;
};

static pthread_mutex_t http_conns_lock = PTHREAD_MUTEX_INITIALIZER;
static struct http_conn *http_conns;

static int64_t mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static struct http_conn *conn_of(struct MHD_Connection *c)
{
	const union MHD_ConnectionInfo *ci = MHD_get_connection_info(c, MHD_CONNECTION_INFO_SOCKET_CONTEXT);

	return ci ? ci->socket_context : NULL;
}

static void conn_deadline(struct MHD_Connection *c, int64_t deadline_ms)
{
	struct http_conn *hc = conn_of(c);

	pthread_mutex_lock(&http_conns_lock);
	if (hc)
		hc->deadline_ms = deadline_ms;
	pthread_mutex_unlock(&http_conns_lock);
}

/*
 * Started: the connection joins the list, with its deadline. Closed: it
 * leaves it. libmicrohttpd says "closed" before it closes the socket, so a
 * descriptor on the list (under the lock) is always this connection's.
 */
static void on_connection(void *cls, struct MHD_Connection *c, void **socket_context,
			  enum MHD_ConnectionNotificationCode what)
{
	struct http_conn *hc = *socket_context;
	const union MHD_ConnectionInfo *ci;

	(void)cls;
	if (what == MHD_CONNECTION_NOTIFY_STARTED) {
		ci = MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);
		hc = calloc(1, sizeof(*hc));
		if (!hc || !ci) {
			free(hc);
			return; /* the idle timeout still applies */
		}
		hc->fd = ci->connect_fd;
		hc->deadline_ms = mono_ms() + NA_HTTP_HEADER_S * 1000;
		pthread_mutex_lock(&http_conns_lock);
		hc->next = http_conns;
		if (http_conns)
			http_conns->prev = hc;
		http_conns = hc;
		pthread_mutex_unlock(&http_conns_lock);
		*socket_context = hc;
	} else if (what == MHD_CONNECTION_NOTIFY_CLOSED && hc) {
		pthread_mutex_lock(&http_conns_lock);
		if (hc->prev)
			hc->prev->next = hc->next;
		else
			http_conns = hc->next;
		if (hc->next)
			hc->next->prev = hc->prev;
		pthread_mutex_unlock(&http_conns_lock);
		free(hc);
		*socket_context = NULL;
	}
}

/* A request answered: the next one on this connection has its own deadline. */
static void on_completed(void *cls, struct MHD_Connection *c, void **state, enum MHD_RequestTerminationCode toe)
{
	(void)cls;
	(void)state;
	(void)toe;
	conn_deadline(c, mono_ms() + NA_HTTP_HEADER_S * 1000);
}

/* Shut down the connections past their deadline: libmicrohttpd then sees the end and closes them. */
static void http_reap(struct agent *a)
{
	int64_t now = mono_ms();
	struct http_conn *hc;
	unsigned n = 0;

	pthread_mutex_lock(&http_conns_lock);
	for (hc = http_conns; hc; hc = hc->next) {
		if (hc->deadline_ms && now > hc->deadline_ms) {
			shutdown(hc->fd, SHUT_RDWR);
			hc->deadline_ms = 0;
			n++;
		}
	}
	pthread_mutex_unlock(&http_conns_lock);
	if (n)
		na_ratelimit_log(&a->http_said, NA_LOG_INFO,
				 "agent: http: closed %u connection(s) that sent no whole request within %d s", n,
				 NA_HTTP_HEADER_S);
}

/* libmicrohttpd's own messages: through netacct's logger, a few at most every 10 s. */
static void on_mhd_log(void *cls, const char *fmt, va_list ap)
{
	struct agent *a = cls;
	char msg[512];
	size_t n;

	vsnprintf(msg, sizeof(msg), fmt, ap);
	n = strlen(msg);
	while (n && (msg[n - 1] == '\n' || msg[n - 1] == ' '))
		msg[--n] = '\0';
	na_ratelimit_log(&a->mhd_said, NA_LOG_WARN, "agent: http: %s", msg);
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url, const char *method,
				  const char *version, const char *data, size_t *data_len, void **state)
{
	struct agent *a = cls;

	(void)version;
	(void)data;
	if (!*state) {
		/* The headers are in: no more deadline while the request is answered. */
		conn_deadline(c, 0);
		*state = a;
		/*
		 * Refused at once, before any body: libmicrohttpd sends the answer
		 * and closes the connection instead of reading what it would not use.
		 */
		if (strcmp(method, MHD_HTTP_METHOD_GET) && strcmp(method, MHD_HTTP_METHOD_HEAD)) {
			struct MHD_Response *r;
			enum MHD_Result ret;
			static const char msg[] = "netacct agent: GET /metrics\n";

			r = MHD_create_response_from_buffer(sizeof(msg) - 1, (void *)msg, MHD_RESPMEM_PERSISTENT);
			if (!r)
				return MHD_NO;
			MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, "text/plain; charset=utf-8");
			MHD_add_response_header(r, MHD_HTTP_HEADER_ALLOW, "GET, HEAD");
			ret = MHD_queue_response(c, MHD_HTTP_METHOD_NOT_ALLOWED, r);
			MHD_destroy_response(r);
			return ret;
		}
		return MHD_YES; /* answer when the (empty) body is in */
	}
	if (*data_len) {
		*data_len = 0; /* a body of a GET: read and dropped */
		return MHD_YES;
	}
	if (strcmp(url, "/metrics"))
		return text_reply(c, MHD_HTTP_NOT_FOUND, "netacct agent: the metrics are on /metrics\n");
	return metrics_wait(a, c);
}

static int http_start(struct agent *a)
{
	struct sockaddr_storage ss = { 0 };
	struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;
	struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;
	unsigned flags = MHD_USE_EPOLL_INTERNAL_THREAD | MHD_USE_ERROR_LOG | MHD_ALLOW_SUSPEND_RESUME;
	int err;

	if (inet_pton(AF_INET, a->conf.listen_addr, &s4->sin_addr) == 1) {
		s4->sin_family = AF_INET;
		s4->sin_port = htons(a->conf.listen_port);
	} else if (inet_pton(AF_INET6, a->conf.listen_addr, &s6->sin6_addr) == 1) {
		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons(a->conf.listen_port);
		flags |= MHD_USE_IPv6;
	} else {
		na_log(NA_LOG_ERROR, "agent: listen %s: not a numeric IPv4 or IPv6 address", a->conf.listen_addr);
		return -EINVAL;
	}
	err = pthread_create(&a->scraper, NULL, scraper_main, a);
	if (err) {
		na_err(-err, "agent: start the scraper thread");
		return -err;
	}
	a->scraper_started = 1;
	/* The logger first: libmicrohttpd says so itself otherwise, on stderr. */
	a->http = MHD_start_daemon(flags, a->conf.listen_port, NULL, NULL, on_request, a, MHD_OPTION_EXTERNAL_LOGGER,
				   on_mhd_log, a, MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&ss,
				   MHD_OPTION_THREAD_POOL_SIZE, (unsigned)NA_HTTP_THREADS,
				   MHD_OPTION_CONNECTION_LIMIT, (unsigned)NA_HTTP_MAX_CONNS,
				   MHD_OPTION_PER_IP_CONNECTION_LIMIT, (unsigned)NA_HTTP_PER_IP,
				   MHD_OPTION_CONNECTION_TIMEOUT, NA_HTTP_TIMEOUT_S,
				   MHD_OPTION_NOTIFY_CONNECTION, on_connection, NULL,
				   MHD_OPTION_NOTIFY_COMPLETED, on_completed, NULL, MHD_OPTION_END);
	if (!a->http) {
		na_log(NA_LOG_ERROR, "agent: cannot listen on %s:%u (in use, or not an address of this host)",
		       a->conf.listen_addr, a->conf.listen_port);
		scraper_stop(a);
		return -EADDRINUSE;
	}
	na_log(NA_LOG_INFO, "agent: metrics on http://%s%s%s:%u/metrics", ss.ss_family == AF_INET6 ? "[" : "",
	       a->conf.listen_addr, ss.ss_family == AF_INET6 ? "]" : "", a->conf.listen_port);
	return 0;
}

/* ---- the command ---------------------------------------------------------- */

static void usage_help(void)
{
	printf("Usage: netacct agent [--config FILE] [--listen ADDR:PORT] [--networks FILE] [--detach-on-exit]\n"
	       "\n"
	       "Run as a service: attach the cgroups the configuration names (paths or globs,\n"
	       "scanned again every `rescan` seconds) and serve Prometheus metrics on\n"
	       "http://ADDR:PORT/metrics. SIGHUP reloads the configuration, SIGTERM ends the\n"
	       "agent and leaves the attachments counting.\n"
	       "\n"
	       "  --config FILE        the configuration (default %s; docs/agent.md)\n"
	       "  --listen ADDR:PORT   where to serve /metrics (overrides the config's listen;\n"
	       "                       default 127.0.0.1:%d)\n"
	       "  --networks FILE      peer classes (overrides the config's networks; default\n"
	       "                       %s when it exists; docs/names.md)\n"
	       "  --detach-on-exit     detach what the configuration attached when ending\n"
	       "  -h, --help           this text\n",
	       NA_CONF_DEFAULT_PATH, NA_CONF_DEFAULT_PORT, NA_NETWORKS_DEFAULT_PATH);
}

int na_agent_listen(struct na_conf *c, const char *listen)
{
	/*
	 * The configuration's own rule for the value, and the same refusal of
	 * blanks the configuration's line parser gives by trimming (fuzz.cli
	 * found ":9477 " accepted as :9477 when the value went through it).
	 */
	if (listen[strcspn(listen, " \t\r\n")] || na_conf_listen(listen, c)) {
		na_log(NA_LOG_ERROR, "--listen '%s': " NA_CONF_LISTEN_WHY, listen);
		return -EINVAL;
	}
	return 0;
}

int na_agent_parse(int argc, char **argv, struct na_agent_args *a)
{
	static const struct option opts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "listen", required_argument, NULL, 'l' },
		{ "detach-on-exit", no_argument, NULL, 'D' },
		{ "networks", required_argument, NULL, 'N' },
		{ "help", no_argument, NULL, 'h' },
		{},
	};
	int o;

	memset(a, 0, sizeof(*a));
	a->conf_path = NA_CONF_DEFAULT_PATH;
	while ((o = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (o) {
		case 'c':
			a->conf_path = optarg;
			break;
		case 'l':
			a->listen = optarg;
			break;
		case 'D':
			a->detach_on_exit = 1;
			break;
		case 'N':
			a->networks = optarg;
			break;
		case 'h':
			a->help = 1;
			return 0;
		default:
			return na_usage_error("agent", "unknown option or missing value: %s", argv[optind - 1]);
		}
	}
	if (optind < argc)
		return na_usage_error("agent", "no arguments (the cgroups are in the configuration)");
	return 0;
}

int cmd_agent(int argc, char **argv, const struct na_global *g)
{
	struct agent a = { .pin_root = g->pin_root, .lockfd = -1, .mhd_said.what = "agent: http (libmicrohttpd)",
			   .http_said.what = "agent: http" };
	struct na_agent_args args;
	const char *listen;
	struct signalfd_siginfo si;
	struct pollfd pfd;
	struct na_conf nc;
	struct na_netclass *classes = NULL;
	int detach_on_exit, sfd = -1, rc = NA_EXIT_FAIL, done = 0;
	int64_t next_scan;
	sigset_t sigs;
	size_t i;

	/* First: a SIGHUP (systemctl reload) while starting must not end the agent. */
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGHUP);
	sigaddset(&sigs, SIGTERM);
	sigaddset(&sigs, SIGINT);
	sigprocmask(SIG_BLOCK, &sigs, NULL);

	if (na_agent_parse(argc, argv, &args))
		return NA_EXIT_USAGE;
	if (args.help) {
		usage_help();
		return NA_EXIT_OK;
	}
	a.conf_path = args.conf_path;
	a.networks_opt = args.networks;
	listen = args.listen;
	detach_on_exit = args.detach_on_exit;
	if (na_caps_check_attach("agent"))
		return NA_EXIT_FAIL;
	if (na_conf_load(a.conf_path, &a.conf))
		return NA_EXIT_FAIL;
	/* A log directory others can write is a configuration error: refused before anything starts. */
	if (a.conf.log_file[0] && log_dir_check(a.conf.log_file)) {
		na_log(NA_LOG_ERROR, "agent: log-file %s in %s refused (see above); nothing started", a.conf.log_file,
		       a.conf_path);
		na_conf_free(&a.conf);
		return NA_EXIT_FAIL;
	}
	if (na_recorder_check(a.pin_root, &a.conf)) {
		na_log(NA_LOG_ERROR, "agent: the history database's directory is refused (see above); nothing started");
		na_conf_free(&a.conf);
		return NA_EXIT_FAIL;
	}
	if (listen && na_agent_listen(&a.conf, listen)) {
		na_conf_free(&a.conf);
		return NA_EXIT_USAGE;
	}
	/* A networks file with an error is a configuration error too: nothing of it is used, nothing starts. */
	if (load_classes(&a, &a.conf, &a.classes) || na_names_new(NULL, &a.names)) {
		na_netclass_free(a.classes);
		na_conf_free(&a.conf);
		return NA_EXIT_FAIL;
	}
	pthread_mutex_init(&a.lock, NULL);
	pthread_mutex_init(&a.scrape_lock, NULL);
	pthread_cond_init(&a.scrape_wake, NULL);
	if (na_series_new(&a.series) || take_lock(&a))
		goto out;

	if ((sfd = signalfd(-1, &sigs, SFD_CLOEXEC)) < 0) {
		na_err(-errno, "agent: signals");
		goto out;
	}
	signal(SIGPIPE, SIG_IGN);
	if (sync_attachments(&a, 0) || http_start(&a) || na_recorder_new(&a.rec, a.pin_root, &a.conf))
		goto out;
	pthread_mutex_lock(&a.lock);
	if (log_open(&a))
		na_log(NA_LOG_WARN, "agent: the connection log is not followed yet (tried again every minute)");
	pthread_mutex_unlock(&a.lock);
	/* A failed attach (another netacct's state, say) is retried: not counted as attached. */
	na_log(NA_LOG_INFO, "agent: running, %zu of %zu cgroup(s) from %s attached", a.nlive, a.nattached,
	       a.conf_path);

	next_scan = mono_s() + a.conf.rescan_s;
	while (!done) {
		int64_t now = mono_s();
		int wait_ms = next_scan > now ? (int)(next_scan - now) * 1000 : 0; /* rescan <= 3600 s */

		/* Records reach the file within a quarter of a second; HTTP deadlines are kept every second. */
		if (a.log && wait_ms > 250)
			wait_ms = 250;
		if (wait_ms > 1000)
			wait_ms = 1000;
		if (na_recorder_wait_ms(a.rec) < wait_ms)
			wait_ms = na_recorder_wait_ms(a.rec);
		pfd.fd = sfd;
		pfd.events = POLLIN;
		pfd.revents = 0;
		if (poll(&pfd, 1, wait_ms) < 0 && errno != EINTR) {
			na_err(-errno, "agent: poll");
			goto out;
		}
		http_reap(&a);
		na_ratelimit_flush(&a.mhd_said);
		na_ratelimit_flush(&a.http_said);
		pthread_mutex_lock(&a.lock); /* a reload changes the log (log_open) */
		log_drain(&a);
		pthread_mutex_unlock(&a.lock);
		na_recorder_tick(a.rec);
		if (pfd.revents & POLLIN && read(sfd, &si, sizeof(si)) == sizeof(si)) {
			if (si.ssi_signo != SIGHUP) {
				done = 1;
				break;
			}
			if (na_conf_load(a.conf_path, &nc)) {
				na_log(NA_LOG_ERROR, "agent: reload: %s has errors; the running configuration stays",
				       a.conf_path);
				continue;
			}
			if (nc.log_file[0] && log_dir_check(nc.log_file)) {
				na_log(NA_LOG_ERROR, "agent: reload: log-file %s refused (see above); the running configuration stays",
				       nc.log_file);
				na_conf_free(&nc);
				continue;
			}
			if (na_recorder_check(a.pin_root, &nc)) {
				na_log(NA_LOG_ERROR, "agent: reload: history directory refused (see above); the running configuration stays");
				na_conf_free(&nc);
				continue;
			}
			/* The networks file is read again too: its classes are part of what a reload applies. */
			if (load_classes(&a, &nc, &classes)) {
				na_log(NA_LOG_ERROR, "agent: reload: the networks file has errors (see above); the running configuration stays");
				na_conf_free(&nc);
				continue;
			}
			if (listen)
				na_agent_listen(&nc, listen);
			pthread_mutex_lock(&a.lock);
			if (strcmp(nc.listen_addr, a.conf.listen_addr) || nc.listen_port != a.conf.listen_port)
				na_log(NA_LOG_WARN, "agent: reload: listen changed; it takes effect at the next start");
			snprintf(nc.listen_addr, sizeof(nc.listen_addr), "%s", a.conf.listen_addr);
			nc.listen_port = a.conf.listen_port;
			na_conf_free(&a.conf);
			a.conf = nc;
			na_recorder_sample(a.rec); /* what the cgroups a reload detaches counted, first */
			na_netclass_free(a.classes);
			a.classes = classes;
			classes = NULL;
			sync_attachments(&a, 1);
			na_recorder_reconf(&a.rec, a.pin_root, &a.conf);
			log_open(&a);
			pthread_mutex_unlock(&a.lock);
			na_log(NA_LOG_INFO, "agent: reloaded %s: %zu of %zu cgroup(s) attached", a.conf_path, a.nlive,
			       a.nattached);
			next_scan = mono_s() + a.conf.rescan_s;
			continue;
		}
		if (mono_s() >= next_scan) {
			pthread_mutex_lock(&a.lock);
			sync_attachments(&a, 0);
			log_check(&a);
			/* The log's records name cgroups too: an agent nobody scrapes must not keep them all. */
			na_names_pass(a.names);
			na_names_expire(a.names, NA_NAMES_IDLE_S);
			pthread_mutex_unlock(&a.lock);
			next_scan = mono_s() + a.conf.rescan_s;
		}
	}
	rc = NA_EXIT_OK;
	scraper_stop(&a);
	if (a.http)
		MHD_stop_daemon(a.http); /* no request runs from here on */
	a.http = NULL;
	log_close(&a); /* what the ring buffer holds now goes into the file first */
	na_recorder_free(a.rec); /* a last sample, before any detach */
	a.rec = NULL;
	for (i = 0; detach_on_exit && i < a.nattached; i++)
		if (na_detach_cgroup(a.pin_root, a.attached[i]) && rc == NA_EXIT_OK)
			rc = NA_EXIT_FAIL;
	na_log(NA_LOG_INFO, "agent: ending%s", detach_on_exit ? ", attachments detached" : "; attachments keep counting");
out:
	scraper_stop(&a);
	if (a.http)
		MHD_stop_daemon(a.http);
	log_close(&a);
	na_recorder_free(a.rec);
	if (sfd >= 0)
		close(sfd);
	unpublish_managed(&a);
	drop_lock(&a);
	free_list(a.attached, a.nattached);
	na_conf_free(&a.conf);
	na_series_free(a.series);
	na_names_free(a.names);
	na_netclass_free(a.classes);
	na_state_close(a.st);
	pthread_cond_destroy(&a.scrape_wake);
	pthread_mutex_destroy(&a.scrape_lock);
	pthread_mutex_destroy(&a.lock);
	return rc;
}
