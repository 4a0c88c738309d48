/* storage: formatting a node's directories and checking them at start-up, as Kafka 3.7's kafka-storage
 * (StorageTool) and KafkaRaftServer.initializeLogDirs do.
 *
 * The directories are log.dirs plus metadata.log.dir (sorted, without duplicates). Formatting writes into
 * every directory that has no meta.properties:
 *   meta.properties       version=1, node.id, cluster.id, directory.id (a fresh random Uuid per directory)
 *   bootstrap.checkpoint  a snapshot-format file at offset 0, epoch 0: SnapshotHeader, FeatureLevelRecord
 *                         (metadata.version = 19, 3.7-IV4, Kafka 3.7's latest production level),
 *                         SnapshotFooter; read by the controller when the metadata log is empty
 * A node whose directories are not formatted refuses to start with a message naming the directory and the
 * command to run (kraft_storage_ensure), unless it was told to format itself (the no-config default node).
 *
 * Everything here blocks (small files, fsync): it runs before the event loop starts. Messages for the
 * operator go to `err` (and, for format, progress lines to `out`). */
#ifndef FERRY_KRAFT_STORAGE_H
#define FERRY_KRAFT_STORAGE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

struct ferry_config;

#define STORAGE_METADATA_VERSION_LATEST 19 /* 3.7-IV4 */
#define STORAGE_FORMAT_COMMAND "ferry storage format --config <file> --cluster-id <id>"

/* "3.7-IV4" for 19, and the other levels Kafka 3.7 knows; "unknown" otherwise. */
const char *storage_metadata_version_name(int16_t level);

/* A random 22-character base64url Uuid (Kafka's Uuid.randomUuid). 0 or FERRY_EIO. */
int storage_random_uuid(char out[23]);

/* The node's directories: log.dirs and metadata.log.dir, sorted, unique. The array and strings are
 * ferry_malloc'd: free with storage_dirs_free. */
int storage_dirs(const struct ferry_config *cfg, char ***dirs, size_t *n);
void storage_dirs_free(char **dirs, size_t n);

struct storage_format_opts {
    const char *cluster_id;   /* required: a valid Uuid string */
    bool ignore_formatted;    /* skip directories that are already formatted */
    int16_t metadata_version; /* 0: STORAGE_METADATA_VERSION_LATEST */
    FILE *out;                /* progress lines ("Formatting <dir> with metadata.version 3.7-IV4."), may be NULL */
    int64_t now_ms;
};

/* `ferry storage format`. Returns 0, or FERRY_EINVAL (bad cluster id, legacy-mode config, node.id unset,
 * already formatted without ignore_formatted, cluster/node id mismatch) or FERRY_EIO, with the reason in
 * err. */
int storage_format(const struct ferry_config *cfg, const struct storage_format_opts *opts, char *err, size_t errlen);

/* Start-up check. Every directory must hold a meta.properties with the configured node.id and one common
 * cluster.id; a missing directory.id is added (the file is rewritten, as Kafka 3.7 does). Directories
 * without meta.properties are formatted when format_if_missing is set (with the cluster id of the others,
 * or a new random one); otherwise start-up is refused with a message naming the directory and the format
 * command. cluster_id_out (23 bytes, may be NULL) receives the cluster id. 0, FERRY_EINVAL or FERRY_EIO. */
int kraft_storage_ensure(const struct ferry_config *cfg, bool format_if_missing, char *cluster_id_out, char *err,
                         size_t errlen);

#endif
