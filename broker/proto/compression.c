/* compression: see compression.h. gzip through zlib, lz4 through liblz4's frame API, zstd through libzstd
 * (each given ferry_alloc as its allocator); snappy blocks are decoded here from the format description
 * (github.com/google/snappy, format_description.txt): the format is small, and decoding it here keeps
 * every bound in one place and spares the proto module a C++ library. */
#define LZ4F_STATIC_LINKING_ONLY /* LZ4F_createDecompressionContext_advanced: custom allocator */
#define ZSTD_STATIC_LINKING_ONLY /* ZSTD_createDCtx_advanced, ZSTD_findDecompressedSize */
#include "compression.h"

#include <limits.h>
#include <lz4frame.h>
#include <string.h>
#include <zlib.h>
#include <zstd.h>
#include <zstd_errors.h>

#include "../common/ferry_alloc.h"
#include "../common/ferry_err.h"

/* ---- output buffer: grows by doubling, never past max_out + 1 bytes ---- */

struct obuf {
    uint8_t *p;
    size_t len;
    size_t cap;
    size_t max;   /* max_out */
    size_t limit; /* max_out + 1: holding that many bytes proves the output too big */
};

/* Makes room for `need` (>= 1) more bytes. FERRY_ETOOBIG if that would pass the limit. */
static int obuf_reserve(struct obuf *o, size_t need)
{
    if (o->cap - o->len >= need)
        return 0;
    if (need > o->limit - o->len)
        return FERRY_ETOOBIG;
    size_t want = o->len + need;
    size_t ncap = o->cap < 4096 ? 4096 : o->cap;
    while (ncap < want)
        ncap = ncap > o->limit / 2 ? o->limit : ncap * 2;
    if (ncap > o->limit)
        ncap = o->limit;
    uint8_t *np = ferry_realloc(o->p, ncap);
    if (!np)
        return FERRY_ENOMEM;
    o->p = np;
    o->cap = ncap;
    return 0;
}

/* A first allocation for codecs whose output size is unknown: four times the input, within the limit. */
static int obuf_reserve_guess(struct obuf *o, size_t in_len)
{
    size_t guess = in_len > SIZE_MAX / 4 ? SIZE_MAX : in_len * 4;
    if (guess > o->limit - o->len)
        guess = o->limit - o->len;
    return obuf_reserve(o, guess ? guess : 1);
}

/* ---- gzip (RFC 1952; members may be concatenated, as Java's GZIPInputStream allows) ---- */

static voidpf z_alloc(voidpf opaque, uInt items, uInt size)
{
    (void)opaque;
    if (size && items > SIZE_MAX / size)
        return Z_NULL;
    return ferry_malloc((size_t)items * size);
}

static void z_free(voidpf opaque, voidpf p)
{
    (void)opaque;
    ferry_free(p);
}

static int gunzip(const uint8_t *in, size_t len, struct obuf *o)
{
    if (len > UINT_MAX) /* a record batch is < 2 GiB; zlib counts input in uInt */
        return FERRY_ECORRUPT;
    z_stream zs;
    memset(&zs, 0, sizeof zs);
    zs.zalloc = z_alloc;
    zs.zfree = z_free;
    int zrc = inflateInit2(&zs, 16 + MAX_WBITS); /* gzip wrapper only */
    if (zrc != Z_OK)
        return zrc == Z_MEM_ERROR ? FERRY_ENOMEM : FERRY_ECORRUPT;
    zs.next_in = (Bytef *)in;
    zs.avail_in = (uInt)len;
    int rc = obuf_reserve_guess(o, len);
    while (rc == 0) {
        if (o->len == o->cap && (rc = obuf_reserve(o, 1)) != 0)
            break;
        size_t room = o->cap - o->len;
        if (room > UINT_MAX)
            room = UINT_MAX;
        zs.next_out = o->p + o->len;
        zs.avail_out = (uInt)room;
        zrc = inflate(&zs, Z_NO_FLUSH);
        o->len += room - zs.avail_out;
        if (o->len > o->max) {
            rc = FERRY_ETOOBIG;
        } else if (zrc == Z_STREAM_END) {
            if (zs.avail_in == 0)
                break; /* done */
            /* Bytes after a member: only another gzip member may follow. */
            if (zs.avail_in < 2 || zs.next_in[0] != 0x1f || zs.next_in[1] != 0x8b || inflateReset(&zs) != Z_OK)
                rc = FERRY_ECORRUPT;
        } else if (zrc == Z_OK || (zrc == Z_BUF_ERROR && zs.avail_out == 0)) {
            continue; /* progress made, or the output is full: grow and go on */
        } else {
            /* Z_BUF_ERROR with room left: the input ended mid-stream. Z_DATA_ERROR, Z_NEED_DICT: garbage. */
            rc = zrc == Z_MEM_ERROR ? FERRY_ENOMEM : FERRY_ECORRUPT;
        }
    }
    inflateEnd(&zs);
    return rc;
}

/* ---- snappy: raw blocks (librdkafka) and xerial framing (Java, kafka-python) ---- */

static const uint8_t xerial_magic[8] = {0x82, 'S', 'N', 'A', 'P', 'P', 'Y', 0};
#define XERIAL_HEADER_SIZE 16 /* magic, int32 version, int32 compatible version */

/* Decodes one raw snappy block and appends it to o. Copies refer only to this block's own output. */
static int snappy_block(const uint8_t *in, size_t len, struct obuf *o)
{
    size_t ip = 0;
    uint64_t ulen = 0;
    for (int shift = 0;; shift += 7) { /* preamble: the uncompressed length, a uvarint of at most 32 bits */
        if (ip >= len || shift > 28)
            return FERRY_ECORRUPT;
        uint8_t b = in[ip++];
        ulen |= (uint64_t)(b & 0x7f) << shift;
        if (!(b & 0x80))
            break;
    }
    if (ulen > UINT32_MAX)
        return FERRY_ECORRUPT;
    /* Every element takes at least 3 input bytes per 64 output bytes (a 2-byte-offset copy); a length
     * the rest of the input cannot produce is a lie: refuse it before allocating for it. */
    size_t rest = len - ip;
    if (rest < SIZE_MAX / 64 && ulen > (uint64_t)((rest + 2) / 3) * 64)
        return FERRY_ECORRUPT;
    if (ulen > o->max - o->len)
        return FERRY_ETOOBIG;
    if (ulen == 0) /* an empty block is its preamble alone */
        return ip == len ? 0 : FERRY_ECORRUPT;
    int rc = obuf_reserve(o, (size_t)ulen);
    if (rc)
        return rc;
    uint8_t *base = o->p + o->len;
    size_t op = 0, n, off;
    while (ip < len) {
        uint8_t tag = in[ip++];
        switch (tag & 3) {
        case 0: /* literal: length-1 in the tag's upper 6 bits, or in 1-4 little-endian bytes after it */
            n = tag >> 2;
            if (n >= 60) {
                size_t nb = n - 59;
                if (len - ip < nb)
                    return FERRY_ECORRUPT;
                n = 0;
                for (size_t i = 0; i < nb; i++)
                    n |= (size_t)in[ip + i] << (8 * i);
                ip += nb;
            }
            n += 1;
            if (len - ip < n || ulen - op < n)
                return FERRY_ECORRUPT;
            memcpy(base + op, in + ip, n);
            ip += n;
            op += n;
            continue;
        case 1: /* copy, length 4-11, 11-bit offset */
            if (len - ip < 1)
                return FERRY_ECORRUPT;
            n = 4 + ((tag >> 2) & 7);
            off = ((size_t)(tag >> 5) << 8) | in[ip];
            ip += 1;
            break;
        case 2: /* copy, length 1-64, 16-bit offset */
            if (len - ip < 2)
                return FERRY_ECORRUPT;
            n = 1 + (size_t)(tag >> 2);
            off = (size_t)in[ip] | (size_t)in[ip + 1] << 8;
            ip += 2;
            break;
        default: /* copy, length 1-64, 32-bit offset */
            if (len - ip < 4)
                return FERRY_ECORRUPT;
            n = 1 + (size_t)(tag >> 2);
            off = (size_t)in[ip] | (size_t)in[ip + 1] << 8 | (size_t)in[ip + 2] << 16 | (size_t)in[ip + 3] << 24;
            ip += 4;
            break;
        }
        if (off == 0 || off > op || ulen - op < n)
            return FERRY_ECORRUPT;
        uint8_t *d = base + op;
        const uint8_t *s = d - off;
        if (off >= n)
            memcpy(d, s, n);
        else
            for (size_t i = 0; i < n; i++) /* overlapping: repeats the last `off` bytes */
                d[i] = s[i];
        op += n;
    }
    if (op != ulen)
        return FERRY_ECORRUPT;
    o->len += (size_t)ulen;
    return 0;
}

static int unsnappy(const uint8_t *in, size_t len, struct obuf *o)
{
    if (len < sizeof xerial_magic || memcmp(in, xerial_magic, sizeof xerial_magic) != 0)
        return snappy_block(in, len, o);
    /* xerial: the header (its version fields are not checked, as librdkafka does not), then
     * [int32 big-endian length][raw block] chunks up to the end. */
    if (len < XERIAL_HEADER_SIZE)
        return FERRY_ECORRUPT;
    size_t pos = XERIAL_HEADER_SIZE;
    while (pos < len) {
        if (len - pos < 4)
            return FERRY_ECORRUPT;
        size_t clen = (size_t)in[pos] << 24 | (size_t)in[pos + 1] << 16 | (size_t)in[pos + 2] << 8 | in[pos + 3];
        pos += 4;
        if (clen > len - pos)
            return FERRY_ECORRUPT;
        int rc = snappy_block(in + pos, clen, o);
        if (rc)
            return rc;
        pos += clen;
    }
    return 0;
}

/* ---- lz4 frame (frames may be concatenated) ---- */

static void *lz4_alloc(void *opaque, size_t n)
{
    (void)opaque;
    return ferry_malloc(n);
}

static void *lz4_calloc(void *opaque, size_t n)
{
    (void)opaque;
    return ferry_calloc(1, n);
}

static void lz4_free(void *opaque, void *p)
{
    (void)opaque;
    ferry_free(p);
}

static int unlz4(const uint8_t *in, size_t len, struct obuf *o)
{
    LZ4F_CustomMem mem = {lz4_alloc, lz4_calloc, lz4_free, NULL};
    LZ4F_dctx *dctx = LZ4F_createDecompressionContext_advanced(mem, LZ4F_VERSION);
    if (!dctx)
        return FERRY_ENOMEM;
    size_t pos = 0;
    int rc = obuf_reserve_guess(o, len);
    while (rc == 0) {
        if (o->len == o->cap && (rc = obuf_reserve(o, 1)) != 0)
            break;
        size_t room = o->cap - o->len, src = len - pos, dst = room;
        size_t hint = LZ4F_decompress(dctx, o->p + o->len, &dst, in + pos, &src, NULL);
        if (LZ4F_isError(hint)) {
            rc = LZ4F_getErrorCode(hint) == LZ4F_ERROR_allocation_failed ? FERRY_ENOMEM : FERRY_ECORRUPT;
            break;
        }
        pos += src;
        o->len += dst;
        if (o->len > o->max)
            rc = FERRY_ETOOBIG;
        else if (hint == 0 && pos == len)
            break; /* the last frame ended with the input */
        else if (hint != 0 && pos == len && dst < room)
            rc = FERRY_ECORRUPT; /* everything decoded and flushed, and the frame wants more input */
        else if (src == 0 && dst == 0 && hint != 0 && pos < len)
            rc = FERRY_ECORRUPT; /* no progress with input and room left: never loop forever */
        /* hint == 0 with input left: another frame follows (the context starts one by itself). */
    }
    LZ4F_freeDecompressionContext(dctx);
    return rc;
}

/* ---- zstd (frames may be concatenated; skippable frames are skipped) ---- */

static void *zstd_alloc(void *opaque, size_t n)
{
    (void)opaque;
    return ferry_malloc(n);
}

static void zstd_free(void *opaque, void *p)
{
    (void)opaque;
    ferry_free(p);
}

static int zstd_error(size_t r)
{
    switch (ZSTD_getErrorCode(r)) {
    case ZSTD_error_memory_allocation:
        return FERRY_ENOMEM;
    case ZSTD_error_frameParameter_windowTooLarge:
        return FERRY_ETOOBIG;
    default:
        return FERRY_ECORRUPT;
    }
}

static int unzstd(const uint8_t *in, size_t len, struct obuf *o)
{
    /* The frame headers first: a stated size over the bound is refused before anything is allocated. */
    unsigned long long total = ZSTD_findDecompressedSize(in, len);
    if (total == ZSTD_CONTENTSIZE_ERROR)
        return FERRY_ECORRUPT;
    if (total != ZSTD_CONTENTSIZE_UNKNOWN && total > o->max - o->len)
        return FERRY_ETOOBIG;
    ZSTD_customMem mem = {zstd_alloc, zstd_free, NULL};
    ZSTD_DCtx *dctx = ZSTD_createDCtx_advanced(mem);
    if (!dctx)
        return FERRY_ENOMEM;
    /* Streaming keeps a window of up to 2^windowLog bytes besides the output: no window may be larger
     * than the output allowed (and never past zstd's default limit of 2^27). */
    int wlog = ZSTD_WINDOWLOG_MIN;
    while (wlog < ZSTD_WINDOWLOG_LIMIT_DEFAULT && ((size_t)1 << wlog) < o->max)
        wlog++;
    int rc = 0;
    if (ZSTD_isError(ZSTD_DCtx_setParameter(dctx, ZSTD_d_windowLogMax, wlog))) {
        rc = FERRY_ECORRUPT;
    } else if (total != ZSTD_CONTENTSIZE_UNKNOWN) {
        /* Every frame states its size: one call, straight into a buffer of exactly that size. */
        if (total > 0)
            rc = obuf_reserve(o, (size_t)total);
        size_t r = rc ? 0 : ZSTD_decompressDCtx(dctx, o->p ? o->p + o->len : NULL, (size_t)total, in, len);
        if (rc == 0 && ZSTD_isError(r))
            rc = zstd_error(r);
        else if (rc == 0 && r != total)
            rc = FERRY_ECORRUPT;
        else if (rc == 0)
            o->len += r;
    } else {
        ZSTD_inBuffer ib = {in, len, 0};
        rc = obuf_reserve_guess(o, len);
        while (rc == 0) {
            if (o->len == o->cap && (rc = obuf_reserve(o, 1)) != 0)
                break;
            ZSTD_outBuffer ob = {o->p, o->cap, o->len};
            size_t r = ZSTD_decompressStream(dctx, &ob, &ib);
            if (ZSTD_isError(r)) {
                rc = zstd_error(r);
                break;
            }
            o->len = ob.pos;
            if (o->len > o->max)
                rc = FERRY_ETOOBIG;
            else if (r == 0 && ib.pos == ib.size)
                break; /* the last frame is decoded and flushed */
            else if (r != 0 && ib.pos == ib.size && ob.pos < ob.size)
                rc = FERRY_ECORRUPT; /* all flushed, the input is used up, and the frame is not done */
        }
    }
    ZSTD_freeDCtx(dctx);
    return rc;
}

/* ---- entry points ---- */

int compression_decompress(int codec, const uint8_t *in, size_t len, size_t max_out, uint8_t **out,
                           size_t *out_len)
{
    *out = NULL;
    *out_len = 0;
    if (codec < COMPRESSION_GZIP || codec > COMPRESSION_ZSTD)
        return FERRY_EUNSUPPORTED;
    if (!in || len == 0) /* no codec's stream is empty */
        return FERRY_ECORRUPT;
    struct obuf o = {NULL, 0, 0, max_out, max_out == SIZE_MAX ? SIZE_MAX : max_out + 1};
    int rc;
    switch (codec) {
    case COMPRESSION_GZIP:
        rc = gunzip(in, len, &o);
        break;
    case COMPRESSION_SNAPPY:
        rc = unsnappy(in, len, &o);
        break;
    case COMPRESSION_LZ4:
        rc = unlz4(in, len, &o);
        break;
    default:
        rc = unzstd(in, len, &o);
        break;
    }
    if (rc == 0 && o.len > max_out)
        rc = FERRY_ETOOBIG;
    if (rc == 0 && !o.p && !(o.p = ferry_malloc(1)))
        rc = FERRY_ENOMEM;
    if (rc) {
        ferry_free(o.p);
        return rc;
    }
    *out = o.p;
    *out_len = o.len;
    return 0;
}

const char *compression_name(int codec)
{
    static const char *const names[] = {"none", "gzip", "snappy", "lz4", "zstd"};
    return codec >= 0 && codec <= COMPRESSION_ZSTD ? names[codec] : "unknown";
}
