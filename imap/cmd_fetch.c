#include "imap_client.h"
const struct imap_command imap_fetch_commands[] = { { NULL, NULL, 0 } };
