/* log_uuid: Kafka's Uuid text form (unpadded base64url of the 16 bytes) and random ids. See log.h. */
#include <errno.h>
#include <string.h>
#include <sys/random.h>

#include "broker/common/ferry_err.h"
#include "log.h"

static const char b64url[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

void log_uuid_to_base64(proto_uuid u, char out[LOG_UUID_B64_LEN + 1])
{
    size_t o = 0;
    for (size_t i = 0; i < 16; i += 3) {
        uint32_t v = (uint32_t)u.b[i] << 16;
        if (i + 1 < 16)
            v |= (uint32_t)u.b[i + 1] << 8;
        if (i + 2 < 16)
            v |= u.b[i + 2];
        out[o++] = b64url[(v >> 18) & 63];
        out[o++] = b64url[(v >> 12) & 63];
        if (i + 1 < 16)
            out[o++] = b64url[(v >> 6) & 63];
        if (i + 2 < 16)
            out[o++] = b64url[v & 63];
    }
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

int log_uuid_from_base64(const char *s, proto_uuid *out)
{
    if (strlen(s) != LOG_UUID_B64_LEN)
        return FERRY_EPARSE;
    uint8_t bytes[18];
    size_t nb = 0;
    uint32_t acc = 0;
    int bits = 0;
    for (size_t i = 0; i < LOG_UUID_B64_LEN; i++) {
        int v = b64_value(s[i]);
        if (v < 0)
            return FERRY_EPARSE;
        acc = (acc << 6) | (uint32_t)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            bytes[nb++] = (uint8_t)(acc >> bits);
        }
    }
    if (nb != 16)
        return FERRY_EPARSE;
    memcpy(out->b, bytes, 16);
    return 0;
}

static bool uuid_reserved(const proto_uuid *u)
{
    /* Kafka reserves the ids whose most significant 64 bits are zero and least significant < 100
     * (ZERO_UUID, ONE_UUID = the metadata topic id, DirectoryId.UNASSIGNED/LOST/MIGRATING, ...). */
    for (int i = 0; i < 15; i++)
        if (u->b[i] != 0)
            return false;
    return u->b[15] < 100;
}

int log_uuid_random(proto_uuid *out)
{
    for (;;) {
        size_t got = 0;
        while (got < 16) {
            ssize_t n = getrandom(out->b + got, 16 - got, 0);
            if (n < 0) {
                if (errno == EINTR)
                    continue;
                return FERRY_EIO;
            }
            got += (size_t)n;
        }
        out->b[6] = (uint8_t)((out->b[6] & 0x0f) | 0x40); /* version 4, as java.util.UUID.randomUUID */
        out->b[8] = (uint8_t)((out->b[8] & 0x3f) | 0x80); /* IETF variant */
        char s[LOG_UUID_B64_LEN + 1];
        log_uuid_to_base64(*out, s);
        if (!uuid_reserved(out) && s[0] != '-')
            return 0;
    }
}
