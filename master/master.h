/* State of the master process (wildduck), shared by its modules: the
 * current config and generation, listeners, the worker table, the control
 * socket. Nothing here is visible to workers except through master_proto.h. */
#ifndef WD_MASTER_H
#define WD_MASTER_H

#include <event2/event.h>
#include <stdbool.h>
#include <time.h>

#include "buffer.h"
#include "config.h"
#include "metrics.h"

struct master_listener {
	struct master_listener *next;
	char *service;
	char *address;   /* as configured */
	char *bound;     /* as bound: the real port when the config said 0 */
	bool tls;
	bool proxy;      /* PROXY protocol header first; may change on reload */
	int fd;
};

struct control_client;

struct master {
	struct event_base *base;
	char *config_path;
	struct config *config;
	int config_fd; /* memfd with the validated text of config */
	int tls_fd;    /* memfd with the certificate blob, -1 without certificates */
	int metrics_fd; /* memfd of the shared counters (metrics.h), for the whole run */
	unsigned generation;
	bool foreground;
	bool stopping;
	time_t started;
	int status_pipe[2]; /* workers write [1], we read [0] */
	int alive_pipe[2];  /* workers hold [0]; it reads EOF when we die */
	struct master_listener *listeners;
	struct worker *workers;
	struct service_state *services;
	/* a reload in progress waits for the new generation to report */
	bool reloading;
	struct control_client *reload_waiter;
	time_t reload_started;
	struct master_listener *stale_listeners; /* closed once old workers drain */
};

extern struct master master;

/* listeners.c */
/* Binds what config asks for, reusing listeners already bound to the same
 * address; on error nothing changes. Listeners no longer configured are
 * returned in *stale_r for the caller to close once workers let go. */
int listeners_update(const struct config *config, struct master_listener **stale_r,
		     const char **error_r);
void listeners_close(struct master_listener **list);

/* supervisor.c */
void supervisor_init(void);
/* Starts the workers of the current generation. */
void supervisor_start_generation(void);
/* Tells workers of older generations to stop accepting and finish. */
void supervisor_drain_old(void);
/* Sends SIGTERM to every worker; SIGKILL after the grace period. */
void supervisor_stop_all(void);
bool supervisor_idle(void);
/* Every worker of the current generation has reported once. */
bool supervisor_new_generation_reported(void);
/* Every worker of older generations has stopped accepting. */
bool supervisor_old_drained(void);
/* Connections open now per service, from the workers' status reports. */
void supervisor_connections(uint64_t current[METRICS_SVC_COUNT]);
/* Appends STATUS lines (see control.c) for request id to out. */
void supervisor_describe(struct buffer *out, const char *id);
void supervisor_deinit(void);

/* control.c */
int control_open(const char *path, const char **error_r);
void control_reply_reload(struct control_client *client, const char *error);
void control_close(void);

/* metrics_http.c */
/* Follows the "metrics" pseudo-service listener (metrics.listen) after
 * listeners_update(): serves GET /metrics on it, or stops serving. */
void metrics_http_update(void);
void metrics_http_close(void);

/* main.c */
/* Re-reads the config; returns -1 (old config kept) with *error_r. */
int master_reload(const char **error_r);
void master_stop(const char *why);
/* Moves a reload along: once the new generation reported, drain the old
 * one; once that is done, answer wdctl. Called on every status report. */
void master_reload_progress(void);

#endif
