/* The command table: each cmd_*.c file contributes its commands. */
#include "imap_client.h"

#include <string.h>

static const struct imap_command *const tables[] = {
	imap_auth_commands, imap_select_commands, imap_mailbox_commands,
	imap_message_commands, imap_fetch_commands, imap_search_commands,
};

const struct imap_command *imap_command_find(const char *name)
{
	for (size_t t = 0; t < sizeof(tables) / sizeof(tables[0]); t++)
		for (const struct imap_command *c = tables[t]; c->name != NULL; c++)
			if (strcmp(c->name, name) == 0)
				return c;
	return NULL;
}
