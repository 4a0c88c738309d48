/* proto_header: see proto_header.h. */
#include "proto_header.h"

#include "../common/ferry_err.h"
#include "proto_codec.h"

enum { API_CONTROLLED_SHUTDOWN = 7, API_API_VERSIONS = 18 };

int proto_request_header_version(int16_t api_key, int16_t api_version)
{
    const struct proto_message *m = proto_find(PROTO_KIND_REQUEST, api_key);
    if (!m)
        return -1;
    if (api_key == API_CONTROLLED_SHUTDOWN && api_version == 0)
        return 0;
    return proto_is_flexible(m, api_version) ? 2 : 1;
}

int proto_response_header_version(int16_t api_key, int16_t api_version)
{
    const struct proto_message *m = proto_find(PROTO_KIND_RESPONSE, api_key);
    if (!m)
        return -1;
    if (api_key == API_API_VERSIONS)
        return 0;
    return proto_is_flexible(m, api_version) ? 1 : 0;
}

int proto_read_request_header(struct proto_reader *r, struct proto_request_header *h)
{
    h->api_key = proto_read_i16(r);
    h->api_version = proto_read_i16(r);
    h->correlation_id = proto_read_i32(r);
    h->client_id = (proto_str){NULL, -1};
    if (r->err)
        return FERRY_EPARSE;
    const struct proto_message *m = proto_find(PROTO_KIND_REQUEST, h->api_key);
    if (!m)
        return FERRY_EUNSUPPORTED;
    /* Unknown versions of known keys still have a readable header: flexible iff above flexible_min. */
    int hv = proto_request_header_version(h->api_key, h->api_version);
    if (hv >= 1)
        h->client_id = proto_read_string(r, false, true);
    if (hv >= 2)
        proto_skip_tags(r);
    if (r->err)
        return FERRY_EPARSE;
    if (h->api_version < m->min_version || h->api_version > m->max_version)
        return FERRY_EUNSUPPORTED;
    return 0;
}

void proto_write_request_header(struct proto_writer *w, const struct proto_request_header *h)
{
    int hv = proto_request_header_version(h->api_key, h->api_version);
    proto_write_i16(w, h->api_key);
    proto_write_i16(w, h->api_version);
    proto_write_i32(w, h->correlation_id);
    if (hv >= 1)
        proto_write_string(w, false, h->client_id);
    if (hv >= 2)
        proto_write_uvarint(w, 0);
}

void proto_write_response_header(struct proto_writer *w, int16_t api_key, int16_t api_version,
                                 int32_t correlation_id)
{
    proto_write_i32(w, correlation_id);
    if (proto_response_header_version(api_key, api_version) >= 1)
        proto_write_uvarint(w, 0);
}
