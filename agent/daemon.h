/* SPDX-License-Identifier: (BSD-2-Clause OR GPL-2.0) */
/*
 * The agent daemon's state, shared by its parts (docs/agent.md): the main
 * loop and signals (daemon.c), the lock and the published list of managed
 * cgroups (runfiles.c), the attachments the configuration names (scan.c),
 * the connection log followed into its file (connfile.c), and /metrics over
 * HTTP with its scraper thread (http.c). Not part of the library's API:
 * netacct.h has what the command calls.
 */
#ifndef NETACCT_AGENT_DAEMON_H
#define NETACCT_AGENT_DAEMON_H

#include <pthread.h>

#include "history.h"
#include "netacct.h"
#include "rotlog.h"

struct MHD_Daemon;
struct na_agent_waiter;

struct na_agent {
	const struct na_agent_opts *o; /* the command's options and presenters */
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
	struct na_agent_waiter *waiting; /* suspended requests, answered when the next reading ends */
	int want;               /* a request waits for a reading that has not begun */
	int scraping;           /* a reading is under way: a request that comes now gets its text */
	int closing;            /* the agent ends: requests get 503 at once */
	struct na_state *st;    /* kept from scrape to scrape (the reader's program and buffer); the scraper's */
	int lockfd;
	struct na_connlog *log; /* the connection log, followed into rl */
	struct na_rotlog rl;
	char *pending;          /* a record taken from the ring buffer, not yet in the file */
	size_t pending_len;
	char *published;        /* what /run/netacct/agent<pin root>.cgroups says */
	int64_t log_retry_s;    /* after a failed na_agent_log_open(): not again before this (na_mono_s()) */
	struct na_ratelimit mhd_said;  /* libmicrohttpd's messages */
	struct na_ratelimit http_said; /* connections closed at their deadline */
	struct na_recorder *rec; /* the traffic history (agent/recorder.c), NULL with history none */
	struct na_netclass *classes;   /* peer classes of /metrics and the log file */
	struct na_names *names;        /* the cgroups' names, kept across scrapes */
};

/* Seconds on the monotonic clock: a wall clock set back must not stop the scans. */

/* ---- one agent per pin root (runfiles.c) ---------------------------------- */
/* Take the pin root's lock (a->lockfd), or say who holds it (-EBUSY). */
int na_agent_lock_take(struct na_agent *a);
/* The lock file goes first (while still locked), then the lock. */
void na_agent_lock_drop(struct na_agent *a);
/* Write the list of the cgroups a->attached names, when it changed. */
void na_agent_publish(struct na_agent *a);
void na_agent_unpublish(struct na_agent *a);

/* ---- attaching what the configuration names (scan.c) ---------------------- */
/*
 * Attach what the configuration matches now; with prune (a reload), detach
 * what an earlier configuration matched and this one no longer does. 0, or
 * -errno when the patterns could not be expanded (reported).
 */
int na_agent_sync(struct na_agent *a, int prune);
void na_agent_paths_free(char **v, size_t n);

/* ---- the connection log, into a file rotated by size (connfile.c) --------- */
/* The log file's directory, made when missing below a trusted one, and trusted: 0 or -errno (reported). */
int na_agent_log_dir_check(const char *file);
/* Follow the pinned ring buffer into the configured file (none: nothing to do); under a->lock. */
int na_agent_log_open(struct na_agent *a);
/* The pinned ring buffer may have been replaced: follow the new one; under a->lock. */
void na_agent_log_check(struct na_agent *a);
/* Consume the ring buffer into the file, the pending line first; under a->lock. */
void na_agent_log_drain(struct na_agent *a);
void na_agent_log_close(struct na_agent *a);

/* ---- /metrics (http.c) ---------------------------------------------------- */
/* The scraper thread and libmicrohttpd on the configuration's listen: 0 or -errno (reported). */
int na_agent_http_start(struct na_agent *a);
/* Shut down the connections past their deadline (every second, from the main loop). */
void na_agent_http_reap(struct na_agent *a);
/* No request is answered from here on; the scraper has ended. */
void na_agent_http_stop(struct na_agent *a);

#endif
