/* Allocation helpers that never return NULL.
 * Running out of memory is fatal in every daemon (STYLE.md): callers never
 * check for NULL, and destructors take a pointer to the pointer. */
#ifndef WD_MEM_H
#define WD_MEM_H

#include <stddef.h>
#include <stdarg.h>

void *xmalloc(size_t size);
void *xcalloc(size_t n, size_t size);
void *xrealloc(void *ptr, size_t size);
char *xstrdup(const char *s);
char *xstrndup(const char *s, size_t n);
char *xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
char *xvasprintf(const char *fmt, va_list ap);

/* Frees *ptr and sets it to NULL. */
#define XFREE(ptr) do { free(ptr); (ptr) = NULL; } while (0)

#endif
