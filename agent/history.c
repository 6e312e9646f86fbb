// SPDX-License-Identifier: (BSD-2-Clause OR GPL-2.0)
/*
 * The traffic history database (agent/history.h, docs/agent.md "History"),
 * in SQLite (WAL: netacct report reads while the agent writes). Tables:
 *
 *   meta(key, value)            created, covered_from_<table>, pin, last_sample, last_gc
 *   series(id, kind, cgroup, pid, comm, family, raddr, cgroup_id)
 *                               what rows are about (enum na_hist_kind)
 *   period(tab, start, end)     every period a sample reached (a quiet one too)
 *   fiveminute, hour, day, month(start, series, tx_packets, ..., rx_dup_bytes)
 *                               what a series sent and received in a period
 *   checkpoint(key, kind, series, seen, c0..c9)
 *                               the counter values recorded so far, per
 *                               attachment (boot, attach time, cgroup, token),
 *                               process and peer of the pinned state
 *
 * A sample adds the growth since the checkpoint to the period of now in all
 * four tables and moves the checkpoint, in one transaction: an agent killed
 * at any moment has recorded a sample whole or not at all, and the next one
 * takes up from the checkpoint, so nothing the kernel still holds is lost
 * and nothing is counted twice. Pruning a table is a plain delete: its rows
 * are in the coarser tables already (the same sums, over longer periods).
 *
 * Processes and peers are capped per period (procs_max, peers_max): when a
 * period holds more than twice the cap, and when it ends, the largest keep
 * rows of their own and the rest fold into one "other" row per cgroup,
 * leaving every cgroup's sum as it was.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <sqlite3.h>

#include "history.h"

#define NA_HIST_APP_ID 0x6e616374 /* "nact": PRAGMA application_id */
#define NA_HIST_SCHEMA 1          /* PRAGMA user_version */
#define NCTR 10                   /* counters per row: struct na_counters per direction */
#define KEY_MAX 48
/* A checkpoint of a process or peer not seen for this long goes (its rows are gone). */
#define NA_HIST_FORGET_S 900
/* ... and "seen" is written again at most this often. */
#define NA_HIST_SEEN_S 300
/* An attachment's checkpoint not seen for this long goes (it was detached, or the host rebooted). */
#define NA_HIST_FORGET_ATT_S (7 * 86400)

static const char *const tables[NA_HIST_NTABLES] = { "fiveminute", "hour", "day", "month" };
static const char *const table_names[NA_HIST_NTABLES] = { "5m", "hour", "day", "month" };

struct na_history {
	sqlite3 *db;
	char path[PATH_MAX];
	struct na_history_opts o;
	int lockfd;
	int broken;
	int64_t created;
};

/* ---- periods ---------------------------------------------------------------- */

const char *na_hist_table_name(enum na_hist_table tab)
{
	return (unsigned)tab < NA_HIST_NTABLES ? table_names[tab] : "?";
}

int64_t na_hist_period_start(enum na_hist_table tab, int64_t t)
{
	time_t tt = (time_t)t;
	struct tm tm;

	if (tab == NA_HIST_5MIN) /* every time zone's offset is a multiple of 5 minutes */
		return t - ((t % 300) + 300) % 300;
	localtime_r(&tt, &tm);
	if (tab == NA_HIST_HOUR)
		return t - (tm.tm_min * 60 + tm.tm_sec);
	tm.tm_hour = tm.tm_min = tm.tm_sec = 0;
	tm.tm_isdst = -1;
	if (tab == NA_HIST_MONTH)
		tm.tm_mday = 1;
	return (int64_t)mktime(&tm);
}

int64_t na_hist_period_end(enum na_hist_table tab, int64_t start)
{
	time_t tt = (time_t)start;
	struct tm tm;

	if (tab == NA_HIST_5MIN)
		return start + 300;
	if (tab == NA_HIST_HOUR)
		return start + 3600;
	localtime_r(&tt, &tm);
	tm.tm_hour = tm.tm_min = tm.tm_sec = 0;
	tm.tm_isdst = -1;
	if (tab == NA_HIST_DAY) {
		tm.tm_mday++;
	} else {
		tm.tm_mday = 1;
		tm.tm_mon++;
	}
	return (int64_t)mktime(&tm);
}

int na_history_default_path(const char *pin_root, char *p, size_t len)
{
	if (!strcmp(pin_root, NA_DEFAULT_PIN_ROOT))
		return (size_t)snprintf(p, len, "%s", NA_HIST_DEFAULT_FILE) >= len ? -ENAMETOOLONG : 0;
	/* named as the agent's lock file names its pin root */
	return na_pin_root_file(NA_HIST_DEFAULT_DIR "/history", pin_root, ".db", p, len);
}

/* ---- small SQLite helpers ------------------------------------------------------ */

/*
 * The reason of the last error, in SQLite's words ("database is locked",
 * "file is not a database"), and -EIO (-EBUSY for a lock). what is what was
 * done, for a debug line.
 */
static int sql_err(sqlite3 *db, int rc, const char *what, char *why, size_t wlen)
{
	na_log(NA_LOG_DEBUG, "history: %s: %s", what, db ? sqlite3_errmsg(db) : sqlite3_errstr(rc));
	if (why && wlen)
		snprintf(why, wlen, "%s", db ? sqlite3_errmsg(db) : sqlite3_errstr(rc));
	rc &= 0xff;
	return rc == SQLITE_BUSY || rc == SQLITE_LOCKED ? -EBUSY : rc == SQLITE_NOMEM ? -ENOMEM : -EIO;
}

static int is_broken_rc(int rc)
{
	rc &= 0xff;
	return rc == SQLITE_CORRUPT || rc == SQLITE_NOTADB || rc == SQLITE_FORMAT || rc == SQLITE_CANTOPEN ||
	       rc == SQLITE_IOERR;
}

static int exec(struct na_history *h, const char *sql, char *why, size_t wlen)
{
	int rc = sqlite3_exec(h->db, sql, NULL, NULL, NULL);

	if (rc == SQLITE_OK)
		return 0;
	h->broken |= is_broken_rc(rc);
	return sql_err(h->db, rc, sql, why, wlen);
}

static sqlite3_stmt *prep(sqlite3 *db, const char *sql)
{
	sqlite3_stmt *st = NULL;

	if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
		return NULL;
	return st;
}

/* A statement's failure: the reason, the broken flag. */
static int st_fail(struct na_history *h, int rc, const char *what, char *why, size_t wlen)
{
	h->broken |= is_broken_rc(rc);
	return sql_err(h->db, rc, what, why, wlen);
}

/* Run a one-shot statement (prepared with its values bound) to its end, and finalize it. */
static int step_once(struct na_history *h, sqlite3_stmt *st, const char *what, char *why, size_t wlen)
{
	int rc = sqlite3_step(st);

	sqlite3_finalize(st);
	return rc == SQLITE_DONE ? 0 : st_fail(h, rc, what, why, wlen);
}

static int64_t meta_get(sqlite3 *db, const char *key, int64_t dflt)
{
	sqlite3_stmt *st = prep(db, "SELECT value FROM meta WHERE key = ?1");
	int64_t v = dflt;

	if (!st)
		return dflt;
	sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
	if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_type(st, 0) == SQLITE_INTEGER)
		v = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	return v;
}

static int meta_text(sqlite3 *db, const char *key, char *out, size_t len)
{
	sqlite3_stmt *st = prep(db, "SELECT value FROM meta WHERE key = ?1");
	int found = 0;

	out[0] = '\0';
	if (!st)
		return 0;
	sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
	if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_type(st, 0) == SQLITE_TEXT) {
		snprintf(out, len, "%s", (const char *)sqlite3_column_text(st, 0));
		found = 1;
	}
	sqlite3_finalize(st);
	return found;
}

static int meta_put(struct na_history *h, const char *key, int64_t v, const char *text, char *why, size_t wlen)
{
	sqlite3_stmt *st = prep(h->db, "INSERT INTO meta (key, value) VALUES (?1, ?2) "
				       "ON CONFLICT (key) DO UPDATE SET value = excluded.value");

	if (!st)
		return st_fail(h, sqlite3_errcode(h->db), "meta", why, wlen);
	sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
	if (text)
		sqlite3_bind_text(st, 2, text, -1, SQLITE_STATIC);
	else
		sqlite3_bind_int64(st, 2, v);
	return step_once(h, st, "meta", why, wlen);
}

/* ---- opening ------------------------------------------------------------------- */

static const char counters_cols[] =
	"tx_packets INTEGER NOT NULL, tx_ip_hdr_bytes INTEGER NOT NULL, tx_l4_hdr_bytes INTEGER NOT NULL, "
	"tx_payload_bytes INTEGER NOT NULL, tx_retrans_bytes INTEGER NOT NULL, "
	"rx_packets INTEGER NOT NULL, rx_ip_hdr_bytes INTEGER NOT NULL, rx_l4_hdr_bytes INTEGER NOT NULL, "
	"rx_payload_bytes INTEGER NOT NULL, rx_dup_bytes INTEGER NOT NULL";

static int create_schema(struct na_history *h, int64_t now, char *why, size_t wlen)
{
	char sql[1024], host[256];
	int i, err;

	err = exec(h, "BEGIN IMMEDIATE", why, wlen);
	if (err)
		return err;
	if ((err = exec(h, "CREATE TABLE meta (key TEXT PRIMARY KEY, value) WITHOUT ROWID", why, wlen)) ||
	    (err = exec(h, "CREATE TABLE series (id INTEGER PRIMARY KEY, kind INTEGER NOT NULL, cgroup TEXT NOT NULL, "
			   "pid INTEGER NOT NULL, comm TEXT NOT NULL, family INTEGER NOT NULL, raddr TEXT NOT NULL, "
			   "cgroup_id INTEGER NOT NULL, UNIQUE (kind, cgroup, pid, comm, family, raddr))",
			why, wlen)) ||
	    (err = exec(h, "CREATE TABLE period (tab INTEGER NOT NULL, start INTEGER NOT NULL, end INTEGER NOT NULL, "
			   "PRIMARY KEY (tab, start)) WITHOUT ROWID",
			why, wlen)) ||
	    (err = exec(h, "CREATE TABLE checkpoint (key BLOB PRIMARY KEY, kind INTEGER NOT NULL, series INTEGER NOT NULL, "
			   "seen INTEGER NOT NULL, c0 INTEGER NOT NULL, c1 INTEGER NOT NULL, c2 INTEGER NOT NULL, "
			   "c3 INTEGER NOT NULL, c4 INTEGER NOT NULL, c5 INTEGER NOT NULL, c6 INTEGER NOT NULL, "
			   "c7 INTEGER NOT NULL, c8 INTEGER NOT NULL, c9 INTEGER NOT NULL) WITHOUT ROWID",
			why, wlen)))
		goto fail;
	for (i = 0; i < NA_HIST_NTABLES; i++) {
		snprintf(sql, sizeof(sql),
			 "CREATE TABLE %s (start INTEGER NOT NULL, series INTEGER NOT NULL, %s, "
			 "PRIMARY KEY (start, series)) WITHOUT ROWID",
			 tables[i], counters_cols);
		if ((err = exec(h, sql, why, wlen)))
			goto fail;
		snprintf(sql, sizeof(sql), "covered_from_%s", tables[i]);
		if ((err = meta_put(h, sql, now, NULL, why, wlen)))
			goto fail;
	}
	snprintf(sql, sizeof(sql), "PRAGMA application_id = %d", NA_HIST_APP_ID);
	if ((err = meta_put(h, "created", now, NULL, why, wlen)) || (err = exec(h, sql, why, wlen)))
		goto fail;
	/* whose history it is, for a report read on another machine */
	if (gethostname(host, sizeof(host) - 1))
		snprintf(host, sizeof(host), "?");
	host[sizeof(host) - 1] = '\0';
	if ((err = meta_put(h, "host", 0, host, why, wlen)))
		goto fail;
	snprintf(sql, sizeof(sql), "PRAGMA user_version = %d", NA_HIST_SCHEMA);
	if ((err = exec(h, sql, why, wlen)) || (err = exec(h, "COMMIT", why, wlen)))
		goto fail;
	return 0;
fail:
	sqlite3_exec(h->db, "ROLLBACK", NULL, NULL, NULL);
	return err;
}

/* Is db a netacct history (or an empty file, to be made one)? 1 for empty, 0 for ours, -errno. */
static int check_schema(sqlite3 *db, char *why, size_t wlen)
{
	sqlite3_stmt *st = prep(db, "PRAGMA application_id");
	int app = 0, ver = 0, rc, ntab = 0;

	if (!st)
		return sql_err(db, sqlite3_errcode(db), "read", why, wlen);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		app = sqlite3_column_int(st, 0);
	sqlite3_finalize(st);
	if (rc != SQLITE_ROW)
		return sql_err(db, rc, "read", why, wlen);
	if ((st = prep(db, "PRAGMA user_version")) && sqlite3_step(st) == SQLITE_ROW)
		ver = sqlite3_column_int(st, 0);
	sqlite3_finalize(st);
	if ((st = prep(db, "SELECT count(*) FROM sqlite_schema")) && sqlite3_step(st) == SQLITE_ROW)
		ntab = sqlite3_column_int(st, 0);
	sqlite3_finalize(st);
	if (!app && !ver && !ntab)
		return 1;
	if (app != NA_HIST_APP_ID) {
		snprintf(why, wlen, "an SQLite database, but not a netacct history");
		return -EPROTO;
	}
	if (ver != NA_HIST_SCHEMA) {
		snprintf(why, wlen, "a history of schema version %d; this netacct reads version %d", ver, NA_HIST_SCHEMA);
		return -EPROTO;
	}
	return 0;
}

/*
 * The file (and its -wal and -shm, which SQLite makes with the file's mode
 * and owner) root's, 0600, or 0640 with the group that may read. Opened
 * without following a link: a file that is a link, or has other names, is
 * refused (root writes it).
 */
static int file_mode(const char *path, const struct na_history_opts *o, int fd, char *why, size_t wlen)
{
	static const char *const ext[] = { "-wal", "-shm" };
	mode_t mode = o->group_set && o->gid ? 0640 : 0600;
	gid_t gid = o->group_set ? o->gid : 0;
	char p[PATH_MAX + 8];
	struct stat st;
	size_t i;

	if (fstat(fd, &st))
		return -errno;
	if (!S_ISREG(st.st_mode) || st.st_nlink != 1) {
		snprintf(why, wlen, "not a regular file with one name (a file root writes must not be a link)");
		return -EPERM;
	}
	if (!geteuid() && (fchown(fd, 0, gid) || fchmod(fd, mode))) {
		snprintf(why, wlen, "set its owner and mode: %s", strerror(errno));
		return -errno;
	}
	/*
	 * By name, never opened: closing a descriptor of a file drops every
	 * POSIX lock this process holds on it, SQLite's own on -shm included.
	 * The directory is root's alone (na_history_dir_check()), so the names
	 * cannot change under us.
	 */
	for (i = 0; i < 2 && !geteuid(); i++) {
		snprintf(p, sizeof(p), "%s%s", path, ext[i]);
		if (lstat(p, &st) || !S_ISREG(st.st_mode))
			continue; /* none yet: SQLite makes it with the file's owner and mode */
		if (lchown(p, 0, gid) || chmod(p, mode)) {
			/* best effort: the file itself has its mode, and readers of this one need it too */
		}
	}
	return 0;
}

int na_history_open(struct na_history **out, const struct na_history_opts *o, int64_t now, char *why, size_t wlen)
{
	struct na_history *h;
	int fd, err, rc, one = 1;

	*out = NULL;
	why[0] = '\0';
	h = calloc(1, sizeof(*h));
	if (!h)
		return -ENOMEM;
	h->lockfd = -1;
	snprintf(h->path, sizeof(h->path), "%s", o->path);
	h->o = *o;
	h->o.path = h->path;
	fd = open(h->path, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0) {
		err = -errno;
		snprintf(why, wlen, "%s", errno == ELOOP ? "a symbolic link (refused: root writes this file)" : strerror(errno));
		goto fail;
	}
	h->lockfd = fd;
	/* One writer: a second agent given the same file would record every sample twice. */
	if (flock(fd, LOCK_EX | LOCK_NB)) {
		err = -errno;
		snprintf(why, wlen, "%s", err == -EWOULDBLOCK ? "in use by another netacct agent (one database per agent)"
							      : strerror(errno));
		err = err == -EWOULDBLOCK ? -EBUSY : err;
		goto fail;
	}
	err = file_mode(h->path, o, fd, why, wlen);
	if (err)
		goto fail;
	rc = sqlite3_open_v2(h->path, &h->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOFOLLOW, NULL);
	if (rc != SQLITE_OK) {
		h->broken = is_broken_rc(rc);
		err = sql_err(h->db, rc, "open", why, wlen);
		goto fail;
	}
	sqlite3_extended_result_codes(h->db, 0);
	/* Short: the agent's loop waits this long for another process that holds the file. */
	sqlite3_busy_timeout(h->db, 200);
	err = check_schema(h->db, why, wlen);
	if (err < 0) {
		h->broken = 1;
		goto fail;
	}
	/*
	 * WAL: readers (netacct report) and the writer do not wait for each
	 * other. The -wal and -shm files stay when the agent closes, so that a
	 * reader without write access to the directory can open the file.
	 */
	sqlite3_file_control(h->db, "main", SQLITE_FCNTL_PERSIST_WAL, &one);
	if ((err = exec(h, "PRAGMA journal_mode = WAL", why, wlen)) ||
	    (err = exec(h, "PRAGMA synchronous = FULL", why, wlen)))
		goto fail;
	if (err == 0 && check_schema(h->db, why, wlen) == 1 && (err = create_schema(h, now, why, wlen)))
		goto fail;
	h->created = meta_get(h->db, "created", now);
	/* -wal and -shm exist now: their group too */
	err = file_mode(h->path, o, fd, why, wlen);
	if (err)
		goto fail;
	*out = h;
	return 0;
fail:
	if (!why[0])
		snprintf(why, wlen, "%s", strerror(-err));
	h->broken |= err == -EPROTO;
	*out = NULL;
	na_history_close(h);
	return err;
}

void na_history_set_opts(struct na_history *h, const struct na_history_opts *o)
{
	char why[256];

	h->o = *o;
	h->o.path = h->path;
	if (h->lockfd >= 0)
		file_mode(h->path, o, h->lockfd, why, sizeof(why));
}

int na_history_broken(const struct na_history *h)
{
	return h && h->broken;
}

void na_history_close(struct na_history *h)
{
	if (!h)
		return;
	if (h->db)
		sqlite3_close(h->db);
	if (h->lockfd >= 0)
		close(h->lockfd);
	free(h);
}

/* ---- recording ------------------------------------------------------------------- */

/* What one sample knows of a counter set: an attachment, a process, a peer. */
struct ent {
	uint8_t key[KEY_MAX];
	uint8_t klen;
	uint8_t kind;     /* enum na_hist_kind: NA_HK_CGROUP, NA_HK_PROCESS or NA_HK_PEER */
	uint8_t present;  /* in this snapshot */
	uint8_t have_cp;  /* a checkpoint exists */
	int64_t series;   /* 0 until known */
	int64_t seen;
	int64_t attach_realtime;
	uint64_t cur[NCTR], cp[NCTR], d[NCTR];
	const char *cgroup;
	char cgbuf[40];   /* "cgroup-id:N" for a cgroup without a known path */
	uint64_t cgroup_id;
	uint32_t pid;
	char comm[NA_COMM_LEN + 1];
	uint8_t family;
	char raddr[48];
};

struct ents {
	struct ent *v;
	size_t n, cap;
	uint32_t *slot; /* index + 1 */
	size_t mask;
};

static uint64_t key_hash(const uint8_t *k, size_t n)
{
	uint64_t h = 1469598103934665603ull;
	size_t i;

	for (i = 0; i < n; i++)
		h = (h ^ k[i]) * 1099511628211ull;
	return h;
}

static int ents_grow(struct ents *e)
{
	size_t cap = e->cap ? 2 * e->cap : 256, i, j;
	struct ent *v = realloc(e->v, cap * sizeof(*v));
	uint32_t *slot;

	if (!v)
		return -ENOMEM;
	e->v = v;
	e->cap = cap;
	slot = calloc(2 * cap, sizeof(*slot));
	if (!slot)
		return -ENOMEM;
	free(e->slot);
	e->slot = slot;
	e->mask = 2 * cap - 1;
	for (i = 0; i < e->n; i++) {
		for (j = key_hash(e->v[i].key, e->v[i].klen) & e->mask; e->slot[j]; j = (j + 1) & e->mask)
			;
		e->slot[j] = (uint32_t)i + 1;
	}
	return 0;
}

/* The entry of key, made (zeroed) when missing with add; NULL otherwise or out of memory. */
static struct ent *ents_get(struct ents *e, const uint8_t *key, size_t klen, int add)
{
	size_t j;
	struct ent *x;

	if (e->cap) {
		for (j = key_hash(key, klen) & e->mask; e->slot[j]; j = (j + 1) & e->mask) {
			x = &e->v[e->slot[j] - 1];
			if (x->klen == klen && !memcmp(x->key, key, klen))
				return x;
		}
	}
	if (!add)
		return NULL;
	if (e->n == e->cap && ents_grow(e))
		return NULL;
	for (j = key_hash(key, klen) & e->mask; e->slot[j]; j = (j + 1) & e->mask)
		;
	x = &e->v[e->n];
	memset(x, 0, sizeof(*x));
	memcpy(x->key, key, klen);
	x->klen = (uint8_t)klen;
	e->slot[j] = (uint32_t)++e->n;
	return x;
}

static void ents_free(struct ents *e)
{
	free(e->v);
	free(e->slot);
	memset(e, 0, sizeof(*e));
}

static void put_counters(uint64_t *v, const struct na_counters *dir)
{
	int d;

	for (d = 0; d < NA_NDIR; d++) {
		v[d * 5 + 0] += dir[d].packets;
		v[d * 5 + 1] += dir[d].ip_hdr_bytes;
		v[d * 5 + 2] += dir[d].l4_hdr_bytes;
		v[d * 5 + 3] += dir[d].payload_bytes;
		v[d * 5 + 4] += na_resent(&dir[d]);
	}
}

/*
 * A cgroup without a known path is named "cgroup-id:N" in x->cgbuf; x->cgroup
 * points there only once the entries stop moving (snapshot_ents()'s end).
 */
static const char *cgroup_name(struct ent *x, const char *path, uint64_t id)
{
	if (path && *path)
		return path;
	snprintf(x->cgbuf, sizeof(x->cgbuf), "cgroup-id:%llu", (unsigned long long)id);
	return NULL;
}

/* The entry of key k (n bytes), made present with its kind and cgroup when new (*fresh). NULL: out of memory. */
static struct ent *ent_present(struct ents *e, const uint8_t *k, size_t n, int kind, const char *path, uint64_t cgid,
			       int *fresh)
{
	struct ent *x = ents_get(e, k, n, 1);

	*fresh = x && !x->present;
	if (*fresh) {
		x->present = 1;
		x->kind = (uint8_t)kind;
		x->cgroup = cgroup_name(x, path, cgid);
		x->cgroup_id = cgid;
	}
	return x;
}

static int add_peer(struct ents *e, uint64_t cgid, const char *path, uint8_t family, const uint8_t raddr[16],
		    const struct na_counters *dir);

/* A socket row (live or closed) into the sums of its process and, with raddr, its peer. */
static int add_row(struct ents *e, uint64_t cgid, const char *path, uint32_t pid, const char *comm16,
		   uint8_t family, const uint8_t raddr[16], const struct na_counters *dir)
{
	uint8_t k[KEY_MAX];
	struct ent *x;
	int fresh;

	k[0] = 'p';
	memcpy(k + 1, &cgid, 8);
	memcpy(k + 9, &pid, 4);
	memcpy(k + 13, comm16, NA_COMM_LEN);
	x = ent_present(e, k, 13 + NA_COMM_LEN, NA_HK_PROCESS, path, cgid, &fresh);
	if (!x)
		return -ENOMEM;
	if (fresh) {
		x->pid = pid;
		memcpy(x->comm, comm16, NA_COMM_LEN);
		x->comm[NA_COMM_LEN] = '\0';
	}
	put_counters(x->cur, dir);
	return raddr ? add_peer(e, cgid, path, family, raddr, dir) : 0;
}

static int add_peer(struct ents *e, uint64_t cgid, const char *path, uint8_t family, const uint8_t raddr[16],
		    const struct na_counters *dir)
{
	uint8_t k[KEY_MAX];
	struct ent *x;
	int fresh;

	k[0] = 'r';
	memcpy(k + 1, &cgid, 8);
	k[9] = family;
	memcpy(k + 10, raddr, 16);
	x = ent_present(e, k, 26, NA_HK_PEER, path, cgid, &fresh);
	if (!x)
		return -ENOMEM;
	if (fresh) {
		x->family = family;
		na_addr_str(family, raddr, x->raddr, sizeof(x->raddr));
	}
	put_counters(x->cur, dir);
	return 0;
}

/*
 * An unconnected socket that talked to many peers: each peer's row to that
 * peer, and what no peer row holds to none, as its closed rows will be
 * when it ends (the same sums before and after).
 */
static int add_peers_of(struct ents *e, const struct na_snapshot *snap, const struct na_sock_row *r)
{
	static const uint8_t none[16];
	struct na_counters rest[NA_NDIR], pd[NA_NDIR];
	const struct na_peer_row *pr;
	size_t n = 0, i;
	int d, err;

	memcpy(rest, r->s.dir, sizeof(rest));
	pr = na_snapshot_peers(snap, r->cookie, &n);
	for (i = 0; i < n; i++) {
		pd[NA_TX] = pr[i].p.tx;
		pd[NA_RX] = pr[i].p.rx;
		err = add_peer(e, r->s.cgroup_id, r->cgroup, pr[i].k.family, pr[i].k.addr, pd);
		if (err)
			return err;
		for (d = 0; d < NA_NDIR; d++) {
			rest[d].packets -= rest[d].packets >= pd[d].packets ? pd[d].packets : rest[d].packets;
			rest[d].ip_hdr_bytes -= rest[d].ip_hdr_bytes >= pd[d].ip_hdr_bytes ? pd[d].ip_hdr_bytes
											: rest[d].ip_hdr_bytes;
			rest[d].l4_hdr_bytes -= rest[d].l4_hdr_bytes >= pd[d].l4_hdr_bytes ? pd[d].l4_hdr_bytes
											: rest[d].l4_hdr_bytes;
			rest[d].payload_bytes -= rest[d].payload_bytes >= pd[d].payload_bytes ? pd[d].payload_bytes
											   : rest[d].payload_bytes;
		}
	}
	return add_peer(e, r->s.cgroup_id, r->cgroup, r->s.family, none, rest);
}

/* The entries of a snapshot: its attachments' totals, and its rows summed per process and per peer. */
static int snapshot_ents(struct ents *e, const struct na_snapshot *snap, const struct na_hist_ident *id)
{
	uint8_t k[KEY_MAX];
	struct ent *x;
	size_t i;
	int err;

	for (i = 0; i < snap->natt; i++) {
		const struct na_att_state *a = &snap->att[i];

		/* An attach is one of these for good: the boot, its time, the cgroup and its token. */
		k[0] = 'a';
		memcpy(k + 1, id->boot_id, 16);
		memcpy(k + 17, &a->a.attach_ns, 8);
		memcpy(k + 25, &a->a.cgroup_id, 8);
		memcpy(k + 33, &a->a.token, 8);
		x = ents_get(e, k, 41, 1);
		if (!x)
			return -ENOMEM;
		x->present = 1;
		x->kind = NA_HK_CGROUP;
		x->cgroup = a->a.path;
		x->cgroup_id = a->a.cgroup_id;
		x->attach_realtime = (int64_t)a->a.attach_realtime;
		memset(x->cur, 0, sizeof(x->cur));
		put_counters(x->cur, a->t.dir);
	}
	/*
	 * A live row whose socket ended (NA_ROW_ENDED) is, or is about to be,
	 * in a closed row: left out, so that it is never in both. A snapshot
	 * reads the closed rows before the live ones, so a socket that ends
	 * while it reads is at worst in neither, for one sample.
	 */
	for (i = 0; i < snap->nrows; i++) {
		const struct na_sock_row *r = &snap->rows[i];

		if (r->s.flags & NA_ROW_ENDED)
			continue;
		err = add_row(e, r->s.cgroup_id, r->cgroup, r->s.pid, r->s.comm, r->s.family,
			      (r->s.flags & NA_ROW_MULTI) ? NULL : r->s.raddr, r->s.dir);
		if (!err && (r->s.flags & NA_ROW_MULTI))
			err = add_peers_of(e, snap, r);
		if (err)
			return err;
	}
	for (i = 0; i < snap->nclosed; i++) {
		const struct na_closed_row *r = &snap->closed[i];

		err = add_row(e, r->k.cgroup_id, r->cgroup, r->k.pid, r->k.comm, r->k.family, r->k.raddr, r->c.dir);
		if (err)
			return err;
	}
	for (i = 0; i < e->n; i++)
		if (!e->v[i].cgroup)
			e->v[i].cgroup = e->v[i].cgbuf;
	return 0;
}

/*
 * Growth since the checkpoint (x->cp), into x->d; the checkpoint follows.
 * An attachment's totals only grow: anything less is held (a total read as
 * zero, a resent figure while a loss is repaired). A sum of rows loses a
 * row now and then (a closed socket not kept in a full table, an owner that
 * changed): a direction whose packets went down starts again from where it
 * is, so that what comes after is counted; its resent figure going down
 * with the packets still there is a loss being repaired, and is held.
 */
static void growth(struct ent *x)
{
	int d, j;

	memset(x->d, 0, sizeof(x->d));
	for (d = 0; d < NA_NDIR; d++) {
		uint64_t *c = x->cur + d * 5, *p = x->cp + d * 5, *g = x->d + d * 5;

		if (x->kind != NA_HK_CGROUP && c[0] < p[0]) {
			memcpy(p, c, 5 * sizeof(*p));
			continue;
		}
		for (j = 0; j < 5; j++) {
			if (c[j] > p[j]) {
				g[j] = c[j] - p[j];
				p[j] = c[j];
			} else if (x->kind != NA_HK_CGROUP && j < 4) {
				p[j] = c[j];
			}
		}
	}
}

static int any(const uint64_t *v)
{
	int i;

	for (i = 0; i < NCTR; i++)
		if (v[i])
			return 1;
	return 0;
}

/* A series' identity as ?1 to ?6: kind, cgroup, pid, comm, family, raddr. */
static void bind_series(sqlite3_stmt *st, int kind, const char *cgroup, uint32_t pid, const char *comm, uint8_t family,
			const char *raddr)
{
	sqlite3_bind_int(st, 1, kind);
	sqlite3_bind_text(st, 2, cgroup, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 3, pid);
	sqlite3_bind_text(st, 4, comm, -1, SQLITE_STATIC);
	sqlite3_bind_int(st, 5, family);
	sqlite3_bind_text(st, 6, raddr, -1, SQLITE_STATIC);
}

/* The series of x (made when missing), its latest cgroup id kept. */
static int series_of(struct na_history *h, int kind, const char *cgroup, uint64_t cgid, uint32_t pid,
		     const char *comm, uint8_t family, const char *raddr, int64_t *out, char *why, size_t wlen)
{
	sqlite3_stmt *st;
	int rc;

	st = prep(h->db, "SELECT id, cgroup_id FROM series WHERE kind = ?1 AND cgroup = ?2 AND pid = ?3 AND comm = ?4 "
			 "AND family = ?5 AND raddr = ?6");
	if (!st)
		return st_fail(h, sqlite3_errcode(h->db), "series", why, wlen);
	bind_series(st, kind, cgroup, pid, comm, family, raddr);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		int64_t was = sqlite3_column_int64(st, 1);

		*out = sqlite3_column_int64(st, 0);
		sqlite3_finalize(st);
		if (cgid && (uint64_t)was != cgid) {
			st = prep(h->db, "UPDATE series SET cgroup_id = ?2 WHERE id = ?1");
			if (!st)
				return st_fail(h, sqlite3_errcode(h->db), "series", why, wlen);
			sqlite3_bind_int64(st, 1, *out);
			sqlite3_bind_int64(st, 2, (int64_t)cgid);
			return step_once(h, st, "series", why, wlen);
		}
		return 0;
	}
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE)
		return st_fail(h, rc, "series", why, wlen);
	st = prep(h->db, "INSERT INTO series (kind, cgroup, pid, comm, family, raddr, cgroup_id) "
			 "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)");
	if (!st)
		return st_fail(h, sqlite3_errcode(h->db), "series", why, wlen);
	bind_series(st, kind, cgroup, pid, comm, family, raddr);
	sqlite3_bind_int64(st, 7, (int64_t)cgid);
	if ((rc = step_once(h, st, "series", why, wlen)))
		return rc;
	*out = sqlite3_last_insert_rowid(h->db);
	return 0;
}

/* Add v to series' row of period start in table tab. */
static int add_to(struct na_history *h, sqlite3_stmt **cache, int tab, int64_t start, int64_t series,
		  const uint64_t *v, char *why, size_t wlen)
{
	char sql[1024];
	int i, rc;

	if (!cache[tab]) {
		snprintf(sql, sizeof(sql),
			 "INSERT INTO %s VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12) "
			 "ON CONFLICT (start, series) DO UPDATE SET "
			 "tx_packets = tx_packets + excluded.tx_packets, tx_ip_hdr_bytes = tx_ip_hdr_bytes + excluded.tx_ip_hdr_bytes, "
			 "tx_l4_hdr_bytes = tx_l4_hdr_bytes + excluded.tx_l4_hdr_bytes, "
			 "tx_payload_bytes = tx_payload_bytes + excluded.tx_payload_bytes, "
			 "tx_retrans_bytes = tx_retrans_bytes + excluded.tx_retrans_bytes, "
			 "rx_packets = rx_packets + excluded.rx_packets, rx_ip_hdr_bytes = rx_ip_hdr_bytes + excluded.rx_ip_hdr_bytes, "
			 "rx_l4_hdr_bytes = rx_l4_hdr_bytes + excluded.rx_l4_hdr_bytes, "
			 "rx_payload_bytes = rx_payload_bytes + excluded.rx_payload_bytes, "
			 "rx_dup_bytes = rx_dup_bytes + excluded.rx_dup_bytes",
			 tables[tab]);
		cache[tab] = prep(h->db, sql);
		if (!cache[tab])
			return st_fail(h, sqlite3_errcode(h->db), tables[tab], why, wlen);
	}
	sqlite3_reset(cache[tab]);
	sqlite3_bind_int64(cache[tab], 1, start);
	sqlite3_bind_int64(cache[tab], 2, series);
	for (i = 0; i < NCTR; i++)
		sqlite3_bind_int64(cache[tab], 3 + i, (int64_t)v[i]);
	rc = sqlite3_step(cache[tab]);
	return rc == SQLITE_DONE ? 0 : st_fail(h, rc, tables[tab], why, wlen);
}

/* Rows of kind in a period of a table. */
static int64_t count_kind(struct na_history *h, int tab, int64_t start, int kind)
{
	char sql[256];
	sqlite3_stmt *st;
	int64_t n = -1;

	snprintf(sql, sizeof(sql),
		 "SELECT count(*) FROM %s t JOIN series s ON s.id = t.series WHERE t.start = ?1 AND s.kind = ?2",
		 tables[tab]);
	st = prep(h->db, sql);
	if (!st)
		return -1;
	sqlite3_bind_int64(st, 1, start);
	sqlite3_bind_int(st, 2, kind);
	if (sqlite3_step(st) == SQLITE_ROW)
		n = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	return n;
}

struct fold {
	char *cgroup;
	uint64_t cgroup_id;
	uint64_t v[NCTR];
};

static int fold_cmp(const void *a, const void *b)
{
	return strcmp(((const struct fold *)a)->cgroup, ((const struct fold *)b)->cgroup);
}

/*
 * Keep the `keep` largest rows of kind in a period; fold the others into
 * their cgroup's "other" row. Every cgroup's sum stays as it was.
 */
/* The rows taken out of a period, summed per cgroup into its "other" series. */
static int fold_into_other(struct na_history *h, sqlite3_stmt **cache, int tab, int64_t start, int kind,
			   struct fold *f, size_t n, char *why, size_t wlen)
{
	size_t i, j;
	int64_t series;
	int err, c;

	if (n)
		qsort(f, n, sizeof(*f), fold_cmp);
	for (i = 0; i < n; i = j) {
		uint64_t sum[NCTR];

		memset(sum, 0, sizeof(sum));
		for (j = i; j < n && !strcmp(f[j].cgroup, f[i].cgroup); j++)
			for (c = 0; c < NCTR; c++)
				sum[c] += f[j].v[c];
		err = series_of(h, kind == NA_HK_PROCESS ? NA_HK_OTHER_PROC : NA_HK_OTHER_PEER, f[i].cgroup,
				f[i].cgroup_id, 0, "", 0, "", &series, why, wlen);
		if (!err)
			err = add_to(h, cache, tab, start, series, sum, why, wlen);
		if (err)
			return err;
	}
	return 0;
}

static int compact(struct na_history *h, sqlite3_stmt **cache, int tab, int64_t start, int kind, unsigned keep,
		   char *why, size_t wlen)
{
	char sql[768];
	sqlite3_stmt *st, *del = NULL;
	struct fold *f = NULL, *nf;
	size_t n = 0, cap = 0, i;
	int rc, err = 0, c;

	snprintf(sql, sizeof(sql),
		 "SELECT t.series, s.cgroup, s.cgroup_id, t.tx_packets, t.tx_ip_hdr_bytes, t.tx_l4_hdr_bytes, "
		 "t.tx_payload_bytes, t.tx_retrans_bytes, t.rx_packets, t.rx_ip_hdr_bytes, t.rx_l4_hdr_bytes, "
		 "t.rx_payload_bytes, t.rx_dup_bytes FROM %s t JOIN series s ON s.id = t.series "
		 "WHERE t.start = ?1 AND s.kind = ?2 ORDER BY t.tx_ip_hdr_bytes + t.tx_l4_hdr_bytes + t.tx_payload_bytes "
		 "+ t.rx_ip_hdr_bytes + t.rx_l4_hdr_bytes + t.rx_payload_bytes DESC, t.series LIMIT -1 OFFSET ?3",
		 tables[tab]);
	st = prep(h->db, sql);
	snprintf(sql, sizeof(sql), "DELETE FROM %s WHERE start = ?1 AND series = ?2", tables[tab]);
	del = prep(h->db, sql);
	if (!st || !del) {
		err = st_fail(h, sqlite3_errcode(h->db), "compact", why, wlen);
		goto out;
	}
	sqlite3_bind_int64(st, 1, start);
	sqlite3_bind_int(st, 2, kind);
	sqlite3_bind_int64(st, 3, keep);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		if (n == cap) {
			nf = realloc(f, (cap = cap ? 2 * cap : 64) * sizeof(*f));
			if (!nf) {
				err = -ENOMEM;
				goto out;
			}
			f = nf;
		}
		f[n].cgroup = strdup((const char *)sqlite3_column_text(st, 1));
		if (!f[n].cgroup) {
			err = -ENOMEM;
			goto out;
		}
		f[n].cgroup_id = (uint64_t)sqlite3_column_int64(st, 2);
		for (c = 0; c < NCTR; c++)
			f[n].v[c] = (uint64_t)sqlite3_column_int64(st, 3 + c);
		n++;
		sqlite3_reset(del);
		sqlite3_bind_int64(del, 1, start);
		sqlite3_bind_int64(del, 2, sqlite3_column_int64(st, 0));
		if ((rc = sqlite3_step(del)) != SQLITE_DONE) {
			err = st_fail(h, rc, "compact", why, wlen);
			goto out;
		}
	}
	if (rc != SQLITE_DONE) {
		err = st_fail(h, rc, "compact", why, wlen);
		goto out;
	}
	err = fold_into_other(h, cache, tab, start, kind, f, n, why, wlen);
out:
	sqlite3_finalize(st);
	sqlite3_finalize(del);
	for (i = 0; i < n; i++)
		free(f[i].cgroup);
	free(f);
	return err;
}

/* Hold a period that ended to its caps. */
static int caps(struct na_history *h, sqlite3_stmt **cache, int tab, int64_t start, char *why, size_t wlen)
{
	static const int kinds[] = { NA_HK_PROCESS, NA_HK_PEER };
	unsigned keep;
	int64_t n;
	int i, err;

	for (i = 0; i < 2; i++) {
		keep = kinds[i] == NA_HK_PROCESS ? h->o.procs_max : h->o.peers_max;
		if (!keep)
			continue;
		n = count_kind(h, tab, start, kinds[i]);
		if (n < 0)
			return st_fail(h, sqlite3_errcode(h->db), "count", why, wlen);
		if (n <= (int64_t)keep)
			continue;
		err = compact(h, cache, tab, start, kinds[i], keep, why, wlen);
		if (err)
			return err;
	}
	return 0;
}

static int load_checkpoints(struct na_history *h, struct ents *e, int64_t now, char *why, size_t wlen)
{
	sqlite3_stmt *st = prep(h->db, "SELECT key, kind, series, seen, c0, c1, c2, c3, c4, c5, c6, c7, c8, c9 FROM checkpoint");
	sqlite3_stmt *del = prep(h->db, "DELETE FROM checkpoint WHERE key = ?1");
	int rc, err = 0, i, forget;
	struct ent *x;

	if (!st || !del) {
		err = st_fail(h, sqlite3_errcode(h->db), "checkpoint", why, wlen);
		goto out;
	}
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		const void *k = sqlite3_column_blob(st, 0);
		int klen = sqlite3_column_bytes(st, 0), kind = sqlite3_column_int(st, 1);
		int64_t seen = sqlite3_column_int64(st, 3);

		x = klen > 0 && klen <= KEY_MAX ? ents_get(e, k, (size_t)klen, 0) : NULL;
		if (!x) {
			/*
			 * Not in this snapshot. Kept a while: a process whose only
			 * socket was ending as the snapshot was read is back in the
			 * next one, and counting it from zero would count it twice.
			 */
			forget = now - seen > (kind == NA_HK_CGROUP ? NA_HIST_FORGET_ATT_S : NA_HIST_FORGET_S) || now < seen;
			if (!forget)
				continue;
			sqlite3_reset(del);
			sqlite3_bind_blob(del, 1, k, klen, SQLITE_TRANSIENT);
			if ((rc = sqlite3_step(del)) != SQLITE_DONE) {
				err = st_fail(h, rc, "checkpoint", why, wlen);
				goto out;
			}
			continue;
		}
		x->have_cp = 1;
		x->series = sqlite3_column_int64(st, 2);
		x->seen = seen;
		for (i = 0; i < NCTR; i++)
			x->cp[i] = (uint64_t)sqlite3_column_int64(st, 4 + i);
	}
	if (rc != SQLITE_DONE)
		err = st_fail(h, rc, "checkpoint", why, wlen);
out:
	sqlite3_finalize(st);
	sqlite3_finalize(del);
	return err;
}

static int save_checkpoint(struct na_history *h, sqlite3_stmt **put, const struct ent *x, int64_t now, char *why,
			   size_t wlen)
{
	int i, rc;

	if (!*put) {
		*put = prep(h->db, "INSERT INTO checkpoint VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14) "
				   "ON CONFLICT (key) DO UPDATE SET series = excluded.series, seen = excluded.seen, "
				   "c0 = excluded.c0, c1 = excluded.c1, c2 = excluded.c2, c3 = excluded.c3, c4 = excluded.c4, "
				   "c5 = excluded.c5, c6 = excluded.c6, c7 = excluded.c7, c8 = excluded.c8, c9 = excluded.c9");
		if (!*put)
			return st_fail(h, sqlite3_errcode(h->db), "checkpoint", why, wlen);
	}
	sqlite3_reset(*put);
	sqlite3_bind_blob(*put, 1, x->key, x->klen, SQLITE_STATIC);
	sqlite3_bind_int(*put, 2, x->kind);
	sqlite3_bind_int64(*put, 3, x->series);
	sqlite3_bind_int64(*put, 4, now);
	for (i = 0; i < NCTR; i++)
		sqlite3_bind_int64(*put, 5 + i, (int64_t)x->cp[i]);
	rc = sqlite3_step(*put);
	return rc == SQLITE_DONE ? 0 : st_fail(h, rc, "checkpoint", why, wlen);
}

struct sdelta {
	int64_t series;
	int kind;
	const char *cgroup;
	uint64_t cgroup_id;
	uint64_t v[NCTR];
};

static uint64_t bytes_of(const uint64_t *v)
{
	return v[1] + v[2] + v[3] + v[6] + v[7] + v[8];
}

static int sdelta_size_cmp(const void *a, const void *b)
{
	const struct sdelta *x = *(const struct sdelta *const *)a, *y = *(const struct sdelta *const *)b;
	uint64_t p = bytes_of(x->v), q = bytes_of(y->v);

	int c = NA_CMP(q, p); /* the largest first */

	return c ? c : NA_CMP(x->series, y->series);
}

static int i64_cmp(const void *a, const void *b)
{
	return NA_CMP(*(const int64_t *)a, *(const int64_t *)b);
}

/* The series that have a row in a period of a table (sorted), and how many of each capped kind. */
static int period_rows(struct na_history *h, int tab, int64_t start, int64_t **ids, size_t *n, int64_t count[5],
		       char *why, size_t wlen)
{
	char sql[256];
	sqlite3_stmt *st;
	size_t cap = 0;
	int64_t *v;
	int rc;

	*ids = NULL;
	*n = 0;
	memset(count, 0, 5 * sizeof(*count));
	snprintf(sql, sizeof(sql), "SELECT t.series, s.kind FROM %s t JOIN series s ON s.id = t.series WHERE t.start = ?1",
		 tables[tab]);
	st = prep(h->db, sql);
	if (!st)
		return st_fail(h, sqlite3_errcode(h->db), tables[tab], why, wlen);
	sqlite3_bind_int64(st, 1, start);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		int k = sqlite3_column_int(st, 1);

		if (*n == cap) {
			v = realloc(*ids, (cap = cap ? 2 * cap : 256) * sizeof(*v));
			if (!v) {
				sqlite3_finalize(st);
				return -ENOMEM;
			}
			*ids = v;
		}
		(*ids)[(*n)++] = sqlite3_column_int64(st, 0);
		if (k >= 0 && k < 5)
			count[k]++;
	}
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE)
		return st_fail(h, rc, tables[tab], why, wlen);
	if (*n)
		qsort(*ids, *n, sizeof(**ids), i64_cmp);
	return 0;
}

/* The deltas of kind that have no row in the period yet (ids, sorted: those that have), into cand. */
static size_t new_rows(struct sdelta *sd, size_t nsd, int kind, const int64_t *ids, size_t nids, struct sdelta **cand)
{
	size_t i, n = 0;

	for (i = 0; i < nsd; i++)
		if (sd[i].kind == kind && (!nids || !bsearch(&sd[i].series, ids, nids, sizeof(*ids), i64_cmp)))
			cand[n++] = &sd[i];
	return n;
}

/*
 * A delta past the period's room: to its cgroup's "other" row of its kind
 * (other, *nother of them; cgroup_id holds the kind here). A negative
 * series marks it as folded.
 */
static void to_other(struct sdelta *d, int kind, struct fold *other, size_t *nother)
{
	size_t j;
	int c;

	for (j = 0; j < *nother && (other[j].cgroup_id != (uint64_t)kind || strcmp(other[j].cgroup, d->cgroup)); j++)
		;
	if (j == *nother) {
		other[j].cgroup = (char *)d->cgroup;
		other[j].cgroup_id = (uint64_t)kind;
		memset(other[j].v, 0, sizeof(other[j].v));
		(*nother)++;
	}
	for (c = 0; c < NCTR; c++)
		other[j].v[c] += d->v[c];
	d->series = -d->series - 1;
}

/*
 * One sample's growth (merged per series) into the period of a table. A
 * process or peer with a row there adds to it; a new one gets a row while
 * the period holds fewer than twice the cap of its kind, the largest first;
 * when it is full, the period is first held to the cap (its largest rows
 * stay), so that what grows most now still gets in. The rest goes to its
 * cgroup's "other" row: every cgroup's sum is whole either way.
 */
static int add_period(struct na_history *h, sqlite3_stmt **cache, int tab, int64_t start, struct sdelta *sd, size_t nsd,
		      char *why, size_t wlen)
{
	struct sdelta **cand = NULL;
	struct fold *other = NULL;
	int64_t *ids = NULL, count[5], series;
	size_t nids = 0, ncand = 0, nother = 0, i, j;
	unsigned cap;
	int err, k, pass;

	err = period_rows(h, tab, start, &ids, &nids, count, why, wlen);
	if (err)
		goto out;
	cand = calloc(nsd ? nsd : 1, sizeof(*cand));
	other = calloc(nsd ? nsd : 1, sizeof(*other));
	if (!cand || !other) {
		err = -ENOMEM;
		goto out;
	}
	for (pass = 0; pass < 2; pass++) {
		int compacted = 0;
		int64_t room;

		k = pass ? NA_HK_PEER : NA_HK_PROCESS;
		cap = k == NA_HK_PROCESS ? h->o.procs_max : h->o.peers_max;
		for (;;) {
			ncand = new_rows(sd, nsd, k, ids, nids, cand);
			if (!cap || !ncand || count[k] + (int64_t)ncand <= 2 * (int64_t)cap || compacted ||
			    count[k] <= (int64_t)cap)
				break;
			/* full: held to the cap first; those it folds are candidates again */
			err = compact(h, cache, tab, start, k, cap, why, wlen);
			if (err)
				goto out;
			free(ids);
			err = period_rows(h, tab, start, &ids, &nids, count, why, wlen);
			if (err)
				goto out;
			compacted = 1;
		}
		room = 2 * (int64_t)cap - count[k];
		if (!cap || (int64_t)ncand <= room)
			continue;
		qsort(cand, ncand, sizeof(*cand), sdelta_size_cmp);
		for (i = room > 0 ? (size_t)room : 0; i < ncand; i++)
			to_other(cand[i], k, other, &nother);
	}
	for (i = 0; i < nsd; i++) {
		if (sd[i].series < 0) {
			sd[i].series = -sd[i].series - 1; /* restored for the next table */
			continue;
		}
		err = add_to(h, cache, tab, start, sd[i].series, sd[i].v, why, wlen);
		if (err)
			goto out;
	}
	for (j = 0; j < nother; j++) {
		k = other[j].cgroup_id == NA_HK_PROCESS ? NA_HK_OTHER_PROC : NA_HK_OTHER_PEER;
		err = series_of(h, k, other[j].cgroup, 0, 0, "", 0, "", &series, why, wlen);
		if (!err)
			err = add_to(h, cache, tab, start, series, other[j].v, why, wlen);
		if (err)
			goto out;
	}
out:
	free(ids);
	free(cand);
	free(other);
	return err;
}

static int sdelta_cmp(const void *a, const void *b)
{
	return NA_CMP(((const struct sdelta *)a)->series, ((const struct sdelta *)b)->series);
}

static void ident_text(const struct na_hist_ident *id, char *out, size_t len)
{
	size_t i, k = 0;

	for (i = 0; i < 16 && k + 3 < len; i++)
		k += (size_t)snprintf(out + k, len - k, "%02x", id->boot_id[i]);
	snprintf(out + k, len - k, ":%llu:%llu", (unsigned long long)id->pin_id, (unsigned long long)id->pin_created);
}

/*
 * What each entity present in e grew by since its checkpoint, into sd (one
 * row per entity that moved; *nsd of them), its checkpoint saved through
 * *put when it moved or is due. pin_fresh: the pinned state is new since
 * the last sample.
 */
static int entity_deltas(struct na_history *h, struct ents *e, const struct na_hist_ident *id, int pin_fresh,
			 int64_t now, sqlite3_stmt **put, struct sdelta *sd, size_t *nsd, char *why, size_t wlen)
{
	uint64_t was_cp[NCTR];
	size_t i;
	int err;

	*nsd = 0;
	for (i = 0; i < e->n; i++) {
		struct ent *x = &e->v[i];

		if (!x->present)
			continue;
		if (!x->have_cp) {
			/*
			 * Counted from zero when it began after the database did:
			 * nothing of it was recorded anywhere before. What began
			 * before (a database new to running attachments) starts the
			 * history from the counters as they are.
			 */
			int from_zero = x->kind == NA_HK_CGROUP ? x->attach_realtime >= h->created
								: !pin_fresh || (int64_t)id->pin_created >= h->created;

			memcpy(x->cp, from_zero ? (uint64_t[NCTR]){ 0 } : x->cur, sizeof(x->cp));
			err = series_of(h, x->kind, x->cgroup, x->cgroup_id, x->pid, x->comm, x->family, x->raddr,
					&x->series, why, wlen);
			if (err)
				return err;
		}
		memcpy(was_cp, x->cp, sizeof(was_cp));
		growth(x);
		/* Saved when it moved, and now and then while it is there (see load_checkpoints). */
		if (!x->have_cp || memcmp(was_cp, x->cp, sizeof(was_cp)) || now - x->seen >= NA_HIST_SEEN_S ||
		    now < x->seen) {
			err = save_checkpoint(h, put, x, now, why, wlen);
			if (err)
				return err;
		}
		if (any(x->d)) {
			struct sdelta *d = &sd[(*nsd)++];

			d->series = x->series;
			d->kind = x->kind;
			d->cgroup = x->cgroup;
			d->cgroup_id = x->cgroup_id;
			memcpy(d->v, x->d, sizeof(d->v));
		}
	}
	return 0;
}

/* One row per series (cgroups of one path, made again, are one series): the new count. */
static size_t merge_series(struct sdelta *sd, size_t nsd)
{
	size_t i, j, k;
	int c;

	if (nsd)
		qsort(sd, nsd, sizeof(*sd), sdelta_cmp);
	for (i = 0, j = 0; i < nsd; j++) {
		sd[j] = sd[i];
		for (k = i + 1; k < nsd && sd[k].series == sd[i].series; k++)
			for (c = 0; c < NCTR; c++)
				sd[j].v[c] += sd[k].v[c];
		i = k;
	}
	return j;
}

/*
 * The deltas sd into the period of now of each table (made when new); the
 * period of the last sample, if it ended since, held to its caps first.
 */
static int add_to_periods(struct na_history *h, sqlite3_stmt **cache, int64_t last, int64_t now,
			  struct sdelta *sd, size_t nsd, char *why, size_t wlen)
{
	sqlite3_stmt *per;
	int64_t start, pstart;
	int t, rc, err = 0;

	per = prep(h->db, "INSERT OR IGNORE INTO period (tab, start, end) VALUES (?1, ?2, ?3)");
	if (!per)
		return st_fail(h, sqlite3_errcode(h->db), "period", why, wlen);
	for (t = 0; !err && t < NA_HIST_NTABLES; t++) {
		start = na_hist_period_start(t, now);
		sqlite3_reset(per);
		sqlite3_bind_int(per, 1, t);
		sqlite3_bind_int64(per, 2, start);
		sqlite3_bind_int64(per, 3, na_hist_period_end(t, start));
		if ((rc = sqlite3_step(per)) != SQLITE_DONE) {
			err = st_fail(h, rc, "period", why, wlen);
			break;
		}
		pstart = last ? na_hist_period_start(t, last) : start;
		err = pstart != start ? caps(h, cache, t, pstart, why, wlen) : 0;
		if (!err)
			err = add_period(h, cache, t, start, sd, nsd, why, wlen);
	}
	sqlite3_finalize(per);
	return err;
}

int na_history_record(struct na_history *h, const struct na_snapshot *snap, const struct na_hist_ident *id,
		      int64_t now, char *why, size_t wlen)
{
	sqlite3_stmt *cache[NA_HIST_NTABLES] = { 0 }, *put = NULL;
	struct ents e = { 0 };
	struct sdelta *sd = NULL;
	size_t nsd = 0;
	char pin[128], was[128];
	int64_t last;
	int err, pin_fresh, t;

	why[0] = '\0';
	err = snapshot_ents(&e, snap, id);
	if (err) {
		ents_free(&e);
		snprintf(why, wlen, "out of memory");
		return err;
	}
	err = exec(h, "BEGIN IMMEDIATE", why, wlen);
	if (err) {
		ents_free(&e);
		return err;
	}
	last = meta_get(h->db, "last_sample", 0);
	/*
	 * The pinned state the processes and peers were summed from: another
	 * one (detach --all, a reboot) starts its sums at zero, and theirs
	 * compare with nothing before.
	 */
	ident_text(id, pin, sizeof(pin));
	pin_fresh = !meta_text(h->db, "pin", was, sizeof(was)) || strcmp(was, pin);
	if (pin_fresh && ((err = exec(h, "DELETE FROM checkpoint WHERE kind <> 0", why, wlen)) ||
			  (err = meta_put(h, "pin", 0, pin, why, wlen))))
		goto fail;
	err = load_checkpoints(h, &e, now, why, wlen);
	if (err)
		goto fail;
	sd = calloc(e.n ? e.n : 1, sizeof(*sd));
	if (!sd) {
		err = -ENOMEM;
		goto fail;
	}
	err = entity_deltas(h, &e, id, pin_fresh, now, &put, sd, &nsd, why, wlen);
	if (err)
		goto fail;
	nsd = merge_series(sd, nsd);
	err = add_to_periods(h, cache, last, now, sd, nsd, why, wlen);
	if (!err)
		err = meta_put(h, "last_sample", now, NULL, why, wlen);
	if (!err)
		err = exec(h, "COMMIT", why, wlen);
	if (err)
		goto fail;
	goto out;
fail:
	sqlite3_exec(h->db, "ROLLBACK", NULL, NULL, NULL);
out:
	for (t = 0; t < NA_HIST_NTABLES; t++)
		sqlite3_finalize(cache[t]);
	sqlite3_finalize(put);
	free(sd);
	ents_free(&e);
	return err;
}

int na_history_prune(struct na_history *h, int64_t now, char *why, size_t wlen)
{
	sqlite3_stmt *st;
	char sql[512], key[64];
	int64_t horizon, covered;
	int t, rc, err;

	why[0] = '\0';
	err = exec(h, "BEGIN IMMEDIATE", why, wlen);
	if (err)
		return err;
	for (t = 0; t < NA_HIST_NTABLES; t++) {
		if (!h->o.keep_s[t])
			continue;
		/* Periods that ended before now - keep go; the one then still running stays whole. */
		horizon = na_hist_period_start(t, now - h->o.keep_s[t]);
		snprintf(sql, sizeof(sql), "DELETE FROM %s WHERE start < ?1", tables[t]);
		st = prep(h->db, sql);
		if (!st) {
			err = st_fail(h, sqlite3_errcode(h->db), tables[t], why, wlen);
			goto fail;
		}
		sqlite3_bind_int64(st, 1, horizon);
		rc = sqlite3_step(st);
		sqlite3_finalize(st);
		if (rc != SQLITE_DONE) {
			err = st_fail(h, rc, tables[t], why, wlen);
			goto fail;
		}
		st = prep(h->db, "DELETE FROM period WHERE tab = ?1 AND start < ?2");
		if (!st) {
			err = st_fail(h, sqlite3_errcode(h->db), "period", why, wlen);
			goto fail;
		}
		sqlite3_bind_int(st, 1, t);
		sqlite3_bind_int64(st, 2, horizon);
		rc = sqlite3_step(st);
		sqlite3_finalize(st);
		if (rc != SQLITE_DONE) {
			err = st_fail(h, rc, "period", why, wlen);
			goto fail;
		}
		snprintf(key, sizeof(key), "covered_from_%s", tables[t]);
		covered = meta_get(h->db, key, h->created);
		if (horizon > covered && (err = meta_put(h, key, horizon, NULL, why, wlen)))
			goto fail;
	}
	/* Names no row and no checkpoint uses, once a day (it reads every table). */
	if (now - meta_get(h->db, "last_gc", 0) >= 86400 || now < meta_get(h->db, "last_gc", 0)) {
		err = exec(h, "DELETE FROM series WHERE id NOT IN (SELECT series FROM fiveminute UNION SELECT series FROM hour "
			      "UNION SELECT series FROM day UNION SELECT series FROM month UNION SELECT series FROM checkpoint)",
			   why, wlen);
		if (!err)
			err = meta_put(h, "last_gc", now, NULL, why, wlen);
		if (err)
			goto fail;
	}
	err = exec(h, "COMMIT", why, wlen);
	if (!err)
		return 0;
fail:
	sqlite3_exec(h->db, "ROLLBACK", NULL, NULL, NULL);
	return err;
}

int na_history_stats(struct na_history *h, uint64_t *file_bytes, uint64_t *table_bytes, uint64_t rows[NA_HIST_NTABLES])
{
	char sql[128];
	sqlite3_stmt *st;
	int t;

	*file_bytes = *table_bytes = 0;
	st = prep(h->db, "SELECT page_count * page_size FROM pragma_page_count(), pragma_page_size()");
	if (st && sqlite3_step(st) == SQLITE_ROW)
		*file_bytes = (uint64_t)sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	/* dbstat: where the library has it (Debian's does) */
	st = prep(h->db, "SELECT sum(pgsize) FROM dbstat WHERE name IN ('fiveminute', 'hour', 'day', 'month')");
	if (st && sqlite3_step(st) == SQLITE_ROW)
		*table_bytes = (uint64_t)sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	for (t = 0; t < NA_HIST_NTABLES; t++) {
		rows[t] = 0;
		snprintf(sql, sizeof(sql), "SELECT count(*) FROM %s", tables[t]);
		st = prep(h->db, sql);
		if (st && sqlite3_step(st) == SQLITE_ROW)
			rows[t] = (uint64_t)sqlite3_column_int64(st, 0);
		sqlite3_finalize(st);
	}
	return 0;
}

/* ---- reading ------------------------------------------------------------------------- */

void na_hist_result_free(struct na_hist_result *res)
{
	size_t i;

	for (i = 0; i < res->nrows; i++)
		free(res->rows[i].cgroup);
	free(res->rows);
	free(res->period_starts);
	memset(res, 0, sizeof(*res));
}

/* A history opened to read: 0 when it is one, or -errno with why (an empty file is none). */
static int check_schema_ro(sqlite3 *db, char *why, size_t wlen)
{
	int err = check_schema(db, why, wlen);

	if (err == 1) {
		snprintf(why, wlen, "an empty database, not a netacct history");
		err = -EPROTO;
	}
	return err;
}

static int open_ro(const char *path, sqlite3 **db, char *why, size_t wlen)
{
	char uri[PATH_MAX + 64];
	struct stat st;
	int rc, err;

	*db = NULL;
	if (stat(path, &st)) {
		snprintf(why, wlen, "%s%s", strerror(errno),
			 errno == ENOENT ? " (no history yet: the agent records it; or name one with --db FILE)" : "");
		return -errno;
	}
	if (access(path, R_OK)) {
		snprintf(why, wlen, "%s (root reads it, and the group the agent's configuration names)", strerror(errno));
		return -errno;
	}
	rc = sqlite3_open_v2(path, db, SQLITE_OPEN_READONLY, NULL);
	if (rc == SQLITE_OK) {
		sqlite3_busy_timeout(*db, 2000);
		err = check_schema_ro(*db, why, wlen);
		if (!err)
			return 0;
		/*
		 * Without its -wal and -shm files (a copy from another machine,
		 * a directory this user cannot write in), a WAL database opens
		 * read-only only as immutable: nothing writes it then.
		 */
		snprintf(uri, sizeof(uri), "%s-wal", path);
		if (err != -EIO || !access(uri, F_OK))
			goto fail;
	}
	sqlite3_close(*db);
	*db = NULL;
	snprintf(uri, sizeof(uri), "file:%s?immutable=1", path);
	rc = sqlite3_open_v2(uri, db, SQLITE_OPEN_READONLY | SQLITE_OPEN_URI, NULL);
	if (rc != SQLITE_OK) {
		err = sql_err(*db, rc, "open", why, wlen);
		goto fail;
	}
	err = check_schema_ro(*db, why, wlen);
	if (!err)
		return 0;
fail:
	sqlite3_close(*db);
	*db = NULL;
	return err;
}

static int row_grow(struct na_hist_result *res, size_t *cap)
{
	struct na_hist_row *r;

	if (res->nrows < *cap)
		return 0;
	r = realloc(res->rows, (*cap = *cap ? 2 * *cap : 64) * sizeof(*r));
	if (!r)
		return -ENOMEM;
	res->rows = r;
	return 0;
}

static int64_t end_of(const struct na_hist_result *res, const int64_t *ends, int64_t start)
{
	size_t lo = 0, hi = res->nperiods, mid;

	while (lo < hi) {
		mid = (lo + hi) / 2;
		if (res->period_starts[mid] == start)
			return ends[mid];
		if (res->period_starts[mid] < start)
			lo = mid + 1;
		else
			hi = mid;
	}
	return na_hist_period_end(res->table, start);
}

/*
 * The table a query reads (the finest that holds every sample since
 * `since` when it names none: exact at its edges) into res, with what that
 * table covers; returns the start of the period `since` falls in.
 */
static int64_t query_table(sqlite3 *db, const struct na_hist_query *q, struct na_hist_result *res)
{
	int64_t since = q->since > res->created ? q->since : res->created;
	char key[64];
	int t;

	res->table = q->table;
	if (res->table < 0) {
		for (t = 0; t < NA_HIST_NTABLES - 1; t++) {
			snprintf(key, sizeof(key), "covered_from_%s", tables[t]);
			if (meta_get(db, key, res->created) <= since)
				break;
		}
		res->table = t;
	}
	snprintf(key, sizeof(key), "covered_from_%s", tables[res->table]);
	res->covered_from = meta_get(db, key, res->created);
	/* The period `since` falls in is in: a span never leaves out what it asked for (start says where it began). */
	return na_hist_period_start(res->table, q->since);
}

/* The periods of res->table in [since, until): starts into res, ends into *ends (malloc'd). */
static int read_periods(sqlite3 *db, struct na_hist_result *res, int64_t since, int64_t until, int64_t **ends,
			char *why, size_t wlen)
{
	sqlite3_stmt *st;
	size_t cap = 0;
	int rc;

	st = prep(db, "SELECT start, end FROM period WHERE tab = ?1 AND start >= ?2 AND start < ?3 ORDER BY start");
	if (!st)
		return sql_err(db, sqlite3_errcode(db), "read", why, wlen);
	sqlite3_bind_int(st, 1, res->table);
	sqlite3_bind_int64(st, 2, since);
	sqlite3_bind_int64(st, 3, until);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		if (res->nperiods == cap) {
			int64_t *a = realloc(res->period_starts, (cap = cap ? 2 * cap : 64) * sizeof(*a));
			int64_t *b = realloc(*ends, cap * sizeof(*b));

			if (a)
				res->period_starts = a;
			if (b)
				*ends = b;
			if (!a || !b) {
				sqlite3_finalize(st);
				return -ENOMEM;
			}
		}
		res->period_starts[res->nperiods] = sqlite3_column_int64(st, 0);
		(*ends)[res->nperiods++] = sqlite3_column_int64(st, 1);
	}
	sqlite3_finalize(st);
	return rc == SQLITE_DONE ? 0 : sql_err(db, rc, "read", why, wlen);
}

_Static_assert(NA_HK_CGROUP == 0 && NA_HK_PROCESS == 1 && NA_HK_PEER == 2 && NA_HK_OTHER_PROC == 3 &&
		       NA_HK_OTHER_PEER == 4,
	       "query_sql names the kinds by the numbers the database stores");

/* The query's SELECT on table tab: ?1 since, ?2 until, ?3 the cgroup when filter. */
static void query_sql(const struct na_hist_query *q, int tab, int filter, char *sql, size_t len)
{
	static const char *const sums =
		"sum(t.tx_packets), sum(t.tx_ip_hdr_bytes), sum(t.tx_l4_hdr_bytes), sum(t.tx_payload_bytes), "
		"sum(t.tx_retrans_bytes), sum(t.rx_packets), sum(t.rx_ip_hdr_bytes), sum(t.rx_l4_hdr_bytes), "
		"sum(t.rx_payload_bytes), sum(t.rx_dup_bytes)";
	const char *sel, *grp, *kinds; /* kinds: enum na_hist_kind as the database stores it */
	char where[256];

	snprintf(where, sizeof(where), "%s",
		 filter ? "AND (s.cgroup = ?3 OR substr(s.cgroup, 1, length(?3) + 1) = ?3 || '/')" : "");
	switch (q->by) {
	case NA_HB_PROCESS:
		kinds = "s.kind IN (1, 3)";
		sel = "s.kind, s.cgroup, max(s.cgroup_id), s.pid, s.comm, 0, ''";
		grp = "s.kind, s.cgroup, s.pid, s.comm";
		break;
	case NA_HB_PEER:
		/* A peer across cgroups is one row; its cgroup is named when it is one. */
		kinds = "s.kind IN (2, 4)";
		sel = "s.kind, CASE WHEN min(s.cgroup) = max(s.cgroup) THEN min(s.cgroup) END, "
		      "CASE WHEN min(s.cgroup) = max(s.cgroup) THEN max(s.cgroup_id) ELSE 0 END, 0, '', s.family, s.raddr";
		grp = "s.kind, s.family, s.raddr";
		break;
	default:
		kinds = "s.kind = 0";
		sel = "s.kind, s.cgroup, max(s.cgroup_id), 0, '', 0, ''";
		grp = "s.cgroup";
		break;
	}
	snprintf(sql, len,
		 "SELECT %s, %s, %s FROM %s t JOIN series s ON s.id = t.series WHERE t.start >= ?1 AND t.start < ?2 "
		 "AND %s %s GROUP BY %s%s ORDER BY %s%s",
		 q->periods ? "t.start" : "min(t.start)", sel, sums, tables[tab], kinds, where,
		 q->periods ? "t.start, " : "", grp, q->periods ? "t.start, " : "", grp);
}

/* The result row st is on into r (zeroed); the span it covers from ends. 0 or -ENOMEM. */
static int read_row(sqlite3_stmt *st, const struct na_hist_query *q, const struct na_hist_result *res,
		    const int64_t *ends, struct na_hist_row *r)
{
	const unsigned char *s;
	int d, k = 0;

	memset(r, 0, sizeof(*r));
	r->start = sqlite3_column_int64(st, k++);
	if (q->periods) {
		r->end = end_of(res, ends, r->start);
	} else if (res->nperiods) {
		r->start = res->period_starts[0];
		r->end = ends[res->nperiods - 1];
	} else {
		r->end = na_hist_period_end(res->table, r->start);
	}
	r->kind = (enum na_hist_kind)sqlite3_column_int(st, k++);
	s = sqlite3_column_text(st, k++);
	if (s && !(r->cgroup = strdup((const char *)s)))
		return -ENOMEM;
	r->cgroup_id = (uint64_t)sqlite3_column_int64(st, k++);
	r->pid = (uint32_t)sqlite3_column_int64(st, k++);
	s = sqlite3_column_text(st, k++);
	snprintf(r->comm, sizeof(r->comm), "%s", s ? (const char *)s : "");
	r->family = (uint8_t)sqlite3_column_int(st, k++);
	s = sqlite3_column_text(st, k++);
	snprintf(r->raddr, sizeof(r->raddr), "%s", s ? (const char *)s : "");
	for (d = 0; d < NA_NDIR; d++) {
		r->dir[d].packets = (uint64_t)sqlite3_column_int64(st, k++);
		r->dir[d].ip_hdr_bytes = (uint64_t)sqlite3_column_int64(st, k++);
		r->dir[d].l4_hdr_bytes = (uint64_t)sqlite3_column_int64(st, k++);
		r->dir[d].payload_bytes = (uint64_t)sqlite3_column_int64(st, k++);
		r->dir[d].resent_bytes = (uint64_t)sqlite3_column_int64(st, k++);
	}
	return 0;
}

int na_history_query(const char *path, const struct na_hist_query *q, struct na_hist_result *res, char *why,
		     size_t wlen)
{
	char sql[2048];
	sqlite3_stmt *st = NULL;
	sqlite3 *db = NULL;
	int64_t *ends = NULL, since;
	size_t cap = 0;
	int rc, err = 0, filter;

	memset(res, 0, sizeof(*res));
	why[0] = '\0';
	err = open_ro(path, &db, why, wlen);
	if (err)
		return err;
	res->created = meta_get(db, "created", 0);
	meta_text(db, "host", res->host, sizeof(res->host));
	res->last_sample = meta_get(db, "last_sample", 0);
	since = query_table(db, q, res);
	err = read_periods(db, res, since, q->until, &ends, why, wlen);
	if (err)
		goto out;

	filter = q->cgroup && strcmp(q->cgroup, "/");
	query_sql(q, res->table, filter, sql, sizeof(sql));
	st = prep(db, sql);
	if (!st) {
		err = sql_err(db, sqlite3_errcode(db), "read", why, wlen);
		goto out;
	}
	sqlite3_bind_int64(st, 1, since);
	sqlite3_bind_int64(st, 2, q->until);
	if (filter)
		sqlite3_bind_text(st, 3, q->cgroup, -1, SQLITE_STATIC);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		if ((err = row_grow(res, &cap)))
			goto out;
		err = read_row(st, q, res, ends, &res->rows[res->nrows]);
		if (err)
			goto out;
		res->nrows++;
	}
	if (rc != SQLITE_DONE)
		err = sql_err(db, rc, "read", why, wlen);
out:
	sqlite3_finalize(st);
	sqlite3_close(db);
	free(ends);
	if (err) {
		if (!why[0])
			snprintf(why, wlen, "%s", strerror(-err));
		na_hist_result_free(res);
	}
	return err;
}
