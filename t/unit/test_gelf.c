/* GELF: the JSON document (fields from key=value words, invalid UTF-8) and
 * chunking of a message larger than one datagram. */
#include <arpa/inet.h>
#include <check.h>
#include <jansson.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "gelf.h"

START_TEST(format_fields)
{
	char *text = gelf_format("mx1", "wildduck", "imap", 6, 1700000000.25,
				 "event=connect session=1a.2 ip=192.0.2.1 reason=\"a b\" id=x bad\xff");
	json_error_t err;
	json_t *doc = json_loads(text, 0, &err);
	ck_assert_ptr_nonnull(doc);
	ck_assert_str_eq(json_string_value(json_object_get(doc, "version")), "1.1");
	ck_assert_str_eq(json_string_value(json_object_get(doc, "host")), "mx1");
	ck_assert_int_eq(json_integer_value(json_object_get(doc, "level")), 6);
	ck_assert_str_eq(json_string_value(json_object_get(doc, "_event")), "connect");
	ck_assert_str_eq(json_string_value(json_object_get(doc, "_session")), "1a.2");
	ck_assert_str_eq(json_string_value(json_object_get(doc, "_reason")), "a b");
	ck_assert_str_eq(json_string_value(json_object_get(doc, "_service")), "imap");
	ck_assert_ptr_null(json_object_get(doc, "_id")); /* reserved by GELF */
	ck_assert_ptr_nonnull(strstr(json_string_value(json_object_get(doc, "short_message")), "bad?"));
	json_decref(doc);
	free(text);
}
END_TEST

START_TEST(chunked)
{
	int rx = socket(AF_INET, SOCK_DGRAM, 0);
	struct sockaddr_in sin = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t sl = sizeof(sin);
	ck_assert_int_eq(bind(rx, (struct sockaddr *)&sin, sizeof(sin)), 0);
	getsockname(rx, (struct sockaddr *)&sin, &sl);
	int rcv = 1 << 20;
	setsockopt(rx, SOL_SOCKET, SO_RCVBUF, &rcv, sizeof(rcv));
	char addr[64];
	snprintf(addr, sizeof(addr), "127.0.0.1:%d", ntohs(sin.sin_port));
	struct gelf *g;
	const char *error;
	ck_assert_int_eq(gelf_open(addr, "f", "imap", false, &g, &error), 0);
	char msg[6000];
	for (size_t i = 0; i < sizeof(msg) - 1; i++)
		msg[i] = (char)('a' + i % 26);
	msg[sizeof(msg) - 1] = '\0';
	gelf_send(g, 3, msg);
	unsigned char pkt[2000], whole[10000];
	size_t total = 0;
	int count = -1, got = 0;
	unsigned char id[8];
	while (count < 0 || got < count) {
		ssize_t n = recv(rx, pkt, sizeof(pkt), 0);
		ck_assert_int_gt(n, 12);
		ck_assert_int_eq(pkt[0], 0x1e);
		ck_assert_int_eq(pkt[1], 0x0f);
		if (count < 0) {
			count = pkt[11];
			memcpy(id, pkt + 2, 8);
		}
		ck_assert_mem_eq(id, pkt + 2, 8);
		ck_assert_int_eq(pkt[10], got); /* loopback keeps the order */
		memcpy(whole + total, pkt + 12, (size_t)n - 12);
		total += (size_t)n - 12;
		got++;
	}
	ck_assert_int_ge(count, 5);
	json_error_t err;
	json_t *doc = json_loadb((const char *)whole, total, 0, &err);
	ck_assert_ptr_nonnull(doc);
	ck_assert_str_eq(json_string_value(json_object_get(doc, "short_message")), msg);
	json_decref(doc);
	gelf_close(&g);
	ck_assert_ptr_null(g);
	close(rx);
	ck_assert_int_eq(gelf_open("nohostport", "f", "imap", true, &g, &error), -1);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("gelf");
	TCase *tc = tcase_create("gelf");
	tcase_add_test(tc, format_fields);
	tcase_add_test(tc, chunked);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_ENV);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? 0 : 1;
}
