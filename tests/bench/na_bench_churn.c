// SPDX-License-Identifier: (BSD-2-Clause OR GPL-2.0)
/*
 * na_bench_churn: the connection-churn workload of tests/bench/run.
 *
 *   na_bench_churn SECONDS [MAX_CONNECTIONS]
 *
 * Both endpoints in one process (so both are in the caller's cgroup), on
 * 127.0.0.1: a server thread accepts on an ephemeral port and, per
 * connection, reads 100 bytes, writes 100 and closes; the main thread, for
 * SECONDS (or MAX_CONNECTIONS, default 10 000 000), opens a TCP connection,
 * writes 100 bytes, reads 100 and closes. Prints one line:
 *   connections N seconds T rate R
 * Every socket has a 5 s receive/send timeout; exit 1 on any error.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#define MSG 100

static int lfd;

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void timeouts(int fd)
{
	struct timeval tv = { .tv_sec = 5 };

	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
}

static int xfer(int fd, char *buf, int rd)
{
	size_t done = 0;

	while (done < MSG) {
		ssize_t n = rd ? read(fd, buf + done, MSG - done) : write(fd, buf + done, MSG - done);

		if (n <= 0)
			return -1;
		done += n;
	}
	return 0;
}

static void *server(void *arg)
{
	char buf[MSG];

	(void)arg;
	for (;;) {
		int fd = accept(lfd, NULL, NULL);

		if (fd < 0) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			return NULL; /* listening socket shut down */
		}
		timeouts(fd);
		if (xfer(fd, buf, 1) == 0)
			xfer(fd, buf, 0);
		close(fd);
	}
}

int main(int argc, char **argv)
{
	struct sockaddr_in sa = { .sin_family = AF_INET };
	socklen_t len = sizeof(sa);
	double secs, t0, t;
	long max = 10000000, n = 0;
	pthread_t th;
	char buf[MSG];

	if (argc < 2 || argc > 3 || (secs = atof(argv[1])) <= 0 || secs > 600) {
		fprintf(stderr, "usage: na_bench_churn SECONDS(0-600] [MAX_CONNECTIONS]\n");
		return 2;
	}
	if (argc == 3)
		max = atol(argv[2]);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	lfd = socket(AF_INET, SOCK_STREAM, 0);
	if (lfd < 0 || bind(lfd, (struct sockaddr *)&sa, sizeof(sa)) ||
	    listen(lfd, 1024) || getsockname(lfd, (struct sockaddr *)&sa, &len)) {
		perror("listen");
		return 1;
	}
	if (pthread_create(&th, NULL, server, NULL)) {
		perror("pthread_create");
		return 1;
	}
	memset(buf, 'x', sizeof(buf));
	t0 = now();
	for (t = t0; t - t0 < secs && n < max; t = now()) {
		int fd = socket(AF_INET, SOCK_STREAM, 0);

		if (fd < 0) {
			perror("socket");
			return 1;
		}
		timeouts(fd);
		if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) || xfer(fd, buf, 0) || xfer(fd, buf, 1)) {
			fprintf(stderr, "connection %ld: %s\n", n, strerror(errno));
			return 1;
		}
		close(fd);
		n++;
	}
	t = now() - t0;
	shutdown(lfd, SHUT_RDWR);
	printf("connections %ld seconds %.3f rate %.1f\n", n, t, n / t);
	return 0;
}
