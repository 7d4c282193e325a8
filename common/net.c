/* common/net.c: see net.h. */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "common/net.h"
#include "common/util.h"

/* addr as family and bytes; an IPv4-mapped IPv6 address is taken as the IPv4 one. */
static bool parse_addr(const char *s, int *family, unsigned char out[16])
{
    if (inet_pton(AF_INET, s, out) == 1) {
        *family = AF_INET;
        return true;
    }
    if (inet_pton(AF_INET6, s, out) != 1)
        return false;
    static const unsigned char mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    if (memcmp(out, mapped, 12) == 0) {
        memmove(out, out + 12, 4);
        *family = AF_INET;
    } else {
        *family = AF_INET6;
    }
    return true;
}

static int parse_entry(const char *s, struct net_cidr *c, struct err *err)
{
    char a[64];
    const char *slash = strchr(s, '/');
    size_t alen = slash != NULL ? (size_t)(slash - s) : strlen(s);
    if (alen == 0 || alen >= sizeof(a))
        return err_set(err, ERR_INVALID, "'%.64s' is not an address or CIDR", s);
    memcpy(a, s, alen);
    a[alen] = '\0';
    memset(c, 0, sizeof(*c));
    if (!parse_addr(a, &c->family, c->addr))
        return err_set(err, ERR_INVALID, "'%.64s' is not an address or CIDR", s);
    int max = c->family == AF_INET ? 32 : 128;
    c->prefix = max;
    if (slash != NULL) {
        char *end;
        long p = strtol(slash + 1, &end, 10);
        if (slash[1] == '\0' || *end != '\0' || p < 0 || p > max)
            return err_set(err, ERR_INVALID, "'%.64s': the prefix length must be 0-%d", s, max);
        c->prefix = (int)p;
    }
    return 0;
}

int net_cidrs_parse(const char *list, struct net_cidrs *out, struct err *err)
{
    memset(out, 0, sizeof(*out));
    const char *p = list != NULL ? list : "";
    while (*p != '\0') {
        size_t skip = strspn(p, ", \t"), len;
        p += skip;
        len = strcspn(p, ", \t");
        if (len == 0)
            break;
        char entry[80];
        snprintf(entry, sizeof(entry), "%.*s", (int)(len < 79 ? len : 79), p);
        struct net_cidr c;
        if (len >= sizeof(entry) || parse_entry(entry, &c, err) != 0) {
            if (len >= sizeof(entry))
                err_set(err, ERR_INVALID, "'%.64s…' is not an address or CIDR", entry);
            net_cidrs_cleanup(out);
            return -1;
        }
        out->v = xrealloc(out->v, (out->n + 1) * sizeof(*out->v));
        out->v[out->n++] = c;
        p += len;
    }
    return 0;
}

void net_cidrs_cleanup(struct net_cidrs *c)
{
    free(c->v);
    c->v = NULL;
    c->n = 0;
}

static bool in_range(const struct net_cidr *c, int family, const unsigned char *a)
{
    if (c->family != family)
        return false;
    int full = c->prefix / 8, rest = c->prefix % 8;
    if (memcmp(c->addr, a, (size_t)full) != 0)
        return false;
    if (rest == 0)
        return true;
    unsigned char mask = (unsigned char)(0xff << (8 - rest));
    return (c->addr[full] & mask) == (a[full] & mask);
}

bool net_cidrs_contain(const struct net_cidrs *c, const char *addr)
{
    int family;
    unsigned char a[16];
    if (addr == NULL || !parse_addr(addr, &family, a))
        return false;
    for (size_t i = 0; i < c->n; i++)
        if (in_range(&c->v[i], family, a))
            return true;
    return false;
}

/* The last comma-separated entry of s[0..len), trimmed, into out; its start in *start. */
static bool last_entry(const char *s, size_t len, size_t *start, char out[64])
{
    size_t end = len;
    while (end > 0 && (s[end - 1] == ' ' || s[end - 1] == '\t'))
        end--;
    size_t b = end;
    while (b > 0 && s[b - 1] != ',')
        b--;
    *start = b > 0 ? b - 1 : 0;
    while (b < end && (s[b] == ' ' || s[b] == '\t'))
        b++;
    if (b >= end || end - b >= 64)
        return false;
    memcpy(out, s + b, end - b);
    out[end - b] = '\0';
    return true;
}

bool net_forwarded_client(const struct net_cidrs *trusted, const char *peer, const char *xff,
                          char out[64])
{
    snprintf(out, 64, "%s", peer);
    if (xff == NULL || !net_cidrs_contain(trusted, peer))
        return false;
    size_t len = strlen(xff);
    char entry[64];
    while (len > 0) {
        size_t start;
        if (!last_entry(xff, len, &start, entry))
            break;
        int family;
        unsigned char a[16];
        if (!parse_addr(entry, &family, a))
            break;
        snprintf(out, 64, "%s", entry);
        if (!net_cidrs_contain(trusted, entry))
            break;
        len = start;
    }
    return strcmp(out, peer) != 0;
}
