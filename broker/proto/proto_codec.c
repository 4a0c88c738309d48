/* proto_codec: see proto_codec.h. The walk over descriptor tables is the only place that knows how each
 * Kafka type is laid out on the wire in classic and flexible versions. */
#include "proto_codec.h"

#include <pthread.h>
#include <string.h>

#include "../common/ferry_err.h"

#define FIELD_PTR(obj, off) ((void *)((char *)(obj) + (off)))
#define FIELD_CPTR(obj, off) ((const void *)((const char *)(obj) + (off)))

static bool in_range(int16_t v, int16_t lo, int16_t hi) { return lo >= 0 && v >= lo && v <= hi; }

static size_t elem_size(const struct proto_field *f)
{
    switch (f->elem) {
    case PROTO_T_BOOL: return sizeof(bool);
    case PROTO_T_INT8: return 1;
    case PROTO_T_INT16:
    case PROTO_T_UINT16: return 2;
    case PROTO_T_INT32:
    case PROTO_T_UINT32: return 4;
    case PROTO_T_INT64:
    case PROTO_T_FLOAT64: return 8;
    case PROTO_T_UUID: return sizeof(proto_uuid);
    case PROTO_T_STRING: return sizeof(proto_str);
    case PROTO_T_BYTES:
    case PROTO_T_RECORDS: return sizeof(proto_bytes);
    case PROTO_T_STRUCT: return f->sub->size;
    default: return 0;
    }
}

/* The fewest bytes one value of a type can take on the wire (bounds array counts before allocating). */
static size_t min_wire_size(uint8_t type, const struct proto_struct *sub, int16_t version, bool flex)
{
    switch (type) {
    case PROTO_T_BOOL:
    case PROTO_T_INT8: return 1;
    case PROTO_T_INT16:
    case PROTO_T_UINT16: return 2;
    case PROTO_T_INT32:
    case PROTO_T_UINT32: return 4;
    case PROTO_T_INT64:
    case PROTO_T_FLOAT64: return 8;
    case PROTO_T_UUID: return 16;
    case PROTO_T_STRING: return flex ? 1 : 2;
    case PROTO_T_BYTES:
    case PROTO_T_RECORDS:
    case PROTO_T_ARRAY: return flex ? 1 : 4;
    case PROTO_T_STRUCT: {
        size_t n = flex ? 1 : 0;
        for (uint16_t i = 0; i < sub->nfields; i++) {
            const struct proto_field *f = &sub->fields[i];
            if (in_range(version, f->vmin, f->vmax) && !(flex && in_range(version, f->tagmin, f->tagmax)))
                n += min_wire_size(f->type, f->sub, version, flex);
        }
        return n;
    }
    default: return 1;
    }
}

static void set_default(const struct proto_field *f, void *obj)
{
    void *p = FIELD_PTR(obj, f->offset);
    switch (f->type) {
    case PROTO_T_BOOL: *(bool *)p = f->default_int != 0; break;
    case PROTO_T_INT8: *(int8_t *)p = (int8_t)f->default_int; break;
    case PROTO_T_INT16: *(int16_t *)p = (int16_t)f->default_int; break;
    case PROTO_T_UINT16: *(uint16_t *)p = (uint16_t)f->default_int; break;
    case PROTO_T_INT32: *(int32_t *)p = (int32_t)f->default_int; break;
    case PROTO_T_UINT32: *(uint32_t *)p = (uint32_t)f->default_int; break;
    case PROTO_T_INT64: *(int64_t *)p = f->default_int; break;
    case PROTO_T_FLOAT64: *(double *)p = (double)f->default_int; break;
    case PROTO_T_UUID: memset(p, 0, sizeof(proto_uuid)); break;
    case PROTO_T_STRING:
        *(proto_str *)p = f->default_null ? (proto_str){NULL, -1} : (proto_str){"", 0};
        break;
    case PROTO_T_BYTES:
    case PROTO_T_RECORDS:
        *(proto_bytes *)p = f->default_null ? (proto_bytes){NULL, -1} : (proto_bytes){(const uint8_t *)"", 0};
        break;
    case PROTO_T_STRUCT:
        proto_struct_init(f->sub, p);
        *(bool *)FIELD_PTR(obj, f->count_offset) = f->default_null;
        break;
    case PROTO_T_ARRAY:
        *(void **)p = NULL;
        *(int32_t *)FIELD_PTR(obj, f->count_offset) = f->default_null ? -1 : 0;
        break;
    }
}

void proto_struct_init(const struct proto_struct *s, void *obj)
{
    memset(obj, 0, s->size);
    for (uint16_t i = 0; i < s->nfields; i++)
        set_default(&s->fields[i], obj);
}

void *proto_array_new(struct proto_arena *a, const struct proto_struct *s, int32_t n)
{
    char *arr = proto_arena_alloc(a, s->size * (size_t)(n > 0 ? n : 1));
    if (!arr)
        return NULL;
    for (int32_t i = 0; i < n; i++)
        proto_struct_init(s, arr + s->size * (size_t)i);
    return arr;
}

/* ---- decoding ---- */

static int decode_struct(const struct proto_struct *s, int16_t version, bool flex, struct proto_reader *r,
                         struct proto_arena *a, void *obj);

static int decode_scalar(uint8_t type, const struct proto_struct *sub, bool nullable, int16_t version, bool flex,
                         struct proto_reader *r, struct proto_arena *a, void *p)
{
    switch (type) {
    case PROTO_T_BOOL: *(bool *)p = proto_read_i8(r) != 0; break;
    case PROTO_T_INT8: *(int8_t *)p = proto_read_i8(r); break;
    case PROTO_T_INT16: *(int16_t *)p = proto_read_i16(r); break;
    case PROTO_T_UINT16: *(uint16_t *)p = (uint16_t)proto_read_i16(r); break;
    case PROTO_T_INT32: *(int32_t *)p = proto_read_i32(r); break;
    case PROTO_T_UINT32: *(uint32_t *)p = (uint32_t)proto_read_i32(r); break;
    case PROTO_T_INT64: *(int64_t *)p = proto_read_i64(r); break;
    case PROTO_T_FLOAT64: *(double *)p = proto_read_f64(r); break;
    case PROTO_T_UUID: *(proto_uuid *)p = proto_read_uuid(r); break;
    case PROTO_T_STRING: *(proto_str *)p = proto_read_string(r, flex, nullable); break;
    case PROTO_T_BYTES:
    case PROTO_T_RECORDS: *(proto_bytes *)p = proto_read_bytes(r, flex, nullable); break;
    case PROTO_T_STRUCT: return decode_struct(sub, version, flex, r, a, p);
    default: return FERRY_EPARSE;
    }
    return r->err;
}

static int decode_field(const struct proto_field *f, int16_t version, bool flex, struct proto_reader *r,
                        struct proto_arena *a, void *obj)
{
    bool nullable = in_range(version, f->nullmin, f->nullmax);
    void *p = FIELD_PTR(obj, f->offset);
    if (f->type == PROTO_T_STRUCT) {
        bool *isnull = FIELD_PTR(obj, f->count_offset);
        *isnull = false;
        if (nullable && proto_read_i8(r) < 0) {
            *isnull = true;
            return r->err;
        }
        return decode_struct(f->sub, version, flex, r, a, p);
    }
    if (f->type != PROTO_T_ARRAY)
        return decode_scalar(f->type, f->sub, nullable, version, flex, r, a, p);

    int32_t n = proto_read_array_len(r, flex, nullable, min_wire_size(f->elem, f->sub, version, flex));
    *(int32_t *)FIELD_PTR(obj, f->count_offset) = n;
    *(void **)p = NULL;
    if (r->err)
        return r->err;
    if (n <= 0)
        return 0;
    size_t es = elem_size(f);
    char *arr = proto_arena_alloc(a, es * (size_t)n);
    if (!arr)
        return FERRY_ENOMEM;
    *(void **)p = arr;
    for (int32_t i = 0; i < n; i++) {
        int rc = decode_scalar(f->elem, f->sub, false, version, flex, r, a, arr + es * (size_t)i);
        if (rc)
            return rc;
    }
    return 0;
}

static int decode_struct(const struct proto_struct *s, int16_t version, bool flex, struct proto_reader *r,
                         struct proto_arena *a, void *obj)
{
    proto_struct_init(s, obj);
    for (uint16_t i = 0; i < s->nfields; i++) {
        const struct proto_field *f = &s->fields[i];
        if (!in_range(version, f->vmin, f->vmax) || (flex && in_range(version, f->tagmin, f->tagmax)))
            continue;
        int rc = decode_field(f, version, flex, r, a, obj);
        if (rc)
            return rc;
    }
    if (!flex)
        return r->err;
    uint32_t ntags = proto_read_uvarint(r);
    int32_t last_tag = -1;
    for (uint32_t t = 0; t < ntags && !r->err; t++) {
        uint32_t tag = proto_read_uvarint(r);
        uint32_t size = proto_read_uvarint(r);
        const uint8_t *body = proto_read_raw(r, size);
        if (!body)
            break;
        if ((int64_t)tag <= last_tag)
            return FERRY_EPARSE; /* tags must be strictly ascending */
        last_tag = (int32_t)tag;
        for (uint16_t i = 0; i < s->nfields; i++) {
            const struct proto_field *f = &s->fields[i];
            if (f->tag == (int32_t)tag && in_range(version, f->tagmin, f->tagmax)) {
                struct proto_reader sub;
                proto_reader_init(&sub, body, size);
                int rc = decode_field(f, version, flex, &sub, a, obj);
                if (rc)
                    return rc;
                break;
            }
        }
    }
    return r->err;
}

int proto_decode(const struct proto_message *m, int16_t version, struct proto_reader *r, struct proto_arena *a,
                 void *out)
{
    if (version < m->min_version || version > m->max_version)
        return FERRY_EUNSUPPORTED;
    int rc = decode_struct(m->body, version, proto_is_flexible(m, version), r, a, out);
    return rc ? rc : r->err;
}

/* ---- encoding ---- */

static void encode_struct(const struct proto_struct *s, int16_t version, bool flex, struct proto_writer *w,
                          const void *obj);

static bool is_default(const struct proto_field *f, const void *obj)
{
    const void *p = FIELD_CPTR(obj, f->offset);
    switch (f->type) {
    case PROTO_T_BOOL: return *(const bool *)p == (f->default_int != 0);
    case PROTO_T_INT8: return *(const int8_t *)p == (int8_t)f->default_int;
    case PROTO_T_INT16: return *(const int16_t *)p == (int16_t)f->default_int;
    case PROTO_T_UINT16: return *(const uint16_t *)p == (uint16_t)f->default_int;
    case PROTO_T_INT32: return *(const int32_t *)p == (int32_t)f->default_int;
    case PROTO_T_UINT32: return *(const uint32_t *)p == (uint32_t)f->default_int;
    case PROTO_T_INT64: return *(const int64_t *)p == f->default_int;
    case PROTO_T_FLOAT64: return *(const double *)p == (double)f->default_int;
    case PROTO_T_UUID: {
        static const proto_uuid zero;
        return memcmp(p, &zero, sizeof zero) == 0;
    }
    case PROTO_T_STRING: return ((const proto_str *)p)->len == (f->default_null ? -1 : 0);
    case PROTO_T_BYTES:
    case PROTO_T_RECORDS: return ((const proto_bytes *)p)->len == (f->default_null ? -1 : 0);
    case PROTO_T_ARRAY: return *(const int32_t *)FIELD_CPTR(obj, f->count_offset) == (f->default_null ? -1 : 0);
    case PROTO_T_STRUCT:
        if (*(const bool *)FIELD_CPTR(obj, f->count_offset))
            return f->default_null;
        for (uint16_t i = 0; i < f->sub->nfields; i++)
            if (!is_default(&f->sub->fields[i], p))
                return false;
        return true;
    }
    return true;
}

static void encode_scalar(uint8_t type, const struct proto_struct *sub, int16_t version, bool flex,
                          struct proto_writer *w, const void *p)
{
    switch (type) {
    case PROTO_T_BOOL: proto_write_i8(w, *(const bool *)p ? 1 : 0); break;
    case PROTO_T_INT8: proto_write_i8(w, *(const int8_t *)p); break;
    case PROTO_T_INT16: proto_write_i16(w, *(const int16_t *)p); break;
    case PROTO_T_UINT16: proto_write_i16(w, (int16_t) * (const uint16_t *)p); break;
    case PROTO_T_INT32: proto_write_i32(w, *(const int32_t *)p); break;
    case PROTO_T_UINT32: proto_write_i32(w, (int32_t) * (const uint32_t *)p); break;
    case PROTO_T_INT64: proto_write_i64(w, *(const int64_t *)p); break;
    case PROTO_T_FLOAT64: proto_write_f64(w, *(const double *)p); break;
    case PROTO_T_UUID: proto_write_uuid(w, *(const proto_uuid *)p); break;
    case PROTO_T_STRING: proto_write_string(w, flex, *(const proto_str *)p); break;
    case PROTO_T_BYTES:
    case PROTO_T_RECORDS: proto_write_bytes(w, flex, *(const proto_bytes *)p); break;
    case PROTO_T_STRUCT: encode_struct(sub, version, flex, w, p); break;
    }
}

static void encode_field(const struct proto_field *f, int16_t version, bool flex, struct proto_writer *w,
                         const void *obj)
{
    const void *p = FIELD_CPTR(obj, f->offset);
    bool nullable = in_range(version, f->nullmin, f->nullmax);
    if (f->type == PROTO_T_STRUCT) {
        bool isnull = *(const bool *)FIELD_CPTR(obj, f->count_offset);
        if (nullable)
            proto_write_i8(w, isnull ? -1 : 1);
        if (!(nullable && isnull))
            encode_struct(f->sub, version, flex, w, p);
        return;
    }
    if (f->type != PROTO_T_ARRAY) {
        /* A null written where the version does not allow it becomes the empty value. */
        if (!nullable && f->type == PROTO_T_STRING && ((const proto_str *)p)->len < 0)
            proto_write_string(w, flex, (proto_str){"", 0});
        else if (!nullable && (f->type == PROTO_T_BYTES || f->type == PROTO_T_RECORDS) &&
                 ((const proto_bytes *)p)->len < 0)
            proto_write_bytes(w, flex, (proto_bytes){(const uint8_t *)"", 0});
        else
            encode_scalar(f->type, f->sub, version, flex, w, p);
        return;
    }
    int32_t n = *(const int32_t *)FIELD_CPTR(obj, f->count_offset);
    if (n < 0 && !nullable)
        n = 0;
    proto_write_array_len(w, flex, n);
    const char *arr = *(const char *const *)p;
    size_t es = elem_size(f);
    for (int32_t i = 0; i < n; i++)
        encode_scalar(f->elem, f->sub, version, flex, w, arr + es * (size_t)i);
}

static void encode_struct(const struct proto_struct *s, int16_t version, bool flex, struct proto_writer *w,
                          const void *obj)
{
    const struct proto_field *tagged[64];
    size_t ntagged = 0;
    for (uint16_t i = 0; i < s->nfields; i++) {
        const struct proto_field *f = &s->fields[i];
        if (!in_range(version, f->vmin, f->vmax))
            continue;
        if (flex && in_range(version, f->tagmin, f->tagmax)) {
            if (!is_default(f, obj) && ntagged < 64) {
                size_t j = ntagged++;
                while (j > 0 && tagged[j - 1]->tag > f->tag) { /* keep ascending tag order */
                    tagged[j] = tagged[j - 1];
                    j--;
                }
                tagged[j] = f;
            }
            continue;
        }
        encode_field(f, version, flex, w, obj);
    }
    if (!flex)
        return;
    proto_write_uvarint(w, (uint32_t)ntagged);
    for (size_t i = 0; i < ntagged; i++) {
        struct proto_writer tmp;
        proto_writer_init(&tmp);
        encode_field(tagged[i], version, flex, &tmp, obj);
        if (tmp.err)
            w->err = tmp.err;
        proto_write_uvarint(w, (uint32_t)tagged[i]->tag);
        proto_write_uvarint(w, (uint32_t)tmp.len);
        proto_write_raw(w, tmp.buf, tmp.len);
        proto_writer_free(&tmp);
    }
}

int proto_encode(const struct proto_message *m, int16_t version, struct proto_writer *w, const void *in)
{
    if (version < m->min_version || version > m->max_version)
        return FERRY_EUNSUPPORTED;
    encode_struct(m->body, version, proto_is_flexible(m, version), w, in);
    return w->err;
}

/* proto_find's index by kind and api key, built once from proto_all_messages (it ran on every request,
 * response and metadata record: a linear walk of some 300 messages was a few % of a controller's CPU). */
#define FIND_KINDS (PROTO_KIND_DATA + 1)
#define FIND_KEYS 128
static const struct proto_message *find_index[FIND_KINDS][FIND_KEYS];
static pthread_once_t find_once = PTHREAD_ONCE_INIT;

static void find_index_build(void)
{
    for (const struct proto_message *const *m = proto_all_messages; *m; m++)
        if ((*m)->kind < FIND_KINDS && (*m)->api_key >= 0 && (*m)->api_key < FIND_KEYS &&
            !find_index[(*m)->kind][(*m)->api_key])
            find_index[(*m)->kind][(*m)->api_key] = *m;
}

const struct proto_message *proto_find(enum proto_kind kind, int16_t api_key)
{
    if ((unsigned)kind < FIND_KINDS && api_key >= 0 && api_key < FIND_KEYS) {
        pthread_once(&find_once, find_index_build);
        return find_index[kind][api_key];
    }
    for (const struct proto_message *const *m = proto_all_messages; *m; m++)
        if ((*m)->kind == kind && (*m)->api_key == api_key)
            return *m;
    return NULL;
}

proto_str proto_str_from(const char *s)
{
    return s ? (proto_str){s, (int32_t)strlen(s)} : (proto_str){NULL, -1};
}

bool proto_str_eq(proto_str s, const char *c)
{
    size_t n = strlen(c);
    return s.len >= 0 && (size_t)s.len == n && memcmp(s.p, c, n) == 0;
}
