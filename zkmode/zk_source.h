/* zk_source: a legacy-mode broker's metadata source (broker/metadata/md_source.h): the ZooKeeper session,
 * the broker's registration, the controller election and the metadata learned from the controller, seen
 * through the interface the data plane uses.
 *
 * Ownership: zk_source_start creates the source on the caller's loop; its `stop` operation starts the
 * clean shutdown (the session is closed, so the broker's ephemeral znodes go at once) and the source frees
 * itself as the loop runs. */
#ifndef FERRY_ZK_SOURCE_H
#define FERRY_ZK_SOURCE_H

#include <stddef.h>
#include <uv.h>

#include "broker/config/config.h"
#include "broker/metadata/md_source.h"

/* Starts the legacy-mode metadata source for `cfg` (which must outlive it). Returns 0 and fills *out, or a
 * negative FERRY_E* with a one-line reason in err. */
int zk_source_start(uv_loop_t *loop, const struct ferry_config *cfg, struct md_source *out, char *err, size_t errlen);

#endif
