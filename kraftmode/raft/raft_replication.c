/* raft_replication: pull replication (kraft.md §1.5-1.7): the follower's Fetch and FetchSnapshot, the
 * leader's position check (diverging epoch, snapshot id), the fetch purgatory, the high watermark. */
#include <string.h>

#include "broker/common/ferry_err.h"
#include "broker/common/ferry_log.h"
#include "kraftmode/raft/raft_internal.h"

void raft_leader_reset_progress(struct raft *r)
{
    for (size_t i = 0; i < r->cfg.nvoters; i++)
        r->progress[i] = (struct raft_progress){.id = r->voters[i],
                                                .end_offset = -1,
                                                .last_fetch_ms = -1,
                                                .last_caught_up_ms = -1,
                                                .begin_sent_ms = INT64_MIN / 2};
    r->nobservers = 0;
}

/* Whom a fetch goes to: the leader, or (an observer that knows none) a random voter. */
static int32_t fetch_target(struct raft *r)
{
    if (r->role == RAFT_FOLLOWER)
        return r->leader_id;
    if (!r->is_voter && r->role == RAFT_UNATTACHED)
        return r->voters[raft_rand(r, r->cfg.nvoters)];
    return RAFT_NO_ID;
}

int raft_send_fetch(struct raft *r)
{
    int32_t to = fetch_target(r);
    if (to == RAFT_NO_ID) {
        r->fetch_corr = 0;
        return 0;
    }
    struct raft_msg m = {.to = to, .corr = raft_new_corr(r), .epoch = r->epoch, .leader_id = r->leader_id};
    int64_t need = 0;
    if (r->snap_fetching) {
        m.type = RAFT_MSG_FETCH_SNAPSHOT;
        m.u.fetch_snapshot.snapshot = r->snap_id;
        m.u.fetch_snapshot.position = r->snap_position;
        m.u.fetch_snapshot.max_bytes = r->cfg.fetch_snapshot_max_bytes;
    } else {
        m.type = RAFT_MSG_FETCH;
        m.u.fetch.fetch_offset = r->end;
        m.u.fetch.last_fetched_epoch = raft_log_last_epoch(r);
        m.u.fetch.max_wait_ms = r->cfg.fetch_max_wait_ms;
        need = r->end; /* FetchOffset acknowledges the log below it: it must be fsynced */
    }
    r->fetch_corr = m.corr;
    r->fetch_sent_ms = r->now;
    r->fetch_target = to;
    return raft_send(r, &m, need);
}

static struct raft_progress *progress_of(struct raft *r, int32_t id)
{
    int idx = raft_voter_index(r, id);
    if (idx >= 0)
        return &r->progress[idx];
    for (size_t i = 0; i < r->nobservers; i++)
        if (r->observers[i].id == id)
            return &r->observers[i];
    size_t slot = r->nobservers;
    if (slot == RAFT_MAX_OBSERVERS) { /* forget the observer heard from least recently */
        slot = 0;
        for (size_t i = 1; i < r->nobservers; i++)
            if (r->observers[i].last_fetch_ms < r->observers[slot].last_fetch_ms)
                slot = i;
    } else {
        r->nobservers++;
    }
    r->observers[slot] = (struct raft_progress){.id = id, .end_offset = -1, .last_fetch_ms = -1, .last_caught_up_ms = -1};
    return &r->observers[slot];
}

static void fetch_resp_init(struct raft *r, const struct raft_msg *req, int16_t error, struct raft_msg *m)
{
    memset(m, 0, sizeof *m);
    m->type = RAFT_MSG_FETCH_RESP;
    m->to = req->from;
    m->corr = req->corr;
    m->epoch = r->epoch;
    m->leader_id = raft_live_leader(r);
    m->error = error;
    m->u.fetch_resp.high_watermark = r->hw;
    m->u.fetch_resp.log_start_offset = r->log_start;
    m->u.fetch_resp.diverging_epoch = -1;
    m->u.fetch_resp.diverging_end_offset = -1;
    m->u.fetch_resp.snapshot = (struct raft_snapshot_id){-1, -1};
    m->u.fetch_resp.records_from = m->u.fetch_resp.records_to = -1;
}

static int answer_fetch(struct raft *r, const struct raft_msg *req)
{
    struct raft_msg m;
    fetch_resp_init(r, req, KERR_NONE, &m);
    if (req->u.fetch.fetch_offset < r->end) {
        m.u.fetch_resp.records_from = req->u.fetch.fetch_offset;
        m.u.fetch_resp.records_to = r->end;
    }
    return raft_send(r, &m, 0);
}

int raft_leader_complete_parked(struct raft *r, bool all)
{
    for (size_t i = 0; i < r->cfg.nvoters + r->nobservers; i++) {
        struct raft_progress *p = i < r->cfg.nvoters ? &r->progress[i] : &r->observers[i - r->cfg.nvoters];
        if (!p->parked)
            continue;
        if (!all && p->parked_req.u.fetch.fetch_offset >= r->end && r->now < p->parked_until)
            continue;
        p->parked = false;
        int rc = answer_fetch(r, &p->parked_req);
        if (rc)
            return rc;
    }
    return 0;
}

int raft_leader_maybe_advance_hw(struct raft *r)
{
    int64_t ends[RAFT_MAX_VOTERS];
    size_t n = r->cfg.nvoters;
    for (size_t i = 0; i < n; i++) {
        int64_t e = r->voters[i] == r->cfg.node_id ? r->durable_end : r->progress[i].end_offset;
        size_t j = i;
        while (j > 0 && ends[j - 1] < e) {
            ends[j] = ends[j - 1];
            j--;
        }
        ends[j] = e;
    }
    int64_t candidate = ends[n / 2];
    if (candidate <= r->epoch_start_offset || candidate <= r->hw)
        return 0;
    r->hw = candidate;
    LOG_DEBUG("raft", "node %d: high watermark %lld in epoch %d", r->cfg.node_id, (long long)r->hw, r->epoch);
    return raft_leader_complete_parked(r, true);
}

/* Checks shared by Fetch and FetchSnapshot requests; 0 when the request may go on (*error NONE). */
static int16_t fetch_request_error(const struct raft *r, const struct raft_msg *m)
{
    if (m->epoch < r->epoch)
        return KERR_FENCED_LEADER_EPOCH;
    if (m->epoch > r->epoch)
        return KERR_UNKNOWN_LEADER_EPOCH;
    if (r->role != RAFT_LEADER)
        return KERR_NOT_LEADER_OR_FOLLOWER;
    return KERR_NONE;
}

static void note_fetch(struct raft *r, struct raft_progress *p, int64_t fetch_offset)
{
    p->last_fetch_ms = r->now;
    p->begin_acked = true;
    p->fetched_in_check = true;
    if (fetch_offset >= 0) {
        p->end_offset = fetch_offset;
        if (fetch_offset >= r->end)
            p->last_caught_up_ms = r->now;
    }
}

int raft_handle_fetch(struct raft *r, const struct raft_msg *m)
{
    struct raft_msg resp;
    int64_t off = m->u.fetch.fetch_offset;
    int32_t last = m->u.fetch.last_fetched_epoch;
    if (off < 0 || last < 0 || last > m->epoch || m->u.fetch.max_wait_ms < 0 || m->from < 0) {
        fetch_resp_init(r, m, KERR_INVALID_REQUEST, &resp);
        return raft_send(r, &resp, 0);
    }
    int16_t err = fetch_request_error(r, m);
    if (err) {
        fetch_resp_init(r, m, err, &resp);
        return raft_send(r, &resp, 0);
    }
    struct raft_progress *p = progress_of(r, m->from);
    fetch_resp_init(r, m, KERR_NONE, &resp);
    if (r->snapshot.end_offset > 0 &&
        (off < r->log_start || (off == r->log_start && last != r->snapshot.epoch) || last < r->snapshot.epoch)) {
        note_fetch(r, p, -1);
        resp.u.fetch_resp.snapshot = r->snapshot;
        return raft_send(r, &resp, 0);
    }
    int32_t e;
    int64_t end;
    raft_log_end_for_epoch(r, last, &e, &end);
    if (e != last || end < off) {
        note_fetch(r, p, -1);
        resp.u.fetch_resp.diverging_epoch = e;
        resp.u.fetch_resp.diverging_end_offset = end;
        return raft_send(r, &resp, 0);
    }
    note_fetch(r, p, off);
    int rc = raft_is_voter(r, m->from) ? raft_leader_maybe_advance_hw(r) : 0;
    if (rc)
        return rc;
    if (off >= r->end && m->u.fetch.max_wait_ms > 0) { /* caught up: wait for records (a newer request
                                                           * replaces an older one) */
        p->parked = true;
        p->parked_req = *m;
        p->parked_until = r->now + m->u.fetch.max_wait_ms;
        return 0;
    }
    p->parked = false;
    return answer_fetch(r, m);
}

int raft_handle_fetch_snapshot(struct raft *r, const struct raft_msg *m)
{
    struct raft_msg resp = {.type = RAFT_MSG_FETCH_SNAPSHOT_RESP, .to = m->from, .corr = m->corr};
    int16_t err = KERR_NONE;
    if (m->u.fetch_snapshot.position < 0 || m->u.fetch_snapshot.max_bytes <= 0 || m->from < 0)
        err = KERR_INVALID_REQUEST;
    if (!err)
        err = fetch_request_error(r, m);
    if (!err && (r->snapshot.end_offset == 0 || m->u.fetch_snapshot.snapshot.end_offset != r->snapshot.end_offset ||
                 m->u.fetch_snapshot.snapshot.epoch != r->snapshot.epoch))
        err = KERR_SNAPSHOT_NOT_FOUND;
    if (!err)
        note_fetch(r, progress_of(r, m->from), -1);
    resp.epoch = r->epoch;
    resp.leader_id = raft_live_leader(r);
    resp.error = err;
    resp.u.fetch_snapshot_resp.snapshot = m->u.fetch_snapshot.snapshot;
    resp.u.fetch_snapshot_resp.position = m->u.fetch_snapshot.position;
    /* at most what this node asks for itself: a Kafka 3.7 follower's MaxBytes is 0x7fffffff (the I/O layer
     * allocates the answer's buffer at max_bytes); the follower asks again for the rest, as it does anyway */
    resp.u.fetch_snapshot_resp.max_bytes = m->u.fetch_snapshot.max_bytes < r->cfg.fetch_snapshot_max_bytes
                                               ? m->u.fetch_snapshot.max_bytes
                                               : r->cfg.fetch_snapshot_max_bytes;
    resp.u.fetch_snapshot_resp.size = -1;
    return raft_send(r, &resp, 0);
}

/* §1.7: truncation to the leader's diverging (epoch, end offset). */
static int truncate_diverging(struct raft *r, int32_t epoch, int64_t end_offset)
{
    int32_t e;
    int64_t end;
    raft_log_end_for_epoch(r, epoch, &e, &end);
    int64_t to = e == epoch ? (end < end_offset ? end : end_offset) : end;
    return raft_log_truncate(r, to);
}

static int follower_append(struct raft *r, const struct raft_msg *m)
{
    const struct raft_batch *b = m->u.fetch_resp.batches;
    size_t n = m->u.fetch_resp.nbatches;
    if (n && b[0].base_offset != r->end)
        return 0; /* not where this log ends: drop, the next fetch asks again */
    int rc = raft_log_append(r, b, n);
    if (rc == FERRY_EINVAL) {
        LOG_WARN("raft", "node %d: leader %d sent batches that do not follow the log at %lld; refetching",
                 r->cfg.node_id, m->from, (long long)r->end);
        return 0;
    }
    if (rc == 0 && n)
        rc = raft_log_sync(r);
    return rc;
}

int raft_handle_fetch_resp(struct raft *r, const struct raft_msg *m)
{
    bool stop;
    int rc = raft_common_response(r, m, &stop);
    if (rc || r->fatal)
        return rc;
    if (m->corr != r->fetch_corr || r->fetch_corr == 0)
        return 0; /* an answer to an older request */
    if (stop) {
        if (r->fetch_corr == m->corr)
            r->fetch_corr = 0; /* retried from the tick */
        return 0;
    }
    if (!r->is_voter && r->role == RAFT_UNATTACHED) {
        r->fetch_corr = 0; /* that voter knows no leader either: the next tick asks again */
        return 0;
    }
    if (r->role != RAFT_FOLLOWER || m->from != r->leader_id)
        return 0;
    if (m->error == KERR_NOT_LEADER_OR_FOLLOWER && m->leader_id < 0) {
        r->fetch_corr = 0; /* our leader no longer leads (it resigned): gone, as if its connection closed */
        return raft_handle_peer_lost(r, m->from);
    }
    if (m->error != KERR_NONE)
        return 0; /* retried after the request timeout */
    r->fetch_corr = 0;
    raft_leader_heard(r);
    r->election_deadline = r->now + r->cfg.fetch_timeout_ms;
    const struct raft_snapshot_id *snap = &m->u.fetch_resp.snapshot;
    if (m->u.fetch_resp.diverging_epoch >= 0) {
        rc = truncate_diverging(r, m->u.fetch_resp.diverging_epoch, m->u.fetch_resp.diverging_end_offset);
        if (rc == 0 && !r->fatal)
            rc = raft_log_sync(r);
    } else if (snap->end_offset >= 0) {
        if (snap->end_offset < r->commit)
            return raft_set_fatal(r, "the leader's snapshot ends below the committed offset");
        r->snap_fetching = true;
        r->snap_id = *snap;
        r->snap_position = 0;
    } else {
        rc = follower_append(r, m);
        int64_t hw = m->u.fetch_resp.high_watermark;
        if (rc == 0 && hw >= 0) {
            if (hw > r->end)
                hw = r->end;
            if (hw > r->hw)
                r->hw = hw;
        }
    }
    if (rc || r->fatal)
        return rc;
    return raft_send_fetch(r);
}

int raft_handle_fetch_snapshot_resp(struct raft *r, const struct raft_msg *m)
{
    bool stop;
    int rc = raft_common_response(r, m, &stop);
    if (rc || r->fatal || m->corr != r->fetch_corr || r->fetch_corr == 0)
        return rc;
    r->fetch_corr = 0;
    if (stop || r->role != RAFT_FOLLOWER || m->from != r->leader_id || !r->snap_fetching)
        return 0;
    const struct raft_snapshot_id *id = &m->u.fetch_snapshot_resp.snapshot;
    if (m->error == KERR_SNAPSHOT_NOT_FOUND || m->error == KERR_POSITION_OUT_OF_RANGE) {
        r->snap_fetching = false; /* start again with a plain Fetch */
        return raft_send_fetch(r);
    }
    if (m->error != KERR_NONE)
        return 0;
    raft_leader_heard(r);
    r->election_deadline = r->now + r->cfg.fetch_timeout_ms;
    if (id->end_offset != r->snap_id.end_offset || id->epoch != r->snap_id.epoch ||
        m->u.fetch_snapshot_resp.position != r->snap_position || m->u.fetch_snapshot_resp.size < 0)
        return raft_send_fetch(r);
    struct raft_action a = {.type = RAFT_ACT_SNAPSHOT_WRITE,
                            .snapshot = *id,
                            .position = r->snap_position,
                            .data = m->u.fetch_snapshot_resp.data,
                            .len = m->u.fetch_snapshot_resp.len};
    rc = raft_emit(r, &a);
    if (rc)
        return rc;
    r->snap_position += (int64_t)a.len;
    if (r->snap_position >= m->u.fetch_snapshot_resp.size) {
        r->snap_fetching = false;
        LOG_INFO("raft", "node %d: snapshot (%lld, %d) fetched from %d", r->cfg.node_id, (long long)id->end_offset,
                 id->epoch, m->from);
        rc = raft_log_install_snapshot(r, *id);
        if (rc == 0 && id->end_offset > r->hw)
            r->hw = id->end_offset;
    } else if (a.len == 0) {
        return 0; /* no progress: retried after the request timeout */
    }
    return rc ? rc : raft_send_fetch(r);
}

int raft_replication_tick(struct raft *r)
{
    if (r->role == RAFT_LEADER)
        return raft_leader_complete_parked(r, false);
    if (fetch_target(r) == RAFT_NO_ID)
        return 0;
    if (r->fetch_corr && r->now < r->fetch_sent_ms + r->cfg.request_timeout_ms)
        return 0;
    return raft_send_fetch(r);
}
