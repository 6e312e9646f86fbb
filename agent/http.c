// SPDX-License-Identifier: (BSD-2-Clause OR GPL-2.0)
/*
 * /metrics over HTTP (libmicrohttpd), and the scraper thread that reads the
 * pinned maps for it. The text is the command's (na_agent_opts.metrics:
 * export --prom's families and the agent's own series); what this file
 * keeps is who waits for which reading, and that any local user's
 * connections cannot make /metrics unanswerable.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include <microhttpd.h>

#include "daemon.h"

static enum MHD_Result reply(struct MHD_Connection *c, unsigned status, const char *type, char *body, size_t len)
{
	struct MHD_Response *r = MHD_create_response_from_buffer(len, body, MHD_RESPMEM_MUST_FREE);
	enum MHD_Result ret;

	if (!r) {
		free(body);
		return MHD_NO;
	}
	MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, type);
	ret = MHD_queue_response(c, status, r);
	MHD_destroy_response(r);
	return ret;
}

static enum MHD_Result text_reply(struct MHD_Connection *c, unsigned status, const char *msg)
{
	char *b = strdup(msg);

	return b ? reply(c, status, "text/plain; charset=utf-8", b, strlen(b)) : MHD_NO;
}

/*
 * The exposition of one fresh snapshot, in a buffer the caller frees. The
 * pinned state stays open from one scrape to the next (the reader's program
 * and buffer are made once), and is opened again when the pin root's maps
 * were replaced. Runs in the scraper thread only.
 */
static int metrics_text(struct na_agent *a, char **out, size_t *len)
{
	struct na_snapshot snap;
	FILE *f;
	int err;

	*out = NULL;
	*len = 0;
	err = a->st ? na_state_current(a->st) : 0;
	if (err != 1) {
		na_state_close(a->st);
		a->st = NULL;
		if (err < 0)
			return err;
		err = na_state_open(a->pin_root, &a->st);
		if (err)
			return err;
	}
	/* The reading, the long part, without the lock; what a reload replaces (names, classes, keys) with it. */
	err = na_state_read(a->st, &snap);
	if (err)
		return err;
	na_owners_resolve(a->pin_root, &snap, NULL);
	f = open_memstream(out, len);
	pthread_mutex_lock(&a->lock);
	na_names_pass(a->names);
	err = f ? a->o->metrics(a->o->metrics_ctx, f, &snap, &a->conf, a->names, a->classes) : -ENOMEM;
	na_names_expire(a->names, NA_NAMES_IDLE_S);
	pthread_mutex_unlock(&a->lock);
	if (f && fclose(f) && !err)
		err = -ENOMEM;
	na_snapshot_free(&snap);
	if (err) {
		free(*out);
		*out = NULL;
	}
	return err;
}

/* A request for /metrics, suspended until a reading ends. */
struct na_agent_waiter {
	struct MHD_Connection *c;
	struct na_agent_waiter *next;
};

static const char unreadable[] = "netacct agent: cannot read the pinned state (see the agent's log)\n";

/* Answer every waiting request with text (NULL: 503) and resume it; under scrape_lock. */
static void answer_waiting(struct na_agent *a, const char *text, size_t len)
{
	struct MHD_Response *r;
	struct na_agent_waiter *w;

	if (!a->waiting)
		return;
	/* One response for all: libmicrohttpd counts its users and frees it after the last. */
	r = text ? MHD_create_response_from_buffer(len, (void *)text, MHD_RESPMEM_MUST_COPY)
		 : MHD_create_response_from_buffer(sizeof(unreadable) - 1, (void *)unreadable,
						   MHD_RESPMEM_PERSISTENT);
	if (r)
		MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE,
					text ? a->o->metrics_type : "text/plain; charset=utf-8");
	while ((w = a->waiting)) {
		a->waiting = w->next;
		/* A suspended connection may be given its answer from any thread; it goes out on resume. */
		if (r)
			MHD_queue_response(w->c, text ? MHD_HTTP_OK : MHD_HTTP_SERVICE_UNAVAILABLE, r);
		MHD_resume_connection(w->c); /* without an answer (no memory), libmicrohttpd closes it */
		free(w);
	}
	if (r)
		MHD_destroy_response(r);
}

/*
 * The scraper: one reading of the maps at a time, off libmicrohttpd's
 * threads. A request for /metrics is suspended (its thread goes on with
 * other connections) and waits for a reading: the one under way when it
 * came, or the next, which it asks for. Every request waiting when a
 * reading ends gets its text. So scrapes that come together (two
 * Prometheus servers) cost one reading and are answered together, instead
 * of queueing behind each other (a request whose thread of the pool was
 * busy reading for another used to wait for that reading, then do its own).
 */
static void *scraper_main(void *arg)
{
	struct na_agent *a = arg;
	char *text;
	size_t len;
	int err;

	pthread_mutex_lock(&a->scrape_lock);
	for (;;) {
		while (!a->want && !a->closing)
			pthread_cond_wait(&a->scrape_wake, &a->scrape_lock);
		if (a->closing)
			break;
		a->want = 0;
		a->scraping = 1;
		pthread_mutex_unlock(&a->scrape_lock);
		err = metrics_text(a, &text, &len);
		pthread_mutex_lock(&a->scrape_lock);
		a->scraping = 0;
		answer_waiting(a, err ? NULL : text, len);
		free(text);
	}
	answer_waiting(a, NULL, 0); /* the agent ends: 503, and no connection stays suspended */
	pthread_mutex_unlock(&a->scrape_lock);
	return NULL;
}

/* Suspend the request c until a reading ends; MHD_NO to close it (no memory). */
static enum MHD_Result metrics_wait(struct na_agent *a, struct MHD_Connection *c)
{
	struct na_agent_waiter *w;

	pthread_mutex_lock(&a->scrape_lock);
	if (a->closing) {
		pthread_mutex_unlock(&a->scrape_lock);
		return text_reply(c, MHD_HTTP_SERVICE_UNAVAILABLE, unreadable);
	}
	w = malloc(sizeof(*w));
	if (!w) {
		pthread_mutex_unlock(&a->scrape_lock);
		return MHD_NO;
	}
	w->c = c;
	w->next = a->waiting;
	a->waiting = w;
	if (!a->scraping) {
		a->want = 1;
		pthread_cond_signal(&a->scrape_wake);
	}
	/* Under the lock: the scraper resumes it only after this. */
	MHD_suspend_connection(c);
	pthread_mutex_unlock(&a->scrape_lock);
	return MHD_YES;
}

/* No request is suspended once this returns (libmicrohttpd must not be stopped with one). */
static void scraper_stop(struct na_agent *a)
{
	if (!a->scraper_started)
		return;
	pthread_mutex_lock(&a->scrape_lock);
	a->closing = 1;
	pthread_cond_broadcast(&a->scrape_wake);
	pthread_mutex_unlock(&a->scrape_lock);
	pthread_join(a->scraper, NULL);
	a->scraper_started = 0;
}

/*
 * /metrics is for Prometheus, on a port any local user can reach: it must
 * stay answerable whatever one of them does. libmicrohttpd runs a pool of
 * threads on epoll (no limit of 1024 descriptors; a slow request does not
 * hold the others up), takes at most NA_HTTP_PER_IP connections from one
 * address and NA_HTTP_MAX_CONNS in all, and times out a connection idle for
 * NA_HTTP_TIMEOUT_S. That timeout starts again at every byte, so a client
 * sending one header line now and then would hold its connection for ever:
 * a connection must also deliver a whole request within NA_HTTP_HEADER_S of
 * its start (or of its last answer), whatever it sends meanwhile, or the
 * main loop shuts it down (http_reap()).
 */
#define NA_HTTP_THREADS 4
#define NA_HTTP_PER_IP 8
#define NA_HTTP_MAX_CONNS 64
#define NA_HTTP_TIMEOUT_S 10u
#define NA_HTTP_HEADER_S 10

struct http_conn {
	int fd;
	int64_t deadline_ms;      /* a whole request by then; 0 while one is answered */
	struct http_conn *prev, *next;
};

static pthread_mutex_t http_conns_lock = PTHREAD_MUTEX_INITIALIZER;
static struct http_conn *http_conns;

static int64_t mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static struct http_conn *conn_of(struct MHD_Connection *c)
{
	const union MHD_ConnectionInfo *ci = MHD_get_connection_info(c, MHD_CONNECTION_INFO_SOCKET_CONTEXT);

	return ci ? ci->socket_context : NULL;
}

static void conn_deadline(struct MHD_Connection *c, int64_t deadline_ms)
{
	struct http_conn *hc = conn_of(c);

	pthread_mutex_lock(&http_conns_lock);
	if (hc)
		hc->deadline_ms = deadline_ms;
	pthread_mutex_unlock(&http_conns_lock);
}

/*
 * Started: the connection joins the list, with its deadline. Closed: it
 * leaves it. libmicrohttpd says "closed" before it closes the socket, so a
 * descriptor on the list (under the lock) is always this connection's.
 */
static void on_connection(void *cls, struct MHD_Connection *c, void **socket_context,
			  enum MHD_ConnectionNotificationCode what)
{
	struct http_conn *hc = *socket_context;
	const union MHD_ConnectionInfo *ci;

	(void)cls;
	if (what == MHD_CONNECTION_NOTIFY_STARTED) {
		ci = MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);
		hc = calloc(1, sizeof(*hc));
		if (!hc || !ci) {
			free(hc);
			return; /* the idle timeout still applies */
		}
		hc->fd = ci->connect_fd;
		hc->deadline_ms = mono_ms() + NA_HTTP_HEADER_S * 1000;
		pthread_mutex_lock(&http_conns_lock);
		hc->next = http_conns;
		if (http_conns)
			http_conns->prev = hc;
		http_conns = hc;
		pthread_mutex_unlock(&http_conns_lock);
		*socket_context = hc;
	} else if (what == MHD_CONNECTION_NOTIFY_CLOSED && hc) {
		pthread_mutex_lock(&http_conns_lock);
		if (hc->prev)
			hc->prev->next = hc->next;
		else
			http_conns = hc->next;
		if (hc->next)
			hc->next->prev = hc->prev;
		pthread_mutex_unlock(&http_conns_lock);
		free(hc);
		*socket_context = NULL;
	}
}

/* A request answered: the next one on this connection has its own deadline. */
static void on_completed(void *cls, struct MHD_Connection *c, void **state, enum MHD_RequestTerminationCode toe)
{
	(void)cls;
	(void)state;
	(void)toe;
	conn_deadline(c, mono_ms() + NA_HTTP_HEADER_S * 1000);
}

/* Shut down the connections past their deadline: libmicrohttpd then sees the end and closes them. */
void na_agent_http_reap(struct na_agent *a)
{
	int64_t now = mono_ms();
	struct http_conn *hc;
	unsigned n = 0;

	pthread_mutex_lock(&http_conns_lock);
	for (hc = http_conns; hc; hc = hc->next) {
		if (hc->deadline_ms && now > hc->deadline_ms) {
			shutdown(hc->fd, SHUT_RDWR);
			hc->deadline_ms = 0;
			n++;
		}
	}
	pthread_mutex_unlock(&http_conns_lock);
	if (n)
		na_ratelimit_log(&a->http_said, NA_LOG_INFO,
				 "agent: http: closed %u connection(s) that sent no whole request within %d s", n,
				 NA_HTTP_HEADER_S);
}

/* libmicrohttpd's own messages: through netacct's logger, a few at most every 10 s. */
static void on_mhd_log(void *cls, const char *fmt, va_list ap)
{
	struct na_agent *a = cls;
	char msg[512];
	size_t n;

	vsnprintf(msg, sizeof(msg), fmt, ap);
	n = strlen(msg);
	while (n && (msg[n - 1] == '\n' || msg[n - 1] == ' '))
		msg[--n] = '\0';
	na_ratelimit_log(&a->mhd_said, NA_LOG_WARN, "agent: http: %s", msg);
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url, const char *method,
				  const char *version, const char *data, size_t *data_len, void **state)
{
	struct na_agent *a = cls;

	(void)version;
	(void)data;
	if (!*state) {
		/* The headers are in: no more deadline while the request is answered. */
		conn_deadline(c, 0);
		*state = a;
		/*
		 * Refused at once, before any body: libmicrohttpd sends the answer
		 * and closes the connection instead of reading what it would not use.
		 */
		if (strcmp(method, MHD_HTTP_METHOD_GET) && strcmp(method, MHD_HTTP_METHOD_HEAD)) {
			struct MHD_Response *r;
			enum MHD_Result ret;
			static const char msg[] = "netacct agent: GET /metrics\n";

			r = MHD_create_response_from_buffer(sizeof(msg) - 1, (void *)msg, MHD_RESPMEM_PERSISTENT);
			if (!r)
				return MHD_NO;
			MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, "text/plain; charset=utf-8");
			MHD_add_response_header(r, MHD_HTTP_HEADER_ALLOW, "GET, HEAD");
			ret = MHD_queue_response(c, MHD_HTTP_METHOD_NOT_ALLOWED, r);
			MHD_destroy_response(r);
			return ret;
		}
		return MHD_YES; /* answer when the (empty) body is in */
	}
	if (*data_len) {
		*data_len = 0; /* a body of a GET: read and dropped */
		return MHD_YES;
	}
	if (strcmp(url, "/metrics"))
		return text_reply(c, MHD_HTTP_NOT_FOUND, "netacct agent: the metrics are on /metrics\n");
	return metrics_wait(a, c);
}

int na_agent_http_start(struct na_agent *a)
{
	struct sockaddr_storage ss = { 0 };
	struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;
	struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;
	unsigned flags = MHD_USE_EPOLL_INTERNAL_THREAD | MHD_USE_ERROR_LOG | MHD_ALLOW_SUSPEND_RESUME;
	int err;

	if (inet_pton(AF_INET, a->conf.listen_addr, &s4->sin_addr) == 1) {
		s4->sin_family = AF_INET;
		s4->sin_port = htons(a->conf.listen_port);
	} else if (inet_pton(AF_INET6, a->conf.listen_addr, &s6->sin6_addr) == 1) {
		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons(a->conf.listen_port);
		flags |= MHD_USE_IPv6;
	} else {
		na_log(NA_LOG_ERROR, "agent: listen %s: not a numeric IPv4 or IPv6 address", a->conf.listen_addr);
		return -EINVAL;
	}
	err = pthread_create(&a->scraper, NULL, scraper_main, a);
	if (err) {
		na_err(-err, "agent: start the scraper thread");
		return -err;
	}
	a->scraper_started = 1;
	/* The logger first: libmicrohttpd says so itself otherwise, on stderr. */
	a->http = MHD_start_daemon(flags, a->conf.listen_port, NULL, NULL, on_request, a, MHD_OPTION_EXTERNAL_LOGGER,
				   on_mhd_log, a, MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&ss,
				   MHD_OPTION_THREAD_POOL_SIZE, (unsigned)NA_HTTP_THREADS,
				   MHD_OPTION_CONNECTION_LIMIT, (unsigned)NA_HTTP_MAX_CONNS,
				   MHD_OPTION_PER_IP_CONNECTION_LIMIT, (unsigned)NA_HTTP_PER_IP,
				   MHD_OPTION_CONNECTION_TIMEOUT, NA_HTTP_TIMEOUT_S,
				   MHD_OPTION_NOTIFY_CONNECTION, on_connection, NULL,
				   MHD_OPTION_NOTIFY_COMPLETED, on_completed, NULL, MHD_OPTION_END);
	if (!a->http) {
		na_log(NA_LOG_ERROR, "agent: cannot listen on %s:%u (in use, or not an address of this host)",
		       a->conf.listen_addr, a->conf.listen_port);
		scraper_stop(a);
		return -EADDRINUSE;
	}
	na_log(NA_LOG_INFO, "agent: metrics on http://%s%s%s:%u/metrics", ss.ss_family == AF_INET6 ? "[" : "",
	       a->conf.listen_addr, ss.ss_family == AF_INET6 ? "]" : "", a->conf.listen_port);
	return 0;
}

void na_agent_http_stop(struct na_agent *a)
{
	scraper_stop(a);
	if (a->http)
		MHD_stop_daemon(a->http); /* no request runs from here on */
	a->http = NULL;
}
