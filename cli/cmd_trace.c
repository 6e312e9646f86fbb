// SPDX-License-Identifier: (BSD-2-Clause OR GPL-2.0)
/*
 * trace: one line per packet of the traced cgroups, while it runs
 * (bpf/trace.bpf.c). The programs are attached through links this process
 * holds and never pins: when it ends, however it ends, they are gone, and
 * tracing costs nothing.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <json-c/json.h>

#include "args.h"
#include "common.h"
#include "format.h"
#include "trace.skel.h"

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

struct tctx {
	int json;
	int draining;   /* the programs are gone: print what is left in the buffer, also after a stop */
	int out_failed; /* stdout went away: nothing more can be shown */
	int64_t offset;
	unsigned long long count, max; /* lines printed; --count (0: no limit) */
	struct na_cgroup cg[NA_TRACE_MAX_CG];
	int ncg;
};

static const char *cg_name(const struct tctx *t, uint64_t id, char *buf, size_t len)
{
	int i;

	for (i = 0; i < t->ncg; i++)
		if (t->cg[i].id == id)
			return t->cg[i].rel;
	snprintf(buf, len, "cgroup-id:%llu", (unsigned long long)id);
	return buf;
}

static void flags_str(uint8_t f, char *out)
{
	static const char names[] = "FSRPAU";
	int i, n = 0;

	for (i = 0; i < 6; i++)
		if (f & (1u << i))
			out[n++] = names[i];
	if (!n)
		out[n++] = '.';
	out[n] = '\0';
}

static int on_event(void *ctx, void *data, size_t size)
{
	struct tctx *t = ctx;
	const struct na_trace_ev *e = data;
	char when[40], src[64], dst[64], fl[8], comm[NA_COMM_LEN + 1], cgb[40], pid[16] = "-";
	const char *cg;

	if (size < sizeof(*e))
		return 0;
	/* libbpf goes on while events keep coming: a stop (^C, --count) must end it here. */
	if (t->out_failed || (t->max && t->count >= t->max) || (stop && !t->draining))
		return -ECANCELED;
	na_iso_time(when, sizeof(when), (int64_t)e->ts_ns + t->offset);
	na_addr_str(e->family, e->saddr, src, sizeof(src));
	na_addr_str(e->family, e->daddr, dst, sizeof(dst));
	flags_str(e->tcp_flags, fl);
	memcpy(comm, e->comm, NA_COMM_LEN);
	comm[NA_COMM_LEN] = '\0';
	cg = cg_name(t, e->cgroup_id, cgb, sizeof(cgb));
	if (t->json) {
		json_object *o = json_object_new_object();

		json_object_object_add(o, "time", json_object_new_string(when));
		json_object_object_add(o, "direction", json_object_new_string(e->dir == NA_TX ? "tx" : "rx"));
		json_object_object_add(o, "cgroup", json_object_new_string(cg));
		json_object_object_add(o, "pid", e->pid ? json_object_new_uint64(e->pid) : NULL);
		json_object_object_add(o, "comm", comm[0] ? json_object_new_string(comm) : NULL);
		json_object_object_add(o, "proto", json_object_new_string(na_proto_name(e->proto)));
		json_object_object_add(o, "family", json_object_new_string(na_family_name(e->family)));
		json_object_object_add(o, "saddr", json_object_new_string(src));
		json_object_object_add(o, "sport", json_object_new_uint64(e->sport));
		json_object_object_add(o, "daddr", json_object_new_string(dst));
		json_object_object_add(o, "dport", json_object_new_uint64(e->dport));
		json_object_object_add(o, "ip_hdr_len", json_object_new_uint64(e->ip_hdr_len));
		json_object_object_add(o, "l4_hdr_len", json_object_new_uint64(e->l4_hdr_len));
		json_object_object_add(o, "payload_len", json_object_new_uint64(e->payload));
		json_object_object_add(o, "len", json_object_new_uint64(e->len));
		json_object_object_add(o, "segs", json_object_new_uint64(e->segs));
		json_object_object_add(o, "tcp_flags", json_object_new_string(e->proto == NA_P_TCP ? fl : ""));
		json_object_object_add(o, "cookie", json_object_new_uint64(e->cookie));
		json_object_object_add(o, "bad", json_object_new_boolean(e->flags & NA_TRACE_BAD));
		puts(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE));
		json_object_put(o);
	} else {
		/* The cgroup and comm whole, but printable: either may hold escape sequences. */
		if (e->pid)
			snprintf(pid, sizeof(pid), "%u", e->pid);
		printf("%s %s ", when + 11, e->dir == NA_TX ? "tx" : "rx");
		na_put_printable(stdout, cg, 20);
		printf(" %7s ", pid);
		na_put_printable(stdout, comm[0] ? comm : "-", 15);
		printf(" %-5s %s:%u -> %s:%u ip %u l4 %u payload %u segs %u %s\n",
		       na_proto_name(e->proto), src[0] ? src : "?", e->sport, dst[0] ? dst : "?", e->dport,
		       e->ip_hdr_len, e->l4_hdr_len, e->payload, e->segs, e->proto == NA_P_TCP ? fl : "");
	}
	if (fflush(stdout)) {
		stop = 1; /* the reader went away */
		t->out_failed = 1;
		return -ECANCELED;
	}
	t->count++;
	return 0;
}

/* In na_proto_name()'s order: --proto stores the index + 1 (0: any). */
static const char *const protos[] = { "other", "tcp", "udp", "icmp", "icmpv6", NULL };
static const char *const dirs[] = { "tx", "rx", NULL };

static const struct na_option trace_opts[] = {
	NA_OPT_U(struct na_trace_args, cfg.pid, "pid", 1, 0x7fffffff, "a process id", "N",
		 "packets of sockets owned by process N"),
	NA_OPT_U(struct na_trace_args, cfg.port, "port", 1, 65535, "1 to 65535", "N", "packets from or to port N"),
	NA_OPT_E(struct na_trace_args, cfg.proto, "proto", protos, 1, "tcp, udp, icmp, icmpv6 or other", "P",
		 "tcp, udp, icmp, icmpv6 or other"),
	NA_OPT_E(struct na_trace_args, cfg.dir, "dir", dirs, 1, "tx or rx", "D", "tx (egress) or rx (ingress)"),
	NA_OPT_U(struct na_trace_args, cfg.rate, "rate", 0, 10000000, "events per second, 0 to 10000000", "N",
		 "at most N events per second per CPU (default 10000; 0: no limit)"),
	NA_OPT_U(struct na_trace_args, count, "count", 1, 0xffffffffUL, "a number of events", "N",
		 "stop after N events"),
	NA_OPT_F(struct na_trace_args, json, "json", 0, 1, "one JSON object per line"),
	NA_OPT_HELP_ENTRY(struct na_trace_args, help, "this text"),
	{ 0 },
};

static const char trace_about[] =
	"Usage: netacct trace [--pid N] [--port N] [--proto P] [--dir tx|rx] [--rate N] [--count N]\n"
	"                     [--json] [PATH...]\n"
	"\n"
	"One line per packet of the cgroup PATHs (default: every attached cgroup) while it\n"
	"runs: time, direction, cgroup, owner, protocol, addresses and ports, IP and L4\n"
	"header lengths, payload length, segments, TCP flags. The filters and the rate\n"
	"limit apply in the kernel; nothing is traced, and nothing costs, once it ends.\n"
	"\n";

const struct na_opts na_trace_spec = {
	.cmd = "trace", .opts = trace_opts, .help_width = 14, .about = trace_about,
	.pos = NA_ARGS_AT_MOST(struct na_trace_args, NA_TRACE_MAX_CG, "at most " NA_STR(NA_TRACE_MAX_CG) " cgroup PATHs"),
};

/* The attached cgroups of the pin root, when no PATH is given. */
static int attached_cgroups(const struct na_global *g, struct tctx *t)
{
	struct na_snapshot snap;
	struct na_state *st;
	char abs[PATH_MAX];
	size_t i;

	if (na_open_snapshot(g, &st, &snap))
		return -1;
	for (i = 0; i < snap.natt && t->ncg < NA_TRACE_MAX_CG; i++) {
		if (!snap.att[i].cgroup_exists || na_cgroup_abs(snap.att[i].a.path, abs, sizeof(abs)) ||
		    na_cgroup_resolve(abs, &t->cg[t->ncg]))
			continue;
		t->ncg++;
	}
	na_snapshot_free(&snap);
	na_state_close(st);
	if (!t->ncg) {
		na_log(NA_LOG_ERROR, "trace: no attached cgroup exists any more: give a PATH");
		return -1;
	}
	return 0;
}

int na_trace_parse(int argc, char **argv, struct na_trace_args *a)
{
	memset(a, 0, sizeof(*a));
	a->cfg.rate = 10000;
	return na_opts_parse(&na_trace_spec, argc, argv, a);
}

/* The cgroups to trace: the PATHs, or every attached one; each subtree once. 0 or -1 (reported). */
static int trace_targets(const struct na_global *g, const struct na_trace_args *a, struct tctx *t)
{
	int i, j, below;

	for (i = 0; i < a->npos; i++)
		if (na_cgroup_resolve(a->pos[i], &t->cg[t->ncg++]))
			return -1;
	if (!t->ncg && attached_cgroups(g, t))
		return -1;
	/* A packet runs the programs of its cgroup and of every ancestor: trace each subtree once. */
	for (i = 0; i < t->ncg; i++) {
		for (j = 0, below = 0; j < t->ncg && !below; j++)
			below = j != i && (t->cg[j].id == t->cg[i].id ? j < i : na_path_below(t->cg[i].rel, t->cg[j].rel));
		if (below) {
			t->cg[i] = t->cg[--t->ncg];
			i = -1; /* again from the start: the order changed */
		}
	}
	return 0;
}

/* The programs, loaded with the filters (and the attached state's socket rows, for owners). */
static struct trace_bpf *trace_load(const struct na_global *g, const struct na_trace_cfg *cfg)
{
	struct trace_bpf *skel = trace_bpf__open();
	char p[PATH_MAX];
	int fd, err;

	if (!skel) {
		na_err(-errno, "trace: open the BPF object");
		return NULL;
	}
	skel->rodata->cfg = *cfg;
	/* Owners: the attached state's socket rows, when there is one. */
	snprintf(p, sizeof(p), "%s/na_socks", g->pin_root);
	fd = bpf_obj_get(p);
	if (fd < 0 && cfg->pid)
		na_log(NA_LOG_WARN, "trace: --pid matches nothing: owners come from netacct's attached state, and %s has none",
		       g->pin_root);
	if (fd >= 0) {
		err = bpf_map__reuse_fd(skel->maps.na_socks, fd);
		close(fd);
		if (err)
			na_log(NA_LOG_WARN, "trace: owners unknown (%s/na_socks: %s)", g->pin_root, strerror(-err));
	}
	err = trace_bpf__load(skel);
	if (err) {
		na_err(err, "trace: load the BPF programs");
		trace_bpf__destroy(skel);
		return NULL;
	}
	return skel;
}

/* Both programs on each traced cgroup, through links only this process holds. 0 or -1 (reported). */
static int trace_attach(struct trace_bpf *skel, const struct tctx *t, struct bpf_link **links, int *nlinks)
{
	int i, fd, err;

	for (i = 0; i < t->ncg; i++) {
		fd = open(t->cg[i].abs, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (fd < 0) {
			na_err(-errno, "trace: open %s", t->cg[i].abs);
			return -1;
		}
		links[*nlinks] = bpf_program__attach_cgroup(skel->progs.na_trace_egress, fd);
		err = links[*nlinks] ? 0 : -errno;
		if (!err) {
			(*nlinks)++;
			links[*nlinks] = bpf_program__attach_cgroup(skel->progs.na_trace_ingress, fd);
			err = links[*nlinks] ? 0 : -errno;
			if (!err)
				(*nlinks)++;
		}
		close(fd);
		if (err) {
			na_err(err, "trace: attach to %s", t->cg[i].abs);
			return -1;
		}
	}
	return 0;
}

/* Events until a signal, --count or a closed output: 0, or -1 when reading failed (reported). */
static int trace_poll(struct ring_buffer *rb, struct tctx *t)
{
	struct sigaction sa = { .sa_handler = on_signal };
	int err;

	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	t->offset = na_boot_offset_ns();
	na_log(NA_LOG_INFO, "trace: tracing %d cgroup(s); Ctrl-C to stop", t->ncg);
	while (!stop) {
		err = ring_buffer__poll(rb, 200);
		if (err == -ECANCELED || stop || (t->max && t->count >= t->max))
			break;
		if (err < 0 && err != -EINTR) {
			na_err(err, "trace: read events");
			return -1;
		}
	}
	return 0;
}

/* What the kernel did not show: over the rate limit, or the ring buffer full. */
static void trace_summary(struct trace_bpf *skel, const struct tctx *t)
{
	struct na_trace_stats sum = {}, *per = NULL;
	int i, ncpu = libbpf_num_possible_cpus();
	__u32 zero = 0;

	per = ncpu > 0 ? calloc((size_t)ncpu, sizeof(*per)) : NULL;
	if (per && !bpf_map_lookup_elem(bpf_map__fd(skel->maps.stats), &zero, per)) {
		for (i = 0; i < ncpu; i++) {
			sum.seen += per[i].seen;
			sum.shown += per[i].shown;
			sum.dropped_rate += per[i].dropped_rate;
			sum.dropped_full += per[i].dropped_full;
		}
		/*
		 * "shown" is what was printed. The kernel also queued the packets
		 * that matched while --count was reached (or the output closed) and
		 * the programs were not yet detached: they are said apart, so that
		 * matched = shown + not shown + over the rate limit + lost.
		 */
		unsigned long long unshown = sum.shown > t->count ? sum.shown - t->count : 0;
		char tail[96] = "";

		if (unshown && t->out_failed)
			snprintf(tail, sizeof(tail), ", %llu not shown (the output was closed)", unshown);
		else if (unshown)
			snprintf(tail, sizeof(tail), ", %llu not shown (past --count %llu)", unshown, t->max);
		na_log(sum.dropped_rate || sum.dropped_full ? NA_LOG_WARN : NA_LOG_INFO,
		       "trace: %llu packets matched, %llu shown, %llu over the rate limit (--rate), %llu lost (ring buffer full)%s",
		       (unsigned long long)sum.seen, t->count, (unsigned long long)sum.dropped_rate,
		       (unsigned long long)sum.dropped_full, tail);
	}
	free(per);
}

int cmd_trace(int argc, char **argv, const struct na_global *g)
{
	struct na_trace_args a;
	struct bpf_link *links[2 * NA_TRACE_MAX_CG] = {};
	struct ring_buffer *rb = NULL;
	struct trace_bpf *skel = NULL;
	struct tctx t = { 0 };
	int i, rc, nlinks = 0;

	if (na_cmd_done(&na_trace_spec, na_trace_parse(argc, argv, &a), &a, &rc))
		return rc;
	rc = NA_EXIT_FAIL;
	t.max = a.count;
	t.json = a.json;
	if (na_caps_check_attach("trace") || trace_targets(g, &a, &t))
		return NA_EXIT_FAIL;
	skel = trace_load(g, &a.cfg);
	if (!skel || trace_attach(skel, &t, links, &nlinks))
		goto out;
	rb = ring_buffer__new(bpf_map__fd(skel->maps.events), on_event, &t, NULL);
	if (!rb) {
		na_err(-errno, "trace: ring buffer");
		goto out;
	}
	if (trace_poll(rb, &t))
		goto out;
	/* Detached first, so that what is left to read is bounded; then it is shown (up to --count). */
	for (i = 0; i < nlinks; i++)
		bpf_link__destroy(links[i]);
	nlinks = 0;
	t.draining = 1;
	ring_buffer__consume(rb);
	rc = NA_EXIT_OK;
	trace_summary(skel, &t);
out:
	ring_buffer__free(rb);
	for (i = 0; i < nlinks; i++)
		bpf_link__destroy(links[i]);
	trace_bpf__destroy(skel);
	return rc;
}
