/* lib/settings.c: every key names a numeric config option (its range and
 * default), and settings_get_int() reads stored values through its cache
 * (a SQLite store in a temporary folder). */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "settings.h"
#include "store.h"

#define CERTS "tls:\n  certificates:\n    - {cert: c.pem, key: k.pem}\n"

static struct config *load(const char *text)
{
	struct config *config = NULL;
	const char *error = NULL;
	int ret = config_load_buffer("/etc/wd/test.yaml", text, strlen(text), &config, &error);
	ck_assert_msg(ret == 0, "unexpected error: %s", error);
	return config;
}

START_TEST(keys_name_numeric_options)
{
	unsigned int n = 0;
	for (const struct settings_key *k = settings_keys; k->key != NULL; k++, n++) {
		ck_assert_ptr_eq(settings_key_find(k->key), k);
		ck_assert_ptr_nonnull(k->description);
		long long min, max;
		settings_key_range(k, &min, &max);
		ck_assert_msg(min >= 0 && min <= max, "%s: range %lld..%lld", k->key, min, max);
		if (k->option == NULL)
			continue;
		const struct config_option *o = NULL;
		for (size_t i = 0; i < config_option_count; i++)
			if (strcmp(config_options[i].name, k->option) == 0)
				o = &config_options[i];
		ck_assert_msg(o != NULL, "%s: no option %s", k->key, k->option);
		ck_assert_msg(o->type == CFG_INT || o->type == CFG_SIZE || o->type == CFG_DURATION,
			      "%s: %s is not numeric", k->key, k->option);
		ck_assert_int_eq(min, o->min);
		ck_assert_int_eq(max, o->max);
	}
	ck_assert_uint_ge(n, 3);
	ck_assert_ptr_null(settings_key_find("const:max:nothing"));
	ck_assert_ptr_null(settings_key_find(NULL));
}
END_TEST

START_TEST(defaults_come_from_the_config)
{
	struct config *c = load(CERTS "lmtp:\n  forwards_per_day: 77\n  max_recipients: 9\n"
			      "  autoreply_interval: 2h\n");
	ck_assert_int_eq(settings_key_default(settings_key_find("const:max:forwards"), c), 77);
	ck_assert_int_eq(settings_key_default(settings_key_find("const:max:rcpt_to"), c), 9);
	ck_assert_int_eq(settings_key_default(settings_key_find("const:autoreply:interval"), c),
			 7200000);
	ck_assert_int_eq(settings_key_default(settings_key_find("const:max:storage"), c), 0);
	ck_assert_int_eq(c->settings_cache, 10000);
	config_free(&c);
}
END_TEST

static void set_value(struct store *store, const char *key, long long value)
{
	char doc[64], id[STORE_ID_SIZE];
	const char *error;
	snprintf(doc, sizeof(doc), "{\"value\":%lld}", value);
	ck_assert_int_eq(store_object_add(store, SETTINGS_KIND, NULL, key, doc, true, id, &error),
			 0);
}

START_TEST(values_through_the_cache)
{
	char dir[] = "/tmp/wd-settings-XXXXXX", path[64];
	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/s.db", dir);
	struct store_settings set = { .driver = "sqlite", .path = path, .relaxed_sync = true };
	struct store *store;
	const char *error;
	ck_assert_int_eq(store_open(&set, &store, &error), 0);

	struct config *c = load(CERTS "settings_cache: 1h\n");
	settings_configure(c);
	ck_assert_int_eq(settings_cache_msecs(), 3600000);
	ck_assert_int_eq(settings_get_int(store, "const:max:forwards", 2000), 2000);
	set_value(store, "const:max:forwards", 5);
	/* cached: the store is not read again within the hour */
	ck_assert_int_eq(settings_get_int(store, "const:max:forwards", 2000), 2000);
	settings_invalidate();
	ck_assert_int_eq(settings_get_int(store, "const:max:forwards", 2000), 5);
	ck_assert_int_eq(settings_get_int(store, "const:max:rcpt_to", 400), 400);
	config_free(&c);

	/* settings_cache 0: every call reads the store */
	c = load(CERTS "settings_cache: 0\n");
	settings_configure(c);
	set_value(store, "const:max:rcpt_to", 3);
	ck_assert_int_eq(settings_get_int(store, "const:max:rcpt_to", 400), 3);
	config_free(&c);

	store_close(&store);
	unlink(path);
	char wal[80];
	snprintf(wal, sizeof(wal), "%s-wal", path);
	unlink(wal);
	snprintf(wal, sizeof(wal), "%s-shm", path);
	unlink(wal);
	rmdir(dir);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("settings");
	TCase *tc = tcase_create("core");
	tcase_add_test(tc, keys_name_numeric_options);
	tcase_add_test(tc, defaults_come_from_the_config);
	tcase_add_test(tc, values_through_the_cache);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_ENV);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? 0 : 1;
}
