/* ctrl_channel over the wire against a fake controller on 127.0.0.1 (on the same loop): calls in flight
 * pipelined on several connections at once (CTRL_CHANNEL_PIPELINE on each before the next opens); one
 * connection failing fails only its own calls (FERRY_EIO), and the calls on the other connections still
 * get their answers (before, the first failure closed all of them and failed every call in flight). A forwarded admin request's Envelope carries the client's client id in
 * the inner request header and its principal, serialized as Kafka's (User:ANONYMOUS), as RequestPrincipal
 * and its address as ClientHostAddress (before: client id "forwarded", a null principal, which Kafka's
 * controllers refuse, and 127.0.0.1). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <arpa/inet.h>
#include <cmocka.h>
#include <uv.h>

#include "broker/api/ctrl_channel.h"
#include "broker/common/ferry_alloc.h"
#include "broker/common/ferry_err.h"
#include "broker/config/config.h"
#include "proto_codec.h"
#include "proto_header.h"

/* three connections: two full pipelines and one call; the controller closes the second */
enum { NCALLS = 2 * CTRL_CHANNEL_PIPELINE + 1, NCONNS = 3, FAILING = CTRL_CHANNEL_PIPELINE + 1 };

struct peer {
    struct fake *fk;
    uv_tcp_t tcp;
    uint8_t buf[16384];
    size_t len, parsed;     /* bytes received; of those, the whole frames parsed */
    int nframes;
    int32_t broker_id[CTRL_CHANNEL_PIPELINE]; /* of each request received on it (AllocateProducerIds) */
    int32_t correlation_id[CTRL_CHANNEL_PIPELINE];
    int16_t api_key, api_version; /* of the first */
    size_t frame_len;       /* of the first request (after its size) in buf, 0 before */
    bool closed;
};

struct fake {
    uv_loop_t *loop;
    uv_tcp_t server;
    struct peer peers[NCONNS];
    int npeers, nrequests;
};

struct call {
    struct AllocateProducerIdsRequest req;
    struct AllocateProducerIdsResponse resp;
    struct proto_arena a;
    int rc;
    bool done;
};

static void on_alloc(uv_handle_t *h, size_t size, uv_buf_t *buf)
{
    struct peer *p = h->data;
    (void)size;
    *buf = uv_buf_init((char *)p->buf + p->len, (unsigned)(sizeof p->buf - p->len));
}

/* The next whole request frame in the buffer, if any: its correlation id and BrokerId (AllocateProducerIds
 * v0); false when none is complete. */
static bool parse_request(struct peer *p)
{
    const uint8_t *f = p->buf + p->parsed;
    if (p->len - p->parsed < 4)
        return false;
    uint32_t size = (uint32_t)f[0] << 24 | (uint32_t)f[1] << 16 | (uint32_t)f[2] << 8 | f[3];
    if (p->len - p->parsed < 4 + size)
        return false;
    assert_true(p->nframes < CTRL_CHANNEL_PIPELINE);
    struct proto_reader r;
    proto_reader_init(&r, f + 4, size);
    struct proto_request_header h;
    assert_int_equal(proto_read_request_header(&r, &h), 0);
    if (!p->nframes) {
        p->api_key = h.api_key;
        p->api_version = h.api_version;
        p->frame_len = size;
    }
    p->correlation_id[p->nframes] = h.correlation_id;
    p->broker_id[p->nframes] = -1;
    if (h.api_key == 67) {
        struct proto_arena a;
        proto_arena_init(&a);
        struct AllocateProducerIdsRequest q;
        assert_int_equal(proto_decode(proto_find(PROTO_KIND_REQUEST, 67), h.api_version, &r, &a, &q), 0);
        p->broker_id[p->nframes] = q.BrokerId;
        proto_arena_free(&a);
    }
    p->nframes++;
    p->parsed += 4 + size;
    p->fk->nrequests++;
    return true;
}

static void on_read(uv_stream_t *s, ssize_t n, const uv_buf_t *buf)
{
    struct peer *p = s->data;
    (void)buf;
    if (n < 0) {
        uv_read_stop(s);
        return;
    }
    p->len += (size_t)n;
    while (parse_request(p))
        ;
}

static void on_connection(uv_stream_t *server, int status)
{
    struct fake *fk = server->data;
    assert_int_equal(status, 0);
    assert_true(fk->npeers < NCONNS);
    struct peer *p = &fk->peers[fk->npeers++];
    *p = (struct peer){.fk = fk};
    uv_tcp_init(fk->loop, &p->tcp);
    p->tcp.data = p;
    assert_int_equal(uv_accept(server, (uv_stream_t *)&p->tcp), 0);
    uv_read_start((uv_stream_t *)&p->tcp, on_alloc, on_read);
}

static void write_done(uv_write_t *w, int status)
{
    (void)status;
    ferry_free(w->data);
    ferry_free(w);
}

/* Sends response body `resp` of (key, version) to request i on p. */
static void respond_to(struct peer *p, int i, int16_t key, int16_t version, const void *resp)
{
    struct proto_writer w;
    proto_writer_init(&w);
    proto_write_i32(&w, 0); /* the size, below */
    proto_write_response_header(&w, key, version, p->correlation_id[i]);
    assert_int_equal(proto_encode(proto_find(PROTO_KIND_RESPONSE, key), version, &w, resp), 0);
    uint32_t size = (uint32_t)w.len - 4;
    w.buf[0] = (uint8_t)(size >> 24);
    w.buf[1] = (uint8_t)(size >> 16);
    w.buf[2] = (uint8_t)(size >> 8);
    w.buf[3] = (uint8_t)size;
    uv_write_t *req = ferry_malloc(sizeof *req);
    req->data = w.buf;
    uv_buf_t b = uv_buf_init((char *)w.buf, (unsigned)w.len);
    assert_int_equal(uv_write(req, (uv_stream_t *)&p->tcp, &b, 1, write_done), 0);
}

/* Sends response body `resp` of (key, version) to the first request on p. */
static void respond(struct peer *p, int16_t key, int16_t version, const void *resp)
{
    respond_to(p, 0, key, version, resp);
}

/* Answers each AllocateProducerIds on p, in order: ProducerIdStart = 1000 * BrokerId. */
static void answer(struct peer *p)
{
    for (int i = 0; i < p->nframes; i++) {
        struct AllocateProducerIdsResponse resp;
        proto_struct_init(proto_msg_AllocateProducerIdsResponse.body, &resp);
        resp.ProducerIdStart = 1000 * (int64_t)p->broker_id[i];
        resp.ProducerIdLen = 1000;
        respond_to(p, i, 67, 0, &resp);
    }
}

/* Whether p carries the request of broker id `id`. */
static bool carries(const struct peer *p, int32_t id)
{
    for (int i = 0; i < p->nframes; i++)
        if (p->broker_id[i] == id)
            return true;
    return false;
}

static void call_done(void *arg, int rc)
{
    struct call *c = arg;
    c->rc = rc;
    c->done = true;
}

static bool all_done(const struct call *calls)
{
    for (int i = 0; i < NCALLS; i++)
        if (!calls[i].done)
            return false;
    return true;
}

/* Runs the loop until cond(arg) holds (the channel's connections keep it alive), within a generous bound. */
static void run_until(uv_loop_t *loop, bool (*cond)(void *), void *arg)
{
    for (int i = 0; i < 1000000 && !cond(arg); i++)
        uv_run(loop, UV_RUN_ONCE);
    assert_true(cond(arg));
}

static bool all_received(void *arg) { return ((struct fake *)arg)->nrequests == NCALLS; }
static bool failing_done(void *arg) { return ((struct call *)arg)[FAILING].done; }
static bool calls_done(void *arg) { return all_done(arg); }

/* A loop, the fake controller listening on 127.0.0.1 and a channel whose only voter it is. */
struct fixture {
    uv_loop_t loop;
    struct fake fk;
    struct ferry_config cfg;
    struct config_voter *saved_voters;
    size_t saved_n;
    char host[16];
    struct config_voter voter;
    struct ctrl_channel *ch;
};

static void fixture_start(struct fixture *x)
{
    assert_int_equal(uv_loop_init(&x->loop), 0);
    x->fk = (struct fake){.loop = &x->loop};
    uv_tcp_init(&x->loop, &x->fk.server);
    x->fk.server.data = &x->fk;
    struct sockaddr_in addr;
    uv_ip4_addr("127.0.0.1", 0, &addr);
    assert_int_equal(uv_tcp_bind(&x->fk.server, (const struct sockaddr *)&addr, 0), 0);
    assert_int_equal(uv_listen((uv_stream_t *)&x->fk.server, 16, on_connection), 0);
    struct sockaddr_in bound;
    int blen = sizeof bound;
    uv_tcp_getsockname(&x->fk.server, (struct sockaddr *)&bound, &blen);
    const char *sets[] = {"controller.socket.timeout.ms=600000"};
    char err[256];
    assert_int_equal(config_load(&x->cfg, NULL, sets, 1, err, sizeof err), 0);
    x->saved_voters = x->cfg.voters;
    x->saved_n = x->cfg.n_voters;
    snprintf(x->host, sizeof x->host, "127.0.0.1");
    x->voter = (struct config_voter){1, x->host, ntohs(bound.sin_port)};
    x->cfg.voters = &x->voter;
    x->cfg.n_voters = 1;
    assert_int_equal(ctrl_channel_new(&x->loop, &x->cfg, NULL, NULL, &x->ch), 0);
}

static void fixture_stop(struct fixture *x)
{
    ctrl_channel_stop(x->ch);
    for (int i = 0; i < x->fk.npeers; i++)
        if (!x->fk.peers[i].closed)
            uv_close((uv_handle_t *)&x->fk.peers[i].tcp, NULL);
    uv_close((uv_handle_t *)&x->fk.server, NULL);
    uv_run(&x->loop, UV_RUN_DEFAULT);
    assert_int_equal(uv_loop_close(&x->loop), 0);
    x->cfg.voters = x->saved_voters;
    x->cfg.n_voters = x->saved_n;
    config_free(&x->cfg);
}

static void test_one_failed_connection_fails_only_its_call(void **state)
{
    (void)state;
    static struct fixture x;
    fixture_start(&x);
    uv_loop_t *loop = &x.loop;
    struct fake *fk = &x.fk;
    struct call calls[NCALLS];
    for (int i = 0; i < NCALLS; i++) {
        calls[i] = (struct call){.req = {i + 1, 7}, .rc = 1};
        proto_arena_init(&calls[i].a);
        proto_struct_init(proto_msg_AllocateProducerIdsResponse.body, &calls[i].resp);
        ctrl_channel_call(x.ch, 67, 0, &calls[i].req, NULL, &calls[i].a, &calls[i].resp, call_done, &calls[i]);
    }
    run_until(loop, all_received, fk); /* two full pipelines and one call on a third connection */
    assert_int_equal(fk->npeers, NCONNS);

    /* the controller closes the connection of call FAILING; the others are answered only once that
     * failure reached the caller */
    for (int i = 0; i < NCONNS; i++)
        if (carries(&fk->peers[i], FAILING + 1)) {
            fk->peers[i].closed = true;
            uv_close((uv_handle_t *)&fk->peers[i].tcp, NULL);
        }
    run_until(loop, failing_done, calls);
    assert_int_equal(calls[FAILING].rc, FERRY_EIO);
    for (int i = 0; i < NCONNS; i++)
        if (!fk->peers[i].closed)
            answer(&fk->peers[i]);
    run_until(loop, calls_done, calls);
    int failed = 0;
    for (int i = 0; i < NCALLS; i++) {
        bool on_failed_conn = false;
        for (int k = 0; k < NCONNS; k++)
            on_failed_conn |= fk->peers[k].closed && carries(&fk->peers[k], i + 1);
        if (on_failed_conn) {
            assert_int_equal(calls[i].rc, FERRY_EIO);
            failed++;
            continue;
        }
        assert_int_equal(calls[i].rc, 0);
        assert_int_equal(calls[i].resp.ProducerIdStart, 1000 * (int64_t)(i + 1));
    }
    assert_int_equal(failed, CTRL_CHANNEL_PIPELINE); /* the second connection's, no other */

    fixture_stop(&x);
    for (int i = 0; i < NCALLS; i++)
        proto_arena_free(&calls[i].a);
}

static bool one_received(void *arg) { return ((struct fake *)arg)->nrequests == 1; }
static bool call_is_done(void *arg) { return ((struct call *)arg)->done; }

static void test_envelope_carries_client_id_and_principal(void **state)
{
    (void)state;
    static struct fixture x;
    fixture_start(&x);
    struct CreateTopicsRequest_CreatableTopic topic;
    memset(&topic, 0, sizeof topic);
    struct CreateTopicsRequest q;
    proto_struct_init(proto_msg_CreateTopicsRequest.body, &q);
    topic.Name = proto_str_from("t");
    topic.NumPartitions = 1;
    topic.ReplicationFactor = 1;
    q.Topics = &topic;
    q.Topics_n = 1;
    struct CreateTopicsResponse resp;
    proto_struct_init(proto_msg_CreateTopicsResponse.body, &resp);
    struct call c = {.rc = 1};
    proto_arena_init(&c.a);
    struct md_requester who = {proto_str_from("my-client"), kafka_principal_anonymous(), "10.1.2.3:45678"};
    ctrl_channel_call(x.ch, 19, 4, &q, &who, &c.a, &resp, call_done, &c);
    run_until(&x.loop, one_received, &x.fk);

    struct peer *p = &x.fk.peers[0];
    assert_int_equal(p->api_key, 58);
    struct proto_reader r;
    proto_reader_init(&r, p->buf + 4, p->frame_len);
    struct proto_request_header h;
    assert_int_equal(proto_read_request_header(&r, &h), 0);
    struct proto_arena a;
    proto_arena_init(&a);
    struct EnvelopeRequest env;
    assert_int_equal(proto_decode(&proto_msg_EnvelopeRequest, h.api_version, &r, &a, &env), 0);
    /* the principal, as Kafka's DefaultKafkaPrincipalBuilder.serialize gives it */
    struct proto_writer want;
    proto_writer_init(&want);
    struct DefaultPrincipalData anonymous = kafka_principal_anonymous();
    kafka_principal_write(&want, &anonymous);
    assert_int_equal(env.RequestPrincipal.len, (int32_t)want.len);
    assert_memory_equal(env.RequestPrincipal.p, want.buf, want.len);
    proto_writer_free(&want);
    /* the client's address */
    assert_int_equal(env.ClientHostAddress.len, 4);
    assert_memory_equal(env.ClientHostAddress.p, ((const uint8_t[]){10, 1, 2, 3}), 4);
    /* the inner request: CreateTopics v4 with the client's client id */
    struct proto_reader in;
    proto_reader_init(&in, env.RequestData.p, (size_t)env.RequestData.len);
    struct proto_request_header inner;
    assert_int_equal(proto_read_request_header(&in, &inner), 0);
    assert_int_equal(inner.api_key, 19);
    assert_int_equal(inner.api_version, 4);
    assert_int_equal(inner.client_id.len, 9);
    assert_memory_equal(inner.client_id.p, "my-client", 9);

    /* answered: the CreateTopics response inside the Envelope's ResponseData */
    struct CreateTopicsResponse_CreatableTopicResult res;
    memset(&res, 0, sizeof res);
    res.Name = proto_str_from("t");
    struct CreateTopicsResponse inner_resp;
    proto_struct_init(proto_msg_CreateTopicsResponse.body, &inner_resp);
    inner_resp.Topics = &res;
    inner_resp.Topics_n = 1;
    struct proto_writer data;
    proto_writer_init(&data);
    proto_write_response_header(&data, 19, 4, inner.correlation_id);
    assert_int_equal(proto_encode(&proto_msg_CreateTopicsResponse, 4, &data, &inner_resp), 0);
    struct EnvelopeResponse er;
    proto_struct_init(proto_msg_EnvelopeResponse.body, &er);
    er.ResponseData = (proto_bytes){data.buf, (int32_t)data.len};
    respond(p, 58, 0, &er);
    proto_writer_free(&data);
    run_until(&x.loop, call_is_done, &c);
    assert_int_equal(c.rc, 0);
    assert_int_equal(resp.Topics_n, 1);
    assert_int_equal(resp.Topics[0].ErrorCode, 0);
    proto_arena_free(&a);
    fixture_stop(&x);
    proto_arena_free(&c.a);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_one_failed_connection_fails_only_its_call),
        cmocka_unit_test(test_envelope_carries_client_id_and_principal),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
