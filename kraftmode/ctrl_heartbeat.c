/* ctrl_heartbeat: the controller-side heartbeat tracker (Kafka 3.7's BrokerHeartbeatManager), the
 * BrokerHeartbeat decision (QuorumController/ReplicationControlManager.processBrokerHeartbeat with
 * BrokerHeartbeatManager.calculateNextBrokerState) and the periodic fencing of silent brokers
 * (maybeFenceOneStaleBroker). Time comes in as now_ms; nothing here reads a clock. */
#include <stdint.h>
#include <string.h>

#include "broker/common/ferry_alloc.h"
#include "broker/common/ferry_err.h"
#include "broker/common/ferry_log.h"
#include "kraftmode/ctrl_internal.h"

#define MV_3_3_IV2 6 /* BrokerRegistrationChangeRecord replaces Fence/UnfenceBrokerRecord */
#define MV_3_3_IV3 7 /* InControlledShutdown in the registration */
#define MV_3_7_IV2 17 /* directory assignment: OfflineLogDirs are acted on */

/* ---- the tracker ---- */

void ctrl_heartbeats_init(struct ctrl_heartbeats *h, int64_t session_timeout_ms)
{
    memset(h, 0, sizeof *h);
    h->session_timeout_ms = session_timeout_ms > 0 ? session_timeout_ms : CTRL_DEFAULT_SESSION_TIMEOUT_MS;
}

void ctrl_heartbeats_free(struct ctrl_heartbeats *h)
{
    ferry_free(h->b);
    h->b = NULL;
    h->n = h->cap = 0;
}

static int32_t hb_index(const struct ctrl_heartbeats *h, int32_t id, bool *found)
{
    int32_t lo = 0, hi = h->n;
    while (lo < hi) {
        int32_t mid = lo + (hi - lo) / 2;
        if (h->b[mid].id < id)
            lo = mid + 1;
        else
            hi = mid;
    }
    *found = lo < h->n && h->b[lo].id == id;
    return lo;
}

static struct ctrl_hb_broker *hb_find(const struct ctrl_heartbeats *h, int32_t id)
{
    bool found;
    int32_t at = hb_index(h, id, &found);
    return found ? &h->b[at] : NULL;
}

const struct ctrl_hb_broker *ctrl_heartbeats_get(const struct ctrl_heartbeats *h, int32_t id) { return hb_find(h, id); }

/* Kafka's touch: contact now, the offset given; a fenced broker leaves controlled shutdown. */
static void hb_touch(struct ctrl_hb_broker *e, bool fenced, int64_t offset, int64_t now_ms)
{
    e->last_contact_ms = now_ms;
    e->metadata_offset = offset;
    e->fenced = fenced;
    if (fenced)
        e->shutdown_offset = -1;
}

int ctrl_hb_register(struct ctrl_heartbeats *h, int32_t id, bool fenced, int64_t now_ms)
{
    bool found;
    int32_t at = hb_index(h, id, &found);
    int64_t offset = -1;
    if (!found) {
        if (h->n == h->cap) {
            int32_t ncap = h->cap ? h->cap * 2 : 8;
            struct ctrl_hb_broker *nb = ferry_realloc(h->b, (size_t)ncap * sizeof *nb);
            if (!nb)
                return FERRY_ENOMEM;
            h->b = nb;
            h->cap = ncap;
        }
        memmove(&h->b[at + 1], &h->b[at], (size_t)(h->n - at) * sizeof *h->b);
        h->n++;
        h->b[at] = (struct ctrl_hb_broker){.id = id, .metadata_offset = -1, .shutdown_offset = -1, .fenced = true};
    } else if (h->b[at].fenced != fenced) {
        offset = h->b[at].metadata_offset;
    }
    hb_touch(&h->b[at], fenced, offset, now_ms);
    return 0;
}

void ctrl_hb_remove(struct ctrl_heartbeats *h, int32_t id)
{
    bool found;
    int32_t at = hb_index(h, id, &found);
    if (!found)
        return;
    memmove(&h->b[at], &h->b[at + 1], (size_t)(h->n - at - 1) * sizeof *h->b);
    h->n--;
}

int ctrl_heartbeats_activate(struct ctrl_heartbeats *h, const struct md_image *img, int64_t now_ms)
{
    h->n = 0;
    for (int32_t i = 0; i < img->nbrokers; i++) {
        int rc = ctrl_hb_register(h, img->brokers[i]->id, img->brokers[i]->fenced, now_ms);
        if (rc)
            return rc;
    }
    return 0;
}

static bool session_valid(const struct ctrl_heartbeats *h, const struct ctrl_hb_broker *e, int64_t now_ms)
{
    return !e->fenced && e->last_contact_ms + h->session_timeout_ms >= now_ms;
}

bool ctrl_heartbeats_valid_session(const struct ctrl_heartbeats *h, int32_t id, int64_t now_ms)
{
    const struct ctrl_hb_broker *e = hb_find(h, id);
    return e && session_valid(h, e, now_ms);
}

void ctrl_heartbeats_batch_end(struct ctrl_heartbeats *h, int32_t id, int64_t last_offset)
{
    struct ctrl_hb_broker *e = hb_find(h, id);
    if (e && !e->fenced && e->shutdown_offset >= 0)
        e->shutdown_offset = last_offset;
}

/* The unfenced broker heard from longest ago (lowest id on ties), or NULL. */
static struct ctrl_hb_broker *oldest_unfenced(const struct ctrl_heartbeats *h)
{
    struct ctrl_hb_broker *best = NULL;
    for (int32_t i = 0; i < h->n; i++)
        if (!h->b[i].fenced && (!best || h->b[i].last_contact_ms < best->last_contact_ms))
            best = &h->b[i];
    return best;
}

int64_t ctrl_heartbeats_next_check_ms(const struct ctrl_heartbeats *h)
{
    const struct ctrl_hb_broker *e = oldest_unfenced(h);
    return e ? e->last_contact_ms + h->session_timeout_ms : INT64_MAX;
}

/* The lowest metadata offset of the active brokers (unfenced, not shutting down); INT64_MAX if none. */
static int64_t lowest_active_offset(const struct ctrl_heartbeats *h)
{
    int64_t low = INT64_MAX;
    for (int32_t i = 0; i < h->n; i++)
        if (!h->b[i].fenced && h->b[i].shutdown_offset < 0 && h->b[i].metadata_offset < low)
            low = h->b[i].metadata_offset;
    return low;
}

/* ---- records ---- */

/* The fencing (change 1) or unfencing (change -1) record of the metadata.version. */
static int fencing_record(const struct md_image *img, const struct md_broker *b, int8_t change,
                          struct ctrl_records *out)
{
    if (img->metadata_version >= MV_3_3_IV2) {
        struct BrokerRegistrationChangeRecord *c = ctrl_records_add(out, &proto_msg_BrokerRegistrationChangeRecord, 0);
        if (!c)
            return FERRY_ENOMEM;
        c->BrokerId = b->id;
        c->BrokerEpoch = b->epoch;
        c->Fenced = change;
        return 0;
    }
    /* FenceBrokerRecord and UnfenceBrokerRecord have the same fields. */
    struct FenceBrokerRecord *f =
        ctrl_records_add(out, change > 0 ? &proto_msg_FenceBrokerRecord : &proto_msg_UnfenceBrokerRecord, 0);
    if (!f)
        return FERRY_ENOMEM;
    f->Id = b->id;
    f->Epoch = b->epoch;
    return 0;
}

/* handleBrokerFenced: leadership and ISR membership off the broker, then the fencing record. */
static int fence_records(const struct md_image *img, const struct ctrl_env *env, const struct md_broker *b,
                         struct ctrl_records *out)
{
    int rc = ctrl_leader_isr_updates(img, env, b->id, -1, NULL, NULL, out);
    return rc ? rc : fencing_record(img, b, 1, out);
}

/* handleBrokerUnfenced: the unfencing record, then leaders for leaderless partitions it can lead. */
static int unfence_records(const struct md_image *img, const struct ctrl_env *env, const struct md_broker *b,
                           struct ctrl_records *out)
{
    int rc = fencing_record(img, b, -1, out);
    return rc ? rc : ctrl_leader_isr_updates(img, env, -1, b->id, NULL, NULL, out);
}

/* handleBrokerInControlledShutdown: the InControlledShutdown record (once), then leadership and ISR
 * membership off the broker. */
static int shutdown_records(const struct md_image *img, const struct ctrl_env *env, const struct md_broker *b,
                            struct ctrl_records *out)
{
    if (img->metadata_version >= MV_3_3_IV3 && !b->in_controlled_shutdown) {
        struct BrokerRegistrationChangeRecord *c = ctrl_records_add(out, &proto_msg_BrokerRegistrationChangeRecord, 1);
        if (!c)
            return FERRY_ENOMEM;
        c->BrokerId = b->id;
        c->BrokerEpoch = b->epoch;
        c->InControlledShutdown = 1;
    }
    return ctrl_leader_isr_updates(img, env, b->id, -1, NULL, NULL, out);
}

static bool uuid_in(const proto_uuid *v, int32_t n, proto_uuid u)
{
    for (int32_t i = 0; i < n; i++)
        if (proto_uuid_eq(v[i], u))
            return true;
    return false;
}

/* A partition with a replica in the directory *arg. */
static bool in_dir(const struct md_partition *p, void *arg)
{
    return uuid_in(p->dirs, p->ndirs, *(const proto_uuid *)arg);
}

/* handleDirectoriesOffline: for each of the broker's registered directories now reported offline, its
 * partitions lose the broker from ISR and leadership; then a BrokerRegistrationChangeRecord v2 with the
 * directories still online. Nothing when no registered directory is newly offline. */
static int offline_dir_records(const struct md_image *img, const struct ctrl_env *env, const struct md_broker *b,
                               const struct BrokerHeartbeatRequest *req, struct ctrl_records *out)
{
    int32_t noff = req->OfflineLogDirs_n > 0 ? req->OfflineLogDirs_n : 0;
    int32_t nonline = 0;
    for (int32_t i = 0; i < b->nlog_dirs; i++)
        if (!uuid_in(req->OfflineLogDirs, noff, b->log_dirs[i]))
            nonline++;
    if (nonline == b->nlog_dirs)
        return 0;
    for (int32_t i = 0; i < b->nlog_dirs; i++) {
        proto_uuid d = b->log_dirs[i];
        if (!uuid_in(req->OfflineLogDirs, noff, d))
            continue;
        int rc = ctrl_leader_isr_updates(img, env, b->id, -1, in_dir, &d, out);
        if (rc)
            return rc;
    }
    struct BrokerRegistrationChangeRecord *c = ctrl_records_add(out, &proto_msg_BrokerRegistrationChangeRecord, 2);
    proto_uuid *online = proto_arena_alloc(out->a, (size_t)(nonline ? nonline : 1) * sizeof *online);
    if (!c || !online)
        return FERRY_ENOMEM;
    c->BrokerId = b->id;
    c->BrokerEpoch = b->epoch;
    int32_t k = 0;
    for (int32_t i = 0; i < b->nlog_dirs; i++)
        if (!uuid_in(req->OfflineLogDirs, noff, b->log_dirs[i]))
            online[k++] = b->log_dirs[i];
    c->LogDirs = online;
    c->LogDirs_n = k;
    LOG_WARN("ctrl", "broker %d: %d log dir(s) offline, %d remaining", b->id, b->nlog_dirs - k, k);
    return 0;
}

/* ---- BrokerHeartbeat ---- */

enum hb_state { HB_FENCED, HB_UNFENCED, HB_CONTROLLED_SHUTDOWN, HB_SHUTDOWN_NOW };

static const char *state_name(enum hb_state s)
{
    static const char *const names[] = {"FENCED", "UNFENCED", "CONTROLLED_SHUTDOWN", "SHUTDOWN_NOW"};
    return names[s];
}

static enum hb_state next_state(const struct md_image *img, const struct ctrl_heartbeats *h,
                                const struct ctrl_hb_broker *e, const struct BrokerHeartbeatRequest *req,
                                int64_t reg_offset, enum hb_state cur)
{
    switch (cur) {
    case HB_FENCED:
        if (req->WantShutDown)
            return HB_SHUTDOWN_NOW;
        if (!req->WantFence && req->CurrentMetadataOffset >= reg_offset)
            return HB_UNFENCED;
        return HB_FENCED;
    case HB_UNFENCED:
        if (req->WantFence)
            return req->WantShutDown ? HB_SHUTDOWN_NOW : HB_FENCED;
        if (req->WantShutDown)
            return ctrl_broker_leads(img, req->BrokerId) ? HB_CONTROLLED_SHUTDOWN : HB_SHUTDOWN_NOW;
        return HB_UNFENCED;
    case HB_CONTROLLED_SHUTDOWN:
        if (ctrl_broker_leads(img, req->BrokerId))
            return HB_CONTROLLED_SHUTDOWN;
        return e->shutdown_offset <= lowest_active_offset(h) ? HB_SHUTDOWN_NOW : HB_CONTROLLED_SHUTDOWN;
    default:
        return HB_SHUTDOWN_NOW;
    }
}

int ctrl_broker_heartbeat(const struct md_image *img, const struct ctrl_env *env, struct ctrl_heartbeats *hb,
                          const struct BrokerHeartbeatRequest *req, int16_t version, int64_t next_offset,
                          int64_t now_ms, struct BrokerHeartbeatResponse *resp, struct ctrl_records *out)
{
    (void)version;
    resp->ErrorCode = KERR_NONE;
    resp->IsCaughtUp = false;
    resp->IsFenced = true;
    resp->ShouldShutDown = false;
    const struct md_broker *b = md_image_broker(img, req->BrokerId);
    if (!b || b->epoch != req->BrokerEpoch) {
        LOG_INFO("ctrl", "heartbeat from broker %d with epoch %lld refused: %s", req->BrokerId,
                 (long long)req->BrokerEpoch, b ? "stale broker epoch" : "not registered");
        resp->ErrorCode = KERR_STALE_BROKER_EPOCH;
        return 0;
    }
    int64_t reg_offset = b->epoch; /* the offset of its RegisterBrokerRecord */
    struct ctrl_hb_broker *e = hb_find(hb, b->id);
    if (!e) {
        /* Registered before this controller tracked it (activation not run): track it as the image says. */
        int rc = ctrl_hb_register(hb, b->id, b->fenced, now_ms);
        if (rc)
            return rc;
        e = hb_find(hb, b->id);
    }
    enum hb_state cur = e->shutdown_offset >= 0 ? HB_CONTROLLED_SHUTDOWN : e->fenced ? HB_FENCED : HB_UNFENCED;
    enum hb_state next = next_state(img, hb, e, req, reg_offset, cur);
    size_t mark = out->n;
    int rc = 0;
    if (cur != next) {
        LOG_INFO("ctrl", "broker %d epoch %lld: %s -> %s", b->id, (long long)b->epoch, state_name(cur),
                 state_name(next));
        switch (next) {
        case HB_FENCED:
        case HB_SHUTDOWN_NOW: rc = fence_records(img, env, b, out); break;
        case HB_UNFENCED: rc = unfence_records(img, env, b, out); break;
        case HB_CONTROLLED_SHUTDOWN: rc = shutdown_records(img, env, b, out); break;
        }
    }
    if (!rc && img->metadata_version >= MV_3_7_IV2)
        rc = offline_dir_records(img, env, b, req, out);
    if (rc) {
        ctrl_records_truncate(out, mark);
        return rc;
    }
    bool next_fenced = next == HB_FENCED || next == HB_SHUTDOWN_NOW;
    hb_touch(e, next_fenced, req->CurrentMetadataOffset, now_ms);
    if (next == HB_CONTROLLED_SHUTDOWN && e->shutdown_offset < 0) {
        /* The offset of the last record this heartbeat writes (processBatchEndOffset). */
        e->shutdown_offset = next_offset + (int64_t)(out->n - mark) - 1;
    }
    resp->IsCaughtUp = req->CurrentMetadataOffset >= reg_offset;
    resp->IsFenced = next_fenced;
    resp->ShouldShutDown = next == HB_SHUTDOWN_NOW;
    return 0;
}

int ctrl_fence_stale_broker(const struct md_image *img, const struct ctrl_env *env, struct ctrl_heartbeats *hb,
                            int64_t now_ms, int32_t *fenced_id, struct ctrl_records *out)
{
    *fenced_id = -1;
    struct ctrl_hb_broker *e = oldest_unfenced(hb);
    if (!e || session_valid(hb, e, now_ms))
        return 0;
    const struct md_broker *b = md_image_broker(img, e->id);
    if (!b) {
        /* Unregistered since: nothing to fence, stop tracking it. */
        ctrl_hb_remove(hb, e->id);
        return 0;
    }
    size_t mark = out->n;
    int rc = fence_records(img, env, b, out);
    if (rc) {
        ctrl_records_truncate(out, mark);
        return rc;
    }
    LOG_INFO("ctrl", "fencing broker %d (epoch %lld): no heartbeat for %lld ms", b->id, (long long)b->epoch,
             (long long)(now_ms - e->last_contact_ms));
    e->fenced = true; /* Kafka's fence(): out of the unfenced list; a shutdown offset stays */
    *fenced_id = b->id;
    return 0;
}
