/* group_service: the group coordinator's loop adapter and its __consumer_offsets persistence (see
 * group_service.h). */
#include "group_service.h"

#include <inttypes.h>
#include <string.h>
#include <time.h>

#include "broker/common/ferry_alloc.h"
#include "broker/common/ferry_err.h"
#include "broker/common/ferry_log.h"
#include "broker/proto/record_batch.h"
#include "group_records.h"

#define LOAD_CHUNK_BYTES (1u << 20)
/* The next chunk is read 1 ms later, never at 0 ms: a timer restarted at 0 ms from its own callback runs
 * again in the same loop turn (libuv before 1.45), so a whole partition would load before any I/O. */
#define LOAD_YIELD_MS 1

enum part_state { PART_NOT_HOSTED, PART_LOADING, PART_LOADED };

struct part {
    enum part_state state;
    struct plog *log;
    int64_t load_pos, load_end;
    int64_t loaded_records, skipped;
    /* records waiting to be written: keys and values, back to back */
    struct proto_writer keys;
    int32_t n;
};

struct group_service {
    struct group_coord *coord;
    struct group_sink outer; /* join/sync answers go to the API layer */
    struct group_io io;
    uv_timer_t deadline;
    uv_timer_t expiry;
    uv_timer_t loader;
    int32_t nparts;
    struct part *parts;
    int closing;
};

int64_t group_service_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int32_t group_service_partition(const struct group_service *s, proto_str group_id)
{
    return group_partition_for(group_id, s->nparts);
}

/* ---- records collected from the core ---- */

/* A pending record is stored as int32 key length, key, int32 value length (-1: null), value. */
static void add_record(struct group_service *s, const char *group, struct proto_writer *kv_key,
                       struct proto_writer *kv_value, bool tombstone)
{
    proto_str g = {group, (int32_t)strlen(group)};
    struct part *p = &s->parts[group_service_partition(s, g)];
    proto_write_i32(&p->keys, (int32_t)kv_key->len);
    proto_write_raw(&p->keys, kv_key->buf, kv_key->len);
    if (tombstone) {
        proto_write_i32(&p->keys, -1);
    } else {
        proto_write_i32(&p->keys, (int32_t)kv_value->len);
        proto_write_raw(&p->keys, kv_value->buf, kv_value->len);
    }
    p->n++;
}

static void on_offset_record(void *ctx, const char *group, const char *topic, int32_t partition,
                             const struct group_offset_value *v)
{
    struct group_service *s = ctx;
    struct proto_writer k, val;
    proto_writer_init(&k);
    proto_writer_init(&val);
    if (group_rec_offset_key(&k, group, topic, partition) == 0 && (!v || group_rec_offset_value(&val, v) == 0))
        add_record(s, group, &k, &val, v == NULL);
    proto_writer_free(&k);
    proto_writer_free(&val);
}

static void on_group_record(void *ctx, const char *group, const struct group_meta *meta)
{
    struct group_service *s = ctx;
    struct proto_writer k, val;
    proto_writer_init(&k);
    proto_writer_init(&val);
    if (group_rec_group_key(&k, group) == 0 && (!meta || group_rec_group_value(&val, meta) == 0))
        add_record(s, group, &k, &val, meta == NULL);
    proto_writer_free(&k);
    proto_writer_free(&val);
}

static void on_join(void *ctx, void *token, const struct group_join_result *r)
{
    struct group_service *s = ctx;
    s->outer.join_done(s->outer.ctx, token, r);
}

static void on_sync(void *ctx, void *token, const struct group_sync_result *r)
{
    struct group_service *s = ctx;
    s->outer.sync_done(s->outer.ctx, token, r);
}

/* ---- writing ---- */

struct persist_op {
    group_persist_fn done;
    void *arg;
    int outstanding;
    int16_t err;
};

static void persist_one_done(void *arg, int rc)
{
    struct persist_op *op = arg;
    if (rc && !op->err)
        op->err = KERR_COORDINATOR_NOT_AVAILABLE;
    if (--op->outstanding == 0) {
        if (op->done)
            op->done(op->arg, op->err);
        ferry_free(op);
    }
}

static uint8_t *build_batch(struct part *p, int64_t now, size_t *len)
{
    struct proto_writer w;
    proto_writer_init(&w);
    struct rb_builder b;
    rb_builder_begin(&b, &w, 0, -1, 0, now);
    struct proto_reader r;
    proto_reader_init(&r, p->keys.buf, p->keys.len);
    for (int32_t i = 0; i < p->n; i++) {
        int32_t kl = proto_read_i32(&r);
        proto_bytes key = {r.p + r.pos, kl};
        r.pos += (size_t)kl;
        int32_t vl = proto_read_i32(&r);
        proto_bytes value = {vl >= 0 ? r.p + r.pos : NULL, vl};
        if (vl > 0)
            r.pos += (size_t)vl;
        rb_builder_add(&b, now, key, value);
    }
    if (rb_builder_finish(&b) != 0 || w.err) {
        proto_writer_free(&w);
        return NULL;
    }
    *len = w.len;
    return w.buf; /* the writer's buffer, ferry_malloc'd */
}

void group_service_persist(struct group_service *s, group_persist_fn done, void *arg)
{
    struct persist_op *op = ferry_calloc(1, sizeof *op);
    if (!op) {
        if (done)
            done(arg, KERR_UNKNOWN_SERVER_ERROR);
        return;
    }
    op->done = done;
    op->arg = arg;
    op->outstanding = 1; /* held until every append is issued */
    int64_t now = group_service_now();
    for (int32_t i = 0; s->parts && i < s->nparts; i++) {
        struct part *p = &s->parts[i];
        if (!p->n)
            continue;
        size_t len = 0;
        uint8_t *batch = build_batch(p, now, &len);
        int32_t n = p->n;
        proto_writer_free(&p->keys);
        proto_writer_init(&p->keys);
        p->n = 0;
        if (!batch) {
            op->err = KERR_UNKNOWN_SERVER_ERROR;
            continue;
        }
        op->outstanding++;
        int rc = s->io.append ? s->io.append(s->io.ctx, i, batch, len, persist_one_done, op) : FERRY_ENOTFOUND;
        if (rc) {
            LOG_WARN("group", "cannot write %d records to __consumer_offsets-%d: %s", n, i, ferry_strerror(rc));
            op->outstanding--;
            if (!op->err)
                op->err = KERR_NOT_COORDINATOR;
        }
    }
    persist_one_done(op, 0);
}

/* ---- loading ---- */

static void load_record(struct group_service *s, int32_t partition, int64_t offset, const struct rb_record *rec)
{
    struct proto_arena a;
    proto_arena_init(&a);
    struct group_rec r;
    int rc = group_rec_decode(rec->key, rec->value, &a, &r);
    if (rc) {
        s->parts[partition].skipped++;
        LOG_WARN("group", "__consumer_offsets-%d offset %" PRId64 ": corrupt record skipped (%s)", partition, offset,
                 ferry_strerror(rc));
    } else if (r.kind == GROUP_REC_OFFSET) {
        group_coord_load_offset(s->coord, r.group, r.topic, r.partition, r.value_null ? NULL : &r.offset);
    } else if (r.value_null) {
        group_coord_unload_group(s->coord, r.group);
    } else {
        group_coord_load_group(s->coord, r.group, r.protocol_type, r.generation, r.protocol, r.state_timestamp);
    }
    s->parts[partition].loaded_records++;
    proto_arena_free(&a);
}

static void load_batch(struct group_service *s, int32_t partition, const uint8_t *batch, size_t len,
                       const struct rb_header *h)
{
    if (h->attributes & RB_ATTR_CONTROL)
        return;
    if (h->attributes & RB_ATTR_COMPRESSION_MASK) {
        s->parts[partition].skipped++;
        LOG_WARN("group", "__consumer_offsets-%d offset %" PRId64 ": compressed batch skipped", partition,
                 h->base_offset);
        return;
    }
    struct proto_reader r;
    proto_reader_init(&r, batch + RB_HEADER_SIZE, len - RB_HEADER_SIZE);
    for (int32_t i = 0; i < h->record_count; i++) {
        struct rb_record rec;
        if (rb_read_record(&r, &rec) != 0) {
            s->parts[partition].skipped++;
            LOG_WARN("group", "__consumer_offsets-%d offset %" PRId64 ": corrupt batch, rest skipped", partition,
                     h->base_offset + i);
            return;
        }
        load_record(s, partition, h->base_offset + rec.offset_delta, &rec);
    }
}

static void on_load_step(uv_timer_t *t)
{
    struct group_service *s = t->data;
    bool more = false;
    for (int32_t i = 0; i < s->nparts; i++) {
        struct part *p = &s->parts[i];
        if (p->state != PART_LOADING)
            continue;
        struct plog_read_result res;
        memset(&res, 0, sizeof res);
        int rc = p->load_pos < p->load_end
                     ? plog_read(p->log, p->load_pos, LOAD_CHUNK_BYTES, true, p->load_end, &res)
                     : 0;
        if (rc == FERRY_ERANGE && res.log_start_offset > p->load_pos) {
            p->load_pos = res.log_start_offset; /* retention moved the start */
            more = true;
            continue;
        }
        if (rc || res.len == 0) {
            if (rc)
                LOG_WARN("group", "__consumer_offsets-%d: load stopped at offset %" PRId64 ": %s", i, p->load_pos,
                         ferry_strerror(rc));
            else if (p->load_pos < p->load_end)
                LOG_WARN("group", "__consumer_offsets-%d: load stopped at offset %" PRId64
                                  " (unreadable batch), %" PRId64 " offsets not loaded",
                         i, p->load_pos, p->load_end - p->load_pos);
            ferry_free(res.data);
            p->state = PART_LOADED;
            LOG_INFO("group", "__consumer_offsets-%d loaded: %" PRId64 " records, %" PRId64 " skipped", i,
                     p->loaded_records, p->skipped);
            continue;
        }
        struct rb_iter it;
        rb_iter_init(&it, res.data, res.len);
        const uint8_t *batch;
        size_t blen;
        struct rb_header h;
        while (rb_iter_next(&it, &batch, &blen, &h) == 1)
            load_batch(s, i, batch, blen, &h);
        p->load_pos = res.next_offset > p->load_pos ? res.next_offset : p->load_end;
        ferry_free(res.data);
        more = true;
    }
    if (more && !s->closing)
        uv_timer_start(&s->loader, on_load_step, LOAD_YIELD_MS, 0);
    group_service_rearm(s);
}

void group_service_hosted(struct group_service *s, int32_t partition, struct plog *log)
{
    if (!s || partition < 0 || partition >= s->nparts || s->parts[partition].state != PART_NOT_HOSTED)
        return;
    struct part *p = &s->parts[partition];
    p->log = log;
    p->state = PART_LOADING;
    p->load_pos = plog_log_start_offset(log);
    p->load_end = plog_log_end_offset(log);
    uv_timer_start(&s->loader, on_load_step, 0, 0);
}

struct unload_list {
    struct group_service *s;
    int32_t partition;
    char **ids;
    size_t n, cap;
};

static void collect_group(void *arg, const char *group_id, const char *protocol_type, const char *state)
{
    struct unload_list *u = arg;
    proto_str g = {group_id, (int32_t)strlen(group_id)};
    if (group_service_partition(u->s, g) != u->partition)
        return;
    if (u->n == u->cap) {
        size_t cap = u->cap ? u->cap * 2 : 8;
        char **ids = ferry_realloc(u->ids, cap * sizeof *ids);
        if (!ids)
            return;
        u->ids = ids;
        u->cap = cap;
    }
    if ((u->ids[u->n] = ferry_strdup(group_id)))
        u->n++;
}

void group_service_unhosted(struct group_service *s, int32_t partition)
{
    if (!s || partition < 0 || partition >= s->nparts || s->parts[partition].state == PART_NOT_HOSTED)
        return;
    struct part *p = &s->parts[partition];
    p->state = PART_NOT_HOSTED;
    p->log = NULL;
    proto_writer_free(&p->keys);
    proto_writer_init(&p->keys);
    p->n = 0;
    struct unload_list u = {.s = s, .partition = partition};
    group_coord_list(s->coord, collect_group, &u);
    for (size_t i = 0; i < u.n; i++) {
        group_coord_unload_group(s->coord, (proto_str){u.ids[i], (int32_t)strlen(u.ids[i])});
        ferry_free(u.ids[i]);
    }
    ferry_free(u.ids);
    LOG_INFO("group", "__consumer_offsets-%d: no longer led here, %zu group(s) unloaded", partition, u.n);
    group_service_rearm(s);
}

bool group_service_loading(const struct group_service *s)
{
    for (int32_t i = 0; i < s->nparts; i++)
        if (s->parts[i].state == PART_LOADING)
            return true;
    return false;
}

int16_t group_service_check(struct group_service *s, proto_str group_id)
{
    switch (s->parts[group_service_partition(s, group_id)].state) {
    case PART_LOADED: return 0;
    case PART_LOADING: return KERR_COORDINATOR_LOAD_IN_PROGRESS;
    default: return KERR_NOT_COORDINATOR;
    }
}

/* ---- timers ---- */

static void on_deadline(uv_timer_t *t)
{
    struct group_service *s = t->data;
    group_coord_tick(s->coord, group_service_now());
    group_service_rearm(s);
}

static void on_expiry(uv_timer_t *t)
{
    struct group_service *s = t->data;
    group_coord_expire_offsets(s->coord, group_service_now());
    group_service_rearm(s);
}

void group_service_rearm(struct group_service *s)
{
    if (!s || s->closing)
        return;
    group_service_persist(s, NULL, NULL);
    int64_t d = group_coord_next_deadline(s->coord);
    if (d == INT64_MAX) {
        uv_timer_stop(&s->deadline);
        return;
    }
    int64_t now = group_service_now();
    uint64_t delay = d > now ? (uint64_t)(d - now) : 0;
    uv_timer_start(&s->deadline, on_deadline, delay, 0);
}

int group_service_new(uv_loop_t *loop, const struct ferry_config *cfg, const struct group_sink *sink,
                      const struct group_io *io, struct group_service **out)
{
    struct group_service *s = ferry_calloc(1, sizeof *s);
    if (!s)
        return FERRY_ENOMEM;
    s->outer = *sink;
    if (io)
        s->io = *io;
    s->nparts = cfg->offsets_topic_num_partitions > 0 ? cfg->offsets_topic_num_partitions : 50;
    s->parts = ferry_calloc((size_t)s->nparts, sizeof *s->parts);
    if (!s->parts) {
        ferry_free(s);
        return FERRY_ENOMEM;
    }
    for (int32_t i = 0; i < s->nparts; i++)
        proto_writer_init(&s->parts[i].keys);
    struct group_config gcfg = {
        .min_session_timeout_ms = cfg->group_min_session_timeout_ms,
        .max_session_timeout_ms = cfg->group_max_session_timeout_ms,
        .initial_rebalance_delay_ms = cfg->group_initial_rebalance_delay_ms,
        .max_size = cfg->group_max_size,
        .offset_metadata_max_bytes = cfg->offset_metadata_max_bytes,
        .offsets_retention_ms = (int64_t)cfg->offsets_retention_minutes * 60000,
        .seed = (uint64_t)group_service_now() * 0x9e3779b97f4a7c15ULL ^ (uint64_t)(uintptr_t)s,
    };
    struct group_sink inner = {s, on_join, on_sync, on_offset_record, on_group_record};
    int rc = group_coord_new(&gcfg, &inner, &s->coord);
    if (rc) {
        ferry_free(s->parts);
        ferry_free(s);
        return rc;
    }
    uv_timer_init(loop, &s->deadline);
    uv_timer_init(loop, &s->expiry);
    uv_timer_init(loop, &s->loader);
    s->deadline.data = s;
    s->expiry.data = s;
    s->loader.data = s;
    int64_t every = cfg->offsets_retention_check_interval_ms > 0 ? cfg->offsets_retention_check_interval_ms : 600000;
    uv_timer_start(&s->expiry, on_expiry, (uint64_t)every, (uint64_t)every);
    *out = s;
    return 0;
}

struct group_coord *group_service_coord(struct group_service *s) { return s->coord; }

static void on_closed(uv_handle_t *h)
{
    struct group_service *s = h->data;
    if (--s->closing == 0) {
        for (int32_t i = 0; i < s->nparts; i++)
            proto_writer_free(&s->parts[i].keys);
        ferry_free(s->parts);
        ferry_free(s);
    }
}

void group_service_close(struct group_service *s)
{
    if (!s)
        return;
    group_coord_abort(s->coord, KERR_NOT_COORDINATOR);
    group_coord_free(s->coord);
    s->coord = NULL;
    s->closing = 3;
    uv_close((uv_handle_t *)&s->deadline, on_closed);
    uv_close((uv_handle_t *)&s->expiry, on_closed);
    uv_close((uv_handle_t *)&s->loader, on_closed);
}
