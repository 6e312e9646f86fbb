// SPDX-License-Identifier: (BSD-2-Clause OR GPL-2.0)
/* The option tables of the commands (options.h): getopt_long, ranges, names, help lines. */
#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <string.h>

#include "commands.h"
#include "options.h"

#define NA_OPTS_MAX 32 /* options of one command */

static int takes_value(const struct na_option *op)
{
	return op->kind == NA_OPT_STR || op->kind == NA_OPT_UINT || op->kind == NA_OPT_ENUM || op->kind == NA_OPT_FUNC;
}

/* A usage error of the command, or of netacct's own options (no command: no usage line to add). */
__attribute__((format(printf, 2, 3))) static int usage_error(const struct na_opts *o, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (!o->cmd) {
		na_log(NA_LOG_ERROR, "%s", msg);
		return NA_EXIT_USAGE;
	}
	return na_usage_error(o->cmd, "%s", msg);
}

static void store(void *args, const struct na_option *op, uint64_t v)
{
	char *p = (char *)args + op->off;
	uint8_t u8 = (uint8_t)v;
	uint16_t u16 = (uint16_t)v;
	uint32_t u32 = (uint32_t)v;

	switch (op->size) {
	case 1:
		memcpy(p, &u8, 1);
		break;
	case 2:
		memcpy(p, &u16, 2);
		break;
	case 4:
		memcpy(p, &u32, 4);
		break;
	default:
		memcpy(p, &v, sizeof(v));
		break;
	}
}

static uint64_t load(const void *args, const struct na_option *op)
{
	const char *p = (const char *)args + op->off;
	uint8_t u8;
	uint16_t u16;
	uint32_t u32;
	uint64_t v;

	switch (op->size) {
	case 1:
		memcpy(&u8, p, 1);
		return u8;
	case 2:
		memcpy(&u16, p, 2);
		return u16;
	case 4:
		memcpy(&u32, p, 4);
		return u32;
	default:
		memcpy(&v, p, sizeof(v));
		return v;
	}
}

/* The value of one option into args: 0, or -EINVAL when it is not one the option takes. */
static int take(const struct na_option *op, const char *arg, void *args)
{
	uint64_t v;
	size_t i;

	switch (op->kind) {
	case NA_OPT_FLAG:
		store(args, op, (uint64_t)op->val);
		return 0;
	case NA_OPT_COUNT:
	case NA_OPT_STOP:
		store(args, op, op->kind == NA_OPT_STOP ? 1 : load(args, op) + 1);
		return 0;
	case NA_OPT_STR:
		if (((op->flags & NA_OPTF_NONEMPTY) && !*arg) || (op->check && op->check(arg)))
			return -EINVAL;
		memcpy((char *)args + op->off, &arg, sizeof(arg));
		return 0;
	case NA_OPT_UINT:
		if (na_parse_u64(arg, op->min, op->max, &v))
			return -EINVAL;
		store(args, op, v);
		return 0;
	case NA_OPT_ENUM:
		for (i = 0; op->names[i] && strcmp(arg, op->names[i]); i++)
			;
		if (!op->names[i])
			return -EINVAL;
		store(args, op, op->min + i);
		return 0;
	case NA_OPT_FUNC:
		return op->parse(arg, args);
	}
	return -EINVAL;
}

static int bad_value(const struct na_opts *o, const struct na_option *op, const char *arg)
{
	if ((op->flags & NA_OPTF_NONEMPTY) && !*arg)
		return usage_error(o, "--%s: %s", op->name, op->why);
	if (op->flags & NA_OPTF_BARE)
		return usage_error(o, "--%s %s: %s", op->name, arg, op->why);
	return usage_error(o, "--%s '%s': %s", op->name, arg, op->why);
}

/* getopt_long's tables: a long option returns 256 + its index, a short one its letter. */
static size_t build(const struct na_opts *o, struct option *lo, char *so)
{
	size_t n, k = 0;

	if (o->in_order)
		so[k++] = '+';
	for (n = 0; o->opts[n].name && n < NA_OPTS_MAX; n++) {
		const struct na_option *op = &o->opts[n];

		lo[n] = (struct option){ op->name, takes_value(op) ? required_argument : no_argument, NULL, 256 + (int)n };
		if (op->short_name) {
			so[k++] = (char)op->short_name;
			if (takes_value(op))
				so[k++] = ':';
		}
	}
	memset(&lo[n], 0, sizeof(lo[n]));
	so[k] = '\0';
	return n;
}

/* The usage error of o->pos: its why, with arg where it says "%s". */
static int args_refused(const struct na_opts *o, const char *arg)
{
	const char *why = o->pos.why, *at = strstr(why, "%s");

	if (!at)
		return usage_error(o, "%s", why);
	return usage_error(o, "%.*s%s%s", (int)(at - why), why, arg, at + 2);
}

/* The arguments after the options, argv[optind..argc), checked by o->pos and kept in args. */
static int take_args(const struct na_opts *o, int argc, char **argv, void *args)
{
	char **pos = argv + optind;
	int n = argc - optind;

	switch (o->pos.kind) {
	case NA_POS_OWN:
		return 0;
	case NA_POS_NONE:
		return n ? args_refused(o, pos[0]) : 0;
	case NA_POS_SOME:
		if (!n)
			return args_refused(o, "");
		break;
	case NA_POS_AT_MOST:
		if (n > o->pos.max)
			return args_refused(o, pos[o->pos.max]);
		break;
	case NA_POS_ANY:
		break;
	}
	memcpy((char *)args + o->pos.pos_off, &pos, sizeof(pos));
	memcpy((char *)args + o->pos.npos_off, &n, sizeof(n));
	return 0;
}

int na_opts_parse(const struct na_opts *o, int argc, char **argv, void *args)
{
	struct option lo[NA_OPTS_MAX + 1];
	char so[3 * NA_OPTS_MAX + 2];
	const struct na_option *op;
	size_t n = build(o, lo, so), i;
	int c, rc;

	while ((c = getopt_long(argc, argv, so, lo, NULL)) != -1) {
		for (i = 0, op = NULL; i < n && !op; i++)
			if (c == 256 + (int)i || (c < 256 && c == o->opts[i].short_name))
				op = &o->opts[i];
		if (!op)
			return usage_error(o, "unknown option or missing value: %s%s", argv[optind - 1],
					   o->cmd ? "" : " (netacct --help lists them)");
		rc = take(op, optarg, args);
		if (rc == NA_EXIT_USAGE)
			return rc;
		if (rc)
			return bad_value(o, op, optarg);
		if (op->kind == NA_OPT_STOP)
			return 0;
	}
	return take_args(o, argc, argv, args);
}

int na_opts_help_asked(const struct na_opts *o, const void *args)
{
	const struct na_option *op;

	for (op = o->opts; op->name; op++)
		if (op->kind == NA_OPT_STOP && !strcmp(op->name, "help"))
			return load(args, op) != 0;
	return 0;
}

/* "-f, --follow FILE" (or "--follow", moved right under the others with indent). */
static int names_of(char *buf, size_t len, const struct na_option *op, int indent)
{
	if (op->short_name)
		return snprintf(buf, len, "-%c, --%s%s%s", op->short_name, op->name, op->arg ? " " : "",
				op->arg ? op->arg : "");
	return snprintf(buf, len, "%s--%s%s%s", indent ? "    " : "", op->name, op->arg ? " " : "", op->arg ? op->arg : "");
}

void na_opts_help(FILE *f, const struct na_opts *o)
{
	const struct na_option *op;
	char left[256];
	int indent = 0, n;

	for (op = o->opts; op->name; op++)
		indent |= op->help && op->short_name && op->kind != NA_OPT_STOP;
	for (op = o->opts; op->name; op++) {
		if (!op->help && !(op->flags & NA_OPTF_JOIN))
			continue;
		n = names_of(left, sizeof(left), op, indent);
		while ((op->flags & NA_OPTF_JOIN) && op[1].name && n < (int)sizeof(left) - 2) {
			op++;
			n += snprintf(left + n, sizeof(left) - (size_t)n, ", ");
			n += names_of(left + n, sizeof(left) - (size_t)n, op, 0);
		}
		if (n < o->help_width)
			fprintf(f, "  %-*s%s\n", o->help_width, left, op->help);
		else
			fprintf(f, "  %s  %s\n", left, op->help);
	}
}
