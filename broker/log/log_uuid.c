/* log_uuid: Kafka's Uuid text form (unpadded base64url of the 16 bytes) and random ids. See log.h. */
#include <errno.h>
#include <string.h>
#include <sys/random.h>

#include "broker/common/ferry_err.h"
#include "log.h"

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
        char s[PROTO_UUID_B64_LEN + 1];
        proto_uuid_to_base64(*out, s);
        if (!uuid_reserved(out) && s[0] != '-')
            return 0;
    }
}
