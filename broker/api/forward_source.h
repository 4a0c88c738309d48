/* forward_source: the md_source of a quorum-mode broker started by broker_start: reads from the node's
 * kraft_source, writes through the ctrl_channel to the active controller (see forward_source.c). */
#ifndef FERRY_FORWARD_SOURCE_H
#define FERRY_FORWARD_SOURCE_H

#include "broker/metadata/md_source.h"

struct ctrl_channel;
struct ferry_config;

/* Wraps inner (taken: stopped with the wrapper). ch must outlive the source's last call. 0 or FERRY_ENOMEM. */
int forward_source_new(const struct md_source *inner, struct ctrl_channel *ch, const struct ferry_config *cfg,
                       struct md_source *out);

#endif
