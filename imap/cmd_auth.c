/* Commands of any state and the login: CAPABILITY, NOOP, LOGOUT, STARTTLS,
 * ID, ENABLE, NAMESPACE, LOGIN, AUTHENTICATE (PLAIN, LOGIN; SASL-IR). */
#include "imap_client.h"
#include "imap_limits.h"
#include "auth_client.h"
#include "config.h"
#include "log.h"
#include "mem.h"
#include "mime_codec.h"
#include "pool.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static bool plaintext_allowed(struct imap_client *c)
{
	if (conn_is_tls(c->conn))
		return true;
	const char *mode = imap_config()->imap_settings.plaintext_login;
	if (strcmp(mode, "always") == 0)
		return true;
	const char *ip = conn_remote_ip(c->conn);
	return strcmp(mode, "loopback") == 0 &&
	       (strncmp(ip, "127.", 4) == 0 || strcmp(ip, "::1") == 0 || strcmp(ip, "local") == 0);
}

void imap_capabilities(struct imap_client *c, struct buffer *out)
{
	buffer_append_str(out, "IMAP4rev1 LITERAL+ SASL-IR ID ENABLE IDLE NAMESPACE");
	if (c->state == IMAP_STATE_NOT_AUTH) {
		if (conn_can_starttls(c->conn))
			buffer_append_str(out, " STARTTLS");
		buffer_append_str(out, plaintext_allowed(c) ? " AUTH=PLAIN AUTH=LOGIN" : " LOGINDISABLED");
		return;
	}
	buffer_printf(out, " UNSELECT UIDPLUS MOVE CONDSTORE CHILDREN SPECIAL-USE QUOTA UTF8=ACCEPT"
		      " LIST-EXTENDED CREATE-SPECIAL-USE SORT SORT=DISPLAY"
		      " THREAD=ORDEREDSUBJECT THREAD=REFERENCES APPENDLIMIT=%lld%s",
		      imap_config()->imap_settings.max_message_size,
		      c->compressed ? "" : " COMPRESS=DEFLATE");
}

static void cmd_capability(struct imap_cmd *cmd)
{
	struct buffer caps = BUFFER_INIT;
	imap_capabilities(cmd->client, &caps);
	imap_printf(cmd->client, "* CAPABILITY %s\r\n", buffer_cstr(&caps));
	buffer_free(&caps);
	imap_cmd_done(cmd, "OK CAPABILITY completed");
}

static void cmd_logout(struct imap_cmd *cmd)
{
	struct imap_client *c = cmd->client;
	imap_printf(c, "* BYE Logging out\r\n%s OK LOGOUT completed\r\n", cmd->tag);
	conn_close(c->conn);
	imap_cmd_end(cmd);
}

static void cmd_starttls(struct imap_cmd *cmd)
{
	struct imap_client *c = cmd->client;
	const char *error;
	if (!conn_can_starttls(c->conn)) {
		imap_cmd_done(cmd, conn_is_tls(c->conn) ? "BAD STARTTLS not available: TLS is already active"
			      : "BAD STARTTLS not available");
		return;
	}
	imap_printf(c, "%s OK Begin TLS negotiation now\r\n", cmd->tag);
	/* the parser may hold pipelined plaintext too (CVE-2011-0411) */
	imap_parser_reset(c->parser);
	if (conn_starttls(c->conn, &error) < 0) {
		log_error("event=starttls_failed session=%s error=\"%s\"", conn_session_id(c->conn), error);
		conn_close(c->conn);
	}
	imap_cmd_end(cmd);
}

static void cmd_id(struct imap_cmd *cmd)
{
	/* RFC 2971: fields are informational; we only log the client's name */
	const struct imap_arg *list;
	unsigned int n;
	if (cmd->args_count == 1 && imap_arg_get_list(&cmd->args[0], &list, &n)) {
		for (unsigned int i = 0; i + 1 < n; i += 2) {
			const char *k, *v;
			if (imap_arg_get_string(&list[i], &k) && imap_arg_get_nstring(&list[i + 1], &v) &&
			    strcasecmp(k, "name") == 0 && v != NULL)
				log_info("event=client_id session=%s name=\"%.64s\"",
					 conn_session_id(cmd->client->conn), v);
		}
	} else if (cmd->args_count != 1 || cmd->args[0].type != IMAP_ARG_NIL) {
		imap_cmd_done(cmd, "BAD ID expects a parenthesised list or NIL");
		return;
	}
	imap_printf(cmd->client, "* ID (\"name\" \"wildduck-c\")\r\n");
	imap_cmd_done(cmd, "OK ID completed");
}

static void cmd_enable(struct imap_cmd *cmd)
{
	struct imap_client *c = cmd->client;
	struct buffer enabled = BUFFER_INIT;
	if (cmd->args_count == 0) {
		imap_cmd_done(cmd, "BAD ENABLE needs capability names");
		return;
	}
	for (unsigned int i = 0; i < cmd->args_count; i++) {
		const char *name;
		if (!imap_arg_get_atom(&cmd->args[i], &name)) {
			buffer_free(&enabled);
			imap_cmd_done(cmd, "BAD ENABLE takes atoms");
			return;
		}
		if (strcasecmp(name, "CONDSTORE") == 0 && !c->condstore) {
			c->condstore = true;
			buffer_append_str(&enabled, " CONDSTORE");
		} else if (strcasecmp(name, "UTF8=ACCEPT") == 0 && !c->utf8) {
			c->utf8 = true;
			imap_parser_set_utf8(c->parser, true);
			buffer_append_str(&enabled, " UTF8=ACCEPT");
		}
	}
	imap_printf(c, "* ENABLED%s\r\n", buffer_cstr(&enabled));
	buffer_free(&enabled);
	imap_cmd_done(cmd, "OK ENABLE completed");
}

static void cmd_compress(struct imap_cmd *cmd)
{
	struct imap_client *c = cmd->client;
	const char *error;
	if (cmd->args_count != 1 || !imap_arg_atom_equals(&cmd->args[0], "DEFLATE")) {
		imap_cmd_done(cmd, "BAD COMPRESS supports only DEFLATE");
		return;
	}
	if (c->compressed) {
		imap_cmd_done(cmd, "NO [COMPRESSIONACTIVE] Compression is already active");
		return;
	}
	imap_printf(c, "%s OK DEFLATE active\r\n", cmd->tag);
	if (conn_compress(c->conn, &error) < 0) {
		log_error("event=compress_failed session=%s error=\"%s\"", conn_session_id(c->conn), error);
		conn_close(c->conn);
	}
	c->compressed = true;
	imap_cmd_end(cmd);
}

static void cmd_namespace(struct imap_cmd *cmd)
{
	imap_printf(cmd->client, "* NAMESPACE ((\"\" \"/\")) NIL NIL\r\n");
	imap_cmd_done(cmd, "OK NAMESPACE completed");
}

/* ---- LOGIN and AUTHENTICATE ---- */

static void limits_done(struct imap_client *c, bool allowed, void *ctx);

static void auth_done(const struct auth_result *res, void *ctx)
{
	struct imap_cmd *cmd = ctx;
	struct imap_client *c = cmd->client;
	c->auth = NULL;
	if (res->status == AUTH_TEMPFAIL) {
		imap_cmd_done(cmd, "NO [UNAVAILABLE] Authentication is temporarily unavailable, try again");
		return;
	}
	if (res->status != AUTH_OK) {
		log_info("event=login_failed session=%s ip=%s reason=%s", conn_session_id(c->conn),
			 conn_remote_ip(c->conn), res->reason);
		if (strcmp(res->reason, "ratelimited") == 0)
			imap_cmd_donef(cmd, "NO [LIMIT] Too many failed logins, retry in %u seconds",
				       res->retry_after);
		else
			imap_cmd_done(cmd, "NO [AUTHENTICATIONFAILED] Authentication failed");
		return;
	}
	cmd->ctx = pool_strdup(cmd->pool, res->username);
	imap_limits_acquire(c, res->user_id, limits_done, cmd);
}

static void limits_done(struct imap_client *c, bool allowed, void *ctx)
{
	struct imap_cmd *cmd = ctx;
	if (!allowed) {
		imap_limits_release(c);
		c->user_id[0] = '\0';
		imap_cmd_done(cmd, "NO [LIMIT] Too many connections for this user");
		return;
	}
	imap_client_logged_in(c, c->user_id, cmd->ctx);
	struct buffer caps = BUFFER_INIT;
	imap_capabilities(c, &caps);
	imap_cmd_donef(cmd, "OK [CAPABILITY %s] Logged in", buffer_cstr(&caps));
	buffer_free(&caps);
}

static void login_start(struct imap_cmd *cmd, const char *user, const char *secret)
{
	struct imap_client *c = cmd->client;
	if (imap_auth_client() == NULL) {
		imap_cmd_done(cmd, "NO [UNAVAILABLE] No authentication service configured");
		return;
	}
	if (strlen(user) > AUTH_MAX_FIELD || strlen(secret) > AUTH_MAX_FIELD) {
		imap_cmd_done(cmd, "NO [AUTHENTICATIONFAILED] Authentication failed");
		return;
	}
	struct auth_query q = {
		.service = "imap",
		.username = user,
		.secret = secret,
		.remote_ip = conn_remote_ip(c->conn),
	};
	c->auth = auth_client_lookup(imap_auth_client(), &q, auth_done, cmd);
}

static void cmd_login(struct imap_cmd *cmd)
{
	const char *user, *pass;
	if (cmd->args_count != 2 || !imap_arg_get_astring(&cmd->args[0], &user) ||
	    !imap_arg_get_astring(&cmd->args[1], &pass)) {
		imap_cmd_done(cmd, "BAD LOGIN expects a username and a password");
		return;
	}
	if (!plaintext_allowed(cmd->client)) {
		imap_cmd_done(cmd, "NO [PRIVACYREQUIRED] Use STARTTLS or the TLS port first");
		return;
	}
	login_start(cmd, user, pass);
}

/* SASL PLAIN: [authzid] NUL authcid NUL passwd (RFC 4616). */
static void sasl_plain(struct imap_cmd *cmd, const struct buffer *raw)
{
	const char *p = (const char *)raw->data, *end = p + raw->len;
	const char *nul1 = memchr(p, '\0', raw->len);
	const char *nul2 = nul1 != NULL ? memchr(nul1 + 1, '\0', (size_t)(end - nul1 - 1)) : NULL;
	if (nul2 == NULL || memchr(nul2 + 1, '\0', (size_t)(end - nul2 - 1)) != NULL) {
		imap_cmd_done(cmd, "BAD Malformed PLAIN response");
		return;
	}
	const char *authcid = nul1 + 1;
	if (nul1 != p && strcmp(p, authcid) != 0) {
		imap_cmd_done(cmd, "NO [AUTHORIZATIONFAILED] Acting as another user is not allowed");
		return;
	}
	char *user = pool_strdup(cmd->pool, authcid);
	char *pass = pool_strndup(cmd->pool, nul2 + 1, (size_t)(end - nul2 - 1));
	login_start(cmd, user, pass);
}

/* The AUTHENTICATE state, kept in the command's pool. */
struct sasl_state {
	bool login;        /* mechanism LOGIN, else PLAIN */
	char *login_user;  /* LOGIN: the username once given */
};

static void sasl_response(struct imap_cmd *cmd, const char *b64)
{
	struct sasl_state *st = cmd->ctx;
	struct buffer raw = BUFFER_INIT;
	if (strcmp(b64, "=") != 0)
		mime_base64_decode((const unsigned char *)b64, strlen(b64), &raw);
	if (!st->login) {
		sasl_plain(cmd, &raw);
	} else if (st->login_user == NULL) {
		st->login_user = pool_strndup(cmd->pool, buffer_cstr(&raw), raw.len);
		cmd->client->sasl_cmd = cmd;
		imap_printf(cmd->client, "+ UGFzc3dvcmQ6\r\n"); /* "Password:" */
	} else {
		login_start(cmd, st->login_user, pool_strndup(cmd->pool, buffer_cstr(&raw), raw.len));
	}
	buffer_free(&raw);
}

void imap_sasl_line(struct imap_client *c, const char *line)
{
	struct imap_cmd *cmd = c->sasl_cmd;
	c->sasl_cmd = NULL;
	if (strcmp(line, "*") == 0)
		imap_cmd_done(cmd, "BAD AUTHENTICATE cancelled");
	else
		sasl_response(cmd, line);
}

static void cmd_authenticate(struct imap_cmd *cmd)
{
	struct imap_client *c = cmd->client;
	const char *mech, *ir = NULL;
	if (cmd->args_count < 1 || cmd->args_count > 2 || !imap_arg_get_atom(&cmd->args[0], &mech) ||
	    (cmd->args_count == 2 && !imap_arg_get_atom(&cmd->args[1], &ir))) {
		imap_cmd_done(cmd, "BAD AUTHENTICATE expects a mechanism and an optional response");
		return;
	}
	bool login = strcasecmp(mech, "LOGIN") == 0;
	if (!login && strcasecmp(mech, "PLAIN") != 0) {
		imap_cmd_done(cmd, "NO [CANNOT] Unsupported authentication mechanism");
		return;
	}
	if (!plaintext_allowed(c)) {
		imap_cmd_done(cmd, "NO [PRIVACYREQUIRED] Use STARTTLS or the TLS port first");
		return;
	}
	struct sasl_state *st = pool_alloc(cmd->pool, sizeof(*st));
	st->login = login;
	cmd->ctx = st;
	if (ir != NULL && !login) {
		sasl_response(cmd, ir);
		return;
	}
	c->sasl_cmd = cmd;
	imap_printf(c, login ? "+ VXNlcm5hbWU6\r\n" : "+ \r\n"); /* "Username:" */
}

const struct imap_command imap_auth_commands[] = {
	{ "CAPABILITY", cmd_capability, IMAP_CMD_NOT_AUTH | IMAP_CMD_AUTH | IMAP_CMD_NO_ARGS },
	{ "LOGOUT", cmd_logout, IMAP_CMD_NOT_AUTH | IMAP_CMD_AUTH | IMAP_CMD_NO_ARGS },
	{ "STARTTLS", cmd_starttls, IMAP_CMD_NOT_AUTH | IMAP_CMD_NO_ARGS },
	{ "ID", cmd_id, IMAP_CMD_NOT_AUTH | IMAP_CMD_AUTH },
	{ "ENABLE", cmd_enable, IMAP_CMD_AUTH },
	{ "COMPRESS", cmd_compress, IMAP_CMD_AUTH },
	{ "NAMESPACE", cmd_namespace, IMAP_CMD_AUTH | IMAP_CMD_NO_ARGS },
	{ "LOGIN", cmd_login, IMAP_CMD_NOT_AUTH },
	{ "AUTHENTICATE", cmd_authenticate, IMAP_CMD_NOT_AUTH },
	{ NULL, NULL, 0 },
};
