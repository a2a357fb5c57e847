#include "imap_client.h"
const struct imap_command imap_message_commands[] = { { NULL, NULL, 0 } };
