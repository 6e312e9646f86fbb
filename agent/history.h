/* SPDX-License-Identifier: (BSD-2-Clause OR GPL-2.0) */
/*
 * Traffic history in an SQLite database (docs/agent.md, "History"): what
 * each attached cgroup, process and peer sent and received, per 5 minutes,
 * hour, day and month, like vnstat keeps it per interface.
 *
 *   na_history_*   the database: its schema, recording a snapshot's growth
 *                  since the last one (agent/history.c), pruning, queries
 *   na_recorder_*  the agent's side: when to sample, the snapshot, errors
 *                  said once a minute (agent/recorder.c)
 *
 * Every sample is added to the four tables at once, in one transaction with
 * the counter values it was measured from (the checkpoints): a sample is
 * recorded whole or not at all, and never twice, whenever the agent stops.
 */
#ifndef NETACCT_HISTORY_H
#define NETACCT_HISTORY_H

#include <stdint.h>

#include "netacct.h"

/* The tables, finest first. */
enum na_hist_table { NA_HIST_5MIN, NA_HIST_HOUR, NA_HIST_DAY, NA_HIST_MONTH, NA_HIST_NTABLES };

/* What a row of the history is about. */
enum na_hist_kind {
	NA_HK_CGROUP = 0,      /* an attached cgroup: its kernel totals */
	NA_HK_PROCESS = 1,     /* (leaf cgroup, pid, comm): summed from socket rows */
	NA_HK_PEER = 2,        /* (leaf cgroup, remote address): summed from socket rows */
	NA_HK_OTHER_PROC = 3,  /* a leaf cgroup's processes beyond the cap */
	NA_HK_OTHER_PEER = 4,  /* a leaf cgroup's peers beyond the cap */
};

#define NA_HIST_DEFAULT_DIR "/var/lib/netacct"
#define NA_HIST_DEFAULT_FILE NA_HIST_DEFAULT_DIR "/history.db"

/*
 * The database of a pin root when the configuration names none: the default
 * pin root's is NA_HIST_DEFAULT_FILE, another's is named after it (as the
 * agent's lock file is: /var/lib/netacct/history%2Fsys%2Ffs%2Fbpf%2Fx.db),
 * so that each agent, one per pin root, has a database of its own.
 */
int na_history_default_path(const char *pin_root, char *p, size_t len);

/* Period boundaries, in the local time zone: the start of t's period, and a period's end. */
int64_t na_hist_period_start(enum na_hist_table tab, int64_t t);
int64_t na_hist_period_end(enum na_hist_table tab, int64_t start);
/* "5m", "hour", "day", "month" */
const char *na_hist_table_name(enum na_hist_table tab);

/* ---- recording -------------------------------------------------------------- */

struct na_history_opts {
	const char *path;
	int64_t keep_s[NA_HIST_NTABLES]; /* how long each table's rows are kept; 0 = for ever */
	unsigned procs_max;              /* process rows of their own per period (others: one per cgroup) */
	unsigned peers_max;              /* peer rows of their own per period */
	int group_set;                   /* the file (and -wal, -shm) 0640 with group gid, else 0600 root's */
	uint32_t gid;
};

/* Which kernel state a snapshot comes from: what makes a counter value comparable to another. */
struct na_hist_ident {
	uint8_t boot_id[16];   /* /proc/sys/kernel/random/boot_id */
	uint64_t pin_id;       /* the map id of the pin root's na_meta: a new one for new pinned state */
	uint64_t pin_created;  /* na_meta.created_realtime */
};

struct na_history;

/*
 * Open the database at o->path for writing, creating it (and its schema)
 * when missing: 0, or -errno / -EIO with the reason in why (not logged).
 * The directory is the caller's to check. now: Unix seconds (the creation
 * time of a new database).
 */
int na_history_open(struct na_history **out, const struct na_history_opts *o, int64_t now, char *why,
		    size_t wlen);
/* New caps and retention for an open database. */
void na_history_set_opts(struct na_history *h, const struct na_history_opts *o);
/*
 * Add what the counters of snap grew by since the last sample to the
 * period of now in every table: 0, or -errno with the reason in why.
 */
int na_history_record(struct na_history *h, const struct na_snapshot *snap, const struct na_hist_ident *id,
		      int64_t now, char *why, size_t wlen);
/* Delete the rows past each table's retention, and names no row uses any more. */
int na_history_prune(struct na_history *h, int64_t now, char *why, size_t wlen);
/* 1 when the last error means the file itself is broken (not a database, corrupt): reopen it later. */
int na_history_broken(const struct na_history *h);
void na_history_close(struct na_history *h);
/*
 * Bytes of the database file, of its four tables (0 where SQLite has no
 * dbstat), and the rows of each table: for tests and the size statement.
 */
int na_history_stats(struct na_history *h, uint64_t *file_bytes, uint64_t *table_bytes, uint64_t rows[NA_HIST_NTABLES]);

/* ---- reading (netacct report) -------------------------------------------------- */

enum na_hist_by { NA_HB_CGROUP, NA_HB_PROCESS, NA_HB_PEER };

struct na_hist_query {
	int64_t since, until;   /* the periods of [since, until) (the one since falls in too), Unix seconds */
	int table;              /* a table, or -1: the finest that holds every sample since `since` */
	int periods;            /* one row per period and group; 0: one per group over the whole span */
	enum na_hist_by by;
	const char *cgroup;     /* rows at or below this cgroup path (as /proc/PID/cgroup shows it), or NULL */
};

struct na_hist_row {
	int64_t start, end;     /* the period (or the span) the row covers, Unix seconds */
	enum na_hist_kind kind; /* NA_HK_OTHER_*: the rest of a cgroup (or of all) beyond the caps */
	char *cgroup;           /* NULL: several (a peer of several cgroups, the other peers of all) */
	uint64_t cgroup_id;     /* the latest id of that path, 0 when unknown or several */
	uint32_t pid;
	char comm[NA_COMM_LEN + 1];
	uint8_t family;         /* NA_F_IPV4, NA_F_IPV6, 0 */
	char raddr[48];
	struct na_counters dir[NA_NDIR];
};

struct na_hist_result {
	int table;              /* the table read */
	int64_t covered_from;   /* that table holds every sample since then */
	int64_t created;        /* when the database was made */
	int64_t last_sample;    /* the latest sample, 0 if none */
	char host[256];         /* the host that recorded it */
	int64_t *period_starts; /* every period of the table in range that a sample reached, ascending */
	size_t nperiods;
	struct na_hist_row *rows;
	size_t nrows;
};

/*
 * Read the database at path (read-only; it may be another machine's):
 * 0, or -errno / -EIO with the reason in why. Rows are in the order of
 * their period, then the group's identity.
 */
int na_history_query(const char *path, const struct na_hist_query *q, struct na_hist_result *res, char *why,
		     size_t wlen);
void na_hist_result_free(struct na_hist_result *res);

/* ---- the agent's recorder ---------------------------------------------------------- */

struct na_recorder;
/*
 * The recorder of an agent: 0 and *out (NULL when c->history is none), or
 * -errno when the database's directory is refused (reported; a
 * configuration error, like a bad log-file directory). A database that
 * cannot be opened now (corrupt, locked) is said and tried again at every
 * sample: counting goes on in the kernel, and what it counts meanwhile is
 * recorded with the first sample that works.
 */
int na_recorder_new(struct na_recorder **out, const char *pin_root, const struct na_conf *c);
/* Take a sample when one is due, prune once an hour. Called from the agent's loop. */
void na_recorder_tick(struct na_recorder *r);
/* Milliseconds until the next sample is due (INT_MAX without a recorder). */
int na_recorder_wait_ms(const struct na_recorder *r);
/* A sample now: before the agent detaches a cgroup, and when it ends. */
void na_recorder_sample(struct na_recorder *r);
/* A reloaded configuration: 0, or -errno when its history directory is refused (the recorder is unchanged). */
int na_recorder_reconf(struct na_recorder **r, const char *pin_root, const struct na_conf *c);
/* A last sample, then close. */
void na_recorder_free(struct na_recorder *r);
/* Is the directory of history file path one netacct may write in (made when missing)? 0 or -errno, reported. */
int na_history_dir_check(const char *path);
/* The same for the database a configuration names (none: 0): checked before the agent starts anything. */
int na_recorder_check(const char *pin_root, const struct na_conf *c);

#endif
