// SPDX-License-Identifier: (BSD-2-Clause OR GPL-2.0)
/*
 * The agent: the long-running service (docs/agent.md). It attaches the
 * cgroups its configuration names (paths or globs, scanned again every
 * `rescan` seconds, agent/scan.c), follows the connection log into its file
 * (agent/connfile.c), records the traffic history (agent/recorder.c) and
 * serves /metrics with libmicrohttpd (agent/http.c). SIGHUP reloads the
 * configuration (a bad one is reported and the running one kept); SIGTERM
 * and SIGINT end it, leaving the attachments in place unless
 * detach_on_exit. One agent per pin root: a second one finds the lock taken
 * and says who holds it (agent/runfiles.c).
 *
 * The counters come from the pinned maps, so they do not go back when the
 * agent restarts; the agent holds no counting state of its own.
 */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <sys/signalfd.h>
#include <time.h>
#include <unistd.h>

#include "daemon.h"

static void agent_signals(sigset_t *sigs)
{
	sigemptyset(sigs);
	sigaddset(sigs, SIGHUP);
	sigaddset(sigs, SIGTERM);
	sigaddset(sigs, SIGINT);
}

void na_agent_signals_hold(void)
{
	sigset_t sigs;

	agent_signals(&sigs);
	sigprocmask(SIG_BLOCK, &sigs, NULL);
}

/* The peer classes the configuration (or --networks) names: 0, or -errno after reporting FILE:LINE. */
static int load_classes(const struct na_agent *a, const struct na_conf *c, struct na_netclass **out)
{
	return na_netclass_load(a->o->networks ? a->o->networks : c->networks[0] ? c->networks : NULL, out);
}

/*
 * The configuration, loaded and checked before anything starts: 0,
 * NA_AGENT_LISTEN_REFUSED, or -errno (reported), with nothing kept.
 */
static int prepare(struct na_agent *a)
{
	int err;

	err = na_caps_check_attach("agent");
	if (!err)
		err = na_conf_load(a->conf_path, &a->conf);
	if (err)
		return err;
	/* A log directory others can write is a configuration error: refused before anything starts. */
	if (a->conf.log_file[0] && (err = na_agent_log_dir_check(a->conf.log_file))) {
		na_log(NA_LOG_ERROR, "agent: log-file %s in %s refused (see above); nothing started", a->conf.log_file,
		       a->conf_path);
		goto fail;
	}
	if ((err = na_recorder_check(a->pin_root, &a->conf))) {
		na_log(NA_LOG_ERROR, "agent: the history database's directory is refused (see above); nothing started");
		goto fail;
	}
	if (a->o->listen && a->o->listen_apply(&a->conf, a->o->listen)) {
		err = NA_AGENT_LISTEN_REFUSED;
		goto fail;
	}
	/* A networks file with an error is a configuration error too: nothing of it is used, nothing starts. */
	if ((err = load_classes(a, &a->conf, &a->classes)) || (err = na_names_new(NULL, &a->names))) {
		na_netclass_free(a->classes);
		a->classes = NULL;
		goto fail;
	}
	return 0;
fail:
	na_conf_free(&a->conf);
	return err;
}

/*
 * The lock, the signals, the attachments, /metrics, the history and the
 * connection log: 0, or -errno (reported); what did start is ended by
 * cleanup().
 */
static int start(struct na_agent *a, int *sfd)
{
	sigset_t sigs;
	int err;

	err = na_agent_lock_take(a);
	if (err)
		return err;
	agent_signals(&sigs);
	if ((*sfd = signalfd(-1, &sigs, SFD_CLOEXEC)) < 0)
		return na_err(-errno, "agent: signals");
	signal(SIGPIPE, SIG_IGN);
	if ((err = na_agent_sync(a, 0)) || (err = na_agent_http_start(a)) ||
	    (err = na_recorder_new(&a->rec, a->pin_root, &a->conf)))
		return err;
	pthread_mutex_lock(&a->lock);
	if (na_agent_log_open(a))
		na_log(NA_LOG_WARN, "agent: the connection log is not followed yet (tried again every minute)");
	pthread_mutex_unlock(&a->lock);
	/* A failed attach (another netacct's state, say) is retried: not counted as attached. */
	na_log(NA_LOG_INFO, "agent: running, %zu of %zu cgroup(s) from %s attached", a->nlive, a->nattached,
	       a->conf_path);
	return 0;
}

/* What prepare() refuses, in a configuration a reload read: 0, or -EINVAL (reported: the running one stays). */
static int reload_check(const struct na_agent *a, const struct na_conf *nc, struct na_netclass **classes)
{
	if (nc->log_file[0] && na_agent_log_dir_check(nc->log_file)) {
		na_log(NA_LOG_ERROR, "agent: reload: log-file %s refused (see above); the running configuration stays",
		       nc->log_file);
		return -EINVAL;
	}
	if (na_recorder_check(a->pin_root, nc)) {
		na_log(NA_LOG_ERROR, "agent: reload: history directory refused (see above); the running configuration stays");
		return -EINVAL;
	}
	/* The networks file is read again too: its classes are part of what a reload applies. */
	if (load_classes(a, nc, classes)) {
		na_log(NA_LOG_ERROR, "agent: reload: the networks file has errors (see above); the running configuration stays");
		return -EINVAL;
	}
	return 0;
}

/* SIGHUP: the configuration read again; 0 when applied, -EINVAL when the running one stays (reported). */
static int reload(struct na_agent *a)
{
	struct na_netclass *classes = NULL;
	struct na_conf nc;

	if (na_conf_load(a->conf_path, &nc)) {
		na_log(NA_LOG_ERROR, "agent: reload: %s has errors; the running configuration stays", a->conf_path);
		return -EINVAL;
	}
	if (reload_check(a, &nc, &classes)) {
		na_conf_free(&nc);
		return -EINVAL;
	}
	if (a->o->listen)
		a->o->listen_apply(&nc, a->o->listen);
	pthread_mutex_lock(&a->lock);
	if (strcmp(nc.listen_addr, a->conf.listen_addr) || nc.listen_port != a->conf.listen_port)
		na_log(NA_LOG_WARN, "agent: reload: listen changed; it takes effect at the next start");
	snprintf(nc.listen_addr, sizeof(nc.listen_addr), "%s", a->conf.listen_addr);
	nc.listen_port = a->conf.listen_port;
	na_conf_free(&a->conf);
	a->conf = nc;
	na_recorder_sample(a->rec); /* what the cgroups a reload detaches counted, first */
	na_netclass_free(a->classes);
	a->classes = classes;
	na_agent_sync(a, 1);
	na_recorder_reconf(&a->rec, a->pin_root, &a->conf);
	na_agent_log_open(a);
	pthread_mutex_unlock(&a->lock);
	na_log(NA_LOG_INFO, "agent: reloaded %s: %zu of %zu cgroup(s) attached", a->conf_path, a->nlive, a->nattached);
	return 0;
}

/* Every `rescan` seconds: the patterns expanded again, the ring buffer checked, names not seen for long dropped. */
static void rescan(struct na_agent *a)
{
	pthread_mutex_lock(&a->lock);
	na_agent_sync(a, 0);
	na_agent_log_check(a);
	/* The log's records name cgroups too: an agent nobody scrapes must not keep them all. */
	na_names_pass(a->names);
	na_names_expire(a->names, NA_NAMES_IDLE_S);
	pthread_mutex_unlock(&a->lock);
}

/* How long the loop may wait for a signal before its next errand. */
static int wait_ms(const struct na_agent *a, int64_t next_scan)
{
	int64_t now = na_mono_s();
	int ms = next_scan > now ? (int)(next_scan - now) * 1000 : 0; /* rescan <= 3600 s */

	/* Records reach the file within a quarter of a second; HTTP deadlines are kept every second. */
	if (a->log && ms > 250)
		ms = 250;
	if (ms > 1000)
		ms = 1000;
	if (na_recorder_wait_ms(a->rec) < ms)
		ms = na_recorder_wait_ms(a->rec);
	return ms;
}

/* Until SIGTERM or SIGINT (0), or until poll fails (-errno, reported). */
static int loop(struct na_agent *a, int sfd)
{
	int64_t next_scan = na_mono_s() + a->conf.rescan_s;
	struct signalfd_siginfo si;
	struct pollfd pfd;

	for (;;) {
		pfd.fd = sfd;
		pfd.events = POLLIN;
		pfd.revents = 0;
		if (poll(&pfd, 1, wait_ms(a, next_scan)) < 0 && errno != EINTR)
			return na_err(-errno, "agent: poll");
		na_agent_http_reap(a);
		na_ratelimit_flush(&a->mhd_said);
		na_ratelimit_flush(&a->http_said);
		pthread_mutex_lock(&a->lock); /* a reload changes the log (log_open) */
		na_agent_log_drain(a);
		pthread_mutex_unlock(&a->lock);
		na_recorder_tick(a->rec);
		if (pfd.revents & POLLIN && read(sfd, &si, sizeof(si)) == sizeof(si)) {
			if (si.ssi_signo != SIGHUP)
				return 0;
			if (!reload(a))
				next_scan = na_mono_s() + a->conf.rescan_s;
			continue;
		}
		if (na_mono_s() >= next_scan) {
			rescan(a);
			next_scan = na_mono_s() + a->conf.rescan_s;
		}
	}
}

/* The end asked for: /metrics, then the log's and the history's last, then the detaches. 0 or a detach's -errno. */
static int end(struct na_agent *a)
{
	int err = 0, e;
	size_t i;

	na_agent_http_stop(a);
	na_agent_log_close(a); /* what the ring buffer holds now goes into the file first */
	na_recorder_free(a->rec); /* a last sample, before any detach */
	a->rec = NULL;
	for (i = 0; a->o->detach_on_exit && i < a->nattached; i++)
		if ((e = na_detach_cgroup(a->pin_root, a->attached[i])) && !err)
			err = e;
	na_log(NA_LOG_INFO, "agent: ending%s",
	       a->o->detach_on_exit ? ", attachments detached" : "; attachments keep counting");
	return err;
}

/* Whatever start() began, ended; and the lock given back last but one, before what prepare() loaded. */
static void cleanup(struct na_agent *a, int sfd)
{
	na_agent_http_stop(a);
	na_agent_log_close(a);
	na_recorder_free(a->rec);
	if (sfd >= 0)
		close(sfd);
	na_agent_unpublish(a);
	na_agent_lock_drop(a);
	na_agent_paths_free(a->attached, a->nattached);
	na_conf_free(&a->conf);
	na_names_free(a->names);
	na_netclass_free(a->classes);
	na_state_close(a->st);
	pthread_cond_destroy(&a->scrape_wake);
	pthread_mutex_destroy(&a->scrape_lock);
	pthread_mutex_destroy(&a->lock);
}

int na_agent_run(const struct na_agent_opts *o)
{
	struct na_agent a = { .o = o, .pin_root = o->pin_root, .conf_path = o->conf_path, .lockfd = -1,
			      .mhd_said.what = "agent: http (libmicrohttpd)", .http_said.what = "agent: http" };
	int sfd = -1, err;

	err = prepare(&a);
	if (err)
		return err;
	pthread_mutex_init(&a.lock, NULL);
	pthread_mutex_init(&a.scrape_lock, NULL);
	pthread_cond_init(&a.scrape_wake, NULL);
	err = start(&a, &sfd);
	if (!err)
		err = loop(&a, sfd);
	if (!err)
		err = end(&a);
	cleanup(&a, sfd);
	return err;
}
