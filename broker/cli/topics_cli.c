/* topics_cli: `ferry topics create|delete|list|describe`, mirroring Kafka's kafka-topics.sh.
 *
 * Talks to any broker through kclient: Metadata to list and describe topics, DescribeConfigs for the
 * non-default configs in `describe`, CreateTopics and DeleteTopics sent to the controller (found through
 * Metadata, as Kafka's admin client does). Output follows kafka-topics; errors go to stderr as
 * "Error while executing topic command : <message>" plus a line naming the Kafka error. Exit status: 0
 * success, 1 failure, 2 usage error. */
#include <regex.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api_support.h"
#include "broker/common/ferry_alloc.h"
#include "broker/cli/cli.h"
#include "broker/cli/cli_args.h"
#include "broker/cli/kclient.h"
#include "proto_codec.h"

enum topics_cmd { TOPICS_NONE, TOPICS_CREATE, TOPICS_DELETE, TOPICS_LIST, TOPICS_DESCRIBE };

enum { TOPICS_MAX_CONFIGS = 128, TOPICS_EXIT_FAIL = 1, TOPICS_EXIT_USAGE = CLI_EXIT_USAGE };

enum { CONFIG_RESOURCE_TOPIC = 2, CONFIG_SOURCE_DEFAULT = 5 };

/* A --config key=value, trimmed, pointing into argv. */
struct topics_config {
    proto_str key, value;
};

struct topics_opts {
    enum topics_cmd cmd;
    const char *bootstrap;
    const char *topic;
    int32_t partitions;         /* -1: the broker's num.partitions */
    int32_t replication_factor; /* -1: the broker's default.replication.factor */
    struct topics_config configs[TOPICS_MAX_CONFIGS];
    int nconfigs;
    bool if_exists, if_not_exists, exclude_internal, help;
    int timeout_ms;
};

static const char topics_usage_text[] =
    "usage: ferry topics <command> --bootstrap-server HOST:PORT [options]\n"
    "commands (also accepted as --create, --delete, --list, --describe):\n"
    "  create    --topic T [--partitions N] [--replication-factor R] [--config K=V]... [--if-not-exists]\n"
    "  delete    --topic T [--if-exists]\n"
    "  list      [--topic T] [--exclude-internal]\n"
    "  describe  [--topic T] [--if-exists] [--exclude-internal]\n"
    "options:\n"
    "  --bootstrap-server HOST:PORT  a broker to connect to (required)\n"
    "  --topic T                     topic name; for delete, list and describe a regular expression\n"
    "                                (',' separates alternatives), as in kafka-topics\n"
    "  --partitions N                partition count (default: the broker's num.partitions)\n"
    "  --replication-factor R        replicas per partition (default: default.replication.factor)\n"
    "  --config K=V                  a topic config override; repeatable\n"
    "  --if-not-exists               create: succeed if the topic already exists\n"
    "  --if-exists                   delete, describe: succeed if no topic matches\n"
    "  --exclude-internal            list, describe: leave out internal topics\n"
    "  --timeout-ms MS               network timeout per request (default 30000)\n"
    "  --help                        this text\n";

/* ---- argument parsing --------------------------------------------------------------------------------- */

static proto_str trimmed(const char *p, size_t n)
{
    while (n && (*p == ' ' || *p == '\t')) {
        p++;
        n--;
    }
    while (n && (p[n - 1] == ' ' || p[n - 1] == '\t'))
        n--;
    return (proto_str){p, (int32_t)n};
}

/* "key=value" with exactly one '=' and both sides non-empty after trimming, as kafka-topics requires. */
static bool parse_config(const char *s, struct topics_config *cfg)
{
    const char *eq = strchr(s, '=');
    if (!eq || strchr(eq + 1, '='))
        return false;
    cfg->key = trimmed(s, (size_t)(eq - s));
    cfg->value = trimmed(eq + 1, strlen(eq + 1));
    return cfg->key.len > 0 && cfg->value.len > 0;
}

static enum topics_cmd command_named(const char *s)
{
    if (s[0] == '-' && s[1] == '-')
        s += 2;
    if (strcmp(s, "create") == 0)
        return TOPICS_CREATE;
    if (strcmp(s, "delete") == 0)
        return TOPICS_DELETE;
    if (strcmp(s, "list") == 0)
        return TOPICS_LIST;
    if (strcmp(s, "describe") == 0)
        return TOPICS_DESCRIBE;
    return TOPICS_NONE;
}

static const char *command_name(enum topics_cmd cmd)
{
    static const char *names[] = {"", "create", "delete", "list", "describe"};
    return names[cmd];
}

/* Options that take a value; "--name value" and "--name=value" are both accepted. */
static const char *const value_options[] = {"--bootstrap-server", "--topic", "--partitions",
                                            "--replication-factor", "--config", "--timeout-ms"};

static int check_combinations(const struct topics_opts *o, FILE *err)
{
    if (o->help)
        return 0;
    if (o->cmd == TOPICS_NONE)
        return cli_usage_error(err, "topics", "exactly one of create, delete, list or describe is required");
    if (!o->bootstrap)
        return cli_usage_error(err, "topics", "missing required option --bootstrap-server");
    if ((o->cmd == TOPICS_CREATE || o->cmd == TOPICS_DELETE) && !o->topic)
        return cli_usage_error(err, "topics", "%s: missing required option --topic", command_name(o->cmd));
    if (o->cmd != TOPICS_CREATE) {
        const char *bad = o->partitions >= 0           ? "--partitions"
                          : o->replication_factor >= 0 ? "--replication-factor"
                          : o->nconfigs                ? "--config"
                          : o->if_not_exists           ? "--if-not-exists"
                                                       : NULL;
        if (bad)
            return cli_usage_error(err, "topics", "option %s can only be used with create", bad);
    }
    if (o->if_exists && o->cmd != TOPICS_DELETE && o->cmd != TOPICS_DESCRIBE)
        return cli_usage_error(err, "topics", "option --if-exists can only be used with delete or describe");
    if (o->exclude_internal && o->cmd != TOPICS_LIST && o->cmd != TOPICS_DESCRIBE)
        return cli_usage_error(err, "topics", "option --exclude-internal can only be used with list or describe");
    return 0;
}

static int apply_value_option(struct topics_opts *o, const char *name, const char *value, FILE *err)
{
    if (strcmp(name, "--bootstrap-server") == 0) {
        o->bootstrap = value;
    } else if (strcmp(name, "--topic") == 0) {
        if (!*value)
            return cli_usage_error(err, "topics", "--topic must not be empty");
        o->topic = value;
    } else if (strcmp(name, "--partitions") == 0) {
        if (!cli_parse_int(value, 1, INT32_MAX, &o->partitions))
            return cli_usage_error(err, "topics", "The partitions must be greater than 0 (got '%s')", value);
    } else if (strcmp(name, "--replication-factor") == 0) {
        if (!cli_parse_int(value, 1, INT16_MAX, &o->replication_factor))
            return cli_usage_error(err, "topics", "The replication factor must be between 1 and 32767 inclusive (got '%s')",
                               value);
    } else if (strcmp(name, "--config") == 0) {
        if (o->nconfigs == TOPICS_MAX_CONFIGS)
            return cli_usage_error(err, "topics", "too many --config options");
        if (!parse_config(value, &o->configs[o->nconfigs]))
            return cli_usage_error(err, "topics",
                               "Invalid topic config '%s': all configs to be added must be in the format \"key=val\".",
                               value);
        o->nconfigs++;
    } else if (strcmp(name, "--timeout-ms") == 0) {
        int32_t ms;
        if (!cli_parse_int(value, 1, 3600 * 1000, &ms))
            return cli_usage_error(err, "topics", "invalid --timeout-ms '%s'", value);
        o->timeout_ms = ms;
    }
    return 0;
}

/* Fills o from the arguments after "topics". Returns 0, or TOPICS_EXIT_USAGE after printing why to err. */
static int topics_parse_args(int argc, char **argv, struct topics_opts *o, FILE *err)
{
    memset(o, 0, sizeof *o);
    o->partitions = -1;
    o->replication_factor = -1;
    o->timeout_ms = 30000;
    for (int i = 0; i < argc; i++) {
        const char *arg = argv[i];
        enum topics_cmd cmd = command_named(arg);
        if (cmd != TOPICS_NONE) { /* option values were consumed with their option, so this is a command */
            if (o->cmd != TOPICS_NONE && o->cmd != cmd)
                return cli_usage_error(err, "topics", "only one of create, delete, list or describe may be given");
            o->cmd = cmd;
            continue;
        }
        if (strcmp(arg, "--help") == 0 || strcmp(arg, "-h") == 0) {
            o->help = true;
        } else if (strcmp(arg, "--if-exists") == 0) {
            o->if_exists = true;
        } else if (strcmp(arg, "--if-not-exists") == 0) {
            o->if_not_exists = true;
        } else if (strcmp(arg, "--exclude-internal") == 0) {
            o->exclude_internal = true;
        } else {
            const char *name, *value;
            int rc = cli_value_option(argc, argv, &i, value_options, sizeof value_options / sizeof value_options[0],
                                      "topics", err, &name, &value);
            if (rc)
                return rc;
            rc = apply_value_option(o, name, value, err);
            if (rc)
                return rc;
        }
    }
    return check_combinations(o, err);
}

/* ---- topic selection ------------------------------------------------------------------------------------ */

static bool topic_is_internal(proto_str name, bool flagged)
{
    return flagged || proto_str_eq(name, "__consumer_offsets") || proto_str_eq(name, "__transaction_state");
}

/* Kafka's IncludeList: trim, ',' means '|', surrounding quotes dropped, the whole name must match. */
static int include_list_compile(const char *spec, regex_t *re, char *errbuf, size_t errcap)
{
    size_t n = strlen(spec);
    char *pat = ferry_malloc(n + 5);
    if (!pat)
        return FERRY_ENOMEM;
    size_t s = 0, e = n;
    while (s < e && (spec[s] == ' ' || spec[s] == '\t'))
        s++;
    while (e > s && (spec[e - 1] == ' ' || spec[e - 1] == '\t'))
        e--;
    while (s < e && (spec[s] == '"' || spec[s] == '\''))
        s++;
    while (e > s && (spec[e - 1] == '"' || spec[e - 1] == '\''))
        e--;
    size_t o = 0;
    pat[o++] = '^';
    pat[o++] = '(';
    for (size_t i = s; i < e; i++)
        pat[o++] = spec[i] == ',' ? '|' : spec[i];
    pat[o++] = ')';
    pat[o++] = '$';
    pat[o] = '\0';
    int rc = regcomp(re, pat, REG_EXTENDED | REG_NOSUB);
    if (rc != 0) {
        regerror(rc, re, errbuf, errcap);
        ferry_free(pat);
        return FERRY_EINVAL;
    }
    ferry_free(pat);
    return 0;
}

static int cmp_topic_ptr(const void *a, const void *b)
{
    const struct MetadataResponse_MetadataResponseTopic *x = *(const void *const *)a, *y = *(const void *const *)b;
    int32_t xl = x->Name.len > 0 ? x->Name.len : 0, yl = y->Name.len > 0 ? y->Name.len : 0;
    int c = memcmp(x->Name.p ? x->Name.p : "", y->Name.p ? y->Name.p : "", (size_t)(xl < yl ? xl : yl));
    return c ? c : (xl > yl) - (xl < yl);
}

/* The topics of a Metadata answer that match o->topic (all when none) and o->exclude_internal, sorted by
 * name, as an arena array of pointers. Returns the count or a negative error. */
static int select_topics(const struct topics_opts *o, const struct MetadataResponse *md, struct proto_arena *a,
                         const struct MetadataResponse_MetadataResponseTopic ***out, FILE *err)
{
    regex_t re;
    char why[256];
    bool filter = o->topic != NULL;
    if (filter && include_list_compile(o->topic, &re, why, sizeof why) < 0) {
        fprintf(err, "Error while executing topic command : invalid topic pattern '%s': %s\n", o->topic, why);
        return FERRY_EINVAL;
    }
    int n = 0;
    const struct MetadataResponse_MetadataResponseTopic **sel =
        proto_arena_alloc(a, sizeof *sel * (size_t)(md->Topics_n > 0 ? md->Topics_n : 1));
    if (!sel) {
        n = FERRY_ENOMEM;
        goto free_regex;
    }
    for (int32_t i = 0; i < md->Topics_n; i++) {
        const struct MetadataResponse_MetadataResponseTopic *t = &md->Topics[i];
        if (t->Name.len <= 0 || t->ErrorCode == KERR_UNKNOWN_TOPIC_OR_PARTITION)
            continue;
        if (o->exclude_internal && topic_is_internal(t->Name, t->IsInternal))
            continue;
        if (filter) {
            char *name = proto_arena_strdup(a, t->Name);
            if (!name) {
                n = FERRY_ENOMEM;
                goto free_regex;
            }
            if (regexec(&re, name, 0, NULL, 0) != 0)
                continue;
        }
        sel[n++] = t;
    }
    qsort(sel, (size_t)n, sizeof *sel, cmp_topic_ptr);
    *out = sel;
free_regex:
    if (filter)
        regfree(&re);
    return n;
}

/* ---- output --------------------------------------------------------------------------------------------- */

static void print_ids(FILE *out, const int32_t *ids, int32_t n)
{
    for (int32_t i = 0; i < n; i++)
        fprintf(out, "%s%d", i ? "," : "", ids[i]);
}

static int cmp_partition_ptr(const void *a, const void *b)
{
    const struct MetadataResponse_MetadataResponsePartition *x = *(const void *const *)a, *y = *(const void *const *)b;
    return (x->PartitionIndex > y->PartitionIndex) - (x->PartitionIndex < y->PartitionIndex);
}

static bool config_is_default(const struct DescribeConfigsResponse_DescribeConfigsResourceResult *e,
                              int16_t version)
{
    return version == 0 ? e->IsDefault : e->ConfigSource == CONFIG_SOURCE_DEFAULT;
}

/* kafka-topics' description of one topic: the topic line, then one line per partition by index. `cfg` may
 * be NULL (no configs known); `cfg_version` is the DescribeConfigs version it was decoded at. */
static int topics_print_description(FILE *out, const struct MetadataResponse_MetadataResponseTopic *t,
                                    const struct DescribeConfigsResponse_DescribeConfigsResult *cfg,
                                    int16_t cfg_version, struct proto_arena *a)
{
    int32_t np = t->Partitions_n > 0 ? t->Partitions_n : 0;
    const struct MetadataResponse_MetadataResponsePartition **parts =
        proto_arena_alloc(a, sizeof *parts * (size_t)(np ? np : 1));
    if (!parts)
        return FERRY_ENOMEM;
    for (int32_t i = 0; i < np; i++)
        parts[i] = &t->Partitions[i];
    qsort(parts, (size_t)np, sizeof *parts, cmp_partition_ptr);

    fprintf(out, "Topic: %.*s", (int)t->Name.len, t->Name.p);
    if (!proto_uuid_is_zero(t->TopicId)) {
        char id[23];
        proto_uuid_to_base64(t->TopicId, id);
        fprintf(out, "\tTopicId: %s", id);
    }
    fprintf(out, "\tPartitionCount: %d\tReplicationFactor: %d\tConfigs: ", np, np ? parts[0]->ReplicaNodes_n : 0);
    int shown = 0;
    for (int32_t i = 0; cfg && i < cfg->Configs_n; i++) {
        const struct DescribeConfigsResponse_DescribeConfigsResourceResult *e = &cfg->Configs[i];
        if (config_is_default(e, cfg_version))
            continue;
        fprintf(out, "%s%.*s=", shown++ ? "," : "", (int)e->Name.len, e->Name.p);
        if (e->Value.len >= 0)
            fprintf(out, "%.*s", (int)e->Value.len, e->Value.p);
        else
            fprintf(out, "null");
    }
    fprintf(out, "\n");
    for (int32_t i = 0; i < np; i++) {
        const struct MetadataResponse_MetadataResponsePartition *p = parts[i];
        fprintf(out, "\tTopic: %.*s\tPartition: %d\tLeader: ", (int)t->Name.len, t->Name.p, p->PartitionIndex);
        if (p->LeaderId >= 0)
            fprintf(out, "%d", p->LeaderId);
        else
            fprintf(out, "none");
        fprintf(out, "\tReplicas: ");
        print_ids(out, p->ReplicaNodes, p->ReplicaNodes_n);
        fprintf(out, "\tIsr: ");
        print_ids(out, p->IsrNodes, p->IsrNodes_n);
        fprintf(out, "\n");
    }
    return 0;
}

/* The error report: kafka-topics' line, then the Kafka error's name and code. */
static void print_kafka_error(FILE *err, int16_t code, proto_str message, const char *fallback)
{
    if (message.len > 0)
        fprintf(err, "Error while executing topic command : %.*s\n", (int)message.len, message.p);
    else
        fprintf(err, "Error while executing topic command : %s\n",
                fallback ? fallback : kclient_kafka_message(code));
    fprintf(err, "ERROR %s (Kafka error %d)\n", kafka_error_name(code), code);
}

static int print_client_error(FILE *err, const struct kclient *c)
{
    fprintf(err, "Error while executing topic command : %s\n", kclient_errmsg(c));
    return TOPICS_EXIT_FAIL;
}

/* ---- requests ------------------------------------------------------------------------------------------- */

/* Metadata for every topic. */
static int fetch_all_metadata(struct kclient *c, struct proto_arena *a, struct MetadataResponse *md)
{
    int version = kclient_pick_version(c, API_METADATA, 0);
    if (version < 0)
        return version;
    struct MetadataRequest req;
    proto_struct_init(proto_msg_MetadataRequest.body, &req);
    req.Topics_n = version == 0 ? 0 : -1; /* v0: an empty list means all topics; v1+: null does */
    req.AllowAutoTopicCreation = false;
    return kclient_call(c, API_METADATA, (int16_t)version, &req, a, md);
}

/* Configs of the given topics; *version is the version used. */
static int fetch_topic_configs(struct kclient *c, const struct MetadataResponse_MetadataResponseTopic **topics,
                               int n, struct proto_arena *a, struct DescribeConfigsResponse *resp, int16_t *version)
{
    int v = kclient_pick_version(c, API_DESCRIBE_CONFIGS, 0);
    if (v < 0)
        return v;
    struct DescribeConfigsRequest req;
    proto_struct_init(proto_msg_DescribeConfigsRequest.body, &req);
    req.Resources = proto_array_new(a, &desc_DescribeConfigsRequest_DescribeConfigsResource, n);
    if (!req.Resources)
        return FERRY_ENOMEM;
    req.Resources_n = n;
    for (int i = 0; i < n; i++) {
        req.Resources[i].ResourceType = CONFIG_RESOURCE_TOPIC;
        req.Resources[i].ResourceName = topics[i]->Name;
        req.Resources[i].ConfigurationKeys_n = -1; /* all of them */
    }
    *version = (int16_t)v;
    return kclient_call(c, API_DESCRIBE_CONFIGS, (int16_t)v, &req, a, resp);
}

static const struct DescribeConfigsResponse_DescribeConfigsResult *
configs_for(const struct DescribeConfigsResponse *resp, proto_str name)
{
    for (int32_t i = 0; i < resp->Results_n; i++) {
        const struct DescribeConfigsResponse_DescribeConfigsResult *r = &resp->Results[i];
        if (r->ResourceType == CONFIG_RESOURCE_TOPIC && r->ResourceName.len == name.len &&
            memcmp(r->ResourceName.p, name.p, (size_t)name.len) == 0)
            return r;
    }
    return NULL;
}

/* ---- commands ------------------------------------------------------------------------------------------- */

static int connect_bootstrap(struct kclient *c, const struct topics_opts *o, FILE *err)
{
    kclient_init(c);
    c->timeout_ms = o->timeout_ms;
    if (kclient_connect_bootstrap(c, o->bootstrap) < 0)
        return print_client_error(err, c);
    return 0;
}

static int cmd_list(const struct topics_opts *o, FILE *out, FILE *err)
{
    struct kclient c;
    int rc = connect_bootstrap(&c, o, err);
    if (rc)
        return rc;
    struct proto_arena a;
    proto_arena_init(&a);
    struct MetadataResponse md;
    const struct MetadataResponse_MetadataResponseTopic **sel = NULL;
    rc = TOPICS_EXIT_FAIL;
    if (fetch_all_metadata(&c, &a, &md) < 0) {
        print_client_error(err, &c);
        goto free_arena;
    }
    int n = select_topics(o, &md, &a, &sel, err);
    if (n < 0)
        goto free_arena;
    for (int i = 0; i < n; i++)
        fprintf(out, "%.*s\n", (int)sel[i]->Name.len, sel[i]->Name.p);
    rc = 0;
free_arena:
    proto_arena_free(&a);
    kclient_close(&c);
    return rc;
}

static int cmd_describe(const struct topics_opts *o, FILE *out, FILE *err)
{
    struct kclient c;
    int rc = connect_bootstrap(&c, o, err);
    if (rc)
        return rc;
    struct proto_arena a;
    proto_arena_init(&a);
    struct MetadataResponse md;
    struct DescribeConfigsResponse cfg = {0};
    int16_t cfg_version = 0;
    const struct MetadataResponse_MetadataResponseTopic **sel = NULL;
    rc = TOPICS_EXIT_FAIL;
    if (fetch_all_metadata(&c, &a, &md) < 0) {
        print_client_error(err, &c);
        goto free_arena;
    }
    int n = select_topics(o, &md, &a, &sel, err);
    if (n < 0)
        goto free_arena;
    if (n == 0 && o->topic && !o->if_exists) {
        fprintf(err, "Error while executing topic command : Topic '%s' does not exist as expected\n", o->topic);
        goto free_arena;
    }
    int crc = n > 0 ? fetch_topic_configs(&c, sel, n, &a, &cfg, &cfg_version) : 0;
    if (crc == KCLIENT_EUNSUPPORTED) {
        fprintf(err, "Warning: topic configs not shown: %s\n", kclient_errmsg(&c)); /* describe the rest */
    } else if (crc < 0) {
        print_client_error(err, &c);
        goto free_arena;
    }
    for (int i = 0; i < n; i++) {
        const struct DescribeConfigsResponse_DescribeConfigsResult *r = configs_for(&cfg, sel[i]->Name);
        if (r && r->ErrorCode != 0) {
            const char *why = kclient_kafka_message(r->ErrorCode);
            fprintf(err, "Warning: no configs for topic '%.*s': %.*s (%s)\n", (int)sel[i]->Name.len, sel[i]->Name.p,
                    r->ErrorMessage.len > 0 ? (int)r->ErrorMessage.len : (int)strlen(why),
                    r->ErrorMessage.len > 0 ? r->ErrorMessage.p : why, kafka_error_name(r->ErrorCode));
            r = NULL;
        }
        if (topics_print_description(out, sel[i], r, cfg_version, &a) < 0)
            goto free_arena;
    }
    rc = 0;
free_arena:
    proto_arena_free(&a);
    kclient_close(&c);
    return rc;
}

static int send_create(struct kclient *c, const struct topics_opts *o, struct proto_arena *a,
                       struct CreateTopicsResponse *resp)
{
    bool broker_defaults = o->partitions < 0 || o->replication_factor < 0;
    int version = kclient_pick_version(c, API_CREATE_TOPICS, broker_defaults ? 4 : 0); /* -1 defaults: v4+ */
    if (version < 0)
        return version;
    struct CreateTopicsRequest req;
    proto_struct_init(proto_msg_CreateTopicsRequest.body, &req);
    req.Topics = proto_array_new(a, &desc_CreateTopicsRequest_CreatableTopic, 1);
    if (!req.Topics)
        return FERRY_ENOMEM;
    req.Topics_n = 1;
    req.timeoutMs = o->timeout_ms;
    struct CreateTopicsRequest_CreatableTopic *t = &req.Topics[0];
    t->Name = proto_str_from(o->topic);
    t->NumPartitions = o->partitions;
    t->ReplicationFactor = (int16_t)o->replication_factor;
    t->Assignments_n = 0;
    t->Configs = proto_array_new(a, &desc_CreateTopicsRequest_CreateableTopicConfig, o->nconfigs);
    if (!t->Configs)
        return FERRY_ENOMEM;
    t->Configs_n = o->nconfigs;
    for (int i = 0; i < o->nconfigs; i++) {
        t->Configs[i].Name = o->configs[i].key;
        t->Configs[i].Value = o->configs[i].value;
    }
    return kclient_call(c, API_CREATE_TOPICS, (int16_t)version, &req, a, resp);
}

static bool has_collision_chars(const char *name) { return strchr(name, '.') || strchr(name, '_'); }

static int cmd_create(const struct topics_opts *o, FILE *out, FILE *err)
{
    if (has_collision_chars(o->topic))
        fprintf(out, "WARNING: Due to limitations in metric names, topics with a period ('.') or underscore ('_') "
                     "could collide. To avoid issues it is best to use either, but not both.\n");
    struct kclient c;
    int rc = connect_bootstrap(&c, o, err);
    if (rc)
        return rc;
    struct proto_arena a;
    proto_arena_init(&a);
    rc = TOPICS_EXIT_FAIL;
    for (int attempt = 0; attempt < 3; attempt++) {
        proto_arena_free(&a);
        struct CreateTopicsResponse resp;
        if (kclient_connect_controller(&c) < 0 || send_create(&c, o, &a, &resp) < 0) {
            print_client_error(err, &c);
            goto free_arena;
        }
        const struct CreateTopicsResponse_CreatableTopicResult *r = NULL;
        for (int32_t i = 0; i < resp.Topics_n; i++)
            if (proto_str_eq(resp.Topics[i].Name, o->topic))
                r = &resp.Topics[i];
        if (!r) {
            fprintf(err, "Error while executing topic command : the broker's CreateTopics answer does not "
                         "mention topic '%s'\n", o->topic);
            goto free_arena;
        }
        if (r->ErrorCode == KERR_NOT_CONTROLLER) {
            kclient_close(&c); /* the controller moved: look it up again from the bootstrap broker */
            if (kclient_connect_bootstrap(&c, o->bootstrap) < 0) {
                print_client_error(err, &c);
                goto free_arena;
            }
            continue;
        }
        if (r->ErrorCode == KERR_TOPIC_ALREADY_EXISTS && o->if_not_exists) {
            rc = 0;
            goto free_arena;
        }
        if (r->ErrorCode != 0) {
            char exists[512];
            snprintf(exists, sizeof exists, "Topic '%s' already exists.", o->topic);
            print_kafka_error(err, r->ErrorCode, r->ErrorMessage,
                              r->ErrorCode == KERR_TOPIC_ALREADY_EXISTS ? exists : NULL);
            goto free_arena;
        }
        fprintf(out, "Created topic %s.\n", o->topic);
        rc = 0;
        goto free_arena;
    }
    print_kafka_error(err, KERR_NOT_CONTROLLER, (proto_str){NULL, -1}, NULL);
free_arena:
    proto_arena_free(&a);
    kclient_close(&c);
    return rc;
}

static int send_delete(struct kclient *c, const struct MetadataResponse_MetadataResponseTopic **topics, int n,
                       int timeout_ms, struct proto_arena *a, struct DeleteTopicsResponse *resp)
{
    int version = kclient_pick_version(c, API_DELETE_TOPICS, 0);
    if (version < 0)
        return version;
    struct DeleteTopicsRequest req;
    proto_struct_init(proto_msg_DeleteTopicsRequest.body, &req);
    req.Topics = proto_array_new(a, &desc_DeleteTopicsRequest_DeleteTopicState, n); /* v6+ */
    req.TopicNames = proto_arena_alloc(a, sizeof *req.TopicNames * (size_t)n);      /* v0-5 */
    if (!req.Topics || !req.TopicNames)
        return FERRY_ENOMEM;
    req.Topics_n = req.TopicNames_n = n;
    for (int i = 0; i < n; i++) {
        req.Topics[i].Name = topics[i]->Name;
        req.TopicNames[i] = topics[i]->Name;
    }
    req.TimeoutMs = timeout_ms;
    return kclient_call(c, API_DELETE_TOPICS, (int16_t)version, &req, a, resp);
}

/* Sends DeleteTopics to the controller; returns 0, 1 (failure reported) or -1 (NOT_CONTROLLER: retry). */
static int delete_once(struct kclient *c, const struct topics_opts *o,
                       const struct MetadataResponse_MetadataResponseTopic **sel, int n, FILE *err)
{
    struct proto_arena a;
    proto_arena_init(&a);
    struct DeleteTopicsResponse resp;
    int rc = 0;
    if (kclient_connect_controller(c) < 0 || send_delete(c, sel, n, o->timeout_ms, &a, &resp) < 0) {
        rc = print_client_error(err, c);
        goto free_arena;
    }
    for (int32_t i = 0; i < resp.Responses_n; i++) {
        const struct DeleteTopicsResponse_DeletableTopicResult *r = &resp.Responses[i];
        if (r->ErrorCode == KERR_NOT_CONTROLLER) {
            rc = -1;
            goto free_arena;
        }
    }
    for (int32_t i = 0; i < resp.Responses_n; i++) {
        const struct DeleteTopicsResponse_DeletableTopicResult *r = &resp.Responses[i];
        if (r->ErrorCode == 0 || (r->ErrorCode == KERR_UNKNOWN_TOPIC_OR_PARTITION && o->if_exists))
            continue;
        char fallback[512];
        snprintf(fallback, sizeof fallback, "%.*s: %s", r->Name.len > 0 ? (int)r->Name.len : 0,
                 r->Name.p ? r->Name.p : "", kclient_kafka_message(r->ErrorCode));
        print_kafka_error(err, r->ErrorCode, r->ErrorMessage, fallback);
        rc = TOPICS_EXIT_FAIL;
    }
free_arena:
    proto_arena_free(&a);
    return rc;
}

static int cmd_delete(const struct topics_opts *o, FILE *err)
{
    struct kclient c;
    int rc = connect_bootstrap(&c, o, err);
    if (rc)
        return rc;
    struct proto_arena a;
    proto_arena_init(&a);
    struct MetadataResponse md;
    const struct MetadataResponse_MetadataResponseTopic **sel = NULL;
    rc = TOPICS_EXIT_FAIL;
    if (fetch_all_metadata(&c, &a, &md) < 0) {
        print_client_error(err, &c);
        goto free_arena;
    }
    int n = select_topics(o, &md, &a, &sel, err);
    if (n < 0)
        goto free_arena;
    if (n == 0) {
        if (o->if_exists)
            rc = 0;
        else
            fprintf(err, "Error while executing topic command : Topic '%s' does not exist as expected\n", o->topic);
        goto free_arena;
    }
    /* `sel` points into md, which lives in `a`; the bootstrap connection may be swapped for the controller. */
    for (int attempt = 0; attempt < 3; attempt++) {
        rc = delete_once(&c, o, sel, n, err);
        if (rc >= 0)
            goto free_arena;
        kclient_close(&c);
        if (kclient_connect_bootstrap(&c, o->bootstrap) < 0) {
            rc = print_client_error(err, &c);
            goto free_arena;
        }
    }
    print_kafka_error(err, KERR_NOT_CONTROLLER, (proto_str){NULL, -1}, NULL);
    rc = TOPICS_EXIT_FAIL;
free_arena:
    proto_arena_free(&a);
    kclient_close(&c);
    return rc;
}

int cli_topics_main(int argc, char **argv)
{
    struct topics_opts o;
    int rc = topics_parse_args(argc, argv, &o, stderr);
    if (rc)
        return rc;
    if (o.help) {
        fputs(topics_usage_text, stdout);
        return 0;
    }
    switch (o.cmd) {
    case TOPICS_CREATE: return cmd_create(&o, stdout, stderr);
    case TOPICS_DELETE: return cmd_delete(&o, stderr);
    case TOPICS_LIST: return cmd_list(&o, stdout, stderr);
    case TOPICS_DESCRIBE: return cmd_describe(&o, stdout, stderr);
    default: return TOPICS_EXIT_USAGE;
    }
}
