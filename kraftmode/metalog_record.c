/* metalog_record: see metalog_record.h. */
#include "metalog_record.h"

#include <string.h>

#include "broker/common/ferry_err.h"

int metalog_encode_value(struct proto_writer *w, const struct metalog_rec *rec)
{
    const struct proto_message *m = rec->m;
    if (!m || m->kind != PROTO_KIND_METADATA || rec->version < m->min_version || rec->version > m->max_version)
        return FERRY_EUNSUPPORTED;
    proto_write_uvarint(w, METALOG_FRAME_VERSION);
    proto_write_uvarint(w, (uint32_t)m->api_key);
    proto_write_uvarint(w, (uint32_t)rec->version);
    int rc = proto_encode(m, rec->version, w, rec->data);
    return rc ? rc : w->err;
}

int metalog_decode_value(const uint8_t *p, size_t len, struct proto_arena *a, const struct proto_message **m,
                         int16_t *version, void **out)
{
    struct proto_reader r;
    proto_reader_init(&r, p, len);
    uint32_t frame = proto_read_uvarint(&r);
    uint32_t key = proto_read_uvarint(&r);
    uint32_t ver = proto_read_uvarint(&r);
    if (r.err)
        return FERRY_EPARSE;
    if (frame != METALOG_FRAME_VERSION)
        return FERRY_EUNSUPPORTED;
    if (key > INT16_MAX || ver > INT16_MAX)
        return FERRY_EUNSUPPORTED;
    const struct proto_message *msg = proto_find(PROTO_KIND_METADATA, (int16_t)key);
    if (!msg || (int16_t)ver < msg->min_version || (int16_t)ver > msg->max_version)
        return FERRY_EUNSUPPORTED;
    void *obj = proto_arena_alloc(a, msg->body->size ? msg->body->size : 1);
    if (!obj)
        return FERRY_ENOMEM;
    int rc = proto_decode(msg, (int16_t)ver, &r, a, obj);
    if (rc)
        return rc;
    if (proto_reader_left(&r) != 0)
        return FERRY_EPARSE;
    *m = msg;
    *version = (int16_t)ver;
    *out = obj;
    return 0;
}

int metalog_build_batch(struct proto_writer *w, int64_t base_offset, int32_t epoch, int64_t now_ms,
                        const struct metalog_rec *recs, size_t n)
{
    if (n == 0 || n > METALOG_MAX_RECORDS_PER_BATCH)
        return FERRY_EINVAL;
    struct proto_writer val;
    proto_writer_init(&val);
    struct rb_builder b;
    rb_builder_begin(&b, w, base_offset, epoch, 0, now_ms);
    int rc = 0;
    for (size_t i = 0; i < n && !rc; i++) {
        val.len = 0;
        rc = metalog_encode_value(&val, &recs[i]);
        if (!rc)
            rb_builder_add(&b, now_ms, (proto_bytes){NULL, -1}, (proto_bytes){val.buf, (int32_t)val.len});
    }
    proto_writer_free(&val);
    if (rc)
        return rc;
    return rb_builder_finish(&b);
}

const struct proto_message *metalog_control_message(int16_t type)
{
    switch (type) {
    case METALOG_CTRL_LEADER_CHANGE: return &proto_msg_LeaderChangeMessage;
    case METALOG_CTRL_SNAPSHOT_HEADER: return &proto_msg_SnapshotHeaderRecord;
    case METALOG_CTRL_SNAPSHOT_FOOTER: return &proto_msg_SnapshotFooterRecord;
    default: return NULL;
    }
}

int metalog_build_control_batch(struct proto_writer *w, int64_t base_offset, int32_t epoch, int64_t now_ms,
                                int16_t type, const struct proto_message *m, const void *msg)
{
    uint8_t key[4];
    proto_put_be16(key, 0);
    proto_put_be16(key + 2, (uint16_t)type);
    struct proto_writer val;
    proto_writer_init(&val);
    int rc = proto_encode(m, 0, &val, msg);
    if (!rc)
        rc = val.err;
    if (!rc) {
        struct rb_builder b;
        rb_builder_begin(&b, w, base_offset, epoch, RB_ATTR_CONTROL, now_ms);
        rb_builder_add(&b, now_ms, (proto_bytes){key, 4}, (proto_bytes){val.buf, (int32_t)val.len});
        rc = rb_builder_finish(&b);
    }
    proto_writer_free(&val);
    return rc;
}

static int decode_control(const struct rb_record *rec, struct proto_arena *a, struct metalog_batch *out)
{
    if (rec->key.len != 4)
        return FERRY_EPARSE;
    int16_t kver = (int16_t)proto_be16(rec->key.p);
    if (kver != 0)
        return FERRY_EUNSUPPORTED;
    out->control_type = (int16_t)proto_be16(rec->key.p + 2);
    const struct proto_message *m = metalog_control_message(out->control_type);
    if (!m)
        return 0; /* a control type this reader does not interpret: skipped */
    if (rec->value.len < 0)
        return FERRY_EPARSE;
    void *obj = proto_arena_alloc(a, m->body->size ? m->body->size : 1);
    if (!obj)
        return FERRY_ENOMEM;
    struct proto_reader r;
    proto_reader_init(&r, rec->value.p, (size_t)rec->value.len);
    int rc = proto_decode(m, 0, &r, a, obj);
    if (rc)
        return rc;
    if (proto_reader_left(&r) != 0)
        return FERRY_EPARSE;
    out->control_msg = m;
    out->control_data = obj;
    return 0;
}

int metalog_decode_batch(const uint8_t *batch, size_t len, struct proto_arena *a, struct metalog_batch *out)
{
    memset(out, 0, sizeof *out);
    int rc = rb_validate(batch, len, &out->h);
    if (rc)
        return rc;
    if (out->h.attributes & RB_ATTR_COMPRESSION_MASK)
        return FERRY_EUNSUPPORTED;
    out->control = (out->h.attributes & RB_ATTR_CONTROL) != 0;
    if (out->h.record_count < 0 || (size_t)out->h.record_count > len - RB_HEADER_SIZE)
        return FERRY_EPARSE; /* every record takes at least one byte */
    struct proto_reader r;
    proto_reader_init(&r, batch + RB_HEADER_SIZE, len - RB_HEADER_SIZE);
    if (out->control) {
        struct rb_record rec;
        if (out->h.record_count != 1)
            return FERRY_EPARSE;
        rc = rb_read_record(&r, &rec);
        if (rc)
            return rc;
        return decode_control(&rec, a, out);
    }
    if (out->h.record_count > 0) {
        out->entries = proto_arena_alloc(a, (size_t)out->h.record_count * sizeof *out->entries);
        if (!out->entries)
            return FERRY_ENOMEM;
    }
    for (int32_t i = 0; i < out->h.record_count; i++) {
        struct rb_record rec;
        rc = rb_read_record(&r, &rec);
        if (rc)
            return rc;
        if (rec.value.len < 0)
            return FERRY_EPARSE;
        if (rec.offset_delta < 0 || rec.offset_delta > out->h.last_offset_delta)
            return FERRY_EPARSE;
        struct metalog_entry *e = &out->entries[out->n];
        e->offset = out->h.base_offset + rec.offset_delta;
        rc = metalog_decode_value(rec.value.p, (size_t)rec.value.len, a, &e->m, &e->version, &e->data);
        if (rc)
            return rc;
        out->n++;
    }
    if (proto_reader_left(&r) != 0)
        return FERRY_EPARSE;
    return 0;
}
