/* SPDX-License-Identifier: (BSD-2-Clause OR GPL-2.0) */
/*
 * netacct top, in layers that call one way only: the command (cmd_top.c:
 * options, which printer) -> the printers (top_batch.c plain text,
 * top_tui.c ncurses) -> the columns (top_cols.c: every cell either prints)
 * -> the frame model (top_frame.c: a frame from two snapshots) -> view.c.
 */
#ifndef NETACCT_CLI_TOP_H
#define NETACCT_CLI_TOP_H

#include "common.h"
#include "format.h"
#include "view.h"

/* What is shown and how: set by the command (cmd_top.c) and the keys (top_tui.c). */
struct top_opts {
	double interval;     /* seconds */
	long iterations;     /* 0: until interrupted (or q) */
	long limit;          /* rows shown, 0: all */
	size_t ordered;      /* rows a frame must order (the screen's), 0: all */
	int bits;            /* rates in bit/s */
	int totals;          /* TX/RX columns and the order by totals instead of rates */
	int batch;
	enum na_col sort;    /* NA_C_COUNT: busiest first */
	int reverse;
	struct na_view_opts view;
	struct na_filter paths;
	char text[64];       /* interactive filter */
	int full_path;       /* CGROUP shows the path, not the name a person knows the cgroup by */
	struct na_names *names;            /* the cgroups' names (agent/names.c), NULL: none */
	const struct na_netclass *classes; /* peer classes, NULL: none */
};

/* ---- the frame model (top_frame.c): frames from view.c's rows ------------- */

/* One attached cgroup's line of the header. */
struct top_cg {
	const char *path;
	double tx_rate, rx_rate;
	uint64_t tx, rx;
	uint64_t retrans, dup;  /* TCP payload sent again, received again */
	double hdr_pct;
	uint64_t live;          /* live sockets at or below it */
	uint64_t closed_since;  /* connections closed since top started */
};

/* Everything one frame shows. */
struct top_frame {
	double secs;
	size_t live_sockets;
	struct top_cg *cg;
	size_t ncg;
	struct na_vrow *rows;   /* the first nrows in order (a screenful, or --limit) */
	size_t nrows;
	size_t total_rows;      /* rows there are in all */
};

/* At start: connections closed so far at or below each attachment. */
struct top_base {
	uint64_t token;
	uint64_t closed;
};

struct top_state {
	struct na_state *st;
	struct top_base *base; /* not a whole snapshot: top keeps few rows in memory */
	size_t nbase;
	struct na_snapshot prev, cur;
	struct na_snapshot before; /* the one before prev: the baseline of the last frame */
	int have_before;
};

/*
 * o->view wired to o: its paths, the cgroups' names and peer classes, and
 * the live view's rule that processes gone and idle age out of it.
 */
void top_view_bind(struct top_opts *o);
/* Open the pinned state and take the first snapshot, of the kind o's frames need. NA_EXIT_*. */
int top_start(const struct na_global *g, struct top_state *ts, const struct top_opts *o);
/* Take the next snapshot and build the frame against the previous one. 0 or -errno. */
int top_next(const struct na_global *g, struct top_state *ts, const struct top_opts *o, struct top_frame *f);
/*
 * The last frame again from the two snapshots it came from, after o changed
 * (order, grouping, filter): no map reads but the names of the rows shown
 * by socket. -EAGAIN before the first top_next, and when the snapshots are
 * top's figures and o now needs rows (another grouping, a text filter):
 * top_rebase() then reads them.
 */
int top_rebuild(const struct top_state *ts, const struct top_opts *o, struct top_frame *f);
/* Take a snapshot as the new baseline, without a frame (after a pause, or o changed its kind). 0 or -errno. */
int top_rebase(const struct na_global *g, struct top_state *ts, const struct top_opts *o);
void top_frame_free(struct top_frame *f);
void top_stop(struct top_state *ts);

/* ---- the columns (top_cols.c): one set of cells for both printers ---------- */

/* Cell text of column c for row r (rates or totals as o says). */
void top_cell(char *buf, size_t len, const struct na_vrow *r, enum na_col c, const struct top_opts *o);
/* Is column c shown for this grouping? (LOCAL is meaningless for a process, ...) */
int top_col_shown(enum na_col c, enum na_group g);
/* The columns of o's grouping, in display order, into out (NA_C_COUNT entries); how many. */
int top_columns(const struct top_opts *o, enum na_col *out);
/*
 * How long column c stays on a narrow screen (1 longest, 0 not shown): the
 * row's identity and the rates first; the sort column right after them.
 */
int top_col_prio(enum na_col c, const struct top_opts *o);
/*
 * Width of column c (--batch, and the full screen when there is room), the
 * narrowest and widest the full screen may make it; left-aligned columns
 * are names, the rest figures.
 */
int top_col_width(enum na_col c);
int top_col_min(enum na_col c);
int top_col_max(enum na_col c);
int top_col_left(enum na_col c);
/* Where a cell too long for its column is cut (na_fit): paths keep their leaf, addresses their port. */
enum na_elide top_col_elide(enum na_col c);
/* The two columns t ("totals") puts first: TX and RX, or TX/s and RX/s. */
int top_col_emphasised(enum na_col c, const struct top_opts *o);

/* The fields of an attached cgroup's line (struct top_cg), in their order without t. */
enum top_cg_col {
	TOP_CG_PATH, TOP_CG_TX_RATE, TOP_CG_RX_RATE, TOP_CG_TX, TOP_CG_RX, TOP_CG_RETRANS, TOP_CG_DUP,
	TOP_CG_HDR, TOP_CG_LIVE, TOP_CG_CLOSED, TOP_CG_COUNT
};

struct top_cg_coldef {
	const char *name;
	int width, min, max; /* as top_col_width() and the rest */
	int prio;            /* of the place: 1 stays longest on a narrow screen */
	int left;            /* the path; the rest are figures */
	enum na_elide elide;
};

extern const struct top_cg_coldef top_cg_cols[TOP_CG_COUNT];

/* Field at place k of the cgroup lines: with totals (t), TX and RX take the rates' place. */
enum top_cg_col top_cg_col_at(const struct top_opts *o, int k);
/*
 * Text of field c of g's line (g NULL: the header's name): buf, or for the
 * path the path itself (whole, so that na_fit keeps its leaf).
 */
const char *top_cg_cell(char *buf, size_t len, const struct top_cg *g, enum top_cg_col c, const struct top_opts *o);
/* As top_col_emphasised(), for the cgroup lines. */
int top_cg_col_emphasised(enum top_cg_col c, const struct top_opts *o);

/* ---- the printers --------------------------------------------------------- */

/* Plain-text frames on stdout (--batch, or no terminal to draw on; top_batch.c); NA_EXIT_*. */
int top_batch(const struct na_global *g, const struct top_opts *o);
/*
 * The interactive view (top_tui.c): NA_EXIT_*, or -ENOTTY when the terminal
 * cannot be driven (TERM), said on stderr: the caller prints plain frames.
 */
int top_interactive(const struct na_global *g, struct top_opts *o);

#endif
