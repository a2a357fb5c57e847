/* The table of every configuration option: the one place where an option
 * is declared, typed, defaulted and documented. */
#include "config.h"

#include <stddef.h>

#define OFF(field) offsetof(struct config, field)

static const char *const log_levels[] = { "error", "warn", "info", "debug", NULL };
static const char *const service_log_levels[] = { "", "error", "warn", "info", "debug", NULL };
static const char *const store_drivers[] = { "sqlite", "mongodb", NULL };
static const char *const index_backends[] = { "auto", "sqlite", "mongodb", NULL };
static const char *const plaintext_modes[] = { "never", "loopback", "always", NULL };
static const char *const tls_versions[] = { "TLSv1.2", "TLSv1.3", NULL };
static const char *const hash_names[] = { "bcrypt", "pbkdf2-sha512", "pbkdf2-sha256",
					  "argon2id", NULL };

/* A new service: a struct config_service in struct config, a row here and
 * in config_service_names, and SERVICE_OPTIONS below. */
const struct config_service_def config_services[] = {
	{ "imap", OFF(imap) },
	{ "lmtp", OFF(lmtp) },
	{ "pop3", OFF(pop3) },
	{ "api", OFF(api) },
	{ "auth", OFF(auth) },
	{ "indexer", OFF(indexer) },
	{ NULL, 0 },
};
const char *const config_service_names[] = { "imap", "lmtp", "pop3", "api", "auth", "indexer",
					      NULL };

/* The options every service section has. */
#define SERVICE_OPTIONS(svc, listen_def, workers_def, idle_def, idle_doc) \
	{ #svc ".enabled", CFG_BOOL, OFF(svc.enabled), "true", 0, 0, NULL, \
	  "Start the " #svc " service." }, \
	{ #svc ".workers", CFG_INT, OFF(svc.workers), workers_def, 1, 256, NULL, \
	  "Worker processes; each serves many connections on an event loop." }, \
	{ #svc ".max_connections", CFG_INT, OFF(svc.max_connections), "1000", 1, 100000, NULL, \
	  "Connections one worker serves at once; further clients wait in the listen queue." }, \
	{ #svc ".idle_timeout", CFG_DURATION, OFF(svc.idle_timeout), idle_def, 1000, 86400000, NULL, \
	  idle_doc }, \
	{ #svc ".log_level", CFG_ENUM, OFF(svc.log_level), "\"\"", 0, 0, service_log_levels, \
	  "Least severe level logged by the " #svc " workers; empty: log_level." }, \
	{ #svc ".listen", CFG_LISTENERS, OFF(svc.listen), listen_def, 0, 0, NULL, \
	  "Listeners: a list of {address: HOST:PORT or unix:/PATH, tls: true for implicit TLS, " \
	  "mode: permissions of a unix socket, proxy: true when a PROXY protocol v1/v2 header " \
	  "from proxy.trusted comes first}." }

const struct config_option config_options[] = {
	{ "user", CFG_STRING, OFF(user), "wildduck", 0, 0, NULL,
	  "Workers drop to this user when the master starts as root; ignored otherwise." },
	{ "group", CFG_STRING, OFF(group), "wildduck", 0, 0, NULL,
	  "Workers drop to this group when the master starts as root." },
	{ "data_dir", CFG_PATH, OFF(data_dir), "/var/lib/wildduck", 0, 0, NULL,
	  "Folder for the embedded store and other local data; must be writable by user." },
	{ "pid_file", CFG_PATH, OFF(pid_file), "/run/wildduck/wildduck.pid", 0, 0, NULL,
	  "The master's pid file; a second master on the same file refuses to start." },
	{ "control_socket", CFG_PATH, OFF(control_socket), "/run/wildduck/control.sock", 0, 0, NULL,
	  "Unix socket (mode 0600) on which the master takes wdctl commands." },
	{ "log_level", CFG_ENUM, OFF(log_level), "info", 0, 0, log_levels,
	  "Least severe level logged: error, warn, info or debug." },
	{ "shutdown_grace", CFG_DURATION, OFF(shutdown_grace), "10s", 0, 3600000, NULL,
	  "On stop, time workers get to finish before they are killed." },
	{ "restart_delay_min", CFG_DURATION, OFF(restart_delay_min), "2s", 0, 3600000, NULL,
	  "Delay before restarting a worker that died early; doubles on each early death." },
	{ "restart_delay_max", CFG_DURATION, OFF(restart_delay_max), "60s", 0, 3600000, NULL,
	  "Longest delay between restarts of a crash-looping worker." },
	{ "worker_timeout", CFG_DURATION, OFF(worker_timeout), "30s", 1000, 3600000, NULL,
	  "A worker that sends no status report for this long is killed and restarted." },
	{ "settings_cache", CFG_DURATION, OFF(settings_cache), "10s", 0, 3600000, NULL,
	  "Workers keep the runtime settings (API /settings) and the list of audits (API "
	  "/audit) they read for this long: a change takes effect within this time." },
	{ "store.driver", CFG_ENUM, OFF(store.driver), "sqlite", 0, 0, store_drivers,
	  "Store driver: sqlite (embedded, one host) or mongodb (shared by any number of "
	  "instances)." },
	{ "store.sqlite_path", CFG_STRING, OFF(store.sqlite_path), "wildduck.db", 0, 0, NULL,
	  "SQLite database file; relative to data_dir." },
	{ "store.mongodb_uri", CFG_STRING, OFF(store.mongodb_uri), "mongodb://127.0.0.1:27017/",
	  0, 0, NULL, "MongoDB connection string (replica set, TLS and pool options go "
	  "here, as mongo-c-driver reads them)." },
	{ "store.mongodb_database", CFG_STRING, OFF(store.mongodb_database), "wildduck", 0, 0,
	  NULL, "MongoDB database of users, mailboxes and messages." },
	{ "store.mongodb_attachments_database", CFG_STRING,
	  OFF(store.mongodb_attachments_database), "\"\"", 0, 0, NULL,
	  "MongoDB database of the attachments bucket (e.g. on separate disks); empty: "
	  "store.mongodb_database." },
	{ "tls.min_version", CFG_ENUM, OFF(tls.min_version), "TLSv1.2", 0, 0, tls_versions,
	  "Oldest TLS version offered: TLSv1.2 or TLSv1.3." },
	{ "tls.ciphers", CFG_STRING, OFF(tls.ciphers), "HIGH:!aNULL:!MD5:!RC4", 0, 0, NULL,
	  "OpenSSL cipher list for TLS 1.2 (TLS 1.3 suites are OpenSSL's defaults)." },
	{ "tls.certificates", CFG_CERTS, OFF(tls.certificates), "[]", 0, 0, NULL,
	  "Certificates: a list of {cert: PEM chain file, key: PEM key file}. The client's SNI "
	  "name picks the certificate whose names match; the first one is the default. The "
	  "master reads the files, so workers need no access to private keys." },
	{ "tls.certs_dir", CFG_STRING, OFF(tls.certs_dir), "certs", 0, 0, NULL,
	  "Folder where wd-api writes the certificates uploaded to /certs (PEM, mode 0600); "
	  "the master reads it at start and at every reload and serves them by SNI after "
	  "tls.certificates (a pair that does not load is logged and skipped). Relative to "
	  "data_dir; empty: uploads are only stored." },
	SERVICE_OPTIONS(imap, "[{address: '0.0.0.0:143'}, {address: '0.0.0.0:993', tls: true}]",
			"2", "337s",
			"A client silent this long outside IDLE is logged out with a BYE."),
	{ "imap.plaintext_login", CFG_ENUM, OFF(imap_settings.plaintext_login), "loopback", 0, 0,
	  plaintext_modes,
	  "LOGIN and AUTHENTICATE without TLS: never, loopback (only from 127.0.0.0/8 and ::1), "
	  "or always." },
	{ "imap.max_message_size", CFG_SIZE, OFF(imap_settings.max_message_size), "64M", 1024,
	  4LL * 1024 * 1024 * 1024, NULL, "Largest message APPEND takes (APPENDLIMIT)." },
	{ "imap.store_threads", CFG_INT, OFF(imap_settings.store_threads), "4", 1, 64, NULL,
	  "Store threads per IMAP worker." },
	{ "imap.max_user_connections", CFG_INT, OFF(imap_settings.max_user_connections), "15", 0,
	  10000, NULL, "Connections one user may hold on one worker; 0: no limit." },
	SERVICE_OPTIONS(lmtp, "[{address: '127.0.0.1:24'}]", "1", "5m",
			"An LMTP client silent this long is disconnected (421)."),
	{ "lmtp.max_message_size", CFG_SIZE, OFF(lmtp_settings.max_message_size), "64M",
	  1024, 1LL << 40, NULL,
	  "Largest message accepted; a bigger one is refused with 552 while it streams in." },
	{ "lmtp.max_recipients", CFG_INT, OFF(lmtp_settings.max_recipients), "400", 1, 100000,
	  NULL, "Recipients of one message; further RCPT commands get 452." },
	{ "lmtp.store_threads", CFG_INT, OFF(lmtp_settings.store_threads), "4", 1, 64, NULL,
	  "Store threads per LMTP worker (the event loop never waits for the store)." },
	{ "lmtp.over_quota_permanent", CFG_BOOL, OFF(lmtp_settings.over_quota_permanent),
	  "false", 0, 0, NULL,
	  "Refuse mail to a full mailbox with 552 (permanent) instead of 452 (retry later)." },
	{ "lmtp.spam_headers", CFG_STRING, OFF(lmtp_settings.spam_headers),
	  "'X-Spam-Status: Yes; X-Rspamd-Spam: yes'", 0, 0, NULL,
	  "Header rules, separated by ';': a message with a header of that name whose value "
	  "starts with that text (without case) goes to Junk unless a filter says otherwise. "
	  "Empty: none." },
	{ "lmtp.outbound_spool", CFG_PATH, OFF(lmtp_settings.outbound_spool),
	  "/var/spool/wildduck/outbound", 0, 0, NULL,
	  "Folder where autoreplies and forwarded copies are written as RFC 5322 files with an "
	  "envelope header block, for an MTA to pick up (see wd-lmtp(8)). Empty: do not send "
	  "autoreplies or forwards." },
	{ "lmtp.hostname", CFG_STRING, OFF(lmtp_settings.hostname), "''", 0, 0, NULL,
	  "Name in the greeting and in generated Message-IDs; empty: the host name." },
	{ "lmtp.autoreply_interval", CFG_DURATION, OFF(lmtp_settings.autoreply_interval), "4d",
	  60000, 2073600000, NULL,
	  "A sender gets at most one autoreply from a user in this time (RFC 3834)." },
	{ "lmtp.forwards_per_day", CFG_INT, OFF(lmtp_settings.forwards_per_day), "2000", 0,
	  10000000, NULL,
	  "Messages a user may forward per day, unless the user has its own limit." },
	{ "lmtp.sendmail", CFG_STRING, OFF(lmtp_settings.sendmail), "''", 0, 0, NULL,
	  "Command that sends a spooled message, run without a shell with the message on "
	  "stdin; {sender} becomes the envelope sender, {recipients} one argument per "
	  "recipient (e.g. '/usr/sbin/sendmail -i -f {sender} -- {recipients}'). Empty: the "
	  "spool is left to an external pickup (see wd-lmtp(8))." },
	SERVICE_OPTIONS(pop3, "[{address: '0.0.0.0:110'}]",
			"1", "10m",
			"A POP3 client silent this long is disconnected; changes are not applied."),
	{ "pop3.max_messages", CFG_INT, OFF(pop3_settings.max_messages), "250", 1, 100000, NULL,
	  "POP3 lists only this many of the newest INBOX messages." },
	{ "pop3.store_threads", CFG_INT, OFF(pop3_settings.store_threads), "2", 1, 64, NULL,
	  "Store threads per POP3 worker." },
	SERVICE_OPTIONS(api, "[{address: '127.0.0.1:8080'}]", "1", "5m",
			"An HTTP connection idle this long is closed (event streams send "
			"heartbeats and stay open)."),
	{ "api.access_token", CFG_STRING, OFF(api_settings.access_token), "\"\"", 0, 0, NULL,
	  "Root access token (X-Access-Token header or accessToken query): full access to "
	  "every user. Empty: no root access through the API." },
	{ "api.max_body_size", CFG_SIZE, OFF(api_settings.max_body_size), "64M", 1024,
	  1LL << 32, NULL, "Largest request body; a bigger one is refused with 413." },
	{ "api.cors_origins", CFG_STRING, OFF(api_settings.cors_origins), "\"\"", 0, 0, NULL,
	  "Origins allowed to call the API from a browser, separated by spaces, or *; "
	  "empty: no CORS headers." },
	{ "api.store_threads", CFG_INT, OFF(api_settings.store_threads), "4", 1, 64, NULL,
	  "Store threads per API worker." },
	{ "api.token_ttl", CFG_DURATION, OFF(api_settings.token_ttl), "12h", 60000,
	  2073600000, NULL, "Lifetime of a user access token issued by POST /authenticate." },
	{ "api.heartbeat", CFG_DURATION, OFF(api_settings.heartbeat), "15s", 100, 3600000, NULL,
	  "Time between heartbeat comments on an idle event stream (GET /users/:user/updates)." },
	SERVICE_OPTIONS(auth, "[{address: 'unix:/run/wildduck/auth.sock', mode: '0660'}]",
			"1", "1h",
			"A worker connection silent this long is closed (workers reconnect)."),
	{ "auth.threads", CFG_INT, OFF(auth_settings.threads), "4", 1, 256, NULL,
	  "Threads per auth worker that verify password hashes and read the store." },
	{ "auth.hash", CFG_ENUM, OFF(auth_settings.hash), "bcrypt", 0, 0, hash_names,
	  "Hash for new passwords: bcrypt, pbkdf2-sha512, pbkdf2-sha256 or argon2id." },
	{ "auth.bcrypt_cost", CFG_INT, OFF(auth_settings.bcrypt_cost), "12", 4, 31, NULL,
	  "bcrypt cost (log2 rounds) of new bcrypt hashes." },
	{ "auth.pbkdf2_iterations", CFG_INT, OFF(auth_settings.pbkdf2_iterations), "25000",
	  1000, 10000000, NULL, "Iterations of new PBKDF2 hashes." },
	{ "auth.rehash", CFG_BOOL, OFF(auth_settings.rehash), "true", 0, 0, NULL,
	  "After a successful login, rewrite a hash that is not in the auth.hash format." },
	{ "auth.user_failures", CFG_INT, OFF(auth_settings.user_failures), "12", 1, 1000000, NULL,
	  "Failed logins allowed per username within auth.user_window." },
	{ "auth.user_window", CFG_DURATION, OFF(auth_settings.user_window), "10m", 1000,
	  86400000, NULL, "Window of auth.user_failures; a successful login resets it." },
	{ "auth.ip_failures", CFG_INT, OFF(auth_settings.ip_failures), "50", 1, 1000000, NULL,
	  "Failed logins allowed per remote IP within auth.ip_window." },
	{ "auth.ip_window", CFG_DURATION, OFF(auth_settings.ip_window), "10m", 1000, 86400000,
	  NULL, "Window of auth.ip_failures." },
	{ "auth.redis_fail_open", CFG_BOOL, OFF(auth_settings.redis_fail_open), "true", 0, 0,
	  NULL, "With Redis configured but unreachable: true checks passwords without rate "
	  "limits, false answers TEMPFAIL." },
	{ "auth.authlog_days", CFG_INT, OFF(auth_settings.authlog_days), "30", 1, 3650, NULL,
	  "Days an authentication log entry is kept." },
	{ "auth.request_timeout", CFG_DURATION, OFF(auth_settings.request_timeout), "10s", 100,
	  600000, NULL, "Workers give up waiting for an answer of wd-auth after this long "
	  "(the login gets a temporary failure)." },
	/* The indexer has no listeners: only enabled and workers of the
	 * service options apply to it. */
	{ "indexer.enabled", CFG_BOOL, OFF(indexer.enabled), "true", 0, 0, NULL,
	  "Start wd-indexer, which keeps the full-text index and the threads of messages "
	  "from the store's journal." },
	{ "indexer.workers", CFG_INT, OFF(indexer.workers), "1", 1, 16, NULL,
	  "Indexer processes; more than one share the users (each user's journal position "
	  "is taken in a transaction, so none skips or repeats work)." },
	{ "indexer.log_level", CFG_ENUM, OFF(indexer.log_level), "\"\"", 0, 0, service_log_levels,
	  "Least severe level logged by the indexer; empty: log_level." },
	{ "indexer.backend", CFG_ENUM, OFF(indexer_settings.backend), "auto", 0, 0,
	  index_backends, "Where the full-text index, the journal positions and the thread "
	  "tables live: sqlite (the file indexer.index_path, one host), mongodb (collections "
	  "search, indexer_positions and threads in store.mongodb_database, shared by every "
	  "host), or auto: mongodb when store.driver is mongodb, else sqlite." },
	{ "indexer.index_path", CFG_STRING, OFF(indexer_settings.index_path), "fts.db", 0, 0,
	  NULL, "SQLite file of the full-text index, its journal positions and the thread "
	  "tables (indexer.backend sqlite); relative to data_dir. IMAP SEARCH reads it too." },
	{ "indexer.batch_size", CFG_INT, OFF(indexer_settings.batch_size), "200", 1, 100000,
	  NULL, "Journal entries indexed in one transaction." },
	{ "indexer.poll_interval", CFG_DURATION, OFF(indexer_settings.poll_interval), "10s",
	  100, 3600000, NULL, "Time between sweeps over every user's journal; change beacons "
	  "wake the indexer at once for the user that changed." },
	{ "indexer.shards", CFG_INT, OFF(indexer_settings.shards), "64", 1, 4096, NULL,
	  "With Redis configured: users are split into this many shards (by a hash of the "
	  "user id) and each indexer process indexes only the users of the shards whose Redis "
	  "lock it holds, the shards balanced across live processes; the same on every "
	  "instance." },
	{ "indexer.lock_ttl", CFG_DURATION, OFF(indexer_settings.lock_ttl), "15s", 300, 600000,
	  NULL, "With Redis: life of a shard lock, renewed every third of it; a dead indexer's "
	  "shards go to the others after about this long, and an indexer that cannot renew "
	  "stops indexing them before then." },
	{ "gelf.address", CFG_STRING, OFF(gelf.address), "\"\"", 0, 0, NULL,
	  "HOST:PORT of a Graylog GELF UDP input that receives every log line of every "
	  "process as well; empty: off." },
	{ "gelf.facility", CFG_STRING, OFF(gelf.facility), "wildduck", 0, 0, NULL,
	  "The _facility field of GELF messages." },
	{ "gelf.compress", CFG_BOOL, OFF(gelf.compress), "true", 0, 0, NULL,
	  "zlib-compress GELF messages (false: plain JSON)." },
	{ "metrics.listen", CFG_STRING, OFF(metrics.listen), "\"\"", 0, 0, NULL,
	  "HOST:PORT (or unix:/PATH) on which the master answers plain HTTP GET /metrics "
	  "with Prometheus counters of every service; empty: off." },
	{ "proxy.trusted", CFG_STRING, OFF(proxy.trusted), "\"127.0.0.0/8 ::1\"", 0, 0, NULL,
	  "Networks (ADDRESS[/PREFIX], separated by spaces) whose connections to a listener "
	  "with proxy: true must start with a PROXY protocol v1 or v2 header; the client "
	  "address in it is the one logged and checked. Other peers are disconnected." },
	{ "proxy.timeout", CFG_DURATION, OFF(proxy.timeout), "5s", 100, 600000, NULL,
	  "A trusted peer that sends no complete PROXY header within this time is "
	  "disconnected." },
	{ "redis.address", CFG_STRING, OFF(redis.address), "\"\"", 0, 0, NULL,
	  "Redis server: unix:/PATH or HOST:PORT; empty: no Redis (one host only)." },
	{ "redis.db", CFG_INT, OFF(redis.db), "0", 0, 1000, NULL, "Redis database number." },
	{ "redis.prefix", CFG_STRING, OFF(redis.prefix), "\"wd:\"", 0, 0, NULL,
	  "Prefix of every Redis key the suite uses." },
	{ "redis.timeout", CFG_DURATION, OFF(redis.timeout), "2s", 10, 600000, NULL,
	  "A Redis command not answered within this time fails and the connection is reset." },
	{ "redis.sentinels", CFG_STRING, OFF(redis.sentinels), "\"\"", 0, 0, NULL,
	  "Redis Sentinels (HOST:PORT separated by spaces); when set they name the master "
	  "(redis.sentinel_master) instead of redis.address, and a failover moves every "
	  "connection to the new master." },
	{ "redis.sentinel_master", CFG_STRING, OFF(redis.sentinel_master), "mymaster", 0, 0,
	  NULL, "The name of the master the sentinels monitor." },
};

const size_t config_option_count = sizeof(config_options) / sizeof(config_options[0]);
