/* ferry_alloc: see ferry_alloc.h. */
#include "ferry_alloc.h"

#include <stdlib.h>
#include <string.h>

static long fail_countdown = -1;

static int should_fail(void)
{
    if (fail_countdown < 0)
        return 0;
    if (fail_countdown == 0)
        return 1;
    fail_countdown--;
    return 0;
}

void ferry_alloc_fail_after(long n) { fail_countdown = n; }

void *ferry_malloc(size_t n) { return should_fail() ? NULL : malloc(n ? n : 1); }

void *ferry_calloc(size_t count, size_t n) { return should_fail() ? NULL : calloc(count ? count : 1, n ? n : 1); }

void *ferry_realloc(void *p, size_t n) { return should_fail() ? NULL : realloc(p, n ? n : 1); }

void ferry_free(void *p) { free(p); }

char *ferry_strndup(const char *s, size_t n)
{
    char *d = ferry_malloc(n + 1);
    if (!d)
        return NULL;
    memcpy(d, s, n);
    d[n] = '\0';
    return d;
}

char *ferry_strdup(const char *s) { return ferry_strndup(s, strlen(s)); }
