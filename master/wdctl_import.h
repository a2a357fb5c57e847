/* wdctl's mailbox commands on the store: mailbox list, quota recalc,
 * import-maildir and export-mbox. Not for anything that talks to the running master. */
#ifndef WD_WDCTL_IMPORT_H
#define WD_WDCTL_IMPORT_H

struct pool;
struct store;

/* Runs "mailbox list USER", "quota recalc USER", "import-maildir USER DIR" or
 * "export-mbox USER MAILBOX" (argv[0] is the command). Returns the exit
 * code: 0 ok, 1 failure, 2 not one of these commands or bad arguments. */
int wdctl_import_command(struct store *store, struct pool *pool, int argc, char **argv);

#endif
