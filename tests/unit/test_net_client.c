/* test_net_client: the outbound Kafka connection a follower's fetcher uses (broker/net/net_client.h),
 * against a tiny libuv server in this test: a request and its decoded response; a refused connection; a
 * peer that never answers (request timeout); a peer that closes mid-request; a response that does not
 * decode; one request at a time; close with a request in flight (no callback afterwards); requests
 * pipelined (net_client_set_pipeline): sent in one write, answered in order, a failure reported to each. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <arpa/inet.h>

#include <cmocka.h>
#include <uv.h>

#include "broker/common/ferry_err.h"
#include "broker/net/net_client.h"
#include "proto_codec.h"

enum mode { ANSWER, SILENT, CLOSE, GARBAGE };

struct server {
    uv_tcp_t listen;
    uv_tcp_t conn;
    bool conn_open;
    enum mode mode;
    uint8_t buf[4096];
    size_t len;
    int port;
    int requests; /* whole requests read */
};

struct result {
    int connect_rc;
    bool connected;
    int rc;
    bool answered;
    int16_t api_keys;
};

static void on_srv_alloc(uv_handle_t *h, size_t s, uv_buf_t *b)
{
    struct server *sv = h->data;
    *b = uv_buf_init((char *)sv->buf + sv->len, (unsigned)(sizeof sv->buf - sv->len));
}

static void on_written(uv_write_t *w, int status) { free(w); }

static void srv_send(struct server *sv, const uint8_t *p, size_t n)
{
    uv_write_t *w = malloc(sizeof *w + n);
    memcpy(w + 1, p, n);
    uv_buf_t b = uv_buf_init((char *)(w + 1), (unsigned)n);
    uv_write(w, (uv_stream_t *)&sv->conn, &b, 1, on_written);
}

static void on_srv_read(uv_stream_t *s, ssize_t n, const uv_buf_t *b)
{
    struct server *sv = s->data;
    if (n <= 0)
        return;
    sv->len += (size_t)n;
    while (sv->conn_open && sv->len >= 4 && sv->len >= 4 + proto_be32(sv->buf)) {
        /* one whole request: ApiVersions v0, correlation id at offset 8 */
        uint32_t corr = proto_be32(sv->buf + 8);
        size_t frame = 4 + proto_be32(sv->buf);
        memmove(sv->buf, sv->buf + frame, sv->len - frame);
        sv->len -= frame;
        sv->requests++;
        if (sv->mode == SILENT)
            continue;
        if (sv->mode == CLOSE) {
            uv_close((uv_handle_t *)&sv->conn, NULL);
            sv->conn_open = false;
            return;
        }
        struct proto_writer w;
        proto_writer_init(&w);
        proto_write_i32(&w, 0);
        proto_write_i32(&w, (int32_t)corr);
        if (sv->mode == GARBAGE) {
            proto_write_i16(&w, 0);
            proto_write_i32(&w, 1000000); /* an array count far beyond the bytes that follow */
        } else {
            struct ApiVersionsResponse r;
            proto_struct_init(proto_msg_ApiVersionsResponse.body, &r);
            struct ApiVersionsResponse_ApiVersion v[2] = {{1, 0, 11}, {23, 0, 4}};
            r.ApiKeys = v;
            r.ApiKeys_n = 2;
            assert_int_equal(proto_encode(&proto_msg_ApiVersionsResponse, 0, &w, &r), 0);
        }
        proto_patch_i32(&w, 0, (int32_t)(w.len - 4));
        srv_send(sv, w.buf, w.len);
        proto_writer_free(&w);
    }
}

static void on_conn(uv_stream_t *l, int status)
{
    struct server *sv = l->data;
    assert_int_equal(status, 0);
    uv_tcp_init(l->loop, &sv->conn);
    sv->conn.data = sv;
    assert_int_equal(uv_accept(l, (uv_stream_t *)&sv->conn), 0);
    sv->conn_open = true;
    uv_read_start((uv_stream_t *)&sv->conn, on_srv_alloc, on_srv_read);
}

static void server_start(uv_loop_t *loop, struct server *sv, enum mode mode)
{
    memset(sv, 0, sizeof *sv);
    sv->mode = mode;
    uv_tcp_init(loop, &sv->listen);
    sv->listen.data = sv;
    struct sockaddr_in a;
    uv_ip4_addr("127.0.0.1", 0, &a);
    assert_int_equal(uv_tcp_bind(&sv->listen, (const struct sockaddr *)&a, 0), 0);
    assert_int_equal(uv_listen((uv_stream_t *)&sv->listen, 8, on_conn), 0);
    struct sockaddr_storage ss;
    int len = sizeof ss;
    uv_tcp_getsockname(&sv->listen, (struct sockaddr *)&ss, &len);
    sv->port = ntohs(((struct sockaddr_in *)&ss)->sin_port);
}

static void server_stop(struct server *sv)
{
    uv_close((uv_handle_t *)&sv->listen, NULL);
    if (sv->conn_open)
        uv_close((uv_handle_t *)&sv->conn, NULL);
}

static void on_response(void *arg, int rc, void *resp)
{
    struct result *r = arg;
    r->answered = true;
    r->rc = rc;
    if (rc == 0) {
        const struct ApiVersionsResponse *av = resp;
        r->api_keys = (int16_t)av->ApiKeys_n;
        assert_int_equal(av->ApiKeys[1].ApiKey, 23);
        assert_int_equal(av->ApiKeys[1].MaxVersion, 4);
    } else {
        assert_null(resp);
    }
}

static struct net_client *client;

static void on_connected(void *arg, int rc)
{
    struct result *r = arg;
    r->connected = true;
    r->connect_rc = rc;
    if (rc)
        return;
    struct ApiVersionsRequest req;
    proto_struct_init(proto_msg_ApiVersionsRequest.body, &req);
    assert_int_equal(net_client_send(client, 18, 0, &req, on_response, r), 0);
    /* one request at a time */
    assert_int_equal(net_client_send(client, 18, 0, &req, on_response, r), FERRY_EINVAL);
}

/* Runs one exchange against a server in `mode`; the loop runs until the client reported. */
static struct result exchange(enum mode mode, int64_t timeout_ms, bool refuse)
{
    uv_loop_t loop;
    uv_loop_init(&loop);
    struct server sv;
    server_start(&loop, &sv, mode);
    int port = sv.port;
    if (refuse) { /* nothing listens on the port any more */
        server_stop(&sv);
        uv_run(&loop, UV_RUN_NOWAIT);
    }
    struct result r = {0};
    assert_int_equal(net_client_connect(&loop, "127.0.0.1", (uint16_t)port, "test", timeout_ms, on_connected, &r,
                                        &client),
                     0);
    assert_false(r.connected); /* never from inside the call */
    while (!(r.connected && (r.connect_rc || r.answered)))
        uv_run(&loop, UV_RUN_ONCE);
    net_client_close(client);
    if (!refuse)
        server_stop(&sv);
    uv_run(&loop, UV_RUN_DEFAULT);
    assert_int_equal(uv_loop_close(&loop), 0);
    return r;
}

static void test_round_trip(void **state)
{
    (void)state;
    struct result r = exchange(ANSWER, 5000, false);
    assert_int_equal(r.connect_rc, 0);
    assert_int_equal(r.rc, 0);
    assert_int_equal(r.api_keys, 2);
}

static void test_refused(void **state)
{
    (void)state;
    struct result r = exchange(ANSWER, 5000, true);
    assert_int_not_equal(r.connect_rc, 0);
    assert_false(r.answered);
}

static void test_silent_peer_times_out(void **state)
{
    (void)state;
    struct result r = exchange(SILENT, 200, false);
    assert_int_equal(r.connect_rc, 0);
    assert_int_equal(r.rc, FERRY_EIO);
}

static void test_peer_closes(void **state)
{
    (void)state;
    struct result r = exchange(CLOSE, 5000, false);
    assert_int_equal(r.rc, FERRY_EIO);
}

static void test_garbage_response(void **state)
{
    (void)state;
    struct result r = exchange(GARBAGE, 5000, false);
    assert_int_equal(r.rc, FERRY_EPARSE);
}

static void never(void *arg, int rc) { fail_msg("callback after close"); }

static void test_close_while_connecting(void **state)
{
    (void)state;
    uv_loop_t loop;
    uv_loop_init(&loop);
    struct server sv;
    server_start(&loop, &sv, SILENT);
    struct net_client *c;
    assert_int_equal(net_client_connect(&loop, "127.0.0.1", (uint16_t)sv.port, "test", 5000, never, NULL, &c), 0);
    net_client_close(c);
    server_stop(&sv);
    uv_run(&loop, UV_RUN_DEFAULT);
    assert_int_equal(uv_loop_close(&loop), 0);
}

/* PIPELINED requests sent at once on a client with room for them; each result in `order` as answered */
enum { PIPELINED = 3 };
struct pipelined {
    struct result r[PIPELINED];
    int order[PIPELINED], answered;
};

static struct pipelined *the_pipelined;

static void on_pipelined_done(void *arg, int rc, void *resp)
{
    on_response(arg, rc, resp);
    the_pipelined->order[the_pipelined->answered++] = (int)((struct result *)arg - the_pipelined->r);
}

static void on_pipelined_connected(void *arg, int rc)
{
    struct pipelined *p = arg;
    assert_int_equal(rc, 0);
    net_client_set_pipeline(client, PIPELINED);
    struct ApiVersionsRequest req;
    proto_struct_init(proto_msg_ApiVersionsRequest.body, &req);
    for (int i = 0; i < PIPELINED; i++)
        assert_int_equal(net_client_send(client, 18, 0, &req, on_pipelined_done, &p->r[i]), 0);
    assert_int_equal(net_client_send(client, 18, 0, &req, on_pipelined_done, &p->r[0]), FERRY_EINVAL); /* full */
    assert_int_equal((int)net_client_in_flight(client), PIPELINED);
}

/* PIPELINED requests against a server in `mode`: the loop runs until each was answered. */
static struct pipelined pipeline_exchange(enum mode mode, int *requests_read)
{
    uv_loop_t loop;
    uv_loop_init(&loop);
    struct server sv;
    server_start(&loop, &sv, mode);
    static struct pipelined p;
    memset(&p, 0, sizeof p);
    the_pipelined = &p;
    assert_int_equal(net_client_connect(&loop, "127.0.0.1", (uint16_t)sv.port, "test", 5000, on_pipelined_connected,
                                        &p, &client),
                     0);
    while (p.answered < PIPELINED)
        uv_run(&loop, UV_RUN_ONCE);
    *requests_read = sv.requests;
    net_client_close(client);
    server_stop(&sv);
    uv_run(&loop, UV_RUN_DEFAULT);
    assert_int_equal(uv_loop_close(&loop), 0);
    return p;
}

static void test_pipelined_answered_in_order(void **state)
{
    (void)state;
    int read;
    struct pipelined p = pipeline_exchange(ANSWER, &read);
    assert_int_equal(read, PIPELINED);
    for (int i = 0; i < PIPELINED; i++) {
        assert_int_equal(p.order[i], i);
        assert_int_equal(p.r[i].rc, 0);
        assert_int_equal(p.r[i].api_keys, 2);
    }
}

static void test_pipelined_failure_reaches_each(void **state)
{
    (void)state;
    int read;
    struct pipelined p = pipeline_exchange(CLOSE, &read);
    for (int i = 0; i < PIPELINED; i++) {
        assert_int_equal(p.order[i], i);
        assert_int_equal(p.r[i].rc, FERRY_EIO);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_refused),
        cmocka_unit_test(test_silent_peer_times_out),
        cmocka_unit_test(test_peer_closes),
        cmocka_unit_test(test_garbage_response),
        cmocka_unit_test(test_close_while_connecting),
        cmocka_unit_test(test_pipelined_answered_in_order),
        cmocka_unit_test(test_pipelined_failure_reaches_each),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
