/* cleaner_read: reading a segment batch by batch for the cleaner's worker (internal), through a buffer of
 * about CLEAN_READ_CHUNK bytes (grown only for a larger batch), so that the memory a clean needs does not
 * grow with segment.bytes. Each batch is checked (framing, magic, CRC) as it is read. */
#include <string.h>

#include "broker/common/ferry_alloc.h"
#include "broker/common/ferry_err.h"
#include "broker/proto/proto_buf.h"
#include "cleaner_internal.h"
#include "log_fs.h"

#define CLEAN_READ_CHUNK (1u << 20)

void clean_reader_init(struct clean_reader *r, int fd, uint32_t size)
{
    memset(r, 0, sizeof *r);
    r->fd = fd;
    r->size = size;
}

void clean_reader_free(struct clean_reader *r)
{
    ferry_free(r->buf);
    r->buf = NULL;
}

/* Makes bytes [pos, pos + n) of the file available in the buffer. */
static int ensure(struct clean_reader *r, size_t n)
{
    if (r->pos + n <= r->buf_pos + r->len)
        return 0;
    size_t have = (size_t)(r->buf_pos + r->len - r->pos);
    if (have)
        memmove(r->buf, r->buf + (r->pos - r->buf_pos), have);
    r->buf_pos = r->pos;
    r->len = have;
    size_t want = n > CLEAN_READ_CHUNK ? n : CLEAN_READ_CHUNK;
    if (want > r->size - r->pos)
        want = (size_t)(r->size - r->pos);
    if (want > r->cap) {
        uint8_t *nb = ferry_realloc(r->buf, want);
        if (!nb)
            return FERRY_ENOMEM;
        r->buf = nb;
        r->cap = want;
    }
    int rc = log_pread_full(r->fd, r->buf + r->len, want - r->len, (off_t)(r->pos + r->len));
    if (rc)
        return rc;
    r->len = want;
    return 0;
}

int clean_reader_next(struct clean_reader *r, const uint8_t **batch, size_t *len, struct rb_header *h)
{
    if (r->pos >= r->size)
        return 0;
    if (r->size - r->pos < RB_HEADER_SIZE)
        return FERRY_ECORRUPT;
    int rc = ensure(r, RB_HEADER_SIZE);
    if (rc)
        return rc;
    const uint8_t *p = r->buf + (r->pos - r->buf_pos);
    int32_t bl = (int32_t)proto_be32(p + 8);
    if (bl < RB_HEADER_SIZE - RB_LOG_OVERHEAD || (uint64_t)bl + RB_LOG_OVERHEAD > r->size - r->pos)
        return FERRY_ECORRUPT;
    size_t total = (size_t)bl + RB_LOG_OVERHEAD;
    rc = ensure(r, total);
    if (rc)
        return rc;
    p = r->buf + (r->pos - r->buf_pos);
    if (rb_validate(p, total, h) != 0)
        return FERRY_ECORRUPT;
    *batch = p;
    *len = total;
    r->pos += total;
    return 1;
}
