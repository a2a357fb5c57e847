/* Metrics: the shared area (create, attach by a second mapping, hooks
 * seen through both), command classes, bucket choice, and the text
 * exposition: every line a comment or "name{labels} value", HELP and TYPE
 * once per family, cumulative buckets ending in +Inf == _count. */
#include <check.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "metrics.h"

/* the value of the sample line that starts with prefix, -1 if none */
static double sample(const char *text, const char *prefix)
{
	size_t n = strlen(prefix);
	for (const char *p = text; *p != '\0';) {
		const char *eol = strchr(p, '\n');
		if (strncmp(p, prefix, n) == 0 && p[n] == ' ')
			return strtod(p + n + 1, NULL);
		p = eol != NULL ? eol + 1 : p + strlen(p);
	}
	return -1;
}

static int count_lines(const char *text, const char *prefix)
{
	int count = 0;
	size_t n = strlen(prefix);
	for (const char *p = text; *p != '\0';) {
		const char *eol = strchr(p, '\n');
		count += strncmp(p, prefix, n) == 0;
		p = eol != NULL ? eol + 1 : p + strlen(p);
	}
	return count;
}

START_TEST(classes)
{
	ck_assert_int_eq(metrics_imap_class("FETCH"), METRICS_IMAP_FETCH);
	ck_assert_int_eq(metrics_imap_class("login"), METRICS_IMAP_AUTH);
	ck_assert_int_eq(metrics_imap_class("MOVE"), METRICS_IMAP_COPY);
	ck_assert_int_eq(metrics_imap_class("XYZZY"), METRICS_IMAP_OTHER);
	ck_assert_int_eq(metrics_imap_class(NULL), METRICS_IMAP_OTHER);
	ck_assert_int_eq(metrics_service_id("lmtp"), METRICS_SVC_LMTP);
	ck_assert_int_eq(metrics_service_id("metrics"), -1);
}
END_TEST

START_TEST(shared_and_written)
{
	/* no area yet: hooks do nothing, and do not crash */
	metrics_connection();
	metrics_imap_command("FETCH", 10);

	int fd;
	const char *error;
	ck_assert_int_eq(metrics_create(&fd, &error), 0);
	struct metrics_area *master_view = metrics_area();
	/* a worker's mapping of the same memfd (what exec'd workers do) */
	int dup = fcntl(fd, F_DUPFD_CLOEXEC, 0);
	ck_assert_int_eq(metrics_attach(dup, "imap", &error), 0);
	ck_assert_ptr_ne(metrics_area(), master_view);

	metrics_connection();
	metrics_connection();
	metrics_imap_command("FETCH", 500);     /* <= 1ms */
	metrics_imap_command("uid", 1000);      /* other, exactly 1ms: le=0.001 */
	metrics_imap_command("SEARCH", 7000);   /* le=0.01 */
	metrics_imap_command("SEARCH", 5000000); /* +Inf */
	metrics_lmtp_delivery(250);
	metrics_lmtp_delivery(452);
	metrics_lmtp_delivery(550);
	metrics_auth(METRICS_AUTH_FAIL);
	metrics_store_error(METRICS_STORE_TEMPORARY);
	metrics_worker_restart("pop3");
	metrics_worker_restart("nonesuch");
	metrics_api_request(200);
	metrics_api_request(204);
	metrics_api_request(413);
	metrics_api_request(99);
	metrics_api_request(600);

	uint64_t current[METRICS_SVC_COUNT] = { 3, 0, 0, 0, 1, 0 };
	struct buffer out = BUFFER_INIT;
	metrics_write(&out, master_view, current);
	const char *t = buffer_cstr(&out);

	ck_assert_double_eq(sample(t, "wildduck_connections_total{service=\"imap\"}"), 2);
	ck_assert_double_eq(sample(t, "wildduck_connections_total{service=\"lmtp\"}"), 0);
	ck_assert_double_eq(sample(t, "wildduck_connections_current{service=\"imap\"}"), 3);
	ck_assert_double_eq(sample(t, "wildduck_connections_current{service=\"auth\"}"), 1);
	ck_assert_double_eq(sample(t, "wildduck_imap_commands_total{class=\"fetch\"}"), 1);
	ck_assert_double_eq(sample(t, "wildduck_imap_commands_total{class=\"search\"}"), 2);
	ck_assert_double_eq(sample(t, "wildduck_imap_commands_total{class=\"other\"}"), 1);
	const char *b = "wildduck_imap_command_duration_seconds_bucket{class=\"search\",le=";
	char name[160];
	static const char *const les[] = { "0.001", "0.005", "0.01", "0.05", "0.1", "0.5", "1",
					   "+Inf" };
	static const double want[] = { 0, 0, 1, 1, 1, 1, 1, 2 };
	for (int i = 0; i < 8; i++) {
		snprintf(name, sizeof(name), "%s\"%s\"}", b, les[i]);
		ck_assert_double_eq(sample(t, name), want[i]);
	}
	ck_assert_double_eq(sample(t, "wildduck_imap_command_duration_seconds_bucket{class=\"other\",le=\"0.001\"}"), 1);
	ck_assert_double_eq_tol(sample(t, "wildduck_imap_command_duration_seconds_sum{class=\"search\"}"),
				5.007, 1e-9);
	ck_assert_double_eq(sample(t, "wildduck_imap_command_duration_seconds_count{class=\"search\"}"), 2);
	ck_assert_double_eq(sample(t, "wildduck_lmtp_deliveries_total{result=\"delivered\"}"), 1);
	ck_assert_double_eq(sample(t, "wildduck_lmtp_deliveries_total{result=\"tempfail\"}"), 1);
	ck_assert_double_eq(sample(t, "wildduck_lmtp_deliveries_total{result=\"rejected\"}"), 1);
	ck_assert_double_eq(sample(t, "wildduck_auth_attempts_total{result=\"fail\"}"), 1);
	ck_assert_double_eq(sample(t, "wildduck_auth_attempts_total{result=\"ok\"}"), 0);
	ck_assert_double_eq(sample(t, "wildduck_store_errors_total{kind=\"temporary\"}"), 1);
	ck_assert_double_eq(sample(t, "wildduck_worker_restarts_total{service=\"pop3\"}"), 1);
	ck_assert_double_eq(sample(t, "wildduck_api_requests_total{code=\"2xx\"}"), 2);
	ck_assert_double_eq(sample(t, "wildduck_api_requests_total{code=\"4xx\"}"), 1);
	ck_assert_double_eq(sample(t, "wildduck_api_requests_total{code=\"5xx\"}"), 0);

	/* one HELP and one TYPE per family, and nothing but those and samples */
	ck_assert_int_eq(count_lines(t, "# HELP wildduck_imap_command_duration_seconds "), 1);
	ck_assert_int_eq(count_lines(t, "# TYPE wildduck_imap_command_duration_seconds histogram"), 1);
	ck_assert_int_eq(count_lines(t, "# TYPE "), 9);
	ck_assert_int_eq(count_lines(t, "# HELP "), 9);
	ck_assert_int_eq(count_lines(t, "# "), 18);
	ck_assert_int_eq(count_lines(t, "wildduck_"), count_lines(t, "") - 18);
	ck_assert(out.len > 0 && t[out.len - 1] == '\n');

	buffer_free(&out);
	metrics_detach();
	close(fd);
}
END_TEST

START_TEST(attach_refuses_other_versions)
{
	const char *error;
	int fd = memfd_create("not-metrics", MFD_CLOEXEC);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(ftruncate(fd, 65536), 0);
	ck_assert_int_eq(metrics_attach(fd, "imap", &error), -1); /* zero magic */
	ck_assert_ptr_null(metrics_area());
	int small = memfd_create("small", MFD_CLOEXEC);
	ck_assert_int_eq(metrics_attach(small, "imap", &error), -1);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("metrics");
	TCase *tc = tcase_create("core");
	tcase_add_test(tc, classes);
	tcase_add_test(tc, shared_and_written);
	tcase_add_test(tc, attach_refuses_other_versions);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_ENV);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? 0 : 1;
}
