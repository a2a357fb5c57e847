/* RFC 5322 date-time parsing; see mail_date.h. */
#include "mail_date.h"

#include <ctype.h>
#include <stdbool.h>
#include <string.h>
#include <strings.h>

struct cursor {
	const char *p, *end;
};

/* Skips white space and (nested) comments: RFC 5322's CFWS. */
static void skip_cfws(struct cursor *c)
{
	int depth = 0;
	for (; c->p < c->end; c->p++) {
		if (*c->p == '(')
			depth++;
		else if (*c->p == ')' && depth > 0)
			depth--;
		else if (*c->p == '\\' && depth > 0 && c->p + 1 < c->end)
			c->p++;
		else if (depth == 0 && !isspace((unsigned char)*c->p))
			return;
	}
}

/* 1..max_digits digits; -1 if none. */
static long number(struct cursor *c, int max_digits, int *digits_r)
{
	long n = 0;
	int digits = 0;
	while (c->p < c->end && isdigit((unsigned char)*c->p) && digits < max_digits) {
		n = n * 10 + (*c->p++ - '0');
		digits++;
	}
	if (digits_r != NULL)
		*digits_r = digits;
	return digits == 0 ? -1 : n;
}

static size_t word(struct cursor *c, char *out, size_t size)
{
	size_t n = 0;
	while (c->p < c->end && isalpha((unsigned char)*c->p)) {
		if (n + 1 < size)
			out[n] = *c->p;
		n++;
		c->p++;
	}
	out[n < size ? n : size - 1] = '\0';
	return n;
}

static int month_of(const char *name)
{
	static const char months[] = "janfebmaraprmayjunjulaugsepoctnovdec";
	if (strlen(name) < 3)
		return -1;
	for (int i = 0; i < 12; i++)
		if (strncasecmp(months + i * 3, name, 3) == 0)
			return i + 1;
	return -1;
}

/* Minutes east of UTC of an obsolete zone name; unknown names (military
 * letters included, as RFC 5322 advises) are UTC. */
static int zone_of(const char *name)
{
	static const struct { const char *name; int hours; } zones[] = {
		{ "EST", -5 }, { "EDT", -4 }, { "CST", -6 }, { "CDT", -5 },
		{ "MST", -7 }, { "MDT", -6 }, { "PST", -8 }, { "PDT", -7 },
	};
	for (size_t i = 0; i < sizeof(zones) / sizeof(zones[0]); i++)
		if (strcasecmp(zones[i].name, name) == 0)
			return zones[i].hours * 60;
	return 0;
}

/* Days from 1970-01-01 to y-m-d in the proleptic Gregorian calendar. */
static int64_t days_from_civil(int64_t y, int m, int d)
{
	y -= m <= 2;
	int64_t era = (y >= 0 ? y : y - 399) / 400;
	int64_t yoe = y - era * 400;
	int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

static bool parse_time(struct cursor *c, long *h, long *min, long *s)
{
	*s = 0;
	*h = number(c, 2, NULL);
	skip_cfws(c);
	if (*h < 0 || c->p >= c->end || *c->p != ':')
		return false;
	c->p++;
	skip_cfws(c);
	*min = number(c, 2, NULL);
	if (*min < 0)
		return false;
	skip_cfws(c);
	if (c->p < c->end && *c->p == ':') {
		c->p++;
		skip_cfws(c);
		*s = number(c, 2, NULL);
		if (*s < 0)
			return false;
	}
	return *h <= 23 && *min <= 59 && *s <= 60;
}

static int parse_zone(struct cursor *c)
{
	skip_cfws(c);
	if (c->p < c->end && (*c->p == '+' || *c->p == '-')) {
		int sign = *c->p++ == '-' ? -1 : 1;
		int digits;
		long hhmm = number(c, 4, &digits);
		if (digits != 4 || hhmm % 100 > 59)
			return 0;
		return sign * (int)(hhmm / 100 * 60 + hhmm % 100);
	}
	char name[8];
	if (word(c, name, sizeof(name)) == 0)
		return 0; /* no zone: take it as UTC rather than refuse the date */
	return zone_of(name);
}

int mail_date_parse(const char *value, size_t len, int64_t *t_r)
{
	struct cursor c = { value, value + len };
	char name[16];
	skip_cfws(&c);
	if (c.p < c.end && isalpha((unsigned char)*c.p)) {
		word(&c, name, sizeof(name)); /* the day name: not checked */
		skip_cfws(&c);
		if (c.p < c.end && *c.p == ',')
			c.p++;
		skip_cfws(&c);
	}
	long day = number(&c, 2, NULL);
	skip_cfws(&c);
	if (c.p < c.end && *c.p == '-')
		c.p++; /* "1-Jul-2003", seen in the wild */
	if (day < 1 || day > 31 || word(&c, name, sizeof(name)) == 0)
		return -1;
	int month = month_of(name);
	skip_cfws(&c);
	if (c.p < c.end && *c.p == '-')
		c.p++;
	int digits;
	long year = number(&c, 4, &digits);
	if (month < 0 || year < 0 || digits < 2)
		return -1;
	if (digits == 2)
		year += year < 50 ? 2000 : 1900;
	else if (digits == 3)
		year += 1900;
	skip_cfws(&c);
	long h, min, s;
	if (!parse_time(&c, &h, &min, &s))
		return -1;
	int zone = parse_zone(&c);
	int64_t days = days_from_civil(year, month, (int)day);
	*t_r = days * 86400 + h * 3600 + min * 60 + (s == 60 ? 59 : s) - (int64_t)zone * 60;
	return 0;
}
