#include "imap_client.h"
const struct imap_command imap_search_commands[] = { { NULL, NULL, 0 } };
