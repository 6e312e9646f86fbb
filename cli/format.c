// SPDX-License-Identifier: (BSD-2-Clause OR GPL-2.0)
#include <string.h>
#include <time.h>

#include "format.h"

/* What a table shows of a byte: itself when it is printable ASCII, '?' otherwise. */
static char shown(char c)
{
	return c >= 0x20 && c < 0x7f ? c : '?';
}

static char *put_printable(char *out, const char *s, int n)
{
	int i;

	for (i = 0; i < n; i++)
		*out++ = shown(s[i]);
	return out;
}

void na_put_printable(FILE *f, const char *s, int w)
{
	int n;

	for (n = 0; s[n]; n++)
		putc(shown(s[n]), f);
	for (; n < w; n++)
		putc(' ', f);
}

void na_fit(char *out, const char *s, int w, int left, enum na_elide e)
{
	int n = (int)strlen(s), head = n, tail = 0, dots, pad;

	if (w < 0)
		w = 0;
	dots = n > w && w > 2;
	if (n > w && !dots)
		head = w;
	else if (dots && e == NA_ELIDE_END)
		head = w - 2;
	else if (dots && e == NA_ELIDE_START)
		head = 0, tail = w - 2;
	else if (dots)
		head = (w - 2) / 2, tail = w - 2 - head;
	pad = w - (dots ? w : head);
	if (!left) {
		memset(out, ' ', (size_t)pad);
		out += pad;
	}
	out = put_printable(out, s, head);
	if (dots) {
		memcpy(out, "..", 2);
		out = put_printable(out + 2, s + n - tail, tail);
	}
	if (left) {
		memset(out, ' ', (size_t)pad);
		out += pad;
	}
	*out = '\0';
}

void na_human_bytes(char *buf, size_t len, double v, int bits)
{
	static const char *const bunits[] = { "B", "KiB", "MiB", "GiB", "TiB", "PiB" };
	static const char *const kunits[] = { "bit", "kbit", "Mbit", "Gbit", "Tbit", "Pbit" };
	double div = bits ? 1000.0 : 1024.0;
	int i = 0;

	if (bits)
		v *= 8;
	while (v >= div && i < 5) {
		v /= div;
		i++;
	}
	if (i == 0)
		snprintf(buf, len, "%.0f %s", v, bits ? kunits[0] : bunits[0]);
	else
		snprintf(buf, len, "%.1f %s", v, bits ? kunits[i] : bunits[i]);
}

void na_time_str(char *buf, size_t len, uint64_t realtime_s)
{
	time_t t = (time_t)realtime_s;
	struct tm tm;

	localtime_r(&t, &tm);
	strftime(buf, len, "%Y-%m-%d %H:%M:%S", &tm);
}

void na_iso_time(char *buf, size_t len, int64_t realtime_ns)
{
	/* The text of the last second asked for: rows' times cluster (export at 100k rows). */
	static int64_t last_s = -1;
	static char last[24];
	int64_t sec = realtime_ns / 1000000000;
	size_t n;
	int ms;

	if (sec != last_s) {
		time_t t = (time_t)sec;
		struct tm tm;

		gmtime_r(&t, &tm);
		strftime(last, sizeof(last), "%Y-%m-%dT%H:%M:%S", &tm);
		last_s = sec;
	}
	ms = (int)(realtime_ns % 1000000000 / 1000000);
	n = strlen(last);
	if (len < n + 6) { /* .mmmZ and the NUL */
		if (len)
			buf[0] = '\0';
		return;
	}
	memcpy(buf, last, n);
	buf[n++] = '.';
	buf[n++] = (char)('0' + ms / 100);
	buf[n++] = (char)('0' + ms / 10 % 10);
	buf[n++] = (char)('0' + ms % 10);
	buf[n++] = 'Z';
	buf[n] = '\0';
}

uint64_t na_counters_bytes(const struct na_counters *c)
{
	return c->ip_hdr_bytes + c->l4_hdr_bytes + c->payload_bytes;
}

/* Display indices of the n columns ordered by priority, then display order (insertion sort: n is small). */
static void by_priority(const struct na_lay_col *c, int n, int *ord)
{
	int i, j, k;

	for (i = 0, k = 0; i < n; i++) {
		if (c[i].prio <= 0)
			continue;
		for (j = k++; j > 0 && c[ord[j - 1]].prio > c[i].prio; j--)
			ord[j] = ord[j - 1];
		ord[j] = i;
	}
	for (; k < n; k++)
		ord[k] = -1;
}

/* Grow the shown columns, by priority, towards the width field goal (width or want). */
static int grow(const struct na_lay_col *c, const int *ord, int n, int left, int *out, int to_want)
{
	int i, add, goal;

	for (i = 0; i < n && ord[i] >= 0 && left > 0; i++) {
		const struct na_lay_col *k = &c[ord[i]];

		if (!out[ord[i]])
			continue;
		goal = to_want ? (k->want > k->width ? k->want : k->width) : k->width;
		add = goal - out[ord[i]];
		if (add > left)
			add = left;
		if (add > 0) {
			out[ord[i]] += add;
			left -= add;
		}
	}
	return left;
}

int na_layout(const struct na_lay_col *c, int n, int avail, int *out)
{
	int ord[64], i, j, shown = 0, used, need;

	if (n <= 0)
		return 0;
	if (n > 64)
		n = 64;
	by_priority(c, n, ord);
	memset(out, 0, (size_t)n * sizeof(*out));
	for (i = 0; i < n && ord[i] >= 0; i++) {
		const struct na_lay_col *k = &c[ord[i]];

		/* Those above keep their width; this one and its equals make do with their min. */
		need = 0;
		for (j = 0; j <= i; j++) {
			const struct na_lay_col *a = &c[ord[j]];

			need += 1 + (a->prio < k->prio ? a->width : a->min);
		}
		if (need > avail)
			break;
		out[ord[i]] = k->min;
		shown++;
	}
	for (i = 0, used = 0; i < n; i++)
		used += out[i] ? 1 + out[i] : 0;
	used = grow(c, ord, n, avail - used, out, 0);
	grow(c, ord, n, used, out, 1);
	return shown;
}
