/* wd-api: the HTTP API service, started by wildduck(8). `wd-api --routes`
 * prints the route table (the test that keeps api/openapi.yaml in sync
 * reads it). */
#include "api.h"
#include "daemon.h"
#include "settings.h"

#include <string.h>

static int api_start(struct event_base *base, const struct config *config,
		     const char **error_r)
{
	settings_configure(config);
	return api_server_start(base, config, error_r);
}

static const struct daemon_settings api_daemon = {
	.name = "api",
	.start = api_start,
	.deinit = api_server_stop,
};

int main(int argc, char **argv)
{
	if (argc == 2 && strcmp(argv[1], "--routes") == 0) {
		api_print_routes();
		return 0;
	}
	return daemon_main(argc, argv, &api_daemon);
}
