/* group_coord: the classic group coordinator's pure state machine (see group_coord.h). The rules follow
 * Kafka 3.7's GroupCoordinator.scala and GroupMetadata.scala. */
#include "group_coord.h"

#include <limits.h>
#include <stdio.h>
#include <string.h>

#include "broker/common/ferry_alloc.h"
#include "broker/common/ferry_err.h"

#define NO_DEADLINE INT64_MAX

struct gmember {
    char *id;
    char *instance_id;
    char *client_id;
    char *client_host;
    int32_t session_ms;
    int32_t rebalance_ms;
    char **proto_names;
    uint8_t **proto_meta;
    int32_t *proto_meta_len;
    int32_t protos_n;
    uint8_t *assignment;
    int32_t assignment_len;
    void *join_token; /* parked JoinGroup */
    bool join_parked;
    void *sync_token; /* parked SyncGroup */
    bool sync_parked;
    int64_t session_deadline;
    bool is_new; /* joined in the rebalance under way, not yet answered */
    int64_t join_seq;
};

struct goffset {
    char *topic;
    int32_t partition;
    int64_t offset;
    int32_t leader_epoch;
    char *metadata;
    int64_t commit_ts;
    int64_t expire_ts;
};

struct gpending {
    char *id;
    int64_t deadline;
};

struct group {
    char *id;
    enum group_state state;
    int64_t state_ts;
    int32_t generation;
    char *protocol_type;
    char *protocol_name;
    char *leader;
    struct gmember **members;
    int32_t members_n;
    struct gpending *pending;
    int32_t pending_n;
    struct goffset *offsets;
    int32_t offsets_n;
    int64_t join_deadline;      /* PreparingRebalance: when the rebalance completes anyway */
    bool initial_delay;         /* the deadline is the initial-rebalance delay of a new group */
    bool new_member_added;      /* during the initial delay */
    int64_t initial_budget_end; /* start + rebalance timeout */
    int64_t join_seq;
    struct group *next;
};

struct group_coord {
    struct group_config cfg;
    struct group_sink sink;
    struct group *groups;
    uint64_t rng;
};

static const char *const state_names[] = {"Empty", "PreparingRebalance", "CompletingRebalance", "Stable", "Dead"};

const char *group_state_name(enum group_state s)
{
    return (unsigned)s <= GROUP_DEAD ? state_names[s] : "Unknown";
}

/* ---- small helpers ---- */

static bool str_null(proto_str s) { return s.len < 0 || !s.p; }

static bool str_is(proto_str s, const char *c)
{
    if (!c)
        return str_null(s);
    if (str_null(s))
        return false;
    size_t n = strlen(c);
    return (size_t)s.len == n && memcmp(s.p, c, n) == 0;
}

static char *dup_str(proto_str s)
{
    if (str_null(s))
        return NULL;
    return ferry_strndup(s.p, (size_t)s.len);
}

static uint8_t *dup_bytes(proto_bytes b, int32_t *len)
{
    *len = b.len > 0 ? b.len : 0;
    uint8_t *p = ferry_malloc(*len ? (size_t)*len : 1);
    if (p && *len)
        memcpy(p, b.p, (size_t)*len);
    return p;
}

static bool cstr_eq(const char *a, const char *b)
{
    if (!a || !b)
        return a == b;
    return strcmp(a, b) == 0;
}

static uint64_t next_rand(struct group_coord *gc)
{
    uint64_t x = gc->rng;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    gc->rng = x;
    return x;
}

int32_t group_java_hash(proto_str s)
{
    uint32_t h = 0;
    if (str_null(s))
        return 0;
    const uint8_t *p = (const uint8_t *)s.p, *end = p + s.len;
    while (p < end) {
        uint32_t cp;
        int n;
        if (p[0] < 0x80) {
            cp = p[0];
            n = 1;
        } else if ((p[0] & 0xe0) == 0xc0 && end - p >= 2) {
            cp = ((uint32_t)(p[0] & 0x1f) << 6) | (p[1] & 0x3f);
            n = 2;
        } else if ((p[0] & 0xf0) == 0xe0 && end - p >= 3) {
            cp = ((uint32_t)(p[0] & 0x0f) << 12) | ((uint32_t)(p[1] & 0x3f) << 6) | (p[2] & 0x3f);
            n = 3;
        } else if ((p[0] & 0xf8) == 0xf0 && end - p >= 4) {
            cp = ((uint32_t)(p[0] & 0x07) << 18) | ((uint32_t)(p[1] & 0x3f) << 12) | ((uint32_t)(p[2] & 0x3f) << 6) |
                 (p[3] & 0x3f);
            n = 4;
        } else {
            cp = 0xfffd; /* Java decodes invalid UTF-8 to U+FFFD */
            n = 1;
        }
        p += n;
        if (cp >= 0x10000) {
            cp -= 0x10000;
            h = h * 31 + (0xd800 + (cp >> 10));
            h = h * 31 + (0xdc00 + (cp & 0x3ff));
        } else {
            h = h * 31 + cp;
        }
    }
    return (int32_t)h;
}

int32_t group_partition_for(proto_str group_id, int32_t partitions)
{
    int32_t h = group_java_hash(group_id);
    int32_t a = h == INT32_MIN ? 0 : (h < 0 ? -h : h); /* Kafka's Utils.abs */
    return partitions > 0 ? a % partitions : 0;
}

/* ---- groups and members ---- */

static struct group *find_group(const struct group_coord *gc, proto_str id)
{
    for (struct group *g = gc->groups; g; g = g->next)
        if (str_is(id, g->id))
            return g;
    return NULL;
}

static struct group *add_group(struct group_coord *gc, proto_str id, int64_t now)
{
    struct group *g = ferry_calloc(1, sizeof *g);
    if (!g)
        return NULL;
    g->id = dup_str(id);
    if (!g->id) {
        ferry_free(g);
        return NULL;
    }
    g->state = GROUP_EMPTY;
    g->state_ts = now;
    g->join_deadline = NO_DEADLINE;
    g->next = gc->groups;
    gc->groups = g;
    return g;
}

static void free_member(struct gmember *m)
{
    if (!m)
        return;
    for (int32_t i = 0; i < m->protos_n; i++) {
        ferry_free(m->proto_names[i]);
        ferry_free(m->proto_meta[i]);
    }
    ferry_free(m->proto_names);
    ferry_free(m->proto_meta);
    ferry_free(m->proto_meta_len);
    ferry_free(m->id);
    ferry_free(m->instance_id);
    ferry_free(m->client_id);
    ferry_free(m->client_host);
    ferry_free(m->assignment);
    ferry_free(m);
}

static void free_offset(struct goffset *o)
{
    ferry_free(o->topic);
    ferry_free(o->metadata);
}

static void free_group(struct group *g)
{
    for (int32_t i = 0; i < g->members_n; i++)
        free_member(g->members[i]);
    ferry_free(g->members);
    for (int32_t i = 0; i < g->pending_n; i++)
        ferry_free(g->pending[i].id);
    ferry_free(g->pending);
    for (int32_t i = 0; i < g->offsets_n; i++)
        free_offset(&g->offsets[i]);
    ferry_free(g->offsets);
    ferry_free(g->id);
    ferry_free(g->protocol_type);
    ferry_free(g->protocol_name);
    ferry_free(g->leader);
    ferry_free(g);
}

static void remove_group(struct group_coord *gc, struct group *g)
{
    for (struct group **pp = &gc->groups; *pp; pp = &(*pp)->next)
        if (*pp == g) {
            *pp = g->next;
            break;
        }
    free_group(g);
}

static struct gmember *find_member(const struct group *g, proto_str id)
{
    for (int32_t i = 0; i < g->members_n; i++)
        if (str_is(id, g->members[i]->id))
            return g->members[i];
    return NULL;
}

static struct gmember *find_static(const struct group *g, proto_str instance)
{
    if (str_null(instance))
        return NULL;
    for (int32_t i = 0; i < g->members_n; i++)
        if (g->members[i]->instance_id && str_is(instance, g->members[i]->instance_id))
            return g->members[i];
    return NULL;
}

static int32_t find_pending(const struct group *g, proto_str id)
{
    for (int32_t i = 0; i < g->pending_n; i++)
        if (str_is(id, g->pending[i].id))
            return i;
    return -1;
}

static void remove_pending(struct group *g, int32_t i)
{
    ferry_free(g->pending[i].id);
    g->pending[i] = g->pending[--g->pending_n];
}

static void set_state(struct group *g, enum group_state s, int64_t now)
{
    g->state = s;
    g->state_ts = now;
}

static const char *member_protocol_meta(const struct gmember *m, const char *name, int32_t *len)
{
    for (int32_t i = 0; i < m->protos_n; i++)
        if (cstr_eq(m->proto_names[i], name)) {
            *len = m->proto_meta_len[i];
            return (const char *)m->proto_meta[i];
        }
    *len = 0;
    return NULL;
}

static bool member_supports(const struct gmember *m, const char *name)
{
    for (int32_t i = 0; i < m->protos_n; i++)
        if (cstr_eq(m->proto_names[i], name))
            return true;
    return false;
}

/* Kafka's supportsProtocols: an empty group takes any non-empty type and protocol list; otherwise the
 * type must match and one protocol every member supports must be among the new member's. */
static bool supports_protocols(const struct group *g, const struct group_join_req *r, const struct gmember *self)
{
    if (r->protocol_type.len <= 0 || r->protocols_n <= 0)
        return false;
    int32_t others = 0;
    for (int32_t i = 0; i < g->members_n; i++)
        if (g->members[i] != self)
            others++;
    if (others == 0)
        return true;
    if (!str_is(r->protocol_type, g->protocol_type))
        return false;
    for (int32_t p = 0; p < r->protocols_n; p++) {
        bool all = true;
        for (int32_t i = 0; i < g->members_n && all; i++) {
            struct gmember *m = g->members[i];
            if (m == self)
                continue;
            bool has = false;
            for (int32_t k = 0; k < m->protos_n && !has; k++)
                has = str_is(r->protocols[p].name, m->proto_names[k]);
            all = has;
        }
        if (all)
            return true;
    }
    return false;
}

static int set_member_protocols(struct gmember *m, const struct group_join_req *r)
{
    char **names = ferry_calloc((size_t)r->protocols_n, sizeof *names);
    uint8_t **meta = ferry_calloc((size_t)r->protocols_n, sizeof *meta);
    int32_t *lens = ferry_calloc((size_t)r->protocols_n, sizeof *lens);
    if (!names || !meta || !lens)
        goto fail;
    for (int32_t i = 0; i < r->protocols_n; i++) {
        names[i] = str_null(r->protocols[i].name) ? ferry_strdup("") : dup_str(r->protocols[i].name);
        meta[i] = dup_bytes(r->protocols[i].metadata, &lens[i]);
        if (!names[i] || !meta[i]) {
            for (int32_t k = 0; k <= i; k++) {
                ferry_free(names[k]);
                ferry_free(meta[k]);
            }
            goto fail;
        }
    }
    for (int32_t i = 0; i < m->protos_n; i++) {
        ferry_free(m->proto_names[i]);
        ferry_free(m->proto_meta[i]);
    }
    ferry_free(m->proto_names);
    ferry_free(m->proto_meta);
    ferry_free(m->proto_meta_len);
    m->proto_names = names;
    m->proto_meta = meta;
    m->proto_meta_len = lens;
    m->protos_n = r->protocols_n;
    return 0;
fail:
    ferry_free(names);
    ferry_free(meta);
    ferry_free(lens);
    return FERRY_ENOMEM;
}

static bool same_protocols(const struct gmember *m, const struct group_join_req *r)
{
    if (m->protos_n != r->protocols_n)
        return false;
    for (int32_t i = 0; i < m->protos_n; i++) {
        const struct group_protocol_in *p = &r->protocols[i];
        int32_t plen = p->metadata.len > 0 ? p->metadata.len : 0;
        if (!str_is(p->name, m->proto_names[i]) || plen != m->proto_meta_len[i] ||
            (plen && memcmp(p->metadata.p, m->proto_meta[i], (size_t)plen) != 0))
            return false;
    }
    return true;
}

/* Protocol vote: candidates are the protocols every member supports; each member votes for its first
 * candidate in its own preference order; most votes wins (ties: the earlier candidate of the leader). */
static const char *select_protocol(const struct group *g)
{
    if (g->members_n == 0)
        return NULL;
    const struct gmember *first = g->members[0];
    for (int32_t i = 0; i < g->members_n; i++)
        if (g->leader && cstr_eq(g->members[i]->id, g->leader))
            first = g->members[i];
    const char *best = NULL;
    int32_t best_votes = -1;
    for (int32_t c = 0; c < first->protos_n; c++) {
        const char *cand = first->proto_names[c];
        bool all = true;
        for (int32_t i = 0; i < g->members_n && all; i++)
            all = member_supports(g->members[i], cand);
        if (!all)
            continue;
        int32_t votes = 0;
        for (int32_t i = 0; i < g->members_n; i++) {
            const struct gmember *m = g->members[i];
            for (int32_t k = 0; k < m->protos_n; k++) {
                bool cand_k = true;
                for (int32_t j = 0; j < g->members_n && cand_k; j++)
                    cand_k = member_supports(g->members[j], m->proto_names[k]);
                if (cand_k) {
                    if (cstr_eq(m->proto_names[k], cand))
                        votes++;
                    break;
                }
            }
        }
        if (votes > best_votes) {
            best = cand;
            best_votes = votes;
        }
    }
    return best;
}

/* Emits the group's metadata record (GroupMetadataValue), as Kafka stores it after each generation. */
static void emit_group(struct group_coord *gc, struct group *g)
{
    if (!gc->sink.group_record)
        return;
    struct group_meta_member *ms = g->members_n ? ferry_calloc((size_t)g->members_n, sizeof *ms) : NULL;
    int32_t n = ms ? g->members_n : 0;
    for (int32_t i = 0; i < n; i++) {
        struct gmember *m = g->members[i];
        ms[i].member_id = m->id;
        ms[i].instance_id = m->instance_id;
        ms[i].client_id = m->client_id;
        ms[i].client_host = m->client_host;
        ms[i].rebalance_timeout_ms = m->rebalance_ms;
        ms[i].session_timeout_ms = m->session_ms;
        ms[i].subscription = (const uint8_t *)member_protocol_meta(m, g->protocol_name, &ms[i].subscription_len);
        ms[i].assignment = m->assignment;
        ms[i].assignment_len = m->assignment_len;
    }
    struct group_meta meta = {
        .protocol_type = g->protocol_type ? g->protocol_type : "",
        .generation = g->generation,
        .protocol = g->protocol_name,
        .leader = g->members_n ? g->leader : NULL,
        .state_timestamp = g->state_ts,
        .members = ms,
        .members_n = n,
    };
    gc->sink.group_record(gc->sink.ctx, g->id, &meta);
    ferry_free(ms);
}

static int32_t max_rebalance_timeout(const struct group *g)
{
    int32_t t = 0;
    for (int32_t i = 0; i < g->members_n; i++)
        if (g->members[i]->rebalance_ms > t)
            t = g->members[i]->rebalance_ms;
    return t;
}

static void respond_join_error(struct group_coord *gc, void *token, int16_t err, const char *member_id)
{
    struct group_join_result r = {.error = err, .generation_id = -1, .leader_id = "", .member_id = member_id ? member_id : ""};
    gc->sink.join_done(gc->sink.ctx, token, &r);
}

static void respond_sync_error(struct group_coord *gc, void *token, int16_t err)
{
    struct group_sync_result r = {.error = err};
    gc->sink.sync_done(gc->sink.ctx, token, &r);
}

/* Answers a member's JoinGroup with the current generation; the leader gets the member list. */
static void join_answer(struct group_coord *gc, struct group *g, struct gmember *m, void *token)
{
    bool leader = cstr_eq(g->leader, m->id);
    struct group_join_member *list = NULL;
    int32_t n = 0;
    if (leader && g->members_n) {
        list = ferry_calloc((size_t)g->members_n, sizeof *list);
        if (list) {
            for (int32_t i = 0; i < g->members_n; i++) {
                struct gmember *o = g->members[i];
                list[n].member_id = o->id;
                list[n].instance_id = o->instance_id;
                list[n].metadata = (const uint8_t *)member_protocol_meta(o, g->protocol_name, &list[n].metadata_len);
                n++;
            }
        }
    }
    struct group_join_result r = {
        .error = 0,
        .generation_id = g->generation,
        .protocol_type = g->protocol_type,
        .protocol_name = g->protocol_name,
        .leader_id = g->leader ? g->leader : "",
        .member_id = m->id,
        .members = list,
        .members_n = n,
    };
    gc->sink.join_done(gc->sink.ctx, token, &r);
    ferry_free(list);
}

static void reschedule_session(struct gmember *m, int64_t now)
{
    m->session_deadline = now + m->session_ms;
}

/* Removes member i from the group (freeing it); fixes up the leader. Parked requests are answered with
 * err first (0: none answered). */
static void drop_member(struct group_coord *gc, struct group *g, int32_t i, int16_t err)
{
    struct gmember *m = g->members[i];
    if (m->join_parked) {
        m->join_parked = false;
        respond_join_error(gc, m->join_token, err, m->id);
    }
    if (m->sync_parked) {
        m->sync_parked = false;
        respond_sync_error(gc, m->sync_token, err);
    }
    memmove(&g->members[i], &g->members[i + 1], (size_t)(g->members_n - 1 - i) * sizeof *g->members);
    g->members_n--;
    if (g->leader && cstr_eq(g->leader, m->id)) {
        ferry_free(g->leader);
        g->leader = g->members_n ? ferry_strdup(g->members[0]->id) : NULL;
    }
    free_member(m);
}

static void sync_error_all(struct group_coord *gc, struct group *g, int16_t err)
{
    for (int32_t i = 0; i < g->members_n; i++) {
        struct gmember *m = g->members[i];
        if (m->sync_parked) {
            m->sync_parked = false;
            respond_sync_error(gc, m->sync_token, err);
        }
        ferry_free(m->assignment);
        m->assignment = NULL;
        m->assignment_len = 0;
    }
}

static void prepare_rebalance(struct group_coord *gc, struct group *g, int64_t now)
{
    if (g->state == GROUP_COMPLETING_REBALANCE)
        sync_error_all(gc, g, KERR_REBALANCE_IN_PROGRESS);
    if (g->state == GROUP_EMPTY) {
        g->initial_delay = true;
        g->new_member_added = false;
        g->join_deadline = now + gc->cfg.initial_rebalance_delay_ms;
        g->initial_budget_end = now + max_rebalance_timeout(g);
    } else {
        g->initial_delay = false;
        g->join_deadline = now + max_rebalance_timeout(g);
    }
    set_state(g, GROUP_PREPARING_REBALANCE, now);
}

static void maybe_prepare_rebalance(struct group_coord *gc, struct group *g, int64_t now)
{
    if (g->state == GROUP_STABLE || g->state == GROUP_COMPLETING_REBALANCE || g->state == GROUP_EMPTY)
        prepare_rebalance(gc, g, now);
}

static bool all_joined(const struct group *g)
{
    if (g->pending_n)
        return false;
    for (int32_t i = 0; i < g->members_n; i++)
        if (!g->members[i]->join_parked)
            return false;
    return true;
}

/* The rebalance completes: members that did not rejoin leave, the next generation starts. */
static void complete_join(struct group_coord *gc, struct group *g, int64_t now)
{
    for (int32_t i = g->members_n - 1; i >= 0; i--)
        if (!g->members[i]->join_parked)
            drop_member(gc, g, i, 0);
    g->join_deadline = NO_DEADLINE;
    g->initial_delay = false;
    g->generation++;
    ferry_free(g->protocol_name);
    g->protocol_name = NULL;
    if (g->members_n == 0) {
        set_state(g, GROUP_EMPTY, now);
        emit_group(gc, g);
        return;
    }
    const char *p = select_protocol(g);
    g->protocol_name = p ? ferry_strdup(p) : NULL;
    if (!g->leader)
        g->leader = ferry_strdup(g->members[0]->id);
    set_state(g, GROUP_COMPLETING_REBALANCE, now);
    for (int32_t i = 0; i < g->members_n; i++) {
        struct gmember *m = g->members[i];
        m->join_parked = false;
        m->is_new = false;
        reschedule_session(m, now);
        join_answer(gc, g, m, m->join_token);
    }
}

static void check_join_complete(struct group_coord *gc, struct group *g, int64_t now)
{
    if (g->state == GROUP_PREPARING_REBALANCE && !g->initial_delay && all_joined(g))
        complete_join(gc, g, now);
}

static char *new_member_id(struct group_coord *gc, proto_str client_id, proto_str instance)
{
    uint64_t a = next_rand(gc), b = next_rand(gc);
    char uuid[40];
    snprintf(uuid, sizeof uuid, "%08x-%04x-%04x-%04x-%012llx", (unsigned)(a >> 32), (unsigned)(a >> 16) & 0xffff,
             (unsigned)(0x4000 | (a & 0x0fff)), (unsigned)(0x8000 | ((b >> 48) & 0x3fff)),
             (unsigned long long)(b & 0xffffffffffffULL));
    proto_str prefix = str_null(instance) ? client_id : instance;
    size_t plen = str_null(prefix) ? 0 : (size_t)prefix.len;
    char *id = ferry_malloc(plen + 1 + strlen(uuid) + 1);
    if (!id)
        return NULL;
    if (plen)
        memcpy(id, prefix.p, plen);
    id[plen] = '-';
    strcpy(id + plen + 1, uuid);
    return id;
}

static struct gmember *new_member(const struct group_join_req *r, char *id, int32_t rebalance_ms)
{
    struct gmember *m = ferry_calloc(1, sizeof *m);
    if (!m)
        return NULL;
    m->id = id;
    m->instance_id = dup_str(r->instance_id);
    m->client_id = str_null(r->client_id) ? ferry_strdup("") : dup_str(r->client_id);
    m->client_host = str_null(r->client_host) ? ferry_strdup("") : dup_str(r->client_host);
    m->session_ms = r->session_timeout_ms;
    m->rebalance_ms = rebalance_ms;
    if (!m->client_id || !m->client_host || (!str_null(r->instance_id) && !m->instance_id) ||
        set_member_protocols(m, r) != 0) {
        m->id = NULL;
        free_member(m);
        return NULL;
    }
    return m;
}

static int rebalance_ms_of(const struct group_join_req *r)
{
    return r->rebalance_timeout_ms >= 0 && r->version >= 1 ? r->rebalance_timeout_ms : r->session_timeout_ms;
}

static void add_member_and_rebalance(struct group_coord *gc, struct group *g, int64_t now,
                                     const struct group_join_req *r, char *id, void *token)
{
    struct gmember *m = new_member(r, id, rebalance_ms_of(r));
    struct gmember **arr = m ? ferry_realloc(g->members, (size_t)(g->members_n + 1) * sizeof *arr) : NULL;
    if (!arr) {
        respond_join_error(gc, token, KERR_UNKNOWN_SERVER_ERROR, id);
        if (m)
            free_member(m);
        else
            ferry_free(id);
        return;
    }
    g->members = arr;
    g->members[g->members_n++] = m;
    if (g->members_n == 1 && !g->protocol_type)
        g->protocol_type = dup_str(r->protocol_type);
    if (!g->leader)
        g->leader = ferry_strdup(m->id);
    m->join_parked = true;
    m->join_token = token;
    m->is_new = true;
    m->session_deadline = NO_DEADLINE; /* never expired while parked */
    if (g->state == GROUP_PREPARING_REBALANCE && g->initial_delay)
        g->new_member_added = true;
    maybe_prepare_rebalance(gc, g, now);
    check_join_complete(gc, g, now);
}

static void update_member_and_rebalance(struct group_coord *gc, struct group *g, int64_t now, struct gmember *m,
                                        const struct group_join_req *r, void *token)
{
    if (set_member_protocols(m, r) != 0) {
        respond_join_error(gc, token, KERR_UNKNOWN_SERVER_ERROR, m->id);
        return;
    }
    m->session_ms = r->session_timeout_ms;
    m->rebalance_ms = rebalance_ms_of(r);
    if (m->join_parked) /* a second JoinGroup replaces the first, as Kafka's callback replacement */
        respond_join_error(gc, m->join_token, KERR_REBALANCE_IN_PROGRESS, m->id);
    m->join_parked = true;
    m->join_token = token;
    m->session_deadline = NO_DEADLINE;
    maybe_prepare_rebalance(gc, g, now);
    check_join_complete(gc, g, now);
}

/* A static member rejoining with an unknown member id: it takes over the old member's place. */
static void static_member_rejoin(struct group_coord *gc, struct group *g, int64_t now, struct gmember *old,
                                 const struct group_join_req *r, char *new_id, void *token)
{
    bool was_leader = cstr_eq(g->leader, old->id);
    if (old->join_parked) {
        old->join_parked = false;
        respond_join_error(gc, old->join_token, KERR_FENCED_INSTANCE_ID, old->id);
    }
    if (old->sync_parked) {
        old->sync_parked = false;
        respond_sync_error(gc, old->sync_token, KERR_FENCED_INSTANCE_ID);
    }
    ferry_free(old->id);
    old->id = new_id;
    if (was_leader) {
        ferry_free(g->leader);
        g->leader = ferry_strdup(new_id);
    }
    old->session_ms = r->session_timeout_ms;
    old->rebalance_ms = rebalance_ms_of(r);
    if (g->state == GROUP_STABLE && same_protocols(old, r)) {
        reschedule_session(old, now);
        join_answer(gc, g, old, token);
        return;
    }
    update_member_and_rebalance(gc, g, now, old, r, token);
}

void group_coord_join(struct group_coord *gc, int64_t now, const struct group_join_req *r, void *token)
{
    if (r->group_id.len <= 0) {
        respond_join_error(gc, token, KERR_INVALID_GROUP_ID, NULL);
        return;
    }
    if (r->session_timeout_ms < gc->cfg.min_session_timeout_ms ||
        r->session_timeout_ms > gc->cfg.max_session_timeout_ms) {
        respond_join_error(gc, token, KERR_INVALID_SESSION_TIMEOUT, NULL);
        return;
    }
    bool unknown_id = r->member_id.len <= 0;
    struct group *g = find_group(gc, r->group_id);
    if (!g) {
        if (!unknown_id) {
            respond_join_error(gc, token, KERR_UNKNOWN_MEMBER_ID, NULL);
            return;
        }
        g = add_group(gc, r->group_id, now);
        if (!g) {
            respond_join_error(gc, token, KERR_UNKNOWN_SERVER_ERROR, NULL);
            return;
        }
    }
    if (g->state == GROUP_DEAD) {
        respond_join_error(gc, token, KERR_COORDINATOR_NOT_AVAILABLE, NULL);
        return;
    }
    if (unknown_id) {
        struct gmember *st = find_static(g, r->instance_id);
        if (!st && gc->cfg.max_size > 0 && g->members_n + g->pending_n >= gc->cfg.max_size) {
            respond_join_error(gc, token, KERR_GROUP_MAX_SIZE_REACHED, NULL);
            return;
        }
        if (!supports_protocols(g, r, st)) {
            respond_join_error(gc, token, KERR_INCONSISTENT_GROUP_PROTOCOL, NULL);
            return;
        }
        char *id = new_member_id(gc, r->client_id, r->instance_id);
        if (!id) {
            respond_join_error(gc, token, KERR_UNKNOWN_SERVER_ERROR, NULL);
            return;
        }
        if (st) {
            static_member_rejoin(gc, g, now, st, r, id, token);
        } else if (str_null(r->instance_id) && r->version >= 4) {
            struct gpending *p = ferry_realloc(g->pending, (size_t)(g->pending_n + 1) * sizeof *p);
            if (!p) {
                ferry_free(id);
                respond_join_error(gc, token, KERR_UNKNOWN_SERVER_ERROR, NULL);
                return;
            }
            g->pending = p;
            g->pending[g->pending_n].id = id;
            g->pending[g->pending_n].deadline = now + r->session_timeout_ms;
            g->pending_n++;
            respond_join_error(gc, token, KERR_MEMBER_ID_REQUIRED, id);
        } else {
            add_member_and_rebalance(gc, g, now, r, id, token);
        }
        return;
    }
    /* a known member id */
    if (!supports_protocols(g, r, find_member(g, r->member_id))) {
        respond_join_error(gc, token, KERR_INCONSISTENT_GROUP_PROTOCOL, NULL);
        return;
    }
    int32_t pi = find_pending(g, r->member_id);
    if (pi >= 0) {
        char *id = g->pending[pi].id;
        g->pending[pi].id = NULL;
        remove_pending(g, pi);
        add_member_and_rebalance(gc, g, now, r, id, token);
        return;
    }
    if (!str_null(r->instance_id)) {
        struct gmember *st = find_static(g, r->instance_id);
        if (st && !str_is(r->member_id, st->id)) {
            respond_join_error(gc, token, KERR_FENCED_INSTANCE_ID, NULL);
            return;
        }
    }
    struct gmember *m = find_member(g, r->member_id);
    if (!m) {
        respond_join_error(gc, token, KERR_UNKNOWN_MEMBER_ID, NULL);
        return;
    }
    switch (g->state) {
    case GROUP_PREPARING_REBALANCE:
        update_member_and_rebalance(gc, g, now, m, r, token);
        break;
    case GROUP_COMPLETING_REBALANCE:
        if (same_protocols(m, r))
            join_answer(gc, g, m, token);
        else
            update_member_and_rebalance(gc, g, now, m, r, token);
        break;
    case GROUP_STABLE:
        if (cstr_eq(g->leader, m->id) || !same_protocols(m, r)) {
            update_member_and_rebalance(gc, g, now, m, r, token);
        } else {
            reschedule_session(m, now);
            join_answer(gc, g, m, token);
        }
        break;
    default:
        respond_join_error(gc, token, KERR_UNKNOWN_MEMBER_ID, NULL);
        break;
    }
}

static bool fenced(const struct group *g, proto_str member_id, proto_str instance_id)
{
    if (str_null(instance_id))
        return false;
    struct gmember *st = find_static(g, instance_id);
    return st && !str_is(member_id, st->id);
}

static void sync_answer(struct group_coord *gc, struct group *g, struct gmember *m, void *token)
{
    struct group_sync_result r = {
        .error = 0,
        .protocol_type = g->protocol_type,
        .protocol_name = g->protocol_name,
        .assignment = m->assignment,
        .assignment_len = m->assignment_len,
    };
    gc->sink.sync_done(gc->sink.ctx, token, &r);
}

void group_coord_sync(struct group_coord *gc, int64_t now, const struct group_sync_req *r, void *token)
{
    struct group *g = find_group(gc, r->group_id);
    if (!g) {
        respond_sync_error(gc, token, KERR_UNKNOWN_MEMBER_ID);
        return;
    }
    if (g->state == GROUP_DEAD) {
        respond_sync_error(gc, token, KERR_COORDINATOR_NOT_AVAILABLE);
        return;
    }
    if (fenced(g, r->member_id, r->instance_id)) {
        respond_sync_error(gc, token, KERR_FENCED_INSTANCE_ID);
        return;
    }
    struct gmember *m = find_member(g, r->member_id);
    if (!m) {
        respond_sync_error(gc, token, KERR_UNKNOWN_MEMBER_ID);
        return;
    }
    if (r->generation_id != g->generation) {
        respond_sync_error(gc, token, KERR_ILLEGAL_GENERATION);
        return;
    }
    if ((!str_null(r->protocol_type) && !str_is(r->protocol_type, g->protocol_type)) ||
        (!str_null(r->protocol_name) && !str_is(r->protocol_name, g->protocol_name))) {
        respond_sync_error(gc, token, KERR_INCONSISTENT_GROUP_PROTOCOL);
        return;
    }
    switch (g->state) {
    case GROUP_EMPTY:
        respond_sync_error(gc, token, KERR_UNKNOWN_MEMBER_ID);
        return;
    case GROUP_PREPARING_REBALANCE:
        respond_sync_error(gc, token, KERR_REBALANCE_IN_PROGRESS);
        return;
    case GROUP_STABLE:
        reschedule_session(m, now);
        sync_answer(gc, g, m, token);
        return;
    case GROUP_COMPLETING_REBALANCE:
        break;
    default:
        respond_sync_error(gc, token, KERR_UNKNOWN_MEMBER_ID);
        return;
    }
    if (m->sync_parked) /* a repeated SyncGroup replaces the first */
        respond_sync_error(gc, m->sync_token, KERR_REBALANCE_IN_PROGRESS);
    m->sync_parked = true;
    m->sync_token = token;
    reschedule_session(m, now);
    if (!cstr_eq(g->leader, m->id))
        return;
    for (int32_t i = 0; i < g->members_n; i++) {
        struct gmember *o = g->members[i];
        ferry_free(o->assignment);
        o->assignment = NULL;
        o->assignment_len = 0;
        for (int32_t k = 0; k < r->assignments_n; k++)
            if (str_is(r->assignments[k].member_id, o->id)) {
                o->assignment = dup_bytes(r->assignments[k].assignment, &o->assignment_len);
                break;
            }
    }
    set_state(g, GROUP_STABLE, now);
    emit_group(gc, g);
    for (int32_t i = 0; i < g->members_n; i++) {
        struct gmember *o = g->members[i];
        if (o->sync_parked) {
            o->sync_parked = false;
            sync_answer(gc, g, o, o->sync_token);
        }
    }
}

int16_t group_coord_heartbeat(struct group_coord *gc, int64_t now, proto_str group_id, int32_t generation,
                              proto_str member_id, proto_str instance_id)
{
    struct group *g = find_group(gc, group_id);
    if (!g)
        return KERR_UNKNOWN_MEMBER_ID;
    if (g->state == GROUP_DEAD)
        return KERR_COORDINATOR_NOT_AVAILABLE;
    if (fenced(g, member_id, instance_id))
        return KERR_FENCED_INSTANCE_ID;
    struct gmember *m = find_member(g, member_id);
    if (g->state == GROUP_EMPTY || !m)
        return KERR_UNKNOWN_MEMBER_ID;
    if (generation != g->generation)
        return KERR_ILLEGAL_GENERATION;
    if (!m->join_parked)
        reschedule_session(m, now);
    return g->state == GROUP_PREPARING_REBALANCE ? KERR_REBALANCE_IN_PROGRESS : 0;
}

/* A member leaves (LeaveGroup, session expiry): the others rebalance. */
static void remove_member_and_update(struct group_coord *gc, struct group *g, int32_t i, int64_t now)
{
    drop_member(gc, g, i, KERR_UNKNOWN_MEMBER_ID);
    if (g->state == GROUP_STABLE || g->state == GROUP_COMPLETING_REBALANCE)
        maybe_prepare_rebalance(gc, g, now);
    else if (g->state == GROUP_PREPARING_REBALANCE)
        check_join_complete(gc, g, now);
}

static int32_t member_index(const struct group *g, const struct gmember *m)
{
    for (int32_t i = 0; i < g->members_n; i++)
        if (g->members[i] == m)
            return i;
    return -1;
}

int16_t group_coord_leave(struct group_coord *gc, int64_t now, proto_str group_id,
                          const struct group_member_identity *members, int32_t n, int16_t *member_errors)
{
    struct group *g = find_group(gc, group_id);
    if (!g) {
        for (int32_t i = 0; i < n; i++)
            member_errors[i] = KERR_UNKNOWN_MEMBER_ID;
        return 0;
    }
    if (g->state == GROUP_DEAD)
        return KERR_COORDINATOR_NOT_AVAILABLE;
    for (int32_t i = 0; i < n; i++) {
        proto_str mid = members[i].member_id, iid = members[i].instance_id;
        struct gmember *m = NULL;
        if (!str_null(iid)) {
            m = find_static(g, iid);
            if (m && mid.len > 0 && !str_is(mid, m->id)) {
                member_errors[i] = KERR_FENCED_INSTANCE_ID;
                continue;
            }
        } else {
            int32_t pi = find_pending(g, mid);
            if (pi >= 0) {
                remove_pending(g, pi);
                member_errors[i] = 0;
                check_join_complete(gc, g, now);
                continue;
            }
            m = find_member(g, mid);
        }
        if (!m) {
            member_errors[i] = KERR_UNKNOWN_MEMBER_ID;
            continue;
        }
        member_errors[i] = 0;
        remove_member_and_update(gc, g, member_index(g, m), now);
    }
    return 0;
}

/* ---- offsets ---- */

static struct goffset *find_offset(const struct group *g, proto_str topic, int32_t partition)
{
    for (int32_t i = 0; i < g->offsets_n; i++)
        if (g->offsets[i].partition == partition && str_is(topic, g->offsets[i].topic))
            return &g->offsets[i];
    return NULL;
}

static int store_offset(struct group *g, proto_str topic, int32_t partition, const struct group_offset_value *v)
{
    char *meta = v->metadata ? ferry_strdup(v->metadata) : ferry_strdup("");
    if (!meta)
        return FERRY_ENOMEM;
    struct goffset *o = find_offset(g, topic, partition);
    if (o) {
        /* keep commit order: move it to the end */
        struct goffset keep = *o;
        int32_t idx = (int32_t)(o - g->offsets);
        memmove(&g->offsets[idx], &g->offsets[idx + 1], (size_t)(g->offsets_n - idx - 1) * sizeof *o);
        g->offsets[g->offsets_n - 1] = keep;
        o = &g->offsets[g->offsets_n - 1];
        ferry_free(o->metadata);
    } else {
        struct goffset *arr = ferry_realloc(g->offsets, (size_t)(g->offsets_n + 1) * sizeof *arr);
        char *t = dup_str(topic);
        if (!arr || !t) {
            if (arr)
                g->offsets = arr;
            ferry_free(t);
            ferry_free(meta);
            return FERRY_ENOMEM;
        }
        g->offsets = arr;
        o = &g->offsets[g->offsets_n++];
        o->topic = t;
        o->partition = partition;
    }
    o->offset = v->offset;
    o->leader_epoch = v->leader_epoch;
    o->metadata = meta;
    o->commit_ts = v->commit_timestamp;
    o->expire_ts = v->expire_timestamp;
    return 0;
}

int16_t group_coord_commit(struct group_coord *gc, int64_t now, proto_str group_id, int32_t generation,
                           proto_str member_id, proto_str instance_id, struct group_commit_partition *parts,
                           int32_t n)
{
    if (group_id.len <= 0)
        return KERR_INVALID_GROUP_ID;
    struct group *g = find_group(gc, group_id);
    if (!g) {
        if (generation >= 0)
            return KERR_ILLEGAL_GENERATION;
        g = add_group(gc, group_id, now);
        if (!g)
            return KERR_UNKNOWN_SERVER_ERROR;
    }
    if (g->state == GROUP_DEAD)
        return KERR_COORDINATOR_NOT_AVAILABLE;
    if (fenced(g, member_id, instance_id))
        return KERR_FENCED_INSTANCE_ID;
    struct gmember *m = NULL;
    if (!(generation < 0 && g->state == GROUP_EMPTY)) {
        if (g->state == GROUP_COMPLETING_REBALANCE)
            return KERR_REBALANCE_IN_PROGRESS;
        m = find_member(g, member_id);
        if (!m)
            return KERR_UNKNOWN_MEMBER_ID;
        if (generation != g->generation)
            return KERR_ILLEGAL_GENERATION;
        if (!m->join_parked)
            reschedule_session(m, now);
    }
    for (int32_t i = 0; i < n; i++) {
        struct group_commit_partition *p = &parts[i];
        if (p->error)
            continue;
        if (p->metadata.len > gc->cfg.offset_metadata_max_bytes) {
            p->error = KERR_OFFSET_METADATA_TOO_LARGE;
            continue;
        }
        char *meta = str_null(p->metadata) ? NULL : dup_str(p->metadata);
        if (!str_null(p->metadata) && !meta) {
            p->error = KERR_UNKNOWN_SERVER_ERROR;
            continue;
        }
        struct group_offset_value v = {
            .offset = p->offset,
            .leader_epoch = p->leader_epoch,
            .metadata = meta ? meta : "",
            .commit_timestamp = now,
            .expire_timestamp = -1,
        };
        if (store_offset(g, p->topic, p->partition, &v) != 0) {
            p->error = KERR_UNKNOWN_SERVER_ERROR;
        } else {
            p->error = 0;
            if (gc->sink.offset_record) {
                char *t = dup_str(p->topic);
                if (t)
                    gc->sink.offset_record(gc->sink.ctx, g->id, t, p->partition, &v);
                ferry_free(t);
            }
        }
        ferry_free(meta);
    }
    return 0;
}

void group_coord_fetch_offset(struct group_coord *gc, proto_str group_id, proto_str topic, int32_t partition,
                              struct group_committed *out)
{
    out->offset = -1;
    out->leader_epoch = -1;
    out->metadata = NULL;
    struct group *g = find_group(gc, group_id);
    struct goffset *o = g && g->state != GROUP_DEAD ? find_offset(g, topic, partition) : NULL;
    if (o) {
        out->offset = o->offset;
        out->leader_epoch = o->leader_epoch;
        out->metadata = o->metadata;
    }
}

void group_coord_each_offset(struct group_coord *gc, proto_str group_id, group_offset_fn fn, void *arg)
{
    struct group *g = find_group(gc, group_id);
    if (!g || g->state == GROUP_DEAD)
        return;
    for (int32_t i = 0; i < g->offsets_n; i++) {
        struct group_committed c = {g->offsets[i].offset, g->offsets[i].leader_epoch, g->offsets[i].metadata};
        fn(arg, g->offsets[i].topic, g->offsets[i].partition, &c);
    }
}

/* ---- describe, list, delete ---- */

void group_coord_describe(struct group_coord *gc, proto_str group_id, group_describe_fn fn, void *arg)
{
    struct group *g = find_group(gc, group_id);
    if (!g) {
        struct group_summary s = {.state = "Dead", .protocol_type = "", .protocol_name = ""};
        fn(arg, &s);
        return;
    }
    struct group_member_summary *ms = g->members_n ? ferry_calloc((size_t)g->members_n, sizeof *ms) : NULL;
    int32_t n = ms ? g->members_n : 0;
    bool stable = g->state == GROUP_STABLE;
    for (int32_t i = 0; i < n; i++) {
        struct gmember *m = g->members[i];
        ms[i].member_id = m->id;
        ms[i].instance_id = m->instance_id;
        ms[i].client_id = m->client_id;
        ms[i].client_host = m->client_host;
        if (stable) {
            ms[i].metadata = (const uint8_t *)member_protocol_meta(m, g->protocol_name, &ms[i].metadata_len);
            ms[i].assignment = m->assignment;
            ms[i].assignment_len = m->assignment_len;
        }
    }
    struct group_summary s = {
        .state = group_state_name(g->state),
        .protocol_type = g->protocol_type ? g->protocol_type : "",
        .protocol_name = stable && g->protocol_name ? g->protocol_name : "",
        .members = ms,
        .members_n = n,
    };
    fn(arg, &s);
    ferry_free(ms);
}

void group_coord_list(struct group_coord *gc, group_list_fn fn, void *arg)
{
    for (struct group *g = gc->groups; g; g = g->next)
        if (g->state != GROUP_DEAD)
            fn(arg, g->id, g->protocol_type ? g->protocol_type : "", group_state_name(g->state));
}

static void tombstone_offsets(struct group_coord *gc, struct group *g)
{
    if (!gc->sink.offset_record)
        return;
    for (int32_t i = 0; i < g->offsets_n; i++)
        gc->sink.offset_record(gc->sink.ctx, g->id, g->offsets[i].topic, g->offsets[i].partition, NULL);
}

int16_t group_coord_delete_group(struct group_coord *gc, proto_str group_id)
{
    if (group_id.len <= 0)
        return KERR_INVALID_GROUP_ID;
    struct group *g = find_group(gc, group_id);
    if (!g || g->state == GROUP_DEAD)
        return KERR_GROUP_ID_NOT_FOUND;
    if (g->state != GROUP_EMPTY)
        return KERR_NON_EMPTY_GROUP;
    tombstone_offsets(gc, g);
    if (gc->sink.group_record)
        gc->sink.group_record(gc->sink.ctx, g->id, NULL);
    remove_group(gc, g);
    return 0;
}

/* Whether a consumer-protocol member subscribes to topic: ConsumerProtocol Subscription data is
 * int16 version, then an array (int32 count) of int16-length strings. Unparseable data counts as
 * subscribed (Kafka keeps such offsets). */
static bool subscribed(const struct gmember *m, const char *protocol, proto_str topic)
{
    int32_t len;
    const uint8_t *p = (const uint8_t *)member_protocol_meta(m, protocol, &len);
    if (!p || len < 6)
        return true;
    int32_t cnt = (int32_t)((uint32_t)p[2] << 24 | (uint32_t)p[3] << 16 | (uint32_t)p[4] << 8 | p[5]);
    int32_t off = 6;
    for (int32_t i = 0; i < cnt; i++) {
        if (off + 2 > len)
            return true;
        int32_t sl = (int16_t)((p[off] << 8) | p[off + 1]);
        off += 2;
        if (sl < 0 || off + sl > len)
            return true;
        if (sl == topic.len && memcmp(p + off, topic.p, (size_t)sl) == 0)
            return true;
        off += sl;
    }
    return false;
}

int16_t group_coord_delete_offset(struct group_coord *gc, proto_str group_id, proto_str topic, int32_t partition,
                                  int16_t *group_error)
{
    *group_error = 0;
    struct group *g = find_group(gc, group_id);
    if (!g || g->state == GROUP_DEAD) {
        *group_error = KERR_GROUP_ID_NOT_FOUND;
        return 0;
    }
    if (g->state != GROUP_EMPTY) {
        if (!g->protocol_type || strcmp(g->protocol_type, "consumer") != 0) {
            *group_error = KERR_NON_EMPTY_GROUP;
            return 0;
        }
        for (int32_t i = 0; i < g->members_n; i++)
            if (subscribed(g->members[i], g->protocol_name, topic))
                return KERR_GROUP_SUBSCRIBED_TO_TOPIC;
    }
    struct goffset *o = find_offset(g, topic, partition);
    if (o) {
        if (gc->sink.offset_record)
            gc->sink.offset_record(gc->sink.ctx, g->id, o->topic, o->partition, NULL);
        free_offset(o);
        int32_t idx = (int32_t)(o - g->offsets);
        memmove(&g->offsets[idx], &g->offsets[idx + 1], (size_t)(g->offsets_n - idx - 1) * sizeof *o);
        g->offsets_n--;
    }
    return 0;
}

/* ---- time ---- */

int64_t group_coord_next_deadline(const struct group_coord *gc)
{
    int64_t d = NO_DEADLINE;
    for (const struct group *g = gc->groups; g; g = g->next) {
        if (g->state == GROUP_PREPARING_REBALANCE && g->join_deadline < d)
            d = g->join_deadline;
        for (int32_t i = 0; i < g->members_n; i++)
            if (g->members[i]->session_deadline < d)
                d = g->members[i]->session_deadline;
        for (int32_t i = 0; i < g->pending_n; i++)
            if (g->pending[i].deadline < d)
                d = g->pending[i].deadline;
    }
    return d;
}

void group_coord_tick(struct group_coord *gc, int64_t now)
{
    for (struct group *g = gc->groups; g; g = g->next) {
        for (int32_t i = g->pending_n - 1; i >= 0; i--)
            if (g->pending[i].deadline <= now) {
                remove_pending(g, i);
                check_join_complete(gc, g, now);
            }
        for (int32_t i = g->members_n - 1; i >= 0; i--) {
            if (i >= g->members_n)
                continue;
            struct gmember *m = g->members[i];
            if (m->join_parked || m->session_deadline > now)
                continue;
            remove_member_and_update(gc, g, i, now);
        }
        if (g->state == GROUP_PREPARING_REBALANCE && g->join_deadline <= now) {
            if (g->initial_delay && g->new_member_added && now < g->initial_budget_end) {
                int64_t next = now + gc->cfg.initial_rebalance_delay_ms;
                g->join_deadline = next < g->initial_budget_end ? next : g->initial_budget_end;
                g->new_member_added = false;
            } else {
                g->initial_delay = false;
                complete_join(gc, g, now);
            }
        }
    }
}

void group_coord_expire_offsets(struct group_coord *gc, int64_t now)
{
    struct group **pp = &gc->groups;
    while (*pp) {
        struct group *g = *pp;
        bool empty = g->state == GROUP_EMPTY;
        bool consumer = g->protocol_type && strcmp(g->protocol_type, "consumer") == 0;
        if (!empty && !consumer) {
            pp = &g->next;
            continue;
        }
        for (int32_t i = g->offsets_n - 1; i >= 0; i--) {
            struct goffset *o = &g->offsets[i];
            bool expired;
            if (o->expire_ts >= 0) {
                expired = now >= o->expire_ts;
            } else if (empty) {
                int64_t base = g->protocol_type ? g->state_ts : o->commit_ts;
                expired = now - base >= gc->cfg.offsets_retention_ms;
            } else {
                bool sub = false;
                proto_str t = {o->topic, (int32_t)strlen(o->topic)};
                for (int32_t k = 0; k < g->members_n && !sub; k++)
                    sub = subscribed(g->members[k], g->protocol_name, t);
                expired = !sub && now - o->commit_ts >= gc->cfg.offsets_retention_ms;
            }
            if (!expired)
                continue;
            if (gc->sink.offset_record)
                gc->sink.offset_record(gc->sink.ctx, g->id, o->topic, o->partition, NULL);
            free_offset(o);
            memmove(&g->offsets[i], &g->offsets[i + 1], (size_t)(g->offsets_n - i - 1) * sizeof *o);
            g->offsets_n--;
        }
        if (empty && g->offsets_n == 0 && g->pending_n == 0) {
            if (gc->sink.group_record)
                gc->sink.group_record(gc->sink.ctx, g->id, NULL);
            *pp = g->next;
            free_group(g);
            continue;
        }
        pp = &g->next;
    }
}

/* ---- lifecycle, introspection, loading ---- */

int group_coord_new(const struct group_config *cfg, const struct group_sink *sink, struct group_coord **out)
{
    struct group_coord *gc = ferry_calloc(1, sizeof *gc);
    if (!gc)
        return FERRY_ENOMEM;
    gc->cfg = *cfg;
    gc->sink = *sink;
    gc->rng = cfg->seed ? cfg->seed : 0x9e3779b97f4a7c15ULL;
    *out = gc;
    return 0;
}

void group_coord_free(struct group_coord *gc)
{
    if (!gc)
        return;
    while (gc->groups) {
        struct group *g = gc->groups;
        gc->groups = g->next;
        free_group(g);
    }
    ferry_free(gc);
}

void group_coord_abort(struct group_coord *gc, int16_t err)
{
    for (struct group *g = gc->groups; g; g = g->next)
        for (int32_t i = 0; i < g->members_n; i++) {
            struct gmember *m = g->members[i];
            if (m->join_parked) {
                m->join_parked = false;
                respond_join_error(gc, m->join_token, err, m->id);
            }
            if (m->sync_parked) {
                m->sync_parked = false;
                respond_sync_error(gc, m->sync_token, err);
            }
        }
}

bool group_coord_exists(const struct group_coord *gc, proto_str group_id)
{
    return find_group(gc, group_id) != NULL;
}

enum group_state group_coord_state(const struct group_coord *gc, proto_str group_id)
{
    struct group *g = find_group(gc, group_id);
    return g ? g->state : GROUP_DEAD;
}

int32_t group_coord_generation(const struct group_coord *gc, proto_str group_id)
{
    struct group *g = find_group(gc, group_id);
    return g ? g->generation : -1;
}

int32_t group_coord_members(const struct group_coord *gc, proto_str group_id)
{
    struct group *g = find_group(gc, group_id);
    return g ? g->members_n : 0;
}

int group_coord_load_offset(struct group_coord *gc, proto_str group_id, proto_str topic, int32_t partition,
                            const struct group_offset_value *v)
{
    struct group *g = find_group(gc, group_id);
    if (!v) {
        if (g) {
            struct goffset *o = find_offset(g, topic, partition);
            if (o) {
                free_offset(o);
                int32_t idx = (int32_t)(o - g->offsets);
                memmove(&g->offsets[idx], &g->offsets[idx + 1], (size_t)(g->offsets_n - idx - 1) * sizeof *o);
                g->offsets_n--;
            }
        }
        return 0;
    }
    if (!g)
        g = add_group(gc, group_id, v->commit_timestamp);
    if (!g)
        return FERRY_ENOMEM;
    return store_offset(g, topic, partition, v);
}

int group_coord_load_group(struct group_coord *gc, proto_str group_id, proto_str protocol_type,
                           int32_t generation, proto_str protocol_name, int64_t state_timestamp)
{
    struct group *g = find_group(gc, group_id);
    if (!g)
        g = add_group(gc, group_id, state_timestamp);
    if (!g)
        return FERRY_ENOMEM;
    ferry_free(g->protocol_type);
    ferry_free(g->protocol_name);
    g->protocol_type = protocol_type.len > 0 ? dup_str(protocol_type) : NULL;
    g->protocol_name = NULL;
    g->generation = generation;
    g->state_ts = state_timestamp;
    (void)protocol_name;
    return 0;
}

void group_coord_unload_group(struct group_coord *gc, proto_str group_id)
{
    struct group *g = find_group(gc, group_id);
    if (!g)
        return;
    while (g->members_n > 0) /* parked Join/SyncGroups learn that the coordinator moved */
        drop_member(gc, g, 0, KERR_NOT_COORDINATOR);
    remove_group(gc, g);
}
