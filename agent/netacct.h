/* SPDX-License-Identifier: (BSD-2-Clause OR GPL-2.0) */
/*
 * libnetacct-agent: load, attach, pin, detach and read netacct's BPF state.
 * No output on stdout from here: callers present. Every function returns 0 or
 * a negative errno and reports the cause through na_log().
 */
#ifndef NETACCT_AGENT_H
#define NETACCT_AGENT_H

#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

#include "netacct_abi.h"

/* The number of elements of an array (not a pointer). */
#define NA_ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
/* -1, 0 or 1 as a is below, equal to or above b: a comparator's answer without a subtraction that could overflow. */
#define NA_CMP(a, b) (((a) > (b)) - ((a) < (b)))

#define NA_DEFAULT_PIN_ROOT "/sys/fs/bpf/netacct"
#define NA_PIN_ROOT_ENV "NETACCT_PIN_ROOT"

/* ---- logging ---------------------------------------------------------- */
enum na_log_level { NA_LOG_ERROR, NA_LOG_WARN, NA_LOG_INFO, NA_LOG_DEBUG };
void na_log_set_verbose(int verbose);
int na_log_verbose(void);
void na_log(enum na_log_level lvl, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Log "netacct: <what>: <strerror(-err)>" and return err. */
int na_err(int err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/*
 * A message that may come in floods (another party's doing): at most
 * NA_RATELIMIT_BURST lines every NA_RATELIMIT_S seconds, then one line saying
 * how many were not shown. Zero-initialised; thread-safe.
 */
#define NA_RATELIMIT_BURST 5
#define NA_RATELIMIT_S 10
struct na_ratelimit {
	const char *what;  /* names the messages in the line that counts those not shown */
	int64_t window_s;
	unsigned shown, hidden;
};
void na_ratelimit_log(struct na_ratelimit *rl, enum na_log_level lvl, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* Once a window is over, the count of what it did not show (call it now and then). */
void na_ratelimit_flush(struct na_ratelimit *rl);

/* ---- cgroups ------------------------------------------------------------ */
struct na_cgroup {
	char abs[PATH_MAX]; /* absolute path, as given, canonicalized */
	char rel[PATH_MAX]; /* as /proc/PID/cgroup shows it: "/" + path below the cgroup2 root */
	uint64_t id;        /* cgroup id == inode of the directory */
};

/* The cgroup2 mount (mount point and root within the hierarchy). */
struct na_cg2mount {
	char dir[PATH_MAX];
	char root[PATH_MAX];
};
/* The cgroup2 mount holding `under` (longest prefix), or the first one when under is NULL. */
int na_mountinfo_cgroup2(FILE *mountinfo, const char *under, struct na_cg2mount *m);
int na_cgroup2_mount(const char *under, struct na_cg2mount *m);
int na_cgroup_resolve(const char *path, struct na_cgroup *cg);
/* A decimal number in [min, max] (digits only: no blank, sign or trailing text): 0 or -EINVAL. */
int na_parse_u64(const char *s, uint64_t min, uint64_t max, uint64_t *out);
/* A group name from the group database, or a number (a group with no name here): 0 or -EINVAL. */
int na_parse_group(const char *s, uint32_t *gid);
/* Is cgroup path rel (as /proc/PID/cgroup shows it) at or below dir? (NULL rel: no) */
int na_path_below(const char *rel, const char *dir);
/*
 * The absolute path of a cgroup given as /proc/PID/cgroup shows it, under
 * the cgroup2 mount (whose root may be below the hierarchy's): 0, -ENOENT
 * when it is outside the mounted subtree, -ENAMETOOLONG.
 */
int na_cgroup_abs(const char *rel, char *abs, size_t len);
/* cgroup v1 hierarchies in a mountinfo: any at all (a hybrid layout), and where net_cls or net_prio is. */
struct na_v1mounts {
	int any;
	char net[PATH_MAX]; /* mount point of a net_cls or net_prio hierarchy, "" if none */
};
int na_mountinfo_v1(FILE *mountinfo, struct na_v1mounts *v);

/*
 * netacct's own cgroups, made, entered and removed for `netacct run` and
 * na-cgfix (agent/cgroup.c): on the cgroup2 filesystem only, so that nothing
 * here can change a cgroup v1 hierarchy (each refuses with -EMEDIUMTYPE a
 * directory that statfs does not report as cgroup2). These log nothing: each
 * caller words the failure in its own voice. 0 or -errno.
 */
/* mkdir path (mode 0755) in the cgroup2 directory that holds it: -EEXIST when it is there. */
int na_cgroup_create(const char *path);
/*
 * Move process pid (0: the caller) into the cgroup at path, by writing it to
 * its cgroup.procs. Async-signal-safe, for a child between fork and exec.
 */
int na_cgroup_enter(const char *path, pid_t pid);
/*
 * rmdir the cgroup at path. The kernel refuses (-EBUSY) while a process or a
 * child cgroup is in it, and for a moment after its last process has exited:
 * retried every 10 ms for up to wait_ms (0: once).
 */
#define NA_CGROUP_EXIT_WAIT_MS 1000
int na_cgroup_remove(const char *path, int wait_ms);

/* id -> relative path, for the subtrees of the attached cgroups. */
struct na_cgpaths;
int na_cgpaths_new(struct na_cgpaths **out);
int na_cgpaths_add_tree(struct na_cgpaths *p, const char *rel);
const char *na_cgpaths_get(const struct na_cgpaths *p, uint64_t id);
/* Add id -> rel (kept if id is there already). */
int na_cgpaths_put(struct na_cgpaths *p, uint64_t id, const char *rel);
void na_cgpaths_free(struct na_cgpaths *p);

/* ---- privileges ---------------------------------------------------------- */
/* 0, or -EPERM after logging which capability is missing for `what`. */
int na_caps_check_attach(const char *what);
/* The same, quietly: 1 when attach and detach can run. */
int na_can_attach(void);
/* What on a cgroup and its ancestors stands in the way of netacct's multi-attach (agent/probe.c). */
struct na_blockers {
	char here[256];            /* " egress ...": hooks of the cgroup held without multi-attach */
	char above[PATH_MAX + 64]; /* "DIR (hook)": an ancestor with a program attached with no flag */
	char others[256];          /* " egress(2) ...": hooks whose programs allow multi-attach */
	unsigned effective;        /* programs that run for the cgroup (its own and its ancestors') */
	int denied;                /* not readable: the query needs CAP_NET_ADMIN */
};
/* For the hooks of the link table, on cgroup directory abs: 0 or -errno. */
int na_cgroup_blockers(const char *abs, struct na_blockers *b);
/* 1 and the reason and the fix when b blocks an attach, 0 when it does not. */
int na_blockers_explain(const char *abs, const struct na_blockers *b, char *why, size_t wlen, char *fix,
			size_t flen);
/*
 * Probe what the BPF object needs from the kernel: every program type and
 * map type it uses, and the BTF tracepoints of its tp_btf programs. 0 when
 * everything is there; otherwise the number missing, named in missing.
 * present: the names probed, for a report.
 */
int na_object_probe(char *missing, size_t mlen, char *present, size_t plen);

/* ---- attach / detach ---------------------------------------------------- */
struct na_attach_opts {
	const char *pin_root;
	/* Map sizes, fixed at the first attach (0: default, or what the pinned state has). */
	uint32_t max_sockets;
	uint32_t max_closed;
	uint32_t log_bytes; /* a power of two, at least one page */
	uint32_t max_peers;
	/*
	 * Who may read (attach --group): with group_set, the pin root becomes
	 * readable by group gid (0: root's alone again); without, new pins get
	 * what the pin root already has.
	 */
	int group_set;
	uint32_t gid;
	/* With a group: the connection log 0640 too, not 0660 (an agent follows it; members only read). */
	int log_private;
};
/* Cgroup programs attached per cgroup (the link table's, agent/links.c). */
int na_cgroup_prog_count(void);
/* Links attached once for all attachments (pinned at the pin root). */
int na_global_link_count(void);
/*
 * Attach, as a transaction (docs/design.md): 0 when attached now (or an
 * interrupted attach of it finished), 1 when it already was, -errno on
 * failure (nothing left behind). Like detach, it first repairs what an
 * interrupted attach or detach left in the pin root.
 */
int na_attach_cgroup(const struct na_attach_opts *o, const char *path);
/* 0, -ENOENT when not attached. */
int na_detach_cgroup(const char *pin_root, const char *path);
/*
 * Unpin every pin of netacct's under pin_root (by name: maps, links,
 * attachment directories), whatever its ABI version: 0; -ENOENT if nothing;
 * -ENOTEMPTY when entries netacct did not pin stay (reported).
 */
int na_detach_all(const char *pin_root);
/*
 * Hold the signals that end a process by default (SIGINT, SIGTERM, SIGHUP,
 * SIGQUIT, SIGPIPE, ...) until na_signals_release(): what runs in between
 * (a transaction, and the line saying it is done) is not stopped half-way.
 */
void na_signals_hold(sigset_t *old);
void na_signals_release(const sigset_t *old);

/* ---- the agent's configuration (agent/conf.c, docs/agent.md) -------------- */
#define NA_CONF_DEFAULT_PATH "/etc/netacct/netacct.conf"
#define NA_CONF_DEFAULT_PORT 9477
#define NA_CONF_DEFAULT_LOG_FILE "/var/log/netacct/connections.jsonl"
/* What listen (and agent --listen) takes: the reason a bad value gets. */
#define NA_CONF_LISTEN_WHY "takes ADDRESS:PORT (127.0.0.1:9477, [::1]:9477, 0.0.0.0:9477)"
struct na_conf {
	char **attach;          /* absolute cgroup paths or glob(7) patterns */
	size_t nattach;
	int group_set;          /* group: attach --group */
	uint32_t gid;
	char listen_addr[64];   /* numeric address */
	uint16_t listen_port;
	unsigned rescan_s;      /* seconds between glob re-scans */
	char log_file[4096];    /* the connection log follows into it; "" = none */
	uint64_t log_max_bytes; /* rotate before the file grows past this */
	unsigned log_keep;      /* rotated files kept, gzip-compressed */
	int per_process;        /* per-process series on /metrics */
	unsigned per_process_max; /* processes with a series of their own */
	int per_peer;           /* per-peer series on /metrics */
	unsigned per_peer_max;  /* peers with a series of their own */
	uint32_t max_sockets, max_closed, log_bytes, max_peers; /* attach sizes, 0 = default */
	/* The traffic history (agent/history.h, docs/agent.md "History"). */
	int history_none;       /* history none: nothing recorded */
	char history[4096];     /* the database; "": the pin root's default (na_history_default_path) */
	unsigned history_interval_s;  /* seconds between samples; divides 300 */
	unsigned history_keep_5min_h; /* 5-minute rows kept, hours */
	unsigned history_keep_hour_d; /* hourly rows kept, days */
	unsigned history_keep_day_d;  /* daily rows kept, days */
	unsigned history_keep_month_m; /* monthly rows kept, months; 0 = for ever */
	unsigned history_peers_max;   /* peer rows of their own per period (processes: per_process_max) */
	char networks[4096];    /* networks file (peer classes); "": NA_NETWORKS_DEFAULT_PATH when it exists */
};
void na_conf_defaults(struct na_conf *c);
/* Parse a whole file; errors name FILE:LINE. 0 or -EINVAL/-EIO, *out untouched on error. */
int na_conf_parse(FILE *f, const char *name, struct na_conf *out);
int na_conf_load(const char *path, struct na_conf *out);
void na_conf_free(struct na_conf *c);
/* A listen value (ADDRESS:PORT, [V6]:PORT) into c->listen_addr/port: 0, or -1 with c unchanged. */
int na_conf_listen(const char *v, struct na_conf *c);

/* ---- reading ------------------------------------------------------------ */
/* Where an attachment stands (docs/design.md, "Transactions"). */
enum na_att_phase {
	NA_ATT_LIVE,       /* counting: committed, every cgroup link pinned, active */
	NA_ATT_INACTIVE,   /* committed, every link pinned, not active: an attach stopped before its last step */
	NA_ATT_INCOMPLETE, /* committed, cgroup links missing */
	NA_ATT_ATTACHING,  /* an attach before its commit (stopped, or under way) */
	NA_ATT_DETACHING,  /* a detach after its commit (stopped, or under way) */
	NA_ATT_UNLINKED,   /* a record without links: an attach before its first link, or a detach after its last */
};
/* "live", "inactive", "incomplete", "attaching", "detaching", "unlinked" */
const char *na_att_phase_name(enum na_att_phase p);

struct na_att_state {
	struct na_attach a;
	struct na_totals t;  /* summed over CPUs */
	int programs;        /* its cgroup links pinned, of na_cgroup_prog_count() */
	int active;          /* na_active holds its token: its programs count */
	enum na_att_phase phase;
	int cgroup_exists;
};

/*
 * A live row as user space sees it: struct na_row (bpf/netacct_abi.h) without
 * its cache-line padding and sequence tracking, with what readers derive
 * from them (a snapshot holds one per live socket: 100 000 in top).
 */
struct na_sock {
	/* what a pass over every row reads first (na_state_read()), together */
	uint64_t cgroup_id;
	uint8_t family;
	uint8_t proto;
	uint8_t state;
	uint8_t owner_src;
	uint32_t flags;
	/* then what top weighs every row by */
	uint64_t first_ns;
	uint32_t pid;
	uint32_t uid;
	struct na_counters dir[NA_NDIR]; /* resent_bytes as na_resent() shows it */
	uint32_t srtt_us;
	uint16_t lport;
	uint16_t rport;
	/* names: looked at for the rows shown and exported */
	char comm[NA_COMM_LEN];
	uint8_t laddr[16];
	uint8_t raddr[16];
};

/* The user-space view of a kernel row. */
void na_sock_from_row(struct na_sock *s, const struct na_row *r);

/*
 * A live row of a snapshot: also the layout of the reader's buffer
 * (bpf/netacct_abi.h), whose first bytes one pass over every row touches:
 * the cookie, the cgroup's path and the fields above.
 */
struct na_sock_row {
	uint64_t cookie;
	const char *cgroup; /* relative path or NULL when unknown (points into the snapshot) */
	struct na_sock s;
};

struct na_closed_row {
	struct na_closed_key k;
	struct na_closed c;
	const char *cgroup; /* relative path or NULL when unknown (points into the snapshot) */
};

/* A peer of an unconnected UDP socket that talks to many (na_peers). */
struct na_peer_row {
	struct na_peer_key k;
	struct na_peer p;
};

/* A peer name a cgroup learnt from a DNS answer (na_dns), as text. */
struct na_peername {
	uint64_t cgroup_id;
	uint8_t family;
	uint8_t addr[16];
	uint64_t learnt_ns, expires_ns; /* boot ns */
	char *name;                     /* "www.example.com", as dig shows it */
};

/* An answer names the sockets begun until it expires, and at least this long after it. */
#define NA_DNS_MIN_VALID_NS (5ULL * 1000000000ULL)

/* The text of a name in DNS wire form (labels), at most size - 1 bytes; its length, 0 for none. */
size_t na_dns_name_text(const uint8_t *wire, size_t len, char *out, size_t size);
/* Rows of na_dns as text, sorted for na_peernames_find(); 0 or -ENOMEM. */
int na_peernames_from_map(const struct na_dns_key *keys, const struct na_dns_name *vals, size_t n,
			  struct na_peername **out, size_t *nout);
void na_peernames_free(struct na_peername *rows, size_t n);
/* The name of a cgroup's peer for a socket whose first packet was at first_ns (0: unknown), or NULL. */
const char *na_peernames_find(const struct na_peername *rows, size_t n, uint64_t cgroup_id, uint8_t family,
			      const uint8_t *addr, uint64_t first_ns);

/* The name of a peer as na_peernames_find() gives it, looked up in na_dns (fd) into out: 1, or 0 for none. */
int na_dns_lookup(int fd, uint64_t cgroup_id, uint8_t family, const uint8_t *addr, uint64_t first_ns, char *out,
		  size_t size);

struct na_rbuf;
/* How many live rows one cgroup has: readers that count rows per cgroup need not look at every row. */
struct na_cg_live {
	uint64_t id;
	const char *path; /* the rows' cgroup (points into the snapshot), NULL when unknown */
	size_t live;
};
/*
 * top's compact read of the live rows (struct na_rd_fig, agent/reader.c):
 * slots[0..n) this read's rows; the rows of the read before (then) are the
 * then_* of slots[0..min(n, nthen)) and the rows of slots[n..nthen). Valid
 * until the next na_state_read_figs() of the same state, which writes the
 * same slots: only the latest snapshot's figures may be read.
 */
struct na_figs {
	struct na_rd_fig *slots;
	size_t n;
	size_t nthen;
	uint64_t seq;       /* this read's number, of the state's figure reads */
	uint64_t then_seq;  /* the read whose rows are then (0: none, nthen is 0) */
	struct na_rbuf *held;
};

struct na_snapshot {
	uint64_t boot_ns;     /* CLOCK_BOOTTIME when read */
	int64_t realtime_off; /* na_boot_offset_ns(): boot ns + this = Unix time in ns */
	struct na_meta meta;
	struct na_stats stats;
	uint64_t log_pending; /* bytes waiting in the connection log (ring buffer) */
	struct na_att_state *att;
	size_t natt;
	int busy;             /* an attach or detach held the pin root's lock: a phase may be one under way */
	int globals;          /* global links pinned, of na_global_link_count() */
	struct na_sock_row *rows;
	size_t nrows;
	struct na_rbuf *rows_buf; /* rows is a reader's buffer (agent/reader.c), NULL: malloc'ed */
	struct na_figs figs;  /* na_state_read_figs(): top's figures of the live rows instead of rows */
	struct na_cg_live *cglive; /* live rows per cgroup of the rows, by id */
	size_t ncglive;
	size_t unowned;       /* TCP and UDP rows without an owner (NA_OWN_NONE): na_owners_resolve() looks at these */
	struct na_closed_row *closed;
	size_t nclosed;
	struct na_peer_row *peers; /* sorted by socket cookie */
	size_t npeers;
	struct na_peername *peernames; /* sorted by cgroup, family, address */
	size_t npeernames;
	struct na_cgpaths *paths;
};

/* A snapshot's live rows: its rows, or top's figures of them (na_state_read_figs()). */
static inline size_t na_snapshot_nlive(const struct na_snapshot *snap)
{
	return snap->figs.slots ? snap->figs.n : snap->nrows;
}

/* A TCP or UDP row without an owner: what na_owners_resolve() looks for. */
static inline int na_unowned(uint8_t owner_src, uint8_t proto)
{
	return owner_src == NA_OWN_NONE && (proto == NA_P_TCP || proto == NA_P_UDP);
}

/* The peers of the socket with this cookie in a snapshot: the first, and *n of them (0: none). */
const struct na_peer_row *na_snapshot_peers(const struct na_snapshot *snap, uint64_t cookie, size_t *n);

struct na_state;
/*
 * Is pin_root one netacct may use: an absolute path without symbolic links to
 * a directory on bpffs, owned by root and writable by nobody else, below
 * directories only root can change (or sticky)? 0; -ENOENT (quiet) when it
 * does not exist; -errno otherwise, reported with the reason and the fix.
 */
int na_pin_root_trust(const char *pin_root);
/*
 * The same for a directory netacct writes files in (the agent's log): its
 * real path (links resolved once) through directories only root can change
 * to a directory root's and writable by nobody else. 0 and *fd (O_PATH, for
 * the *at() calls) or -errno (-ENOENT quiet, the rest reported).
 */
int na_dir_trust_open(const char *dir, const char *what, int *fd);
/*
 * The directory of a file the agent writes (what: "log-file", "history"),
 * made with mode when it is missing below a trusted directory, and then
 * trusted as na_dir_trust_open() trusts one. 0, or -errno reported with the
 * reason.
 */
int na_file_dir_check(const char *file, const char *what, mode_t mode);
/* -ENOENT when nothing is attached (no pin root); -EPROTO on an ABI mismatch. */
int na_state_open(const char *pin_root, struct na_state **out);
/*
 * The pinned na_meta: 0 (*have 0 when there is none), -EPROTO for another ABI
 * (reported; meta->abi_version then says which, 0 when na_meta itself has
 * another layout), -errno.
 */
int na_state_meta(const char *pin_root, struct na_meta *meta, int *have);
/*
 * A snapshot of everything pinned. The live rows come from one walk of
 * na_socks by a program of the reader's own (agent/reader.c) when this
 * process may load programs and the table is large enough for it to pay
 * (or NETACCT_READ=walk), else from batched map reads (NETACCT_READ=batch
 * forces them); both give the same rows. A snapshot's rows may live in a
 * buffer of st's: free the snapshot with na_snapshot_free() (before or after
 * na_state_close()).
 */
int na_state_read(struct na_state *st, struct na_snapshot *snap);
/*
 * The same snapshot with top's figures of the live rows (snap->figs) instead
 * of rows: what a frame by socket needs of every row at 136 bytes a row,
 * where rows take 184 and two snapshots of them twice that. Where the
 * reader's walk is not used (or cannot read them), rows as na_state_read()
 * reads them (snap->figs.slots NULL).
 */
int na_state_read_figs(struct na_state *st, struct na_snapshot *snap);
/* The live row of socket cookie now, as a snapshot's row (cgroup NULL): 0, -ENOENT, or -errno. */
int na_state_sock_row(struct na_state *st, uint64_t cookie, struct na_sock_row *out);
/* The path of cgroup id among a snapshot's live rows' (cglive), or NULL. */
const char *na_snapshot_cgroup(const struct na_snapshot *snap, uint64_t id);
/*
 * A link of this pin root's programs (they use its na_active) that no pin in
 * its tree holds: a process keeps it attached with a descriptor, out of
 * reach of every detach, until that process ends.
 */
struct na_leftover {
	uint32_t link_id;
	uint64_t cgroup_id;   /* 0 for a link that is not a cgroup link */
	char cgroup[NA_CGPATH_LEN]; /* its path as /proc/PID/cgroup shows it, "" when not found */
	char hook[32];        /* its attach type: "cgroup_inet_egress", "trace_raw_tp", ... */
	int pids[4];          /* processes holding it */
	int npids;
};
/* Every such link: 0 (none, or not visible: it takes CAP_SYS_ADMIN), or -errno. */
int na_state_leftovers(struct na_state *st, struct na_leftover **out, size_t *n);
/*
 * 1 while the maps st has open are the ones pinned at its root; 0 once they
 * were replaced (detach --all, then a new attach) or unpinned: a reader that
 * stays open across reads (the agent) opens the pin root again. -errno
 * (reported) when the pin root is no longer one netacct may use.
 */
int na_state_current(struct na_state *st);
void na_state_close(struct na_state *st);
void na_snapshot_free(struct na_snapshot *snap);

/* ---- helpers shared by the front ends ---------------------------------- */
/*
 * The resent bytes of a counter set, as shown: the kernel adds a signed
 * figure per segment that is below 0 while a sequence hole is open (a segment
 * lost before the hook, or two passing it out of order); it shows 0 then.
 */
static inline uint64_t na_resent(const struct na_counters *c)
{
	return (int64_t)c->resent_bytes < 0 ? 0 : c->resent_bytes;
}
const char *na_proto_name(uint8_t proto);
const char *na_family_name(uint8_t family);
/* ss-style TCP state name ("established", "listen", ...); "" for 0 (not TCP). */
const char *na_tcp_state_name(uint8_t state);
/* inet_ntop of a row address; "" for an all-zero address. */
void na_addr_str(uint8_t family, const uint8_t addr[16], char *buf, size_t len);
const char *na_pin_root(const char *opt);
uint64_t na_boot_ns(void);
/* CLOCK_MONOTONIC in whole seconds: for retries and ages, never for a date. */
int64_t na_mono_s(void);
/* PREFIX + the pin root's path escaped into one file name (%2F, %25) + EXT. */
int na_pin_root_file(const char *prefix, const char *pin_root, const char *ext, char *p, size_t len);

/* ---- owner resolution (agent/owners.c) ----------------------------------- */
/*
 * Sockets that existed before attach get no sock_create/connect event, so
 * their rows carry owner_src NA_OWN_NONE. na_owners_resolve() finds their
 * owners the way `ss -p` does and writes them into the pinned rows through
 * the na_set_owner syscall program:
 *   1. one sock_diag dump per (AF_INET, AF_INET6) x (TCP, UDP) that a wanted
 *      row needs (TIME_WAIT and request sockets excluded: they own nothing)
 *      gives cookie -> inode, uid;
 *   2. only when some wanted cookie was listed, one pass over /proc/PID/fd
 *      maps inode -> pid (tgid), comm; it stops once every inode is found;
 *   3. a found row gets NA_OWN_PROC (the lowest pid holding the socket); a
 *      listed socket that no process we can read holds (other pid namespace,
 *      closed by its process, held by a process whose /proc/PID/fd we may not
 *      read) gets NA_OWN_UNKNOWN with the socket's uid: not tried again.
 * The row's owner_src in the pinned map is the cache: only NA_OWN_NONE rows
 * are looked at, and with none (the steady state) nothing is read at all.
 * Rows that sock_diag does not list (closed meanwhile, another network
 * namespace, not TCP/UDP) are left alone. The snapshot's rows are updated
 * from the map afterwards (a kernel hook may have set the owner meanwhile).
 * pid/comm/uid are as this process's pid and user namespaces see them.
 *
 * Returns 0 or -errno (reported); the snapshot stays usable either way.
 * stats may be NULL.
 */
struct na_owners_stats {
	size_t wanted;       /* rows with NA_OWN_NONE and TCP/UDP */
	size_t listed;       /* ... whose socket sock_diag listed */
	size_t resolved;     /* ... set to NA_OWN_PROC */
	size_t unknown;      /* ... set to NA_OWN_UNKNOWN */
	size_t dumps;        /* sock_diag dumps done */
	size_t diag_socks;   /* sockets those dumps listed */
	size_t procs;        /* /proc/PID/fd directories read */
	size_t procs_denied; /* ... not readable (EACCES: ptrace access denied) */
	size_t fds;          /* fd links read */
};
int na_owners_resolve(const char *pin_root, struct na_snapshot *snap, struct na_owners_stats *stats);

/* Parsers, exposed for tests/unit/test_owners.c. */
/* "socket:[12345]" (len bytes, no NUL needed) -> 0 and *inode; -EINVAL for anything else. */
int na_owners_parse_fdlink(const char *link, size_t len, uint64_t *inode);
/* /proc/PID/comm contents -> comm (one trailing newline dropped, at most 15 chars, NUL-padded). */
void na_owners_parse_comm(const char *buf, size_t len, char comm[NA_COMM_LEN]);

/* One socket of a sock_diag inet dump. */
struct na_diag_sock {
	uint64_t cookie; /* idiag_cookie[0] | idiag_cookie[1] << 32 == SO_COOKIE == bpf_get_socket_cookie */
	uint64_t inode;  /* 0: no file (orphaned, closed by its process) */
	uint32_t uid;
	uint8_t family;  /* AF_INET / AF_INET6 */
	uint8_t state;   /* enum na_tcp_state (UDP: 7 unconnected, 1 connected) */
};
typedef int (*na_diag_cb)(const struct na_diag_sock *d, void *ctx);
/*
 * Parse one datagram of a SOCK_DIAG_BY_FAMILY dump reply (untrusted lengths):
 * cb for every inet_diag_msg of sequence seq (others are skipped). Returns
 * 0 when more datagrams follow, 1 at NLMSG_DONE, the kernel's -errno for
 * NLMSG_ERROR or a failed dump, -EBADMSG for a malformed message, or cb's
 * non-zero return.
 */
int na_owners_parse_diag(const void *buf, size_t len, uint32_t seq, na_diag_cb cb, void *ctx);

/* ---- connection log (agent/connlog.c) ----------------------------------- */
/*
 * The na_log ring buffer: one struct na_conn per socket that can send nothing
 * more. Reading consumes: the ring buffer has one consumer position, so one
 * reader at a time. A record handed to the callback is consumed once the
 * callback returns, whatever it returns; a negative return also stops the
 * current poll/consume and is passed back. A callback that could not deliver
 * its record and wants it kept for the next reader must end the process
 * instead of returning (agent/connlog.c shows why, from libbpf's source).
 */
struct na_connlog;
typedef int (*na_connlog_fn)(void *ctx, const struct na_conn *c);
/* -ENOENT when nothing is attached; -EPROTO on another ABI or layout (reported). */
int na_connlog_open(const char *pin_root, na_connlog_fn fn, void *ctx, struct na_connlog **out);
/* Records handled, or a negative errno (-EINTR: a signal), or the callback's error. */
int na_connlog_poll(struct na_connlog *l, int timeout_ms);
int na_connlog_consume(struct na_connlog *l);
/* The shared counters (log_dropped, log_written). */
int na_connlog_stats(const struct na_connlog *l, struct na_stats *st);
/*
 * 1 while <pin root>/na_log is still the buffer being read; 0 once it was
 * unpinned (detach --all) or replaced by a newer attach: nothing more comes.
 */
int na_connlog_pinned(const struct na_connlog *l);
/* A cgroup's path: the live tree, else the last path na_cgpath has for it; NULL if neither. */
const char *na_connlog_cgroup(struct na_connlog *l, uint64_t cgroup_id);
/* The name the record's cgroup looked its peer up by (na_dns), or NULL; valid until the next call. */
const char *na_connlog_peer_name(struct na_connlog *l, const struct na_conn *c);
void na_connlog_close(struct na_connlog *l);
/* CLOCK_REALTIME - CLOCK_BOOTTIME now, in ns: boot ns + offset = Unix time in ns. */
int64_t na_boot_offset_ns(void);

/* ---- names people know for a cgroup (agent/names.c, docs/names.md) -------- */
/*
 * A prefix for every metadata path names.c reads ("/var/log/pods" is read
 * as "$NETACCT_METADATA_ROOT/var/log/pods"): tests point it at fixtures.
 */
#define NA_METADATA_ROOT_ENV "NETACCT_METADATA_ROOT"
#define NA_NAME_MAX 256
/* What a cgroup's path says about it, and what the host's metadata adds: "" when unknown. */
struct na_cgnames {
	char unit[NA_NAME_MAX];      /* systemd unit; a user unit as "user@UID.service/NAME" */
	char container[NA_NAME_MAX]; /* the container's name (metadata) */
	char container_id[96];       /* "containerd://<64 hex>" ...; the bare id when the layout does not name the runtime */
	char pod[NA_NAME_MAX];       /* the pod's name (metadata) */
	char pod_uid[72];            /* with dashes, as the Kubernetes API writes it */
	char ns[NA_NAME_MAX];        /* the pod's namespace (metadata) */
	char qos[16];                /* Guaranteed, Burstable or BestEffort */
};
/* What the path alone gives (no file is read); internal detail for the lookup, exposed for tests. */
enum na_runtime { NA_RT_NONE, NA_RT_UNKNOWN, NA_RT_DOCKER, NA_RT_CONTAINERD, NA_RT_CRIO, NA_RT_PODMAN };
struct na_cgpath_info {
	struct na_cgnames n;  /* unit, container_id, pod_uid, qos */
	enum na_runtime runtime;
	char id[72];          /* the container id, "" */
	long long user;       /* the uid of the user@UID.service the path is below, -1 */
};
/* Parse a cgroup path as /proc/PID/cgroup shows it (any prefix above the runtime's layout): 0, -EINVAL. */
int na_cgpath_parse(const char *rel, struct na_cgpath_info *out);
/* "docker", "containerd", "cri-o", "podman", "" */
const char *na_runtime_name(enum na_runtime rt);
/*
 * The names of cgroups, read lazily from the host's metadata and kept per
 * cgroup id: the kubelet's log directories, docker's container configs,
 * containers/storage (podman, CRI-O). A file that is missing, unreadable,
 * not a regular file or too big just leaves names empty; nothing is asked
 * of a daemon or the network, and nothing waits.
 */
struct na_names;
/* root: the metadata root ("/"), NULL for $NETACCT_METADATA_ROOT or "/". 0, -ENOMEM, -ENAMETOOLONG (1 KiB). */
int na_names_new(const char *root, struct na_names **out);
void na_names_free(struct na_names *n);
/*
 * The names of the cgroup (rel may be NULL: nothing known); never NULL, valid
 * until na_names_expire() or na_names_free(). Names still missing are looked
 * for again at most once per pass, and only after NA_NAMES_RETRY_S.
 */
#define NA_NAMES_RETRY_S 30
const struct na_cgnames *na_names_get(struct na_names *n, uint64_t cgroup_id, const char *rel);
/* A new pass (a frame of top, a scrape): metadata directories are read again when needed. */
void na_names_pass(struct na_names *n);
/*
 * Forget the cgroups not asked for in the last idle_s seconds (a long-running
 * reader: the agent, top, log --follow; NA_NAMES_IDLE_S). What na_names_get()
 * gave for them is freed: call it where no reader holds one.
 */
#define NA_NAMES_IDLE_S 600
void na_names_expire(struct na_names *n, unsigned idle_s);
/*
 * The name a person knows the cgroup by: "pod/container", the container's
 * name, "pod/<id>", "<runtime>:<id>" (12 hex digits), the unit, or else the
 * path itself (rel, "-" when NULL).
 */
void na_cgnames_best(const struct na_cgnames *c, const char *rel, char *buf, size_t len);
/* Parse a kubelet / dockershim container name "k8s_CONTAINER_POD_NAMESPACE_UID_ATTEMPT" into c: 1 when it is one. */
int na_names_parse_k8s(const char *name, struct na_cgnames *c);

/* ---- peer classes: named networks (agent/netclass.c, docs/names.md) ------- */
#define NA_NETWORKS_DEFAULT_PATH "/etc/netacct/networks"
#define NA_NETCLASS_MAX 64     /* classes a file may name */
#define NA_NETCLASS_NAME_MAX 64
struct na_netclass;
/*
 * The built-in classes (loopback, link-local, private, multicast, internet)
 * and a networks file's ("NAME CIDR [CIDR...]" per line, '#' comments). A
 * bad line names FILE:LINE and nothing of the file is used. 0, -EINVAL,
 * -ENOMEM (f NULL: the built-in classes alone).
 */
int na_netclass_parse(FILE *f, const char *name, struct na_netclass **out);
/*
 * Load path; NULL: NA_NETWORKS_DEFAULT_PATH when it exists, the built-in
 * classes alone when it does not. 0 or -errno (reported).
 */
int na_netclass_load(const char *path, struct na_netclass **out);
void na_netclass_free(struct na_netclass *c);
/* The class of an address (the longest prefix; the user's over a built-in one of the same length), -1 for none (all zero). */
int na_netclass_of(const struct na_netclass *c, uint8_t family, const uint8_t addr[16]);
/* A class's name, "" for -1. */
const char *na_netclass_name(const struct na_netclass *c, int cls);
int na_netclass_count(const struct na_netclass *c);

/* ---- the agent daemon (netacct_daemon: agent/daemon.c and its parts) ------ */
/* The agent's files for a pin root (/run/netacct/agent<pin root, '/' as %2F>.lock, .cgroups). */
#define NA_AGENT_LOCK_DIR "/run/netacct"
int na_agent_lock_path(const char *pin_root, char *p, size_t len);
/* 1 (and its pid) when an agent runs for the pin root (holds its lock, as /proc/locks shows). */
int na_agent_running(const char *pin_root, int *pid);
/* 1 when the agent of the pin root lists cgroup id as one it manages; conf: its configuration file. */
int na_agent_manages(const char *pin_root, uint64_t cgroup_id, char *conf, size_t clen);

/*
 * What the command gives the agent: its options, and the text the agent
 * serves and writes, which the command presents (the same as netacct log
 * --json's records and export --prom's families).
 */
struct na_agent_opts {
	const char *pin_root;
	const char *conf_path;
	const char *listen;     /* --listen ADDR:PORT over the configuration's, NULL: none */
	const char *networks;   /* --networks FILE over the configuration's, NULL: none */
	int detach_on_exit;
	/* --listen applied over a configuration just loaded: 0, or -errno after reporting. */
	int (*listen_apply)(struct na_conf *c, const char *listen);
	/*
	 * One connection record as a line of the log file; offset is
	 * CLOCK_REALTIME - CLOCK_BOOTTIME in ns. Called under the agent's lock,
	 * from its main loop only. 0, or -EIO when out failed.
	 */
	int (*conn_line)(FILE *out, struct na_connlog *l, const struct na_conn *c, int64_t offset,
			 struct na_names *names, const struct na_netclass *classes);
	/*
	 * The /metrics text of a snapshot into f, with what metrics_ctx keeps
	 * from one scrape to the next; called under the agent's lock, from its
	 * scraper thread only. 0 or -errno.
	 */
	int (*metrics)(void *metrics_ctx, FILE *f, const struct na_snapshot *snap, const struct na_conf *c,
		       struct na_names *names, const struct na_netclass *classes);
	void *metrics_ctx;
	const char *metrics_type; /* the Content-Type of that text */
};
/*
 * SIGHUP, SIGTERM and SIGINT held for the agent's signal loop: first thing
 * (a SIGHUP from systemctl reload while the agent starts must not end it).
 */
void na_agent_signals_hold(void);
/* na_agent_run(): the --listen given was refused; nothing started. */
#define NA_AGENT_LISTEN_REFUSED 1
/*
 * Run the agent until SIGTERM or SIGINT (docs/agent.md). 0 when it ended as
 * asked, NA_AGENT_LISTEN_REFUSED, or -errno once it said why it could not
 * start or what failed (a detach at the end included).
 */
int na_agent_run(const struct na_agent_opts *o);

#endif /* NETACCT_AGENT_H */
