/* proto_header: Kafka request headers v0-v2 and response headers v0-v1, and the choice between them.
 *
 * Request header v1/v2 carry client_id as a classic nullable string (even in v2); v2 and response v1 add a
 * tag buffer. Flexible (api, version) pairs use request v2 / response v1, except that ApiVersions
 * responses always use response header v0 (KIP-511), and ControlledShutdown v0 uses request header v0. */
#ifndef FERRY_PROTO_HEADER_H
#define FERRY_PROTO_HEADER_H

#include "proto_buf.h"

struct proto_request_header {
    int16_t api_key;
    int16_t api_version;
    int32_t correlation_id;
    proto_str client_id; /* points into the request buffer */
};

/* Which request header version a (key, version) uses; -1 if the key is unknown. */
int proto_request_header_version(int16_t api_key, int16_t api_version);
/* Which response header version a (key, version) uses; -1 if the key is unknown. */
int proto_response_header_version(int16_t api_key, int16_t api_version);

/* Reads the fixed start (key, version, correlation id) of any request; then, if the key and version are
 * known, the rest of the header. Returns 0, FERRY_EPARSE, or FERRY_EUNSUPPORTED when the key or
 * version is unknown (h->api_key, api_version and correlation_id are still filled in). */
int proto_read_request_header(struct proto_reader *r, struct proto_request_header *h);

void proto_write_request_header(struct proto_writer *w, const struct proto_request_header *h);
void proto_write_response_header(struct proto_writer *w, int16_t api_key, int16_t api_version,
                                 int32_t correlation_id);

#endif
