/* log_checkpoint: see log_checkpoint.h. */
#include "log_checkpoint.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "broker/common/ferry_err.h"

int log_parse_i64(const char *s, int64_t *out)
{
    if (!*s || (*s != '-' && (*s < '0' || *s > '9')))
        return FERRY_EPARSE;
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno != 0 || *end != '\0' || end == s || (s[0] == '-' && s[1] == '\0'))
        return FERRY_EPARSE;
    *out = v;
    return 0;
}

int log_parse_i32(const char *s, int32_t *out)
{
    int64_t v;
    if (log_parse_i64(s, &v) || v < INT32_MIN || v > INT32_MAX)
        return FERRY_EPARSE;
    *out = (int32_t)v;
    return 0;
}

/* Next non-blank line of [*pos, len): NUL-terminated in place, trailing '\r' and blanks dropped. */
static char *next_line(char *text, size_t len, size_t *pos)
{
    while (*pos < len) {
        char *start = text + *pos;
        char *nl = memchr(start, '\n', len - *pos);
        size_t n = nl ? (size_t)(nl - start) : len - *pos;
        *pos += n + (nl ? 1 : 0);
        start[n] = '\0'; /* text has len + 1 bytes or the newline is overwritten */
        while (n > 0 && (start[n - 1] == '\r' || start[n - 1] == ' ' || start[n - 1] == '\t'))
            start[--n] = '\0';
        while (*start == ' ' || *start == '\t')
            start++;
        if (*start)
            return start;
    }
    return NULL;
}

static int split_fields(char *line, char **fields, int max)
{
    int n = 0;
    char *p = line;
    while (*p) {
        while (*p == ' ' || *p == '\t')
            p++;
        if (!*p)
            break;
        if (n == max)
            return -1;
        fields[n++] = p;
        while (*p && *p != ' ' && *p != '\t')
            p++;
        if (*p)
            *p++ = '\0';
    }
    return n;
}

int log_ckpt_parse(char *text, size_t len, int expect_version, int nfields, log_ckpt_entry_fn fn, void *arg)
{
    /* The caller's buffer holds len bytes plus a NUL (log_read_file), so writing text[len] is allowed. */
    if (memchr(text, '\0', len))
        return FERRY_EPARSE;
    size_t pos = 0;
    char *line = next_line(text, len, &pos);
    int32_t version, count;
    if (!line || log_parse_i32(line, &version) || version != expect_version)
        return FERRY_EPARSE;
    line = next_line(text, len, &pos);
    if (!line || log_parse_i32(line, &count) || count < 0)
        return FERRY_EPARSE;
    int32_t seen = 0;
    while ((line = next_line(text, len, &pos)) != NULL) {
        char *fields[LOG_CKPT_MAX_FIELDS];
        if (seen == count || split_fields(line, fields, LOG_CKPT_MAX_FIELDS) != nfields)
            return FERRY_EPARSE;
        int rc = fn(arg, fields, nfields);
        if (rc)
            return rc;
        seen++;
    }
    return seen == count ? 0 : FERRY_EPARSE;
}

void log_writer_printf(struct proto_writer *w, const char *fmt, ...)
{
    char small[256];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(small, sizeof small, fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    if ((size_t)n < sizeof small) {
        proto_write_raw(w, small, (size_t)n);
        return;
    }
    uint8_t *dst = proto_write_reserve(w, (size_t)n + 1);
    if (!dst)
        return;
    va_start(ap, fmt);
    vsnprintf((char *)dst, (size_t)n + 1, fmt, ap);
    va_end(ap);
    w->len--; /* drop the NUL */
}
