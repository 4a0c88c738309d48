/* server_cli: `ferry server [--config FILE] [--set KEY=VALUE]...`: loads the configuration, starts the
 * node on one libuv loop, and shuts it down cleanly on SIGTERM or SIGINT (flushing every log). */
#include <malloc.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <uv.h>

#include "broker/api/broker.h"
#include "broker/common/ferry_log.h"
#include "cli.h"

static void usage(FILE *out)
{
    fprintf(out, "usage: ferry server [--config FILE] [--set KEY=VALUE]...\n"
                 "  --config FILE     YAML file of Kafka property names and values; without it, a single node\n"
                 "                    in quorum mode on 127.0.0.1:9092 (data in ./ferry-data, formatted on\n"
                 "                    first start)\n"
                 "  --set KEY=VALUE   override one property (repeatable; later ones win)\n");
}

struct server_ctx {
    struct broker broker;
    uv_signal_t sigterm, sigint;
    bool stopping; /* a signal came: the controlled shutdown (legacy mode) runs, then the stop */
    bool stopped;
};

static void stop_now(void *arg)
{
    struct server_ctx *ctx = arg;
    if (ctx->stopped)
        return;
    ctx->stopped = true;
    broker_stop(&ctx->broker);
    uv_close((uv_handle_t *)&ctx->sigterm, NULL);
    uv_close((uv_handle_t *)&ctx->sigint, NULL);
}

static void on_signal(uv_signal_t *s, int signum)
{
    struct server_ctx *ctx = s->data;
    if (ctx->stopping) { /* a second signal does not wait for the controlled shutdown */
        LOG_INFO("server", "signal %d again: stopping now", signum);
        stop_now(ctx);
        return;
    }
    ctx->stopping = true;
    LOG_INFO("server", "signal %d: shutting down", signum);
    broker_begin_shutdown(&ctx->broker, stop_now, ctx);
}

int cli_server_main(int argc, char **argv)
{
    const char *config_path = NULL;
    const char *sets[256];
    size_t nsets = 0;
    for (int i = 0; i < argc; i++) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            usage(stdout);
            return 0;
        } else if (strcmp(argv[i], "--config") == 0 && i + 1 < argc) {
            config_path = argv[++i];
        } else if (strcmp(argv[i], "--set") == 0 && i + 1 < argc && nsets < 256) {
            sets[nsets++] = argv[++i];
        } else {
            fprintf(stderr, "ferry server: unexpected argument '%s'\n", argv[i]);
            usage(stderr);
            return 2;
        }
    }
    signal(SIGPIPE, SIG_IGN);
    /* Request frames of up to a few MiB are allocated and freed for every produce request: keep them on
     * the heap (reused) instead of fresh mmap'd pages that the kernel must zero each time. */
    mallopt(M_MMAP_THRESHOLD, 32 * 1024 * 1024);
    mallopt(M_TRIM_THRESHOLD, 128 * 1024 * 1024);
    struct ferry_config cfg;
    char err[512];
    if (config_load(&cfg, config_path, sets, nsets, err, sizeof err) != 0) {
        fprintf(stderr, "ferry server: %s\n", err);
        return 1;
    }
    uv_loop_t *loop = uv_default_loop();
    if (!loop) { /* e.g. no file descriptor left for epoll (ulimit -n) */
        fprintf(stderr, "ferry server: cannot create the event loop (out of file descriptors? see ulimit -n)\n");
        config_free(&cfg);
        return 1;
    }
    static struct server_ctx ctx;
    if (broker_start(&ctx.broker, loop, &cfg, config_path == NULL, err, sizeof err) != 0) {
        fprintf(stderr, "ferry server: %s\n", err);
        broker_stop(&ctx.broker);
        uv_run(loop, UV_RUN_DEFAULT);
        config_free(&cfg);
        return 1;
    }
    uv_signal_init(loop, &ctx.sigterm);
    uv_signal_init(loop, &ctx.sigint);
    ctx.sigterm.data = ctx.sigint.data = &ctx;
    uv_signal_start(&ctx.sigterm, on_signal, SIGTERM);
    uv_signal_start(&ctx.sigint, on_signal, SIGINT);
    uv_run(loop, UV_RUN_DEFAULT);
    uv_loop_close(loop);
    config_free(&cfg);
    LOG_INFO("server", "stopped");
    return 0;
}
