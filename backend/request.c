/* backend/request.c: reading a request: query parameters, who is asking, and how it is shown
 * in the log. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backend/backend_int.h"
#include "common/util.h"

/* Percent-decodes [s, s+n) into a new string; '+' is a space (form encoding, as Go's
 * url.Values.Encode produces). A '%' not followed by two hex digits is kept as is. */
static char *pct_decode(const char *s, size_t n)
{
    char *out = xmalloc(n + 1);
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        int hi = i + 2 < n ? hex_value((unsigned char)s[i + 1]) : -1;
        int lo = i + 2 < n ? hex_value((unsigned char)s[i + 2]) : -1;
        if (s[i] == '%' && hi >= 0 && lo >= 0) {
            out[o++] = (char)(hi * 16 + lo);
            i += 2;
        } else if (s[i] == '+') {
            out[o++] = ' ';
        } else {
            out[o++] = s[i];
        }
    }
    out[o] = '\0';
    return out;
}

char *backend_query_param(const char *query, const char *key)
{
    if (query == NULL)
        return NULL;
    const char *p = query;
    while (*p != '\0') {
        const char *amp = strchr(p, '&');
        size_t plen = amp != NULL ? (size_t)(amp - p) : strlen(p);
        const char *eq = memchr(p, '=', plen);
        size_t klen = eq != NULL ? (size_t)(eq - p) : plen;
        char *k = pct_decode(p, klen);
        bool match = strcmp(k, key) == 0;
        free(k);
        if (match)
            return eq != NULL ? pct_decode(eq + 1, plen - klen - 1) : xstrdup("");
        if (amp == NULL)
            break;
        p = amp + 1;
    }
    return NULL;
}

char *backend_query_nonempty(const struct backend_req *r, const char *key)
{
    char *v = backend_query_param(r->query, key);
    if (v != NULL && v[0] == '\0') {
        free(v);
        v = NULL;
    }
    return v;
}

struct op_actor backend_actor(const struct backend_req *r)
{
    return (struct op_actor){.who = r->authenticated ? &r->who : NULL,
                             .request_id = r->request_id,
                             .remote = r->remote,
                             .peer = r->peer};
}

void backend_remote_text(const struct sockaddr *sa, socklen_t len, char out[64])
{
    out[0] = '\0';
    if (len == 0)
        return;
    if (sa->sa_family == AF_INET)
        inet_ntop(AF_INET, &((const struct sockaddr_in *)sa)->sin_addr, out, 64);
    else if (sa->sa_family == AF_INET6)
        inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)sa)->sin6_addr, out, 64);
}

void backend_log_name(struct backend_req *r, const char *path)
{
    size_t o = 0, cap = sizeof(r->log_name);
    for (const unsigned char *p = (const unsigned char *)path; *p != '\0' && o + 5 < cap; p++) {
        if (*p > 0x20 && *p < 0x7f && *p != '\\')
            r->log_name[o++] = (char)*p;
        else
            o += (size_t)snprintf(r->log_name + o, cap - o, "\\x%02x", *p);
    }
    r->log_name[o] = '\0';
}
