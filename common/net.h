/* common/net.h: address lists (CIDRs) and the client address behind trusted proxies.
 *
 * Behind a load balancer every connection comes from the balancer; the client is named by
 * X-Forwarded-For, which anyone can send. So the header is believed only as far as the
 * proxies that wrote it are trusted: walking it from the right (the entry the nearest proxy
 * added), each address that is itself a trusted proxy is skipped, and the first that is not is
 * the client. A client cannot forge past a trusted proxy: whatever it put in the header sits to
 * the left of the address the proxy appended. */
#ifndef STATED_COMMON_NET_H
#define STATED_COMMON_NET_H

#include <stdbool.h>
#include <stddef.h>

#include "common/err.h"

struct net_cidr {
    int family;             /* AF_INET or AF_INET6 */
    unsigned char addr[16]; /* network byte order; 4 bytes used for AF_INET */
    int prefix;             /* 0-32 or 0-128 */
};

struct net_cidrs {
    struct net_cidr *v;
    size_t n;
};

/* Parses "10.0.0.0/8, 192.168.1.7, ::1, fd00::/8" (commas and/or spaces; a bare address is a
 * /32 or /128) into out (net_cidrs_cleanup it). "" is the empty list. ERR_INVALID naming the
 * entry that is not an address or CIDR. */
int net_cidrs_parse(const char *list, struct net_cidrs *out, struct err *err);
void net_cidrs_cleanup(struct net_cidrs *c);
/* Whether the textual address addr (IPv4, IPv6, or IPv4-mapped IPv6) is in one of c's ranges. */
bool net_cidrs_contain(const struct net_cidrs *c, const char *addr);

/* The client address of a request from peer carrying X-Forwarded-For xff (NULL when absent),
 * into out: peer itself unless peer is a trusted proxy, else the right-most xff entry that is
 * not one (an entry that is not an address ends the walk: the proxy before it is the client
 * as far as we can tell). Returns true when out differs from peer (the request came through a
 * proxy). */
bool net_forwarded_client(const struct net_cidrs *trusted, const char *peer, const char *xff,
                          char out[64]);

#endif
