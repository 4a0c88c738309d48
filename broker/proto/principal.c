/* principal: see principal.h. */
#include "principal.h"

#include "broker/common/ferry_err.h"
#include "proto_codec.h"

#define PRINCIPAL_DATA_VERSION 0

struct DefaultPrincipalData kafka_principal_anonymous(void)
{
    return (struct DefaultPrincipalData){proto_str_from("User"), proto_str_from("ANONYMOUS"), false};
}

void kafka_principal_write(struct proto_writer *w, const struct DefaultPrincipalData *p)
{
    proto_write_i16(w, PRINCIPAL_DATA_VERSION);
    int rc = proto_encode(&proto_msg_DefaultPrincipalData, PRINCIPAL_DATA_VERSION, w, p);
    if (rc && !w->err)
        w->err = rc;
}

int kafka_principal_read(proto_bytes bytes, struct proto_arena *a, struct DefaultPrincipalData *out)
{
    if (bytes.len < 0 || !bytes.p)
        return FERRY_EPARSE;
    struct proto_reader r;
    proto_reader_init(&r, bytes.p, (size_t)bytes.len);
    if (proto_read_i16(&r) != PRINCIPAL_DATA_VERSION || r.err)
        return FERRY_EPARSE;
    int rc = proto_decode(&proto_msg_DefaultPrincipalData, PRINCIPAL_DATA_VERSION, &r, a, out);
    if (rc == FERRY_ENOMEM)
        return rc;
    return rc || proto_reader_left(&r) != 0 || out->Type.len < 0 || out->Name.len < 0 ? FERRY_EPARSE : 0;
}
