/* IMAP connection handling for wd-imap. Until the IMAP issue lands this is
 * the pre-authentication subset only: CAPABILITY, NOOP, LOGOUT, STARTTLS. */
#ifndef WD_IMAP_CLIENT_H
#define WD_IMAP_CLIENT_H

#include "conn.h"

extern const struct conn_handler imap_conn_handler;

#endif
