/* proto_types: the value types of Kafka's wire format and the descriptor tables that describe messages.
 *
 * Decoded messages are plain C structs generated from messages.def (see proto_messages.h). Strings and
 * byte fields point into the buffer they were decoded from (no copy); arrays live in the decode arena.
 * The descriptor tables (struct proto_message / proto_struct / proto_field) drive the one generic codec
 * in proto_codec.c. */
#ifndef FERRY_PROTO_TYPES_H
#define FERRY_PROTO_TYPES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* A Kafka string: not NUL-terminated; len -1 means null. */
typedef struct {
    const char *p;
    int32_t len;
} proto_str;

/* Kafka bytes or records: len -1 means null. */
typedef struct {
    const uint8_t *p;
    int32_t len;
} proto_bytes;

typedef struct {
    uint8_t b[16];
} proto_uuid;

/* Kafka's Uuid text form: 22 characters of unpadded base64url (proto_uuid.c). */
#define PROTO_UUID_B64_LEN 22
void proto_uuid_to_base64(proto_uuid u, char out[PROTO_UUID_B64_LEN + 1]);
/* 22 base64url characters (or 24 with "==" padding): 0 or FERRY_EPARSE. */
int proto_uuid_from_base64(const char *s, proto_uuid *out);
bool proto_uuid_eq(proto_uuid a, proto_uuid b);
bool proto_uuid_is_zero(proto_uuid a);

enum proto_type {
    PROTO_T_BOOL = 1,
    PROTO_T_INT8,
    PROTO_T_INT16,
    PROTO_T_UINT16,
    PROTO_T_INT32,
    PROTO_T_UINT32,
    PROTO_T_INT64,
    PROTO_T_FLOAT64,
    PROTO_T_UUID,
    PROTO_T_STRING,
    PROTO_T_BYTES,
    PROTO_T_RECORDS,
    PROTO_T_STRUCT,
    PROTO_T_ARRAY, /* element type in proto_field.elem */
};

enum proto_kind {
    PROTO_KIND_REQUEST,
    PROTO_KIND_RESPONSE,
    PROTO_KIND_METADATA, /* metadata log records (ApiMessageAndVersion) */
    PROTO_KIND_DATA,     /* control-record values and other standalone data */
};

struct proto_struct;

/* One field of a struct. Version ranges are inclusive; -1 as minimum means "never". */
struct proto_field {
    const char *name;
    uint8_t type;
    uint8_t elem;
    int16_t vmin, vmax;       /* versions in which the field exists */
    int16_t nullmin, nullmax; /* versions in which it may be null */
    int32_t tag;              /* tagged-field number, -1 if not tagged */
    int16_t tagmin, tagmax;   /* versions in which it is tagged */
    uint32_t offset;          /* of the value in the C struct */
    uint32_t count_offset;    /* arrays: of the int32_t count; struct fields: of the bool isnull flag */
    const struct proto_struct *sub;
    int64_t default_int;      /* numeric/bool default */
    uint8_t default_null;     /* default is null (strings, bytes, arrays, structs) */
};

struct proto_struct {
    const char *name;
    size_t size;
    uint16_t nfields;
    const struct proto_field *fields;
};

struct proto_message {
    const char *name;
    int16_t api_key; /* -1 for data messages */
    uint8_t kind;
    int16_t min_version, max_version;
    int16_t flexible_min; /* -1: never flexible */
    const struct proto_struct *body;
};

static inline bool proto_is_flexible(const struct proto_message *m, int16_t version)
{
    return m->flexible_min >= 0 && version >= m->flexible_min;
}

/* Builds a proto_str from a NUL-terminated C string (NULL gives a null string). */
proto_str proto_str_from(const char *s);
/* True when s holds exactly the NUL-terminated c. */
bool proto_str_eq(proto_str s, const char *c);

#endif
