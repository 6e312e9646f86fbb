// SPDX-License-Identifier: (BSD-2-Clause OR GPL-2.0)
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "format.h"
#include "record.h"

void na_field_str(struct na_field *f, const char *s)
{
	f->t = s && *s ? NA_FT_STR : NA_FT_NULL;
	f->s = s;
}

void na_field_u64(struct na_field *f, uint64_t u)
{
	f->t = NA_FT_U64;
	f->u = u;
}

void na_field_num(struct na_field *f, const char *decimal)
{
	f->t = decimal && *decimal ? NA_FT_NUM : NA_FT_NULL;
	f->s = decimal;
}

void na_field_time(struct na_field *f, char *buf, size_t len, uint64_t boot_ns, int64_t realtime_off)
{
	if (!boot_ns) {
		na_field_str(f, NULL);
		return;
	}
	na_iso_time(buf, len, (int64_t)boot_ns + realtime_off);
	na_field_str(f, buf);
}

void na_record_header(FILE *out, const char *const *cols, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		fprintf(out, "%s%s", i ? "," : "", cols[i]);
	fputs("\r\n", out);
}

static json_object *json_value(const struct na_field *f)
{
	switch (f->t) {
	case NA_FT_U64:
		return json_object_new_uint64(f->u);
	case NA_FT_NUM:
		return json_object_new_double_s(strtod(f->s, NULL), f->s);
	case NA_FT_STR:
		return json_object_new_string(f->s);
	default:
		return NULL;
	}
}

/*
 * CSV records go through one buffer, written out with one call per record
 * (or per 4 KiB of an unusually long one): stdio per field was most of
 * export's time at 100 000 rows (docs/performance.md).
 */
struct line {
	FILE *out;
	size_t len;
	char buf[4096];
};

static void line_flush(struct line *l)
{
	if (l->len)
		fwrite(l->buf, 1, l->len, l->out); /* a write error stays in the stream's flag */
	l->len = 0;
}

static void line_put(struct line *l, const char *s, size_t n)
{
	size_t k;

	if (n <= sizeof(l->buf) - l->len) { /* the common case: the field fits */
		memcpy(l->buf + l->len, s, n);
		l->len += n;
		return;
	}
	while (n) {
		if (l->len == sizeof(l->buf))
			line_flush(l);
		k = sizeof(l->buf) - l->len < n ? sizeof(l->buf) - l->len : n;
		memcpy(l->buf + l->len, s, k);
		l->len += k;
		s += k;
		n -= k;
	}
}

static void line_char(struct line *l, char c)
{
	if (l->len == sizeof(l->buf))
		line_flush(l);
	l->buf[l->len++] = c;
}

/* Decimal, two digits a step: figures are most of a record's characters. */
static void line_u64(struct line *l, uint64_t u)
{
	static const char pairs[] = "00010203040506070809101112131415161718192021222324252627282930313233343536373839"
				    "40414243444546474849505152535455565758596061626364656667686970717273747576777879"
				    "8081828384858687888990919293949596979899";
	char num[20], *t = num + sizeof(num);

	while (u >= 100) {
		t -= 2;
		memcpy(t, pairs + 2 * (u % 100), 2);
		u /= 100;
	}
	if (u >= 10) {
		t -= 2;
		memcpy(t, pairs + 2 * u, 2);
	} else {
		*--t = (char)('0' + u);
	}
	line_put(l, t, (size_t)(num + sizeof(num) - t));
}

/* RFC 4180 field: quoted only when it holds , " CR or LF; a " inside is doubled. */
static void line_csv_str(struct line *l, const char *s)
{
	const char *q;

	if (!strpbrk(s, ",\"\r\n")) {
		line_put(l, s, strlen(s));
		return;
	}
	line_char(l, '"');
	while ((q = strchr(s, '"'))) {
		line_put(l, s, (size_t)(q - s) + 1);
		line_char(l, '"');
		s = q + 1;
	}
	line_put(l, s, strlen(s));
	line_char(l, '"');
}

static void csv_write(FILE *out, const struct na_field *f, size_t n)
{
	struct line l;
	size_t i;

	l.out = out;
	l.len = 0;
	for (i = 0; i < n; i++) {
		if (i)
			line_char(&l, ',');
		if (f[i].t == NA_FT_U64)
			line_u64(&l, f[i].u);
		else if (f[i].t == NA_FT_NUM)
			line_put(&l, f[i].s, strlen(f[i].s));
		else if (f[i].t == NA_FT_STR)
			line_csv_str(&l, f[i].s);
	}
	line_put(&l, "\r\n", 2); /* RFC 4180 records end in CRLF */
	line_flush(&l);
}

void na_record_write(FILE *out, const char *const *cols, const struct na_field *f, size_t n, int json)
{
	size_t i;

	if (json) {
		json_object *o = json_object_new_object();

		for (i = 0; i < n; i++)
			json_object_object_add(o, cols[i], json_value(&f[i]));
		fputs(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE), out);
		fputc('\n', out);
		json_object_put(o);
		return;
	}
	csv_write(out, f, n);
}
