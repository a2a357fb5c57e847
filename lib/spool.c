/* Writing a message into the outbound spool; see spool.h. */
#include "spool.h"

#include "buffer.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static int write_all(int fd, const void *data, size_t n)
{
	const unsigned char *b = data;
	while (n > 0) {
		ssize_t w = write(fd, b, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			return -1;
		b += w;
		n -= (size_t)w;
	}
	return 0;
}

int spool_write(const char *spool, const char *sender, const char *const *rcpts,
		unsigned int count, const unsigned char *prefix, size_t prefix_len,
		const unsigned char *msg, size_t msg_len, char id_r[STORE_ID_SIZE],
		const char **error_r)
{
	static __thread char err[4200];
	char id[STORE_ID_SIZE], tmp[4096], dst[4096];
	store_id_generate(id);
	long long now = (long long)time(NULL);
	snprintf(tmp, sizeof(tmp), "%s/tmp/%lld.%s.eml", spool, now, id);
	snprintf(dst, sizeof(dst), "%s/new/%lld.%s.eml", spool, now, id);
	struct buffer env = BUFFER_INIT;
	buffer_printf(&env, "Return-Path: <%s>\r\n", sender);
	for (unsigned int i = 0; i < count; i++)
		buffer_printf(&env, "X-Envelope-To: <%s>\r\n", rcpts[i]);
	int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0640);
	if (fd < 0) {
		snprintf(err, sizeof(err), "open(%s) failed: %s", tmp, strerror(errno));
		buffer_free(&env);
		*error_r = err;
		return -1;
	}
	int ret = write_all(fd, env.data, env.len) < 0 || write_all(fd, prefix, prefix_len) < 0 ||
		  write_all(fd, msg, msg_len) < 0 || fsync(fd) < 0 ? -1 : 0;
	if (ret < 0)
		snprintf(err, sizeof(err), "write(%s) failed: %s", tmp, strerror(errno));
	if (close(fd) < 0 && ret == 0) {
		snprintf(err, sizeof(err), "close(%s) failed: %s", tmp, strerror(errno));
		ret = -1;
	}
	if (ret == 0 && rename(tmp, dst) < 0) {
		snprintf(err, sizeof(err), "rename(%s) failed: %s", dst, strerror(errno));
		ret = -1;
	}
	if (ret < 0) {
		unlink(tmp);
		*error_r = err;
	} else if (id_r != NULL) {
		memcpy(id_r, id, STORE_ID_SIZE);
	}
	buffer_free(&env);
	return ret;
}
