/* proto_buf: bounds-checked reading and growable writing of Kafka's primitive types, plus the arena that
 * decoded messages live in.
 *
 * Reader and writer errors are sticky: after the first failure every call is a no-op returning zeros,
 * and the caller checks `err` once at the end. Nothing here ever reads outside [p, p+len). */
#ifndef FERRY_PROTO_BUF_H
#define FERRY_PROTO_BUF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "proto_types.h"

struct proto_reader {
    const uint8_t *p;
    size_t len;
    size_t pos;
    int err; /* 0 or FERRY_EPARSE */
};

static inline void proto_reader_init(struct proto_reader *r, const void *p, size_t len)
{
    r->p = p;
    r->len = len;
    r->pos = 0;
    r->err = 0;
}
static inline size_t proto_reader_left(const struct proto_reader *r) { return r->err ? 0 : r->len - r->pos; }

int8_t proto_read_i8(struct proto_reader *r);
int16_t proto_read_i16(struct proto_reader *r);
int32_t proto_read_i32(struct proto_reader *r);
int64_t proto_read_i64(struct proto_reader *r);
double proto_read_f64(struct proto_reader *r);
uint32_t proto_read_uvarint(struct proto_reader *r);
uint64_t proto_read_uvarlong(struct proto_reader *r);
int32_t proto_read_varint(struct proto_reader *r);   /* zig-zag */
int64_t proto_read_varlong(struct proto_reader *r);  /* zig-zag */
proto_uuid proto_read_uuid(struct proto_reader *r);
/* Returns a pointer to the next n bytes and skips them, or NULL (and sets err) if fewer remain. */
const uint8_t *proto_read_raw(struct proto_reader *r, size_t n);
/* Classic (int16 length) or compact (uvarint length+1) string; null allowed only if `nullable`. */
proto_str proto_read_string(struct proto_reader *r, bool compact, bool nullable);
/* Classic (int32 length) or compact bytes. */
proto_bytes proto_read_bytes(struct proto_reader *r, bool compact, bool nullable);
/* Array length: classic int32 or compact uvarint(n+1); returns -1 for null. Fails if the count could
 * not possibly fit in the bytes left (each element takes at least min_elem_size bytes). */
int32_t proto_read_array_len(struct proto_reader *r, bool compact, bool nullable, size_t min_elem_size);
/* Skips a whole tagged-field buffer. */
void proto_skip_tags(struct proto_reader *r);

struct proto_writer {
    uint8_t *buf;
    size_t len;
    size_t cap;
    int err; /* 0, FERRY_ENOMEM, or FERRY_EINVAL (a value the format cannot hold) */
};

void proto_writer_init(struct proto_writer *w);
void proto_writer_free(struct proto_writer *w);
/* Makes room for n more bytes and returns where they go (NULL on failure); advances len. */
uint8_t *proto_write_reserve(struct proto_writer *w, size_t n);
void proto_write_raw(struct proto_writer *w, const void *p, size_t n);
void proto_write_i8(struct proto_writer *w, int8_t v);
void proto_write_i16(struct proto_writer *w, int16_t v);
void proto_write_i32(struct proto_writer *w, int32_t v);
void proto_write_i64(struct proto_writer *w, int64_t v);
void proto_write_f64(struct proto_writer *w, double v);
void proto_write_uvarint(struct proto_writer *w, uint32_t v);
void proto_write_uvarlong(struct proto_writer *w, uint64_t v);
void proto_write_varint(struct proto_writer *w, int32_t v);
void proto_write_varlong(struct proto_writer *w, int64_t v);
void proto_write_uuid(struct proto_writer *w, proto_uuid u);
void proto_write_string(struct proto_writer *w, bool compact, proto_str s);
void proto_write_bytes(struct proto_writer *w, bool compact, proto_bytes b);
void proto_write_array_len(struct proto_writer *w, bool compact, int32_t n);
/* Overwrites a big-endian int32 at `at` (for length prefixes written after the fact). */
void proto_patch_i32(struct proto_writer *w, size_t at, int32_t v);
/* Size in bytes of v as an unsigned varint. */
size_t proto_uvarint_size(uint64_t v);

/* Big-endian helpers for raw buffers. */
static inline uint16_t proto_be16(const uint8_t *p) { return (uint16_t)((p[0] << 8) | p[1]); }
static inline uint32_t proto_be32(const uint8_t *p)
{
    return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3];
}
static inline uint64_t proto_be64(const uint8_t *p) { return ((uint64_t)proto_be32(p) << 32) | proto_be32(p + 4); }
static inline void proto_put_be16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
}
static inline void proto_put_be32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}
static inline void proto_put_be64(uint8_t *p, uint64_t v)
{
    proto_put_be32(p, (uint32_t)(v >> 32));
    proto_put_be32(p + 4, (uint32_t)v);
}

/* A bump allocator for decoded messages: everything is freed at once by proto_arena_free. */
struct proto_arena_chunk;
struct proto_arena {
    struct proto_arena_chunk *head;
};
static inline void proto_arena_init(struct proto_arena *a) { a->head = NULL; }
void *proto_arena_alloc(struct proto_arena *a, size_t n); /* zeroed, 8-byte aligned; NULL on OOM */
char *proto_arena_strdup(struct proto_arena *a, proto_str s); /* NUL-terminated copy */
void proto_arena_free(struct proto_arena *a);

#endif
