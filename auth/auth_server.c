/* Stub: answers every request with TEMPFAIL until the server lands. */
#include "auth_server.h"

#include "buffer.h"
#include "ipc.h"

#include <stdlib.h>
#include <string.h>

static void auth_connected(struct conn *conn) { }

static void auth_input(struct conn *conn)
{
	struct evbuffer *in = conn_input(conn);
	char *line;
	size_t len;
	while ((line = evbuffer_readln(in, &len, EVBUFFER_EOL_LF)) != NULL) {
		char *fields[IPC_MAX_FIELDS];
		const char *error;
		int n = ipc_line_split(line, fields, IPC_MAX_FIELDS, &error);
		struct buffer out = BUFFER_INIT;
		ipc_line_appendv(&out, "TEMPFAIL", n >= 2 ? fields[1] : "-", "notready", NULL);
		conn_write(conn, out.data, out.len);
		buffer_free(&out);
		free(line);
	}
}

static void auth_shutdown(struct conn *conn) { }
static void auth_timeout(struct conn *conn) { conn_close(conn); }
static void auth_destroyed(struct conn *conn) { }

const struct conn_handler auth_conn_handler = {
	.connected = auth_connected,
	.input = auth_input,
	.shutdown = auth_shutdown,
	.timeout = auth_timeout,
	.destroyed = auth_destroyed,
};

int auth_server_start(struct event_base *base, const struct config *config,
		      const char **error_r)
{
	return 0;
}

void auth_server_deinit(void) { }
