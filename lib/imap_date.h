/* IMAP dates: SEARCH's date ("1-Feb-1994") and INTERNALDATE's date-time
 * ("17-Jul-1996 02:44:25 -0700", RFC 3501 section 9), parsed strictly and
 * written in the fixed form servers send. Quotes are the parser's business. */
#ifndef WD_IMAP_DATE_H
#define WD_IMAP_DATE_H

#include <time.h>

struct buffer;

/* date-text "d-Mon-yyyy" or "dd-Mon-yyyy": *day_r is 00:00:00 UTC of that
 * day; SEARCH BEFORE/ON/SINCE compare against it by calendar day. */
int imap_date_parse(const char *str, time_t *day_r, const char **error_r);
/* date-time "dd-Mon-yyyy hh:mm:ss +hhmm" (the day may be " d"): *t_r is
 * the instant (UTC), *tz_offset_r the zone in minutes east of UTC. */
int imap_date_parse_datetime(const char *str, time_t *t_r, int *tz_offset_r,
			     const char **error_r);
/* Appends "dd-Mon-yyyy hh:mm:ss +hhmm" (unquoted) for t shown in the zone
 * tz_offset minutes east of UTC. */
void imap_date_write_datetime(struct buffer *out, time_t t, int tz_offset);

#endif
