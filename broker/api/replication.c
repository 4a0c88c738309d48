/* replication: see replication.h. */
#include "replication.h"

#include <string.h>

#include "broker.h"
#include "broker/common/ferry_alloc.h"
#include "broker/common/ferry_err.h"
#include "broker/common/ferry_log.h"
#include "broker/group/group_service.h"
#include "repl_fetcher.h"

#define OFFSETS_TOPIC "__consumer_offsets"

/* Whether the partition fetches from another node as a follower (a fetcher must exist for that leader). */
static bool fetching(const struct broker *b, const struct rp_partition *p)
{
    return p->leader_id >= 0 && p->leader_id != b->node_id && rp_partition_fetches_from(p, p->leader_id);
}

bool api_repl_partition(struct broker *b, const struct md_topic *t, const struct md_partition *mp,
                        struct rp_partition *p)
{
    bool offsets = strcmp(t->name, OFFSETS_TOPIC) == 0;
    bool was_fetching = fetching(b, p);
    if (mp->leader == b->node_id) {
        int rc = rp_partition_make_leader(b->partitions, p, b->node_id, mp->leader_epoch, mp->partition_epoch,
                                          mp->replicas.v, mp->replicas.n, mp->isr.v, mp->isr.n);
        if (rc)
            LOG_ERROR("replica", "%s-%d: cannot become leader at epoch %d: %s", t->name, mp->id, mp->leader_epoch,
                      ferry_strerror(rc));
        else if (offsets) /* only the leader coordinates the partition's groups */
            group_service_hosted(b->groups, mp->id, p->log);
    } else {
        if (offsets)
            group_service_unhosted(b->groups, mp->id);
        rp_partition_make_follower(b->partitions, p, mp->leader, mp->leader_epoch);
    }
    /* The set of fetchers changes only through a partition that fetches now or did before (the caller
     * resyncs once per delta) */
    return was_fetching || fetching(b, p);
}

void api_repl_fetchers_sync(struct broker *b)
{
    if (b->fetchers)
        repl_fetchers_sync(b->fetchers);
}

void api_repl_set_fetching(struct broker *b, const struct md_fetch_switch *switches, size_t n)
{
    bool changed = false;
    for (size_t i = 0; i < n; i++)
        changed = rp_set_fetching(b->partitions, switches[i].topic, switches[i].partition, switches[i].on) || changed;
    if (changed && b->fetchers)
        repl_fetchers_sync(b->fetchers);
}

static bool isr_eligible(void *arg, int32_t id)
{
    struct broker *b = arg;
    const struct md_broker *mb = md_image_broker(broker_image(b), id);
    return mb && md_broker_is_active(mb);
}

struct alter_ctx {
    struct alter_ctx *next, **prev; /* in b->alters */
    struct broker *b;
    char *topic;
    int32_t partition;
    int32_t leader_epoch;
};

static void alter_ctx_free(struct alter_ctx *ctx)
{
    if (ctx->prev) {
        *ctx->prev = ctx->next;
        if (ctx->next)
            ctx->next->prev = ctx->prev;
    }
    ferry_free(ctx->topic);
    ferry_free(ctx);
}

/* Errors that say the controller's state is ahead of this leader's image (Kafka's
 * Partition.handleAlterPartitionError: "awaiting the latest metadata"): the proposal stays pending, and no
 * new one is sent, until the image moves the partition on (rp_leader_sync clears it). A reassignment's
 * completion answers NEW_LEADER_ELECTED (FENCED_LEADER_EPOCH before v2) to the old leader; proposing again
 * at once only drew FENCED_LEADER_EPOCH answers until the image arrived. */
static bool awaits_image(int16_t error)
{
    return error == KERR_FENCED_LEADER_EPOCH || error == KERR_NEW_LEADER_ELECTED || error == KERR_INVALID_UPDATE_VERSION ||
           error == KERR_UNKNOWN_TOPIC_OR_PARTITION || error == KERR_UNKNOWN_TOPIC_ID;
}

static void alter_done(void *arg, int16_t error)
{
    struct alter_ctx *ctx = arg;
    if (error != KERR_NONE) {
        struct rp_partition *p = rp_partition_get(ctx->b->partitions, proto_str_from(ctx->topic), ctx->partition);
        LOG_WARN("replica", "%s-%d: ISR change at leader epoch %d refused: %s%s", ctx->topic, ctx->partition,
                 ctx->leader_epoch, kafka_error_name(error), awaits_image(error) ? " (awaiting the metadata)" : "");
        if (p && p->is_leader && p->leader_epoch == ctx->leader_epoch && !awaits_image(error))
            rp_leader_alter_failed(&p->repl);
    }
    alter_ctx_free(ctx);
}

void api_repl_isr_check(struct broker *b, struct rp_partition *p)
{
    if (!p->is_leader || !b->meta.ops->alter_partition)
        return;
    /* checked for every partition of every follower Fetch and ISR tick: nothing allocated unless a change is
     * proposed (a few replicas fit on the stack) */
    int32_t local[16];
    size_t room = (size_t)(p->repl.nfollowers + p->repl.nisr + 2);
    int32_t *isr = room <= sizeof local / sizeof *local ? local : ferry_malloc(sizeof *isr * room);
    int32_t n = 0;
    if (!isr || !rp_leader_isr_change(&p->repl, plog_log_end_offset(p->log), rp_now_ms(),
                                      b->cfg->replica_lag_time_max_ms, isr_eligible, b, isr, &n)) {
        if (isr != local)
            ferry_free(isr);
        return;
    }
    struct alter_ctx *ctx = ferry_calloc(1, sizeof *ctx);
    if (!ctx || !(ctx->topic = ferry_strdup(p->topic))) {
        LOG_ERROR("replica", "%s-%d: out of memory proposing an ISR change", p->topic, p->index);
        rp_leader_alter_failed(&p->repl); /* not sent: proposed again at the next check */
        if (isr != local)
            ferry_free(isr);
        ferry_free(ctx);
        return;
    }
    const struct md_broker *self = md_image_broker(broker_image(b), b->node_id);
    struct md_alter_partition req = {
        .broker_id = b->node_id,
        .broker_epoch = self ? self->epoch : -1,
        .topic_id = p->topic_id,
        .partition = p->index,
        .leader_epoch = p->repl.leader_epoch,
        .new_isr = isr,
        .nisr = n,
        .partition_epoch = p->repl.partition_epoch,
    };
    ctx->b = b;
    ctx->partition = p->index;
    ctx->leader_epoch = p->repl.leader_epoch;
    LOG_INFO("replica", "%s-%d: proposing an ISR of %d replica(s) (was %d) at leader epoch %d, partition epoch %d",
             p->topic, p->index, n, p->repl.nisr, req.leader_epoch, req.partition_epoch);
    ctx->next = b->alters;
    if (b->alters)
        b->alters->prev = &ctx->next;
    ctx->prev = &b->alters;
    b->alters = ctx;
    b->meta.ops->alter_partition(b->meta.impl, &req, alter_done, ctx);
    if (isr != local)
        ferry_free(isr);
}

static void isr_tick_one(void *arg, struct rp_partition *p)
{
    struct broker *b = arg;
    if (!p->is_leader)
        return;
    rp_partition_update_hw(b->partitions, p);
    api_repl_isr_check(b, p);
}

static void isr_tick(uv_timer_t *t)
{
    struct broker *b = t->data;
    rp_foreach(b->partitions, isr_tick_one, b);
}

int api_repl_start(struct broker *b)
{
    int64_t every = b->cfg->replica_lag_time_max_ms / 2;
    if (every < 10)
        every = 10;
    uv_timer_init(b->loop, &b->isr_timer);
    b->isr_timer.data = b;
    uv_timer_start(&b->isr_timer, isr_tick, (uint64_t)every, (uint64_t)every);
    b->isr_timer_started = true;
    return repl_fetchers_new(b, &b->fetchers);
}

void api_repl_stop(struct broker *b)
{
    while (b->alters) /* the source answers none after its stop */
        alter_ctx_free(b->alters);
    if (b->fetchers)
        repl_fetchers_close(b->fetchers);
    b->fetchers = NULL;
    if (b->isr_timer_started) {
        uv_timer_stop(&b->isr_timer);
        uv_close((uv_handle_t *)&b->isr_timer, NULL);
        b->isr_timer_started = false;
    }
}
