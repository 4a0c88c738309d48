/* fake_clock: an LD_PRELOAD shim for integration tests. clock_gettime(CLOCK_REALTIME) answers the real
 * time plus FERRY_FAKE_CLOCK_OFFSET_MS (a signed number of milliseconds, read at every call); every other
 * clock is untouched. Built by the test that uses it (cc -shared -fPIC -o fake_clock.so fake_clock.c -ldl). */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdlib.h>
#include <time.h>

int clock_gettime(clockid_t id, struct timespec *ts)
{
    static int (*real)(clockid_t, struct timespec *);
    if (!real)
        real = (int (*)(clockid_t, struct timespec *))dlsym(RTLD_NEXT, "clock_gettime");
    int rc = real(id, ts);
    const char *off = id == CLOCK_REALTIME ? getenv("FERRY_FAKE_CLOCK_OFFSET_MS") : NULL;
    if (rc == 0 && off) {
        long long ns = (long long)ts->tv_nsec + atoll(off) % 1000 * 1000000LL;
        ts->tv_sec += (time_t)(atoll(off) / 1000 + ns / 1000000000LL - (ns < 0));
        ts->tv_nsec = (long)((ns % 1000000000LL + 1000000000LL) % 1000000000LL);
    }
    return rc;
}
