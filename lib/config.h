/* The suite's configuration: one YAML file loaded into typed structs.
 * Every option is a row of config_options[] (name, type, default, range,
 * documentation), the single source of truth that the loader, the default
 * conf/wildduck.yaml and wildduck.yaml(5) are checked against. */
#ifndef WD_CONFIG_H
#define WD_CONFIG_H

#include <stdbool.h>
#include <stddef.h>

enum config_type {
	CFG_BOOL,
	CFG_INT,
	CFG_SIZE,      /* bytes; YAML may say 64M, 1G, 512K */
	CFG_DURATION,  /* milliseconds; YAML may say 337, 5m37s, 500ms, 2h */
	CFG_STRING,
	CFG_PATH,      /* a string; relative paths are taken from the config file's folder */
	CFG_ENUM,      /* a string out of option->values */
	CFG_LISTENERS, /* list of {address, tls} */
	CFG_CERTS,     /* list of {cert, key} */
};

struct config_listener {
	char *address; /* "host:port", "[v6]:port" or "unix:/path" */
	bool tls;      /* implicit TLS from the first byte */
	int mode;      /* unix sockets: permission bits (owner user:group) */
	bool proxy;    /* a PROXY protocol v1/v2 header comes first (proxy.trusted) */
};

struct config_listeners {
	struct config_listener *items;
	size_t count;
};

struct config_cert {
	char *cert; /* PEM certificate chain, leaf first */
	char *key;  /* PEM private key */
};

struct config_certs {
	struct config_cert *items;
	size_t count;
};

struct config_service {
	bool enabled;
	int workers;
	int max_connections; /* per worker */
	int idle_timeout;    /* ms */
	struct config_listeners listen;
	char *log_level;     /* "" = the global log_level */
};

struct config {
	char *path; /* absolute path of the file it was loaded from */
	char *user, *group;
	char *data_dir, *pid_file, *control_socket;
	char *log_level;
	int shutdown_grace;      /* ms */
	int restart_delay_min;   /* ms */
	int restart_delay_max;   /* ms */
	int worker_timeout;      /* ms without a status report before a worker is killed */
	int settings_cache;      /* ms a worker keeps /settings values and audits it read */
	struct {
		char *driver;
		char *sqlite_path;
		char *mongodb_uri;
		char *mongodb_database;
		char *mongodb_attachments_database;
	} store;
	struct {
		char *min_version;
		char *ciphers;
		struct config_certs certificates;
		char *certs_dir;	/* relative to data_dir; "": none */
	} tls;
	struct config_service imap;
	struct {
		char *plaintext_login;      /* "never", "loopback" or "always" */
		long long max_message_size; /* APPENDLIMIT, bytes */
		int store_threads;
		int max_user_connections;   /* per user and worker; 0: no limit */
	} imap_settings;
	struct config_service lmtp;
	struct {
		long long max_message_size;	/* bytes */
		int max_recipients;
		int store_threads;
		bool over_quota_permanent;	/* 552 instead of 452 */
		char *spam_headers;		/* "Name: value; Name: value" */
		char *outbound_spool;		/* folder for autoreplies and forwards */
		char *hostname;			/* "" = gethostname() */
		int autoreply_interval;		/* ms between autoreplies to one sender */
		int forwards_per_day;
		char *sendmail;			/* "" = leave the spool to an external pickup */
	} lmtp_settings;
	struct config_service pop3;
	struct {
		int max_messages;		/* newest INBOX messages listed */
		int store_threads;
	} pop3_settings;
	struct config_service api;
	struct {
		char *access_token;		/* root token; "" = no root access */
		long long max_body_size;	/* bytes of one request body */
		char *cors_origins;		/* "*", "" or origins separated by spaces */
		int store_threads;
		int token_ttl;			/* ms a user token from /authenticate lives */
		int heartbeat;			/* ms between SSE heartbeats */
	} api_settings;
	struct config_service indexer;	/* no listeners */
	struct {
		char *backend;			/* "auto", "sqlite" or "mongodb" */
		char *index_path;		/* relative to data_dir */
		int batch_size;			/* journal entries per transaction */
		int poll_interval;		/* ms between sweeps over all users */
		int shards;			/* with Redis: users split into this many locks */
		int lock_ttl;			/* ms a shard lock lives unrenewed */
	} indexer_settings;
	struct config_service auth;
	/* wd-auth's settings (auth.*, next to the auth service's own options) */
	struct {
		int threads;          /* hash verification threads per worker */
		char *hash;           /* default for new hashes: bcrypt, pbkdf2-sha512, ... */
		int bcrypt_cost;
		int pbkdf2_iterations;
		bool rehash;          /* rewrite hashes not in the default format on login */
		int user_failures;    /* failed logins per user per user_window */
		int user_window;      /* ms */
		int ip_failures;      /* failed logins per remote IP per ip_window */
		int ip_window;        /* ms */
		bool redis_fail_open; /* Redis down: skip rate limits (true) or TEMPFAIL */
		int authlog_days;     /* auth log entries expire after this many days */
		int request_timeout;  /* ms: workers give up on an answer (TEMPFAIL) */
	} auth_settings;
	struct {
		char *address;        /* "unix:/path" or "host:port"; "" = no Redis */
		int db;
		char *prefix;         /* prepended to every key */
		int timeout;          /* ms per command */
		char *sentinels;      /* "host:port ..." of Redis Sentinels; "" = none */
		char *sentinel_master; /* the master's name at the sentinels */
	} redis;
	struct {
		char *address;        /* HOST:PORT of a GELF UDP input; "" = off */
		char *facility;
		bool compress;        /* zlib */
	} gelf;
	struct {
		char *listen;         /* HOST:PORT of the master's /metrics; "" = off */
	} metrics;
	struct {
		char *trusted;        /* networks allowed to send PROXY headers */
		int timeout;          /* ms to wait for the header */
	} proxy;
	bool *seen; /* per config_options[] row: set explicitly in the file */
};

struct config_option {
	const char *name;   /* dotted path, e.g. "imap.workers" */
	enum config_type type;
	size_t offset;      /* into struct config */
	const char *def;    /* default as YAML text */
	long long min, max; /* for CFG_INT, CFG_SIZE, CFG_DURATION */
	const char *const *values; /* for CFG_ENUM, NULL-terminated */
	const char *doc;
};

extern const struct config_option config_options[];
extern const size_t config_option_count;

/* Loads and validates. On error returns -1 and *error_r says
 * "FILE:LINE: what is wrong" (static storage, valid until the next call). */
int config_load_file(const char *path, struct config **config_r, const char **error_r);
/* The same from memory; name is the file the text came from (for messages
 * and relative paths). */
int config_load_buffer(const char *name, const char *data, size_t len,
		       struct config **config_r, const char **error_r);
void config_free(struct config **config);

/* The services the suite has: a name and where its section lives. */
struct config_service_def {
	const char *name;
	size_t offset; /* of its struct config_service in struct config */
};
extern const struct config_service_def config_services[];

/* Names of the services, NULL-terminated (for iteration). */
extern const char *const config_service_names[];
/* A service section by name ("imap"), NULL if the suite has no such service. */
struct config_service *config_service(struct config *config, const char *name);

#endif
