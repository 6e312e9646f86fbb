// SPDX-License-Identifier: (BSD-2-Clause OR GPL-2.0)
/* One reporter for every diagnostic: stderr, "netacct: <what>: <why>". */
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "netacct.h"

static int verbose;

void na_log_set_verbose(int v)
{
	verbose = v;
}

int na_log_verbose(void)
{
	return verbose;
}

/*
 * One line: the message with every control character shown as '?'. A message
 * carries names that other people chose (a cgroup a delegated user made and a
 * glob found, a comm, a path from the command line): none of them may move the
 * cursor or start an escape sequence on the operator's terminal, or split the
 * line in a log. UTF-8 passes untouched.
 */
static void emit(const char *prefix, const char *fmt, va_list ap, const char *suffix)
{
	char *msg = NULL, *p;
	int n = vasprintf(&msg, fmt, ap);

	flockfile(stderr); /* one whole line, whatever other threads log (the agent) */
	fputs(prefix, stderr);
	if (n >= 0 && msg) {
		for (p = msg; *p; p++)
			if ((unsigned char)*p < 0x20 || *p == 0x7f)
				*p = '?';
		fputs(msg, stderr);
	} else {
		fputs("(no memory for the message)", stderr);
	}
	fputs(suffix, stderr);
	fputc('\n', stderr);
	funlockfile(stderr);
	free(msg);
}

void na_log(enum na_log_level lvl, const char *fmt, ...)
{
	va_list ap;

	if (lvl == NA_LOG_DEBUG && !verbose)
		return;
	va_start(ap, fmt);
	emit(lvl == NA_LOG_WARN ? "netacct: warning: " : "netacct: ", fmt, ap, "");
	va_end(ap);
}

int na_err(int err, const char *fmt, ...)
{
	char why[160];
	va_list ap;

	snprintf(why, sizeof(why), ": %s", strerror(err < 0 ? -err : err));
	va_start(ap, fmt);
	emit("netacct: ", fmt, ap, why);
	va_end(ap);
	return err;
}

/* Start a new window when the last one is over: how many it did not show. */
static unsigned window(struct na_ratelimit *rl, int64_t now)
{
	unsigned hidden = 0;

	if (now - rl->window_s >= NA_RATELIMIT_S) {
		hidden = rl->hidden;
		rl->window_s = now;
		rl->shown = rl->hidden = 0;
	}
	return hidden;
}

static pthread_mutex_t ratelimit_lock = PTHREAD_MUTEX_INITIALIZER;

int64_t na_mono_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec;
}

static void say_hidden(const char *what, unsigned hidden)
{
	if (hidden)
		na_log(NA_LOG_WARN, "%s: %u more messages not shown (at most %d every %d s)", what, hidden,
		       NA_RATELIMIT_BURST, NA_RATELIMIT_S);
}

void na_ratelimit_log(struct na_ratelimit *rl, enum na_log_level lvl, const char *fmt, ...)
{
	unsigned hidden;
	int show;
	va_list ap;

	pthread_mutex_lock(&ratelimit_lock);
	hidden = window(rl, na_mono_s());
	show = rl->shown < NA_RATELIMIT_BURST;
	if (show)
		rl->shown++;
	else
		rl->hidden++;
	pthread_mutex_unlock(&ratelimit_lock);
	say_hidden(rl->what, hidden);
	if (!show || (lvl == NA_LOG_DEBUG && !verbose))
		return;
	va_start(ap, fmt);
	emit(lvl == NA_LOG_WARN ? "netacct: warning: " : "netacct: ", fmt, ap, "");
	va_end(ap);
}

void na_ratelimit_flush(struct na_ratelimit *rl)
{
	unsigned hidden;

	pthread_mutex_lock(&ratelimit_lock);
	hidden = window(rl, na_mono_s());
	pthread_mutex_unlock(&ratelimit_lock);
	say_hidden(rl->what, hidden);
}
