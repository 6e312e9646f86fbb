/* SPDX-License-Identifier: (BSD-2-Clause OR GPL-2.0) */
/*
 * Machine-readable records: one field list per record, written as RFC 4180
 * CSV (CRLF) or as a JSON line with the same keys, so the two cannot drift.
 * Used by export and log.
 */
#ifndef NETACCT_CLI_RECORD_H
#define NETACCT_CLI_RECORD_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

enum na_field_type {
	NA_FT_NULL, /* empty in CSV, null in JSON */
	NA_FT_STR,
	NA_FT_U64,
	NA_FT_NUM,  /* a decimal number given as text (e.g. "12.345"): a JSON number */
};

struct na_field {
	enum na_field_type t;
	const char *s;
	uint64_t u;
};

/* A string field; NULL or "" is empty. */
void na_field_str(struct na_field *f, const char *s);
void na_field_u64(struct na_field *f, uint64_t u);
void na_field_num(struct na_field *f, const char *decimal);
/* Boot-time ns as ISO 8601 UTC in buf, or empty for 0. */
void na_field_time(struct na_field *f, char *buf, size_t len, uint64_t boot_ns, int64_t realtime_off);

void na_record_header(FILE *out, const char *const *cols, size_t n);
void na_record_write(FILE *out, const char *const *cols, const struct na_field *f, size_t n, int json);

#endif
