/* IMAP date and date-time, with calendar validation (no 31-Feb). */
#include "imap_date.h"
#include "buffer.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static const char months[12][4] = {
	"Jan", "Feb", "Mar", "Apr", "May", "Jun",
	"Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
};

static bool digits(const char *s, int n, int *value_r)
{
	int v = 0;
	for (int i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return false;
		v = v * 10 + (s[i] - '0');
	}
	*value_r = v;
	return true;
}

static int days_in_month(int year, int mon)
{
	static const int days[12] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
	bool leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
	return mon == 1 && leap ? 29 : days[mon];
}

/* "Mon-yyyy" after the day; returns the rest or NULL. */
static const char *parse_mon_year(const char *s, int day, struct tm *tm)
{
	if (*s++ != '-')
		return NULL;
	int mon = -1;
	for (int i = 0; i < 12 && mon < 0; i++) {
		if (strncasecmp(s, months[i], 3) == 0)
			mon = i;
	}
	int year;
	if (mon < 0 || s[3] != '-' || !digits(s + 4, 4, &year) || year < 1900)
		return NULL;
	if (day < 1 || day > days_in_month(year, mon))
		return NULL;
	tm->tm_mday = day;
	tm->tm_mon = mon;
	tm->tm_year = year - 1900;
	return s + 8;
}

int imap_date_parse(const char *str, time_t *day_r, const char **error_r)
{
	struct tm tm;
	int day;
	memset(&tm, 0, sizeof(tm));
	const char *s = str;
	if (digits(s, 2, &day))
		s += 2;
	else if (digits(s, 1, &day))
		s += 1;
	else
		goto bad;
	s = parse_mon_year(s, day, &tm);
	if (s == NULL || *s != '\0')
		goto bad;
	*day_r = timegm(&tm);
	return 0;
bad:
	*error_r = "Invalid date";
	return -1;
}

static bool parse_time_zone(const char *s, struct tm *tm, int *tz_r)
{
	int h, m, sec, zh, zm;
	if (s[0] != ' ' || !digits(s + 1, 2, &h) || s[3] != ':' || !digits(s + 4, 2, &m) ||
	    s[6] != ':' || !digits(s + 7, 2, &sec) || s[9] != ' ' ||
	    (s[10] != '+' && s[10] != '-') || !digits(s + 11, 2, &zh) ||
	    !digits(s + 13, 2, &zm) || s[15] != '\0')
		return false;
	if (h > 23 || m > 59 || sec > 60 || zm > 59)
		return false;
	tm->tm_hour = h;
	tm->tm_min = m;
	tm->tm_sec = sec;
	*tz_r = (s[10] == '-' ? -1 : 1) * (zh * 60 + zm);
	return true;
}

int imap_date_parse_datetime(const char *str, time_t *t_r, int *tz_offset_r,
			     const char **error_r)
{
	struct tm tm;
	int day, tz;
	memset(&tm, 0, sizeof(tm));
	if (str[0] == ' ' && digits(str + 1, 1, &day)) {
		/* date-day-fixed = (SP DIGIT) / 2DIGIT */
	} else if (!digits(str, 2, &day)) {
		goto bad;
	}
	const char *s = parse_mon_year(str + 2, day, &tm);
	if (s == NULL || !parse_time_zone(s, &tm, &tz))
		goto bad;
	*t_r = timegm(&tm) - (time_t)tz * 60;
	*tz_offset_r = tz;
	return 0;
bad:
	*error_r = "Invalid date-time";
	return -1;
}

void imap_date_write_datetime(struct buffer *out, time_t t, int tz_offset)
{
	time_t local = t + (time_t)tz_offset * 60;
	struct tm tm;
	gmtime_r(&local, &tm);
	int off = tz_offset < 0 ? -tz_offset : tz_offset;
	buffer_printf(out, "%02d-%s-%04d %02d:%02d:%02d %c%02d%02d", tm.tm_mday,
		      months[tm.tm_mon], tm.tm_year + 1900, tm.tm_hour, tm.tm_min,
		      tm.tm_sec, tz_offset < 0 ? '-' : '+', off / 60, off % 60);
}
