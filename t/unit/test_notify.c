/* Local change beacons: a publish reaches every listener in the folder,
 * and sockets of dead processes are cleaned up. */
#include <check.h>
#include <event2/event.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "notify.h"

static int got_a, got_b;
static char last[64];

static void cb_a(const char *user, void *ctx) { got_a++; snprintf(last, sizeof(last), "%s", user); }
static void cb_b(const char *user, void *ctx) { got_b++; }

static void stop(evutil_socket_t fd, short what, void *arg) { event_base_loopbreak(arg); }

START_TEST(publish_reaches_all)
{
	char dir[] = "/tmp/wd-notify-XXXXXX";
	ck_assert_ptr_nonnull(mkdtemp(dir));
	struct event_base *base = event_base_new();
	const char *error;
	struct notify *a = notify_create(base, dir, cb_a, NULL, &error);
	struct notify *b = notify_create(base, dir, cb_b, NULL, &error);
	ck_assert_ptr_nonnull(a);
	ck_assert_ptr_nonnull(b);
	/* a socket left behind by a dead process */
	char stale[256];
	snprintf(stale, sizeof(stale), "%s/999999.sock", dir);
	int fd = socket(AF_UNIX, SOCK_DGRAM, 0);
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	strcpy(sun.sun_path, stale);
	ck_assert_int_eq(bind(fd, (struct sockaddr *)&sun, sizeof(sun)), 0);
	close(fd);

	notify_publish(a, "0123456789abcdef01234567");
	notify_publish(b, "user2");
	struct timeval tv = { 0, 200000 };
	event_base_once(base, -1, EV_TIMEOUT, stop, base, &tv);
	event_base_dispatch(base);
	ck_assert_int_eq(got_a, 2);
	ck_assert_int_eq(got_b, 2);
	ck_assert_str_eq(last, "user2");
	ck_assert_int_ne(access(stale, F_OK), 0); /* removed */
	notify_free(&a);
	notify_free(&b);
	ck_assert_ptr_null(a);
	event_base_free(base);
	ck_assert_int_eq(rmdir(dir), 0); /* nothing left in it */
}
END_TEST

int main(void)
{
	Suite *s = suite_create("notify");
	TCase *tc = tcase_create("local");
	tcase_add_test(tc, publish_reaches_all);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_ENV);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? 0 : 1;
}
