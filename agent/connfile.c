// SPDX-License-Identifier: (BSD-2-Clause OR GPL-2.0)
/*
 * The connection log followed into the configured file (log-file,
 * docs/agent.md): every record of the pinned ring buffer becomes a line of
 * the file (the command's conn_line: netacct log --json's records), which
 * agent/rotlog.c rotates by size. The ring buffer is followed again when an
 * attach replaces it, and a file that cannot be opened is tried again once
 * a minute.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "daemon.h"

/*
 * One record. libbpf stores the consumer position past a record even when
 * its callback fails (agent/connlog.c), so a record whose line could not be
 * written is kept here (`pending`) and consuming stops: the records after it
 * stay in the ring buffer until the file takes the pending line.
 */
static int on_log_record(void *ctx, const struct na_conn *c)
{
	struct na_agent *a = ctx;
	char *line = NULL;
	size_t len = 0;
	FILE *m = open_memstream(&line, &len);
	int err;

	if (!m)
		return na_err(-ENOMEM, "agent: a connection record is lost"); /* consumed all the same */
	err = a->o->conn_line(m, a->log, c, na_boot_offset_ns(), a->names, a->classes);
	if (fclose(m) && !err)
		err = na_err(-ENOMEM, "agent: a connection record is lost");
	if (!err && na_rotlog_write(&a->rl, line, len)) {
		na_log(NA_LOG_ERROR, "agent: connection records wait in the ring buffer until %s can be written",
		       a->rl.path);
		a->pending = line;
		a->pending_len = len;
		return -EAGAIN;
	}
	free(line);
	return err;
}

/* Consume the ring buffer into the file, the pending line first; under a->lock. */
void na_agent_log_drain(struct na_agent *a)
{
	if (!a->log)
		return;
	if (a->pending) {
		if (na_rotlog_write(&a->rl, a->pending, a->pending_len))
			return;
		free(a->pending);
		a->pending = NULL;
		na_log(NA_LOG_INFO, "agent: %s is written again", a->rl.path);
	}
	na_connlog_consume(a->log);
}

void na_agent_log_close(struct na_agent *a)
{
	if (a->log) {
		na_agent_log_drain(a);
		na_connlog_close(a->log);
	}
	a->log = NULL;
	if (a->pending)
		na_log(NA_LOG_ERROR, "agent: one connection record could not be written to %s and is lost",
		       a->rl.path);
	free(a->pending);
	a->pending = NULL;
	na_rotlog_close(&a->rl);
}

/*
 * The log file's directory, made (0750) when missing below a trusted one,
 * and trusted: root's and writable by nobody else (na_dir_trust_open()).
 * 0, or -errno reported with the reason.
 */
int na_agent_log_dir_check(const char *file)
{
	return na_file_dir_check(file, "log-file", 0750);
}

/* Follow the pinned ring buffer into the configured file (none: nothing to do). */
int na_agent_log_open(struct na_agent *a)
{
	int err;

	na_agent_log_close(a);
	if (!a->conf.log_file[0])
		return 0;
	err = na_agent_log_dir_check(a->conf.log_file);
	if (!err)
		err = na_rotlog_open(&a->rl, a->conf.log_file, a->conf.log_max_bytes, a->conf.log_keep);
	if (!err)
		err = na_connlog_open(a->pin_root, on_log_record, a, &a->log);
	if (err) {
		na_rotlog_close(&a->rl);
		a->log = NULL;
		a->log_retry_s = na_mono_s() + 60; /* a failure is tried again (and said again) once a minute */
	}
	return err;
}

/* The pinned ring buffer may have been replaced (detach --all, attach): follow the new one. */
void na_agent_log_check(struct na_agent *a)
{
	if (a->conf.log_file[0] && (!a->log || na_connlog_pinned(a->log) != 1) &&
	    (a->log || na_mono_s() >= a->log_retry_s))
		na_agent_log_open(a);
}
