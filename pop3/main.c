/* wd-pop3: the POP3 service (RFC 1939), started by wildduck(8). */
#include "auth_client.h"
#include "daemon.h"
#include "notify.h"
#include "pop3.h"
#include "workpool.h"

struct workpool *pop3_workpool;
struct notify *pop3_notify;
struct auth_client *pop3_auth;
unsigned int pop3_max_messages;

static int pop3_start(struct event_base *base, const struct config *config,
		      const char **error_r)
{
	const char *path = auth_client_socket_path((struct config *)config);
	if (path == NULL) {
		*error_r = "no unix listener of the auth service: POP3 cannot authenticate";
		return -1;
	}
	pop3_auth = auth_client_create(base, path);
	pop3_max_messages = (unsigned int)config->pop3_settings.max_messages;
	struct workpool_settings ws = {
		.threads = config->pop3_settings.store_threads,
		.thread_init = daemon_store_thread_open,
		.thread_deinit = daemon_store_thread_close,
		.arg = (void *)config,
	};
	pop3_workpool = workpool_create(base, &ws);
	pop3_notify = notify_open(base, config, NULL, NULL, error_r);
	return pop3_notify == NULL ? -1 : 0;
}

static void pop3_deinit(void)
{
	workpool_destroy(&pop3_workpool);
	notify_free(&pop3_notify);
	auth_client_free(&pop3_auth);
}

static const struct daemon_settings pop3_daemon = {
	.name = "pop3",
	.handler = &pop3_conn_handler,
	.start = pop3_start,
	.deinit = pop3_deinit,
};

int main(int argc, char **argv)
{
	return daemon_main(argc, argv, &pop3_daemon);
}
