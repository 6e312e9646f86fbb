// SPDX-License-Identifier: (BSD-2-Clause OR GPL-2.0)
/*
 * unit.history: agent/history.c on crafted snapshots, at chosen times, in a
 * private directory under /tmp (removed at the end). The truth is what the
 * crafted counters grew by, summed here independently:
 *   - period boundaries: 5 minutes, local hours, days and months (a day of
 *     23 hours where a time zone's clock moves);
 *   - an attachment's growth lands once in each table; a closed and opened
 *     again database (an agent restarted, killed or not) takes up from its
 *     checkpoint; a new token (detach, attach) and a new boot are counted
 *     from zero; an attachment older than the database starts there;
 *   - processes and peers summed from live and closed rows: a socket's row
 *     folding into a closed row counts once, a live row marked ended is left
 *     out, a sum that lost a row (a full closed table) goes on from there,
 *     a resent figure that dips (a loss being repaired) is held;
 *   - a second connection holding the database: the sample fails, nothing
 *     changes, and the next one records it all, once;
 *   - caps: a period with more processes than the cap keeps the largest and
 *     folds the rest into the cgroup's "other" row, sums unchanged;
 *   - pruning over 400 days of samples: each table keeps its retention, and
 *     the sums of every table over any span it covers equal the growth;
 *   - queries: by cgroup, process, peer, per period, filtered by cgroup;
 *     the finest table that covers the span is chosen.
 * With --size: the database for 100 cgroups x 1000 peers over sampled
 * periods, in bytes per row (docs/agent.md states the result).
 */
#include <errno.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <sqlite3.h>

#include "check.h"
#include "history.h"

static char dir[64];
static char path[128];
static int64_t T0;

static struct na_hist_ident ident = { .boot_id = { 1, 2, 3 }, .pin_id = 7, .pin_created = 0 };

static struct na_history_opts opts(void)
{
	struct na_history_opts o = {
		.path = path,
		.keep_s = { 2 * 86400, 10 * 86400, 100 * 86400, 0 },
		.procs_max = 1000,
		.peers_max = 1000,
	};
	return o;
}

static struct na_history *open_db(const struct na_history_opts *o, int64_t now)
{
	struct na_history *h = NULL;
	char why[256];
	int err = na_history_open(&h, o, now, why, sizeof(why));

	CHECK(!err && h, "open %s: %d %s", o->path, err, why);
	return h;
}

static int record(struct na_history *h, struct na_snapshot *s, int64_t now)
{
	char why[256];
	int err = na_history_record(h, s, &ident, now, why, sizeof(why));

	if (err && err != -EBUSY)
		fprintf(stderr, "record: %s\n", why);
	return err;
}

/* One attachment (in att[i]) with tx payload p and one tx packet per 100 bytes. */
static void set_att(struct na_att_state *a, uint64_t cgid, const char *p, uint64_t token, uint64_t attach_ns,
		    int64_t attach_rt, uint64_t payload)
{
	memset(a, 0, sizeof(*a));
	a->a.cgroup_id = cgid;
	a->a.token = token;
	a->a.attach_ns = attach_ns;
	a->a.attach_realtime = (uint64_t)attach_rt;
	snprintf(a->a.path, sizeof(a->a.path), "%s", p);
	a->t.dir[NA_TX].payload_bytes = payload;
	a->t.dir[NA_TX].packets = payload / 100;
	a->t.dir[NA_TX].ip_hdr_bytes = 20 * (payload / 100);
	a->t.dir[NA_RX].payload_bytes = payload / 2;
	a->t.dir[NA_RX].packets = payload / 200;
}

static struct na_hist_result query(int table, int periods, enum na_hist_by by, const char *cg, int64_t since,
				   int64_t until)
{
	struct na_hist_query q = { .since = since, .until = until, .table = table, .periods = periods, .by = by,
				   .cgroup = cg };
	struct na_hist_result r;
	char why[256];
	int err = na_history_query(path, &q, &r, why, sizeof(why));

	CHECK(!err, "query: %d %s", err, why);
	if (err)
		memset(&r, 0, sizeof(r));
	return r;
}

/* Sum of a counter (tx payload) over a result's rows, optionally of one cgroup. */
static uint64_t sum_payload(const struct na_hist_result *r, const char *cg, int d)
{
	uint64_t s = 0;
	size_t i;

	for (i = 0; i < r->nrows; i++)
		if (!cg || (r->rows[i].cgroup && !strcmp(r->rows[i].cgroup, cg)))
			s += r->rows[i].dir[d].payload_bytes;
	return s;
}

static int rm_one(const char *p, const struct stat *sb, int type, struct FTW *ftw)
{
	(void)sb;
	(void)type;
	(void)ftw;
	return remove(p);
}

static void fresh_db(void)
{
	char p[160];

	snprintf(p, sizeof(p), "%s-wal", path);
	unlink(p);
	snprintf(p, sizeof(p), "%s-shm", path);
	unlink(p);
	unlink(path);
}

static void test_periods(void)
{
	/* 2026-03-08 in New York: clocks go from 02:00 to 03:00, a day of 23 hours. */
	int64_t t;

	setenv("TZ", "UTC", 1);
	tzset();
	t = 1796000123 + 3 * 3600; /* 2026-11-30T03:55:23Z */
	ASSERT_EQ(na_hist_period_start(NA_HIST_5MIN, t), 1796000100 + 3 * 3600, "5m start");
	ASSERT_EQ(na_hist_period_end(NA_HIST_5MIN, 1796000100), 1796000400, "5m end");
	ASSERT_EQ(na_hist_period_start(NA_HIST_HOUR, t), 1795996800 + 3 * 3600, "hour start");
	ASSERT_EQ(na_hist_period_start(NA_HIST_DAY, t), 1795996800, "day start (2026-11-30)");
	ASSERT_EQ(na_hist_period_start(NA_HIST_MONTH, t), 1796083200 - 30 * 86400, "month start (2026-11-01)");
	ASSERT_EQ(na_hist_period_end(NA_HIST_MONTH, 1796083200 - 30 * 86400), 1796083200, "month end (2026-12-01)");
	ASSERT_EQ(na_hist_period_end(NA_HIST_MONTH, 1796083200), 1798761600, "December's end (2027-01-01)");
	if (access("/usr/share/zoneinfo/America/New_York", R_OK) == 0) {
		setenv("TZ", "America/New_York", 1);
		tzset();
		t = 1772985600; /* 2026-03-08 noon local, after the change */
		int64_t d = na_hist_period_start(NA_HIST_DAY, t);

		ASSERT_EQ(na_hist_period_end(NA_HIST_DAY, d) - d, 23 * 3600, "a day of 23 hours at the clock change");
		ASSERT_EQ(na_hist_period_start(NA_HIST_HOUR, t) % 3600, 0, "local hours of a whole-hour zone");
		setenv("TZ", "Asia/Kolkata", 1);
		tzset();
		ASSERT_EQ(na_hist_period_start(NA_HIST_HOUR, 1796000123) % 3600, 1800, "hours of a +5:30 zone start at :30 UTC");
		setenv("TZ", "UTC", 1);
		tzset();
	}
}

static void test_attachments(void)
{
	struct na_history_opts o = opts();
	struct na_att_state att[2];
	struct na_snapshot s = { .att = att, .natt = 1 };
	struct na_history *h, *other;
	struct na_hist_result r;
	sqlite3 *lock = NULL;
	int t;

	fresh_db();
	h = open_db(&o, T0);
	if (!h)
		return;
	/* attached after the database was made: counted from zero */
	set_att(&att[0], 11, "/app", 1 << 16, 1000, T0 + 5, 1000);
	ASSERT_EQ(record(h, &s, T0 + 60), 0, "first sample");
	set_att(&att[0], 11, "/app", 1 << 16, 1000, T0 + 5, 3000);
	ASSERT_EQ(record(h, &s, T0 + 120), 0, "second sample");
	/* the agent ends (or is killed after its last commit), another starts */
	na_history_close(h);
	h = open_db(&o, T0 + 200);
	if (!h)
		return;
	set_att(&att[0], 11, "/app", 1 << 16, 1000, T0 + 5, 3500);
	ASSERT_EQ(record(h, &s, T0 + 240), 0, "sample after a restart");
	/* a second connection holds the database: the sample fails, whole */
	if (sqlite3_open(path, &lock) == SQLITE_OK && sqlite3_exec(lock, "BEGIN IMMEDIATE", NULL, NULL, NULL) == SQLITE_OK) {
		set_att(&att[0], 11, "/app", 1 << 16, 1000, T0 + 5, 4000);
		ASSERT_EQ(record(h, &s, T0 + 300), -EBUSY, "a sample while another holds the database: -EBUSY");
		sqlite3_exec(lock, "COMMIT", NULL, NULL, NULL);
	} else {
		CHECK(0, "lock the database: %s", lock ? sqlite3_errmsg(lock) : "no memory");
	}
	sqlite3_close(lock);
	/* another agent cannot write the same file */
	{
		char why[256];

		other = NULL;
		ASSERT_EQ(na_history_open(&other, &o, T0, why, sizeof(why)), -EBUSY, "a second writer is refused");
		na_history_close(other);
	}
	set_att(&att[0], 11, "/app", 1 << 16, 1000, T0 + 5, 4100);
	ASSERT_EQ(record(h, &s, T0 + 360), 0, "sample once free");
	/* detach and attach: a new token, counters from zero */
	set_att(&att[0], 11, "/app", 2 << 16, 5000, T0 + 400, 700);
	ASSERT_EQ(record(h, &s, T0 + 420), 0, "sample after detach + attach");
	/* a reboot: another boot id; the same token and attach time again */
	ident.boot_id[0] = 9;
	set_att(&att[0], 11, "/app", 2 << 16, 5000, T0 + 500, 50);
	ASSERT_EQ(record(h, &s, T0 + 540), 0, "sample after a reboot");
	ident.boot_id[0] = 1;
	for (t = 0; t < NA_HIST_NTABLES; t++) {
		r = query(t, 1, NA_HB_CGROUP, NULL, 0, T0 + 100000);
		ASSERT_EQ(sum_payload(&r, "/app", NA_TX), 4100 + 700 + 50, "tx payload summed over a table's periods");
		ASSERT_EQ(sum_payload(&r, "/app", NA_RX), 2050 + 350 + 25, "rx payload summed over a table's periods");
		na_hist_result_free(&r);
	}
	r = query(NA_HIST_5MIN, 1, NA_HB_CGROUP, NULL, 0, T0 + 100000);
	ASSERT_EQ(r.nrows > 1, 1, "5-minute rows: more than one period");
	na_hist_result_free(&r);
	na_history_close(h);

	/* a database new to a running attachment: history starts at its counters as they are */
	fresh_db();
	h = open_db(&o, T0 + 1000);
	set_att(&att[0], 11, "/app", 3 << 16, 9000, T0 + 500, 123456);
	ASSERT_EQ(record(h, &s, T0 + 1060), 0, "first sample of a new database");
	set_att(&att[0], 11, "/app", 3 << 16, 9000, T0 + 500, 123456 + 77);
	ASSERT_EQ(record(h, &s, T0 + 1120), 0, "second sample");
	r = query(-1, 0, NA_HB_CGROUP, NULL, 0, T0 + 100000);
	ASSERT_EQ(sum_payload(&r, "/app", NA_TX), 77, "an attachment older than the database: only what came after");
	na_hist_result_free(&r);
	na_history_close(h);
}

/* Who a socket row's value and a closed row's key name: cgroup 11, pid, comm, the peer 10.0.0.PEER. */
#define SET_WHO(w, pid_, comm_, peer_)                                   \
	do {                                                             \
		(w).cgroup_id = 11;                                      \
		(w).pid = (pid_);                                        \
		snprintf((w).comm, sizeof((w).comm), "%s", (comm_));     \
		(w).family = NA_F_IPV4;                                  \
		(w).raddr[0] = 10;                                       \
		(w).raddr[3] = (peer_);                                  \
	} while (0)

static void set_row(struct na_sock_row *r, uint64_t cookie, uint32_t pid, const char *comm, const char *cg,
		    uint8_t peer, uint64_t tx, uint64_t resent)
{
	memset(r, 0, sizeof(*r));
	r->cookie = cookie;
	SET_WHO(r->s, pid, comm, peer);
	r->s.proto = NA_P_TCP;
	r->s.dir[NA_TX].payload_bytes = tx;
	r->s.dir[NA_TX].packets = tx / 100 + 1;
	r->s.dir[NA_TX].resent_bytes = resent;
	r->cgroup = cg;
}

static void set_closed(struct na_closed_row *c, uint32_t pid, const char *comm, const char *cg, uint8_t peer,
		       uint64_t tx, uint64_t pkts)
{
	memset(c, 0, sizeof(*c));
	SET_WHO(c->k, pid, comm, peer);
	c->c.dir[NA_TX].payload_bytes = tx;
	c->c.dir[NA_TX].packets = pkts;
	c->c.conns = 1;
	c->cgroup = cg;
}

static uint64_t proc_tx(const struct na_hist_result *r, uint32_t pid)
{
	uint64_t s = 0;
	size_t i;

	for (i = 0; i < r->nrows; i++)
		if (r->rows[i].kind == NA_HK_PROCESS && r->rows[i].pid == pid)
			s += r->rows[i].dir[NA_TX].payload_bytes;
	return s;
}

static void test_rows(void)
{
	struct na_history_opts o = opts();
	struct na_sock_row rows[4];
	struct na_closed_row closed[2];
	struct na_snapshot s = { .rows = rows, .closed = closed };
	struct na_history *h;
	struct na_hist_result r;
	size_t i;

	fresh_db();
	ident.pin_created = (uint64_t)T0 + 1; /* pinned state made after the database: sums from zero */
	ident.pin_id = 8;
	h = open_db(&o, T0);
	if (!h)
		return;
	/* a live socket of process 100 */
	set_row(&rows[0], 1, 100, "web", "/app/w", 1, 1000, 0);
	s.nrows = 1;
	ASSERT_EQ(record(h, &s, T0 + 60), 0, "rows: first sample");
	/* it ended: folded into a closed row with what it sent after the last sample */
	set_closed(&closed[0], 100, "web", "/app/w", 1, 1500, 16);
	s.nrows = 0;
	s.nclosed = 1;
	ASSERT_EQ(record(h, &s, T0 + 120), 0, "rows: the socket folded");
	/* a live row already marked ended is left out (it is in the closed row too) */
	set_row(&rows[0], 2, 100, "web", "/app/w", 1, 400, 0);
	rows[0].s.flags = NA_ROW_ENDED;
	set_closed(&closed[0], 100, "web", "/app/w", 1, 1900, 21);
	s.nrows = 1;
	ASSERT_EQ(record(h, &s, T0 + 180), 0, "rows: an ended row with its closed row");
	/* the closed row is evicted (table full): the sum drops; what comes after counts */
	set_row(&rows[0], 3, 100, "web", "/app/w", 1, 300, 0);
	s.nrows = 1;
	s.nclosed = 0;
	ASSERT_EQ(record(h, &s, T0 + 240), 0, "rows: a sum that lost its closed row");
	set_row(&rows[0], 3, 100, "web", "/app/w", 1, 800, 0);
	ASSERT_EQ(record(h, &s, T0 + 300), 0, "rows: and grew again");
	/* resent of another process dips while a loss is repaired: held, not counted twice */
	set_row(&rows[1], 4, 200, "db", "/app/d", 2, 1000, 500);
	s.nrows = 2;
	ASSERT_EQ(record(h, &s, T0 + 360), 0, "rows: resent 500");
	set_row(&rows[1], 4, 200, "db", "/app/d", 2, 1000, 0);
	ASSERT_EQ(record(h, &s, T0 + 420), 0, "rows: resent dips to 0");
	set_row(&rows[1], 4, 200, "db", "/app/d", 2, 1000, 600);
	ASSERT_EQ(record(h, &s, T0 + 480), 0, "rows: resent 600");
	/* a sample missing the process for a moment (its socket ending as the snapshot was read) */
	s.nrows = 1;
	ASSERT_EQ(record(h, &s, T0 + 540), 0, "rows: process 200 missing for one sample");
	s.nrows = 2;
	ASSERT_EQ(record(h, &s, T0 + 600), 0, "rows: back, same counters");

	r = query(-1, 0, NA_HB_PROCESS, NULL, 0, T0 + 100000);
	/*
	 * 1900 by the time its closed row was evicted, then what the new row
	 * grew by after the sample that saw the eviction: the new row's first
	 * 300 bytes, in that same sample, are lost to the process (the
	 * cgroup's totals have them), never counted twice.
	 */
	ASSERT_EQ(proc_tx(&r, 100), 1900 + 500, "process 100: the live row, the fold, the row after an eviction");
	ASSERT_EQ(proc_tx(&r, 200), 1000, "process 200: counted once although missing for one sample");
	for (i = 0; i < r.nrows; i++)
		if (r.rows[i].pid == 200)
			ASSERT_EQ(r.rows[i].dir[NA_TX].resent_bytes, 600, "process 200: resent held through its dip");
	na_hist_result_free(&r);
	r = query(-1, 0, NA_HB_PEER, NULL, 0, T0 + 100000);
	for (i = 0; i < r.nrows; i++) {
		if (!strcmp(r.rows[i].raddr, "10.0.0.1"))
			ASSERT_EQ(r.rows[i].dir[NA_TX].payload_bytes, 2400, "peer 10.0.0.1");
		if (!strcmp(r.rows[i].raddr, "10.0.0.2"))
			ASSERT_STREQ(r.rows[i].cgroup, "/app/d", "a peer of one cgroup names it");
	}
	ASSERT_EQ(r.nrows, 2, "two peers");
	na_hist_result_free(&r);
	r = query(-1, 0, NA_HB_PROCESS, "/app/d", 0, T0 + 100000);
	ASSERT_EQ(r.nrows, 1, "--cgroup /app/d: its process only");
	na_hist_result_free(&r);
	r = query(-1, 0, NA_HB_PROCESS, "/ap", 0, T0 + 100000);
	ASSERT_EQ(r.nrows, 0, "--cgroup /ap is no prefix of /app");
	na_hist_result_free(&r);

	/* new pinned state (detach --all, attach): its sums are new, from zero */
	ident.pin_id = 9;
	ident.pin_created = (uint64_t)T0 + 700;
	set_row(&rows[0], 9, 100, "web", "/app/w", 1, 50, 0);
	s.nrows = 1;
	ASSERT_EQ(record(h, &s, T0 + 720), 0, "rows: new pinned state");
	r = query(-1, 0, NA_HB_PROCESS, NULL, 0, T0 + 100000);
	ASSERT_EQ(proc_tx(&r, 100), 2400 + 50, "process 100 after new pinned state: +50");
	na_hist_result_free(&r);
	na_history_close(h);
	ident.pin_id = 7;
	ident.pin_created = 0;
}

static void test_caps(void)
{
	struct na_history_opts o = opts();
	struct na_sock_row rows[10];
	struct na_att_state att[1];
	struct na_snapshot s = { .rows = rows, .nrows = 10, .att = att, .natt = 1 };
	struct na_history *h;
	struct na_hist_result r;
	uint64_t want = 0, got = 0;
	size_t i, named = 0, other = 0;
	int64_t base = na_hist_period_start(NA_HIST_HOUR, T0) + 7200;

	fresh_db();
	o.procs_max = 3;
	o.peers_max = 2;
	h = open_db(&o, T0);
	if (!h)
		return;
	ident.pin_created = (uint64_t)T0 + 1;
	set_att(&att[0], 11, "/app", 5 << 16, 1, T0 + 1, 0);
	for (i = 0; i < 10; i++) {
		set_row(&rows[i], 100 + i, 1000 + (uint32_t)i, "w", "/app", (uint8_t)i, 100 * (i + 1), 0);
		want += 100 * (i + 1);
	}
	ASSERT_EQ(record(h, &s, base + 10), 0, "caps: ten processes");
	r = query(NA_HIST_5MIN, 1, NA_HB_PROCESS, NULL, base, base + 300);
	for (i = 0; i < r.nrows; i++) {
		named += r.rows[i].kind == NA_HK_PROCESS;
		other += r.rows[i].kind == NA_HK_OTHER_PROC;
		got += r.rows[i].dir[NA_TX].payload_bytes;
	}
	ASSERT_EQ(named, 6, "an open period takes up to twice the cap of processes, the largest");
	ASSERT_EQ(other, 1, "... and one other row for the cgroup");
	ASSERT_EQ(got, want, "... with the cgroup's sum unchanged");
	for (i = 0; i < r.nrows; i++)
		if (r.rows[i].kind == NA_HK_PROCESS)
			CHECK(r.rows[i].pid >= 1004, "kept process %u is among the 6 largest", r.rows[i].pid);
	na_hist_result_free(&r);
	/* peers: 10 over a cap of 2 */
	r = query(NA_HIST_5MIN, 1, NA_HB_PEER, NULL, base, base + 300);
	named = other = 0;
	got = 0;
	for (i = 0; i < r.nrows; i++) {
		named += r.rows[i].kind == NA_HK_PEER;
		other += r.rows[i].kind == NA_HK_OTHER_PEER;
		got += r.rows[i].dir[NA_TX].payload_bytes;
	}
	ASSERT_EQ(named, 4, "peers: the 4 largest (twice the cap of 2)");
	ASSERT_EQ(got, want, "peers: sum unchanged");
	na_hist_result_free(&r);
	/* five processes grow in the next period; the first one ended: held to its cap of 3 */
	for (i = 0; i < 10; i++)
		rows[i].s.dir[NA_TX].payload_bytes += i < 5 ? 10 : 0;
	ASSERT_EQ(record(h, &s, base + 400), 0, "caps: five processes grew");
	r = query(NA_HIST_5MIN, 1, NA_HB_PROCESS, NULL, base, base + 300);
	named = 0;
	got = 0;
	for (i = 0; i < r.nrows; i++) {
		named += r.rows[i].kind == NA_HK_PROCESS;
		got += r.rows[i].dir[NA_TX].payload_bytes;
		if (r.rows[i].kind == NA_HK_PROCESS)
			CHECK(r.rows[i].pid >= 1007, "ended period: kept process %u is among the 3 largest", r.rows[i].pid);
	}
	ASSERT_EQ(named, 3, "ended period: held to its cap");
	ASSERT_EQ(got, want, "... sum unchanged");
	na_hist_result_free(&r);
	r = query(NA_HIST_5MIN, 1, NA_HB_PROCESS, NULL, base + 300, base + 600);
	ASSERT_EQ(r.nrows, 5, "the next period: 5 rows (within twice the cap)");
	na_hist_result_free(&r);
	/* a process that appears late with the most traffic gets a row in the hour, full as it is */
	set_row(&rows[0], 999, 4242, "late", "/app", 77, 1000000, 0);
	ASSERT_EQ(record(h, &s, base + 700), 0, "caps: a late, busy process");
	want += 50 + 1000000; /* process 1000 (110 bytes, recorded) is gone from the rows: nothing taken back */
	r = query(NA_HIST_HOUR, 1, NA_HB_PROCESS, NULL, 0, base + 100000);
	named = 0;
	got = 0;
	for (i = 0; i < r.nrows; i++) {
		named += r.rows[i].kind == NA_HK_PROCESS && r.rows[i].pid == 4242;
		got += r.rows[i].dir[NA_TX].payload_bytes;
	}
	ASSERT_EQ(named, 1, "the hour, full, still takes the busiest newcomer");
	ASSERT_EQ(got, want, "the hour: every byte of the cgroup's processes");
	CHECK(r.nrows <= 2 * 3 + 1, "the hour: at most twice the cap and an other row (%zu)", r.nrows);
	na_hist_result_free(&r);
	na_history_close(h);
	ident.pin_created = 0;
}

static void test_prune(void)
{
	struct na_history_opts o = opts();
	struct na_att_state att[1];
	struct na_snapshot s = { .att = att, .natt = 1 };
	struct na_history *h;
	struct na_hist_result r;
	int64_t now, end, step = 86400 + 3607, start = T0 + 60;
	uint64_t total = 0, payload = 0, before[NA_HIST_NTABLES];
	char why[256];
	int t, n = 0;

	fresh_db();
	h = open_db(&o, T0);
	if (!h)
		return;
	end = start + 400LL * 86400;
	/* 400 days of samples, each adding a different amount */
	for (now = start; now < end; now += step) {
		payload += 1000 + (uint64_t)(n++ % 7) * 13;
		set_att(&att[0], 11, "/app", 1 << 16, 1, T0, payload);
		if (record(h, &s, now)) {
			CHECK(0, "record at %lld", (long long)now);
			break;
		}
	}
	total = payload;
	/* before pruning: every table holds all of it */
	for (t = 0; t < NA_HIST_NTABLES; t++) {
		r = query(t, 1, NA_HB_CGROUP, NULL, 0, end + 86400 * 40);
		before[t] = sum_payload(&r, "/app", NA_TX);
		ASSERT_EQ(before[t], total, "before pruning: the table's rows sum to all that was counted");
		na_hist_result_free(&r);
	}
	ASSERT_EQ(na_history_prune(h, now, why, sizeof(why)), 0, "prune");
	for (t = 0; t < NA_HIST_NTABLES; t++) {
		int64_t horizon = o.keep_s[t] ? na_hist_period_start(t, now - o.keep_s[t]) : 0;
		uint64_t want = 0, p = 0;
		int64_t x;
		int k = 0;

		/* what the samples in the table's span added, summed again here */
		for (x = start; x < end; x += step) {
			uint64_t add = 1000 + (uint64_t)(k++ % 7) * 13;

			p += add;
			if (na_hist_period_start(t, x) >= horizon)
				want += add;
		}
		r = query(t, 1, NA_HB_CGROUP, NULL, 0, end + 86400 * 40);
		ASSERT_EQ(sum_payload(&r, "/app", NA_TX), want, "after pruning: the rows kept sum to their samples");
		CHECK(!r.nrows || r.rows[0].start >= horizon, "table %d: oldest row %lld at or after %lld", t,
		      (long long)(r.nrows ? r.rows[0].start : 0), (long long)horizon);
		ASSERT_EQ(r.covered_from >= horizon, 1, "covered_from moved to the horizon");
		na_hist_result_free(&r);
		/* over the span the finer table still covers, the coarser one holds the same sum */
		if (t < NA_HIST_MONTH && horizon) {
			int64_t cs = na_hist_period_start(t + 1, horizon);
			struct na_hist_result c, f;

			if (cs < horizon)
				cs = na_hist_period_end(t + 1, cs);
			c = query(t + 1, 1, NA_HB_CGROUP, NULL, cs, end + 86400 * 40);
			f = query(t, 1, NA_HB_CGROUP, NULL, cs, end + 86400 * 40);
			ASSERT_EQ(sum_payload(&c, "/app", NA_TX), sum_payload(&f, "/app", NA_TX),
				  "a coarser table's rows over the finer one's span: the same sum");
			CHECK(sum_payload(&f, "/app", NA_TX) > 0, "table %d: rows in its span", t);
			na_hist_result_free(&c);
			na_hist_result_free(&f);
		}
	}
	/* the month table keeps everything: the whole total */
	r = query(-1, 0, NA_HB_CGROUP, NULL, 0, end + 86400 * 40);
	ASSERT_EQ(r.table, NA_HIST_MONTH, "the whole span: the month table, the one that still covers it");
	ASSERT_EQ(sum_payload(&r, "/app", NA_TX), total, "the whole span after pruning: unchanged");
	na_hist_result_free(&r);
	r = query(-1, 0, NA_HB_CGROUP, NULL, now - 3600, now + 1);
	ASSERT_EQ(r.table, NA_HIST_5MIN, "the last hour: 5-minute rows");
	na_hist_result_free(&r);
	na_history_close(h);
}

/* 100 cgroups x 1000 peers: the bytes a row takes (docs/agent.md). */
static int size_check(int samples, int peers, int verbose)
{
	struct na_history_opts o = opts();
	struct na_att_state *att = calloc(100, sizeof(*att));
	struct na_sock_row *rows = calloc((size_t)100 * peers, sizeof(*rows));
	char (*paths)[32] = calloc(100, 32);
	struct na_snapshot s = { .att = att, .natt = 100, .rows = rows, .nrows = (size_t)100 * peers };
	struct na_history *h;
	uint64_t bytes, tbytes, nrows[NA_HIST_NTABLES], all = 0;
	int64_t now = na_hist_period_start(NA_HIST_DAY, T0) + 86400;
	int i, j, k, t;

	if (peers < 1000)
		o.peers_max = (unsigned)(100 * peers / 4);
	fresh_db();
	ident.pin_created = (uint64_t)T0 + 1;
	h = open_db(&o, T0);
	if (!h || !att || !rows || !paths)
		return 1;
	for (k = 0; k < samples; k++, now += 300) {
		for (i = 0; i < 100; i++) {
			snprintf(paths[i], 32, "/system.slice/svc%02d.service", i);
			set_att(&att[i], 1000 + i, paths[i], 1 << 16 | i, 1, T0 + 1, (uint64_t)(k + 1) * 1000000);
			for (j = 0; j < peers; j++) {
				struct na_sock_row *r = &rows[i * peers + j];

				/* megabytes to gigabytes a period: integers of 4 to 5 bytes, as on a busy host */
				set_row(r, (uint64_t)i * peers + j + 1, 5000 + i, "svc", paths[i], 0,
					(uint64_t)(k + 1) * (1000 + j * 37) * 1000, 0);
				r->s.cgroup_id = 1000 + i;
				if (i % 7 == 3)
					r->cgroup = NULL; /* a cgroup whose path is not known: "cgroup-id:N" */
				r->s.raddr[1] = (uint8_t)(j >> 8);
				r->s.raddr[2] = (uint8_t)j;
				r->s.raddr[3] = (uint8_t)i;
			}
		}
		if (record(h, &s, now))
			return 1;
	}
	na_history_stats(h, &bytes, &tbytes, nrows);
	for (t = 0; t < NA_HIST_NTABLES; t++)
		all += nrows[t];
	if (verbose)
		printf("%d samples: file %llu bytes, tables %llu bytes for rows 5m %llu hour %llu day %llu month %llu: "
		       "%.1f bytes per row; the rest (names, checkpoints of %d keys) %llu bytes\n",
		       samples, (unsigned long long)bytes, (unsigned long long)tbytes, (unsigned long long)nrows[0],
		       (unsigned long long)nrows[1], (unsigned long long)nrows[2], (unsigned long long)nrows[3],
		       (double)tbytes / (double)all, 100 * peers + 100, (unsigned long long)(bytes - tbytes));
	/* a closed 5-minute period holds the cgroups, 1000 peers + an other row per cgroup, the processes */
	CHECK(nrows[0] <= (uint64_t)samples * (100 + 100 + o.peers_max + 100) + 2 * o.peers_max,
	      "5-minute rows bounded by the caps: %llu", (unsigned long long)nrows[0]);
	CHECK(!tbytes || tbytes <= all * 100, "at most 100 bytes per row: %llu bytes for %llu rows",
	      (unsigned long long)tbytes, (unsigned long long)all);
	/* names and checkpoints: one of each per key the kernel's tables hold */
	CHECK(bytes - tbytes <= (uint64_t)(100 * peers + 100) * 300, "names and checkpoints: %llu bytes for %d keys",
	      (unsigned long long)(bytes - tbytes), 100 * peers + 100);
	na_history_close(h);
	ident.pin_created = 0;
	free(att);
	free(rows);
	free(paths);
	return 0;
}

int main(int argc, char **argv)
{
	snprintf(dir, sizeof(dir), "/tmp/netacct-test-history.XXXXXX");
	if (!mkdtemp(dir)) {
		perror("mkdtemp");
		return 1;
	}
	snprintf(path, sizeof(path), "%s/history.db", dir);
	T0 = 1796000000 - 1796000000 % 86400; /* 2026-11-29T00:00:00Z */
	setenv("TZ", "UTC", 1);
	tzset();
	if (argc > 2 && !strcmp(argv[1], "--size")) {
		int rc = size_check(atoi(argv[2]), 1000, 1);

		nftw(dir, rm_one, 8, FTW_DEPTH | FTW_PHYS);
		return rc || check_summary();
	}
	test_periods();
	test_attachments();
	test_rows();
	test_caps();
	test_prune();
	size_check(3, 40, 0);
	nftw(dir, rm_one, 8, FTW_DEPTH | FTW_PHYS);
	return check_summary();
}
