/* config_net: the endpoint keys. listener.security.protocol.map, controller.listener.names, listeners,
 * advertised.listeners, inter.broker.listener.name and controller.quorum.voters, parsed as Kafka 3.7's
 * EndPoint / CoreUtils / RaftConfig parse them. */
#include <arpa/inet.h>
#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "broker/common/ferry_alloc.h"
#include "broker/common/ferry_err.h"
#include "broker/config/config_internal.h"
#include "broker/config/config_keys.h"

static const char *const protocol_names[] = {"PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"};

const char *config_security_protocol_name(enum config_security_protocol p)
{
    return (unsigned)p < 4 ? protocol_names[p] : "UNKNOWN";
}

static int protocol_from_name(const char *s, enum config_security_protocol *out)
{
    for (int i = 0; i < 4; i++) {
        if (strcasecmp(s, protocol_names[i]) == 0) {
            *out = (enum config_security_protocol)i;
            return 0;
        }
    }
    return FERRY_EINVAL;
}

static void upcase(char *s)
{
    for (; *s; s++)
        *s = (char)toupper((unsigned char)*s);
}

static int oom(char *err, size_t errlen) { return config_fail(FERRY_ENOMEM, err, errlen, "out of memory"); }

/* ---- listener.security.protocol.map ---- */

static int add_protocol(struct ferry_config *cfg, const char *name, enum config_security_protocol p)
{
    for (size_t i = 0; i < cfg->n_protocol_map; i++) {
        if (strcmp(cfg->protocol_map[i].listener_name, name) == 0) {
            cfg->protocol_map[i].protocol = p;
            return 0;
        }
    }
    struct config_protocol_entry *grown = ferry_realloc(cfg->protocol_map, (cfg->n_protocol_map + 1) * sizeof *grown);
    if (!grown)
        return FERRY_ENOMEM;
    cfg->protocol_map = grown;
    if (!(grown[cfg->n_protocol_map].listener_name = ferry_strdup(name)))
        return FERRY_ENOMEM;
    grown[cfg->n_protocol_map++].protocol = p;
    return 0;
}

static int parse_protocol_map(struct ferry_config *cfg, char *err, size_t errlen)
{
    const char *key = "listener.security.protocol.map";
    const char *text = config_text(cfg, key);
    struct config_strlist entries;
    if (config_split_csv(text, &entries) < 0)
        return oom(err, errlen);
    int rc = 0;
    for (size_t i = 0; i < entries.count && rc == 0; i++) {
        char *entry = entries.items[i];
        char *colon = strrchr(entry, ':');
        if (!colon || colon == entry) {
            rc = config_invalid(err, errlen, key, text, "entry '%s' is not NAME:PROTOCOL", entry);
            break;
        }
        *colon = '\0';
        char *name = config_trim_dup(entry, strlen(entry));
        char *proto = config_trim_dup(colon + 1, strlen(colon + 1));
        enum config_security_protocol p;
        if (!name || !proto)
            rc = oom(err, errlen);
        else if (protocol_from_name(proto, &p) < 0)
            rc =
                config_invalid(err, errlen, key, text, "unknown security protocol '%s' for listener '%s'", proto, name);
        else {
            upcase(name);
            if (add_protocol(cfg, name, p) < 0)
                rc = oom(err, errlen);
        }
        ferry_free(name);
        ferry_free(proto);
    }
    config_strlist_free(&entries);
    return rc;
}

/* Ferry's default: when the map is not set, every controller listener name maps to PLAINTEXT (Kafka does
 * this in KRaft mode when no SSL or SASL listener is in use). */
static int map_controller_names(struct ferry_config *cfg, char *err, size_t errlen)
{
    if (config_given(cfg, "listener.security.protocol.map"))
        return 0;
    for (size_t i = 0; i < cfg->controller_listener_names.count; i++) {
        enum config_security_protocol p;
        if (config_listener_protocol(cfg, cfg->controller_listener_names.items[i], &p) == 0)
            continue;
        if (add_protocol(cfg, cfg->controller_listener_names.items[i], CONFIG_SP_PLAINTEXT) < 0)
            return oom(err, errlen);
    }
    return 0;
}

/* ---- listeners ---- */

static bool valid_host_chars(const char *h, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)h[i];
        if (!isalnum(c) && c != '-' && c != '%' && c != '.' && c != '_' && c != ':')
            return false;
    }
    return true;
}

/* "host:port" or "[v6]:port" -> host, port. 0, FERRY_EINVAL (shape) or FERRY_ERANGE (port). */
static int split_host_port(const char *s, char **host, long *port)
{
    const char *h = s, *colon;
    size_t hn;
    if (*s == '[') {
        const char *close = strchr(s, ']');
        if (!close || close[1] != ':')
            return FERRY_EINVAL;
        h = s + 1;
        hn = (size_t)(close - h);
        colon = close + 1;
    } else {
        colon = strrchr(s, ':');
        if (!colon)
            return FERRY_EINVAL;
        hn = (size_t)(colon - s);
    }
    if (!valid_host_chars(h, hn))
        return FERRY_EINVAL;
    int64_t p;
    int rc = config_parse_i64(colon + 1, INT32_MIN, INT32_MAX, &p);
    if (rc == FERRY_EINVAL || colon[1] == '+' || isspace((unsigned char)colon[1]))
        return FERRY_EINVAL;
    *port = rc == FERRY_ERANGE ? -1 : (long)p;
    if (!(*host = ferry_strndup(h, hn)))
        return FERRY_ENOMEM;
    return *port < 0 || *port > 65535 ? FERRY_ERANGE : 0;
}

static void listener_free(struct config_listener *l)
{
    ferry_free(l->name);
    ferry_free(l->host);
}

static void listeners_free(struct config_listener **arr, size_t *n)
{
    for (size_t i = 0; i < *n; i++)
        listener_free(&(*arr)[i]);
    ferry_free(*arr);
    *arr = NULL;
    *n = 0;
}

static int parse_endpoint(struct ferry_config *cfg, const char *key, const char *text, const char *s,
                          struct config_listener *out, char *err, size_t errlen)
{
    const char *sep = strstr(s, "://");
    if (!sep || sep == s)
        return config_invalid(err, errlen, key, text, "cannot parse '%s' as NAME://host:port", s);
    char *host = NULL;
    long port = 0;
    int rc = split_host_port(sep + 3, &host, &port);
    if (rc == FERRY_ENOMEM)
        return oom(err, errlen);
    if (rc == FERRY_ERANGE) {
        ferry_free(host);
        return config_invalid(err, errlen, key, text, "port of '%s' is out of range 0-65535", s);
    }
    if (rc < 0)
        return config_invalid(err, errlen, key, text, "cannot parse '%s' as NAME://host:port", s);
    char *name = ferry_strndup(s, (size_t)(sep - s));
    if (!name) {
        ferry_free(host);
        return oom(err, errlen);
    }
    upcase(name);
    *out = (struct config_listener){.name = name, .host = host, .port = (uint16_t)port};
    if (config_listener_protocol(cfg, name, &out->protocol) < 0) {
        listener_free(out);
        return config_invalid(err, errlen, key, text,
                              "no security protocol for listener '%.*s' (add it to listener.security.protocol.map)",
                              (int)(sep - s), s);
    }
    return 0;
}

static bool is_ip(const char *h, int family)
{
    unsigned char buf[16];
    return inet_pton(family, h, buf) == 1;
}

/* Kafka: names unique; ports unique except 0 and one IPv4 + one IPv6 literal sharing a port. */
static int check_distinct(const struct config_listener *ls, size_t n, const char *key, const char *text,
                          bool distinct_ports, char *err, size_t errlen)
{
    for (size_t i = 0; i < n; i++) {
        for (size_t j = i + 1; j < n; j++) {
            if (strcmp(ls[i].name, ls[j].name) == 0)
                return config_invalid(err, errlen, key, text, "listener name '%s' appears twice", ls[i].name);
            if (!distinct_ports || ls[i].port == 0 || ls[i].port != ls[j].port)
                continue;
            bool v4v6 = (is_ip(ls[i].host, AF_INET) && is_ip(ls[j].host, AF_INET6)) ||
                        (is_ip(ls[i].host, AF_INET6) && is_ip(ls[j].host, AF_INET));
            size_t same = 0;
            for (size_t m = 0; m < n; m++)
                same += ls[m].port == ls[i].port;
            if (!v4v6 || same > 2)
                return config_invalid(
                    err, errlen, key, text,
                    "port %u is used by two listeners (only an IPv4 and an IPv6 address may share one)",
                    (unsigned)ls[i].port);
        }
    }
    return 0;
}

static int parse_listener_list(struct ferry_config *cfg, const char *key, const char *text, bool distinct_ports,
                               struct config_listener **out, size_t *n_out, char *err, size_t errlen)
{
    struct config_strlist items;
    if (config_split_csv(text, &items) < 0)
        return oom(err, errlen);
    int rc = 0;
    struct config_listener *ls = ferry_calloc(items.count, sizeof *ls);
    size_t n = 0;
    if (!ls)
        rc = oom(err, errlen);
    for (size_t i = 0; i < items.count && rc == 0; i++)
        if ((rc = parse_endpoint(cfg, key, text, items.items[i], &ls[n], err, errlen)) == 0)
            n++;
    if (rc == 0)
        rc = check_distinct(ls, n, key, text, distinct_ports, err, errlen);
    config_strlist_free(&items);
    if (rc < 0) {
        listeners_free(&ls, &n);
        return rc;
    }
    *out = ls;
    *n_out = n;
    return 0;
}

static bool is_controller_name(const struct ferry_config *cfg, const char *name)
{
    for (size_t i = 0; i < cfg->controller_listener_names.count; i++)
        if (strcmp(cfg->controller_listener_names.items[i], name) == 0)
            return true;
    return false;
}

/* advertised.listeners, else listeners minus the controller listeners. 0.0.0.0 is refused as in Kafka; an
 * empty host is replaced by this machine's host name (Kafka uses its canonical host name). */
static int parse_advertised(struct ferry_config *cfg, char *err, size_t errlen)
{
    const char *key = "advertised.listeners";
    const char *text = config_given(cfg, key);
    int rc;
    if (text) {
        rc = parse_listener_list(cfg, key, text, false, &cfg->advertised, &cfg->n_advertised, err, errlen);
        if (rc < 0)
            return rc;
    } else {
        cfg->advertised = ferry_calloc(cfg->n_listeners, sizeof *cfg->advertised);
        if (!cfg->advertised)
            return oom(err, errlen);
        for (size_t i = 0; i < cfg->n_listeners; i++) {
            const struct config_listener *l = &cfg->listeners[i];
            if (is_controller_name(cfg, l->name))
                continue;
            struct config_listener *a = &cfg->advertised[cfg->n_advertised];
            *a = *l;
            a->name = ferry_strdup(l->name);
            a->host = ferry_strdup(l->host);
            cfg->n_advertised++;
            if (!a->name || !a->host)
                return oom(err, errlen);
        }
        text = config_text(cfg, "listeners");
        key = "listeners";
    }
    for (size_t i = 0; i < cfg->n_advertised; i++) {
        struct config_listener *a = &cfg->advertised[i];
        if (strcmp(a->host, "0.0.0.0") == 0 && config_given(cfg, "advertised.listeners"))
            return config_invalid(err, errlen, key, text,
                                  "cannot advertise the non-routable address 0.0.0.0 (listener '%s'); use a routable "
                                  "address",
                                  a->name);
        if (strcmp(a->host, "0.0.0.0") == 0)
            return config_invalid(err, errlen, key, text,
                                  "listener '%s' on 0.0.0.0 would be advertised, but 0.0.0.0 is not routable; set "
                                  "advertised.listeners",
                                  a->name);
        if (a->host[0] == '\0') {
            char name[256] = "localhost";
            if (gethostname(name, sizeof name) < 0 || name[0] == '\0')
                snprintf(name, sizeof name, "localhost");
            name[sizeof name - 1] = '\0';
            char *h = ferry_strdup(name);
            if (!h)
                return oom(err, errlen);
            ferry_free(a->host);
            a->host = h;
        }
    }
    return 0;
}

/* ---- inter-broker listener ---- */

static int parse_inter_broker(struct ferry_config *cfg, char *err, size_t errlen)
{
    const char *name = config_given(cfg, "inter.broker.listener.name");
    if (name && config_given(cfg, "security.inter.broker.protocol"))
        return config_invalid(err, errlen, "inter.broker.listener.name", name,
                              "only one of inter.broker.listener.name and security.inter.broker.protocol may be set");
    const char *chosen = name ? name : cfg->security_inter_broker_protocol;
    if (!(cfg->inter_broker_listener_name = ferry_strdup(chosen)))
        return oom(err, errlen);
    upcase(cfg->inter_broker_listener_name);
    if (config_listener_protocol(cfg, cfg->inter_broker_listener_name, &cfg->inter_broker_protocol) < 0)
        return config_invalid(err, errlen, "inter.broker.listener.name", chosen,
                              "listener '%s' is not in listener.security.protocol.map",
                              cfg->inter_broker_listener_name);
    return 0;
}

/* ---- controller.quorum.voters ---- */

static int parse_voter(const char *key, const char *text, const char *entry, struct config_voter *out, char *err,
                       size_t errlen)
{
    const char *at = strchr(entry, '@');
    if (!at || strchr(at + 1, '@'))
        return config_invalid(err, errlen, key, text, "entry '%s' is not in the form id@host:port", entry);
    char *id_text = ferry_strndup(entry, (size_t)(at - entry));
    if (!id_text)
        return oom(err, errlen);
    int64_t id;
    int rc = config_parse_i64(id_text, INT32_MIN, INT32_MAX, &id);
    ferry_free(id_text);
    if (rc < 0)
        return config_invalid(err, errlen, key, text, "voter id of '%s' is not an integer", entry);
    if (id < 0)
        return config_invalid(err, errlen, key, text, "voter id of '%s' must not be negative", entry);
    char *host = NULL;
    long port = 0;
    rc = split_host_port(at + 1, &host, &port);
    if (rc == FERRY_ENOMEM)
        return oom(err, errlen);
    if (rc == FERRY_ERANGE) {
        ferry_free(host);
        return config_invalid(err, errlen, key, text, "port of '%s' is out of range 0-65535", entry);
    }
    if (rc < 0 || host[0] == '\0') {
        ferry_free(host);
        return config_invalid(err, errlen, key, text, "entry '%s' is not in the form id@host:port", entry);
    }
    *out = (struct config_voter){.id = (int32_t)id, .host = host, .port = (uint16_t)port};
    return 0;
}

static void voters_free(struct ferry_config *cfg)
{
    for (size_t i = 0; i < cfg->n_voters; i++)
        ferry_free(cfg->voters[i].host);
    ferry_free(cfg->voters);
    cfg->voters = NULL;
    cfg->n_voters = 0;
}

static int parse_voters(struct ferry_config *cfg, char *err, size_t errlen)
{
    const char *key = "controller.quorum.voters";
    const char *text = config_text(cfg, key);
    struct config_strlist items;
    if (config_split_csv(text, &items) < 0)
        return oom(err, errlen);
    int rc = 0;
    cfg->voters = ferry_calloc(items.count, sizeof *cfg->voters);
    if (!cfg->voters)
        rc = oom(err, errlen);
    for (size_t i = 0; i < items.count && rc == 0; i++) {
        struct config_voter v;
        if ((rc = parse_voter(key, text, items.items[i], &v, err, errlen)) < 0)
            break;
        cfg->voters[cfg->n_voters++] = v;
        for (size_t j = 0; j + 1 < cfg->n_voters; j++)
            if (cfg->voters[j].id == v.id)
                rc = config_invalid(err, errlen, key, text, "voter id %d appears twice", (int)v.id);
    }
    config_strlist_free(&items);
    return rc;
}

/* The built-in single node: its one voter is itself, at its first controller listener. */
static int builtin_voter(struct ferry_config *cfg, char *err, size_t errlen)
{
    if (config_given(cfg, "controller.quorum.voters") || cfg->controller_listener_names.count == 0)
        return 0;
    const struct config_listener *l = config_listener(cfg, cfg->controller_listener_names.items[0]);
    if (!l)
        return 0; /* reported by config_check */
    const char *host = l->host[0] == '\0' || strcmp(l->host, "0.0.0.0") == 0 ? "127.0.0.1" : l->host;
    bool v6 = strchr(host, ':') != NULL;
    char text[320];
    snprintf(text, sizeof text, "%d@%s%s%s:%u", (int)cfg->node_id, v6 ? "[" : "", host, v6 ? "]" : "",
             (unsigned)l->port);
    int i = config_key_find("controller.quorum.voters");
    if (i < 0 || !(cfg->given[i] = ferry_strdup(text)))
        return oom(err, errlen);
    return 0;
}

int config_net_parse(struct ferry_config *cfg, bool builtin, char *err, size_t errlen)
{
    int rc;
    const char *names = config_text(cfg, "controller.listener.names");
    if (config_split_csv(names ? names : "", &cfg->controller_listener_names) < 0)
        return oom(err, errlen);
    for (size_t i = 0; i < cfg->controller_listener_names.count; i++)
        upcase(cfg->controller_listener_names.items[i]);
    if ((rc = parse_protocol_map(cfg, err, errlen)) < 0)
        return rc;
    if ((rc = map_controller_names(cfg, err, errlen)) < 0)
        return rc;
    if ((rc = parse_listener_list(cfg, "listeners", config_text(cfg, "listeners"), true, &cfg->listeners,
                                  &cfg->n_listeners, err, errlen)) < 0)
        return rc;
    if ((rc = parse_advertised(cfg, err, errlen)) < 0)
        return rc;
    if ((rc = parse_inter_broker(cfg, err, errlen)) < 0)
        return rc;
    if (builtin && (rc = builtin_voter(cfg, err, errlen)) < 0)
        return rc;
    return parse_voters(cfg, err, errlen);
}

void config_net_free(struct ferry_config *cfg)
{
    listeners_free(&cfg->listeners, &cfg->n_listeners);
    listeners_free(&cfg->advertised, &cfg->n_advertised);
    for (size_t i = 0; i < cfg->n_protocol_map; i++)
        ferry_free(cfg->protocol_map[i].listener_name);
    ferry_free(cfg->protocol_map);
    cfg->protocol_map = NULL;
    cfg->n_protocol_map = 0;
    config_strlist_free(&cfg->controller_listener_names);
    ferry_free(cfg->inter_broker_listener_name);
    cfg->inter_broker_listener_name = NULL;
    voters_free(cfg);
}
