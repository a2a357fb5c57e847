/* Benchmark: appends N synthetic messages to one mailbox of a fresh store
 * and prints appends/s, p50/p99 latency and bytes stored per message.
 *
 *   store_append [-n N] [-d DIR] [-r] [-z LEVEL] [-p PROCS]
 *     -r  relaxed sync (synchronous=NORMAL) instead of FULL
 *     -z  zstd level for attachments (0: off)
 *     -p  that many processes append at once (N each)
 *
 * Messages: a 2-8 KB tree blob each; every 5th carries a 100 KB attachment,
 * half of those the same one (de-duplicated), the rest unique. */
#include "log.h"
#include "pool.h"
#include "store.h"

#include <openssl/sha.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sqlite3.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define ATT_SIZE (100 * 1024)

static double now_secs(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void fill(unsigned char *buf, size_t len, uint32_t seed)
{
	static const char words[] = "lorem ipsum dolor sit amet consectetur adipiscing elit "
		"sed do eiusmod tempor incididunt ut labore et dolore magna aliqua\r\n";
	uint32_t x = seed * 2654435761u + 7;
	for (size_t i = 0; i < len; i++) {
		x ^= x << 13;
		x ^= x >> 17;
		x ^= x << 5;
		buf[i] = (unsigned char)words[x % (sizeof(words) - 1)];
	}
}

static void make_attachment(struct store_attachment *att, unsigned char *buf, uint32_t seed)
{
	fill(buf, ATT_SIZE, seed);
	unsigned char digest[SHA256_DIGEST_LENGTH];
	SHA256(buf, ATT_SIZE, digest);
	for (int i = 0; i < SHA256_DIGEST_LENGTH; i++)
		snprintf(att->id + i * 2, 3, "%02x", digest[i]);
	att->data = buf;
	att->len = ATT_SIZE;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

/* Appends n messages; latencies (seconds) go to lat. */
static int run_appends(const struct store_settings *set, const char *mailbox, unsigned int n,
		       uint32_t seed_base, double *lat)
{
	struct store *store;
	const char *error;
	if (store_open(set, &store, &error) < 0) {
		fprintf(stderr, "store_open: %s\n", error);
		return -1;
	}
	unsigned char *tree = malloc(8192), *att_buf = malloc(ATT_SIZE), *shared_buf = malloc(ATT_SIZE);
	struct store_attachment shared, unique;
	make_attachment(&shared, shared_buf, 1);
	static const char *const flags[] = { "\\Seen" };
	for (unsigned int i = 0; i < n; i++) {
		uint32_t seed = seed_base + i;
		size_t tree_len = 2048 + (seed * 7919u) % 6144;
		fill(tree, tree_len, seed);
		struct store_message_new msg = {
			.idate = time(NULL), .hdate = time(NULL),
			.size = tree_len, .subject = "Benchmark message", .msgid = "<b@x>",
			.flags = flags, .flags_count = i % 3 == 0,
			.tree = tree, .tree_len = tree_len,
		};
		if (i % 5 == 0) {
			if (i % 10 == 0) {
				msg.attachments = &shared;
			} else {
				make_attachment(&unique, att_buf, seed + 1000000);
				msg.attachments = &unique;
			}
			msg.attachments_count = 1;
			msg.size += ATT_SIZE;
		}
		struct store_append_result res;
		double t0 = now_secs();
		if (store_message_append(store, mailbox, &msg, STORE_APPEND_CHECK_QUOTA, &res,
					 &error) < 0) {
			fprintf(stderr, "append %u: %s\n", i, error);
			return -1;
		}
		lat[i] = now_secs() - t0;
	}
	free(tree);
	free(att_buf);
	free(shared_buf);
	store_close(&store);
	return 0;
}

static uint64_t disk_bytes(const char *path)
{
	sqlite3 *db;
	if (sqlite3_open(path, &db) == SQLITE_OK)
		(void)sqlite3_exec(db, "PRAGMA wal_checkpoint(TRUNCATE)", NULL, NULL, NULL);
	sqlite3_close(db);
	char wal[600];
	snprintf(wal, sizeof(wal), "%s-wal", path);
	struct stat st;
	uint64_t total = stat(path, &st) == 0 ? (uint64_t)st.st_size : 0;
	return total + (stat(wal, &st) == 0 ? (uint64_t)st.st_size : 0);
}

int main(int argc, char **argv)
{
	unsigned int n = 2000, procs = 1;
	const char *dir = NULL;
	struct store_settings set = { .driver = "sqlite", .busy_timeout_msecs = 60000 };
	int opt;
	while ((opt = getopt(argc, argv, "n:d:rz:p:")) != -1) {
		switch (opt) {
		case 'n': n = (unsigned int)atoi(optarg); break;
		case 'd': dir = optarg; break;
		case 'r': set.relaxed_sync = true; break;
		case 'z': set.compress_level = atoi(optarg); break;
		case 'p': procs = (unsigned int)atoi(optarg); break;
		default:
			fprintf(stderr, "usage: %s [-n N] [-d DIR] [-r] [-z LEVEL] [-p PROCS]\n", argv[0]);
			return 2;
		}
	}
	log_open("store_append", true);
	char tmpl[256];
	snprintf(tmpl, sizeof(tmpl), "%s/wd-bench-XXXXXX", dir == NULL ? "/tmp" : dir);
	if (mkdtemp(tmpl) == NULL) {
		perror("mkdtemp");
		return 1;
	}
	char path[512];
	snprintf(path, sizeof(path), "%s/store.db", tmpl);
	set.path = path;

	/* the parent sets up, then closes its handle before forking writers */
	struct store *store;
	const char *error;
	char user_id[STORE_ID_SIZE];
	struct store_user user = { .username = "bench", .address = "bench@example.com" };
	struct pool *pool = pool_create(1024);
	struct store_mailbox *inbox;
	if (store_open(&set, &store, &error) < 0 ||
	    store_user_create(store, &user, user_id, &error) < 0 ||
	    store_mailbox_get_by_path(store, user_id, "INBOX", pool, &inbox, &error) < 0) {
		fprintf(stderr, "setup: %s\n", error);
		return 1;
	}
	char mailbox[STORE_ID_SIZE];
	memcpy(mailbox, inbox->id, sizeof(mailbox));
	store_close(&store);
	uint64_t before = disk_bytes(path);

	double *lat = calloc((size_t)n * procs, sizeof(*lat));
	int pipes[64][2];
	double t0 = now_secs();
	for (unsigned int p = 0; p < procs && p < 64; p++) {
		if (pipe(pipes[p]) < 0)
			return 1;
		if (fork() == 0) {
			int ret = run_appends(&set, mailbox, n, p * 10000000u, lat);
			if (write(pipes[p][1], lat, n * sizeof(*lat)) != (ssize_t)(n * sizeof(*lat)))
				ret = -1;
			_exit(ret == 0 ? 0 : 1);
		}
		close(pipes[p][1]);
	}
	int failed = 0;
	for (unsigned int p = 0; p < procs && p < 64; p++) {
		size_t got = 0, want = n * sizeof(*lat);
		ssize_t r;
		while (got < want && (r = read(pipes[p][0], (char *)(lat + (size_t)p * n) + got,
					       want - got)) > 0)
			got += (size_t)r;
		int status;
		wait(&status);
		failed |= !WIFEXITED(status) || WEXITSTATUS(status) != 0 || got != want;
	}
	double elapsed = now_secs() - t0;
	if (failed) {
		fprintf(stderr, "a writer failed\n");
		return 1;
	}
	size_t total = (size_t)n * procs;
	qsort(lat, total, sizeof(*lat), cmp_double);
	uint64_t after = disk_bytes(path);
	printf("store_append: driver=sqlite sync=%s zstd=%d procs=%u messages=%zu\n",
	       set.relaxed_sync ? "NORMAL" : "FULL", set.compress_level, procs, total);
	printf("  appends/s      %.0f\n", (double)total / elapsed);
	printf("  latency p50    %.3f ms\n", lat[total / 2] * 1000);
	printf("  latency p99    %.3f ms\n", lat[total * 99 / 100] * 1000);
	printf("  bytes/message  %.0f (store grew %llu bytes; raw input %.0f bytes/message)\n",
	       (double)(after - before) / (double)total, (unsigned long long)(after - before),
	       5120.0 + ATT_SIZE / 5.0);
	free(lat);
	pool_destroy(&pool);
	char cmd[600];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpl);
	return system(cmd) == 0 ? 0 : 1;
}
