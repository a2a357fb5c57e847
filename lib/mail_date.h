/* The Date: header of a message (RFC 5322 section 3.3, with the obsolete
 * forms of section 4.3: two-digit years, named zones, comments), as the
 * instant SEARCH SENT* and SORT DATE compare. Lenient about spacing and
 * the day name, strict about the numbers; not for IMAP's own dates
 * (lib/imap_date.h). */
#ifndef WD_MAIL_DATE_H
#define WD_MAIL_DATE_H

#include <stddef.h>
#include <stdint.h>

/* *t_r is the instant in unix seconds (UTC); -1 when len bytes of value
 * are not a date. */
int mail_date_parse(const char *value, size_t len, int64_t *t_r);

#endif
