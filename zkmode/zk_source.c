/* zk_source: see zk_source.h. Legacy mode is being built (issue 4): until the ZooKeeper session, the
 * registration and the controller are wired here, a legacy-mode configuration is refused with a clear
 * error instead of starting a broker that would not be part of the cluster. */
#include "zk_source.h"

#include <stdio.h>

#include "broker/common/ferry_err.h"

int zk_source_start(uv_loop_t *loop, const struct ferry_config *cfg, struct md_source *out, char *err, size_t errlen)
{
    (void)loop;
    (void)cfg;
    (void)out;
    snprintf(err, errlen, "legacy mode (zookeeper.connect without process.roles) cannot run a broker yet: "
                          "this build has no ZooKeeper-mode broker; use quorum mode (process.roles)");
    return FERRY_EINVAL;
}
