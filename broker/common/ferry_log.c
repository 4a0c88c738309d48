/* ferry_log: see ferry_log.h. */
#include "ferry_log.h"

#include <stdarg.h>
#include <stdio.h>
#include <time.h>

static enum ferry_log_level min_level = FERRY_LOG_INFO;

void ferry_log_set_level(enum ferry_log_level level) { min_level = level; }

bool ferry_log_enabled(enum ferry_log_level level) { return level >= min_level; }

void ferry_log(enum ferry_log_level level, const char *module, const char *fmt, ...)
{
    static const char *names[] = {"DEBUG", "INFO", "WARN", "ERROR"};
    if (!ferry_log_enabled(level))
        return;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    struct tm tm;
    gmtime_r(&ts.tv_sec, &tm);
    char line[2048];
    int n = snprintf(line, sizeof line, "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ %s %s: ", tm.tm_year + 1900,
                     tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, ts.tv_nsec / 1000000,
                     names[level], module);
    va_list ap;
    va_start(ap, fmt);
    if (n > 0 && (size_t)n < sizeof line)
        vsnprintf(line + n, sizeof line - (size_t)n, fmt, ap);
    va_end(ap);
    fprintf(stderr, "%s\n", line);
}
