/* wd-indexer: the full-text index and message threads, kept from the
 * store's change journal; started by wildduck(8), no listeners. */
#include "daemon.h"
#include "indexer.h"

static const struct daemon_settings indexer_daemon = {
	.name = "indexer",
	.handler = NULL,
	.start = indexer_start,
	.deinit = indexer_stop,
};

int main(int argc, char **argv)
{
	return daemon_main(argc, argv, &indexer_daemon);
}
