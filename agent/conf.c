// SPDX-License-Identifier: (BSD-2-Clause OR GPL-2.0)
/*
 * The agent's configuration file (docs/agent.md): one "key value" per line,
 * '#' starts a comment, blank lines are ignored. A bad line is an error that
 * names the file and the line; nothing of a file with an error is used.
 */
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

#define NA_CONF_MAX_ATTACH 256

void na_conf_defaults(struct na_conf *c)
{
	memset(c, 0, sizeof(*c));
	snprintf(c->listen_addr, sizeof(c->listen_addr), "127.0.0.1");
	c->listen_port = NA_CONF_DEFAULT_PORT;
	c->rescan_s = 10;
	snprintf(c->log_file, sizeof(c->log_file), "%s", NA_CONF_DEFAULT_LOG_FILE);
	c->log_max_bytes = 16ull << 20;
	c->log_keep = 5;
	c->per_process_max = 1000;
	c->per_peer_max = 1000;
	c->history_interval_s = 60;
	c->history_keep_5min_h = 48;
	c->history_keep_hour_d = 90;
	c->history_keep_day_d = 730;
	c->history_keep_month_m = 0;
	c->history_peers_max = 1000;
}

void na_conf_free(struct na_conf *c)
{
	size_t i;

	for (i = 0; i < c->nattach; i++)
		free(c->attach[i]);
	free(c->attach);
	c->attach = NULL;
	c->nattach = 0;
}

int na_conf_listen(const char *v, struct na_conf *c)
{
	const char *colon = strrchr(v, ':');
	uint64_t port;
	size_t n;

	if (!colon || colon == v || na_parse_u64(colon + 1, 1, 65535, &port))
		return -1;
	n = (size_t)(colon - v);
	/* [::1]:9477 for IPv6 */
	if (v[0] == '[') {
		if (n < 3 || v[n - 1] != ']')
			return -1;
		v++;
		n -= 2;
	}
	if (n >= sizeof(c->listen_addr))
		return -1;
	memcpy(c->listen_addr, v, n);
	c->listen_addr[n] = '\0';
	c->listen_port = (uint16_t)port;
	return 0;
}

/* ---- the keys -------------------------------------------------------------- */
/*
 * A key is a number in a range, yes or no, or a value with a setter of its
 * own; each setter returns 0, or -EINVAL with *why set.
 */
enum conf_kind {
	CONF_NUMBER, /* a decimal in [min, max] into an unsigned field of `size` bytes (4 or 8) */
	CONF_YES_NO, /* yes or no into an int field: 1 or 0 */
	CONF_SETTER, /* set() does the parsing and the storing */
};

struct conf_key {
	const char *name;
	enum conf_kind kind;
	size_t off, size;     /* where in struct na_conf (CONF_NUMBER, CONF_YES_NO) */
	uint64_t min, max;    /* CONF_NUMBER */
	const char *why;      /* the reason a bad value gets (CONF_NUMBER, CONF_YES_NO) */
	int (*set)(struct na_conf *c, const char *val, const char **why);
};

#define CONF_FIELD(field) offsetof(struct na_conf, field), sizeof(((struct na_conf *)0)->field)
#define NUMBER(key, field, lo, hi, reason) { key, CONF_NUMBER, CONF_FIELD(field), lo, hi, reason, NULL }
#define YES_NO(key, field) { key, CONF_YES_NO, CONF_FIELD(field), 0, 0, "takes yes or no", NULL }
#define SETTER(key, fn) { key, CONF_SETTER, 0, 0, 0, 0, NULL, fn }

static int fail(const char **why, const char *reason)
{
	*why = reason;
	return -EINVAL;
}

/* An absolute cgroup path or glob; the only key that may repeat. */
static int set_attach(struct na_conf *c, const char *val, const char **why)
{
	char **a;

	if (val[0] != '/')
		return fail(why, "takes an absolute cgroup path or glob");
	if (c->nattach >= NA_CONF_MAX_ATTACH)
		return fail(why, "more than 256 attach lines");
	a = realloc(c->attach, (c->nattach + 1) * sizeof(*a));
	if (!a || !(a[c->nattach] = strdup(val))) {
		if (a)
			c->attach = a;
		return fail(why, "out of memory");
	}
	c->attach = a;
	c->nattach++;
	return 0;
}

/* A name, a number, or root (no group). */
static int set_group(struct na_conf *c, const char *val, const char **why)
{
	if (na_parse_group(val, &c->gid))
		return fail(why, "no such group (a name from /etc/group, or a number)");
	c->group_set = 1;
	return 0;
}

static int set_listen(struct na_conf *c, const char *val, const char **why)
{
	return na_conf_listen(val, c) ? fail(why, NA_CONF_LISTEN_WHY) : 0;
}

/* The ring buffer's size: the kernel takes only a power of two. */
static int set_log_size(struct na_conf *c, const char *val, const char **why)
{
	uint64_t v;

	if (na_parse_u64(val, 4096, 1ull << 30, &v) || (v & (v - 1)))
		return fail(why, "takes bytes, a power of two from 4096 to 1073741824");
	c->log_bytes = (uint32_t)v;
	return 0;
}

/*
 * An absolute path or none into buf ("" for none). A file's rotated names
 * and a database's journal add a suffix: keep 16 bytes for it.
 */
static int set_path_or_none(char *buf, size_t size, const char *val, const char **why)
{
	if (strcmp(val, "none") && val[0] != '/')
		return fail(why, "takes an absolute path, or none");
	if (strlen(val) >= size - 16)
		return fail(why, "path too long");
	snprintf(buf, size, "%s", strcmp(val, "none") ? val : "");
	return 0;
}

static int set_log_file(struct na_conf *c, const char *val, const char **why)
{
	return set_path_or_none(c->log_file, sizeof(c->log_file), val, why);
}

static int set_history(struct na_conf *c, const char *val, const char **why)
{
	if (set_path_or_none(c->history, sizeof(c->history), val, why))
		return -EINVAL;
	c->history_none = !strcmp(val, "none");
	return 0;
}

/* Samples fall on every 5-minute boundary, so that a period holds exactly its own traffic. */
static int set_history_interval(struct na_conf *c, const char *val, const char **why)
{
	uint64_t v;

	if (na_parse_u64(val, 1, 300, &v) || 300 % v)
		return fail(why, "takes seconds that divide 300 (1, 2, 5, 10, 15, 20, 30, 60, 300, ...)");
	c->history_interval_s = (unsigned)v;
	return 0;
}

static int set_history_months(struct na_conf *c, const char *val, const char **why)
{
	uint64_t v;

	if (!strcmp(val, "forever")) {
		c->history_keep_month_m = 0;
		return 0;
	}
	if (na_parse_u64(val, 1, 12000, &v))
		return fail(why, "takes months, 1 to 12000, or forever");
	c->history_keep_month_m = (unsigned)v;
	return 0;
}

/* A file of named networks (peer classes), read when the agent starts and reloads. */
static int set_networks(struct na_conf *c, const char *val, const char **why)
{
	if (val[0] != '/')
		return fail(why, "takes an absolute path");
	if (strlen(val) >= sizeof(c->networks))
		return fail(why, "path too long");
	snprintf(c->networks, sizeof(c->networks), "%s", val);
	return 0;
}

/* In the order the unknown-key message lists them. */
static const struct conf_key conf_keys[] = {
	SETTER("attach", set_attach),
	SETTER("group", set_group),
	SETTER("listen", set_listen),
	NUMBER("rescan", rescan_s, 1, 3600, "takes seconds, 1 to 3600"),
	NUMBER("max-sockets", max_sockets, 16, 1ull << 24, "takes a number from 16 to 16777216"),
	NUMBER("max-closed", max_closed, 16, 1ull << 24, "takes a number from 16 to 16777216"),
	SETTER("log-size", set_log_size),
	SETTER("log-file", set_log_file),
	NUMBER("log-max-bytes", log_max_bytes, 4096, 1ull << 40, "takes bytes, 4096 to 1099511627776"),
	NUMBER("log-keep", log_keep, 0, 100, "takes a count of compressed files to keep, 0 to 100"),
	YES_NO("per-process", per_process),
	NUMBER("per-process-max", per_process_max, 1, 100000, "takes a number of processes, 1 to 100000"),
	NUMBER("max-peers", max_peers, 16, 1ull << 24, "takes a number from 16 to 16777216"),
	YES_NO("per-peer", per_peer),
	NUMBER("per-peer-max", per_peer_max, 1, 100000, "takes a number of peers, 1 to 100000"),
	SETTER("history", set_history),
	SETTER("history-interval", set_history_interval),
	NUMBER("history-5min-hours", history_keep_5min_h, 1, 87600, "takes hours, 1 to 87600"),
	NUMBER("history-hourly-days", history_keep_hour_d, 1, 36500, "takes days, 1 to 36500"),
	NUMBER("history-daily-days", history_keep_day_d, 1, 36500, "takes days, 1 to 36500"),
	SETTER("history-monthly-months", set_history_months),
	NUMBER("history-peers-max", history_peers_max, 1, 1000000, "takes a number of peers, 1 to 1000000"),
	SETTER("networks", set_networks),
};
/* Each key's bit in na_conf_parse's `seen`. */
_Static_assert(NA_ARRAY_SIZE(conf_keys) <= 32, "a key more than an unsigned has bits for");

static int set_field(struct na_conf *c, const struct conf_key *k, const char *val, const char **why)
{
	char *field = (char *)c + k->off;
	uint64_t v;

	if (k->kind == CONF_YES_NO) {
		if (strcmp(val, "yes") && strcmp(val, "no"))
			return fail(why, k->why);
		*(int *)field = !strcmp(val, "yes");
		return 0;
	}
	if (na_parse_u64(val, k->min, k->max, &v))
		return fail(why, k->why);
	if (k->size == sizeof(uint64_t))
		*(uint64_t *)field = v;
	else
		*(uint32_t *)field = (uint32_t)v;
	return 0;
}

/* The reason an unknown key gets: every key, in the table's order. */
static void unknown_key_why(char *buf, size_t len)
{
	size_t i, n;

	n = (size_t)snprintf(buf, len, "unknown key (");
	for (i = 0; i < NA_ARRAY_SIZE(conf_keys) && n < len; i++)
		n += (size_t)snprintf(buf + n, len - n, "%s%s", i ? ", " : "", conf_keys[i].name);
	if (n < len)
		snprintf(buf + n, len - n, ")");
}

/* One line's key and value: 0, -ENOENT for an unknown key, or -EINVAL with *why set. */
static int conf_line(struct na_conf *c, const char *key, const char *val, unsigned *seen, const char **why)
{
	const struct conf_key *k;
	size_t i;

	for (i = 0; i < NA_ARRAY_SIZE(conf_keys) && strcmp(key, conf_keys[i].name); i++)
		;
	if (i == NA_ARRAY_SIZE(conf_keys))
		return -ENOENT;
	k = &conf_keys[i];
	if (!*val)
		return fail(why, "a value is missing");
	if (k->set != set_attach && (*seen & (1u << i)))
		return fail(why, "given twice (only attach may repeat)");
	*seen |= 1u << i;
	return k->kind == CONF_SETTER ? k->set(c, val, why) : set_field(c, k, val, why);
}

int na_conf_parse(FILE *f, const char *name, struct na_conf *out)
{
	struct na_conf c;
	char line[4096], unknown[512], *key = NULL, *val;
	unsigned seen = 0, n = 0;
	int err;
	const char *why = NULL;

	na_conf_defaults(&c);
	while (fgets(line, sizeof(line), f)) {
		n++;
		key = NULL;
		if (!strchr(line, '\n') && !feof(f)) {
			why = "line longer than 4095 bytes";
			goto bad;
		}
		na_cut_comment(line);
		key = na_trim(line);
		if (!*key)
			continue;
		val = key + strcspn(key, " \t");
		if (*val)
			*val++ = '\0';
		val = na_trim(val);
		err = conf_line(&c, key, val, &seen, &why);
		if (err == -ENOENT) {
			unknown_key_why(unknown, sizeof(unknown));
			why = unknown;
		}
		if (err)
			goto bad;
	}
	if (ferror(f)) {
		na_conf_free(&c);
		return na_err(-EIO, "read %s", name);
	}
	if (!c.nattach) {
		na_conf_free(&c);
		na_log(NA_LOG_ERROR, "%s: no attach line: nothing to count", name);
		return -EINVAL;
	}
	*out = c;
	return 0;
bad:
	na_log(NA_LOG_ERROR, "%s:%u: %s: %s", name, n, key && *key ? key : "line", why);
	na_conf_free(&c);
	return -EINVAL;
}

int na_conf_load(const char *path, struct na_conf *out)
{
	FILE *f = fopen(path, "re");
	int err;

	if (!f)
		return na_err(-errno, "open config %s%s", path,
			      errno == ENOENT ? " (write one: docs/agent.md, or --config FILE)" : "");
	err = na_conf_parse(f, path, out);
	fclose(f);
	return err;
}
