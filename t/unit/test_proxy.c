/* PROXY protocol v1/v2 parsing (every prefix is "need more", never an
 * error) and trusted-network matching. */
#include <arpa/inet.h>
#include <check.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

#include "proxy.h"

static const char *src_ip(const struct proxy_result *r, char *buf, size_t len)
{
	if (r->src.ss_family == AF_INET)
		return inet_ntop(AF_INET, &((const struct sockaddr_in *)&r->src)->sin_addr, buf,
				 (socklen_t)len);
	return inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)&r->src)->sin6_addr, buf,
			 (socklen_t)len);
}

static int src_port(const struct proxy_result *r)
{
	return r->src.ss_family == AF_INET ? ntohs(((const struct sockaddr_in *)&r->src)->sin_port)
					   : ntohs(((const struct sockaddr_in6 *)&r->src)->sin6_port);
}

/* every strict prefix must ask for more input */
static void check_prefixes(const unsigned char *h, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		struct proxy_result r;
		const char *error = NULL;
		ck_assert_msg(proxy_parse(h, i, &r, &error) == 0, "prefix %zu: %s", i,
			      error ? error : "");
	}
}

START_TEST(v1_tcp4_and_tcp6)
{
	const char *h = "PROXY TCP4 192.0.2.7 198.51.100.1 56324 143\r\nA1 LOGIN";
	size_t hl = strlen("PROXY TCP4 192.0.2.7 198.51.100.1 56324 143\r\n");
	struct proxy_result r;
	const char *error = NULL;
	char ip[64];
	ck_assert_int_eq(proxy_parse((const unsigned char *)h, strlen(h), &r, &error), (int)hl);
	ck_assert(r.has_address);
	ck_assert_int_eq(r.version, 1);
	ck_assert_str_eq(src_ip(&r, ip, sizeof(ip)), "192.0.2.7");
	ck_assert_int_eq(src_port(&r), 56324);
	check_prefixes((const unsigned char *)h, hl);

	const char *h6 = "PROXY TCP6 2001:db8::5 2001:db8::1 4000 993\r\n";
	ck_assert_int_eq(proxy_parse((const unsigned char *)h6, strlen(h6), &r, &error),
			 (int)strlen(h6));
	ck_assert_str_eq(src_ip(&r, ip, sizeof(ip)), "2001:db8::5");
	ck_assert_int_eq(src_port(&r), 4000);

	const char *hu = "PROXY UNKNOWN\r\n";
	ck_assert_int_eq(proxy_parse((const unsigned char *)hu, strlen(hu), &r, &error),
			 (int)strlen(hu));
	ck_assert(!r.has_address);
}
END_TEST

START_TEST(v1_malformed)
{
	static const char *const bad[] = {
		"PROXY TCP4 192.0.2.7 198.51.100.1 56324\r\n",
		"PROXY TCP4 192.0.2.x 198.51.100.1 1 2\r\n",
		"PROXY TCP4 2001:db8::1 198.51.100.1 1 2\r\n",
		"PROXY TCP4 192.0.2.7 198.51.100.1 65536 2\r\n",
		"PROXY TCP4 192.0.2.7 198.51.100.1 01 2\r\n",
		"PROXY UDP4 192.0.2.7 198.51.100.1 1 2\r\n",
		"PROXY TCP4 192.0.2.7 198.51.100.1 1 2\n",
		"A1 LOGIN user pass\r\n",
		"GET / HTTP/1.0\r\n",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct proxy_result r;
		const char *error = NULL;
		ck_assert_msg(proxy_parse((const unsigned char *)bad[i], strlen(bad[i]), &r, &error) == -1,
			      "accepted: %s", bad[i]);
		ck_assert_ptr_nonnull(error);
	}
	/* no CRLF within 107 bytes */
	char longline[200];
	memset(longline, '1', sizeof(longline));
	memcpy(longline, "PROXY TCP4 ", 11);
	struct proxy_result r;
	const char *error = NULL;
	ck_assert_int_eq(proxy_parse((unsigned char *)longline, sizeof(longline), &r, &error), -1);
}
END_TEST

static const unsigned char sig[12] = { 0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d,
				       0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a };

START_TEST(v2_ipv4_ipv6_local)
{
	unsigned char h[64];
	memcpy(h, sig, 12);
	h[12] = 0x21; /* v2, PROXY */
	h[13] = 0x11; /* TCP over IPv4 */
	h[14] = 0;
	h[15] = 12 + 3; /* address block and a 3-byte TLV */
	unsigned char a[] = { 203, 0, 113, 9, 10, 0, 0, 1, 0x30, 0x39, 0, 143, 0x04, 0, 0 };
	memcpy(h + 16, a, sizeof(a));
	struct proxy_result r;
	const char *error = NULL;
	char ip[64];
	ck_assert_int_eq(proxy_parse(h, 16 + sizeof(a), &r, &error), 31);
	ck_assert(r.has_address);
	ck_assert_int_eq(r.version, 2);
	ck_assert_str_eq(src_ip(&r, ip, sizeof(ip)), "203.0.113.9");
	ck_assert_int_eq(src_port(&r), 12345);
	check_prefixes(h, 31);

	h[13] = 0x21;
	h[15] = 36;
	memset(h + 16, 0, 36);
	inet_pton(AF_INET6, "2001:db8::77", h + 16);
	h[48] = 0x01;
	h[49] = 0x02;
	ck_assert_int_eq(proxy_parse(h, 52, &r, &error), 52);
	ck_assert_str_eq(src_ip(&r, ip, sizeof(ip)), "2001:db8::77");
	ck_assert_int_eq(src_port(&r), 258);

	h[12] = 0x20; /* LOCAL */
	h[13] = 0x00;
	h[15] = 0;
	ck_assert_int_eq(proxy_parse(h, 16, &r, &error), 16);
	ck_assert(!r.has_address);
}
END_TEST

START_TEST(v2_malformed)
{
	unsigned char h[64];
	memcpy(h, sig, 12);
	struct proxy_result r;
	const char *error;
	h[12] = 0x11; /* version 1 in binary form */
	h[13] = 0x11;
	h[14] = 0;
	h[15] = 12;
	ck_assert_int_eq(proxy_parse(h, 28, &r, &error), -1);
	h[12] = 0x22; /* command 2 */
	ck_assert_int_eq(proxy_parse(h, 28, &r, &error), -1);
	h[12] = 0x21;
	h[15] = 4; /* IPv4 block too short */
	ck_assert_int_eq(proxy_parse(h, 20, &r, &error), -1);
	h[13] = 0x55; /* unknown family */
	h[15] = 12;
	ck_assert_int_eq(proxy_parse(h, 28, &r, &error), -1);
	h[13] = 0x11;
	h[14] = 0xff; /* longer than we take */
	ck_assert_int_eq(proxy_parse(h, 28, &r, &error), -1);
}
END_TEST

static bool match(const struct proxy_trusted *t, const char *ip)
{
	struct sockaddr_storage ss;
	memset(&ss, 0, sizeof(ss));
	if (strchr(ip, ':') != NULL) {
		ss.ss_family = AF_INET6;
		inet_pton(AF_INET6, ip, &((struct sockaddr_in6 *)&ss)->sin6_addr);
	} else {
		ss.ss_family = AF_INET;
		inet_pton(AF_INET, ip, &((struct sockaddr_in *)&ss)->sin_addr);
	}
	return proxy_trusted_match(t, (struct sockaddr *)&ss);
}

START_TEST(trusted_networks)
{
	struct proxy_trusted *t;
	const char *error;
	ck_assert_int_eq(proxy_trusted_parse("127.0.0.0/8, 10.1.2.3 2001:db8::/33 ::1", &t, &error), 0);
	ck_assert(match(t, "127.9.9.9"));
	ck_assert(match(t, "10.1.2.3"));
	ck_assert(!match(t, "10.1.2.4"));
	ck_assert(!match(t, "128.0.0.1"));
	ck_assert(match(t, "::1"));
	ck_assert(match(t, "::ffff:127.0.0.1"));
	ck_assert(match(t, "2001:db8:7fff::1"));
	ck_assert(!match(t, "2001:db8:8000::1"));
	proxy_trusted_free(&t);
	ck_assert_ptr_null(t);
	ck_assert_int_eq(proxy_trusted_parse("", &t, &error), 0);
	ck_assert(!match(t, "127.0.0.1"));
	proxy_trusted_free(&t);
	ck_assert_int_eq(proxy_trusted_parse("10.0.0.0/33", &t, &error), -1);
	ck_assert_int_eq(proxy_trusted_parse("example.com", &t, &error), -1);
	ck_assert_int_eq(proxy_trusted_parse("10.0.0.0/", &t, &error), -1);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("proxy");
	TCase *tc = tcase_create("proxy");
	tcase_add_test(tc, v1_tcp4_and_tcp6);
	tcase_add_test(tc, v1_malformed);
	tcase_add_test(tc, v2_ipv4_ipv6_local);
	tcase_add_test(tc, v2_malformed);
	tcase_add_test(tc, trusted_networks);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_ENV);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? 0 : 1;
}
