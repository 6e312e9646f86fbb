// SPDX-License-Identifier: (BSD-2-Clause OR GPL-2.0)
/*
 * The agent's traffic history recorder (agent/history.h): a sample every
 * history-interval seconds, on the wall clock's multiples of it (so that one
 * falls on every 5-minute boundary and a period holds its own traffic), one
 * before the agent detaches a cgroup and one when it ends; pruning once an
 * hour. A database that cannot be written (locked by another process,
 * corrupt, a full disk) stops nothing: the error is said when it starts, once
 * a minute while it lasts and when it is over, and the counters wait in the
 * kernel until a sample works, which then records all they grew by.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <bpf/bpf.h>

#include "history.h"
#include "internal.h"

#define NA_REC_SAY_S 60     /* a lasting error is said again this often */
#define NA_REC_PRUNE_S 3600 /* pruning this often */

struct na_recorder {
	char pin_root[PATH_MAX];
	char path[PATH_MAX];
	struct na_history_opts o;
	unsigned interval_s;
	struct na_history *h;
	struct na_hist_ident id;
	int64_t next_sample;  /* wall clock, seconds */
	int64_t next_prune;
	/* the error being said */
	char err[512];
	int64_t said_mono;
	unsigned repeats;
};

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* An error: said when it is new, then once a minute with how often it came again. */
static void say(struct na_recorder *r, const char *why)
{
	int64_t m = na_mono_s();

	if (strcmp(r->err, why)) {
		snprintf(r->err, sizeof(r->err), "%s", why);
		r->said_mono = m;
		r->repeats = 0;
		na_log(NA_LOG_ERROR,
		       "agent: history %s: %s; counting goes on, and the first sample that works records what was counted meanwhile",
		       r->path, why);
		return;
	}
	r->repeats++;
	if (m - r->said_mono >= NA_REC_SAY_S) {
		na_log(NA_LOG_ERROR, "agent: history %s: %s (%u more time(s) since it was said)", r->path, why, r->repeats);
		r->said_mono = m;
		r->repeats = 0;
	}
}

static void recovered(struct na_recorder *r)
{
	if (!r->err[0])
		return;
	na_log(NA_LOG_INFO, "agent: history %s is written again", r->path);
	r->err[0] = '\0';
	r->repeats = 0;
}

static void read_boot_id(uint8_t id[16])
{
	char buf[64];
	size_t n = 0, i;
	FILE *f = fopen("/proc/sys/kernel/random/boot_id", "re");

	memset(id, 0, 16);
	if (!f)
		return;
	if (fgets(buf, sizeof(buf), f)) {
		for (i = 0; buf[i] && n < 32; i++) {
			char c = buf[i];
			int v = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;

			if (v < 0)
				continue;
			id[n / 2] |= (uint8_t)(n % 2 ? v : v << 4);
			n++;
		}
	}
	fclose(f);
}

static void opts_of(struct na_recorder *r, const struct na_conf *c)
{
	memset(&r->o, 0, sizeof(r->o));
	r->o.path = r->path;
	r->o.keep_s[NA_HIST_5MIN] = (int64_t)c->history_keep_5min_h * 3600;
	r->o.keep_s[NA_HIST_HOUR] = (int64_t)c->history_keep_hour_d * 86400;
	r->o.keep_s[NA_HIST_DAY] = (int64_t)c->history_keep_day_d * 86400;
	/* a month of 31 days: a period that began then has ended */
	r->o.keep_s[NA_HIST_MONTH] = (int64_t)c->history_keep_month_m * 31 * 86400;
	r->o.procs_max = c->per_process_max;
	r->o.peers_max = c->history_peers_max;
	r->o.group_set = c->group_set;
	r->o.gid = c->gid;
	r->interval_s = c->history_interval_s ? c->history_interval_s : 60;
}

int na_history_dir_check(const char *path)
{
	/*
	 * Root writes the database there: root's alone, below directories only
	 * root can change. 0755: the file's own mode says who reads it (0640
	 * with the configuration's group).
	 */
	return na_file_dir_check(path, "history", 0755);
}

/* The database of a configuration: its own, or the pin root's default. */
static int conf_path(const char *pin_root, const struct na_conf *c, char *p, size_t len)
{
	if (c->history[0])
		return (size_t)snprintf(p, len, "%s", c->history) >= len ? -ENAMETOOLONG : 0;
	if (na_history_default_path(pin_root, p, len))
		return na_err(-ENAMETOOLONG, "agent: history file for pin root %s", pin_root);
	return 0;
}

int na_recorder_check(const char *pin_root, const struct na_conf *c)
{
	char p[PATH_MAX];
	int err;

	if (c->history_none)
		return 0;
	err = conf_path(pin_root, c, p, sizeof(p));
	return err ? err : na_history_dir_check(p);
}

static void try_open(struct na_recorder *r)
{
	char why[512];

	if (r->h)
		return;
	if (na_history_open(&r->h, &r->o, now_ms() / 1000, why, sizeof(why)))
		say(r, why);
}

/* The map id of the pin root's na_meta: new pinned state, new id (ids are not reused in a boot). */
static uint64_t pin_id(const char *pin_root)
{
	struct bpf_map_info info = {};
	__u32 len = sizeof(info);
	char p[PATH_MAX];
	uint64_t id = 0;
	int fd;

	if ((size_t)snprintf(p, sizeof(p), "%s/na_meta", pin_root) >= sizeof(p))
		return 0;
	fd = na_obj_get(p, NULL);
	if (fd < 0)
		return 0;
	if (!bpf_obj_get_info_by_fd(fd, &info, &len))
		id = info.id;
	close(fd);
	return id;
}

void na_recorder_sample(struct na_recorder *r)
{
	struct na_state *st = NULL;
	struct na_snapshot snap;
	char why[512];
	int err;

	if (!r)
		return;
	try_open(r);
	if (!r->h)
		return;
	err = na_state_open(r->pin_root, &st);
	if (err)
		return; /* nothing attached (or reported): nothing to record */
	err = na_state_read(st, &snap);
	if (err) {
		na_state_close(st);
		return;
	}
	na_owners_resolve(r->pin_root, &snap, NULL);
	r->id.pin_id = pin_id(r->pin_root);
	r->id.pin_created = snap.meta.created_realtime;
	err = na_history_record(r->h, &snap, &r->id, now_ms() / 1000, why, sizeof(why));
	na_snapshot_free(&snap);
	na_state_close(st);
	if (err) {
		say(r, why);
		if (na_history_broken(r->h)) {
			na_history_close(r->h); /* opened again at the next sample: a file put right, or a new one */
			r->h = NULL;
		}
		return;
	}
	recovered(r);
}

static void schedule(struct na_recorder *r, int64_t now)
{
	r->next_sample = (now / r->interval_s + 1) * r->interval_s;
}

int na_recorder_new(struct na_recorder **out, const char *pin_root, const struct na_conf *c)
{
	struct na_recorder *r;
	int err;

	*out = NULL;
	if (c->history_none)
		return 0;
	r = calloc(1, sizeof(*r));
	if (!r)
		return -ENOMEM;
	snprintf(r->pin_root, sizeof(r->pin_root), "%s", pin_root);
	err = conf_path(pin_root, c, r->path, sizeof(r->path));
	if (!err)
		err = na_history_dir_check(r->path);
	if (err) {
		free(r);
		return err;
	}
	opts_of(r, c);
	read_boot_id(r->id.boot_id);
	try_open(r);
	r->next_sample = now_ms() / 1000; /* at once: what was counted while no agent ran */
	r->next_prune = r->next_sample;
	*out = r;
	return 0;
}

void na_recorder_tick(struct na_recorder *r)
{
	int64_t now;
	char why[512];

	if (!r)
		return;
	now = now_ms() / 1000;
	/* A wall clock set back: the next slot from now, not an hour later. */
	if (r->next_sample - now > (int64_t)r->interval_s)
		schedule(r, now - 1);
	if (now < r->next_sample)
		return;
	na_recorder_sample(r);
	schedule(r, now);
	if (r->h && (now >= r->next_prune || r->next_prune - now > NA_REC_PRUNE_S)) {
		if (na_history_prune(r->h, now, why, sizeof(why)))
			say(r, why);
		r->next_prune = now + NA_REC_PRUNE_S;
	}
}

int na_recorder_wait_ms(const struct na_recorder *r)
{
	int64_t w;

	if (!r)
		return INT_MAX;
	w = r->next_sample * 1000 - now_ms();
	return w < 0 ? 0 : w > INT_MAX ? INT_MAX : (int)w;
}

int na_recorder_reconf(struct na_recorder **rp, const char *pin_root, const struct na_conf *c)
{
	struct na_recorder *r = *rp, *n = NULL;
	char path[PATH_MAX];
	int err;

	if (c->history_none) {
		na_recorder_free(r);
		*rp = NULL;
		return 0;
	}
	err = conf_path(pin_root, c, path, sizeof(path));
	if (err)
		return err;
	if (r && !strcmp(path, r->path)) {
		unsigned was = r->interval_s;

		opts_of(r, c);
		if (r->h)
			na_history_set_opts(r->h, &r->o);
		if (was != r->interval_s)
			schedule(r, now_ms() / 1000);
		return 0;
	}
	err = na_recorder_new(&n, pin_root, c);
	if (err)
		return err;
	na_recorder_free(r); /* its last sample, then the new file's first */
	*rp = n;
	return 0;
}

void na_recorder_free(struct na_recorder *r)
{
	if (!r)
		return;
	na_recorder_sample(r);
	na_history_close(r->h);
	free(r);
}
