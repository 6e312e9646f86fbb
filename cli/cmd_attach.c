// SPDX-License-Identifier: (BSD-2-Clause OR GPL-2.0)
/* attach, detach, status */
#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <json-c/json.h>

#include "args.h"
#include "common.h"
#include "format.h"

#define MAP_ROWS "a number from 16 to 16777216"

/* attach --log-size: a power of two from a page to 1 GiB. */
static int log_size_opt(const char *arg, void *args)
{
	struct na_attach_args *a = args;
	uint64_t v;

	if (na_parse_u64(arg, 4096, 1ul << 30, &v) || (v & (v - 1)))
		return -EINVAL;
	a->ao.log_bytes = (uint32_t)v;
	return 0;
}

static int group_opt(const char *arg, void *args)
{
	struct na_attach_args *a = args;

	if (na_parse_group(arg, &a->ao.gid))
		return -EINVAL;
	a->ao.group_set = 1;
	return 0;
}

static const struct na_option attach_opts[] = {
	NA_OPT_U(struct na_attach_args, ao.max_sockets, "max-sockets", 16, 1ul << 24, MAP_ROWS, "N", NULL),
	NA_OPT_U(struct na_attach_args, ao.max_closed, "max-closed", 16, 1ul << 24, MAP_ROWS, "N", NULL),
	{ .name = "log-size", .kind = NA_OPT_FUNC, .parse = log_size_opt, .arg = "BYTES",
	  .why = "bytes, a power of two from 4096 to 1073741824" },
	NA_OPT_U(struct na_attach_args, ao.max_peers, "max-peers", 16, 1ul << 24, MAP_ROWS, "N", NULL),
	{ .name = "group", .kind = NA_OPT_FUNC, .parse = group_opt, .arg = "GROUP",
	  .why = "no such group (a name from /etc/group, or a number)" },
	NA_OPT_HELP_ENTRY(struct na_attach_args, help, NULL),
	{ 0 },
};

const struct na_opts na_attach_spec = { .cmd = "attach", .opts = attach_opts,
					.pos = NA_ARGS_SOME(struct na_attach_args, "no cgroup PATH given") };

int na_attach_parse(int argc, char **argv, struct na_attach_args *a)
{
	memset(a, 0, sizeof(*a));
	return na_opts_parse(&na_attach_spec, argc, argv, a);
}

int cmd_attach(int argc, char **argv, const struct na_global *g)
{
	struct na_attach_args a;
	int i, err, rc;

	if (na_cmd_done(&na_attach_spec, na_attach_parse(argc, argv, &a), &a, &rc))
		return rc;
	a.ao.pin_root = g->pin_root;
	for (i = 0; i < a.npos; i++) {
		sigset_t sigs;

		/* A SIGINT now acts once the attach is whole and said so, before the next PATH. */
		na_signals_hold(&sigs);
		err = na_attach_cgroup(&a.ao, a.pos[i]);
		if (err == 1 || !err) {
			na_put_printable(stdout, a.pos[i], 0); /* a name someone else chose: no raw escape */
			printf(": %s\n", err ? "already attached" : "attached");
			fflush(stdout);
		} else {
			rc = NA_EXIT_FAIL; /* reported; the other paths still get their turn */
		}
		na_signals_release(&sigs);
	}
	return rc;
}

static const struct na_option detach_opts[] = {
	NA_OPT_F(struct na_detach_args, all, "all", 0, 1, NULL),
	NA_OPT_HELP_ENTRY(struct na_detach_args, help, NULL),
	{ 0 },
};

/* PATHs or --all, not both: checked after the parse, which keeps any number. */
const struct na_opts na_detach_spec = { .cmd = "detach", .opts = detach_opts,
					.pos = NA_ARGS_ANY(struct na_detach_args) };

int na_detach_parse(int argc, char **argv, struct na_detach_args *a)
{
	int rc;

	memset(a, 0, sizeof(*a));
	rc = na_opts_parse(&na_detach_spec, argc, argv, a);
	if (rc || a->help)
		return rc;
	if (a->all && a->npos)
		return na_usage_error("detach", "--all takes no PATH");
	if (!a->all && !a->npos)
		return na_usage_error("detach", "no cgroup PATH given (or --all)");
	return 0;
}

/*
 * A running agent attaches what its configuration names again at its next
 * scan: a detach of such a cgroup would be undone within seconds (and its
 * counters start over), so it is refused, naming the agent. path NULL:
 * detach --all, refused while any agent runs for the pin root.
 */
static int agent_refuses(const struct na_global *g, const char *path)
{
	char conf[PATH_MAX];
	struct stat st;
	int pid = 0;

	if (!na_agent_running(g->pin_root, &pid))
		return 0;
	if (!path) {
		na_log(NA_LOG_ERROR, "detach --all: an agent (pid %d) runs for %s and would attach its cgroups again at its next scan; stop it first (systemctl stop netacct-agent)",
		       pid, g->pin_root);
		return 1;
	}
	if (stat(path, &st) || !na_agent_manages(g->pin_root, st.st_ino, conf, sizeof(conf)))
		return 0;
	na_log(NA_LOG_ERROR, "detach %s: the agent (pid %d) manages it (configuration %s) and would attach it again at its next scan; remove it from the configuration and reload the agent (systemctl reload netacct-agent), or stop the agent",
	       path, pid, conf[0] ? conf : "?");
	return 1;
}

int cmd_detach(int argc, char **argv, const struct na_global *g)
{
	struct na_detach_args a;
	int i, rc;

	if (na_cmd_done(&na_detach_spec, na_detach_parse(argc, argv, &a), &a, &rc))
		return rc;
	if (a.all) {
		if (agent_refuses(g, NULL) || na_detach_all(g->pin_root))
			return NA_EXIT_FAIL;
		fputs("detached everything under ", stdout);
		na_put_printable(stdout, g->pin_root, 0);
		putchar('\n');
		return NA_EXIT_OK;
	}
	for (i = 0; i < a.npos; i++) {
		sigset_t sigs;

		if (agent_refuses(g, a.pos[i])) {
			rc = NA_EXIT_FAIL;
			continue;
		}
		na_signals_hold(&sigs);
		if (na_detach_cgroup(g->pin_root, a.pos[i])) {
			rc = NA_EXIT_FAIL;
		} else {
			na_put_printable(stdout, a.pos[i], 0);
			fputs(": detached\n", stdout);
			fflush(stdout);
		}
		na_signals_release(&sigs);
	}
	return rc;
}

/* One direction's counters; resent is "retrans_bytes" sent, "dup_bytes" received, as in export. */
static json_object *counters_json(const struct na_counters *c, const char *resent)
{
	json_object *o = json_object_new_object();

	json_object_object_add(o, "packets", json_object_new_uint64(c->packets));
	json_object_object_add(o, "ip_hdr_bytes", json_object_new_uint64(c->ip_hdr_bytes));
	json_object_object_add(o, "l4_hdr_bytes", json_object_new_uint64(c->l4_hdr_bytes));
	json_object_object_add(o, "payload_bytes", json_object_new_uint64(c->payload_bytes));
	json_object_object_add(o, resent, json_object_new_uint64(na_resent(c)));
	return o;
}

static void status_json(const struct na_global *g, const struct na_snapshot *s, const struct na_leftover *lo,
			size_t nlo)
{
	json_object *root = json_object_new_object(), *arr = json_object_new_array(), *left = json_object_new_array();
	size_t i;
	int k;

	json_object_object_add(root, "pin_root", json_object_new_string(g->pin_root));
	json_object_object_add(root, "abi_version", json_object_new_int(s->meta.abi_version));
	json_object_object_add(root, "live_sockets", json_object_new_uint64(s->nrows));
	json_object_object_add(root, "max_sockets", json_object_new_uint64(s->meta.max_sockets));
	json_object_object_add(root, "closed_aggregates", json_object_new_uint64(s->nclosed));
	json_object_object_add(root, "max_closed", json_object_new_uint64(s->meta.max_closed));
	json_object_object_add(root, "closed_evicted", json_object_new_uint64(s->stats.closed_evicted));
	json_object_object_add(root, "log_bytes", json_object_new_uint64(s->meta.log_bytes));
	json_object_object_add(root, "peers", json_object_new_uint64(s->npeers));
	json_object_object_add(root, "max_peers", json_object_new_uint64(s->meta.max_peers));
	json_object_object_add(root, "peer_names", json_object_new_uint64(s->npeernames));
	json_object_object_add(root, "max_peer_names", json_object_new_uint64(NA_DNS_MAX_NAMES));
	json_object_object_add(root, "peer_overflow", json_object_new_uint64(s->stats.peer_overflow));
	json_object_object_add(root, "log_pending_bytes", json_object_new_uint64(s->log_pending));
	json_object_object_add(root, "log_written", json_object_new_uint64(s->stats.log_written));
	json_object_object_add(root, "log_dropped", json_object_new_uint64(s->stats.log_dropped));
	json_object_object_add(root, "global_links", json_object_new_int(s->globals));
	json_object_object_add(root, "global_links_expected", json_object_new_int(na_global_link_count()));
	json_object_object_add(root, "busy", json_object_new_boolean(s->busy));
	for (i = 0; i < s->natt; i++) {
		const struct na_att_state *a = &s->att[i];
		json_object *o = json_object_new_object();

		json_object_object_add(o, "cgroup", json_object_new_string(a->a.path));
		json_object_object_add(o, "cgroup_id", json_object_new_uint64(a->a.cgroup_id));
		json_object_object_add(o, "cgroup_exists", json_object_new_boolean(a->cgroup_exists));
		json_object_object_add(o, "attached_at", json_object_new_uint64(a->a.attach_realtime));
		json_object_object_add(o, "state", json_object_new_string(na_att_phase_name(a->phase)));
		json_object_object_add(o, "active", json_object_new_boolean(a->active));
		json_object_object_add(o, "programs", json_object_new_int(a->programs));
		json_object_object_add(o, "programs_expected", json_object_new_int(na_cgroup_prog_count()));
		json_object_object_add(o, "tx", counters_json(&a->t.dir[NA_TX], "retrans_bytes"));
		json_object_object_add(o, "rx", counters_json(&a->t.dir[NA_RX], "dup_bytes"));
		json_object_object_add(o, "overflow_packets", json_object_new_uint64(a->t.overflow_packets));
		json_object_object_add(o, "overflow_bytes", json_object_new_uint64(a->t.overflow_bytes));
		json_object_object_add(o, "parse_errors", json_object_new_uint64(a->t.parse_errors));
		json_object_object_add(o, "norow_packets", json_object_new_uint64(a->t.norow_packets));
		json_object_object_add(o, "norow_bytes", json_object_new_uint64(a->t.norow_bytes));
		json_object_array_add(arr, o);
	}
	json_object_object_add(root, "attached", arr);
	for (i = 0; i < nlo; i++) {
		json_object *o = json_object_new_object(), *pids = json_object_new_array();
		const char *path = lo[i].cgroup[0] ? lo[i].cgroup : NULL;

		json_object_object_add(o, "link_id", json_object_new_uint64(lo[i].link_id));
		json_object_object_add(o, "hook", json_object_new_string(lo[i].hook));
		json_object_object_add(o, "cgroup_id", json_object_new_uint64(lo[i].cgroup_id));
		json_object_object_add(o, "cgroup", path ? json_object_new_string(path) : NULL);
		for (k = 0; k < lo[i].npids; k++)
			json_object_array_add(pids, json_object_new_int(lo[i].pids[k]));
		json_object_object_add(o, "held_by", pids);
		json_object_array_add(left, o);
	}
	json_object_object_add(root, "leftover_links", left);
	puts(json_object_to_json_string_ext(root, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE));
	json_object_put(root);
}

/* What a state other than live means, and what finishes or repairs it. */
static void status_explain(const struct na_snapshot *s)
{
	char why[PATH_MAX + 256];
	size_t i;
	int first;

	for (i = 0, first = 1; i < s->natt; i++) {
		if (s->att[i].phase == NA_ATT_LIVE)
			continue;
		if (first)
			putchar('\n');
		first = 0;
		na_att_explain(why, sizeof(why), &s->att[i], s->busy);
		na_put_printable(stdout, s->att[i].a.path, 0);
		fputs(": ", stdout);
		na_put_printable(stdout, why, 0);
		putchar('\n');
	}
}

/* Links of these programs that no pin holds: one line per cgroup, with who holds them. */
static void status_leftovers(const struct na_leftover *lo, size_t nlo)
{
	size_t i;

	for (i = 0; i < nlo; i++) {
		const char *path = lo[i].cgroup[0] ? lo[i].cgroup : NULL;
		size_t j, n = 0;
		int k;

		for (j = 0; j < i && lo[j].cgroup_id != lo[i].cgroup_id; j++)
			;
		if (j < i)
			continue; /* that cgroup was said already */
		for (j = i; j < nlo; j++)
			n += lo[j].cgroup_id == lo[i].cgroup_id;
		printf("\nleftover: %zu link%s of this state's programs on ", n, n == 1 ? "" : "s");
		if (!lo[i].cgroup_id)
			fputs("no cgroup (global)", stdout);
		else if (path)
			na_put_printable(stdout, path, 0);
		else
			printf("cgroup id %llu", (unsigned long long)lo[i].cgroup_id);
		printf(" pinned nowhere: no detach reaches them; they go when %s ends:",
		       lo[i].npids ? "the process holding them" : "whatever holds them");
		for (k = 0; k < lo[i].npids; k++)
			printf(" pid %d", lo[i].pids[k]);
		putchar('\n');
	}
}

static void status_text(const struct na_global *g, const struct na_snapshot *s, const struct na_leftover *lo,
			size_t nlo)
{
	char when[32], tx[16], rx[16];
	int pw = 32; /* the CGROUP column: at least 32, else the longest path (< NA_PATH_MAX) */
	size_t i;

	printf("pin root:     %s (ABI %u)\n", g->pin_root, s->meta.abi_version);
	printf("live sockets: %zu of %u (%.1f%%)\n", s->nrows, s->meta.max_sockets,
	       s->meta.max_sockets ? 100.0 * (double)s->nrows / s->meta.max_sockets : 0.0);
	printf("closed:       %zu of %u aggregates (%.1f%%), %llu closed sockets not kept (table full)\n",
	       s->nclosed, s->meta.max_closed,
	       s->meta.max_closed ? 100.0 * (double)s->nclosed / s->meta.max_closed : 0.0,
	       (unsigned long long)s->stats.closed_evicted);
	printf("peers:        %zu of %u rows (%.1f%%), %llu packets on their socket's row only (table full)\n",
	       s->npeers, s->meta.max_peers, s->meta.max_peers ? 100.0 * (double)s->npeers / s->meta.max_peers : 0.0,
	       (unsigned long long)s->stats.peer_overflow);
	printf("peer names:   %zu of %u, from the cgroups' own DNS answers (the least used give way)\n", s->npeernames,
	       NA_DNS_MAX_NAMES);
	printf("log:          %llu of %u bytes waiting, %llu records written, %llu dropped (buffer full)\n",
	       (unsigned long long)s->log_pending, s->meta.log_bytes, (unsigned long long)s->stats.log_written,
	       (unsigned long long)s->stats.log_dropped);
	printf("attached:     %zu cgroup%s\n", s->natt, s->natt == 1 ? "" : "s");
	if (s->globals < na_global_link_count())
		printf("global links: %d of %d pinned: rows may outlive their sockets; any netacct attach attaches them again\n",
		       s->globals, na_global_link_count());
	putchar('\n');
	/* The paths whole (the list is short, and an operator looks them up in it), in one column. */
	for (i = 0; i < s->natt; i++)
		if ((int)strlen(s->att[i].a.path) > pw)
			pw = (int)strlen(s->att[i].a.path);
	printf("%-*s %10s %5s %-10s %-19s %10s %10s %9s %9s %9s\n", pw, "CGROUP", "ID", "PROGS", "STATE", "SINCE", "TX",
	       "RX", "OVERFLOW", "PARSE_ERR", "NO_ROW");
	for (i = 0; i < s->natt; i++) {
		const struct na_att_state *a = &s->att[i];
		char progs[16];

		na_time_str(when, sizeof(when), a->a.attach_realtime);
		na_human_bytes(tx, sizeof(tx), (double)na_counters_bytes(&a->t.dir[NA_TX]), 0);
		na_human_bytes(rx, sizeof(rx), (double)na_counters_bytes(&a->t.dir[NA_RX]), 0);
		snprintf(progs, sizeof(progs), "%d/%d", a->programs, na_cgroup_prog_count());
		na_put_printable(stdout, a->a.path, pw);
		printf(" %10llu %5s %-10s %-19s %10s %10s %9llu %9llu %9llu%s\n", (unsigned long long)a->a.cgroup_id, progs,
		       na_att_phase_name(a->phase), when, tx, rx, (unsigned long long)a->t.overflow_packets,
		       (unsigned long long)a->t.parse_errors, (unsigned long long)a->t.norow_packets,
		       a->cgroup_exists ? "" : "  (cgroup removed)");
	}
	status_explain(s);
	status_leftovers(lo, nlo);
}

static const struct na_option status_opts[] = {
	NA_OPT_F(struct na_status_args, json, "json", 0, 1, NULL),
	NA_OPT_HELP_ENTRY(struct na_status_args, help, NULL),
	{ 0 },
};

const struct na_opts na_status_spec = { .cmd = "status", .opts = status_opts,
					.pos = NA_ARGS_NONE("unexpected argument '%s'") };

int na_status_parse(int argc, char **argv, struct na_status_args *a)
{
	memset(a, 0, sizeof(*a));
	return na_opts_parse(&na_status_spec, argc, argv, a);
}

int cmd_status(int argc, char **argv, const struct na_global *g)
{
	struct na_status_args a;
	struct na_state *st = NULL;
	struct na_leftover *lo = NULL;
	struct na_snapshot snap;
	size_t nlo = 0;
	int rc;

	if (na_cmd_done(&na_status_spec, na_status_parse(argc, argv, &a), &a, &rc))
		return rc;
	rc = na_open_snapshot_quiet(g, &st, &snap);
	if (rc)
		return rc;
	na_state_leftovers(st, &lo, &nlo); /* reported; status goes on without */
	if (a.json)
		status_json(g, &snap, lo, nlo);
	else
		status_text(g, &snap, lo, nlo);
	free(lo);
	na_snapshot_free(&snap);
	na_state_close(st);
	return NA_EXIT_OK;
}
