/* wd-imap: the IMAP service, started by wildduck(8). */
#include "daemon.h"
#include "imap_client.h"

static const struct daemon_settings imap_daemon = {
	.name = "imap",
	.handler = &imap_conn_handler,
};

int main(int argc, char **argv)
{
	return daemon_main(argc, argv, &imap_daemon);
}
