/* record_batch: see record_batch.h. */
#include "record_batch.h"

#include <string.h>

#include "../common/ferry_alloc.h"
#include "../common/ferry_err.h"
#include "compression.h"
#include "crc32c.h"

int rb_parse_header(const uint8_t *p, size_t len, struct rb_header *h)
{
    if (len < RB_HEADER_SIZE)
        return FERRY_EPARSE;
    h->base_offset = (int64_t)proto_be64(p);
    h->batch_length = (int32_t)proto_be32(p + 8);
    h->partition_leader_epoch = (int32_t)proto_be32(p + 12);
    h->magic = (int8_t)p[16];
    h->crc = proto_be32(p + 17);
    h->attributes = (int16_t)proto_be16(p + 21);
    h->last_offset_delta = (int32_t)proto_be32(p + 23);
    h->base_timestamp = (int64_t)proto_be64(p + 27);
    h->max_timestamp = (int64_t)proto_be64(p + 35);
    h->producer_id = (int64_t)proto_be64(p + 43);
    h->producer_epoch = (int16_t)proto_be16(p + 51);
    h->base_sequence = (int32_t)proto_be32(p + 53);
    h->record_count = (int32_t)proto_be32(p + 57);
    return 0;
}

uint32_t rb_compute_crc(const uint8_t *batch, size_t len)
{
    return len < RB_CRC_START ? 0 : crc32c(0, batch + RB_CRC_START, len - RB_CRC_START);
}

int rb_validate(const uint8_t *p, size_t len, struct rb_header *h)
{
    if (len >= 17 && p[16] != 2)
        return FERRY_EUNSUPPORTED;
    if (rb_parse_header(p, len, h))
        return FERRY_EPARSE;
    if (h->batch_length < RB_HEADER_SIZE - RB_LOG_OVERHEAD || (size_t)h->batch_length + RB_LOG_OVERHEAD != len)
        return FERRY_EPARSE;
    if (h->record_count < 0 || h->last_offset_delta < 0)
        return FERRY_EPARSE;
    if (rb_compute_crc(p, len) != h->crc)
        return FERRY_ECORRUPT;
    if ((h->attributes & RB_ATTR_COMPRESSION_MASK) == 0 && h->record_count > 0 &&
        h->last_offset_delta != h->record_count - 1 && !(h->attributes & RB_ATTR_CONTROL))
        return FERRY_EPARSE;
    return 0;
}

void rb_set_base_offset(uint8_t *batch, int64_t base_offset) { proto_put_be64(batch, (uint64_t)base_offset); }

void rb_set_leader_epoch(uint8_t *batch, int32_t epoch) { proto_put_be32(batch + 12, (uint32_t)epoch); }

void rb_set_log_append_time(uint8_t *batch, size_t len, int64_t ts)
{
    uint16_t attrs = proto_be16(batch + 21) | RB_ATTR_LOG_APPEND_TIME;
    proto_put_be16(batch + 21, attrs);
    proto_put_be64(batch + 35, (uint64_t)ts);
    proto_put_be32(batch + 17, rb_compute_crc(batch, len));
}

void rb_iter_init(struct rb_iter *it, const uint8_t *p, size_t len)
{
    it->p = p;
    it->len = len;
    it->pos = 0;
    it->partial_tail = false;
}

int rb_iter_next(struct rb_iter *it, const uint8_t **batch, size_t *batch_len, struct rb_header *h)
{
    size_t left = it->len - it->pos;
    if (left == 0)
        return 0;
    if (left < RB_HEADER_SIZE) {
        it->partial_tail = true;
        return 0;
    }
    const uint8_t *p = it->p + it->pos;
    rb_parse_header(p, left, h);
    if (h->batch_length < RB_HEADER_SIZE - RB_LOG_OVERHEAD)
        return FERRY_EPARSE;
    size_t total = (size_t)h->batch_length + RB_LOG_OVERHEAD;
    if (total > left) {
        it->partial_tail = true;
        return 0;
    }
    *batch = p;
    *batch_len = total;
    it->pos += total;
    return 1;
}

int rb_read_record(struct proto_reader *r, struct rb_record *rec)
{
    int32_t len = proto_read_varint(r);
    if (r->err || len < 0 || (size_t)len > proto_reader_left(r))
        return FERRY_EPARSE;
    struct proto_reader body;
    proto_reader_init(&body, proto_read_raw(r, (size_t)len), (size_t)len);
    rec->attributes = proto_read_i8(&body);
    rec->timestamp_delta = proto_read_varlong(&body);
    rec->offset_delta = proto_read_varint(&body);
    int32_t klen = proto_read_varint(&body);
    rec->key = klen < 0 ? (proto_bytes){NULL, -1} : (proto_bytes){proto_read_raw(&body, (size_t)klen), klen};
    int32_t vlen = proto_read_varint(&body);
    rec->value = vlen < 0 ? (proto_bytes){NULL, -1} : (proto_bytes){proto_read_raw(&body, (size_t)vlen), vlen};
    rec->header_count = proto_read_varint(&body);
    rec->headers = body.p + body.pos;
    rec->headers_len = proto_reader_left(&body);
    if (body.err || rec->header_count < 0 || klen < -1 || vlen < -1)
        return FERRY_EPARSE;
    return 0;
}

/* The headers of one record fill its remaining bytes exactly. */
static int check_headers(const struct rb_record *rec)
{
    struct proto_reader r;
    proto_reader_init(&r, rec->headers, rec->headers_len);
    for (int32_t i = 0; i < rec->header_count; i++) {
        int32_t klen = proto_read_varint(&r);
        if (r.err || klen < 0 || !proto_read_raw(&r, (size_t)klen))
            return FERRY_EINVAL;
        int32_t vlen = proto_read_varint(&r);
        if (r.err || vlen < -1 || (vlen > 0 && !proto_read_raw(&r, (size_t)vlen)))
            return FERRY_EINVAL;
    }
    return r.err || proto_reader_left(&r) != 0 ? FERRY_EINVAL : 0;
}

/* The records region (uncompressed): exactly `count` well-formed records, nothing after them. Each record
 * takes at least two bytes, so a huge count on a short region stops at the region's end. */
static int check_records(const uint8_t *p, size_t len, int32_t count, bool require_keys)
{
    struct proto_reader r;
    proto_reader_init(&r, p, len);
    for (int32_t i = 0; i < count; i++) {
        struct rb_record rec;
        if (rb_read_record(&r, &rec) || rec.attributes != 0 || rec.offset_delta != i || check_headers(&rec))
            return FERRY_EINVAL;
        if (require_keys && rec.key.len < 0)
            return FERRY_EINVAL; /* Kafka: "Compacted topic cannot accept message without key" */
    }
    return proto_reader_left(&r) != 0 ? FERRY_EINVAL : 0;
}

int rb_validate_records(const uint8_t *batch, size_t len, const struct rb_header *h, size_t max_decompressed,
                        bool require_keys)
{
    if (len < RB_HEADER_SIZE)
        return FERRY_ECORRUPT;
    if (h->record_count <= 0 || h->last_offset_delta != h->record_count - 1)
        return FERRY_EINVAL;
    int codec = h->attributes & RB_ATTR_COMPRESSION_MASK;
    if (codec == COMPRESSION_NONE)
        return check_records(batch + RB_HEADER_SIZE, len - RB_HEADER_SIZE, h->record_count, require_keys);
    if (codec > COMPRESSION_ZSTD)
        return FERRY_EUNSUPPORTED;
    uint8_t *records;
    size_t records_len;
    int rc = compression_decompress(codec, batch + RB_HEADER_SIZE, len - RB_HEADER_SIZE, max_decompressed,
                                    &records, &records_len);
    if (rc)
        return rc;
    rc = check_records(records, records_len, h->record_count, require_keys);
    ferry_free(records);
    return rc;
}

void rb_builder_begin(struct rb_builder *b, struct proto_writer *w, int64_t base_offset, int32_t leader_epoch,
                      int16_t attributes, int64_t base_timestamp)
{
    b->w = w;
    b->start = w->len;
    b->count = 0;
    b->base_timestamp = base_timestamp;
    b->max_timestamp = base_timestamp;
    proto_write_i64(w, base_offset);
    proto_write_i32(w, 0); /* batchLength, patched */
    proto_write_i32(w, leader_epoch);
    proto_write_i8(w, 2);
    proto_write_i32(w, 0); /* crc, patched */
    proto_write_i16(w, attributes);
    proto_write_i32(w, 0); /* lastOffsetDelta, patched */
    proto_write_i64(w, base_timestamp);
    proto_write_i64(w, base_timestamp); /* maxTimestamp, patched */
    proto_write_i64(w, -1);             /* producerId */
    proto_write_i16(w, -1);             /* producerEpoch */
    proto_write_i32(w, -1);             /* baseSequence */
    proto_write_i32(w, 0);              /* recordCount, patched */
}

static size_t varint_size(int64_t v) { return proto_uvarint_size(((uint64_t)v << 1) ^ (uint64_t)(v >> 63)); }

void rb_builder_add(struct rb_builder *b, int64_t timestamp, proto_bytes key, proto_bytes value)
{
    int64_t ts_delta = timestamp - b->base_timestamp;
    int32_t klen = key.len < 0 ? -1 : key.len, vlen = value.len < 0 ? -1 : value.len;
    size_t body = 1 + varint_size(ts_delta) + varint_size(b->count) + varint_size(klen) +
                  (klen > 0 ? (size_t)klen : 0) + varint_size(vlen) + (vlen > 0 ? (size_t)vlen : 0) + 1;
    proto_write_varint(b->w, (int32_t)body);
    proto_write_i8(b->w, 0);
    proto_write_varlong(b->w, ts_delta);
    proto_write_varint(b->w, b->count);
    proto_write_varint(b->w, klen);
    if (klen > 0)
        proto_write_raw(b->w, key.p, (size_t)klen);
    proto_write_varint(b->w, vlen);
    if (vlen > 0)
        proto_write_raw(b->w, value.p, (size_t)vlen);
    proto_write_varint(b->w, 0); /* headers */
    if (timestamp > b->max_timestamp)
        b->max_timestamp = timestamp;
    b->count++;
}

int rb_builder_finish(struct rb_builder *b)
{
    struct proto_writer *w = b->w;
    if (w->err)
        return w->err;
    uint8_t *p = w->buf + b->start;
    size_t len = w->len - b->start;
    proto_put_be32(p + 8, (uint32_t)(len - RB_LOG_OVERHEAD));
    proto_put_be32(p + 23, (uint32_t)(b->count > 0 ? b->count - 1 : 0));
    proto_put_be64(p + 35, (uint64_t)b->max_timestamp);
    proto_put_be32(p + 57, (uint32_t)b->count);
    proto_put_be32(p + 17, rb_compute_crc(p, len));
    return 0;
}
