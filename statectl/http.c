/* statectl/http.c: the one place statectl talks HTTP (libcurl easy interface).
 *
 * Requests are small and sequential, so one easy handle per request is enough. The token goes
 * in an Authorization: Bearer header and is never echoed: curl's verbose mode stays off. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <curl/curl.h>

#include "common/util.h"
#include "statectl/statectl.h"

struct recv_ctx {
    struct ctl_resp *r;
    CURL *h;
    FILE *sink;
    bool progress;
    size_t got;
    int64_t last_ms;
    struct err *err;
};

static size_t on_data(char *ptr, size_t size, size_t nmemb, void *userdata)
{
    struct recv_ctx *rc = userdata;
    size_t n = size * nmemb;
    long status = 0;
    curl_easy_getinfo(rc->h, CURLINFO_RESPONSE_CODE, &status);
    if (rc->sink != NULL && status == 200) {
        if (fwrite(ptr, 1, n, rc->sink) != n) {
            err_set_errno(rc->err, ERR_WRITE, errno, "writing output");
            return 0;
        }
        rc->got += n;
        if (rc->progress && mono_ms() - rc->last_ms >= 250) {
            rc->last_ms = mono_ms();
            fprintf(stderr, "\r%zu bytes received", rc->got);
        }
        return n;
    }
    return buf_append(&rc->r->body, ptr, n, rc->err) == 0 ? n : 0;
}

int ctl_request(const struct ctl_conn *c, const char *method, const char *path, const char *body,
                FILE *sink, bool progress, struct ctl_resp *r, struct err *err)
{
    struct recv_ctx rc = {.r = r, .sink = sink, .progress = progress, .err = err};
    struct curl_slist *hdrs = NULL;
    char *url = xasprintf("%s%s", c->url, path);
    char *auth = NULL;
    CURLcode cc;
    int rc_out = -1;
    CURL *h = curl_easy_init();

    r->status = 0;
    buf_init(&r->body, 0);
    if (h == NULL) {
        err_set(err, ERR_INTERNAL, "cannot initialise libcurl");
        goto out;
    }
    rc.h = h;
    rc.last_ms = mono_ms();
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, 10000L);
    if (c->timeout_ms > 0)
        curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, c->timeout_ms);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_data);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &rc);
    curl_easy_setopt(h, CURLOPT_USERAGENT, "statectl");
    if (c->token != NULL && c->token[0] != '\0') {
        auth = xasprintf("Authorization: Bearer %s", c->token);
        hdrs = curl_slist_append(hdrs, auth);
    }
    if (body != NULL) {
        hdrs = curl_slist_append(hdrs, "Content-Type: application/json");
        curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
        curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE, (long)strlen(body));
    } else if (strcmp(method, "GET") != 0) {
        curl_easy_setopt(h, CURLOPT_POSTFIELDS, "");
        curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE, 0L);
    }
    if (strcmp(method, "GET") == 0)
        curl_easy_setopt(h, CURLOPT_HTTPGET, 1L);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs);
    if (c->cacert != NULL)
        curl_easy_setopt(h, CURLOPT_CAINFO, c->cacert);
    if (c->cert != NULL)
        curl_easy_setopt(h, CURLOPT_SSLCERT, c->cert);
    if (c->key != NULL)
        curl_easy_setopt(h, CURLOPT_SSLKEY, c->key);

    cc = curl_easy_perform(h);
    if (progress && rc.got > 0)
        fprintf(stderr, "\r%zu bytes received\n", rc.got);
    if (err->code != ERR_OK)
        goto out; /* the sink failed */
    if (cc != CURLE_OK) {
        err_set(err, ERR_UNAVAILABLE, "cannot reach %s: %s", c->url, curl_easy_strerror(cc));
        goto out;
    }
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &r->status);
    rc_out = 0;
out:
    if (auth != NULL) {
        memset(auth, 0, strlen(auth)); /* do not leave the token in freed memory */
        free(auth);
    }
    curl_slist_free_all(hdrs);
    if (h != NULL)
        curl_easy_cleanup(h);
    free(url);
    return rc_out;
}

void ctl_resp_cleanup(struct ctl_resp *r)
{
    buf_cleanup(&r->body);
}

char *ctl_query_escape(const char *s)
{
    static const char hex[] = "0123456789ABCDEF";
    size_t n = strlen(s);
    char *out = xmalloc(3 * n + 1), *p = out;
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)s[i];
        if ((ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') ||
            ch == '-' || ch == '_' || ch == '.' || ch == '~' || ch == '/') {
            *p++ = (char)ch;
        } else {
            *p++ = '%';
            *p++ = hex[ch >> 4];
            *p++ = hex[ch & 15];
        }
    }
    *p = '\0';
    return out;
}

static const char *str_or(json_t *j, const char *key)
{
    const char *s = json_string_value(json_object_get(j, key));
    return s != NULL ? s : "?";
}

int ctl_report_http(const struct ctl_resp *r, const char *what)
{
    const char *code = "", *msg = NULL;
    json_t *j = NULL;
    int ex;

    if (r->body.len > 0)
        j = json_loadb(r->body.data, r->body.len, 0, NULL);
    if (j != NULL && json_is_object(j)) {
        code = json_string_value(json_object_get(j, "code"));
        msg = json_string_value(json_object_get(j, "message"));
        if (code == NULL)
            code = "";
    }
    switch (r->status) {
    case 401:
    case 403:
        ex = CTL_EXIT_DENIED;
        break;
    case 404:
        ex = CTL_EXIT_NOT_FOUND;
        break;
    case 409:
    case 423:
        ex = CTL_EXIT_CONFLICT;
        if (code[0] == '\0')
            code = err_infra_code(ERR_LOCKED);
        break;
    default:
        ex = CTL_EXIT_ERROR;
    }
    if (r->status == 423 && j != NULL && json_object_get(j, "ID") != NULL) {
        /* A lock conflict answers with the holder's lock info, as for Terraform clients. */
        fprintf(stderr, "statectl: %s: %s: locked by ID %s (who %s, since %s)\n", what, code,
                str_or(j, "ID"), str_or(j, "Who"), str_or(j, "Created"));
    } else {
        fprintf(stderr, "statectl: %s: %s%sHTTP %ld%s%s\n", what, code, code[0] ? ": " : "",
                r->status, msg ? ": " : "", msg ? msg : "");
    }
    json_decref(j);
    return ex;
}

json_t *ctl_resp_json(const struct ctl_resp *r)
{
    json_error_t je;
    json_t *j = json_loadb(r->body.data ? r->body.data : "", r->body.len, 0, &je);
    if (j == NULL)
        fprintf(stderr, "statectl: the server's answer is not JSON: %s\n", je.text);
    return j;
}
