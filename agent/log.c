// SPDX-License-Identifier: (BSD-2-Clause OR GPL-2.0)
/* One reporter for every diagnostic: stderr, "netacct: <what>: <why>". */
#include <errno.h>
#include <string.h>

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

void na_log(enum na_log_level lvl, const char *fmt, ...)
{
	va_list ap;

	if (lvl == NA_LOG_DEBUG && !verbose)
		return;
	flockfile(stderr); /* one whole line, whatever other threads log (the agent) */
	fputs(lvl == NA_LOG_WARN ? "netacct: warning: " : "netacct: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	funlockfile(stderr);
}

int na_err(int err, const char *fmt, ...)
{
	va_list ap;

	flockfile(stderr);
	fputs("netacct: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, ": %s\n", strerror(err < 0 ? -err : err));
	funlockfile(stderr);
	return err;
}
