// SPDX-License-Identifier: (BSD-2-Clause OR GPL-2.0)
/*
 * unit.export: the pieces of `netacct export` that need no BPF state.
 *   - cli/prom.c: label value escaping (backslash, double quote, newline,
 *     bytes that are not UTF-8) and the whole exposition of a crafted
 *     snapshot (nested attachments, rows below and beside them, a path two
 *     attachments share), compared line by line;
 *   - cli/atomic_out.c: -o FILE in a private temporary directory: the file
 *     appears whole, the temporary file goes, permissions are kept, gzip
 *     round trip through zlib; on a write error (RLIMIT_FSIZE), an abort, a
 *     SIGTERM in the middle the target stays as it was and nothing is left;
 *     a SIGKILL leaves only .FILE.XXXXXX; non-regular targets are refused;
 *   - cli/record.c: CSV records (RFC 4180 quoting, integers up to
 *     UINT64_MAX, empty fields, a field longer than the record buffer) and
 *     the JSON line with the same fields;
 *   - cli/view.c: na_view_sort_top() puts the same first k rows, in the same
 *     order, as the whole sort, and keeps every row; the groupings the
 *     Prometheus text reads (by cgroup and process, regrouped by cgroup and
 *     by peer name) sum what the rows counted.
 *
 * One line per failed check ("FAIL file:line: what: actual ..., expected ...")
 * and a last line "N passed, N failed". Exit 0 when all passed, 1 otherwise.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <zlib.h>

#include "atomic_out.h"
#include "netacct.h"
#include "prom.h"
#include "record.h"
#include "rotlog.h"
#include "series.h"
#include "view.h"

#pragma GCC poison u8 u16 u32 u64

#include "check.h"

/* ---- label values ----------------------------------------------------------- */

static void label_case(const char *in, const char *expected, const char *what)
{
	check_printed(na_prom_label_value, in, expected, what);
}

/* ---- cli/record.c: CSV and JSON records ---------------------------------- */
static void csv_one(FILE *f, const char *s)
{
	static const char *const col[] = { "x" };
	struct na_field fld;

	na_field_str(&fld, s);
	na_record_write(f, col, &fld, 1, 0);
}

static void csv_case(const char *in, const char *expected)
{
	char what[128], want[128];

	snprintf(what, sizeof(what), "csv field of \"%s\"", in);
	snprintf(want, sizeof(want), "%s\r\n", expected);
	check_printed(csv_one, in, want, what);
}

static const char *const rec_cols[] = { "zero", "max", "none", "num", "str" };

static void rec_write(FILE *f, const char *json)
{
	struct na_field fld[5];

	na_field_u64(&fld[0], 0);
	na_field_u64(&fld[1], UINT64_MAX);
	na_field_str(&fld[2], NULL);
	na_field_num(&fld[3], "12.345");
	na_field_str(&fld[4], "a,b");
	na_record_write(f, rec_cols, fld, 5, *json == 'j');
}

/* A field longer than the record buffer (4 KiB), with a quote in it. */
static void long_write(FILE *f, const char *s)
{
	struct na_field fld[2];

	na_field_str(&fld[0], s);
	na_field_u64(&fld[1], 7);
	na_record_write(f, rec_cols, fld, 2, 0);
}

static void test_record(void)
{
	static char big[10001], want[10010];
	size_t i, n = 0;

	csv_case("plain", "plain");
	csv_case("", "");
	csv_case("/netacct-a/b c", "/netacct-a/b c");
	csv_case("a,b", "\"a,b\"");
	csv_case("say \"hi\"", "\"say \"\"hi\"\"\"");
	csv_case("\"", "\"\"\"\"");
	csv_case("two\nlines", "\"two\nlines\"");
	csv_case("cr\rhere", "\"cr\rhere\"");
	check_printed(rec_write, "csv", "0,18446744073709551615,,12.345,\"a,b\"\r\n",
		      "csv record: integers, empty, number, quoted string");
	check_printed(rec_write, "json",
		      "{\"zero\":0,\"max\":18446744073709551615,\"none\":null,\"num\":12.345,\"str\":\"a,b\"}\n",
		      "json record: the same fields");
	memset(big, 'x', sizeof(big) - 1);
	big[5000] = '"';
	want[n++] = '"';
	for (i = 0; i < sizeof(big) - 1; i++) {
		if (big[i] == '"')
			want[n++] = '"';
		want[n++] = big[i];
	}
	memcpy(want + n, "\",7\r\n", 5);
	check_printed(long_write, big, want, "csv record longer than its buffer");
}

static void test_label(void)
{
	label_case("/app/web", "/app/web", "plain path unchanged");
	label_case("", "", "empty");
	label_case(NULL, "", "NULL is empty");
	label_case("a\\b", "a\\\\b", "backslash doubled");
	label_case("say \"hi\"", "say \\\"hi\\\"", "double quotes escaped");
	label_case("two\nlines", "two\\nlines", "newline as \\n");
	label_case("\\\"\n", "\\\\\\\"\\n", "all three in a row");
	label_case("tab\there\r", "tab\there\r", "tab and CR stay (only \\ \" and LF are escaped)");
	label_case("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x90\xa7", "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x90\xa7",
		   "valid UTF-8 (2, 3, 4 bytes) unchanged");
	label_case("a\xff" "b", "a\xef\xbf\xbd" "b", "invalid byte becomes U+FFFD");
	label_case("\xc3", "\xef\xbf\xbd", "truncated sequence at the end");
	label_case("\xc0\xaf", "\xef\xbf\xbd\xef\xbf\xbd", "overlong form: each byte U+FFFD");
	label_case("\xed\xa0\x80", "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd", "surrogate rejected");
	label_case("\xf4\x90\x80\x80", "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd",
		   "above U+10FFFF rejected");
	label_case("\xe2\x82", "\xef\xbf\xbd\xef\xbf\xbd", "cut 3-byte sequence");
}

/* ---- the exposition of a crafted snapshot ---------------------------------- */

static void counters(struct na_counters *c, uint64_t base)
{
	c->packets = base;
	c->ip_hdr_bytes = base * 20;
	c->l4_hdr_bytes = base * 32;
	c->payload_bytes = base * 1000;
}

/* Does text hold this exact line? */
static int has_line(const char *text, const char *line)
{
	size_t n = strlen(line);
	const char *p = text;

	while ((p = strstr(p, line))) {
		if ((p == text || p[-1] == '\n') && p[n] == '\n')
			return 1;
		p++;
	}
	return 0;
}

static int count_str(const char *text, const char *s)
{
	int n = 0;

	for (const char *p = text; (p = strstr(p, s)); p++)
		n++;
	return n;
}

#define ASSERT_LINE(text, line) CHECK(has_line(text, line), "missing line: %s", line)

/* What na_prom_write writes for s (malloc'd), its return checked as what; NULL when no stream could be had. */
static char *prom_text(const struct na_snapshot *s, na_prom_hold_fn hold, void *held, const char *what)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	if (!f) {
		CHECK(0, "open_memstream: %s", strerror(errno));
		return NULL;
	}
	ASSERT_EQ(na_prom_write(f, s, hold, held), 0, what);
	fclose(f);
	return buf;
}

/* Lines test_prom's snapshot must have in its exposition, each as a whole line. */
static const char *const prom_lines[] = {
	"# TYPE netacct_bytes_total counter",
	"netacct_bytes_total{cgroup=\"/app\",direction=\"tx\",part=\"ip_header\"} 140",
	"netacct_bytes_total{cgroup=\"/app\",direction=\"tx\",part=\"l4_header\"} 224",
	"netacct_bytes_total{cgroup=\"/app\",direction=\"tx\",part=\"payload\"} 7000",
	"netacct_bytes_total{cgroup=\"/app\",direction=\"rx\",part=\"payload\"} 9000",
	"netacct_bytes_total{cgroup=\"/app/worker\",direction=\"rx\",part=\"payload\"} 0",
	"netacct_packets_total{cgroup=\"/app\",direction=\"rx\"} 9",
	"netacct_packets_total{cgroup=\"/app/worker\",direction=\"tx\"} 5",
	/* subtree sums: /app has everything but /appendix and the quoted one */
	"netacct_live_sockets{cgroup=\"/app\"} 3",
	"netacct_live_sockets{cgroup=\"/app/worker\"} 2",
	"netacct_connections_closed_total{cgroup=\"/app\"} 10",
	"netacct_connections_closed_total{cgroup=\"/app/worker\"} 4",
	"netacct_retransmitted_bytes_total{cgroup=\"/app\"} 20111",
	"netacct_retransmitted_bytes_total{cgroup=\"/app/worker\"} 20101",
	"netacct_duplicate_bytes_total{cgroup=\"/app\"} 0",
	"netacct_duplicate_bytes_total{cgroup=\"/app/worker\"} 7",
	"netacct_overflow_packets_total{cgroup=\"/app\"} 3",
	"netacct_parse_errors_total{cgroup=\"/app\"} 2",
	/* escaped label, and the live cgroup's series only */
	"netacct_connections_closed_total{cgroup=\"/we\\\"ird\\\\na\\nme\"} 1",
	"netacct_packets_total{cgroup=\"/we\\\"ird\\\\na\\nme\",direction=\"tx\"} 0",
	"netacct_socket_map_entries 4",
	"netacct_socket_map_capacity 65536",
	"netacct_closed_map_entries 3",
	"netacct_closed_map_capacity 16384",
	"netacct_closed_evicted_total 17",
	"netacct_log_dropped_total 18",
	"netacct_log_written_total 19",
	"# TYPE netacct_live_sockets gauge",
	"netacct_attachment_live{cgroup=\"/app\"} 1",
};

static void test_prom(void)
{
	struct na_att_state att[4];
	struct na_sock_row rows[4];
	struct na_closed_row closed[3];
	struct na_snapshot s;
	char *buf = NULL;
	size_t len = 0, i;

	memset(&s, 0, sizeof(s));
	memset(att, 0, sizeof(att));
	memset(rows, 0, sizeof(rows));
	memset(closed, 0, sizeof(closed));
	/* /app and /app/worker nested; a "quoted" one; /gone twice (removed, made again) */
	att[0].a.cgroup_id = 10;
	snprintf(att[0].a.path, sizeof(att[0].a.path), "/app");
	counters(&att[0].t.dir[NA_TX], 7);
	counters(&att[0].t.dir[NA_RX], 9);
	for (int i = 0; i < 4; i++)
		att[i].a.token = 100 + i; /* what the agent holds a dipping figure by */
	/* resent bytes come from an attachment's own totals, not its rows; below 0 (a hole open) is 0 */
	att[0].t.dir[NA_TX].resent_bytes = 20111;
	att[0].t.dir[NA_RX].resent_bytes = (uint64_t)-5;
	att[0].t.overflow_packets = 3;
	att[0].t.parse_errors = 2;
	att[0].cgroup_exists = 1;
	att[1].a.cgroup_id = 11;
	snprintf(att[1].a.path, sizeof(att[1].a.path), "/app/worker");
	counters(&att[1].t.dir[NA_TX], 5);
	att[1].t.dir[NA_TX].resent_bytes = 20101;
	att[1].t.dir[NA_RX].resent_bytes = 7;
	att[1].cgroup_exists = 1;
	att[2].a.cgroup_id = 20;
	snprintf(att[2].a.path, sizeof(att[2].a.path), "/we\"ird\\na\nme");
	att[2].cgroup_exists = 1;
	att[3].a.cgroup_id = 30;
	snprintf(att[3].a.path, sizeof(att[3].a.path), "/we\"ird\\na\nme");
	att[3].cgroup_exists = 0; /* the removed one: left out */
	counters(&att[3].t.dir[NA_TX], 99);

	/* live rows: two in /app/worker/x (below both), one in /app, one in /other */
	rows[0].s.cgroup_id = 12;
	rows[0].cgroup = "/app/worker/x";
	rows[0].s.dir[NA_TX].resent_bytes = 100;
	rows[0].s.dir[NA_RX].resent_bytes = 5000; /* rx duplicates are not retransmissions */
	rows[1].s.cgroup_id = 12;
	rows[1].cgroup = "/app/worker/x";
	rows[1].s.dir[NA_TX].resent_bytes = 1;
	rows[2].s.cgroup_id = 10;
	rows[2].cgroup = "/app";
	rows[2].s.dir[NA_TX].resent_bytes = 10;
	rows[3].s.cgroup_id = 40;
	rows[3].cgroup = "/appendix"; /* a prefix of the string, not a child */
	rows[3].s.dir[NA_TX].resent_bytes = 1000;
	/* closed rows: one in /app/worker (path unknown: matched by id), one in /app, one in the quoted one */
	closed[0].k.cgroup_id = 11;
	closed[0].cgroup = NULL;
	closed[0].c.conns = 4;
	closed[0].c.dir[NA_TX].resent_bytes = 20000;
	closed[1].k.cgroup_id = 10;
	closed[1].cgroup = "/app";
	closed[1].c.conns = 6;
	closed[2].k.cgroup_id = 20;
	closed[2].cgroup = "/we\"ird\\na\nme";
	closed[2].c.conns = 1;

	s.att = att;
	s.natt = 4;
	s.rows = rows;
	s.nrows = 4;
	s.closed = closed;
	s.nclosed = 3;
	s.meta.max_sockets = 65536;
	s.meta.max_closed = 16384;
	s.stats.closed_evicted = 17;
	s.stats.log_dropped = 18;
	s.stats.log_written = 19;

	buf = prom_text(&s, NULL, NULL, "na_prom_write");
	if (!buf)
		return;
	len = strlen(buf);

	for (i = 0; i < NA_ARRAY_SIZE(prom_lines); i++)
		ASSERT_LINE(buf, prom_lines[i]);
	ASSERT_EQ(count_str(buf, "netacct_packets_total{cgroup=\"/we"), 2, "a shared path: one series per direction");
	ASSERT_EQ(count_str(buf, "} 99\n"), 0, "the removed attachment of a shared path is left out");
	ASSERT_EQ(count_str(buf, "# TYPE "), 16, "families");
	ASSERT_EQ(count_str(buf, "# HELP "), 16, "HELP lines");
	/* 3 cgroups: 6 byte series + 2 packet series + 7 single ones each, then 7 globals */
	ASSERT_EQ(count_str(buf, "\n") - 2 * 16, 3 * (6 + 2 + 7) + 7, "sample lines");
	CHECK(len && buf[len - 1] == '\n', "ends with a newline: ...%s", len > 20 ? buf + len - 20 : buf);
	free(buf);

	/* with a hold function (the agent's): a figure that dips is published at its highest */
	{
		struct na_series *held = NULL;

		ASSERT_EQ(na_series_new(&held), 0, "na_series_new");
		for (int round = 0; round < 2 && held; round++) {
			att[1].t.dir[NA_TX].resent_bytes = round ? 15000 : 20101; /* a loss being repaired */
			buf = prom_text(&s, na_series_hold, held, "na_prom_write, held");
			if (!buf)
				break;
			ASSERT_LINE(buf, "netacct_retransmitted_bytes_total{cgroup=\"/app/worker\"} 20101");
			free(buf);
		}
		na_series_free(held);
	}

	/* an empty snapshot is still well-formed */
	memset(&s, 0, sizeof(s));
	buf = prom_text(&s, NULL, NULL, "na_prom_write of an empty snapshot");
	if (!buf)
		return;
	ASSERT_LINE(buf, "netacct_socket_map_entries 0");
	free(buf);
}

/* ---- -o FILE ----------------------------------------------------------------- */

static char tmpdir[] = "/tmp/netacct-unit-XXXXXX";

static void path_in(char *buf, size_t len, const char *name)
{
	snprintf(buf, len, "%s/%s", tmpdir, name);
}

static char *slurp(const char *path, size_t *len)
{
	char *buf = NULL;
	size_t n = 0;
	FILE *m = open_memstream(&buf, &n);
	FILE *f = fopen(path, "rb");
	char chunk[4096];
	size_t r;

	if (!m || !f) {
		if (m)
			fclose(m);
		free(buf);
		if (f)
			fclose(f);
		return NULL;
	}
	while ((r = fread(chunk, 1, sizeof(chunk), f)) > 0)
		fwrite(chunk, 1, r, m);
	fclose(f);
	fclose(m);
	if (len)
		*len = n;
	return buf;
}

static void put_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	if (f) {
		fputs(text, f);
		fclose(f);
	}
}

/* Files in tmpdir other than the named ones ("." entries are temp files). */
static int stray_files(const char *keep1, const char *keep2)
{
	DIR *d = opendir(tmpdir);
	struct dirent *e;
	int n = 0;

	if (!d)
		return -1;
	while ((e = readdir(d))) {
		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		if ((keep1 && !strcmp(e->d_name, keep1)) || (keep2 && !strcmp(e->d_name, keep2)))
			continue;
		n++;
	}
	closedir(d);
	return n;
}

static void remove_all(void)
{
	DIR *d = opendir(tmpdir);
	struct dirent *e;
	char p[PATH_MAX];

	if (!d)
		return;
	while ((e = readdir(d))) {
		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		snprintf(p, sizeof(p), "%s/%s", tmpdir, e->d_name);
		unlink(p);
	}
	closedir(d);
}

/* ---- cli/rotlog.c: the agent's log file, rotated by size --------------- */

/* The whole (gunzipped) text of a file, or "" when it does not exist. */
static void file_text(const char *path, char *out, size_t len)
{
	gzFile g = gzopen(path, "rb");
	int n = 0;

	out[0] = '\0';
	if (!g)
		return;
	n = gzread(g, out, (unsigned)len - 1);
	out[n > 0 ? n : 0] = '\0';
	gzclose(g);
}

/* The text of a plain file, "" when absent. */
static void plain_text(const char *path, char *out, size_t len)
{
	FILE *f = fopen(path, "r");
	size_t n = f ? fread(out, 1, len - 1, f) : 0;

	out[n] = '\0';
	if (f)
		fclose(f);
}

/* "line 00 ...\n" to "line 09 ...\n" through r (30-byte lines, 3 to a 100-byte file), then r closed. */
static void write_ten_lines(struct na_rotlog *r)
{
	char line[64];
	int i;

	for (i = 0; i < 10; i++) {
		snprintf(line, sizeof(line), "line %02d ......................\n", i);
		CHECK(!na_rotlog_write(r, line, strlen(line)), "rotlog: write line %d", i);
	}
	na_rotlog_close(r);
}

/*
 * Where another user could write, root must not be made to write or remove
 * a file of theirs: the log file and every temporary and archive name are
 * opened without following a link, temporaries are made new, and a
 * directory others can write is refused. A failure that repeats (a full
 * disk) is said once, not at every retry.
 */
static void test_rotlog_hostile(void)
{
	char p[256], victim[256], q[PATH_MAX], dir[256], txt[4096];
	struct na_rotlog r;
	struct stat st;
	pid_t pid;
	ssize_t n;
	int i, status, fd, lines, pfd[2];

	snprintf(victim, sizeof(victim), "%s/victim", tmpdir);
	snprintf(p, sizeof(p), "%s/conn.jsonl", tmpdir);

	/* the log file itself a link to another file */
	fd = open(victim, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	CHECK(fd >= 0 && write(fd, "precious\n", 9) == 9 && !close(fd), "%s", "rotlog: make the victim");
	CHECK(!symlink(victim, p), "%s", "rotlog: plant the log file as a link");
	fprintf(stderr, "# the next message is expected (the log file is a link):\n");
	ASSERT_EQ(na_rotlog_open(&r, p, 100, 2) < 0, 1, "rotlog: a log file that is a link is refused");
	na_rotlog_close(&r);
	plain_text(victim, txt, sizeof(txt));
	ASSERT_STREQ(txt, "precious\n", "rotlog: ... and the file it points to is untouched");
	unlink(p);

	/* a temporary and an archive name planted as links: a rotation writes through neither */
	snprintf(q, sizeof(q), "%s.1.gz.tmp", p);
	CHECK(!symlink(victim, q), "%s", "rotlog: plant FILE.1.gz.tmp as a link");
	snprintf(q, sizeof(q), "%s.2.gz", p);
	CHECK(!symlink(victim, q), "%s", "rotlog: plant FILE.2.gz as a link");
	CHECK(!na_rotlog_open(&r, p, 100, 3), "%s", "rotlog: open beside planted links");
	write_ten_lines(&r);
	plain_text(victim, txt, sizeof(txt));
	ASSERT_STREQ(txt, "precious\n", "rotlog: rotations beside planted links leave the file they point to untouched");
	snprintf(q, sizeof(q), "%s.1.gz", p);
	ASSERT_EQ(!lstat(q, &st) && S_ISREG(st.st_mode), 1, "rotlog: ... FILE.1.gz is a file of its own");
	snprintf(q, sizeof(q), "%s.3.gz", p);
	ASSERT_EQ(!lstat(q, &st) && S_ISREG(st.st_mode), 1, "rotlog: ... and so is FILE.3.gz (the link was replaced)");
	remove_all();

	/* a directory others can write */
	snprintf(dir, sizeof(dir), "%s/open", tmpdir);
	CHECK(!mkdir(dir, 0700) && !chmod(dir, 0777), "%s", "rotlog: make a directory of mode 0777");
	snprintf(q, sizeof(q), "%s/conn.jsonl", dir);
	fprintf(stderr, "# the next message is expected (a directory others can write):\n");
	ASSERT_EQ(na_rotlog_open(&r, q, 100, 2), -EPERM, "rotlog: a directory others can write is refused");
	na_rotlog_close(&r);
	ASSERT_EQ(access(q, F_OK), -1, "rotlog: ... and nothing is made in it");
	rmdir(dir);

	/* a write that keeps failing: one line for 50 failures (stderr a pipe: the size limit spares it) */
	CHECK(!pipe(pfd), "%s", "rotlog: pipe");
	pid = fork();
	if (pid == 0) {
		struct rlimit rl = { 40, 40 };

		close(pfd[0]);
		if (dup2(pfd[1], 2) < 0)
			_exit(2);
		signal(SIGXFSZ, SIG_IGN);
		setrlimit(RLIMIT_FSIZE, &rl);
		if (na_rotlog_open(&r, p, 1000, 2))
			_exit(2);
		for (i = 0; i < 50; i++)
			if (!na_rotlog_write(&r, "a line longer than forty bytes, which never fits\n", 50))
				_exit(3);
		_exit(0);
	}
	close(pfd[1]);
	CHECK(pid > 0 && waitpid(pid, &status, 0) == pid && WIFEXITED(status) && WEXITSTATUS(status) == 0,
	      "rotlog: 50 writes past the size limit failed (child status %d)", status);
	n = read(pfd[0], txt, sizeof(txt) - 1);
	txt[n > 0 ? n : 0] = '\0';
	close(pfd[0]);
	for (i = 0, lines = 0; txt[i]; i++)
		lines += txt[i] == '\n';
	ASSERT_EQ(lines, 1, "rotlog: 50 failures of the same write: one line on stderr");
	fprintf(stderr, "# what the child said: %s", txt);
	unlink(q);
	remove_all();
}

static void test_rotlog(void)
{
	struct na_rotlog r;
	char p[256], q[PATH_MAX], txt[4096];
	struct stat st;
	pid_t pid;
	int status;

	snprintf(p, sizeof(p), "%s/conn.jsonl", tmpdir);
	CHECK(!na_rotlog_open(&r, p, 100, 2), "rotlog: open %s", p);
	write_ten_lines(&r);
	file_text(p, txt, sizeof(txt));
	ASSERT_STREQ(txt, "line 09 ......................\n", "rotlog: the file holds the newest line");
	snprintf(q, sizeof(q), "%s.1.gz", p);
	file_text(q, txt, sizeof(txt));
	ASSERT_STREQ(txt, "line 06 ......................\nline 07 ......................\n"
			  "line 08 ......................\n", "rotlog: .1.gz the three before, gzip round trip");
	snprintf(q, sizeof(q), "%s.2.gz", p);
	file_text(q, txt, sizeof(txt));
	ASSERT_STREQ(txt, "line 03 ......................\nline 04 ......................\n"
			  "line 05 ......................\n", "rotlog: .2.gz the three before those");
	snprintf(q, sizeof(q), "%s.3.gz", p);
	ASSERT_EQ(access(q, F_OK), -1, "rotlog: no .3.gz (keep 2)");
	snprintf(q, sizeof(q), "%s.1.gz.tmp", p);
	ASSERT_EQ(access(q, F_OK), -1, "rotlog: no temporary file");
	snprintf(q, sizeof(q), "%s.1.gz", p);
	ASSERT_EQ(!stat(q, &st) && (st.st_mode & 0777) == 0640, 1, "rotlog: archives are 0640");

	/* A write that fails part-way (file size limit): no half line stays. */
	pid = fork();
	if (pid == 0) {
		static const char last_line[] = "line 09 ......................\n"; /* again */
		struct rlimit rl = { 40, 40 }; /* the file holds 30 bytes: 10 more fit */

		signal(SIGXFSZ, SIG_IGN);
		setrlimit(RLIMIT_FSIZE, &rl);
		if (na_rotlog_open(&r, p, 1000, 2))
			_exit(2);
		_exit(na_rotlog_write(&r, last_line, strlen(last_line)) ? 0 : 3);
	}
	CHECK(pid > 0 && waitpid(pid, &status, 0) == pid && WIFEXITED(status) && WEXITSTATUS(status) == 0,
	      "rotlog: the write past the size limit failed (child status %d)", status);
	file_text(p, txt, sizeof(txt));
	ASSERT_STREQ(txt, "line 09 ......................\n", "rotlog: after a failed write, whole lines only");
	remove_all();
	test_rotlog_hostile();
}

#define BIG 200000 /* more than the stream's buffer: writes reach the file before commit */

static void write_body(FILE *f)
{
	int i;

	for (i = 0; i < BIG / 10; i++)
		fprintf(f, "line %04d\n", i % 10000);
}

static char *expected_body(size_t *len)
{
	char *buf = NULL;
	FILE *m = open_memstream(&buf, len);

	if (!m)
		return NULL;
	write_body(m);
	fclose(m);
	return buf;
}

static void test_out_plain(void)
{
	char path[PATH_MAX], *got, *want;
	size_t glen = 0, wlen = 0;
	struct na_out o;
	struct stat st;

	path_in(path, sizeof(path), "out.csv");
	want = expected_body(&wlen);
	ASSERT_EQ(na_out_open(&o, path, "test"), 0, "open");
	CHECK(o.tmp && strstr(o.tmp, "/.out.csv.") != NULL, "temp name .FILE.XXXXXX beside FILE: %s",
	      o.tmp ? o.tmp : "(null)");
	write_body(o.f);
	CHECK(access(path, F_OK) != 0, "%s", "FILE does not exist before commit");
	ASSERT_EQ(stray_files(NULL, NULL), 1, "only the temp file exists while writing");
	ASSERT_EQ(na_out_commit(&o), 0, "commit");
	got = slurp(path, &glen);
	ASSERT_EQ(glen, wlen, "file length");
	CHECK(got && want && glen == wlen && !memcmp(got, want, wlen), "%s", "file content == what was written");
	ASSERT_EQ(stray_files("out.csv", NULL), 0, "no temp file left after commit");
	free(got);

	/* an existing file: replaced, its permission bits kept */
	chmod(path, 0640);
	ASSERT_EQ(na_out_open(&o, path, "test"), 0, "open over an existing file");
	fputs("new\n", o.f);
	ASSERT_EQ(na_out_commit(&o), 0, "commit over an existing file");
	got = slurp(path, NULL);
	ASSERT_STREQ(got, "new\n", "replaced content");
	free(got);
	ASSERT_EQ(stat(path, &st), 0, "stat");
	ASSERT_EQ(st.st_mode & 07777, 0640, "permission bits kept");
	if (geteuid() == 0) { /* only root can give a file away */
		struct stat st2;

		CHECK(chown(path, 12345, 23456) == 0, "chown: %s", strerror(errno));
		ASSERT_EQ(na_out_open(&o, path, "test"), 0, "open over a file of another user");
		fputs("again\n", o.f);
		ASSERT_EQ(na_out_commit(&o), 0, "commit over a file of another user");
		ASSERT_EQ(stat(path, &st2), 0, "stat");
		ASSERT_EQ(st2.st_uid, 12345, "owner kept");
		ASSERT_EQ(st2.st_gid, 23456, "group kept");
		ASSERT_EQ(st2.st_mode & 07777, 0640, "mode kept with the owner");
		ASSERT_EQ(na_out_open(&o, path, "test"), 0, "reopen");
		fputs("new\n", o.f);
		ASSERT_EQ(na_out_commit(&o), 0, "commit");
	}

	/* abort: target unchanged, temp gone */
	ASSERT_EQ(na_out_open(&o, path, "test"), 0, "open for abort");
	write_body(o.f);
	na_out_abort(&o);
	na_out_abort(&o); /* twice is harmless */
	got = slurp(path, NULL);
	ASSERT_STREQ(got, "new\n", "abort leaves FILE as it was");
	free(got);
	ASSERT_EQ(stray_files("out.csv", NULL), 0, "abort removes the temp file");
	free(want);
	remove_all();
}

static void test_out_gz(void)
{
	char path[PATH_MAX], *want, got[4096];
	size_t wlen = 0, total = 0;
	struct na_out o;
	gzFile gz;
	int r, same = 1;

	ASSERT_EQ(na_out_is_gz("a.csv.gz"), 1, "is_gz a.csv.gz");
	ASSERT_EQ(na_out_is_gz("a.csv"), 0, "is_gz a.csv");
	ASSERT_EQ(na_out_is_gz(".gz"), 0, "is_gz .gz (no name)");
	ASSERT_EQ(na_out_is_gz(NULL), 0, "is_gz NULL");

	path_in(path, sizeof(path), "out.csv.gz");
	want = expected_body(&wlen);
	ASSERT_EQ(na_out_open(&o, path, "test"), 0, "open .gz");
	write_body(o.f);
	ASSERT_EQ(na_out_commit(&o), 0, "commit .gz");
	gz = gzopen(path, "rb");
	CHECK(gz != NULL, "gzopen %s", path);
	while (gz && (r = gzread(gz, got, sizeof(got))) > 0) {
		if (total + (size_t)r > wlen || memcmp(want + total, got, (size_t)r))
			same = 0;
		total += (size_t)r;
	}
	if (gz) {
		int zerr;

		gzerror(gz, &zerr);
		ASSERT_EQ(zerr, Z_OK, "gzread to the end without error");
		gzclose(gz);
	}
	ASSERT_EQ(total, wlen, "gunzipped length");
	CHECK(same, "%s", "gunzipped content == what was written");
	{
		unsigned char magic[2] = { 0 };
		FILE *f = fopen(path, "rb");

		if (f) {
			CHECK(fread(magic, 1, 2, f) == 2, "%s", "read magic");
			fclose(f);
		}
		CHECK(magic[0] == 0x1f && magic[1] == 0x8b, "gzip magic: %02x %02x", magic[0], magic[1]);
	}
	ASSERT_EQ(stray_files("out.csv.gz", NULL), 0, "no temp file left after a gz commit");
	free(want);
	remove_all();
}

/* A write error (the file size limit) fails the commit; FILE stays, the temp file goes. */
static void test_out_write_error(void)
{
	char path[PATH_MAX], *got;
	struct rlimit old, lim;
	int gz;

	for (gz = 0; gz < 2; gz++) {
		struct na_out o;
		int err;

		path_in(path, sizeof(path), gz ? "full.csv.gz" : "full.csv");
		put_file(path, "old\n");
		getrlimit(RLIMIT_FSIZE, &old);
		lim = old;
		lim.rlim_cur = 4096;
		signal(SIGXFSZ, SIG_IGN); /* write() then fails with EFBIG */
		setrlimit(RLIMIT_FSIZE, &lim);
		ASSERT_EQ(na_out_open(&o, path, "test (an error message is expected)"), 0, "open");
		write_body(o.f);
		if (gz) { /* random bytes do not compress: make the gzip output big */
			unsigned int x = 1;
			int i;

			for (i = 0; i < 100000; i++) {
				x = x * 1103515245u + 12345u;
				fputc((int)(x >> 16) & 0xff, o.f);
			}
		}
		err = na_out_commit(&o);
		setrlimit(RLIMIT_FSIZE, &old);
		signal(SIGXFSZ, SIG_DFL);
		ASSERT_EQ(err, -EFBIG, gz ? "gz commit fails with EFBIG" : "commit fails with EFBIG");
		got = slurp(path, NULL);
		ASSERT_STREQ(got, "old\n", "FILE untouched after a write error");
		free(got);
		ASSERT_EQ(stray_files(gz ? "full.csv.gz" : "full.csv", NULL), 0, "temp file removed after a write error");
		remove_all();
	}
}

/* A child writes half of its output and gets sig: FILE is the old one, and the temp file... */
static void signal_case(int sig, int temp_left)
{
	char path[PATH_MAX], *got;
	int status = 0;
	pid_t pid;

	path_in(path, sizeof(path), "sig.csv");
	put_file(path, "old\n");
	fflush(NULL);
	pid = fork();
	if (pid == 0) {
		struct na_out o;

		if (na_out_open(&o, path, "child"))
			_exit(3);
		write_body(o.f);
		fflush(o.f); /* part of the data in the temp file */
		raise(sig);
		_exit(4); /* not reached */
	}
	CHECK(pid > 0, "fork: %s", strerror(errno));
	if (pid <= 0)
		return;
	waitpid(pid, &status, 0);
	CHECK(WIFSIGNALED(status) && WTERMSIG(status) == sig, "child died by signal %d (status 0x%x)", sig, status);
	got = slurp(path, NULL);
	ASSERT_STREQ(got, "old\n", "FILE untouched after the signal");
	free(got);
	ASSERT_EQ(stray_files("sig.csv", NULL), temp_left,
		  sig == SIGKILL ? "SIGKILL: only the temp file is left" : "the handler removed the temp file");
	remove_all();
}

static void test_out_signals(void)
{
	signal_case(SIGTERM, 0);
	signal_case(SIGINT, 0);
	signal_case(SIGHUP, 0);
	signal_case(SIGPIPE, 0);
	signal_case(SIGKILL, 1);
}

static void test_out_refuse(void)
{
	char path[PATH_MAX], link[PATH_MAX];
	struct na_out o;

	fprintf(stderr, "# the next messages are expected:\n");
	ASSERT_EQ(na_out_open(&o, "/dev/null", "test"), -EINVAL, "a device is refused");
	ASSERT_EQ(na_out_open(&o, tmpdir, "test"), -EINVAL, "a directory is refused");
	path_in(path, sizeof(path), "sub/");
	ASSERT_EQ(na_out_open(&o, path, "test"), -EINVAL, "a name ending in / is refused");
	path_in(path, sizeof(path), "target");
	path_in(link, sizeof(link), "link");
	put_file(path, "t\n");
	CHECK(symlink(path, link) == 0, "symlink: %s", strerror(errno));
	ASSERT_EQ(na_out_open(&o, link, "test"), -EINVAL, "a symlink is refused (not replaced)");
	path_in(path, sizeof(path), "no/such/dir.csv");
	ASSERT_EQ(na_out_open(&o, path, "test"), -ENOENT, "a missing directory");
	ASSERT_EQ(stray_files("target", "link"), 0, "nothing made by refused opens");
	remove_all();

	ASSERT_EQ(na_out_open(&o, NULL, "test"), 0, "NULL is stdout");
	CHECK(o.f == stdout && !o.tmp, "%s", "stdout, no temp file");
	ASSERT_EQ(na_out_commit(&o), 0, "stdout commit");
	ASSERT_EQ(na_out_open(&o, "-", "test"), 0, "- is stdout");
	CHECK(o.f == stdout, "%s", "- writes to stdout");
	ASSERT_EQ(na_out_commit(&o), 0, "stdout commit");
}

/* ---- partial order ------------------------------------------------------------ */

static void sort_top_case(enum na_col col, int reverse, size_t n, size_t k)
{
	struct na_vrow *all = calloc(n, sizeof(*all)), *part = calloc(n, sizeof(*part));
	uint64_t seed = 12345 + n + k + (uint64_t)col, sum_all = 0, sum_part = 0;
	size_t i, same = 0;

	if (!all || !part) {
		CHECK(0, "calloc %s", "failed");
		goto out;
	}
	for (i = 0; i < n; i++) {
		seed = seed * 6364136223846793005ull + 1442695040888963407ull;
		all[i].cookie = i + 1;
		all[i].pid = (uint32_t)(seed >> 60); /* ties in the figures are broken by identity */
		all[i].secs = 1.0;
		all[i].tot[NA_TX].payload_bytes = (seed >> 40) & 0xff;
		all[i].delta[NA_TX].payload_bytes = (seed >> 20) & 0x1f;
		all[i].delta[NA_RX].payload_bytes = (seed >> 10) & 0x3;
		all[i].conns = 1;
		sum_all += all[i].cookie;
	}
	memcpy(part, all, n * sizeof(*all));
	na_view_sort(all, n, col, reverse);
	na_view_sort_top(part, n, col, reverse, k);
	for (i = 0; i < n; i++) {
		sum_part += part[i].cookie;
		if (i < k && part[i].cookie == all[i].cookie)
			same++;
	}
	CHECK(same == k, "sort_top col %d reverse %d n %zu: %zu of the first %zu rows as the whole sort", col,
	      reverse, n, same, k);
	CHECK(sum_part == sum_all, "sort_top keeps every row (n %zu)", n);
out:
	free(all);
	free(part);
}

/* cur and prev with n zeroed socket rows each; -ENOMEM (a failed check) when there is no memory. */
static int two_snapshots(struct na_snapshot *cur, struct na_snapshot *prev, size_t n)
{
	cur->rows = calloc(n, sizeof(*cur->rows));
	prev->rows = calloc(n, sizeof(*prev->rows));
	if (!cur->rows || !prev->rows) {
		CHECK(0, "calloc %s", "failed");
		return -ENOMEM;
	}
	return 0;
}

/*
 * na_view_build_top() by socket against the whole build and sort, with rates
 * from a prev snapshot, in either order and with the filters (which it
 * applies to the rows without making view rows of them).
 */
static void build_top_case(enum na_col col, int reverse, const struct na_view_opts *filter, size_t n, size_t k)
{
	static const char *const paths[3] = { "/app", "/app/x", "/other" };
	struct na_snapshot cur = { 0 }, prev = { 0 };
	struct na_view_opts vo = { .group = NA_G_SOCKET, .proto = -1 };
	struct na_vrow *all = NULL, *top = NULL;
	size_t nall = 0, ntop = 0, total = 0, i, same = 0;
	uint64_t seed = 99 + n + k;

	if (two_snapshots(&cur, &prev, n))
		goto out;
	for (i = 0; i < n; i++) {
		struct na_sock_row *r = &cur.rows[i];

		seed = seed * 6364136223846793005ull + 1442695040888963407ull;
		r->cookie = 1000 + i;
		r->s.first_ns = 7 * i;
		r->s.pid = (uint32_t)(seed >> 61);
		r->s.proto = i % 5 ? NA_P_TCP : NA_P_UDP;
		r->s.family = NA_F_IPV4;
		r->s.cgroup_id = 10 + (i / 50) % 3; /* runs of rows of one cgroup, as the kernel's order has them */
		r->cgroup = paths[r->s.cgroup_id - 10];
		snprintf(r->s.comm, sizeof(r->s.comm), "%s", i % 7 ? "nginx" : "curl");
		r->s.dir[NA_TX].payload_bytes = 1000 + ((seed >> 30) & 0xfff);
		r->s.dir[NA_RX].packets = (seed >> 20) & 0xff;
		/* every third socket is new since prev; the others had part of their bytes then */
		if (i % 3) {
			prev.rows[prev.nrows] = *r;
			prev.rows[prev.nrows].s.dir[NA_TX].payload_bytes -= (seed >> 45) & 0x1ff;
			prev.nrows++;
		}
	}
	cur.nrows = n;
	if (filter) {
		vo.paths = filter->paths;
		vo.pid = filter->pid;
		vo.proto = filter->proto;
		vo.text = filter->text;
	}
	CHECK(!na_view_build(&cur, &prev, 2.0, &vo, &all, &nall), "na_view_build %s", "failed");
	na_view_sort(all, nall, col, reverse);
	CHECK(!na_view_build_top(&cur, &prev, 2.0, &vo, col, reverse, k, &top, &ntop, &total), "na_view_build_top %s",
	      "failed");
	CHECK(total == nall && ntop == (k < nall ? k : nall) && (filter || total == n),
	      "build_top: %zu rows of %zu, expected %zu of %zu", ntop, total, k < nall ? k : nall, nall);
	for (i = 0; i < ntop && i < nall; i++)
		if (top[i].cookie == all[i].cookie && top[i].delta[NA_TX].payload_bytes == all[i].delta[NA_TX].payload_bytes &&
		    top[i].cgroup == all[i].cgroup && !strcmp(top[i].comm, all[i].comm))
			same++;
	CHECK(same == ntop && ntop, "build_top col %d reverse %d%s: %zu of the first %zu rows as the whole build and sort",
	      col, reverse, filter ? " filtered" : "", same, ntop);
out:
	free(all);
	free(top);
	free(cur.rows);
	free(prev.rows);
}

/* A cgroup PATH filter of /app (cgroup id 10): the rows of /app and /app/x, not /other. */
static void app_filter(struct na_filter *app, struct na_cgroup *cg)
{
	memset(app, 0, sizeof(*app));
	memset(cg, 0, sizeof(*cg));
	cg->id = 10;
	snprintf(cg->rel, sizeof(cg->rel), "/app");
	app->cg = cg;
	app->n = 1;
}

/* ---- top's figures (struct na_figs) against rows ------------------------------- */

/* A slot's row as the walk (bpf/netacct_read.bpf.c, copy_fig) writes it: then_* first, from what the slot held. */
static void walk_slot(struct na_rd_fig *o, const struct na_sock_row *r)
{
	int d;

	o->then_cookie = o->cookie;
	o->then_first_ns = o->first_ns;
	o->then_packets = 0;
	for (d = 0; d < NA_NDIR; d++) {
		o->then_bytes[d] = o->dir[d].hdr_bytes + o->dir[d].payload_bytes;
		o->then_packets += o->dir[d].packets;
	}
	o->cookie = r->cookie;
	o->first_ns = r->s.first_ns;
	o->cgroup_id = r->s.cgroup_id;
	o->pid = r->s.pid;
	o->family = r->s.family;
	o->proto = r->s.proto;
	o->state = r->s.state;
	o->owner_src = r->s.owner_src;
	for (d = 0; d < NA_NDIR; d++) {
		o->dir[d].packets = r->s.dir[d].packets;
		o->dir[d].hdr_bytes = r->s.dir[d].ip_hdr_bytes + r->s.dir[d].l4_hdr_bytes;
		o->dir[d].payload_bytes = r->s.dir[d].payload_bytes;
		o->dir[d].resent_bytes = r->s.dir[d].resent_bytes;
	}
}

static const struct na_sock_row *figs_rows;
static size_t figs_nrows;
static uint64_t figs_gone; /* a cookie whose row ended between the read and the look-up */

static int figs_sock_row(void *ctx, uint64_t cookie, struct na_sock_row *out)
{
	size_t i;

	(void)ctx;
	for (i = 0; i < figs_nrows; i++)
		if (figs_rows[i].cookie == cookie && cookie != figs_gone) {
			*out = figs_rows[i];
			return 0;
		}
	return -ENOENT;
}

/*
 * top by socket from figures (two walks into one buffer: prev's rows, then
 * cur's, each slot keeping what it held) against the same frame from rows:
 * the same rows in the same order, with the same totals, rates, header
 * share, retransmissions and names. Figures are distinct (no ties: figures
 * order ties by fewer fields than rows). prev: every third row of cur is
 * new, every seventh made anew (a new first packet), `gone` more rows ended
 * since (first in prev's walk, so that rows which stay were in slots past
 * cur's); `shuffle` moves prev's rows to other slots.
 */
static void figs_case(const char *what, enum na_col col, int reverse, const struct na_view_opts *filter, size_t n,
		      size_t gone, int shuffle, size_t k)
{
	static const char *const paths[3] = { "/app", "/app/x", "/other" };
	struct na_snapshot cur = { 0 }, prev = { 0 }, fcur = { 0 }, fprev = { 0 };
	struct na_view_opts vo = { .group = NA_G_SOCKET, .proto = -1, .sock_row = figs_sock_row };
	struct na_cg_live cgs[3];
	struct na_vrow *a = NULL, *b = NULL;
	struct na_rd_fig *slots = NULL;
	size_t na = 0, nb = 0, ta = 0, tb = 0, i, bad = 0, cap = n + gone + 8;
	int d;

	if (two_snapshots(&cur, &prev, n + gone) || !(slots = calloc(cap, sizeof(*slots)))) {
		CHECK(slots, "%s: calloc failed", what);
		goto out;
	}
	for (i = 0; i < n + gone; i++) {
		struct na_sock_row *r = &cur.rows[i];

		r->cookie = 1000 + i;
		r->s.first_ns = 100 + i;
		r->s.pid = (uint32_t)(1 + i % 4);
		r->s.proto = i % 5 ? NA_P_TCP : NA_P_UDP;
		r->s.family = NA_F_IPV4;
		r->s.owner_src = NA_OWN_CREATE;
		r->s.cgroup_id = 10 + (i / 50) % 3;
		r->cgroup = paths[r->s.cgroup_id - 10];
		snprintf(r->s.comm, sizeof(r->s.comm), "w%u", (unsigned)i);
		r->s.laddr[0] = 127;
		r->s.laddr[3] = 1;
		r->s.lport = (uint16_t)(2000 + i);
		for (d = 0; d < NA_NDIR; d++) {
			r->s.dir[d].packets = 10 + 2 * i + (size_t)d;
			r->s.dir[d].ip_hdr_bytes = 20 * r->s.dir[d].packets;
			r->s.dir[d].l4_hdr_bytes = 32 * r->s.dir[d].packets;
			r->s.dir[d].payload_bytes = (d ? 50000 : 100000) + 7 * i;
			r->s.dir[d].resent_bytes = 3 * i + (size_t)d;
		}
		if (i % 3 == 0 && i < n)
			continue; /* new since prev */
		prev.rows[prev.nrows] = *r;
		for (d = 0; d < NA_NDIR; d++) { /* distinct amounts moved since */
			prev.rows[prev.nrows].s.dir[d].payload_bytes -= i + (size_t)d;
			prev.rows[prev.nrows].s.dir[d].packets -= i % 2;
		}
		if (i % 7 == 0 && i < n)
			prev.rows[prev.nrows].s.first_ns = 1; /* the cookie's row made anew since */
		prev.nrows++;
	}
	cur.nrows = n;
	/* The ended rows first in prev's walk: the rows that stay were then in slots this walk does not reach. */
	if (gone) {
		struct na_sock_row *t = malloc(prev.nrows * sizeof(*t));
		size_t m = 0, j;

		CHECK(t != NULL, "%s: malloc failed", what);
		for (j = 0; t && j < prev.nrows; j++)
			if (prev.rows[j].cookie >= 1000 + n)
				t[m++] = prev.rows[j];
		for (j = 0; t && j < prev.nrows; j++)
			if (prev.rows[j].cookie < 1000 + n)
				t[m++] = prev.rows[j];
		if (t)
			memcpy(prev.rows, t, prev.nrows * sizeof(*t));
		free(t);
	}
	for (i = 0; shuffle && i + 1 < prev.nrows; i += 2) {
		struct na_sock_row t = prev.rows[i];

		prev.rows[i] = prev.rows[i + 1];
		prev.rows[i + 1] = t;
	}
	/* The two walks. */
	for (i = 0; i < prev.nrows; i++)
		walk_slot(&slots[i], &prev.rows[i]);
	for (i = 0; i < n; i++)
		walk_slot(&slots[i], &cur.rows[i]);
	for (i = 0; i < 3; i++) {
		cgs[i].id = 10 + i;
		cgs[i].path = paths[i];
		cgs[i].live = 0;
	}
	fcur.cglive = cgs;
	fcur.ncglive = 3;
	fcur.figs = (struct na_figs){ .slots = slots, .n = n, .nthen = prev.nrows, .seq = 2, .then_seq = 1 };
	fprev.figs.seq = 1;
	figs_rows = cur.rows;
	figs_nrows = n;
	figs_gone = 1000 + n / 2;
	if (filter) {
		vo.paths = filter->paths;
		vo.pid = filter->pid;
		vo.proto = filter->proto;
	}
	CHECK(na_view_figs_serve(&vo, col, k), "%s: figures serve top by socket", what);
	CHECK(!na_view_build_top(&cur, &prev, 2.0, &vo, col, reverse, k, &a, &na, &ta), "%s: from rows failed", what);
	CHECK(!na_view_build_top(&fcur, &fprev, 2.0, &vo, col, reverse, k, &b, &nb, &tb), "%s: from figures failed",
	      what);
	CHECK(na == nb && ta == tb && na, "%s: %zu of %zu rows from figures, %zu of %zu from rows", what, nb, tb, na, ta);
	for (i = 0; i < na && i < nb; i++) {
		int names = a[i].cookie != figs_gone;

		for (d = 0; d < NA_NDIR; d++)
			bad += a[i].cookie != b[i].cookie || na_vrow_bytes(&a[i], d) != na_vrow_bytes(&b[i], d) ||
			       na_vrow_rate(&a[i], d) != na_vrow_rate(&b[i], d) ||
			       na_vrow_resent(&a[i], d) != na_vrow_resent(&b[i], d) ||
			       a[i].tot[d].packets != b[i].tot[d].packets;
		bad += na_vrow_pkt_rate(&a[i]) != na_vrow_pkt_rate(&b[i]) || na_vrow_hdr_pct(&a[i]) != na_vrow_hdr_pct(&b[i]) ||
		       a[i].pid != b[i].pid || a[i].cgroup != b[i].cgroup || a[i].first_ns != b[i].first_ns;
		/* the names: looked up, but for the row that ended meanwhile, shown without them */
		bad += names ? strcmp(a[i].comm, b[i].comm) || a[i].lport != b[i].lport || memcmp(a[i].laddr, b[i].laddr, 16)
			     : b[i].comm[0] || b[i].lport;
	}
	CHECK(!bad, "%s: %zu differences between the frames from figures and from rows", what, bad);
	/* Figures after a snapshot of rows (top came from a view of rows): the same rates, from prev's rows. */
	free(b);
	b = NULL;
	CHECK(!na_view_build_top(&fcur, &prev, 2.0, &vo, col, reverse, k, &b, &nb, &tb), "%s: failed", what);
	for (i = bad = 0; i < na && i < nb; i++)
		bad += a[i].cookie != b[i].cookie || na_vrow_rate(&a[i], NA_TX) != na_vrow_rate(&b[i], NA_TX) ||
		       na_vrow_rate(&a[i], NA_RX) != na_vrow_rate(&b[i], NA_RX) ||
		       na_vrow_pkt_rate(&a[i]) != na_vrow_pkt_rate(&b[i]);
	CHECK(!bad && nb == na, "%s: after rows, %zu differences from the frame of rows", what, bad);
	/* A baseline of another read of figures (a pause): no rates, the same totals. */
	free(b);
	b = NULL;
	fprev.figs.slots = slots;
	fprev.figs.seq = 7;
	CHECK(!na_view_build_top(&fcur, &fprev, 2.0, &vo, col, reverse, k, &b, &nb, &tb), "%s: failed", what);
	for (i = bad = 0; i < nb; i++)
		bad += na_vrow_rate(&b[i], NA_TX) != 0 || na_vrow_rate(&b[i], NA_RX) != 0 || na_vrow_pkt_rate(&b[i]) != 0;
	CHECK(!bad && nb, "%s: against another read's baseline, %zu rows with rates", what, bad);
out:
	free(a);
	free(b);
	free(slots);
	free(cur.rows);
	free(prev.rows);
}

static void test_figs(void)
{
	struct na_view_opts vo = { .group = NA_G_SOCKET, .proto = -1 };
	struct na_snapshot s = { 0 };
	struct na_rd_fig slot = { 0 };
	struct na_vrow *v = NULL;
	size_t n = 0, t = 0;

	figs_case("figures: busiest", NA_C_COUNT, 0, NULL, 600, 0, 0, 30);
	figs_case("figures: more rows ended than began, slots moved", NA_C_COUNT, 0, NULL, 300, 250, 1, 30);
	figs_case("figures: TX/s, reversed", NA_C_TX_RATE, 1, NULL, 500, 10, 1, 12);
	figs_case("figures: PKTS/s", NA_C_PKT_RATE, 0, NULL, 500, 3, 0, 40);
	figs_case("figures: RX, every row", NA_C_RX, 0, NULL, 300, 0, 1, 1000);
	figs_case("figures: RETRANS", NA_C_RETRANS, 0, NULL, 300, 0, 0, 25);
	figs_case("figures: HDR%", NA_C_HDR, 0, NULL, 300, 0, 0, 25);
	{
		struct na_filter app;
		struct na_cgroup cg;
		struct na_view_opts f = { .proto = -1 };

		app_filter(&app, &cg);
		f.paths = &app;
		figs_case("figures: a cgroup PATH", NA_C_COUNT, 0, &f, 600, 20, 1, 30);
		f.paths = NULL;
		f.pid = 3;
		figs_case("figures: --pid", NA_C_TX_RATE, 0, &f, 600, 0, 0, 10);
		f.pid = 0;
		f.proto = NA_P_UDP;
		figs_case("figures: --proto udp", NA_C_RX, 0, &f, 600, 0, 1, 20);
	}
	/* What figures do not serve: a frame that needs every row's names, or every row. */
	CHECK(!na_view_figs_serve(&vo, NA_C_COMM, 20), "figures: not by %s", "a name column");
	CHECK(!na_view_figs_serve(&vo, NA_C_COUNT, 0), "figures: not for %s", "every row (k 0)");
	vo.text = "nginx";
	CHECK(!na_view_figs_serve(&vo, NA_C_COUNT, 20), "figures: not with %s", "a text filter");
	vo.text = NULL;
	vo.group = NA_G_PROCESS;
	CHECK(!na_view_figs_serve(&vo, NA_C_COUNT, 20), "figures: not by %s", "process");
	s.figs = (struct na_figs){ .slots = &slot, .n = 1 };
	CHECK(na_view_build_top(&s, NULL, 1.0, &vo, NA_C_COUNT, 0, 20, &v, &n, &t) == -EAGAIN,
	      "figures: a view they do not serve is %s", "-EAGAIN");
	free(v);
}

/*
 * Rates by socket: each row's delta is its bytes minus its socket's bytes in
 * prev (same cookie and first packet), whatever the order of prev's rows;
 * a new socket, or a cookie whose row was made anew, counts from zero.
 */
static void delta_case(const char *what, int order)
{
	enum { N = 1000 };
	struct na_snapshot cur = { 0 }, prev = { 0 };
	struct na_view_opts vo = { .group = NA_G_SOCKET, .proto = -1 };
	static uint64_t want[N];
	struct na_vrow *v = NULL;
	size_t nv = 0, i, j, bad = 0;

	if (two_snapshots(&cur, &prev, N))
		goto out;
	for (i = 0; i < N; i++) {
		cur.rows[i].cookie = 500 + i;
		cur.rows[i].s.first_ns = 1000 + i;
		cur.rows[i].s.dir[NA_TX].payload_bytes = 10000 + 3 * i;
		want[i] = cur.rows[i].s.dir[NA_TX].payload_bytes;
		if (i % 3 == 0)
			continue; /* new since prev */
		/* order 0: prev in the same order; 1: reversed; 2: every other row changed places */
		j = prev.nrows++;
		prev.rows[j] = cur.rows[i];
		prev.rows[j].s.dir[NA_TX].payload_bytes -= i % 17;
		want[i] = i % 17;
		if (i % 7 == 0) { /* the cookie's row was made anew since prev: counts from zero */
			prev.rows[j].s.first_ns = 1;
			want[i] = cur.rows[i].s.dir[NA_TX].payload_bytes;
		}
	}
	for (i = 0; order && i < prev.nrows / 2; i += order == 1 ? 1 : 2) {
		struct na_sock_row t = prev.rows[i];
		size_t o = order == 1 ? prev.nrows - 1 - i : i + 1;

		prev.rows[i] = prev.rows[o];
		prev.rows[o] = t;
	}
	cur.nrows = N;
	CHECK(!na_view_build(&cur, &prev, 1.0, &vo, &v, &nv), "%s: na_view_build failed", what);
	CHECK(nv == N, "%s: %zu rows, expected %d", what, nv, (int)N);
	for (i = 0; i < nv; i++)
		if (v[i].cookie < 500 || v[i].cookie >= 500 + N ||
		    v[i].delta[NA_TX].payload_bytes != want[v[i].cookie - 500])
			bad++;
	CHECK(!bad, "%s: %zu rows with a wrong delta", what, bad);
out:
	free(v);
	free(cur.rows);
	free(prev.rows);
}

/*
 * By process, a live view leaves out the rows of processes that are gone,
 * have no live socket and sent or received nothing in the interval. Pids:
 * 100 gone, idle, closed rows only; 200 running; 300 gone, a closed row
 * that grew in the interval; 400 gone, a live socket; 500 gone as the
 * process of its first packet (the pid was taken again later).
 */
static uint64_t asked_first_ns[600];

static int fake_alive(uint32_t pid, uint64_t first_ns)
{
	if (pid < 600)
		asked_first_ns[pid] = first_ns;
	/* 500: a process with that pid runs, started at 50 s, after the rows' first packet */
	return pid == 200 || (pid == 500 && first_ns >= 50000000000ull);
}

static void aging_case(int (*alive)(uint32_t, uint64_t), const char *what, const char *expected)
{
	struct na_closed_row closed[6], closed_prev[6];
	struct na_sock_row sock = { 0 };
	struct na_snapshot cur = { 0 }, prev = { 0 };
	struct na_view_opts vo = { .group = NA_G_PROCESS, .proto = -1, .proc_alive = alive };
	struct na_vrow *rows = NULL;
	size_t n = 0, total = 0, i;
	char got[64] = "";
	static const uint32_t pids[6] = { 100, 100, 200, 300, 400, 500 };

	memset(closed, 0, sizeof(closed));
	for (i = 0; i < 6; i++) {
		closed[i].k.pid = pids[i];
		memcpy(closed[i].k.comm, "w", 2);
		closed[i].k.raddr[15] = (uint8_t)i; /* one row per peer */
		closed[i].c.conns = 1;
		closed[i].c.first_ns = 1000000000ull * (10 + i); /* 10 s, 11 s, ... */
		closed[i].c.dir[NA_TX].payload_bytes = 1000;
	}
	memcpy(closed_prev, closed, sizeof(closed));
	closed[3].c.dir[NA_TX].payload_bytes += 10; /* 300: a socket closed in the interval */
	sock.cookie = 1;
	sock.s.pid = 400;
	memcpy(sock.s.comm, "w", 2);
	sock.s.first_ns = 30000000000ull;
	cur.closed = closed;
	cur.nclosed = 6;
	cur.rows = &sock;
	cur.nrows = 1;
	prev.closed = closed_prev;
	prev.nclosed = 6;
	prev.rows = &sock;
	prev.nrows = 1;
	memset(asked_first_ns, 0, sizeof(asked_first_ns));
	CHECK(!na_view_build_top(&cur, &prev, 1.0, &vo, NA_C_PID, 0, 0, &rows, &n, &total), "%s: build", what);
	for (i = 0; i < n; i++)
		snprintf(got + strlen(got), sizeof(got) - strlen(got), "%s%u", i ? " " : "", rows[i].pid);
	CHECK(!strcmp(got, expected) && total == n, "%s: pids %s (%zu of %zu), expected %s", what, got, n, total,
	      expected);
	free(rows);
}

static void test_aging(void)
{
	aging_case(fake_alive, "by process, live view", "200 300 400");
	CHECK(asked_first_ns[100] == 10000000000ull, "aging: asked about pid 100 with its earliest first packet, "
	      "actual %llu", (unsigned long long)asked_first_ns[100]);
	CHECK(!asked_first_ns[400] && !asked_first_ns[300], "aging: rows with a live socket or traffic: %s",
	      "no process lookup");
	aging_case(NULL, "by process, export (no liveness)", "100 200 300 400 500");
}

/* export's order as it was first written: a comparison of two rows (the reference). */
static int ref_cmp_str(const char *a, const char *b)
{
	return strcmp(a ? a : "", b ? b : "");
}

static int ref_row_cmp(const void *pa, const void *pb)
{
	const struct na_sock_row *a = *(const struct na_sock_row *const *)pa;
	const struct na_sock_row *b = *(const struct na_sock_row *const *)pb;
	int c;

	if ((c = ref_cmp_str(a->cgroup, b->cgroup)) || (c = NA_CMP(a->s.cgroup_id, b->s.cgroup_id)) ||
	    (c = NA_CMP(a->s.pid, b->s.pid)) || (c = strncmp(a->s.comm, b->s.comm, NA_COMM_LEN)) ||
	    (c = NA_CMP(a->s.proto, b->s.proto)) || (c = NA_CMP(a->s.family, b->s.family)) ||
	    (c = memcmp(a->s.raddr, b->s.raddr, 16)) || (c = NA_CMP(a->s.rport, b->s.rport)) ||
	    (c = memcmp(a->s.laddr, b->s.laddr, 16)) || (c = NA_CMP(a->s.lport, b->s.lport)))
		return c;
	return NA_CMP(a->cookie, b->cookie);
}

/*
 * na_view_sock_order() (export's order by radix on the first bytes that
 * differ) against the comparison sort, on rows with many ties in every
 * field: paths NULL, "" and one path of two ids, comms with bytes after
 * their end, both families. spread: how many of the fields vary (few: the first
 * 16 differing bytes decide; many: rows tied on them are compared whole).
 */
static void sock_order_case(const char *what, size_t n, int spread, uint64_t seed)
{
	static const char *const paths[] = { NULL, "", "/a", "/a/b", "/b", "/a" };
	struct na_snapshot s = { 0 };
	const struct na_sock_row **got = NULL, **want = NULL;
	size_t i, bad = 0;

	s.rows = calloc(n ? n : 1, sizeof(*s.rows));
	want = calloc(n ? n : 1, sizeof(*want));
	if (!s.rows || !want) {
		CHECK(0, "%s: calloc failed", what);
		goto out;
	}
	for (i = 0; i < n; i++) {
		struct na_sock_row *r = &s.rows[i];
		unsigned p;

		seed = seed * 6364136223846793005ull + 1442695040888963407ull;
		/* a cgroup's rows have its path (or none); "/a" is the path of two ids, 12 and 99 */
		p = spread > 1 ? (unsigned)(seed >> 61) % 6 : spread ? ((seed >> 61) & 1 ? 5 : 2) : 2;
		r->cookie = (seed >> 7) % (n * 4) * 1000 + i; /* distinct, not in the rows' order */
		r->cgroup = paths[p];
		r->s.cgroup_id = p == 5 ? 99 : 10 + p;
		r->s.pid = spread > 0 ? 100 + (uint32_t)(seed >> 40) % 3 : 100;
		snprintf(r->s.comm, sizeof(r->s.comm), "%s", (seed >> 30) & 1 ? "ab" : "abc");
		if ((seed >> 33) & 1)
			r->s.comm[4] = 'z'; /* after the end: strncmp does not see it */
		r->s.proto = spread > 1 ? 1 + (uint8_t)((seed >> 35) & 1) : 1;
		r->s.family = (seed >> 36) & 1 ? NA_F_IPV6 : NA_F_IPV4;
		r->s.raddr[0] = (uint8_t)(seed >> 44) % 3;
		if (r->s.family == NA_F_IPV6 && spread > 1)
			r->s.raddr[15] = (uint8_t)(seed >> 48) % 2;
		if (spread > 2) /* two peers that differ in every byte: rows tie on the first 16 that differ */
			memset(r->s.raddr, (seed >> 45) & 1 ? 0x20 : 0xfd, 16);
		r->s.rport = (uint16_t)((seed >> 50) % 2 ? 443 : 80);
		r->s.laddr[3] = (uint8_t)(seed >> 52) % 2;
		r->s.lport = (uint16_t)(1000 + (seed >> 56) % 3);
		want[i] = r;
	}
	s.nrows = n;
	qsort(want, n, sizeof(*want), ref_row_cmp);
	CHECK(!na_view_sock_order(&s, &got), "%s: na_view_sock_order failed", what);
	for (i = 0; got && i < n; i++)
		bad += got[i] != want[i];
	CHECK(got && !bad, "%s: %zu of %zu rows out of the comparison sort's place", what, bad, n);
out:
	free(got);
	free(want);
	free(s.rows);
}

static void test_sort_top(void)
{
	sock_order_case("export order: one cgroup and process", 4000, 0, 1);
	sock_order_case("export order: few fields vary", 5000, 1, 2);
	sock_order_case("export order: many fields vary", 6000, 2, 3);
	sock_order_case("export order: rows tied on their first 16 differing bytes", 6000, 3, 6);
	sock_order_case("export order: one row", 1, 2, 4);
	sock_order_case("export order: no rows", 0, 2, 5);
	delta_case("deltas, prev in the same order", 0);
	delta_case("deltas, prev reversed", 1);
	delta_case("deltas, prev with neighbours swapped", 2);
	build_top_case(NA_C_COUNT, 0, NULL, 3000, 40);
	build_top_case(NA_C_TX_RATE, 0, NULL, 3000, 7);
	build_top_case(NA_C_RX, 0, NULL, 3000, 100);
	build_top_case(NA_C_COUNT, 1, NULL, 3000, 40);
	build_top_case(NA_C_TX, 1, NULL, 3000, 5);
	{
		struct na_filter app;
		struct na_cgroup cg;
		struct na_view_opts f = { .proto = -1 };

		app_filter(&app, &cg);
		f.paths = &app; /* /app and /app/x, not /other */
		build_top_case(NA_C_COUNT, 0, &f, 3000, 30);
		f.paths = NULL;
		f.pid = 3;
		build_top_case(NA_C_TX_RATE, 1, &f, 3000, 10);
		f.pid = 0;
		f.proto = NA_P_UDP;
		build_top_case(NA_C_RX, 0, &f, 3000, 20);
		f.proto = -1;
		f.text = "curl";
		build_top_case(NA_C_COUNT, 0, &f, 3000, 15);
		f.paths = &app;
		f.text = "nginx";
		f.proto = NA_P_TCP;
		build_top_case(NA_C_TX, 0, &f, 3000, 25);
	}
	sort_top_case(NA_C_COUNT, 0, 5000, 37);
	sort_top_case(NA_C_COUNT, 1, 5000, 1);
	sort_top_case(NA_C_TX, 0, 5000, 100);
	sort_top_case(NA_C_TX_RATE, 1, 4000, 999);
	sort_top_case(NA_C_COUNT, 0, 10, 3); /* few rows: the whole sort */
}

/*
 * An unconnected UDP socket (cookie 77, cgroup id 50) that received 10
 * datagrams, 1000 bytes: 3 x 100 from 127.0.0.1 and 6 x 100 from 127.0.0.2
 * on its peer rows, 100 from peers that found the peer table full.
 */
static void udp_two_peers(struct na_sock_row *row, const char *cgroup, struct na_peer_row pr[2])
{
	size_t i;

	row->cookie = 77;
	row->cgroup = cgroup;
	row->s.cgroup_id = 50;
	row->s.family = NA_F_IPV4;
	row->s.proto = NA_P_UDP;
	row->s.flags = NA_ROW_UNCONN | NA_ROW_MULTI;
	row->s.dir[NA_RX].packets = 10;
	row->s.dir[NA_RX].payload_bytes = 1000;
	for (i = 0; i < 2; i++) {
		pr[i].k.cookie = 77;
		pr[i].k.family = NA_F_IPV4;
		pr[i].k.addr[0] = 127;
		pr[i].k.addr[3] = (uint8_t)(1 + i);
		pr[i].p.rx.packets = 3 * (i + 1);
		pr[i].p.rx.payload_bytes = 300 * (i + 1);
	}
}

/*
 * Peers: a many-peer UDP socket's peer rows in the peer view (view.c) and the
 * agent's per-peer series (series.c): by address, the rest of the socket
 * without a peer, and at most per-peer-max addresses with a series.
 */
static void test_peers(void)
{
	struct na_att_state att = { 0 };
	struct na_sock_row row = { 0 };
	struct na_peer_row pr[2];
	struct na_snapshot s;
	struct na_view_opts o = { .group = NA_G_PEER, .proto = -1 };
	struct na_vrow *v = NULL;
	struct na_series *held = NULL;
	char *buf = NULL;
	size_t len = 0, n = 0, i;
	uint64_t tot_rx = 0;
	FILE *f;

	memset(&s, 0, sizeof(s));
	memset(pr, 0, sizeof(pr));
	att.a.cgroup_id = 50;
	att.a.token = 500;
	snprintf(att.a.path, sizeof(att.a.path), "/srv");
	att.cgroup_exists = 1;
	udp_two_peers(&row, "/srv", pr);
	s.att = &att;
	s.natt = 1;
	s.rows = &row;
	s.nrows = 1;
	s.peers = pr;
	s.npeers = 2;
	ASSERT_EQ(na_view_build(&s, NULL, 0, &o, &v, &n), 0, "peer view");
	ASSERT_EQ(n, 3, "peer view: two peers and the socket's rest");
	for (i = 0; i < n; i++)
		tot_rx += v[i].tot[NA_RX].payload_bytes;
	ASSERT_EQ(tot_rx, 1000, "peer view: the members add up to the socket's row");
	free(v);

	ASSERT_EQ(na_series_new(&held), 0, "na_series_new");
	f = held ? open_memstream(&buf, &len) : NULL;
	if (!f)
		return;
	ASSERT_EQ(na_series_write_peers(f, &s, held, 1), 0, "na_series_write_peers");
	fclose(f);
	ASSERT_LINE(buf, "netacct_peer_payload_bytes_total{cgroup=\"/srv\",peer=\"127.0.0.1\",direction=\"rx\"} 300");
	ASSERT_LINE(buf, "netacct_peer_payload_bytes_total{cgroup=\"/srv\",peer=\"other\",direction=\"rx\"} 600");
	ASSERT_EQ(count_str(buf, "peer=\"127.0.0.2\""), 0, "beyond per-peer-max: summed under other");
	free(buf);
	na_series_free(held);
}

static const char *or_empty(const char *s)
{
	return s ? s : "";
}

/* Peer names: their text, which sockets an answer names, and the per-name series. */
static void test_names(void)
{
	static const uint8_t wire[] = { 3, 'w', 'w', 'w', 4, 'a', '.', 'b', 0x01, 0 };
	struct na_dns_key keys[2] = { 0 };
	struct na_dns_name vals[2] = { 0 };
	struct na_peername *names = NULL;
	struct na_att_state att = { 0 };
	struct na_sock_row rows[2] = { 0 };
	struct na_snapshot s;
	struct na_series *held = NULL;
	uint8_t addr[16] = { 127, 0, 0, 7 };
	char text[64], *buf = NULL;
	size_t nnames = 0, len = 0;
	FILE *f;
	int i;

	ASSERT_EQ(na_dns_name_text(wire, sizeof(wire), text, sizeof(text)), strlen("www.a\\.b\\001"), "name text");
	ASSERT_STREQ(text, "www.a\\.b\\001", "a dot in a label and a control byte are escaped as dig shows them");
	ASSERT_EQ(na_dns_name_text(wire, sizeof(wire), text, 6), 5, "cut to the buffer");
	ASSERT_STREQ(text, "www.a", "cut at a whole character");
	ASSERT_EQ(na_dns_name_text((const uint8_t *)"\x05" "ab", 3, text, sizeof(text)), 0,
		  "a label past the end is no name");

	for (i = 0; i < 2; i++) {
		keys[i].cgroup_id = 50;
		keys[i].family = NA_F_IPV4;
		keys[i].addr[0] = 127;
		keys[i].addr[3] = (uint8_t)(7 + i);
		vals[i].learnt_ns = 100ull * 1000000000;
		vals[i].expires_ns = vals[i].learnt_ns + (i ? 1 : 300) * 1000000000ull; /* TTL 300 s, 1 s */
		memcpy(vals[i].name, "\x03" "web" "\x04" "test", 10);
		vals[i].len = 10;
	}
	vals[1].name[1] = 'v'; /* "veb.test" */
	ASSERT_EQ(na_peernames_from_map(keys, vals, 2, &names, &nnames), 0, "names from the map");
	ASSERT_EQ(nnames, 2, "two names");
	ASSERT_STREQ(or_empty(na_peernames_find(names, nnames, 50, NA_F_IPV4, addr, 101ull * 1000000000)),
		   "web.test", "a socket begun while the answer is valid is named");
	ASSERT_EQ(na_peernames_find(names, nnames, 51, NA_F_IPV4, addr, 101ull * 1000000000) == NULL, 1,
		  "another cgroup's lookups name nothing");
	addr[3] = 8;
	ASSERT_STREQ(or_empty(na_peernames_find(names, nnames, 50, NA_F_IPV4, addr, 104ull * 1000000000)), "veb.test",
		   "a TTL of 1 s names the sockets of the next 5 s");
	ASSERT_EQ(na_peernames_find(names, nnames, 50, NA_F_IPV4, addr, 106ull * 1000000000) == NULL, 1,
		  "... not one begun later");

	/* Two sockets to two addresses of one name each: the name's series sums them. */
	memset(&s, 0, sizeof(s));
	att.a.cgroup_id = 50;
	snprintf(att.a.path, sizeof(att.a.path), "/srv");
	att.cgroup_exists = 1;
	for (i = 0; i < 2; i++) {
		rows[i].cookie = 80 + (uint64_t)i;
		rows[i].cgroup = "/srv";
		rows[i].s.cgroup_id = 50;
		rows[i].s.family = NA_F_IPV4;
		rows[i].s.proto = NA_P_TCP;
		rows[i].s.raddr[0] = 127;
		rows[i].s.raddr[3] = (uint8_t)(7 + i);
		rows[i].s.rport = 443;
		rows[i].s.first_ns = 101ull * 1000000000;
		rows[i].s.dir[NA_TX].payload_bytes = 1000 * (uint64_t)(i + 1);
	}
	s.att = &att;
	s.natt = 1;
	s.rows = rows;
	s.nrows = 2;
	s.peernames = names;
	s.npeernames = nnames;
	ASSERT_EQ(na_series_new(&held), 0, "na_series_new");
	f = held ? open_memstream(&buf, &len) : NULL;
	if (f) {
		ASSERT_EQ(na_series_write_peers(f, &s, held, 1), 0, "na_series_write_peers");
		fclose(f);
		ASSERT_LINE(buf, "netacct_peer_name_payload_bytes_total{cgroup=\"/srv\",peer_name=\"veb.test\",direction=\"tx\"} 2000");
		ASSERT_LINE(buf, "netacct_peer_name_payload_bytes_total{cgroup=\"/srv\",peer_name=\"other\",direction=\"tx\"} 1000");
		ASSERT_EQ(count_str(buf, "# TYPE netacct_peer_name_payload_bytes_total counter"), 1,
			  "the name family once, after the address family");
	}
	free(buf);
	na_series_free(held);
	na_peernames_free(names, nnames);
}

static const struct na_cgnames *fake_names(void *ctx, uint64_t cgid, const char *path)
{
	static struct na_cgnames n = { .pod = "payments-7d9f", .ns = "shop" };

	(void)ctx;
	(void)path;
	return cgid == 50 ? &n : NULL;
}

/*
 * Peer classes over a many-peer UDP socket (each peer its own class, the
 * bytes before its second peer in none) and a connected one, by class and
 * in the agent's per-class family, with the cgroup's names as labels.
 */
static void test_peer_classes(void)
{
	static const char nets[] = "first 127.0.0.1/32\nsecond 127.0.0.2/32\n";
	struct na_sock_row rows[2];
	struct na_peer_row pr[2];
	struct na_snapshot s;
	struct na_netclass *c = NULL;
	struct na_names *names = NULL;
	struct na_view_opts o = { .group = NA_G_PEER_CLASS, .proto = -1 };
	struct na_vrow *v = NULL;
	struct na_series *held = NULL;
	uint64_t rx[3] = { 0 }; /* first, second, none */
	char *buf = NULL;
	size_t len = 0, n = 0, i;
	FILE *f = fmemopen((void *)nets, sizeof(nets) - 1, "r");

	ASSERT_EQ(f && !na_netclass_parse(f, "nets", &c), 1, "networks");
	if (f)
		fclose(f);
	ASSERT_EQ(na_names_new("/nonexistent-netacct-metadata", &names), 0, "names");
	if (!c || !names)
		return;
	memset(&s, 0, sizeof(s));
	memset(rows, 0, sizeof(rows));
	memset(pr, 0, sizeof(pr));
	udp_two_peers(&rows[0], "/system.slice/dns.service", pr);
	rows[1].cookie = 78; /* a connected socket of the same cgroup, to 127.0.0.2 */
	rows[1].cgroup = rows[0].cgroup;
	rows[1].s.cgroup_id = 50;
	rows[1].s.family = NA_F_IPV4;
	rows[1].s.proto = NA_P_UDP;
	rows[1].s.raddr[0] = 127;
	rows[1].s.raddr[3] = 2;
	rows[1].s.dir[NA_RX].packets = 1;
	rows[1].s.dir[NA_RX].payload_bytes = 40;
	s.rows = rows;
	s.nrows = 2;
	s.peers = pr;
	s.npeers = 2;
	o.classes = c;
	ASSERT_EQ(na_view_build(&s, NULL, 0, &o, &v, &n), 0, "peer-class view");
	ASSERT_EQ(n, 3, "peer-class view: two classes and no class");
	for (i = 0; i < n; i++) {
		int k = !strcmp(na_netclass_name(c, v[i].pclass), "first") ? 0 : v[i].pclass < 0 ? 2 : 1;

		rx[k] += v[i].tot[NA_RX].payload_bytes;
	}
	ASSERT_EQ(rx[0], 300, "class first: its peer's row");
	ASSERT_EQ(rx[1], 640, "class second: its peer's row and the connected socket");
	ASSERT_EQ(rx[2], 100, "no class: what found the peer table full");
	free(v);

	ASSERT_EQ(na_series_new(&held), 0, "na_series_new");
	f = held ? open_memstream(&buf, &len) : NULL;
	if (f) {
		na_series_set_names(held, names, c);
		ASSERT_EQ(na_series_write_classes(f, &s, held), 0, "na_series_write_classes");
		ASSERT_EQ(na_series_write(f, &s, held, 0), 0, "na_series_write");
		fclose(f);
		ASSERT_LINE(buf, "netacct_peer_class_payload_bytes_total{cgroup=\"/system.slice/dns.service\","
				 "unit=\"dns.service\",peer_class=\"first\",direction=\"rx\"} 300");
		ASSERT_LINE(buf, "netacct_peer_class_payload_bytes_total{cgroup=\"/system.slice/dns.service\","
				 "unit=\"dns.service\",peer_class=\"second\",direction=\"rx\"} 640");
		ASSERT_EQ(count_str(buf, "peer_class=\"\""), 0, "no series for the bytes without a class");
		ASSERT_LINE(buf, "netacct_leaf_cgroup_packets_total{cgroup=\"/system.slice/dns.service\","
				 "unit=\"dns.service\",direction=\"rx\"} 11");
		ASSERT_EQ(count_str(buf, "container=\""), 0, "names not known: no label");
		free(buf);
	}
	na_series_free(held);
	na_names_free(names);
	na_netclass_free(c);

	/* top's filter (/) finds a cgroup by its names too, not only by its path. */
	{
		struct na_view_opts fo = { .group = NA_G_SOCKET, .proto = -1, .names = fake_names, .text = "payments" };

		ASSERT_EQ(na_view_build(&s, NULL, 0, &fo, &v, &n), 0, "filtered view");
		ASSERT_EQ(n, 2, "the filter finds both sockets by their pod's name");
		free(v);
		fo.text = "checkout";
		ASSERT_EQ(na_view_build(&s, NULL, 0, &fo, &v, &n), 0, "filtered view");
		ASSERT_EQ(n, 0, "... and nothing by a name they do not have");
		free(v);
	}
}

/* ---- cli/view.c: the groupings the Prometheus text reads ---------------------- */

static void live_row(struct na_sock_row *r, uint64_t cookie, uint64_t cgid, const char *path, uint32_t pid,
		     const char *comm, uint64_t tx_payload)
{
	r->cookie = cookie;
	r->cgroup = path;
	r->s.cgroup_id = cgid;
	r->s.pid = pid;
	snprintf(r->s.comm, sizeof(r->s.comm), "%s", comm);
	r->s.proto = NA_P_TCP;
	r->s.family = NA_F_IPV4;
	r->s.dir[NA_TX].packets = 1;
	r->s.dir[NA_TX].payload_bytes = tx_payload;
	r->s.dir[NA_TX].resent_bytes = tx_payload / 10;
}

/*
 * Four live rows and a closed row of 3 connections in two cgroups; pid 1
 * "web" in both, which must stay apart. By (cgroup, pid, comm), then those
 * rows regrouped by cgroup: the same figures as the by-cgroup view of the
 * rows themselves. Peer rows regrouped by name: one row per name, the
 * unnamed ones together.
 */
static void test_prom_groupings(void)
{
	struct na_sock_row rows[4] = { 0 };
	struct na_closed_row closed = { 0 };
	struct na_snapshot s = { 0 };
	struct na_view_opts o = { .group = NA_G_CGROUP_PROCESS, .proto = -1 };
	struct na_vrow *p = NULL, *cg = NULL, *direct = NULL, *named = NULL, peers[4];
	size_t np = 0, ncg = 0, nd = 0, nn = 0, i, j;

	live_row(&rows[0], 1, 10, "/a", 1, "web", 100);
	live_row(&rows[1], 2, 10, "/a", 2, "db", 7);
	live_row(&rows[2], 3, 11, "/b", 1, "web", 5);
	live_row(&rows[3], 4, 10, "/a", 1, "web", 50);
	closed.cgroup = "/a";
	closed.k.cgroup_id = 10;
	closed.k.pid = 1;
	snprintf(closed.k.comm, sizeof(closed.k.comm), "web");
	closed.c.conns = 3;
	closed.c.dir[NA_TX].payload_bytes = 1000;
	closed.c.dir[NA_TX].resent_bytes = 40;
	s.rows = rows;
	s.nrows = 4;
	s.closed = &closed;
	s.nclosed = 1;
	ASSERT_EQ(na_view_build(&s, NULL, 0, &o, &p, &np), 0, "by cgroup and process");
	ASSERT_EQ(np, 3, "by cgroup and process: /a web, /a db, /b web");
	for (i = 0; i < np; i++) {
		if (p[i].cgroup_id == 10 && p[i].pid == 1) {
			ASSERT_STREQ(p[i].comm, "web", "/a pid 1: its comm");
			ASSERT_EQ(p[i].tot[NA_TX].payload_bytes, 100 + 50 + 1000, "/a web: two live rows and the closed one");
			ASSERT_EQ(p[i].conns, 2 + 3, "/a web: 2 live sockets and 3 closed connections");
			ASSERT_EQ(p[i].live, 2, "/a web: live sockets");
		} else if (p[i].cgroup_id == 11) {
			ASSERT_EQ(p[i].tot[NA_TX].payload_bytes, 5, "/b web: apart from /a's pid 1");
		} else {
			ASSERT_EQ(p[i].pid, 2, "/a db: pid");
			ASSERT_EQ(p[i].tot[NA_TX].payload_bytes, 7, "/a db");
		}
	}
	ASSERT_EQ(na_view_regroup(p, np, NA_G_CGROUP, &cg, &ncg), 0, "regrouped by cgroup");
	o.group = NA_G_CGROUP;
	ASSERT_EQ(na_view_build(&s, NULL, 0, &o, &direct, &nd), 0, "by cgroup");
	ASSERT_EQ(ncg, 2, "regrouped: two cgroups");
	ASSERT_EQ(nd, 2, "by cgroup: two cgroups");
	for (i = 0; cg && direct && i < ncg; i++) {
		for (j = 0; j < nd && direct[j].cgroup_id != cg[i].cgroup_id; j++)
			;
		ASSERT_EQ(j < nd, 1, "regrouped: a cgroup of the rows");
		if (j == nd)
			continue;
		ASSERT_EQ(cg[i].tot[NA_TX].payload_bytes, cg[i].cgroup_id == 10 ? 1157 : 5, "regrouped: payload");
		ASSERT_EQ(cg[i].tot[NA_TX].payload_bytes, direct[j].tot[NA_TX].payload_bytes, "regrouped = by cgroup: payload");
		ASSERT_EQ(cg[i].tot[NA_TX].resent_bytes, direct[j].tot[NA_TX].resent_bytes, "regrouped = by cgroup: resent");
		ASSERT_EQ(cg[i].tot[NA_TX].packets, cg[i].cgroup_id == 10 ? 3 : 1, "regrouped: packets (one per live row)");
		ASSERT_EQ(cg[i].tot[NA_TX].packets, direct[j].tot[NA_TX].packets, "regrouped = by cgroup: packets");
		ASSERT_EQ(cg[i].conns, cg[i].cgroup_id == 10 ? 6 : 1, "regrouped: connections");
		ASSERT_EQ(cg[i].live, cg[i].cgroup_id == 10 ? 3 : 1, "regrouped: live sockets");
		ASSERT_EQ(cg[i].live, direct[j].live, "regrouped = by cgroup: live sockets");
		ASSERT_EQ(cg[i].pid, 0, "regrouped by cgroup: no pid");
		ASSERT_STREQ(cg[i].cgroup ? cg[i].cgroup : "(null)", cg[i].cgroup_id == 10 ? "/a" : "/b", "regrouped: path");
	}
	if (cg && direct && ncg == 2 && nd == 2)
		ASSERT_EQ(cg[0].tot[NA_TX].resent_bytes, 10 + 0 + 5 + 40, "/a: resent of live rows and the closed one");

	memset(peers, 0, sizeof(peers));
	for (i = 0; i < 4; i++) {
		peers[i].group = NA_G_PEER;
		peers[i].raddr[3] = (uint8_t)i;
		peers[i].tot[NA_RX].payload_bytes = 100 * (i + 1);
	}
	peers[0].peer_name = "a.test";
	peers[2].peer_name = "b.test";
	peers[3].peer_name = "a.test";
	ASSERT_EQ(na_view_regroup(peers, 4, NA_G_PEER_NAME, &named, &nn), 0, "regrouped by peer name");
	ASSERT_EQ(nn, 3, "by name: a.test, none, b.test");
	if (named && nn == 3) {
		ASSERT_STREQ(named[0].peer_name, "a.test", "first: a.test");
		ASSERT_EQ(named[0].tot[NA_RX].payload_bytes, 100 + 400, "a.test: its two addresses");
		ASSERT_EQ(named[1].peer_name == NULL, 1, "then the unnamed peer");
		ASSERT_EQ(named[1].tot[NA_RX].payload_bytes, 200, "unnamed");
		ASSERT_STREQ(named[2].peer_name, "b.test", "then b.test");
		ASSERT_EQ(named[2].tot[NA_RX].payload_bytes, 300, "b.test");
	}
	free(p);
	free(cg);
	free(direct);
	free(named);
}

int main(void)
{
	test_prom_groupings();
	test_names();
	test_peers();
	test_peer_classes();
	test_record();
	test_label();
	test_sort_top();
	test_figs();
	test_aging();
	test_prom();
	if (!mkdtemp(tmpdir)) {
		CHECK(0, "mkdtemp: %s", strerror(errno));
	} else {
		test_out_plain();
		test_out_gz();
		test_out_write_error();
		test_out_signals();
		test_out_refuse();
		remove_all();
		fprintf(stderr, "# the next message is expected (a write past the file size limit):\n");
		test_rotlog();
		rmdir(tmpdir);
	}
	return check_summary();
}
