/* proto_uuid: Kafka's Uuid (16 bytes) and its text form, 22 characters of unpadded base64url, the one
 * implementation every module uses (topic ids, cluster ids, directory ids, incarnation ids). */
#include <string.h>

#include "../common/ferry_err.h"
#include "proto_types.h"

static const char b64url[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

void proto_uuid_to_base64(proto_uuid u, char out[PROTO_UUID_B64_LEN + 1])
{
    int o = 0;
    for (int i = 0; i < 15; i += 3) {
        uint32_t v = (uint32_t)u.b[i] << 16 | (uint32_t)u.b[i + 1] << 8 | u.b[i + 2];
        out[o++] = b64url[(v >> 18) & 63];
        out[o++] = b64url[(v >> 12) & 63];
        out[o++] = b64url[(v >> 6) & 63];
        out[o++] = b64url[v & 63];
    }
    out[o++] = b64url[u.b[15] >> 2];
    out[o++] = b64url[(u.b[15] & 3) << 4];
    out[o] = '\0';
}

static int b64_value(char c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == '-')
        return 62;
    if (c == '_')
        return 63;
    return -1;
}

int proto_uuid_from_base64(const char *s, proto_uuid *out)
{
    size_t len = strlen(s);
    if (len == 24 && s[22] == '=' && s[23] == '=')
        len = 22;
    if (len != PROTO_UUID_B64_LEN)
        return FERRY_EPARSE;
    int v[PROTO_UUID_B64_LEN];
    for (int i = 0; i < PROTO_UUID_B64_LEN; i++)
        if ((v[i] = b64_value(s[i])) < 0)
            return FERRY_EPARSE;
    if (v[21] & 15) /* the last character carries 2 bits; the rest must be zero */
        return FERRY_EPARSE;
    int o = 0;
    for (int i = 0; i < 20; i += 4) {
        uint32_t x = (uint32_t)v[i] << 18 | (uint32_t)v[i + 1] << 12 | (uint32_t)v[i + 2] << 6 | (uint32_t)v[i + 3];
        out->b[o++] = (uint8_t)(x >> 16);
        out->b[o++] = (uint8_t)(x >> 8);
        out->b[o++] = (uint8_t)x;
    }
    out->b[15] = (uint8_t)(v[20] << 2 | v[21] >> 4);
    return 0;
}

bool proto_uuid_eq(proto_uuid a, proto_uuid b) { return memcmp(a.b, b.b, 16) == 0; }

bool proto_uuid_is_zero(proto_uuid a) { return proto_uuid_eq(a, (proto_uuid){{0}}); }
