/* Webhook sender: see webhook.h. One thread, one store handle, one curl
 * easy handle reused for keep-alive; calls are claimed with a lease, so
 * several wd-api processes can share a queue and a crash only delays. */
#include "webhook.h"

#include "log.h"
#include "mem.h"
#include "pool.h"

#include <curl/curl.h>
#include <errno.h>
#include <jansson.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define CLAIM_BATCH 32

struct webhook_sender {
	struct webhook_settings set;
	struct store_settings store_set;
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	bool stopping, woken;
};

int64_t webhook_backoff(const struct webhook_settings *set, unsigned int attempts)
{
	unsigned int max = set->max_attempts != 0 ? set->max_attempts : 10;
	int64_t base = set->backoff_secs != 0 ? set->backoff_secs : 2;
	if (attempts >= max)
		return -1;
	int64_t d = base;
	for (unsigned int i = 1; i < attempts && d < 3600; i++)
		d *= 2;
	return d < 3600 ? d : 3600;
}

bool webhook_type_matches(const char *pattern, const char *event)
{
	if (strcmp(pattern, "*") == 0 || strcmp(pattern, event) == 0)
		return true;
	size_t n = strlen(pattern);
	return n >= 2 && strcmp(pattern + n - 2, ".*") == 0 &&
	       strncmp(pattern, event, n - 1) == 0;
}

void webhook_body(const struct store_webhook_call *call, struct buffer *out)
{
	json_t *obj = NULL;
	if (call->payload != NULL)
		obj = json_loads(call->payload, JSON_REJECT_DUPLICATES, NULL);
	if (!json_is_object(obj)) {
		json_decref(obj);
		obj = json_object();
	}
	char id[32], created[32];
	snprintf(id, sizeof(id), "%lld", (long long)call->id);
	time_t t = (time_t)call->created;
	struct tm tm;
	gmtime_r(&t, &tm);
	strftime(created, sizeof(created), "%Y-%m-%dT%H:%M:%S.000Z", &tm);
	json_object_set_new(obj, "id", json_string(id));
	json_t *ev = json_string(call->event != NULL ? call->event : "");
	json_object_set_new(obj, "ev", ev != NULL ? ev : json_string(""));
	if (call->user[0] != '\0')
		json_object_set_new(obj, "user", json_string(call->user));
	json_object_set_new(obj, "created", json_string(created));
	char *text = json_dumps(obj, JSON_COMPACT);
	buffer_append_str(out, text != NULL ? text : "{}");
	free(text);
	json_decref(obj);
}

static bool stopping(struct webhook_sender *s)
{
	pthread_mutex_lock(&s->lock);
	bool stop = s->stopping;
	pthread_mutex_unlock(&s->lock);
	return stop;
}

static int progress(void *arg, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal,
		    curl_off_t ulnow)
{
	return stopping(arg) ? 1 : 0;
}

static size_t discard(char *ptr, size_t size, size_t nmemb, void *arg)
{
	return size * nmemb;
}

/* One POST; 0 on a 2xx answer. */
static int post(struct webhook_sender *s, CURL *curl, const struct store_webhook_call *call,
		long *status_r, const char **error_r)
{
	struct buffer body = BUFFER_INIT;
	webhook_body(call, &body);
	struct curl_slist *headers = curl_slist_append(NULL, "Content-Type: application/json");
	headers = curl_slist_append(headers, "Expect:");
	curl_easy_setopt(curl, CURLOPT_URL, call->url);
	curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
	curl_easy_setopt(curl, CURLOPT_POSTFIELDS, (const char *)body.data);
	curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE, (long)body.len);
	CURLcode rc = curl_easy_perform(curl);
	*status_r = 0;
	curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, status_r);
	curl_slist_free_all(headers);
	buffer_free(&body);
	if (rc != CURLE_OK) {
		*error_r = curl_easy_strerror(rc);
		return -1;
	}
	if (*status_r < 200 || *status_r > 299) {
		*error_r = "not a 2xx status";
		return -1;
	}
	return 0;
}

static CURL *curl_new(struct webhook_sender *s)
{
	CURL *curl = curl_easy_init();
	if (curl == NULL)
		return NULL;
	unsigned int timeout = s->set.timeout_msecs != 0 ? s->set.timeout_msecs : 10000;
	curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, (long)timeout);
	curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS, (long)timeout);
	curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(curl, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(curl, CURLOPT_USERAGENT, "wildduck-c webhooks");
	curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, discard);
	curl_easy_setopt(curl, CURLOPT_NOPROGRESS, 0L);
	curl_easy_setopt(curl, CURLOPT_XFERINFOFUNCTION, progress);
	curl_easy_setopt(curl, CURLOPT_XFERINFODATA, s);
	return curl;
}

/* One round: claim due calls and make them. Returns how many were due. */
static unsigned int round_run(struct webhook_sender *s, struct store *store, CURL *curl,
			      bool *unsupported_r)
{
	struct pool *pool = pool_create(4096);
	struct store_webhook_call *calls;
	unsigned int count = 0;
	const char *error;
	int64_t lease = (s->set.timeout_msecs != 0 ? s->set.timeout_msecs : 10000) / 1000 *
			CLAIM_BATCH + 60;
	if (store_webhook_claim(store, (int64_t)time(NULL), lease, CLAIM_BATCH, pool, &calls,
				&count, &error) < 0) {
		*unsupported_r = store_last_error(store) == STORE_ERR_INTERNAL &&
				 strstr(error, "not supported") != NULL;
		pool_destroy(&pool);
		return 0;
	}
	for (unsigned int i = 0; i < count && !stopping(s); i++) {
		long status;
		const char *why = NULL;
		if (post(s, curl, &calls[i], &status, &why) == 0) {
			log_info("event=webhook_sent id=%lld event=%s status=%ld",
				 (long long)calls[i].id, calls[i].event, status);
			if (store_webhook_done(store, calls[i].id, &error) < 0)
				log_error("event=webhook_done_failed id=%lld error=\"%s\"",
					  (long long)calls[i].id, error);
			continue;
		}
		int64_t delay = webhook_backoff(&s->set, calls[i].attempts + 1);
		if (delay < 0) {
			log_warn("event=webhook_dropped id=%lld event=%s attempts=%u status=%ld "
				 "error=\"%s\"", (long long)calls[i].id, calls[i].event,
				 calls[i].attempts + 1, status, why);
			(void)store_webhook_done(store, calls[i].id, &error);
			continue;
		}
		log_info("event=webhook_retry id=%lld event=%s attempts=%u status=%ld in=%llds "
			 "error=\"%s\"", (long long)calls[i].id, calls[i].event,
			 calls[i].attempts + 1, status, (long long)delay, why);
		if (store_webhook_retry(store, calls[i].id, (int64_t)time(NULL) + delay, &error) < 0)
			log_error("event=webhook_retry_failed id=%lld error=\"%s\"",
				  (long long)calls[i].id, error);
	}
	pool_destroy(&pool);
	return count;
}

static void *sender_main(void *arg)
{
	struct webhook_sender *s = arg;
	struct store *store = NULL;
	CURL *curl = curl_new(s);
	unsigned int poll = s->set.poll_msecs != 0 ? s->set.poll_msecs : 1000;
	bool unsupported = false;
	while (!stopping(s)) {
		const char *error;
		if (store == NULL && store_open(&s->store_set, &store, &error) < 0)
			log_error("event=webhook_store_open_failed error=\"%s\"", error);
		unsigned int due = 0;
		if (store != NULL && curl != NULL && !unsupported) {
			due = round_run(s, store, curl, &unsupported);
			if (unsupported) {
				log_warn("event=webhook_sender_disabled reason=\"the store driver "
					 "has no webhook queue\"");
			}
		}
		if (due == CLAIM_BATCH)
			continue;	/* more may be due */
		pthread_mutex_lock(&s->lock);
		if (!s->woken && !s->stopping) {
			struct timespec ts;
			clock_gettime(CLOCK_REALTIME, &ts);
			ts.tv_sec += poll / 1000;
			ts.tv_nsec += (long)(poll % 1000) * 1000000L;
			if (ts.tv_nsec >= 1000000000L) {
				ts.tv_sec++;
				ts.tv_nsec -= 1000000000L;
			}
			(void)pthread_cond_timedwait(&s->cond, &s->lock, &ts);
		}
		s->woken = false;
		pthread_mutex_unlock(&s->lock);
	}
	if (curl != NULL)
		curl_easy_cleanup(curl);
	store_close(&store);
	return NULL;
}

int webhook_sender_start(const struct store_settings *store_set,
			 const struct webhook_settings *set, struct webhook_sender **sender_r,
			 const char **error_r)
{
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
		*error_r = "curl_global_init() failed";
		return -1;
	}
	struct webhook_sender *s = xcalloc(1, sizeof(*s));
	s->set = *set;
	s->store_set = *store_set;
	pthread_mutex_init(&s->lock, NULL);
	pthread_cond_init(&s->cond, NULL);
	int err = pthread_create(&s->thread, NULL, sender_main, s);
	if (err != 0) {
		errno = err;
		log_error("pthread_create(webhook sender) failed: %m");
		pthread_mutex_destroy(&s->lock);
		pthread_cond_destroy(&s->cond);
		free(s);
		*error_r = "cannot start the webhook sender thread";
		return -1;
	}
	*sender_r = s;
	return 0;
}

void webhook_sender_wake(struct webhook_sender *s)
{
	if (s == NULL)
		return;
	pthread_mutex_lock(&s->lock);
	s->woken = true;
	pthread_cond_signal(&s->cond);
	pthread_mutex_unlock(&s->lock);
}

void webhook_sender_stop(struct webhook_sender **sender)
{
	struct webhook_sender *s = *sender;
	if (s == NULL)
		return;
	pthread_mutex_lock(&s->lock);
	s->stopping = true;
	pthread_cond_signal(&s->cond);
	pthread_mutex_unlock(&s->lock);
	pthread_join(s->thread, NULL);
	pthread_mutex_destroy(&s->lock);
	pthread_cond_destroy(&s->cond);
	curl_global_cleanup();
	free(s);
	*sender = NULL;
}
