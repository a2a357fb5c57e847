/* IMAP connections: line framing, the command table and the pre-auth
 * commands. Anything not implemented gets a tagged BAD, never a pretence. */
#include "imap_client.h"
#include "log.h"

#include <ctype.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* RFC 7162 asks servers to accept lines of at least 8192 octets. */
#define IMAP_MAX_LINE 65536

struct imap_cmd {
	const char *name;
	void (*fn)(struct conn *conn, const char *tag, const char *args);
};

static void capability_list(struct conn *conn)
{
	conn_printf(conn, "IMAP4rev1%s LOGINDISABLED", conn_can_starttls(conn) ? " STARTTLS" : "");
}

static void cmd_capability(struct conn *conn, const char *tag, const char *args)
{
	conn_printf(conn, "* CAPABILITY ");
	capability_list(conn);
	conn_printf(conn, "\r\n%s OK CAPABILITY completed\r\n", tag);
}

static void cmd_noop(struct conn *conn, const char *tag, const char *args)
{
	conn_printf(conn, "%s OK NOOP completed\r\n", tag);
}

static void cmd_logout(struct conn *conn, const char *tag, const char *args)
{
	conn_printf(conn, "* BYE Logging out\r\n%s OK LOGOUT completed\r\n", tag);
	conn_close(conn);
}

static void cmd_starttls(struct conn *conn, const char *tag, const char *args)
{
	const char *error;
	if (!conn_can_starttls(conn)) {
		conn_printf(conn, "%s BAD STARTTLS not available%s\r\n", tag,
			    conn_is_tls(conn) ? ": TLS is already active" : "");
		return;
	}
	conn_printf(conn, "%s OK Begin TLS negotiation now\r\n", tag);
	if (conn_starttls(conn, &error) < 0) {
		log_error("event=starttls_failed session=%s error=\"%s\"", conn_session_id(conn), error);
		conn_close(conn);
	}
}

static void cmd_login(struct conn *conn, const char *tag, const char *args)
{
	conn_printf(conn, "%s NO [PRIVACYREQUIRED] LOGIN is disabled\r\n", tag);
}

static const struct imap_cmd imap_commands[] = {
	{ "CAPABILITY", cmd_capability },
	{ "NOOP", cmd_noop },
	{ "LOGOUT", cmd_logout },
	{ "STARTTLS", cmd_starttls },
	{ "LOGIN", cmd_login },
};

static bool tag_valid(const char *tag)
{
	if (*tag == '\0')
		return false;
	for (const unsigned char *p = (const unsigned char *)tag; *p != '\0'; p++)
		if (*p <= ' ' || *p >= 0x7f || strchr("(){%*\"\\+", *p) != NULL)
			return false;
	return true;
}

static void imap_line(struct conn *conn, char *line)
{
	char *sp = strchr(line, ' ');
	if (sp == NULL || !tag_valid((*sp = '\0', line))) {
		conn_printf(conn, "* BAD Missing or invalid tag\r\n");
		return;
	}
	const char *tag = line;
	char *name = sp + 1, *args = strchr(name, ' ');
	if (args != NULL)
		*args++ = '\0';
	for (size_t i = 0; i < sizeof(imap_commands) / sizeof(imap_commands[0]); i++) {
		if (strcasecmp(name, imap_commands[i].name) == 0) {
			if (args != NULL && imap_commands[i].fn != cmd_login) {
				conn_printf(conn, "%s BAD %s takes no arguments\r\n", tag, imap_commands[i].name);
				return;
			}
			imap_commands[i].fn(conn, tag, args != NULL ? args : "");
			return;
		}
	}
	conn_printf(conn, "%s BAD Unknown or unsupported command\r\n", tag);
}

static void imap_input(struct conn *conn)
{
	struct evbuffer *in = conn_input(conn);
	while (!conn_is_closing(conn)) {
		size_t len;
		char *line = evbuffer_readln(in, &len, EVBUFFER_EOL_CRLF);
		if (line == NULL) {
			if (evbuffer_get_length(in) > IMAP_MAX_LINE) {
				conn_printf(conn, "* BYE Line too long\r\n");
				conn_close(conn);
			}
			return;
		}
		if (len > IMAP_MAX_LINE || memchr(line, '\0', len) != NULL)
			conn_printf(conn, "* BAD Line too long or contains NUL\r\n");
		else
			imap_line(conn, line);
		free(line);
	}
}

static void imap_connected(struct conn *conn)
{
	conn_printf(conn, "* OK [CAPABILITY ");
	capability_list(conn);
	conn_printf(conn, "] wildduck-c ready\r\n");
}

static void imap_shutdown(struct conn *conn)
{
	conn_printf(conn, "* BYE Server shutting down\r\n");
}

static void imap_timeout(struct conn *conn)
{
	conn_printf(conn, "* BYE Idle timeout, closing connection\r\n");
}

const struct conn_handler imap_conn_handler = {
	.connected = imap_connected,
	.input = imap_input,
	.shutdown = imap_shutdown,
	.timeout = imap_timeout,
};
