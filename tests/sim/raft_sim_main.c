/* raft_sim_main: runs seeded simulations of the Raft core (raft_sim.h) and reports the first violation
 * with the command that replays it.
 *
 *   raft_sim [--seeds FIRST:LAST | --seed N] [--voters V] [--observers O] [--duration MS] [--no-pre-vote]
 *            [--app hash|ctrl] [--bug vote|ack|twice|fence] [--expect-violation] [--trace]
 *
 * --app ctrl replicates the quorum controller and the metadata image instead of a running hash;
 * --bug twice (with it) makes one node apply every committed batch twice, --bug fence makes the controller
 * fence brokers without moving their leaderships.
 *
 * RAFT_SIM_SEEDS=N in the environment replaces the number of seeds (FIRST..FIRST+N-1): the long mode,
 * e.g. RAFT_SIM_SEEDS=1000000. --expect-violation inverts the verdict: it succeeds when some seed finds a
 * violation (the checker's self-test with a deliberately broken core, --bug). Exit 0 on success, 1 on
 * failure, 2 on a usage error. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "broker/common/ferry_log.h"
#include "kraftmode/raft/raft.h"
#include "tests/sim/ctrl_app.h"
#include "tests/sim/raft_sim.h"

static int usage(const char *argv0)
{
    fprintf(stderr,
            "usage: %s [--seeds FIRST:LAST | --seed N] [--voters V] [--observers O] [--duration MS] "
            "[--no-pre-vote] [--app hash|ctrl] [--bug vote|ack|twice|fence] [--expect-violation] [--trace]\n",
            argv0);
    return 2;
}

int main(int argc, char **argv)
{
    struct raft_sim_params p;
    raft_sim_params_default(&p, 1);
    uint64_t first = 1, last = 100;
    bool expect = false;
    const char *bugname = NULL;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--seeds") && v) {
            if (sscanf(v, "%" SCNu64 ":%" SCNu64, &first, &last) != 2 || last < first)
                return usage(argv[0]);
            i++;
        } else if (!strcmp(a, "--seed") && v) {
            first = last = strtoull(v, NULL, 10);
            i++;
        } else if (!strcmp(a, "--voters") && v) {
            p.voters = atoi(v);
            i++;
        } else if (!strcmp(a, "--observers") && v) {
            p.observers = atoi(v);
            i++;
        } else if (!strcmp(a, "--duration") && v) {
            p.duration_ms = atoll(v);
            i++;
        } else if (!strcmp(a, "--no-pre-vote")) {
            p.pre_vote = false;
        } else if (!strcmp(a, "--bug") && v) {
            bugname = v;
            if (!strcmp(v, "vote"))
                p.bugs = RAFT_BUG_VOTE_WITHOUT_LOG_CHECK;
            else if (!strcmp(v, "ack"))
                p.bugs = RAFT_BUG_ACK_BEFORE_FSYNC;
            else if (!strcmp(v, "twice"))
                p.app_bugs = CTRL_APP_BUG_APPLY_TWICE;
            else if (!strcmp(v, "fence"))
                p.app_bugs = CTRL_APP_BUG_FENCE_KEEPS_LEADER;
            else
                return usage(argv[0]);
            i++;
        } else if (!strcmp(a, "--app") && v) {
            if (!strcmp(v, "hash"))
                p.app = RAFT_SIM_APP_HASH;
            else if (!strcmp(v, "ctrl"))
                p.app = RAFT_SIM_APP_CTRL;
            else
                return usage(argv[0]);
            i++;
        } else if (!strcmp(a, "--expect-violation")) {
            expect = true;
        } else if (!strcmp(a, "--trace")) {
            p.trace = true;
        } else {
            return usage(argv[0]);
        }
    }
    const char *env = getenv("RAFT_SIM_SEEDS");
    if (env && *env)
        last = first + strtoull(env, NULL, 10) - 1;
    if (!p.trace)
        ferry_log_set_level(FERRY_LOG_ERROR + 1);
    if (p.app_bugs && p.app != RAFT_SIM_APP_CTRL)
        return usage(argv[0]);
    int64_t commits = 0, leaders = 0, events = 0, truncations = 0, installs = 0, crashes = 0;
    int64_t digests = 0, ops = 0, records = 0, rejected = 0, fenced = 0;
    for (uint64_t seed = first; seed <= last; seed++) {
        struct raft_sim_result res;
        p.seed = seed;
        if (raft_sim_run(&p, &res) != 0)
            return usage(argv[0]);
        commits += res.commit;
        leaders += res.leaders;
        events += res.events;
        truncations += res.truncations;
        installs += res.snap_installs;
        crashes += res.crashes;
        digests += res.digests;
        ops += res.ctrl_ops;
        records += res.ctrl_records;
        rejected += res.ctrl_rejected;
        fenced += res.ctrl_fenced;
        if (res.violation) {
            printf("seed %" PRIu64 ": violation at %lld ms: %s\n", seed, (long long)res.at_ms, res.what);
            printf("replay: %s --seed %" PRIu64 " --voters %d --observers %d --duration %lld%s%s%s%s --trace\n",
                   argv[0], seed, p.voters, p.observers, (long long)p.duration_ms, p.pre_vote ? "" : " --no-pre-vote",
                   p.app == RAFT_SIM_APP_CTRL ? " --app ctrl" : "", bugname ? " --bug " : "", bugname ? bugname : "");
            if (expect) {
                printf("the checker found the injected bug (%s), as expected\n", bugname ? bugname : "none");
                return 0;
            }
            return 1;
        }
        if ((seed - first + 1) % 100000 == 0)
            fprintf(stderr, "%" PRIu64 " seeds ok\n", seed - first + 1);
    }
    printf("%" PRIu64 " seeds (%" PRIu64 "..%" PRIu64 "), %d voters + %d observers, %lld ms each: no violation; "
           "%lld elections won, %lld records committed, %lld crashes, %lld truncations, %lld snapshots installed, "
           "%lld events\n",
           last - first + 1, first, last, p.voters, p.observers, (long long)p.duration_ms, (long long)leaders,
           (long long)commits, (long long)crashes, (long long)truncations, (long long)installs, (long long)events);
    if (p.app == RAFT_SIM_APP_CTRL)
        printf("controller: %lld decisions wrote %lld records, %lld requests refused, %lld brokers fenced for a lapsed "
               "session; %lld image digests compared\n",
               (long long)ops, (long long)records, (long long)rejected, (long long)fenced, (long long)digests);
    if (expect) {
        printf("expected the injected bug to be found, but it was not\n");
        return 1;
    }
    return 0;
}
