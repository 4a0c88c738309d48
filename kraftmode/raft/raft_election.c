/* raft_election: roles and their transitions, timers, Vote (with KIP-996 pre-vote), BeginQuorumEpoch,
 * EndQuorumEpoch, check-quorum and the common response rules (kraft.md §1.2-1.4, §1.8). */
#include <string.h>

#include "broker/common/ferry_err.h"
#include "broker/common/ferry_log.h"
#include "kraftmode/raft/raft_internal.h"

static int announce(struct raft *r)
{
    LOG_INFO("raft", "node %d: %s epoch %d leader %d voted %d log end %lld", r->cfg.node_id, raft_role_name(r->role),
             r->epoch, r->leader_id, r->voted_id, (long long)r->end);
    struct raft_action a = {.type = RAFT_ACT_ROLE, .role = r->role, .epoch = r->epoch, .leader_id = r->leader_id};
    return raft_emit(r, &a);
}

static int64_t random_election_timeout(struct raft *r)
{
    return r->cfg.election_timeout_ms + (int64_t)raft_rand(r, (uint64_t)r->cfg.election_timeout_ms);
}

/* How long a voter waits before standing once its leader is gone (raft_peer_lost). The first attempt is
 * staggered by rank (the other surviving voters in id order: the first stands at once), so that two
 * voters seldom split the vote; a later attempt (after a refused pre-vote) waits one step plus jitter. */
static int64_t leader_gone_delay(struct raft *r, bool first)
{
    int64_t step = r->cfg.election_backoff_max_ms / 10 > 0 ? r->cfg.election_backoff_max_ms / 10 : 1;
    int64_t rank = 0;
    for (size_t i = 0; i < r->cfg.nvoters; i++)
        rank += r->voters[i] != r->leader_id && r->voters[i] < r->cfg.node_id;
    if (first && rank == 0)
        return 0;
    return (first ? rank : 1) * step + (int64_t)raft_rand(r, (uint64_t)step);
}

void raft_reset_election_timer(struct raft *r)
{
    r->backoff_until = RAFT_NEVER;
    switch (r->role) {
    case RAFT_LEADER: r->election_deadline = RAFT_NEVER; break;
    case RAFT_FOLLOWER:
        r->election_deadline = r->now + (r->leader_gone && r->is_voter ? leader_gone_delay(r, false)
                                                                         : r->cfg.fetch_timeout_ms);
        break;
    default: r->election_deadline = r->is_voter ? r->now + random_election_timeout(r) : RAFT_NEVER; break;
    }
}

/* Leaves any role: forgets what belonged to it. A leader first answers the fetches it holds in purgatory
 * (as it would have a moment earlier): a follower's next requests to it (a Vote, a BeginQuorumEpoch of a
 * successor) queue behind its fetch, which would otherwise wait for the request timeout. */
static int leave_role(struct raft *r)
{
    r->fetch_corr = 0;
    r->snap_fetching = false;
    r->check_quorum_deadline = RAFT_NEVER;
    if (r->role == RAFT_LEADER) {
        int rc = raft_leader_complete_parked(r, true);
        if (rc)
            return rc;
        raft_leader_reset_progress(r);
    }
    if (r->role == RAFT_LEADER || r->role == RAFT_RESIGNED)
        r->hw = -1; /* a follower learns it again from the next leader */
    return 0;
}

/* A durable transition: the new (epoch, leader, vote) is written to quorum-state before anything that
 * depends on it is sent. */
static int durable_transition(struct raft *r, enum raft_role role, int32_t epoch, int32_t leader, int32_t voted)
{
    int rc = leave_role(r);
    if (rc)
        return rc;
    if (epoch != r->epoch || leader != r->leader_id) {
        r->leader_contact_ms = INT64_MIN / 2;
        r->leader_gone = false;
    }
    r->role = role;
    r->epoch = epoch;
    r->leader_id = leader;
    r->voted_id = voted;
    if (role == RAFT_FOLLOWER)
        r->election_retries = 0;
    int64_t old_deadline = r->election_deadline;
    raft_reset_election_timer(r);
    /* only a vote granted (or a leader found) restarts a running election timer: learning a higher epoch
     * alone must not, or a candidate that can never win would keep everyone else from standing */
    if (role == RAFT_UNATTACHED && old_deadline < r->election_deadline)
        r->election_deadline = old_deadline;
    rc = raft_persist_state(r);
    return rc ? rc : announce(r);
}

int raft_become_unattached(struct raft *r, int32_t epoch)
{
    return durable_transition(r, RAFT_UNATTACHED, epoch, RAFT_NO_ID, RAFT_NO_ID);
}

int raft_become_voted(struct raft *r, int32_t epoch, int32_t candidate)
{
    return durable_transition(r, RAFT_VOTED, epoch, RAFT_NO_ID, candidate);
}

int raft_become_follower(struct raft *r, int32_t epoch, int32_t leader)
{
    int rc = durable_transition(r, RAFT_FOLLOWER, epoch, leader, RAFT_NO_ID);
    return rc ? rc : raft_send_fetch(r);
}

static void reset_votes(struct raft *r)
{
    memset(r->votes_granted, 0, sizeof r->votes_granted);
    memset(r->votes_rejected, 0, sizeof r->votes_rejected);
    for (size_t i = 0; i < RAFT_MAX_VOTERS; i++)
        r->vote_sent_ms[i] = INT64_MIN / 2;
    r->votes_granted[raft_voter_index(r, r->cfg.node_id)] = true;
}

static size_t count(const bool *v, size_t n)
{
    size_t c = 0;
    for (size_t i = 0; i < n; i++)
        c += v[i];
    return c;
}

/* Vote requests (or pre-vote requests) to the voters that have not answered and were not asked lately. */
static int send_votes(struct raft *r)
{
    bool pre = r->role == RAFT_PROSPECTIVE;
    for (size_t i = 0; i < r->cfg.nvoters; i++) {
        if (r->voters[i] == r->cfg.node_id || r->votes_granted[i] || r->votes_rejected[i] ||
            r->now < r->vote_sent_ms[i] + r->cfg.request_timeout_ms)
            continue;
        r->vote_sent_ms[i] = r->now;
        struct raft_msg m = {.type = RAFT_MSG_VOTE,
                             .to = r->voters[i],
                             .corr = raft_new_corr(r),
                             .epoch = pre ? r->epoch + 1 : r->epoch,
                             .leader_id = RAFT_NO_ID};
        m.u.vote.last_epoch = raft_log_last_epoch(r);
        m.u.vote.last_offset = r->end;
        m.u.vote.pre_vote = pre;
        int rc = raft_send(r, &m, r->end); /* voters compare against a log that survives a crash */
        if (rc)
            return rc;
    }
    return 0;
}

int raft_become_prospective(struct raft *r)
{
    int rc = leave_role(r);
    if (rc)
        return rc;
    r->role = RAFT_PROSPECTIVE; /* epoch, leader_id and voted_id stay: nothing is persisted */
    reset_votes(r);
    raft_reset_election_timer(r);
    rc = announce(r);
    return rc ? rc : send_votes(r);
}

int raft_become_candidate(struct raft *r)
{
    int rc = leave_role(r);
    if (rc)
        return rc;
    r->role = RAFT_CANDIDATE;
    r->epoch++;
    r->leader_id = RAFT_NO_ID;
    r->voted_id = r->cfg.node_id;
    reset_votes(r);
    raft_reset_election_timer(r);
    rc = raft_persist_state(r);
    if (rc == 0)
        rc = announce(r);
    if (rc)
        return rc;
    if (count(r->votes_granted, r->cfg.nvoters) >= raft_majority(r))
        return raft_become_leader(r); /* a single voter */
    return send_votes(r);
}

static int send_begin_epoch(struct raft *r)
{
    for (size_t i = 0; i < r->cfg.nvoters; i++) {
        struct raft_progress *p = &r->progress[i];
        if (p->id == r->cfg.node_id || p->begin_acked || r->now < p->begin_sent_ms + r->cfg.request_timeout_ms)
            continue;
        p->begin_sent_ms = r->now;
        struct raft_msg m = {.type = RAFT_MSG_BEGIN_EPOCH,
                             .to = p->id,
                             .corr = raft_new_corr(r),
                             .epoch = r->epoch,
                             .leader_id = r->cfg.node_id};
        int rc = raft_send(r, &m, 0);
        if (rc)
            return rc;
    }
    return 0;
}

int raft_become_leader(struct raft *r)
{
    r->ngranting = 0;
    for (size_t i = 0; i < r->cfg.nvoters; i++)
        if (r->votes_granted[i])
            r->granting[r->ngranting++] = r->voters[i];
    int rc = leave_role(r);
    if (rc)
        return rc;
    r->role = RAFT_LEADER;
    r->leader_id = r->cfg.node_id;
    r->voted_id = RAFT_NO_ID;
    r->hw = -1;
    r->election_retries = 0;
    r->epoch_start_offset = r->end;
    raft_leader_reset_progress(r);
    raft_reset_election_timer(r);
    if (r->cfg.nvoters > 1)
        r->check_quorum_deadline = r->now + r->cfg.fetch_timeout_ms * 3 / 2;
    rc = raft_persist_state(r);
    if (rc == 0)
        rc = announce(r);
    if (rc)
        return rc;
    /* the LeaderChange control batch: the first record of this epoch, which lets the HW move */
    r->lc_batch = (struct raft_batch){.base_offset = r->end, .count = 1, .epoch = r->epoch, .leader_change = true};
    rc = raft_log_append(r, &r->lc_batch, 1);
    if (rc == 0)
        rc = raft_log_sync(r);
    return rc ? rc : send_begin_epoch(r);
}

/* PreferredSuccessors: the other voters, most caught up first (ties by id, for determinism). */
static void order_successors(struct raft *r)
{
    int64_t ends[RAFT_MAX_VOTERS];
    size_t n = 0;
    for (size_t i = 0; i < r->cfg.nvoters; i++) {
        if (r->voters[i] == r->cfg.node_id)
            continue;
        int32_t id = r->voters[i];
        int64_t e = r->progress[i].end_offset;
        size_t j = n++;
        while (j > 0 && (ends[j - 1] < e || (ends[j - 1] == e && r->successors[j - 1] > id))) {
            r->successors[j] = r->successors[j - 1];
            ends[j] = ends[j - 1];
            j--;
        }
        r->successors[j] = id;
        ends[j] = e;
    }
    r->nsuccessors = n;
}

static int send_end_epoch(struct raft *r)
{
    for (size_t i = 0; i < r->cfg.nvoters; i++) {
        if (r->voters[i] == r->cfg.node_id || r->end_epoch_acked[i] ||
            r->now < r->end_epoch_sent_ms[i] + r->cfg.request_timeout_ms)
            continue;
        r->end_epoch_sent_ms[i] = r->now;
        struct raft_msg m = {.type = RAFT_MSG_END_EPOCH,
                             .to = r->voters[i],
                             .corr = raft_new_corr(r),
                             .epoch = r->epoch,
                             .leader_id = r->cfg.node_id};
        memcpy(m.u.end_epoch.preferred, r->successors, r->nsuccessors * sizeof *r->successors);
        m.u.end_epoch.npreferred = r->nsuccessors;
        int rc = raft_send(r, &m, 0);
        if (rc)
            return rc;
    }
    return 0;
}

int raft_become_resigned(struct raft *r)
{
    order_successors(r); /* before the leader's progress is forgotten */
    for (size_t i = 0; i < r->cfg.nvoters; i++) {
        r->end_epoch_acked[i] = false;
        r->end_epoch_sent_ms[i] = INT64_MIN / 2;
    }
    int rc = leave_role(r);
    if (rc)
        return rc;
    r->role = RAFT_RESIGNED;
    raft_reset_election_timer(r);
    rc = announce(r);
    return rc ? rc : send_end_epoch(r);
}

static int start_election(struct raft *r)
{
    if (r->cfg.pre_vote && r->cfg.nvoters > 1)
        return raft_become_prospective(r);
    return raft_become_candidate(r);
}

static int64_t election_backoff(struct raft *r)
{
    uint32_t shift = r->election_retries < 20 ? r->election_retries : 20;
    r->election_retries++;
    int64_t b = 100 * (int64_t)raft_rand(r, (uint64_t)1 << shift);
    return b < r->cfg.election_backoff_max_ms ? b : r->cfg.election_backoff_max_ms;
}

static int check_quorum(struct raft *r)
{
    if (r->now < r->check_quorum_deadline)
        return 0;
    size_t heard = 1;
    for (size_t i = 0; i < r->cfg.nvoters; i++) {
        if (r->voters[i] != r->cfg.node_id && r->progress[i].fetched_in_check)
            heard++;
        r->progress[i].fetched_in_check = false;
    }
    if (heard >= raft_majority(r)) {
        r->check_quorum_deadline = r->now + r->cfg.fetch_timeout_ms * 3 / 2;
        return 0;
    }
    LOG_WARN("raft", "node %d: check-quorum failed in epoch %d (%zu of %zu voters heard): resigning", r->cfg.node_id,
             r->epoch, heard, r->cfg.nvoters);
    return raft_become_resigned(r);
}

int raft_election_tick(struct raft *r)
{
    switch (r->role) {
    case RAFT_LEADER: {
        int rc = send_begin_epoch(r);
        return rc ? rc : check_quorum(r);
    }
    case RAFT_CANDIDATE:
    case RAFT_PROSPECTIVE:
        if (r->backoff_until != RAFT_NEVER) {
            if (r->now < r->backoff_until)
                return 0;
            return start_election(r);
        }
        if (r->now >= r->election_deadline) {
            r->backoff_until = r->now + election_backoff(r);
            return 0;
        }
        return send_votes(r);
    case RAFT_RESIGNED: {
        int rc = send_end_epoch(r);
        if (rc || r->now < r->election_deadline)
            return rc;
        return start_election(r);
    }
    case RAFT_FOLLOWER:
        if (r->now < r->election_deadline)
            return 0;
        if (!r->is_voter) {
            LOG_INFO("raft", "node %d: no fetch answer from leader %d within %d ms", r->cfg.node_id, r->leader_id,
                     r->cfg.fetch_timeout_ms);
            return raft_become_unattached(r, r->epoch);
        }
        return start_election(r);
    default:
        if (!r->is_voter || r->now < r->election_deadline)
            return 0;
        return start_election(r);
    }
}

static int respond(struct raft *r, const struct raft_msg *req, enum raft_msg_type type, int16_t error,
                   struct raft_msg *m)
{
    m->type = type;
    m->to = req->from;
    m->corr = req->corr;
    m->epoch = r->epoch;
    m->leader_id = raft_live_leader(r);
    m->error = error;
    return raft_send(r, m, 0);
}

/* A pre-vote is granted to an up-to-date log unless this node still hears from a leader (KIP-996). */
static bool pre_vote_grantable(const struct raft *r, const struct raft_msg *m)
{
    if (r->role == RAFT_LEADER)
        return false;
    if (r->leader_id >= 0 && !r->leader_gone && r->now < r->leader_contact_ms + r->cfg.fetch_timeout_ms)
        return false;
    return (r->cfg.test_bugs & RAFT_BUG_VOTE_WITHOUT_LOG_CHECK) ||
           raft_log_up_to_date(r, m->u.vote.last_epoch, m->u.vote.last_offset);
}

int raft_handle_vote(struct raft *r, const struct raft_msg *m)
{
    struct raft_msg resp = {0};
    resp.u.vote_resp.pre_vote = m->u.vote.pre_vote;
    if (m->u.vote.last_offset < 0 || m->u.vote.last_epoch < 0 || m->u.vote.last_epoch >= m->epoch)
        return respond(r, m, RAFT_MSG_VOTE_RESP, KERR_INVALID_REQUEST, &resp);
    if (m->epoch < r->epoch)
        return respond(r, m, RAFT_MSG_VOTE_RESP, KERR_FENCED_LEADER_EPOCH, &resp);
    if (!r->is_voter || !raft_is_voter(r, m->from))
        return respond(r, m, RAFT_MSG_VOTE_RESP, KERR_INCONSISTENT_VOTER_SET, &resp);
    if (m->u.vote.pre_vote) {
        resp.u.vote_resp.granted = pre_vote_grantable(r, m);
        return respond(r, m, RAFT_MSG_VOTE_RESP, KERR_NONE, &resp);
    }
    int rc = 0;
    if (m->epoch > r->epoch)
        rc = raft_become_unattached(r, m->epoch);
    if (rc)
        return rc;
    bool log_ok = (r->cfg.test_bugs & RAFT_BUG_VOTE_WITHOUT_LOG_CHECK) ||
                  raft_log_up_to_date(r, m->u.vote.last_epoch, m->u.vote.last_offset);
    bool granted = false;
    bool free_to_vote = r->voted_id == RAFT_NO_ID && r->leader_id == RAFT_NO_ID;
    if ((r->role == RAFT_UNATTACHED || r->role == RAFT_PROSPECTIVE) && free_to_vote && log_ok) {
        rc = raft_become_voted(r, m->epoch, m->from);
        granted = rc == 0;
    } else if ((r->role == RAFT_VOTED || r->role == RAFT_PROSPECTIVE) && r->voted_id == m->from) {
        granted = true;
    }
    if (rc)
        return rc;
    LOG_DEBUG("raft", "node %d: vote for %d in epoch %d %s", r->cfg.node_id, m->from, m->epoch,
              granted ? "granted" : "refused");
    resp.u.vote_resp.granted = granted;
    return respond(r, m, RAFT_MSG_VOTE_RESP, KERR_NONE, &resp);
}

int raft_common_response(struct raft *r, const struct raft_msg *m, bool *stop)
{
    *stop = true;
    if (m->error == KERR_UNKNOWN_LEADER_EPOCH || m->error == KERR_BROKER_NOT_AVAILABLE || m->epoch < r->epoch)
        return 0;
    if (m->error == KERR_INVALID_REQUEST)
        return raft_set_fatal(r, "a peer answered INVALID_REQUEST");
    bool named = m->leader_id >= 0 && m->leader_id != r->cfg.node_id;
    if (m->epoch > r->epoch)
        return named ? raft_become_follower(r, m->epoch, m->leader_id) : raft_become_unattached(r, m->epoch);
    if (named && r->leader_id >= 0 && r->leader_id != m->leader_id)
        return raft_set_fatal(r, "two leaders in one epoch");
    /* a leader of our epoch is named: follow it (a Prospective goes back to the leader it had) */
    if (named && (r->leader_id < 0 || r->role == RAFT_PROSPECTIVE) && r->role != RAFT_LEADER)
        return raft_become_follower(r, m->epoch, m->leader_id);
    *stop = false;
    return 0;
}

int raft_handle_vote_resp(struct raft *r, const struct raft_msg *m)
{
    int idx = raft_voter_index(r, m->from);
    bool pre = m->u.vote_resp.pre_vote;
    if (pre && m->error == KERR_UNSUPPORTED_VERSION) {
        /* a voter without pre-vote (Kafka 3.7: Vote v0 only; the I/O layer answers for it): it would grant
         * a real vote to an up-to-date log, so it does not hold the election back */
        if (r->role != RAFT_PROSPECTIVE || m->epoch != r->epoch || idx < 0)
            return 0;
        r->votes_granted[idx] = true;
        return count(r->votes_granted, r->cfg.nvoters) >= raft_majority(r) ? raft_become_candidate(r) : 0;
    }
    /* a pre-vote answer may come from a voter one epoch ahead (it voted in the epoch we aim at). A refusal
     * that names another leader means that voter still hears from it: it goes through the common rules
     * (back to Follower) */
    bool granted = m->u.vote_resp.granted;
    bool names_live_leader = m->leader_id >= 0 && m->leader_id != r->cfg.node_id && !granted;
    if (pre && r->role == RAFT_PROSPECTIVE && m->error == KERR_NONE && m->epoch < r->epoch) {
        /* the voter is behind our epoch (we lost an election there): whatever leader it follows can never
         * lead us, so only a new epoch ends this; count it as a yes (Kafka 3.7 would simply campaign) */
        granted = true;
        names_live_leader = false;
    }
    bool plain_pre = pre && r->role == RAFT_PROSPECTIVE && m->error == KERR_NONE && !names_live_leader &&
                     m->epoch <= r->epoch + 1;
    if (!plain_pre) {
        bool stop;
        int rc = raft_common_response(r, m, &stop);
        if (rc || stop || m->error != KERR_NONE)
            return rc;
        if (r->role != (pre ? RAFT_PROSPECTIVE : RAFT_CANDIDATE))
            return 0;
    }
    if (idx < 0)
        return 0;
    (granted ? r->votes_granted : r->votes_rejected)[idx] = true;
    if (count(r->votes_granted, r->cfg.nvoters) >= raft_majority(r))
        return r->role == RAFT_PROSPECTIVE ? raft_become_candidate(r) : raft_become_leader(r);
    if (count(r->votes_rejected, r->cfg.nvoters) > r->cfg.nvoters - raft_majority(r) && r->backoff_until == RAFT_NEVER)
        r->backoff_until = r->now + election_backoff(r); /* the majority is out of reach */
    return 0;
}

int raft_handle_begin_epoch(struct raft *r, const struct raft_msg *m)
{
    struct raft_msg resp = {0};
    if (m->epoch < r->epoch)
        return respond(r, m, RAFT_MSG_BEGIN_EPOCH_RESP, KERR_FENCED_LEADER_EPOCH, &resp);
    if (m->leader_id < 0 || m->leader_id == r->cfg.node_id || !raft_is_voter(r, m->leader_id))
        return respond(r, m, RAFT_MSG_BEGIN_EPOCH_RESP, KERR_INVALID_REQUEST, &resp);
    int rc = 0;
    if (m->epoch > r->epoch || r->leader_id == RAFT_NO_ID)
        rc = raft_become_follower(r, m->epoch, m->leader_id);
    else if (r->leader_id != m->leader_id)
        return raft_set_fatal(r, "two leaders in one epoch");
    raft_leader_heard(r);
    return rc ? rc : respond(r, m, RAFT_MSG_BEGIN_EPOCH_RESP, KERR_NONE, &resp);
}

/* How long the voter at 0-based position p of n preferred successors waits (kraft.md §1.3). */
static int64_t end_epoch_delay(const struct raft *r, const struct raft_msg *m)
{
    size_t n = m->u.end_epoch.npreferred;
    for (size_t p = 0; p < n && p < RAFT_MAX_VOTERS; p++) {
        if (m->u.end_epoch.preferred[p] != r->cfg.node_id)
            continue;
        if (p == 0)
            return 0;
        int64_t max = r->cfg.election_backoff_max_ms;
        int64_t d = (max >> (n - 1)) << (p - 1);
        return d < max ? d : max;
    }
    return 0;
}

int raft_handle_end_epoch(struct raft *r, const struct raft_msg *m)
{
    struct raft_msg resp = {0};
    if (m->epoch < r->epoch)
        return respond(r, m, RAFT_MSG_END_EPOCH_RESP, KERR_FENCED_LEADER_EPOCH, &resp);
    if (m->leader_id < 0 || m->u.end_epoch.npreferred > RAFT_MAX_VOTERS)
        return respond(r, m, RAFT_MSG_END_EPOCH_RESP, KERR_INVALID_REQUEST, &resp);
    int rc = 0;
    if (m->epoch > r->epoch || (r->leader_id == RAFT_NO_ID && m->leader_id != r->cfg.node_id))
        rc = raft_become_follower(r, m->epoch, m->leader_id);
    else if (r->leader_id != m->leader_id)
        return raft_set_fatal(r, "two leaders in one epoch");
    if (rc)
        return rc;
    if (r->role == RAFT_FOLLOWER && r->leader_id == m->leader_id)
        r->leader_gone = true; /* it is leaving: grant pre-votes from now on */
    if (r->is_voter && r->leader_id == m->leader_id && r->role != RAFT_LEADER && r->role != RAFT_RESIGNED) {
        int64_t at = r->now + end_epoch_delay(r, m);
        if (at < r->election_deadline)
            r->election_deadline = at;
    }
    return respond(r, m, RAFT_MSG_END_EPOCH_RESP, KERR_NONE, &resp);
}

int raft_handle_epoch_resp(struct raft *r, const struct raft_msg *m)
{
    bool stop;
    int rc = raft_common_response(r, m, &stop);
    int idx = raft_voter_index(r, m->from);
    if (rc || stop || idx < 0 || m->error != KERR_NONE)
        return rc;
    if (m->type == RAFT_MSG_BEGIN_EPOCH_RESP && r->role == RAFT_LEADER)
        r->progress[idx].begin_acked = true;
    if (m->type == RAFT_MSG_END_EPOCH_RESP && r->role == RAFT_RESIGNED)
        r->end_epoch_acked[idx] = true;
    return 0;
}

void raft_leader_heard(struct raft *r)
{
    r->leader_contact_ms = r->now;
    if (r->leader_gone && r->role == RAFT_FOLLOWER)
        r->election_deadline = r->now + r->cfg.fetch_timeout_ms; /* not gone after all */
    r->leader_gone = false;
}

int raft_handle_peer_lost(struct raft *r, int32_t id)
{
    if (r->fetch_corr && r->fetch_target == id && r->role != RAFT_FOLLOWER)
        r->fetch_corr = 0; /* an observer asking around: the next tick asks another voter */
    if (r->role != RAFT_FOLLOWER || id != r->leader_id || r->leader_gone)
        return 0;
    r->leader_gone = true;
    LOG_INFO("raft", "node %d: leader %d of epoch %d is gone (connection closed, or no longer leading)", r->cfg.node_id,
             id, r->epoch);
    if (!r->is_voter)
        return raft_become_unattached(r, r->epoch);
    int64_t at = r->now + leader_gone_delay(r, true);
    if (at < r->election_deadline)
        r->election_deadline = at;
    return 0;
}
