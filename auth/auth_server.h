/* The auth protocol server (wildduck-auth(8)): reads AUTH lines from
 * worker connections, hands each request to the verification threads and
 * writes OK/FAIL/TEMPFAIL replies as they complete, in any order. */
#ifndef WD_AUTH_SERVER_H
#define WD_AUTH_SERVER_H

#include <event2/event.h>

#include "config.h"
#include "conn.h"

extern const struct conn_handler auth_conn_handler;

int auth_server_start(struct event_base *base, const struct config *config,
		      const char **error_r);
void auth_server_deinit(void);

#endif
