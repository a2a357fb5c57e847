/* Makes message HTML safe to show in a webmail: script-capable elements
 * (script, style, iframe, object, ...) are dropped with their content,
 * event handler attributes (on*), javascript:/vbscript:/data: URLs (other
 * than data:image in src) and CSS expressions are removed, and every kept
 * tag is written out again from its parsed name and attributes, so no
 * malformed markup passes through. A deny-list over a re-serialising
 * tokenizer: good for the API's "html" field, not a general HTML parser. */
#ifndef WD_HTML_SANITIZE_H
#define WD_HTML_SANITIZE_H

#include "buffer.h"

#include <stddef.h>

/* Appends the sanitised form of html[0..len) to out. */
void html_sanitize(const char *html, size_t len, struct buffer *out);

#endif
