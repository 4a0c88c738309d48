/* principal: a Kafka principal in the form an Envelope's RequestPrincipal carries it (Kafka 3.7's
 * DefaultKafkaPrincipalBuilder.serialize): an int16 version (0), then DefaultPrincipalData v0 (messages.def:
 * a flexible struct, Type and Name as compact strings, TokenAuthenticated, a tag buffer). A broker
 * forwarding a client's request puts the client's principal there ("User:ANONYMOUS" on a PLAINTEXT
 * listener); the controller reads it back. */
#ifndef FERRY_PRINCIPAL_H
#define FERRY_PRINCIPAL_H

#include "proto_buf.h"
#include "proto_messages.h"

/* The principal of every client of a PLAINTEXT listener (KafkaPrincipal.ANONYMOUS). */
struct DefaultPrincipalData kafka_principal_anonymous(void);

/* Appends the serialized principal to w (errors in w->err). */
void kafka_principal_write(struct proto_writer *w, const struct DefaultPrincipalData *p);

/* Reads a serialized principal (strings in bytes or a). 0, or FERRY_EPARSE for null bytes, another
 * version, a truncated value, trailing bytes or a null Type or Name (Kafka answers such an Envelope
 * PRINCIPAL_DESERIALIZATION_FAILURE), or FERRY_ENOMEM. */
int kafka_principal_read(proto_bytes bytes, struct proto_arena *a, struct DefaultPrincipalData *out);

#endif
