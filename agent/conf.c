// SPDX-License-Identifier: (BSD-2-Clause OR GPL-2.0)
/*
 * The agent's configuration file (docs/agent.md): one "key value" per line,
 * '#' starts a comment, blank lines are ignored. A bad line is an error that
 * names the file and the line; nothing of a file with an error is used.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "netacct.h"

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

/* One line's key and value; *err_why set on failure. */
static int conf_line(struct na_conf *c, char *key, char *val, unsigned *seen, const char **why)
{
	static const char *const keys[] = { "attach",   "group",       "listen",      "rescan",     "max-sockets",
					    "max-closed", "log-size", "log-file", "log-max-bytes", "log-keep",
					    "per-process", "per-process-max", "max-peers", "per-peer", "per-peer-max",
					    "history", "history-interval", "history-5min-hours", "history-hourly-days",
					    "history-daily-days", "history-monthly-months", "history-peers-max", "networks" };
	uint64_t v;
	size_t k;
	char **a;

	for (k = 0; k < sizeof(keys) / sizeof(keys[0]); k++)
		if (!strcmp(key, keys[k]))
			break;
	if (k == sizeof(keys) / sizeof(keys[0])) {
		*why = "unknown key (attach, group, listen, rescan, max-sockets, max-closed, log-size, log-file, "
		       "log-max-bytes, log-keep, per-process, per-process-max, max-peers, per-peer, per-peer-max, "
		       "history, history-interval, history-5min-hours, history-hourly-days, history-daily-days, "
		       "history-monthly-months, history-peers-max, networks)";
		return -1;
	}
	if (!*val) {
		*why = "a value is missing";
		return -1;
	}
	if (k && (*seen & (1u << k))) {
		*why = "given twice (only attach may repeat)";
		return -1;
	}
	*seen |= 1u << k;
	switch (k) {
	case 0: /* attach */
		if (val[0] != '/') {
			*why = "takes an absolute cgroup path or glob";
			return -1;
		}
		if (c->nattach >= NA_CONF_MAX_ATTACH) {
			*why = "more than 256 attach lines";
			return -1;
		}
		a = realloc(c->attach, (c->nattach + 1) * sizeof(*a));
		if (!a || !(a[c->nattach] = strdup(val))) {
			if (a)
				c->attach = a;
			*why = "out of memory";
			return -1;
		}
		c->attach = a;
		c->nattach++;
		return 0;
	case 1: /* group: a name, a number, or root (no group) */
		if (na_parse_group(val, &c->gid)) {
			*why = "no such group (a name from /etc/group, or a number)";
			return -1;
		}
		c->group_set = 1;
		return 0;
	case 2:
		if (na_conf_listen(val, c)) {
			*why = NA_CONF_LISTEN_WHY;
			return -1;
		}
		return 0;
	case 3:
		if (na_parse_u64(val, 1, 3600, &v)) {
			*why = "takes seconds, 1 to 3600";
			return -1;
		}
		c->rescan_s = (unsigned)v;
		return 0;
	case 4:
	case 5:
		if (na_parse_u64(val, 16, 1ull << 24, &v)) {
			*why = "takes a number from 16 to 16777216";
			return -1;
		}
		*(k == 4 ? &c->max_sockets : &c->max_closed) = (uint32_t)v;
		return 0;
	case 7:
		if (strcmp(val, "none") && val[0] != '/') {
			*why = "takes an absolute path, or none";
			return -1;
		}
		if (strlen(val) >= sizeof(c->log_file) - 16) {
			*why = "path too long";
			return -1;
		}
		snprintf(c->log_file, sizeof(c->log_file), "%s", strcmp(val, "none") ? val : "");
		return 0;
	case 8:
		if (na_parse_u64(val, 4096, 1ull << 40, &v)) {
			*why = "takes bytes, 4096 to 1099511627776";
			return -1;
		}
		c->log_max_bytes = v;
		return 0;
	case 9:
		if (na_parse_u64(val, 0, 100, &v)) {
			*why = "takes a count of compressed files to keep, 0 to 100";
			return -1;
		}
		c->log_keep = (unsigned)v;
		return 0;
	case 10:
		if (strcmp(val, "yes") && strcmp(val, "no")) {
			*why = "takes yes or no";
			return -1;
		}
		c->per_process = !strcmp(val, "yes");
		return 0;
	case 11:
		if (na_parse_u64(val, 1, 100000, &v)) {
			*why = "takes a number of processes, 1 to 100000";
			return -1;
		}
		c->per_process_max = (unsigned)v;
		return 0;
	case 12:
		if (na_parse_u64(val, 16, 1ull << 24, &v)) {
			*why = "takes a number from 16 to 16777216";
			return -1;
		}
		c->max_peers = (uint32_t)v;
		return 0;
	case 13:
		if (strcmp(val, "yes") && strcmp(val, "no")) {
			*why = "takes yes or no";
			return -1;
		}
		c->per_peer = !strcmp(val, "yes");
		return 0;
	case 14:
		if (na_parse_u64(val, 1, 100000, &v)) {
			*why = "takes a number of peers, 1 to 100000";
			return -1;
		}
		c->per_peer_max = (unsigned)v;
		return 0;
	case 15: /* history */
		if (strcmp(val, "none") && val[0] != '/') {
			*why = "takes an absolute path, or none";
			return -1;
		}
		if (strlen(val) >= sizeof(c->history) - 16) {
			*why = "path too long";
			return -1;
		}
		c->history_none = !strcmp(val, "none");
		snprintf(c->history, sizeof(c->history), "%s", c->history_none ? "" : val);
		return 0;
	case 16:
		/* Samples fall on every 5-minute boundary, so that a period holds exactly its own traffic. */
		if (na_parse_u64(val, 1, 300, &v) || 300 % v) {
			*why = "takes seconds that divide 300 (1, 2, 5, 10, 15, 20, 30, 60, 300, ...)";
			return -1;
		}
		c->history_interval_s = (unsigned)v;
		return 0;
	case 17:
		if (na_parse_u64(val, 1, 87600, &v)) {
			*why = "takes hours, 1 to 87600";
			return -1;
		}
		c->history_keep_5min_h = (unsigned)v;
		return 0;
	case 18:
	case 19:
		if (na_parse_u64(val, 1, 36500, &v)) {
			*why = "takes days, 1 to 36500";
			return -1;
		}
		*(k == 18 ? &c->history_keep_hour_d : &c->history_keep_day_d) = (unsigned)v;
		return 0;
	case 20:
		if (!strcmp(val, "forever")) {
			c->history_keep_month_m = 0;
			return 0;
		}
		if (na_parse_u64(val, 1, 12000, &v)) {
			*why = "takes months, 1 to 12000, or forever";
			return -1;
		}
		c->history_keep_month_m = (unsigned)v;
		return 0;
	case 21:
		if (na_parse_u64(val, 1, 1000000, &v)) {
			*why = "takes a number of peers, 1 to 1000000";
			return -1;
		}
		c->history_peers_max = (unsigned)v;
		return 0;
	case 22: /* networks: a file of named networks (peer classes), read when the agent starts and reloads */
		if (val[0] != '/') {
			*why = "takes an absolute path";
			return -1;
		}
		if (strlen(val) >= sizeof(c->networks)) {
			*why = "path too long";
			return -1;
		}
		snprintf(c->networks, sizeof(c->networks), "%s", val);
		return 0;
	default: /* log-size */
		if (na_parse_u64(val, 4096, 1ull << 30, &v) || (v & (v - 1))) {
			*why = "takes bytes, a power of two from 4096 to 1073741824";
			return -1;
		}
		c->log_bytes = (uint32_t)v;
		return 0;
	}
}

static char *trim(char *s)
{
	char *e;

	while (*s == ' ' || *s == '\t')
		s++;
	e = s + strlen(s);
	while (e > s && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\n' || e[-1] == '\r'))
		*--e = '\0';
	return s;
}

int na_conf_parse(FILE *f, const char *name, struct na_conf *out)
{
	struct na_conf c;
	char line[4096], *key = NULL, *val, *hash;
	unsigned seen = 0, n = 0;
	const char *why = NULL;

	na_conf_defaults(&c);
	while (fgets(line, sizeof(line), f)) {
		n++;
		key = NULL;
		if (!strchr(line, '\n') && !feof(f)) {
			why = "line longer than 4095 bytes";
			goto bad;
		}
		/* A comment starts at a '#' at the line's start or after a blank. */
		for (hash = line; (hash = strchr(hash, '#')); hash++)
			if (hash == line || hash[-1] == ' ' || hash[-1] == '\t') {
				*hash = '\0';
				break;
			}
		key = trim(line);
		if (!*key)
			continue;
		val = key + strcspn(key, " \t");
		if (*val)
			*val++ = '\0';
		val = trim(val);
		if (conf_line(&c, key, val, &seen, &why))
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
