/* The full-text index's backends alone, without the suite: adds N messages
 * (250 words of a 20-word vocabulary, 1% with a rare word, as
 * t/bench/search.py) and times fts_add, fts_indexed and fts_query of a rare
 * and a common word on one mailbox.
 *     build/t/bench/search_index [sqlite|mongodb] [MESSAGES] [RUNS]
 * mongodb uses WD_TEST_MONGODB_URI (python3 t/mongo/server.py -- ... for
 * the FerretDB test server, whose figures are only indicative). */
#include "fts.h"
#include "mem.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static const char *const words[] = {
	"mail", "server", "index", "thread", "search", "folder", "message", "quota",
	"delivery", "report", "meeting", "budget", "travel", "invoice", "project", "review",
	"schedule", "update", "backup", "network",
};

static double now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

static void die(const char *what, const char *error)
{
	fprintf(stderr, "search_index: %s: %s\n", what, error);
	exit(1);
}

int main(int argc, char **argv)
{
	const char *backend = argc > 1 ? argv[1] : "sqlite";
	int messages = argc > 2 ? atoi(argv[2]) : 10000;
	int runs = argc > 3 ? atoi(argv[3]) : 20;
	char dir[] = "/tmp/wd-bench-index-XXXXXX", path[64], db[64];
	struct fts *fts;
	const char *error;
	if (mkdtemp(dir) == NULL)
		return 1;
	snprintf(path, sizeof(path), "%s/fts.db", dir);
	snprintf(db, sizeof(db), "bench_index_%d", (int)getpid());
	int ret = strcmp(backend, "mongodb") == 0 ?
		fts_open_mongodb(getenv("WD_TEST_MONGODB_URI"), db, true, &fts, &error) :
		fts_open(path, true, &fts, &error);
	if (ret < 0)
		die("open", error);
	srand(9);
	char body[4096];
	double start = now_ms();
	if (fts_begin(fts, true, &error) < 0)
		die("begin", error);
	for (int n = 0; n < messages; n++) {
		size_t o = 0;
		for (int w = 0; w < 250; w++) {
			if (n % 100 == 7 && w == 125)
				o += (size_t)snprintf(body + o, sizeof(body) - o, "zebracorn ");
			o += (size_t)snprintf(body + o, sizeof(body) - o, "%s%s",
					      words[rand() % 20], w % 12 == 11 ? "\n" : " ");
		}
		char subject[64];
		snprintf(subject, sizeof(subject), "%s %s %d", words[rand() % 20],
			 words[rand() % 20], n);
		struct fts_doc doc = { .user = "u1", .message = "m", .thread = "t" };
		doc.fields[FTS_SUBJECT] = subject;
		doc.fields[FTS_HEADERS] = subject;
		doc.fields[FTS_BODY] = body;
		if (fts_add(fts, "mb1", (uint32_t)n + 1, &doc, &error) < 0)
			die("add", error);
	}
	if (fts_commit(fts, &error) < 0)
		die("commit", error);
	double added = now_ms() - start;
	printf("%s: added %d messages in %.1f s (%.2f ms each)\n", backend, messages,
	       added / 1e3, added / messages);
	const char *queries[] = { NULL, "zebracorn", "invoice" };
	for (int q = 0; q < 3; q++) {
		double *t = xcalloc((size_t)runs, sizeof(*t));
		size_t hits = 0;
		for (int r = 0; r < runs; r++) {
			uint32_t *uids;
			size_t count;
			double s = now_ms();
			if (fts_begin(fts, false, &error) < 0)
				die("begin", error);
			ret = q == 0 ? fts_indexed(fts, "mb1", &uids, &count, &error) :
				fts_query(fts, "mb1", FTS_BODY, queries[q], &uids, &count, &error);
			fts_rollback(fts);
			if (ret < 0)
				die("query", error);
			t[r] = now_ms() - s;
			hits = count;
			free(uids);
		}
		qsort(t, (size_t)runs, sizeof(*t), cmp_double);
		printf("%s: %-22s %6zu hits  p50 %8.1f ms  p90 %8.1f ms\n", backend,
		       q == 0 ? "fts_indexed" : queries[q], hits, t[runs / 2],
		       t[runs * 9 / 10 > 0 ? runs * 9 / 10 - 1 : 0]);
		if (q > 0)
			printf("BENCH {\"name\": \"index query %s (%s, %d msgs)\", \"p50\": %.2f, "
			       "\"p99\": %.2f, \"ops\": %.0f, \"baseline\": \"adds/s\"}\n",
			       queries[q], backend, messages, t[runs / 2], t[runs - 1],
			       messages / (added / 1e3));
		free(t);
	}
	fts_close(&fts);
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	return system(cmd) == 0 ? 0 : 1;
}
