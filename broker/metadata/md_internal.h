/* md_internal: helpers shared by the metadata module's own files (not for other modules). */
#ifndef FERRY_MD_INTERNAL_H
#define FERRY_MD_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "md_image.h"

/* Map key of a config resource: the type byte then the name. Fits in buf (cap bytes) when it can, else
 * is allocated (*heap set; free it). NULL on allocation failure. */
char *md_config_key(int8_t type, const char *name, size_t len, char *buf, size_t cap, size_t *klen, char **heap);

struct md_configs *md_configs_lookup(const struct md_image *img, int8_t type, const char *name, size_t len);

void md_topic_free(struct md_topic *t);
void md_broker_free(struct md_broker *b);
void md_controller_free(struct md_controller *c);
void md_configs_free(struct md_configs *c);
void md_partition_clear(struct md_partition *p);

#endif
