/* wd-indexer's scheduler: which users to index next (those a change beacon
 * named, and all of them every poll interval), run on one store thread
 * with its own store and index handles. */
#ifndef WD_INDEXER_H
#define WD_INDEXER_H

#include <event2/event.h>

struct config;

int indexer_start(struct event_base *base, const struct config *config, const char **error_r);
void indexer_stop(void);

#endif
