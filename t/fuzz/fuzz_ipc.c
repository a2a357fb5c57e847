/* libFuzzer target for the IPC framing (lib/ipc.h).  The input is a byte
 * stream from a peer: lines are taken out whole and byte by byte, then
 * split.  Oracles: both feedings take the same lines and agree on the
 * overflow; every split line re-joins (ipc_line_append) to a line that
 * splits into the same fields; escaping any byte string round-trips. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "buffer.h"
#include "ipc.h"

#define MAX_LEN 512

static void take_all(const uint8_t *data, size_t size, size_t step, struct buffer *digest)
{
	struct buffer in = BUFFER_INIT, line = BUFFER_INIT;
	size_t pos = 0;
	int ret = 0;
	while (pos < size || ret == 1) {
		if (ret != 1) {
			size_t n = size - pos < step ? size - pos : step;
			buffer_append(&in, data + pos, n);
			pos += n;
		}
		buffer_truncate(&line, 0);
		ret = ipc_take_line(&in, MAX_LEN, &line);
		if (ret == -1) {
			buffer_append_str(digest, "<overflow>");
			break;
		}
		if (ret == 1) {
			if (line.len > MAX_LEN || memchr(line.data, '\n', line.len) != NULL)
				abort();
			buffer_printf(digest, "<%zu>", line.len);
			buffer_append(digest, line.data, line.len);
		}
	}
	buffer_free(&in);
	buffer_free(&line);
}

static void check_split(const char *data, size_t size)
{
	char *line = malloc(size + 1);
	memcpy(line, data, size);
	line[size] = '\0';
	char *fields[IPC_MAX_FIELDS];
	const char *error;
	int n = ipc_line_split(line, fields, IPC_MAX_FIELDS, &error);
	if (n < 0) {
		if (error == NULL)
			abort();
		free(line);
		return;
	}
	if (n == 0 || n > IPC_MAX_FIELDS)
		abort();
	struct buffer out = BUFFER_INIT;
	ipc_line_append(&out, (const char *const *)fields, (size_t)n);
	if (out.len == 0 || out.data[out.len - 1] != '\n')
		abort();
	out.data[out.len - 1] = '\0';
	char *again[IPC_MAX_FIELDS];
	if (ipc_line_split((char *)out.data, again, IPC_MAX_FIELDS, &error) != n)
		abort();
	for (int i = 0; i < n; i++)
		if (strcmp(fields[i], again[i]) != 0)
			abort();
	buffer_free(&out);
	free(line);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct buffer a = BUFFER_INIT, b = BUFFER_INIT;
	take_all(data, size, size > 0 ? size : 1, &a);
	take_all(data, size, 1, &b);
	if (a.len != b.len || (a.len > 0 && memcmp(a.data, b.data, a.len) != 0))
		abort();
	buffer_free(&a);
	buffer_free(&b);

	/* each LF-separated piece without NUL as a line to split */
	const char *p = (const char *)data, *end = p + size;
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t len = (nl != NULL ? nl : end) - p;
		if (memchr(p, '\0', len) == NULL)
			check_split(p, len);
		p += len + 1;
	}

	/* any byte string survives one escaped field */
	struct buffer field = BUFFER_INIT;
	ipc_field_append(&field, data, size);
	if (memchr(field.data ? field.data : (unsigned char *)"", '\t', field.len) != NULL ||
	    (field.len > 0 && memchr(field.data, '\n', field.len) != NULL) ||
	    (field.len > 0 && memchr(field.data, '\r', field.len) != NULL))
		abort();
	if (memchr(data, '\0', size) == NULL) {
		buffer_append_c(&field, '\0');
		char *fields[2];
		const char *error;
		if (ipc_line_split((char *)field.data, fields, 2, &error) != 1 ||
		    strlen(fields[0]) != size || memcmp(fields[0], data, size) != 0)
			abort();
	}
	buffer_free(&field);
	return 0;
}
