/* proto_buf: see proto_buf.h. */
#include "proto_buf.h"

#include <string.h>

#include "../common/ferry_alloc.h"
#include "../common/ferry_err.h"

static const uint8_t *take(struct proto_reader *r, size_t n)
{
    if (r->err || r->len - r->pos < n) {
        r->err = FERRY_EPARSE;
        return NULL;
    }
    const uint8_t *p = r->p + r->pos;
    r->pos += n;
    return p;
}

const uint8_t *proto_read_raw(struct proto_reader *r, size_t n) { return take(r, n); }

int8_t proto_read_i8(struct proto_reader *r)
{
    const uint8_t *p = take(r, 1);
    return p ? (int8_t)p[0] : 0;
}
int16_t proto_read_i16(struct proto_reader *r)
{
    const uint8_t *p = take(r, 2);
    return p ? (int16_t)proto_be16(p) : 0;
}
int32_t proto_read_i32(struct proto_reader *r)
{
    const uint8_t *p = take(r, 4);
    return p ? (int32_t)proto_be32(p) : 0;
}
int64_t proto_read_i64(struct proto_reader *r)
{
    const uint8_t *p = take(r, 8);
    return p ? (int64_t)proto_be64(p) : 0;
}
double proto_read_f64(struct proto_reader *r)
{
    uint64_t bits = (uint64_t)proto_read_i64(r);
    double d;
    memcpy(&d, &bits, sizeof d);
    return d;
}

uint64_t proto_read_uvarlong(struct proto_reader *r)
{
    uint64_t v = 0;
    for (int shift = 0; shift < 70; shift += 7) {
        const uint8_t *p = take(r, 1);
        if (!p)
            return 0;
        v |= (uint64_t)(p[0] & 0x7f) << shift;
        if (!(p[0] & 0x80))
            return v;
    }
    r->err = FERRY_EPARSE; /* more than 10 bytes */
    return 0;
}

uint32_t proto_read_uvarint(struct proto_reader *r)
{
    uint32_t v = 0;
    for (int shift = 0; shift < 35; shift += 7) {
        const uint8_t *p = take(r, 1);
        if (!p)
            return 0;
        v |= (uint32_t)(p[0] & 0x7f) << shift;
        if (!(p[0] & 0x80))
            return v;
    }
    r->err = FERRY_EPARSE; /* more than 5 bytes */
    return 0;
}

int32_t proto_read_varint(struct proto_reader *r)
{
    uint32_t u = proto_read_uvarint(r);
    return (int32_t)((u >> 1) ^ -(u & 1));
}

int64_t proto_read_varlong(struct proto_reader *r)
{
    uint64_t u = proto_read_uvarlong(r);
    return (int64_t)((u >> 1) ^ -(u & 1));
}

proto_uuid proto_read_uuid(struct proto_reader *r)
{
    proto_uuid u;
    const uint8_t *p = take(r, 16);
    if (p)
        memcpy(u.b, p, 16);
    else
        memset(u.b, 0, 16);
    return u;
}

proto_str proto_read_string(struct proto_reader *r, bool compact, bool nullable)
{
    proto_str s = {"", 0};
    int64_t n = compact ? (int64_t)proto_read_uvarint(r) - 1 : proto_read_i16(r);
    if (r->err)
        return s;
    if (n < 0) {
        if (!nullable || n != -1) {
            r->err = FERRY_EPARSE;
            return s;
        }
        s.p = NULL;
        s.len = -1;
        return s;
    }
    const uint8_t *p = take(r, (size_t)n);
    if (p) {
        s.p = (const char *)p;
        s.len = (int32_t)n;
    }
    return s;
}

proto_bytes proto_read_bytes(struct proto_reader *r, bool compact, bool nullable)
{
    proto_bytes b = {(const uint8_t *)"", 0};
    int64_t n = compact ? (int64_t)proto_read_uvarint(r) - 1 : proto_read_i32(r);
    if (r->err)
        return b;
    if (n < 0) {
        if (!nullable || n != -1) {
            r->err = FERRY_EPARSE;
            return b;
        }
        b.p = NULL;
        b.len = -1;
        return b;
    }
    const uint8_t *p = take(r, (size_t)n);
    if (p) {
        b.p = p;
        b.len = (int32_t)n;
    }
    return b;
}

int32_t proto_read_array_len(struct proto_reader *r, bool compact, bool nullable, size_t min_elem_size)
{
    int64_t n = compact ? (int64_t)proto_read_uvarint(r) - 1 : proto_read_i32(r);
    if (r->err)
        return 0;
    if (n < 0) {
        if (!nullable || n != -1) {
            r->err = FERRY_EPARSE;
            return 0;
        }
        return -1;
    }
    if (min_elem_size && (uint64_t)n > (r->len - r->pos) / min_elem_size) {
        r->err = FERRY_EPARSE;
        return 0;
    }
    return (int32_t)n;
}

void proto_skip_tags(struct proto_reader *r)
{
    uint32_t n = proto_read_uvarint(r);
    for (uint32_t i = 0; i < n && !r->err; i++) {
        (void)proto_read_uvarint(r);
        uint32_t size = proto_read_uvarint(r);
        (void)take(r, size);
    }
}

void proto_writer_init(struct proto_writer *w) { memset(w, 0, sizeof *w); }

void proto_writer_free(struct proto_writer *w)
{
    ferry_free(w->buf);
    memset(w, 0, sizeof *w);
}

uint8_t *proto_write_reserve(struct proto_writer *w, size_t n)
{
    if (w->err)
        return NULL;
    if (w->cap == 0) { /* first use: allocate, so the returned pointer is never NULL + 0 */
        uint8_t *nb = ferry_realloc(w->buf, 256);
        if (!nb) {
            w->err = FERRY_ENOMEM;
            return NULL;
        }
        w->buf = nb;
        w->cap = 256;
    }
    if (w->cap - w->len < n) {
        size_t cap = w->cap ? w->cap : 256;
        while (cap - w->len < n) {
            if (cap > SIZE_MAX / 2) {
                w->err = FERRY_ENOMEM;
                return NULL;
            }
            cap *= 2;
        }
        uint8_t *nb = ferry_realloc(w->buf, cap);
        if (!nb) {
            w->err = FERRY_ENOMEM;
            return NULL;
        }
        w->buf = nb;
        w->cap = cap;
    }
    uint8_t *p = w->buf + w->len;
    w->len += n;
    return p;
}

void proto_write_raw(struct proto_writer *w, const void *p, size_t n)
{
    if (n == 0)
        return;
    uint8_t *d = proto_write_reserve(w, n);
    if (d && n)
        memcpy(d, p, n);
}
void proto_write_i8(struct proto_writer *w, int8_t v)
{
    uint8_t *d = proto_write_reserve(w, 1);
    if (d)
        d[0] = (uint8_t)v;
}
void proto_write_i16(struct proto_writer *w, int16_t v)
{
    uint8_t *d = proto_write_reserve(w, 2);
    if (d)
        proto_put_be16(d, (uint16_t)v);
}
void proto_write_i32(struct proto_writer *w, int32_t v)
{
    uint8_t *d = proto_write_reserve(w, 4);
    if (d)
        proto_put_be32(d, (uint32_t)v);
}
void proto_write_i64(struct proto_writer *w, int64_t v)
{
    uint8_t *d = proto_write_reserve(w, 8);
    if (d)
        proto_put_be64(d, (uint64_t)v);
}
void proto_write_f64(struct proto_writer *w, double v)
{
    uint64_t bits;
    memcpy(&bits, &v, sizeof bits);
    proto_write_i64(w, (int64_t)bits);
}

void proto_write_uvarlong(struct proto_writer *w, uint64_t v)
{
    uint8_t tmp[10];
    size_t n = 0;
    while (v >= 0x80) {
        tmp[n++] = (uint8_t)(v | 0x80);
        v >>= 7;
    }
    tmp[n++] = (uint8_t)v;
    proto_write_raw(w, tmp, n);
}
void proto_write_uvarint(struct proto_writer *w, uint32_t v) { proto_write_uvarlong(w, v); }
void proto_write_varint(struct proto_writer *w, int32_t v)
{
    proto_write_uvarint(w, ((uint32_t)v << 1) ^ (uint32_t)(v >> 31));
}
void proto_write_varlong(struct proto_writer *w, int64_t v)
{
    proto_write_uvarlong(w, ((uint64_t)v << 1) ^ (uint64_t)(v >> 63));
}
void proto_write_uuid(struct proto_writer *w, proto_uuid u) { proto_write_raw(w, u.b, 16); }

void proto_write_string(struct proto_writer *w, bool compact, proto_str s)
{
    if (!compact && s.len > INT16_MAX) {
        w->err = FERRY_EINVAL; /* a classic string cannot hold it; Kafka refuses to serialise it too */
        return;
    }
    if (s.len < 0) {
        if (compact)
            proto_write_uvarint(w, 0);
        else
            proto_write_i16(w, -1);
        return;
    }
    if (compact)
        proto_write_uvarint(w, (uint32_t)s.len + 1);
    else
        proto_write_i16(w, (int16_t)s.len);
    proto_write_raw(w, s.p, (size_t)s.len);
}

void proto_write_bytes(struct proto_writer *w, bool compact, proto_bytes b)
{
    if (b.len < 0) {
        if (compact)
            proto_write_uvarint(w, 0);
        else
            proto_write_i32(w, -1);
        return;
    }
    if (compact)
        proto_write_uvarint(w, (uint32_t)b.len + 1);
    else
        proto_write_i32(w, b.len);
    proto_write_raw(w, b.p, (size_t)b.len);
}

void proto_write_array_len(struct proto_writer *w, bool compact, int32_t n)
{
    if (compact)
        proto_write_uvarint(w, n < 0 ? 0 : (uint32_t)n + 1);
    else
        proto_write_i32(w, n < 0 ? -1 : n);
}

void proto_patch_i32(struct proto_writer *w, size_t at, int32_t v)
{
    if (!w->err && at + 4 <= w->len)
        proto_put_be32(w->buf + at, (uint32_t)v);
}

size_t proto_uvarint_size(uint64_t v)
{
    size_t n = 1;
    while (v >= 0x80) {
        v >>= 7;
        n++;
    }
    return n;
}

struct proto_arena_chunk {
    struct proto_arena_chunk *next;
    size_t used, cap;
    _Alignas(8) uint8_t data[];
};

void *proto_arena_alloc(struct proto_arena *a, size_t n)
{
    n = (n + 7) & ~(size_t)7;
    struct proto_arena_chunk *c = a->head;
    if (!c || c->cap - c->used < n) {
        size_t cap = n > 8192 ? n : 8192;
        c = ferry_malloc(sizeof *c + cap);
        if (!c)
            return NULL;
        c->next = a->head;
        c->used = 0;
        c->cap = cap;
        a->head = c;
    }
    void *p = c->data + c->used;
    c->used += n;
    memset(p, 0, n);
    return p;
}

char *proto_arena_strdup(struct proto_arena *a, proto_str s)
{
    size_t n = s.len > 0 ? (size_t)s.len : 0;
    char *d = proto_arena_alloc(a, n + 1);
    if (d && n)
        memcpy(d, s.p, n);
    return d;
}

void proto_arena_free(struct proto_arena *a)
{
    struct proto_arena_chunk *c = a->head;
    while (c) {
        struct proto_arena_chunk *next = c->next;
        ferry_free(c);
        c = next;
    }
    a->head = NULL;
}
