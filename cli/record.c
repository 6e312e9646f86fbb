// SPDX-License-Identifier: (BSD-2-Clause OR GPL-2.0)
#include <stdlib.h>

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
	for (i = 0; i < n; i++) {
		if (i)
			fputc(',', out);
		if (f[i].t == NA_FT_U64)
			fprintf(out, "%llu", (unsigned long long)f[i].u);
		else if (f[i].t == NA_FT_NUM)
			fputs(f[i].s, out);
		else if (f[i].t == NA_FT_STR)
			na_csv_field(out, f[i].s);
	}
	fputs("\r\n", out); /* RFC 4180 records end in CRLF */
}
