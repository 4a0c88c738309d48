/* config_value: see config_value.h. */
#include "broker/config/config_value.h"

#include <ctype.h>
#include <stdarg.h>
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "broker/common/ferry_alloc.h"
#include "broker/common/ferry_err.h"

static const char *const compression_names[] = {"producer", "uncompressed", "gzip", "snappy", "lz4", "zstd", NULL};
static const char *const timestamp_names[] = {"CreateTime", "LogAppendTime", NULL};

#define FIELD(base, k, type) ((type *)(void *)((char *)(base) + (k)->field))
#define CFIELD(base, k, type) ((const type *)(const void *)((const char *)(base) + (k)->field))

char *config_trim_dup(const char *s, size_t n)
{
    while (n > 0 && isspace((unsigned char)s[0])) {
        s++;
        n--;
    }
    while (n > 0 && isspace((unsigned char)s[n - 1]))
        n--;
    return ferry_strndup(s, n);
}

void config_strlist_free(struct config_strlist *l)
{
    for (size_t i = 0; i < l->count; i++)
        ferry_free(l->items[i]);
    ferry_free(l->items);
    l->items = NULL;
    l->count = 0;
}

int config_split_csv(const char *s, struct config_strlist *out)
{
    struct config_strlist l = {0};
    const char *p = s;
    for (;;) {
        const char *comma = strchr(p, ',');
        size_t n = comma ? (size_t)(comma - p) : strlen(p);
        char *item = config_trim_dup(p, n);
        if (!item)
            goto fail_list;
        if (item[0] == '\0') {
            ferry_free(item);
        } else {
            char **grown = ferry_realloc(l.items, (l.count + 1) * sizeof *grown);
            if (!grown) {
                ferry_free(item);
                goto fail_list;
            }
            l.items = grown;
            l.items[l.count++] = item;
        }
        if (!comma)
            break;
        p = comma + 1;
    }
    *out = l;
    return 0;

fail_list:
    config_strlist_free(&l);
    return FERRY_ENOMEM;
}

int config_parse_i64(const char *s, int64_t lo, int64_t hi, int64_t *out)
{
    while (isspace((unsigned char)*s))
        s++;
    const char *digits = (*s == '+' || *s == '-') ? s + 1 : s;
    if (!isdigit((unsigned char)*digits))
        return FERRY_EINVAL;
    errno = 0;
    char *end;
    long long v = strtoll(s, &end, 10);
    while (isspace((unsigned char)*end))
        end++;
    if (*end != '\0')
        return FERRY_EINVAL;
    if (errno == ERANGE || v < lo || v > hi)
        return FERRY_ERANGE;
    *out = v;
    return 0;
}

static int why_fail(char *why, size_t whylen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int why_fail(char *why, size_t whylen, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    if (why && whylen)
        vsnprintf(why, whylen, fmt, ap);
    va_end(ap);
    return FERRY_EINVAL;
}

static int choice_index(const char *const *choices, const char *s)
{
    for (int i = 0; choices[i]; i++)
        if (strcmp(choices[i], s) == 0)
            return i;
    return -1;
}

static void choices_text(const char *const *choices, char *buf, size_t len)
{
    size_t used = 0;
    buf[0] = '\0';
    for (int i = 0; choices[i] && used < len; i++) {
        int n = snprintf(buf + used, len - used, "%s%s", i ? ", " : "", choices[i]);
        if (n < 0)
            break;
        used += (size_t)n;
    }
}

static int range_error(const struct config_key *k, char *why, size_t whylen)
{
    const struct config_check *c = &k->check;
    if (c->has_min && c->has_max)
        return why_fail(why, whylen, "must be between %" PRId64 " and %" PRId64, c->min, c->max);
    if (c->has_min)
        return why_fail(why, whylen, "must be at least %" PRId64, c->min);
    return why_fail(why, whylen, "must be at most %" PRId64, c->max);
}

static int parse_integer(const struct config_key *k, const char *text, int64_t lo, int64_t hi, const char *width,
                         int64_t *out, char *why, size_t whylen)
{
    int rc = config_parse_i64(text, lo, hi, out);
    if (rc == FERRY_EINVAL)
        return why_fail(why, whylen, "not an integer");
    if (rc == FERRY_ERANGE)
        return why_fail(why, whylen, "out of range for a %s integer", width);
    const struct config_check *c = &k->check;
    if ((c->has_min && *out < c->min) || (c->has_max && *out > c->max))
        return range_error(k, why, whylen);
    return 0;
}

static int parse_bool(const char *s, bool *out)
{
    if (strcasecmp(s, "true") == 0)
        *out = true;
    else if (strcasecmp(s, "false") == 0)
        *out = false;
    else
        return FERRY_EINVAL;
    return 0;
}

static int parse_double(const char *s, double *out)
{
    if (*s == '\0')
        return FERRY_EINVAL;
    errno = 0;
    char *end;
    double v = strtod(s, &end);
    if (*end != '\0' || errno == ERANGE || !isfinite(v))
        return FERRY_EINVAL;
    *out = v;
    return 0;
}

static int parse_cleanup(const char *s, unsigned *out, char *why, size_t whylen)
{
    struct config_strlist l;
    if (config_split_csv(s, &l) < 0)
        return FERRY_ENOMEM;
    unsigned bits = 0;
    int rc = 0;
    for (size_t i = 0; i < l.count && rc == 0; i++) {
        if (strcmp(l.items[i], "delete") == 0)
            bits |= CONFIG_CLEANUP_DELETE;
        else if (strcmp(l.items[i], "compact") == 0)
            bits |= CONFIG_CLEANUP_COMPACT;
        else
            rc = why_fail(why, whylen, "unknown cleanup policy '%s' (allowed: delete, compact)", l.items[i]);
    }
    if (rc == 0 && bits == 0)
        rc = why_fail(why, whylen, "empty cleanup policy (allowed: delete, compact, compact,delete)");
    config_strlist_free(&l);
    if (rc == 0)
        *out = bits;
    return rc;
}

static int parse_list(const struct config_key *k, const char *s, struct config_strlist *out, char *why, size_t whylen)
{
    struct config_strlist l;
    if (config_split_csv(s, &l) < 0)
        return FERRY_ENOMEM;
    if (k->check.choices) {
        for (size_t i = 0; i < l.count; i++) {
            if (choice_index(k->check.choices, l.items[i]) < 0) {
                char allowed[128];
                choices_text(k->check.choices, allowed, sizeof allowed);
                why_fail(why, whylen, "unknown element '%s' (allowed: %s)", l.items[i], allowed);
                config_strlist_free(&l);
                return FERRY_EINVAL;
            }
        }
    }
    *out = l;
    return 0;
}

static int parse_choice(const char *const *choices, const char *s, int *out, char *why, size_t whylen)
{
    int i = choice_index(choices, s);
    if (i < 0) {
        char allowed[128];
        choices_text(choices, allowed, sizeof allowed);
        return why_fail(why, whylen, "must be one of: %s", allowed);
    }
    *out = i;
    return 0;
}

static int parse_trimmed(const struct config_key *k, const char *s, void *base, char *why, size_t whylen)
{
    int64_t v;
    int rc;
    switch (k->repr) {
    case CONFIG_REPR_NONE: return 0;
    case CONFIG_REPR_BOOL:
        if (parse_bool(s, FIELD(base, k, bool)) < 0)
            return why_fail(why, whylen, "not a boolean (true or false)");
        return 0;
    case CONFIG_REPR_I16:
        if ((rc = parse_integer(k, s, INT16_MIN, INT16_MAX, "16-bit", &v, why, whylen)) < 0)
            return rc;
        *FIELD(base, k, int16_t) = (int16_t)v;
        return 0;
    case CONFIG_REPR_I32:
        if ((rc = parse_integer(k, s, INT32_MIN, INT32_MAX, "32-bit", &v, why, whylen)) < 0)
            return rc;
        *FIELD(base, k, int32_t) = (int32_t)v;
        return 0;
    case CONFIG_REPR_I64:
        if ((rc = parse_integer(k, s, INT64_MIN, INT64_MAX, "64-bit", &v, why, whylen)) < 0)
            return rc;
        *FIELD(base, k, int64_t) = v;
        return 0;
    case CONFIG_REPR_DOUBLE: {
        double d;
        if (parse_double(s, &d) < 0)
            return why_fail(why, whylen, "not a number");
        if ((k->check.has_min && d < (double)k->check.min) || (k->check.has_max && d > (double)k->check.max))
            return range_error(k, why, whylen);
        *FIELD(base, k, double) = d;
        return 0;
    }
    case CONFIG_REPR_STRING: {
        if (k->check.choices && choice_index(k->check.choices, s) < 0) {
            int ignored;
            return parse_choice(k->check.choices, s, &ignored, why, whylen);
        }
        char *copy = ferry_strdup(s);
        if (!copy)
            return FERRY_ENOMEM;
        ferry_free(*FIELD(base, k, char *));
        *FIELD(base, k, char *) = copy;
        return 0;
    }
    case CONFIG_REPR_LIST: {
        struct config_strlist l;
        if ((rc = parse_list(k, s, &l, why, whylen)) < 0)
            return rc;
        config_strlist_free(FIELD(base, k, struct config_strlist));
        *FIELD(base, k, struct config_strlist) = l;
        return 0;
    }
    case CONFIG_REPR_CLEANUP: return parse_cleanup(s, FIELD(base, k, unsigned), why, whylen);
    case CONFIG_REPR_COMPRESSION: {
        int i = 0;
        if ((rc = parse_choice(compression_names, s, &i, why, whylen)) < 0)
            return rc;
        *FIELD(base, k, enum config_compression) = (enum config_compression)i;
        return 0;
    }
    case CONFIG_REPR_TIMESTAMP: {
        int i = 0;
        if ((rc = parse_choice(timestamp_names, s, &i, why, whylen)) < 0)
            return rc;
        *FIELD(base, k, enum config_timestamp_type) = (enum config_timestamp_type)i;
        return 0;
    }
    }
    return FERRY_EINVAL;
}

int config_value_parse(const struct config_key *k, const char *text, void *base, char *why, size_t whylen)
{
    char *s = config_trim_dup(text, strlen(text));
    if (!s)
        return FERRY_ENOMEM;
    int rc = parse_trimmed(k, s, base, why, whylen);
    ferry_free(s);
    return rc;
}

/* Java's Double.toString: the shortest decimal that reads back the same, with ".0" on whole numbers and
 * "1.0E-4"-style notation outside [1e-3, 1e7). */
static int render_double(double v, char *buf, size_t len)
{
    char tmp[64];
    double mag = fabs(v);
    if (v == 0 || (mag >= 1e-3 && mag < 1e7)) {
        for (int d = 1; d <= 17; d++) {
            snprintf(tmp, sizeof tmp, "%.*f", d, v);
            if (strtod(tmp, NULL) == v)
                break;
        }
        size_t n = strlen(tmp);
        while (n > 2 && tmp[n - 1] == '0' && tmp[n - 2] != '.')
            tmp[--n] = '\0';
        return snprintf(buf, len, "%s", tmp);
    }
    for (int p = 1; p <= 17; p++) {
        snprintf(tmp, sizeof tmp, "%.*e", p, v);
        if (strtod(tmp, NULL) == v)
            break;
    }
    char *e = strchr(tmp, 'e');
    *e = '\0';
    int exp = atoi(e + 1);
    size_t n = strlen(tmp);
    while (n > 2 && tmp[n - 1] == '0' && tmp[n - 2] != '.')
        tmp[--n] = '\0';
    return snprintf(buf, len, "%sE%d", tmp, exp);
}

static int render_list(const struct config_strlist *l, char *buf, size_t len)
{
    size_t need = 0;
    for (size_t i = 0; i < l->count; i++) {
        int n =
            snprintf(need < len ? buf + need : NULL, need < len ? len - need : 0, "%s%s", i ? "," : "", l->items[i]);
        need += (size_t)n;
    }
    if (l->count == 0 && len)
        buf[0] = '\0';
    return (int)need;
}

int config_value_render(const struct config_key *k, const void *base, char *buf, size_t len)
{
    if (len == 0)
        buf = NULL;
    switch (k->repr) {
    case CONFIG_REPR_NONE: return snprintf(buf, len, "%s", "");
    case CONFIG_REPR_BOOL: return snprintf(buf, len, "%s", *CFIELD(base, k, bool) ? "true" : "false");
    case CONFIG_REPR_I16: return snprintf(buf, len, "%d", (int)*CFIELD(base, k, int16_t));
    case CONFIG_REPR_I32: return snprintf(buf, len, "%" PRId32, *CFIELD(base, k, int32_t));
    case CONFIG_REPR_I64: return snprintf(buf, len, "%" PRId64, *CFIELD(base, k, int64_t));
    case CONFIG_REPR_DOUBLE: return render_double(*CFIELD(base, k, double), buf, len);
    case CONFIG_REPR_STRING: {
        const char *s = *CFIELD(base, k, char *const);
        if (!s) {
            if (buf)
                buf[0] = '\0';
            return -1;
        }
        return snprintf(buf, len, "%s", s);
    }
    case CONFIG_REPR_LIST: return render_list(CFIELD(base, k, struct config_strlist), buf, len);
    case CONFIG_REPR_CLEANUP: {
        unsigned bits = *CFIELD(base, k, unsigned);
        const char *s = bits == (CONFIG_CLEANUP_COMPACT | CONFIG_CLEANUP_DELETE) ? "compact,delete"
                        : bits == CONFIG_CLEANUP_COMPACT                         ? "compact"
                        : bits == CONFIG_CLEANUP_DELETE                          ? "delete"
                                                                                 : "";
        return snprintf(buf, len, "%s", s);
    }
    case CONFIG_REPR_COMPRESSION: {
        unsigned i = (unsigned)*CFIELD(base, k, enum config_compression);
        return snprintf(buf, len, "%s", i < 6 ? compression_names[i] : "");
    }
    case CONFIG_REPR_TIMESTAMP: {
        unsigned i = (unsigned)*CFIELD(base, k, enum config_timestamp_type);
        return snprintf(buf, len, "%s", i < 2 ? timestamp_names[i] : "");
    }
    }
    return -1;
}

char *config_value_render_alloc(const struct config_key *k, const void *base)
{
    int n = config_value_render(k, base, NULL, 0);
    if (n < 0)
        return NULL;
    char *s = ferry_malloc((size_t)n + 1);
    if (!s)
        return NULL;
    config_value_render(k, base, s, (size_t)n + 1);
    return s;
}

void config_value_release(const struct config_key *k, void *base)
{
    if (k->repr == CONFIG_REPR_STRING) {
        ferry_free(*FIELD(base, k, char *));
        *FIELD(base, k, char *) = NULL;
    } else if (k->repr == CONFIG_REPR_LIST) {
        config_strlist_free(FIELD(base, k, struct config_strlist));
    }
}

void config_value_copy(enum config_repr repr, void *dst, const void *src)
{
    size_t n = 0;
    switch (repr) {
    case CONFIG_REPR_BOOL: n = sizeof(bool); break;
    case CONFIG_REPR_I16: n = sizeof(int16_t); break;
    case CONFIG_REPR_I32: n = sizeof(int32_t); break;
    case CONFIG_REPR_I64: n = sizeof(int64_t); break;
    case CONFIG_REPR_DOUBLE: n = sizeof(double); break;
    case CONFIG_REPR_CLEANUP: n = sizeof(unsigned); break;
    case CONFIG_REPR_COMPRESSION: n = sizeof(enum config_compression); break;
    case CONFIG_REPR_TIMESTAMP: n = sizeof(enum config_timestamp_type); break;
    default: break;
    }
    memcpy(dst, src, n);
}

const char *config_compression_name(enum config_compression c)
{
    return (unsigned)c < 6 ? compression_names[c] : "unknown";
}
