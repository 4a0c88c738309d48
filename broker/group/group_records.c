/* group_records: encoding and decoding of __consumer_offsets records (see group_records.h). */
#include "group_records.h"

#include <string.h>

#include "broker/common/ferry_err.h"
#include "proto_codec.h"

static proto_str cstr(const char *s)
{
    proto_str r = {s, s ? (int32_t)strlen(s) : -1};
    return r;
}

static int with_version(struct proto_writer *w, const struct proto_message *m, int16_t v, const void *in)
{
    proto_write_i16(w, v);
    int rc = proto_encode(m, v, w, in);
    return rc ? rc : w->err;
}

int group_rec_offset_key(struct proto_writer *w, const char *group, const char *topic, int32_t partition)
{
    struct OffsetCommitKey k = {.Group = cstr(group), .Topic = cstr(topic), .Partition = partition};
    return with_version(w, &proto_msg_OffsetCommitKey, 1, &k);
}

int group_rec_offset_value(struct proto_writer *w, const struct group_offset_value *v)
{
    struct OffsetCommitValue o = {
        .Offset = v->offset,
        .LeaderEpoch = v->leader_epoch,
        .Metadata = cstr(v->metadata ? v->metadata : ""),
        .CommitTimestamp = v->commit_timestamp,
        .ExpireTimestamp = v->expire_timestamp,
    };
    return with_version(w, &proto_msg_OffsetCommitValue, v->expire_timestamp >= 0 ? 1 : 3, &o);
}

int group_rec_group_key(struct proto_writer *w, const char *group)
{
    struct GroupMetadataKey k = {.Group = cstr(group)};
    return with_version(w, &proto_msg_GroupMetadataKey, 2, &k);
}

int group_rec_group_value(struct proto_writer *w, const struct group_meta *m)
{
    struct GroupMetadataValue_MemberMetadata ms[m->members_n > 0 ? m->members_n : 1];
    memset(ms, 0, sizeof ms);
    static const uint8_t none[1];
    for (int32_t i = 0; i < m->members_n; i++) {
        const struct group_meta_member *x = &m->members[i];
        ms[i].MemberId = cstr(x->member_id);
        ms[i].GroupInstanceId = cstr(x->instance_id);
        ms[i].ClientId = cstr(x->client_id ? x->client_id : "");
        ms[i].ClientHost = cstr(x->client_host ? x->client_host : "");
        ms[i].RebalanceTimeout = x->rebalance_timeout_ms;
        ms[i].SessionTimeout = x->session_timeout_ms;
        ms[i].Subscription.p = x->subscription ? x->subscription : none;
        ms[i].Subscription.len = x->subscription ? x->subscription_len : 0;
        ms[i].Assignment.p = x->assignment ? x->assignment : none;
        ms[i].Assignment.len = x->assignment ? x->assignment_len : 0;
    }
    struct GroupMetadataValue v = {
        .ProtocolType = cstr(m->protocol_type ? m->protocol_type : ""),
        .Generation = m->generation,
        .Protocol = cstr(m->protocol),
        .Leader = cstr(m->leader),
        .CurrentStateTimestamp = m->state_timestamp,
        .Members = ms,
        .Members_n = m->members_n,
    };
    return with_version(w, &proto_msg_GroupMetadataValue, 3, &v);
}

static int decode_versioned(const struct proto_message *m, int16_t lo, int16_t hi, proto_bytes b,
                            struct proto_arena *a, void *out)
{
    struct proto_reader r;
    proto_reader_init(&r, b.p, (size_t)b.len);
    int16_t v = proto_read_i16(&r);
    if (r.err || v < lo || v > hi)
        return FERRY_EPARSE;
    int rc = proto_decode(m, v, &r, a, out);
    if (rc)
        return FERRY_EPARSE;
    return proto_reader_left(&r) ? FERRY_EPARSE : 0;
}

int group_rec_decode(proto_bytes key, proto_bytes value, struct proto_arena *a, struct group_rec *out)
{
    memset(out, 0, sizeof *out);
    if (key.len < 2 || !key.p)
        return FERRY_EPARSE;
    int16_t kv = (int16_t)((key.p[0] << 8) | key.p[1]);
    out->value_null = value.len < 0 || !value.p;
    if (kv == 0 || kv == 1) {
        struct OffsetCommitKey k;
        if (decode_versioned(&proto_msg_OffsetCommitKey, 0, 1, key, a, &k))
            return FERRY_EPARSE;
        out->kind = GROUP_REC_OFFSET;
        out->group = k.Group;
        out->topic = k.Topic;
        out->partition = k.Partition;
        if (out->value_null)
            return 0;
        struct OffsetCommitValue v;
        if (decode_versioned(&proto_msg_OffsetCommitValue, 0, 4, value, a, &v))
            return FERRY_EPARSE;
        char *meta = proto_arena_strdup(a, v.Metadata.len >= 0 ? v.Metadata : cstr(""));
        if (!meta)
            return FERRY_ENOMEM;
        out->offset.offset = v.Offset;
        out->offset.leader_epoch = v.LeaderEpoch;
        out->offset.metadata = meta;
        out->offset.commit_timestamp = v.CommitTimestamp;
        out->offset.expire_timestamp = v.ExpireTimestamp;
        return 0;
    }
    if (kv == 2) {
        struct GroupMetadataKey k;
        if (decode_versioned(&proto_msg_GroupMetadataKey, 2, 2, key, a, &k))
            return FERRY_EPARSE;
        out->kind = GROUP_REC_GROUP;
        out->group = k.Group;
        if (out->value_null)
            return 0;
        struct GroupMetadataValue v;
        if (decode_versioned(&proto_msg_GroupMetadataValue, 0, 4, value, a, &v))
            return FERRY_EPARSE;
        out->protocol_type = v.ProtocolType;
        out->generation = v.Generation;
        out->protocol = v.Protocol;
        out->state_timestamp = v.CurrentStateTimestamp;
        out->members_n = v.Members_n;
        return 0;
    }
    return FERRY_EPARSE;
}
