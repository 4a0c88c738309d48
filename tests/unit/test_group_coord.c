/* The classic group coordinator's pure state machine: join/sync/heartbeat/leave flows, rebalances on join
 * and leave, the initial rebalance delay, session expiry (never while a JoinGroup is parked), static
 * members, MEMBER_ID_REQUIRED, protocol vote and INCONSISTENT_GROUP_PROTOCOL, every error path, offset
 * commit/fetch (standalone and in a generation), describe/list/delete, offset expiry, the partition
 * hash. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "broker/common/ferry_alloc.h"
#include "broker/common/ferry_err.h"
#include "broker/group/group_coord.h"

/* ---- a capturing sink ---- */

#define MAXR 64
struct joined {
    int token;
    int16_t error;
    int32_t gen;
    char member[128];
    char leader[128];
    char proto[32];
    int members_n;
};
struct synced {
    int token;
    int16_t error;
    char assignment[64];
};
struct cap {
    struct joined j[MAXR];
    int jn;
    struct synced s[MAXR];
    int sn;
    int offset_records, offset_tombstones, group_records, group_tombstones;
};

static void on_join(void *ctx, void *token, const struct group_join_result *r)
{
    struct cap *c = ctx;
    struct joined *j = &c->j[c->jn++];
    memset(j, 0, sizeof *j);
    j->token = (int)(intptr_t)token;
    j->error = r->error;
    j->gen = r->generation_id;
    snprintf(j->member, sizeof j->member, "%s", r->member_id ? r->member_id : "");
    snprintf(j->leader, sizeof j->leader, "%s", r->leader_id ? r->leader_id : "");
    snprintf(j->proto, sizeof j->proto, "%s", r->protocol_name ? r->protocol_name : "");
    j->members_n = r->members_n;
}

static void on_sync(void *ctx, void *token, const struct group_sync_result *r)
{
    struct cap *c = ctx;
    struct synced *s = &c->s[c->sn++];
    memset(s, 0, sizeof *s);
    s->token = (int)(intptr_t)token;
    s->error = r->error;
    if (r->assignment_len > 0)
        memcpy(s->assignment, r->assignment, (size_t)r->assignment_len < sizeof s->assignment - 1
                                                 ? (size_t)r->assignment_len
                                                 : sizeof s->assignment - 1);
}

static void on_offset(void *ctx, const char *g, const char *t, int32_t p, const struct group_offset_value *v)
{
    struct cap *c = ctx;
    if (v)
        c->offset_records++;
    else
        c->offset_tombstones++;
}

static void on_group(void *ctx, const char *g, const struct group_meta *meta)
{
    struct cap *c = ctx;
    if (!meta)
        c->group_tombstones++;
    else
        c->group_records++;
}

static struct joined *last_join(struct cap *c, int token)
{
    for (int i = c->jn - 1; i >= 0; i--)
        if (c->j[i].token == token)
            return &c->j[i];
    return NULL;
}

static struct synced *last_sync(struct cap *c, int token)
{
    for (int i = c->sn - 1; i >= 0; i--)
        if (c->s[i].token == token)
            return &c->s[i];
    return NULL;
}

static proto_str S(const char *s)
{
    proto_str r = {s, s ? (int32_t)strlen(s) : -1};
    return r;
}

static const proto_str NUL = {NULL, -1};

struct fixture {
    struct cap cap;
    struct group_coord *gc;
};

static struct group_coord *mk(struct cap *c, int32_t initial_delay)
{
    memset(c, 0, sizeof *c);
    struct group_config cfg = {
        .min_session_timeout_ms = 6000,
        .max_session_timeout_ms = 1800000,
        .initial_rebalance_delay_ms = initial_delay,
        .max_size = 5,
        .offset_metadata_max_bytes = 4096,
        .offsets_retention_ms = 7LL * 24 * 3600 * 1000,
        .seed = 42,
    };
    struct group_sink sink = {c, on_join, on_sync, on_offset, on_group};
    struct group_coord *gc;
    assert_int_equal(group_coord_new(&cfg, &sink, &gc), 0);
    return gc;
}

static struct group_protocol_in protos_rr[2];
static struct group_protocol_in protos_range[1];
static struct group_protocol_in protos_other[1];

static void init_protos(void)
{
    static const uint8_t meta[] = {0, 0, 0, 0, 0, 1, 0, 1, 't', 0, 0, 0, 0};
    protos_rr[0] = (struct group_protocol_in){S("roundrobin"), {meta, sizeof meta}};
    protos_rr[1] = (struct group_protocol_in){S("range"), {meta, sizeof meta}};
    protos_range[0] = (struct group_protocol_in){S("range"), {meta, sizeof meta}};
    protos_other[0] = (struct group_protocol_in){S("sticky"), {meta, sizeof meta}};
}

static void join(struct group_coord *gc, int64_t now, int16_t version, const char *group, const char *member,
                 const char *instance, const struct group_protocol_in *p, int np, int token)
{
    struct group_join_req r = {
        .version = version,
        .group_id = S(group),
        .member_id = S(member ? member : ""),
        .instance_id = instance ? S(instance) : NUL,
        .protocol_type = S("consumer"),
        .client_id = S("cli"),
        .client_host = S("/127.0.0.1"),
        .session_timeout_ms = 10000,
        .rebalance_timeout_ms = 30000,
        .protocols = p,
        .protocols_n = np,
    };
    group_coord_join(gc, now, &r, (void *)(intptr_t)token);
}

static void sync_(struct group_coord *gc, int64_t now, const char *group, int32_t gen, const char *member,
                  const struct group_assignment_in *a, int na, int token)
{
    struct group_sync_req r = {
        .version = 3,
        .group_id = S(group),
        .generation_id = gen,
        .member_id = S(member),
        .instance_id = NUL,
        .protocol_type = NUL,
        .protocol_name = NUL,
        .assignments = a,
        .assignments_n = na,
    };
    group_coord_sync(gc, now, &r, (void *)(intptr_t)token);
}

/* Two members join a new group (no initial delay), sync, heartbeat. Returns their ids. */
static void two_member_group(struct group_coord *gc, struct cap *c, char *m1, char *m2)
{
    join(gc, 0, 2, "g", "", NULL, protos_rr, 2, 1);
    /* Alone: completes at once (no initial delay configured, so the deadline is now) */
    group_coord_tick(gc, 0);
    struct joined *j1 = last_join(c, 1);
    assert_non_null(j1);
    assert_int_equal(j1->error, 0);
    assert_int_equal(j1->gen, 1);
    strcpy(m1, j1->member);
    struct group_assignment_in a1[] = {{S(m1), {(const uint8_t *)"A", 1}}};
    sync_(gc, 1, "g", 1, m1, a1, 1, 2);
    assert_int_equal(last_sync(c, 2)->error, 0);
    assert_int_equal(group_coord_state(gc, S("g")), GROUP_STABLE);
    /* a second member: the first learns of the rebalance by heartbeat */
    join(gc, 10, 2, "g", "", NULL, protos_rr, 2, 3);
    assert_null(last_join(c, 3));
    assert_int_equal(group_coord_state(gc, S("g")), GROUP_PREPARING_REBALANCE);
    assert_int_equal(group_coord_heartbeat(gc, 20, S("g"), 1, S(m1), NUL), KERR_REBALANCE_IN_PROGRESS);
    join(gc, 30, 2, "g", m1, NULL, protos_rr, 2, 4);
    struct joined *j4 = last_join(c, 4), *j3 = last_join(c, 3);
    assert_non_null(j4);
    assert_non_null(j3);
    assert_int_equal(j4->gen, 2);
    assert_int_equal(j3->gen, 2);
    assert_string_equal(j4->leader, m1);
    assert_int_equal(j4->members_n, 2); /* only the leader sees the members */
    assert_int_equal(j3->members_n, 0);
    assert_string_equal(j4->proto, "roundrobin");
    strcpy(m2, j3->member);
    /* the follower's sync parks until the leader's */
    sync_(gc, 40, "g", 2, m2, NULL, 0, 5);
    assert_null(last_sync(c, 5));
    struct group_assignment_in a2[] = {{S(m1), {(const uint8_t *)"A1", 2}}, {S(m2), {(const uint8_t *)"B2", 2}}};
    sync_(gc, 50, "g", 2, m1, a2, 2, 6);
    assert_string_equal(last_sync(c, 5)->assignment, "B2");
    assert_string_equal(last_sync(c, 6)->assignment, "A1");
    assert_int_equal(group_coord_state(gc, S("g")), GROUP_STABLE);
    assert_int_equal(group_coord_heartbeat(gc, 60, S("g"), 2, S(m2), NUL), 0);
}

static void test_join_sync_heartbeat(void **state)
{
    struct cap c;
    struct group_coord *gc = mk(&c, 0);
    char m1[128], m2[128];
    two_member_group(gc, &c, m1, m2);
    assert_true(c.group_records >= 2);
    /* stale generation, unknown member */
    assert_int_equal(group_coord_heartbeat(gc, 70, S("g"), 1, S(m2), NUL), KERR_ILLEGAL_GENERATION);
    assert_int_equal(group_coord_heartbeat(gc, 70, S("g"), 2, S("nobody"), NUL), KERR_UNKNOWN_MEMBER_ID);
    assert_int_equal(group_coord_heartbeat(gc, 70, S("nogroup"), 2, S(m1), NUL), KERR_UNKNOWN_MEMBER_ID);
    /* a stable follower rejoining with the same metadata gets the current generation back */
    join(gc, 80, 2, "g", m2, NULL, protos_rr, 2, 7);
    assert_int_equal(last_join(&c, 7)->gen, 2);
    assert_int_equal(group_coord_state(gc, S("g")), GROUP_STABLE);
    /* sync errors */
    sync_(gc, 90, "g", 1, m2, NULL, 0, 8);
    assert_int_equal(last_sync(&c, 8)->error, KERR_ILLEGAL_GENERATION);
    sync_(gc, 90, "g", 2, "nobody", NULL, 0, 9);
    assert_int_equal(last_sync(&c, 9)->error, KERR_UNKNOWN_MEMBER_ID);
    sync_(gc, 90, "nogroup", 2, m2, NULL, 0, 10);
    assert_int_equal(last_sync(&c, 10)->error, KERR_UNKNOWN_MEMBER_ID);
    sync_(gc, 90, "g", 2, m2, NULL, 0, 11);
    assert_string_equal(last_sync(&c, 11)->assignment, "B2"); /* stable: its assignment */
    group_coord_free(gc);
}

static void test_leave_rebalances(void **state)
{
    struct cap c;
    struct group_coord *gc = mk(&c, 0);
    char m1[128], m2[128];
    two_member_group(gc, &c, m1, m2);
    struct group_member_identity who[] = {{S(m2), NUL}, {S("ghost"), NUL}};
    int16_t errs[2];
    assert_int_equal(group_coord_leave(gc, 100, S("g"), who, 2, errs), 0);
    assert_int_equal(errs[0], 0);
    assert_int_equal(errs[1], KERR_UNKNOWN_MEMBER_ID);
    assert_int_equal(group_coord_state(gc, S("g")), GROUP_PREPARING_REBALANCE);
    assert_int_equal(group_coord_heartbeat(gc, 110, S("g"), 2, S(m1), NUL), KERR_REBALANCE_IN_PROGRESS);
    /* commits of the current generation are still accepted while preparing */
    struct group_commit_partition p = {S("t"), 0, 5, -1, S(""), 0};
    assert_int_equal(group_coord_commit(gc, 111, S("g"), 2, S(m1), NUL, &p, 1), 0);
    assert_int_equal(p.error, 0);
    join(gc, 120, 2, "g", m1, NULL, protos_rr, 2, 20);
    assert_int_equal(last_join(&c, 20)->gen, 3);
    assert_int_equal(group_coord_state(gc, S("g")), GROUP_COMPLETING_REBALANCE);
    /* commit during CompletingRebalance */
    assert_int_equal(group_coord_commit(gc, 121, S("g"), 3, S(m1), NUL, &p, 1), KERR_REBALANCE_IN_PROGRESS);
    /* the last member leaves: Empty, next generation */
    who[0].member_id = S(m1);
    assert_int_equal(group_coord_leave(gc, 130, S("g"), who, 1, errs), 0);
    assert_int_equal(group_coord_state(gc, S("g")), GROUP_PREPARING_REBALANCE);
    group_coord_tick(gc, 130);
    assert_int_equal(group_coord_state(gc, S("g")), GROUP_EMPTY);
    assert_int_equal(group_coord_generation(gc, S("g")), 4);
    /* leave from a missing group: per-member UNKNOWN_MEMBER_ID */
    assert_int_equal(group_coord_leave(gc, 140, S("missing"), who, 1, errs), 0);
    assert_int_equal(errs[0], KERR_UNKNOWN_MEMBER_ID);
    group_coord_free(gc);
}

static void test_session_expiry(void **state)
{
    struct cap c;
    struct group_coord *gc = mk(&c, 0);
    char m1[128], m2[128];
    two_member_group(gc, &c, m1, m2);
    /* m1 keeps heartbeating, m2 goes silent */
    for (int64_t t = 3000; t <= 9000; t += 3000)
        assert_int_equal(group_coord_heartbeat(gc, t, S("g"), 2, S(m1), NUL), 0);
    assert_true(group_coord_next_deadline(gc) <= 10060);
    group_coord_tick(gc, 10060);
    assert_int_equal(group_coord_members(gc, S("g")), 1);
    assert_int_equal(group_coord_state(gc, S("g")), GROUP_PREPARING_REBALANCE);
    assert_int_equal(group_coord_heartbeat(gc, 10100, S("g"), 2, S(m2), NUL), KERR_UNKNOWN_MEMBER_ID);
    /* m1 rejoins; its parked join is never expired, even far past its session */
    join(gc, 10200, 2, "g", m1, NULL, protos_rr, 2, 30);
    assert_int_equal(last_join(&c, 30)->gen, 3);
    group_coord_free(gc);

    /* a member whose JoinGroup is parked is not expired while the others are awaited */
    gc = mk(&c, 0);
    two_member_group(gc, &c, m1, m2);
    join(gc, 100, 2, "g", m1, NULL, protos_range, 1, 31); /* new metadata: rebalance; m1 parked */
    assert_null(last_join(&c, 31));
    group_coord_tick(gc, 10061); /* m2 session ends (last heartbeat at 60): it is removed, m1 is not */
    struct joined *j = last_join(&c, 31);
    assert_non_null(j);
    assert_int_equal(j->error, 0);
    assert_int_equal(j->gen, 3);
    assert_string_equal(j->proto, "range");
    assert_int_equal(group_coord_members(gc, S("g")), 1);
    group_coord_free(gc);
}

static void test_rebalance_timeout(void **state)
{
    struct cap c;
    struct group_coord *gc = mk(&c, 0);
    char m1[128], m2[128];
    two_member_group(gc, &c, m1, m2);
    join(gc, 100, 2, "g", "", NULL, protos_rr, 2, 40); /* a third member */
    /* m1 rejoins, m2 keeps heartbeating but never rejoins: removed after the rebalance timeout */
    join(gc, 200, 2, "g", m1, NULL, protos_rr, 2, 41);
    for (int64_t t = 3000; t < 30100; t += 3000)
        assert_int_equal(group_coord_heartbeat(gc, t, S("g"), 2, S(m2), NUL), KERR_REBALANCE_IN_PROGRESS);
    group_coord_tick(gc, 30100);
    assert_int_equal(last_join(&c, 41)->gen, 3);
    assert_int_equal(last_join(&c, 40)->gen, 3);
    assert_int_equal(group_coord_members(gc, S("g")), 2);
    assert_int_equal(group_coord_heartbeat(gc, 30200, S("g"), 2, S(m2), NUL), KERR_UNKNOWN_MEMBER_ID);
    group_coord_free(gc);
}

static void test_initial_delay(void **state)
{
    struct cap c;
    struct group_coord *gc = mk(&c, 3000);
    join(gc, 0, 2, "g", "", NULL, protos_rr, 2, 1);
    group_coord_tick(gc, 2000);
    assert_null(last_join(&c, 1));
    join(gc, 2500, 2, "g", "", NULL, protos_rr, 2, 2);
    group_coord_tick(gc, 3000); /* a member arrived during the delay: extended */
    assert_null(last_join(&c, 1));
    group_coord_tick(gc, 6000);
    assert_non_null(last_join(&c, 1));
    assert_int_equal(last_join(&c, 1)->gen, 1);
    assert_int_equal(last_join(&c, 2)->gen, 1);
    group_coord_free(gc);
}

static void test_member_id_required(void **state)
{
    struct cap c;
    struct group_coord *gc = mk(&c, 0);
    join(gc, 0, 4, "g", "", NULL, protos_rr, 2, 1);
    struct joined *j = last_join(&c, 1);
    assert_int_equal(j->error, KERR_MEMBER_ID_REQUIRED);
    assert_true(strncmp(j->member, "cli-", 4) == 0);
    char id[128];
    strcpy(id, j->member);
    join(gc, 10, 4, "g", id, NULL, protos_rr, 2, 2);
    group_coord_tick(gc, 10);
    assert_int_equal(last_join(&c, 2)->error, 0);
    assert_string_equal(last_join(&c, 2)->member, id);
    /* a pending member that never comes back expires */
    join(gc, 20, 4, "g", "", NULL, protos_rr, 2, 3);
    assert_int_equal(last_join(&c, 3)->error, KERR_MEMBER_ID_REQUIRED);
    group_coord_tick(gc, 10021);
    join(gc, 10030, 4, "g", last_join(&c, 3)->member, NULL, protos_rr, 2, 4);
    assert_int_equal(last_join(&c, 4)->error, KERR_UNKNOWN_MEMBER_ID);
    group_coord_free(gc);
}

static void test_join_errors(void **state)
{
    struct cap c;
    struct group_coord *gc = mk(&c, 0);
    struct group_join_req r = {.version = 2, .group_id = S("g"), .member_id = S(""), .instance_id = NUL,
                               .protocol_type = S("consumer"), .client_id = S("c"), .client_host = S("h"),
                               .session_timeout_ms = 1000, .rebalance_timeout_ms = 1000,
                               .protocols = protos_rr, .protocols_n = 2};
    group_coord_join(gc, 0, &r, (void *)1);
    assert_int_equal(last_join(&c, 1)->error, KERR_INVALID_SESSION_TIMEOUT);
    r.session_timeout_ms = 10000;
    r.group_id = S("");
    group_coord_join(gc, 0, &r, (void *)2);
    assert_int_equal(last_join(&c, 2)->error, KERR_INVALID_GROUP_ID);
    r.group_id = S("g");
    r.protocol_type = S("");
    group_coord_join(gc, 0, &r, (void *)3);
    assert_int_equal(last_join(&c, 3)->error, KERR_INCONSISTENT_GROUP_PROTOCOL);
    r.protocol_type = S("consumer");
    r.protocols_n = 0;
    group_coord_join(gc, 0, &r, (void *)4);
    assert_int_equal(last_join(&c, 4)->error, KERR_INCONSISTENT_GROUP_PROTOCOL);
    /* unknown member id in a group that does not exist */
    r.protocols_n = 2;
    r.member_id = S("someone");
    r.group_id = S("g2");
    group_coord_join(gc, 0, &r, (void *)5);
    assert_int_equal(last_join(&c, 5)->error, KERR_UNKNOWN_MEMBER_ID);
    /* a group with members: another protocol type, or no common protocol */
    join(gc, 0, 2, "g", "", NULL, protos_rr, 2, 6);
    group_coord_tick(gc, 0);
    r.group_id = S("g");
    r.member_id = S("");
    r.protocol_type = S("connect");
    group_coord_join(gc, 0, &r, (void *)7);
    assert_int_equal(last_join(&c, 7)->error, KERR_INCONSISTENT_GROUP_PROTOCOL);
    join(gc, 0, 2, "g", "", NULL, protos_other, 1, 8);
    assert_int_equal(last_join(&c, 8)->error, KERR_INCONSISTENT_GROUP_PROTOCOL);
    /* garbage metadata is opaque: accepted */
    static const uint8_t junk[] = {0xff, 0xfe, 0x00};
    struct group_protocol_in g1[] = {{S("range"), {junk, 3}}};
    join(gc, 0, 2, "g", "", NULL, g1, 1, 9);
    assert_null(last_join(&c, 9)); /* parked: a rebalance started */
    join(gc, 1, 2, "g", last_join(&c, 6)->member, NULL, protos_rr, 2, 10);
    assert_int_equal(last_join(&c, 9)->error, 0);
    assert_string_equal(last_join(&c, 9)->proto, "range"); /* the only common protocol */
    /* group.max.size */
    for (int i = 0; i < 3; i++)
        join(gc, 2, 2, "g", "", NULL, protos_rr, 2, 11 + i);
    join(gc, 2, 2, "g", "", NULL, protos_rr, 2, 15);
    assert_int_equal(last_join(&c, 15)->error, KERR_GROUP_MAX_SIZE_REACHED);
    group_coord_free(gc);
}

static void test_protocol_vote(void **state)
{
    struct cap c;
    struct group_coord *gc = mk(&c, 1000);
    static const uint8_t m[] = {1};
    struct group_protocol_in a[] = {{S("range"), {m, 1}}, {S("roundrobin"), {m, 1}}};
    struct group_protocol_in b[] = {{S("roundrobin"), {m, 1}}, {S("range"), {m, 1}}};
    join(gc, 0, 2, "g", "", NULL, a, 2, 1);
    join(gc, 0, 2, "g", "", NULL, b, 2, 2);
    join(gc, 0, 2, "g", "", NULL, b, 2, 3);
    group_coord_tick(gc, 1000);
    group_coord_tick(gc, 2000);
    assert_string_equal(last_join(&c, 1)->proto, "roundrobin");
    group_coord_free(gc);
}

static void test_static_members(void **state)
{
    struct cap c;
    struct group_coord *gc = mk(&c, 0);
    join(gc, 0, 5, "g", "", "inst-1", protos_rr, 2, 1); /* static: no MEMBER_ID_REQUIRED */
    group_coord_tick(gc, 0);
    struct joined *j = last_join(&c, 1);
    assert_int_equal(j->error, 0);
    assert_true(strncmp(j->member, "inst-1-", 7) == 0);
    char old[128];
    strcpy(old, j->member);
    struct group_assignment_in a[] = {{S(old), {(const uint8_t *)"X", 1}}};
    sync_(gc, 1, "g", 1, old, a, 1, 2);
    /* restart with an empty member id: takes over, no rebalance, same generation */
    join(gc, 10, 5, "g", "", "inst-1", protos_rr, 2, 3);
    j = last_join(&c, 3);
    assert_int_equal(j->error, 0);
    assert_int_equal(j->gen, 1);
    assert_string_not_equal(j->member, old);
    assert_int_equal(group_coord_state(gc, S("g")), GROUP_STABLE);
    /* the old incarnation is fenced */
    struct group_sync_req sr = {.version = 3, .group_id = S("g"), .generation_id = 1, .member_id = S(old),
                                .instance_id = S("inst-1"), .protocol_type = NUL, .protocol_name = NUL};
    group_coord_sync(gc, 11, &sr, (void *)4);
    assert_int_equal(last_sync(&c, 4)->error, KERR_FENCED_INSTANCE_ID);
    assert_int_equal(group_coord_heartbeat(gc, 12, S("g"), 1, S(old), S("inst-1")), KERR_FENCED_INSTANCE_ID);
    join(gc, 13, 5, "g", old, "inst-1", protos_rr, 2, 5);
    assert_int_equal(last_join(&c, 5)->error, KERR_FENCED_INSTANCE_ID);
    struct group_commit_partition p = {S("t"), 0, 1, -1, S(""), 0};
    assert_int_equal(group_coord_commit(gc, 14, S("g"), 1, S(old), S("inst-1"), &p, 1), KERR_FENCED_INSTANCE_ID);
    /* batch leave by instance id */
    struct group_member_identity who[] = {{S(""), S("inst-1")}, {S(""), S("inst-9")}};
    int16_t errs[2];
    assert_int_equal(group_coord_leave(gc, 20, S("g"), who, 2, errs), 0);
    assert_int_equal(errs[0], 0);
    assert_int_equal(errs[1], KERR_UNKNOWN_MEMBER_ID);
    assert_int_equal(group_coord_members(gc, S("g")), 0);
    group_coord_free(gc);
}

static void test_commit_fetch(void **state)
{
    struct cap c;
    struct group_coord *gc = mk(&c, 0);
    /* standalone: generation -1, empty member, no group yet */
    struct group_commit_partition p[] = {{S("t"), 0, 42, 3, S("meta"), 0},
                                         {S("t"), 1, 7, -1, NUL, 0},
                                         {S("u"), 0, 1, -1, S(""), KERR_UNKNOWN_TOPIC_OR_PARTITION}};
    assert_int_equal(group_coord_commit(gc, 5, S("solo"), -1, S(""), NUL, p, 3), 0);
    assert_int_equal(p[0].error, 0);
    assert_int_equal(p[2].error, KERR_UNKNOWN_TOPIC_OR_PARTITION);
    assert_int_equal(c.offset_records, 2);
    struct group_committed got;
    group_coord_fetch_offset(gc, S("solo"), S("t"), 0, &got);
    assert_int_equal(got.offset, 42);
    assert_int_equal(got.leader_epoch, 3);
    assert_string_equal(got.metadata, "meta");
    group_coord_fetch_offset(gc, S("solo"), S("t"), 9, &got);
    assert_int_equal(got.offset, -1);
    group_coord_fetch_offset(gc, S("none"), S("t"), 0, &got);
    assert_int_equal(got.offset, -1);
    /* a commit with a generation to a missing group */
    assert_int_equal(group_coord_commit(gc, 5, S("other"), 3, S("m"), NUL, p, 1), KERR_ILLEGAL_GENERATION);
    assert_int_equal(group_coord_commit(gc, 5, S(""), -1, S(""), NUL, p, 1), KERR_INVALID_GROUP_ID);
    /* metadata too large */
    char big[5000];
    memset(big, 'x', sizeof big - 1);
    big[sizeof big - 1] = 0;
    struct group_commit_partition pb = {S("t"), 0, 43, -1, S(big), 0};
    assert_int_equal(group_coord_commit(gc, 6, S("solo"), -1, S(""), NUL, &pb, 1), 0);
    assert_int_equal(pb.error, KERR_OFFSET_METADATA_TOO_LARGE);
    /* in a group with members: standalone commits are refused, stale generations too */
    char m1[128], m2[128];
    two_member_group(gc, &c, m1, m2);
    struct group_commit_partition q = {S("t"), 0, 100, -1, S(""), 0};
    assert_int_equal(group_coord_commit(gc, 70, S("g"), -1, S(""), NUL, &q, 1), KERR_UNKNOWN_MEMBER_ID);
    assert_int_equal(group_coord_commit(gc, 70, S("g"), 1, S(m1), NUL, &q, 1), KERR_ILLEGAL_GENERATION);
    assert_int_equal(group_coord_commit(gc, 70, S("g"), 2, S("who"), NUL, &q, 1), KERR_UNKNOWN_MEMBER_ID);
    assert_int_equal(group_coord_commit(gc, 70, S("g"), 2, S(m1), NUL, &q, 1), 0);
    group_coord_fetch_offset(gc, S("g"), S("t"), 0, &got);
    assert_int_equal(got.offset, 100);
    group_coord_free(gc);
}

static void count_offset(void *arg, const char *t, int32_t p, const struct group_committed *c)
{
    (*(int *)arg)++;
}

static void describe_cb(void *arg, const struct group_summary *s)
{
    char *out = arg;
    snprintf(out, 64, "%s/%s/%d", s->state, s->protocol_name, s->members_n);
}

static void list_cb(void *arg, const char *g, const char *pt, const char *st)
{
    (*(int *)arg)++;
}

static void test_describe_list_delete(void **state)
{
    struct cap c;
    struct group_coord *gc = mk(&c, 0);
    char m1[128], m2[128];
    two_member_group(gc, &c, m1, m2);
    struct group_commit_partition p = {S("t"), 0, 1, -1, S(""), 0};
    assert_int_equal(group_coord_commit(gc, 5, S("solo"), -1, S(""), NUL, &p, 1), 0);
    p.partition = 1;
    assert_int_equal(group_coord_commit(gc, 5, S("solo"), -1, S(""), NUL, &p, 1), 0);
    char d[64];
    group_coord_describe(gc, S("g"), describe_cb, d);
    assert_string_equal(d, "Stable/roundrobin/2");
    group_coord_describe(gc, S("solo"), describe_cb, d);
    assert_string_equal(d, "Empty//0");
    group_coord_describe(gc, S("missing"), describe_cb, d);
    assert_string_equal(d, "Dead//0");
    int n = 0;
    group_coord_list(gc, list_cb, &n);
    assert_int_equal(n, 2);
    n = 0;
    group_coord_each_offset(gc, S("solo"), count_offset, &n);
    assert_int_equal(n, 2);
    assert_int_equal(group_coord_delete_group(gc, S("g")), KERR_NON_EMPTY_GROUP);
    assert_int_equal(group_coord_delete_group(gc, S("missing")), KERR_GROUP_ID_NOT_FOUND);
    /* OffsetDelete: the consumer group subscribes to t (its metadata names it) */
    int16_t ge;
    assert_int_equal(group_coord_delete_offset(gc, S("g"), S("t"), 0, &ge), KERR_GROUP_SUBSCRIBED_TO_TOPIC);
    assert_int_equal(group_coord_delete_offset(gc, S("g"), S("zz"), 0, &ge), 0);
    assert_int_equal(ge, 0);
    assert_int_equal(group_coord_delete_offset(gc, S("missing"), S("t"), 0, &ge), 0);
    assert_int_equal(ge, KERR_GROUP_ID_NOT_FOUND);
    assert_int_equal(group_coord_delete_offset(gc, S("solo"), S("t"), 1, &ge), 0);
    assert_int_equal(c.offset_tombstones, 1);
    int before = c.offset_tombstones;
    assert_int_equal(group_coord_delete_group(gc, S("solo")), 0);
    assert_int_equal(c.offset_tombstones, before + 1);
    assert_int_equal(c.group_tombstones, 1);
    assert_false(group_coord_exists(gc, S("solo")));
    group_coord_free(gc);
}

static void test_offset_expiry(void **state)
{
    struct cap c;
    struct group_coord *gc = mk(&c, 0);
    const int64_t week = 7LL * 24 * 3600 * 1000;
    struct group_commit_partition p = {S("t"), 0, 1, -1, S(""), 0};
    assert_int_equal(group_coord_commit(gc, 0, S("solo"), -1, S(""), NUL, &p, 1), 0);
    group_coord_expire_offsets(gc, week - 1);
    assert_true(group_coord_exists(gc, S("solo")));
    group_coord_expire_offsets(gc, week);
    assert_false(group_coord_exists(gc, S("solo")));
    assert_int_equal(c.offset_tombstones, 1);
    assert_int_equal(c.group_tombstones, 1);
    /* a consumer group: retention counts from when it became empty */
    char m1[128], m2[128];
    two_member_group(gc, &c, m1, m2);
    struct group_commit_partition q = {S("t"), 0, 9, -1, S(""), 0};
    assert_int_equal(group_coord_commit(gc, 100, S("g"), 2, S(m1), NUL, &q, 1), 0);
    group_coord_expire_offsets(gc, 2 * week); /* subscribed, members present: kept */
    struct group_committed got;
    group_coord_fetch_offset(gc, S("g"), S("t"), 0, &got);
    assert_int_equal(got.offset, 9);
    struct group_member_identity who[] = {{S(m1), NUL}, {S(m2), NUL}};
    int16_t errs[2];
    group_coord_leave(gc, 2 * week, S("g"), who, 2, errs);
    group_coord_tick(gc, 2 * week);
    assert_int_equal(group_coord_state(gc, S("g")), GROUP_EMPTY);
    group_coord_expire_offsets(gc, 3 * week - 1);
    group_coord_fetch_offset(gc, S("g"), S("t"), 0, &got);
    assert_int_equal(got.offset, 9);
    group_coord_expire_offsets(gc, 3 * week);
    assert_false(group_coord_exists(gc, S("g")));
    group_coord_free(gc);
}

static void test_partition_hash(void **state)
{
    /* Java: "my-group".hashCode() and friends */
    assert_int_equal(group_java_hash(S("")), 0);
    assert_int_equal(group_java_hash(S("a")), 97);
    assert_int_equal(group_java_hash(S("hello")), 99162322);
    assert_int_equal(group_java_hash(S("my-group")), -1906497762);
    /* a negative hash: "polygenelubricants".hashCode() == Integer.MIN_VALUE -> abs 0 */
    assert_int_equal(group_java_hash(S("polygenelubricants")), INT32_MIN);
    assert_int_equal(group_partition_for(S("polygenelubricants"), 50), 0);
    assert_int_equal(group_partition_for(S("my-group"), 50), 1906497762 % 50);
    /* non-ASCII: "é" is U+00E9 */
    assert_int_equal(group_java_hash(S("\xc3\xa9")), 0xe9);
    /* a supplementary character counts as two UTF-16 units: U+1F600 -> D83D DE00 */
    assert_int_equal(group_java_hash(S("\xf0\x9f\x98\x80")), 0xd83d * 31 + 0xde00);
}

static void test_alloc_failures(void **state)
{
    /* every allocation failing in turn: no crash, no leak (ASan) */
    for (long k = 0; k < 200; k++) {
        struct cap c;
        struct group_coord *gc = mk(&c, 0);
        ferry_alloc_fail_after(k);
        join(gc, 0, 2, "g", "", NULL, protos_rr, 2, 1);
        group_coord_tick(gc, 0);
        struct group_commit_partition p = {S("t"), 0, 1, -1, S("m"), 0};
        group_coord_commit(gc, 1, S("s"), -1, S(""), NUL, &p, 1);
        ferry_alloc_fail_after(-1);
        group_coord_free(gc);
    }
}

int main(void)
{
    init_protos();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_join_sync_heartbeat),
        cmocka_unit_test(test_leave_rebalances),
        cmocka_unit_test(test_session_expiry),
        cmocka_unit_test(test_rebalance_timeout),
        cmocka_unit_test(test_initial_delay),
        cmocka_unit_test(test_member_id_required),
        cmocka_unit_test(test_join_errors),
        cmocka_unit_test(test_protocol_vote),
        cmocka_unit_test(test_static_members),
        cmocka_unit_test(test_commit_fetch),
        cmocka_unit_test(test_describe_list_delete),
        cmocka_unit_test(test_offset_expiry),
        cmocka_unit_test(test_partition_hash),
        cmocka_unit_test(test_alloc_failures),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
