/* wd-auth: the authentication service, started by wildduck(8). The only
 * process that reads password hashes; see wildduck-auth(8). */
#include "auth_server.h"
#include "daemon.h"

static const struct daemon_settings auth_daemon = {
	.name = "auth",
	.handler = &auth_conn_handler,
	.start = auth_server_start,
	.deinit = auth_server_deinit,
};

int main(int argc, char **argv)
{
	return daemon_main(argc, argv, &auth_daemon);
}
