/* group_service on a real loop: loading a hosted __consumer_offsets partition goes one chunk per loop
 * turn, so the loop serves other I/O while a large partition loads (a loader re-armed at 0 ms from its own
 * callback ran every chunk in one libuv timer pass), and every record still arrives. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <sys/socket.h>
#include <uv.h>

#include "broker/group/group_records.h"
#include "broker/group/group_service.h"
#include "test_log_util.h"

#define GROUPS 3000
#define METADATA_BYTES 900 /* ~3 MB in all: three 1 MB load chunks at least */

/* One batch of offset commits: group g<first>..g<first+n-1>, topic t, partition 0, offset = group number. */
static void add_commit_batch(struct proto_writer *w, int first, int n)
{
    static char metadata[METADATA_BYTES + 1];
    memset(metadata, 'm', METADATA_BYTES);
    struct rb_builder b;
    rb_builder_begin(&b, w, 0, -1, 0, T_NOW);
    for (int i = first; i < first + n; i++) {
        char group[16];
        snprintf(group, sizeof group, "g%d", i);
        struct proto_writer k, v;
        proto_writer_init(&k);
        proto_writer_init(&v);
        struct group_offset_value ov = {.offset = i, .leader_epoch = 0, .metadata = metadata,
                                        .commit_timestamp = T_NOW, .expire_timestamp = -1};
        assert_int_equal(group_rec_offset_key(&k, group, "t", 0), 0);
        assert_int_equal(group_rec_offset_value(&v, &ov), 0);
        rb_builder_add(&b, T_NOW, (proto_bytes){k.buf, (int32_t)k.len}, (proto_bytes){v.buf, (int32_t)v.len});
        proto_writer_free(&k);
        proto_writer_free(&v);
    }
    assert_int_equal(rb_builder_finish(&b), 0);
}

struct io_probe {
    struct group_service *s;
    uv_pipe_t pipe;
    bool read_seen;
    bool loading_when_read;
};

static void probe_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    (void)h;
    (void)suggested;
    static char space[64];
    *buf = uv_buf_init(space, sizeof space);
}

static void probe_read(uv_stream_t *st, ssize_t n, const uv_buf_t *buf)
{
    (void)buf;
    struct io_probe *p = st->data;
    if (n <= 0)
        return;
    p->read_seen = true;
    p->loading_when_read = group_service_loading(p->s);
    uv_read_stop(st);
}

static void test_load_yields_to_io(void **state)
{
    (void)state;
    char *dir = tmpdir_make();
    struct plog_config pc;
    plog_config_default(&pc);
    struct plog_open_opts oo = opts_at(T_NOW);
    struct plog *log = NULL;
    assert_int_equal(plog_open(dir, "__consumer_offsets", 0, &pc, &oo, &log), 0);
    for (int first = 0; first < GROUPS; first += 100) {
        struct proto_writer w;
        proto_writer_init(&w);
        add_commit_batch(&w, first, 100);
        assert_int_equal(plog_append(log, w.buf, w.len, 0, T_NOW, 0, NULL), 0);
        proto_writer_free(&w);
    }

    struct ferry_config cfg;
    const char *sets[] = {"offsets.topic.num.partitions=1"};
    char err[256];
    assert_int_equal(config_load(&cfg, NULL, sets, 1, err, sizeof err), 0);
    uv_loop_t loop;
    assert_int_equal(uv_loop_init(&loop), 0);
    struct group_sink sink = {0};
    struct io_probe probe = {0};
    assert_int_equal(group_service_new(&loop, &cfg, &sink, NULL, &probe.s), 0);

    /* I/O that is ready before the load starts */
    int fds[2];
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, fds), 0);
    assert_int_equal(uv_pipe_init(&loop, &probe.pipe, 0), 0);
    assert_int_equal(uv_pipe_open(&probe.pipe, fds[0]), 0);
    probe.pipe.data = &probe;
    assert_int_equal(uv_read_start((uv_stream_t *)&probe.pipe, probe_alloc, probe_read), 0);
    assert_int_equal(write(fds[1], "x", 1), 1);

    group_service_hosted(probe.s, 0, log);
    assert_true(group_service_loading(probe.s));
    for (int turns = 0; (group_service_loading(probe.s) || !probe.read_seen) && turns < 1000000; turns++)
        uv_run(&loop, UV_RUN_ONCE);
    assert_true(probe.read_seen);
    assert_true(probe.loading_when_read); /* served between two chunks, not after the whole partition */
    assert_false(group_service_loading(probe.s));

    proto_str topic = {"t", 1};
    for (int i = 0; i < GROUPS; i += GROUPS / 10) {
        char group[16];
        snprintf(group, sizeof group, "g%d", i);
        struct group_committed c;
        group_coord_fetch_offset(group_service_coord(probe.s), (proto_str){group, (int32_t)strlen(group)}, topic, 0,
                                 &c);
        assert_int_equal(c.offset, i);
    }

    group_service_close(probe.s);
    uv_close((uv_handle_t *)&probe.pipe, NULL);
    uv_run(&loop, UV_RUN_DEFAULT);
    assert_int_equal(uv_loop_close(&loop), 0);
    close(fds[1]);
    config_free(&cfg);
    plog_close(log);
    tmpdir_remove(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_load_yields_to_io),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
