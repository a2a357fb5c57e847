/* Dot-stuffing of a message streamed to a POP3 client chunk by chunk
 * (RFC 1939 section 3): CRLF line ends, a leading "." doubled, TOP's
 * header plus n body lines; the state between chunks is struct
 * pop3_stuffer (pop3.h). */
#include "pop3.h"

void pop3_stuffer_init(struct pop3_stuffer *st, int top_lines)
{
	*st = (struct pop3_stuffer){ .top_lines = top_lines, .line_start = true };
}

static void line_end(struct pop3_stuffer *st, struct buffer *out)
{
	buffer_append(out, "\r\n", 2);
	if (st->in_body)
		st->lines++;
	else if (st->line_empty)
		st->in_body = true;	/* the blank line ends the header */
	st->line_start = true;
}

bool pop3_stuff_chunk(struct pop3_stuffer *st, struct buffer *out, const unsigned char *p,
		      size_t len)
{
	for (size_t i = 0; i < len && !st->done; i++) {
		unsigned char c = p[i];
		if (st->line_start) {
			if (st->in_body && st->top_lines >= 0 && st->lines >= st->top_lines) {
				st->done = true;
				break;
			}
			if (c == '.')
				buffer_append_c(out, '.');
			st->line_start = false;
			st->line_empty = true;
		}
		if (st->cr) {	/* a CR is held until we know whether LF follows */
			st->cr = false;
			if (c == '\n') {
				line_end(st, out);
				continue;
			}
			buffer_append_c(out, '\r');
			st->line_empty = false;
		}
		if (c == '\r') {
			st->cr = true;
		} else if (c == '\n') {
			line_end(st, out);
		} else {
			buffer_append_c(out, c);
			st->line_empty = false;
		}
	}
	return !st->done;
}

void pop3_stuff_end(struct pop3_stuffer *st, struct buffer *out)
{
	/* a last line without its end gets one; a CR there is its end */
	if (!st->done && !st->line_start) {
		st->cr = false;
		line_end(st, out);
	}
	buffer_append(out, ".\r\n", 3);
}
