/* proto_codec: the one table-driven encoder and decoder for every Kafka message, metadata record and
 * control message described in messages.def.
 *
 * Decoding fills a generated struct (proto_messages.h); arrays are allocated in the caller's arena,
 * strings and bytes point into the input buffer, so the input must outlive the decoded struct. Unknown
 * tagged fields are skipped. Encoding appends to a proto_writer; tagged fields are written only when they
 * differ from their defaults. The caller chooses the version; flexibility follows from it. */
#ifndef FERRY_PROTO_CODEC_H
#define FERRY_PROTO_CODEC_H

#include "proto_buf.h"
#include "proto_messages.h"
#include "proto_types.h"

/* Decodes one message body at `version` from r into out (a struct of m's type). Returns 0, or
 * FERRY_EPARSE (malformed or truncated input), FERRY_EUNSUPPORTED (version outside m's range) or
 * FERRY_ENOMEM. The reader is left after the body; trailing bytes are the caller's business. */
int proto_decode(const struct proto_message *m, int16_t version, struct proto_reader *r, struct proto_arena *a,
                 void *out);

/* Appends m's body at `version`. Returns 0, FERRY_EUNSUPPORTED or FERRY_ENOMEM. */
int proto_encode(const struct proto_message *m, int16_t version, struct proto_writer *w, const void *in);

/* Sets every field of obj (a struct described by s) to its schema default. */
void proto_struct_init(const struct proto_struct *s, void *obj);

/* Allocates n default-initialised elements of struct s in the arena (NULL on OOM; n may be 0). */
void *proto_array_new(struct proto_arena *a, const struct proto_struct *s, int32_t n);

/* Finds a message by kind and api key (metadata records use their record type as key); NULL if none. */
const struct proto_message *proto_find(enum proto_kind kind, int16_t api_key);

#endif
