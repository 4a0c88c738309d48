/* ferry_alloc: the one allocator hook. Every module allocates through these so that tests can make the
 * Nth allocation fail (ferry_alloc_fail_after) and check that nothing crashes or leaks. */
#ifndef FERRY_ALLOC_H
#define FERRY_ALLOC_H

#include <stddef.h>

void *ferry_malloc(size_t n);
void *ferry_calloc(size_t count, size_t n);
void *ferry_realloc(void *p, size_t n);
void ferry_free(void *p);
char *ferry_strdup(const char *s);
char *ferry_strndup(const char *s, size_t n);

/* Tests: make the allocation after `n` more succeed-calls fail (n < 0 disables). */
void ferry_alloc_fail_after(long n);

#endif
