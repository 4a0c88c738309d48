/* znode_json: strict jansson getters and the compact dump used by every znode codec (see znode_json.h).
 * Nothing here keeps state; strings handed out are ferry_malloc'd and owned by the caller. */
#include "zkmode/znode/znode_json.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "broker/common/ferry_alloc.h"
#include "broker/common/ferry_err.h"

void zkj_err(zk_err *e, const char *fmt, ...)
{
    if (!e)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(e->msg, sizeof e->msg, fmt, ap);
    va_end(ap);
}

int zkj_load(const char *data, size_t len, json_t **root, zk_err *e)
{
    json_error_t je;
    *root = NULL;
    if (!data || len == 0) {
        zkj_err(e, "empty data where JSON is expected");
        return FERRY_EPARSE;
    }
    json_t *r = json_loadb(data, len, JSON_REJECT_DUPLICATES, &je);
    if (!r) {
        zkj_err(e, "malformed JSON at byte %d: %s", je.position, je.text);
        return FERRY_EPARSE;
    }
    if (!json_is_object(r)) {
        json_decref(r);
        zkj_err(e, "not a JSON object");
        return FERRY_EPARSE;
    }
    *root = r;
    return 0;
}

int zkj_int(json_t *o, const char *key, bool required, int64_t min, int64_t max, int64_t *out, bool *present,
            zk_err *e)
{
    json_t *v = json_object_get(o, key);
    if (present)
        *present = v != NULL;
    if (!v) {
        if (!required)
            return 0;
        zkj_err(e, "%s: missing", key);
        return FERRY_EPARSE;
    }
    if (!json_is_integer(v)) {
        zkj_err(e, "%s: expected an integer", key);
        return FERRY_EPARSE;
    }
    json_int_t x = json_integer_value(v);
    if (x < min || x > max) {
        zkj_err(e, "%s: %lld out of range [%lld, %lld]", key, (long long)x, (long long)min, (long long)max);
        return FERRY_ERANGE;
    }
    *out = x;
    return 0;
}

int zkj_parse_dec(const char *s, size_t len, bool canonical, int64_t min, int64_t max, int64_t *out)
{
    size_t i = 0;
    bool neg = false;
    if (i < len && s[i] == '-') {
        neg = true;
        i++;
    }
    if (i == len)
        return FERRY_EPARSE;
    if (canonical && s[i] == '0' && (len - i > 1 || neg))
        return FERRY_EPARSE;
    uint64_t acc = 0;
    for (; i < len; i++) {
        if (s[i] < '0' || s[i] > '9')
            return FERRY_EPARSE;
        acc = acc * 10 + (uint64_t)(s[i] - '0');
        if (acc > (uint64_t)INT64_MAX + 1)
            return FERRY_ERANGE;
    }
    int64_t v;
    if (neg)
        v = acc == (uint64_t)INT64_MAX + 1 ? INT64_MIN : -(int64_t)acc;
    else if (acc > (uint64_t)INT64_MAX)
        return FERRY_ERANGE;
    else
        v = (int64_t)acc;
    if (v < min || v > max)
        return FERRY_ERANGE;
    *out = v;
    return 0;
}

int zkj_version(json_t *o, int64_t lo, int64_t hi, int64_t *out, zk_err *e)
{
    int rc = zkj_int(o, "version", true, INT32_MIN, INT32_MAX, out, NULL, e);
    if (rc || (*out >= lo && *out <= hi))
        return rc;
    if (lo == hi)
        zkj_err(e, "version: %lld is not supported (%lld)", (long long)*out, (long long)lo);
    else
        zkj_err(e, "version: %lld is not supported (%lld %s %lld)", (long long)*out, (long long)lo,
                hi == lo + 1 ? "or" : "to", (long long)hi);
    return FERRY_EUNSUPPORTED;
}

int zkj_strnum(json_t *o, const char *key, int64_t min, int64_t max, int64_t *out, zk_err *e)
{
    json_t *v = json_object_get(o, key);
    if (!v) {
        zkj_err(e, "%s: missing", key);
        return FERRY_EPARSE;
    }
    if (!json_is_string(v)) {
        zkj_err(e, "%s: expected a string holding a decimal integer", key);
        return FERRY_EPARSE;
    }
    int rc = zkj_parse_dec(json_string_value(v), json_string_length(v), false, min, max, out);
    if (rc == FERRY_EPARSE)
        zkj_err(e, "%s: not a decimal integer", key);
    else if (rc)
        zkj_err(e, "%s: out of range", key);
    return rc;
}

int zkj_str(json_t *o, const char *key, bool required, bool nullable, char **out, zk_err *e)
{
    *out = NULL;
    json_t *v = json_object_get(o, key);
    if (!v) {
        if (!required)
            return 0;
        zkj_err(e, "%s: missing", key);
        return FERRY_EPARSE;
    }
    if (json_is_null(v) && nullable)
        return 0;
    if (!json_is_string(v)) {
        zkj_err(e, "%s: expected a string", key);
        return FERRY_EPARSE;
    }
    if (strlen(json_string_value(v)) != json_string_length(v)) {
        zkj_err(e, "%s: contains a NUL character", key);
        return FERRY_EPARSE;
    }
    *out = ferry_strdup(json_string_value(v));
    if (!*out) {
        zkj_err(e, "out of memory");
        return FERRY_ENOMEM;
    }
    return 0;
}

json_t *zkj_obj(json_t *o, const char *key, bool required, zk_err *e, int *rc)
{
    *rc = 0;
    json_t *v = json_object_get(o, key);
    if (!v) {
        if (required) {
            zkj_err(e, "%s: missing", key);
            *rc = FERRY_EPARSE;
        }
        return NULL;
    }
    if (!json_is_object(v)) {
        zkj_err(e, "%s: expected an object", key);
        *rc = FERRY_EPARSE;
        return NULL;
    }
    return v;
}

json_t *zkj_arr(json_t *o, const char *key, zk_err *e, int *rc)
{
    *rc = 0;
    json_t *v = json_object_get(o, key);
    if (!v) {
        zkj_err(e, "%s: missing", key);
        *rc = FERRY_EPARSE;
        return NULL;
    }
    if (!json_is_array(v)) {
        zkj_err(e, "%s: expected an array", key);
        *rc = FERRY_EPARSE;
        return NULL;
    }
    return v;
}

int zkj_int32_array(json_t *a, const char *field, int32_t **out, size_t *n, zk_err *e)
{
    *out = NULL;
    *n = 0;
    if (!json_is_array(a)) {
        zkj_err(e, "%s: expected an array", field);
        return FERRY_EPARSE;
    }
    size_t cnt = json_array_size(a);
    int32_t *v = ferry_calloc(cnt ? cnt : 1, sizeof *v);
    if (!v) {
        zkj_err(e, "out of memory");
        return FERRY_ENOMEM;
    }
    for (size_t i = 0; i < cnt; i++) {
        json_t *x = json_array_get(a, i);
        if (!json_is_integer(x)) {
            zkj_err(e, "%s[%zu]: expected an integer", field, i);
            ferry_free(v);
            return FERRY_EPARSE;
        }
        json_int_t y = json_integer_value(x);
        if (y < INT32_MIN || y > INT32_MAX) {
            zkj_err(e, "%s[%zu]: out of int32 range", field, i);
            ferry_free(v);
            return FERRY_ERANGE;
        }
        v[i] = (int32_t)y;
    }
    *out = v;
    *n = cnt;
    return 0;
}

int zkj_dump(json_t *root, char **out, size_t *out_len)
{
    *out = NULL;
    if (!root)
        return FERRY_ENOMEM;
    char *s = json_dumps(root, JSON_COMPACT | JSON_PRESERVE_ORDER);
    if (!s)
        return FERRY_ENOMEM;
    char *c = ferry_strdup(s);
    free(s); /* jansson's own allocator (not replaced, see znode_codec.h) */
    if (!c)
        return FERRY_ENOMEM;
    *out = c;
    if (out_len)
        *out_len = strlen(c);
    return 0;
}

json_t *zkj_int_array(const int32_t *v, size_t n)
{
    json_t *a = json_array();
    if (!a)
        return NULL;
    for (size_t i = 0; i < n; i++) {
        if (json_array_append_new(a, json_integer(v[i]))) {
            json_decref(a);
            return NULL;
        }
    }
    return a;
}

int zkj_str_map_decode(json_t *o, const char *field, zk_str_map *m, zk_err *e)
{
    const char *k;
    json_t *v;
    json_object_foreach(o, k, v) {
        if (!json_is_string(v)) {
            zkj_err(e, "%s.\"%s\": expected a string", field, k);
            zk_str_map_free(m);
            return FERRY_EPARSE;
        }
        if (strlen(json_string_value(v)) != json_string_length(v)) {
            zkj_err(e, "%s.\"%s\": contains a NUL character", field, k);
            zk_str_map_free(m);
            return FERRY_EPARSE;
        }
        if (zk_str_map_add(m, k, json_string_value(v))) {
            zkj_err(e, "out of memory");
            zk_str_map_free(m);
            return FERRY_ENOMEM;
        }
    }
    return 0;
}

json_t *zkj_str_map_encode(const zk_str_map *m)
{
    json_t *o = json_object();
    if (!o)
        return NULL;
    for (size_t i = 0; i < m->n; i++) {
        if (json_object_set_new(o, m->keys[i], json_string(m->values[i]))) {
            json_decref(o);
            return NULL;
        }
    }
    return o;
}

void zk_str_map_free(zk_str_map *m)
{
    for (size_t i = 0; i < m->n; i++) {
        ferry_free(m->keys[i]);
        ferry_free(m->values[i]);
    }
    ferry_free(m->keys);
    ferry_free(m->values);
    memset(m, 0, sizeof *m);
}

int zk_str_map_add(zk_str_map *m, const char *key, const char *value)
{
    char **k = ferry_realloc(m->keys, (m->n + 1) * sizeof *k);
    if (!k)
        return FERRY_ENOMEM;
    m->keys = k;
    char **v = ferry_realloc(m->values, (m->n + 1) * sizeof *v);
    if (!v)
        return FERRY_ENOMEM;
    m->values = v;
    char *kc = ferry_strdup(key);
    char *vc = ferry_strdup(value);
    if (!kc || !vc) {
        ferry_free(kc);
        ferry_free(vc);
        return FERRY_ENOMEM;
    }
    m->keys[m->n] = kc;
    m->values[m->n] = vc;
    m->n++;
    return 0;
}

const char *zk_str_map_get(const zk_str_map *m, const char *key)
{
    for (size_t i = 0; i < m->n; i++)
        if (strcmp(m->keys[i], key) == 0)
            return m->values[i];
    return NULL;
}
