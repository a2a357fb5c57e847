/* wd-imap: the IMAP service, started by wildduck(8). */
#include "daemon.h"
#include "imap_client.h"

static int imap_start(struct event_base *base, const struct config *config, const char **error_r)
{
	return imap_worker_start(base, config, error_r);
}

static const struct daemon_settings imap_daemon = {
	.name = "imap",
	.handler = &imap_conn_handler,
	.start = imap_start,
	.deinit = imap_worker_stop,
};

int main(int argc, char **argv)
{
	return daemon_main(argc, argv, &imap_daemon);
}
