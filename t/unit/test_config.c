/* The config loader: defaults, units, paths, FILE:LINE errors for bad
 * input, and every option documented in conf/wildduck.yaml and
 * wildduck.yaml(5). Run from the source root. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buffer.h"
#include "config.h"

#define CERTS "tls:\n  certificates:\n    - {cert: c.pem, key: k.pem}\n"

static struct config *load_ok(const char *text)
{
	struct config *config = NULL;
	const char *error = NULL;
	int ret = config_load_buffer("/etc/wd/test.yaml", text, strlen(text), &config, &error);
	ck_assert_msg(ret == 0, "unexpected error: %s", error);
	return config;
}

static void load_fails(const char *text, const char *expect)
{
	struct config *config = NULL;
	const char *error = NULL;
	ck_assert_int_eq(config_load_buffer("/etc/wd/test.yaml", text, strlen(text), &config, &error), -1);
	ck_assert_ptr_null(config);
	ck_assert_msg(strstr(error, expect) != NULL, "error '%s' lacks '%s'", error, expect);
}

START_TEST(defaults)
{
	struct config *c = load_ok(CERTS);
	ck_assert_int_eq(c->imap.workers, 2);
	ck_assert_int_eq(c->imap.idle_timeout, 337000);
	ck_assert(c->imap.enabled);
	ck_assert_uint_eq(c->imap.listen.count, 2);
	ck_assert_str_eq(c->imap.listen.items[0].address, "0.0.0.0:143");
	ck_assert(!c->imap.listen.items[0].tls);
	ck_assert(c->imap.listen.items[1].tls);
	ck_assert_int_eq(c->shutdown_grace, 10000);
	ck_assert_str_eq(c->log_level, "info");
	ck_assert_str_eq(c->store.sqlite_path, "/var/lib/wildduck/wildduck.db");
	ck_assert_str_eq(c->tls.certificates.items[0].cert, "/etc/wd/c.pem");
	config_free(&c);
	ck_assert_ptr_null(c);
}
END_TEST

START_TEST(units_and_paths)
{
	struct config *c = load_ok(
		"data_dir: data\n"
		"shutdown_grace: 5m37s\n"
		"restart_delay_min: 500ms\n"
		"restart_delay_max: 1h\n"
		"worker_timeout: 30\n"
		"store: {sqlite_path: /abs/x.db}\n"
		"imap:\n  idle_timeout: 1m\n  listen: []\n");
	ck_assert_str_eq(c->data_dir, "/etc/wd/data");
	ck_assert_int_eq(c->shutdown_grace, 337000);
	ck_assert_int_eq(c->restart_delay_min, 500);
	ck_assert_int_eq(c->restart_delay_max, 3600000);
	ck_assert_int_eq(c->worker_timeout, 30000);
	ck_assert_int_eq(c->imap.idle_timeout, 60000);
	ck_assert_str_eq(c->store.sqlite_path, "/abs/x.db");
	ck_assert_uint_eq(c->imap.listen.count, 0);
	config_free(&c);
	c = load_ok("data_dir: /srv/wd\nimap: {listen: [{address: 'unix:/run/x.sock'}]}\n");
	ck_assert_str_eq(c->store.sqlite_path, "/srv/wd/wildduck.db");
	config_free(&c);
}
END_TEST

static const struct { const char *text, *expect; } bad_configs[] = {
	{ CERTS "imap:\n  wrokers: 3\n", "test.yaml:5: unknown option 'imap.wrokers'" },
	{ "bogus: 1\n", "test.yaml:1: unknown option 'bogus'" },
	{ CERTS "imap:\n  workers: 2\n  workers: 3\n", "test.yaml:6: imap: duplicate key 'workers'" },
	{ CERTS "imap:\n  workers: 0\n", "test.yaml:5: imap.workers: expected a whole number from 1" },
	{ CERTS "imap:\n  workers: two\n", "imap.workers: expected a whole number" },
	{ CERTS "imap:\n  workers: 1t\n", "imap.workers: expected a whole number" },
	{ CERTS "imap:\n  enabled: maybe\n", "imap.enabled: expected true or false" },
	{ "shutdown_grace: 10 parsecs\n", "test.yaml:1: shutdown_grace: expected a duration" },
	{ "shutdown_grace: 5s5\n", "shutdown_grace: expected a duration" },
	{ "log_level: loud\n", "log_level: 'loud' is not one of the allowed values" },
	{ "imap:\n  listen:\n    - tls: true\n", "test.yaml:3: imap.listen[0]: address is missing" },
	{ "imap:\n  listen:\n    - {address: 'x:1', colour: red}\n", "imap.listen[0].colour: unknown key" },
	{ "imap:\n  listen:\n    - {address: 'nohost'}\n", "bad address 'nohost'" },
	{ "imap:\n  listen:\n    - {address: 'h:99999'}\n", "bad address 'h:99999'" },
	{ "imap:\n  listen:\n    - {address: '0.0.0.0:993', tls: true}\n", "a TLS listener needs tls.certificates" },
	{ "imap:\n  listen: {address: x}\n", "test.yaml:2: imap.listen: expected a list" },
	{ "imap: [1, 2]\n", "imap: expected a mapping" },
	{ "a: &x 1\nb: *x\n", "unknown option 'a'" },
	{ CERTS "imap: &s {workers: 1}\npop: *s\n", "aliases are not allowed" },
	{ "imap:\n  workers: [1\n", "test.yaml:3: YAML syntax error" },
	{ "tls:\n  certificates:\n    - {cert: c.pem}\n", "both cert and key are needed" },
	{ "restart_delay_min: 10s\nrestart_delay_max: 1s\n", "restart_delay_min is larger" },
	{ "user: [a]\n", "user: expected a single value" },
};

START_TEST(bad_input_names_line)
{
	load_fails(bad_configs[_i].text, bad_configs[_i].expect);
}
END_TEST

START_TEST(missing_file)
{
	struct config *c;
	const char *error;
	ck_assert_int_eq(config_load_file("/nonexistent/wd.yaml", &c, &error), -1);
	ck_assert_ptr_nonnull(strstr(error, "/nonexistent/wd.yaml: cannot open"));
}
END_TEST

static char *read_text(const char *path)
{
	FILE *f = fopen(path, "r");
	ck_assert_msg(f != NULL, "cannot open %s (run from the source root)", path);
	struct buffer b = BUFFER_INIT;
	char chunk[4096];
	size_t n;
	while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
		buffer_append(&b, chunk, n);
	fclose(f);
	return buffer_steal(&b, NULL);
}

/* conf/wildduck.yaml sets every option explicitly and loads cleanly. */
START_TEST(default_config_file_complete)
{
	struct config *c;
	const char *error;
	ck_assert_msg(config_load_file("conf/wildduck.yaml", &c, &error) == 0, "%s", error);
	for (size_t i = 0; i < config_option_count; i++)
		ck_assert_msg(c->seen[i], "conf/wildduck.yaml does not set %s", config_options[i].name);
	config_free(&c);
	ck_assert_msg(config_load_file("conf/dev.yaml", &c, &error) == 0, "%s", error);
	config_free(&c);
}
END_TEST

/* wildduck.yaml(5) has an entry for every option (Postfix's
 * check-postconf-undocumented). */
START_TEST(man_page_complete)
{
	char *man = read_text("man/wildduck.yaml.5");
	for (size_t i = 0; i < config_option_count; i++) {
		char needle[128];
		snprintf(needle, sizeof(needle), ".B %s\n", config_options[i].name);
		ck_assert_msg(strstr(man, needle) != NULL, "wildduck.yaml(5) lacks '.B %s'",
			      config_options[i].name);
	}
	free(man);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("config");
	TCase *tc = tcase_create("loader");
	tcase_add_test(tc, defaults);
	tcase_add_test(tc, units_and_paths);
	tcase_add_loop_test(tc, bad_input_names_line, 0, (int)(sizeof(bad_configs) / sizeof(bad_configs[0])));
	tcase_add_test(tc, missing_file);
	tcase_add_test(tc, default_config_file_complete);
	tcase_add_test(tc, man_page_complete);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_ENV);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? 0 : 1;
}
