/* tests/unit/test_statediff.c: the value-level diff, the outputs view, the sensitive-path rule
 * and the byte-preserving redaction that shares it (common/statediff.h, statejson_redact). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "common/statediff.h"
#include "common/statejson.h"
#include "common/util.h"
#include "tests/unit/t.h"

/* A state from a JSON text with single quotes for double quotes (readable literals). */
static char *q(const char *s)
{
    char *t = xstrdup(s);
    for (char *p = t; *p; p++)
        if (*p == '\'')
            *p = '"';
    return t;
}

static json_t *load(const char *text)
{
    struct err e = {0};
    char *s = q(text);
    json_t *j = statediff_load(s, strlen(s), "test", &e);
    free(s);
    return j;
}

static json_t *diff_of(const char *a, const char *b)
{
    json_t *ja = load(a), *jb = load(b);
    json_t *d = ja != NULL && jb != NULL ? statediff_compute(ja, jb) : NULL;
    json_decref(ja);
    json_decref(jb);
    return d;
}

/* The diff as compact JSON text with single quotes, for exact comparisons. */
static char *text_of(json_t *v)
{
    char *s = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
    for (char *p = s; p != NULL && *p; p++)
        if (*p == '"')
            *p = '\'';
    return s;
}

#define STATE(outputs, resources)                                                                  \
    "{'version':4,'serial':1,'lineage':'L','outputs':{" outputs "},'resources':[" resources "]}"
#define RES(type, name, insts)                                                                     \
    "{'mode':'managed','type':'" type "','name':'" name "','provider':'p','instances':[" insts "]" \
    "}"

static void check_diff(const char *a, const char *b, const char *want)
{
    json_t *d = diff_of(a, b);
    char *got = text_of(d);
    CHECK_STR(got, want);
    free(got);
    json_decref(d);
}

static void test_nested_attribute(void)
{
    check_diff(STATE("", RES("x", "a", "{'attributes':{'id':'1','tags':{'env':'dev','k':1}}}")),
               STATE("", RES("x", "a", "{'attributes':{'id':'1','tags':{'env':'prod','o':2}}}")),
               "{'resources':[{'address':'x.a','action':'changed','attributes':["
               "{'path':'tags.env','action':'changed','old':'dev','new':'prod'},"
               "{'path':'tags.k','action':'removed','old':1},"
               "{'path':'tags.o','action':'added','new':2}]}],'outputs':[]}");
    /* A key that is not an identifier is quoted; a type change is one entry. */
    check_diff(STATE("", RES("x", "a", "{'attributes':{'m':{'a b':1},'v':[1]}}")),
               STATE("", RES("x", "a", "{'attributes':{'m':{'a b':2},'v':'s'}}")),
               "{'resources':[{'address':'x.a','action':'changed','attributes':["
               "{'path':'m[\\'a b\\']','action':'changed','old':1,'new':2},"
               "{'path':'v','action':'changed','old':[1],'new':'s'}]}],'outputs':[]}");
}

static void test_list_element(void)
{
    check_diff(STATE("", RES("x", "a", "{'attributes':{'ingress':[{'port':80},{'port':443}]}}")),
               STATE("", RES("x", "a",
                             "{'attributes':{'ingress':[{'port':80},{'port':8443},{'port':1}]}}")),
               "{'resources':[{'address':'x.a','action':'changed','attributes':["
               "{'path':'ingress[1].port','action':'changed','old':443,'new':8443},"
               "{'path':'ingress[2]','action':'added','new':{'port':1}}]}],'outputs':[]}");
}

static void test_instances_added_removed(void)
{
    const char *a = STATE(
        "", RES("x", "keep", "{'attributes':{'id':'1'}}") "," RES(
                "x", "many",
                "{'index_key':0,'attributes':{'id':'a'}},"
                "{'index_key':1,'attributes':{'id':'b'}}") ","
                                                           "{'module':'module.net','mode':'data','"
                                                           "type':'z','name':'d',"
                                                           "'instances':[{'attributes':{}}]}");
    const char *b =
        STATE("", RES("x", "keep", "{'attributes':{'id':'1'}}") "," RES(
                      "x", "many",
                      "{'index_key':0,'attributes':{'id':'a'}}") "," RES("x", "keyed",
                                                                         "{'index_key':'eu-1','"
                                                                         "attributes':{}}"));
    check_diff(a, b,
               "{'resources':[{'address':'module.net.data.z.d','action':'removed'},"
               "{'address':'x.keyed[\\'eu-1\\']','action':'added'},"
               "{'address':'x.many[1]','action':'removed'}],'outputs':[]}");
    check_diff(a, a, "{'resources':[],'outputs':[]}");
}

static void test_sensitive_output(void)
{
    check_diff(STATE("'pw':{'value':'old-secret','type':'string','sensitive':true},"
                     "'e':{'value':'dev','type':'string'},'gone':{'value':1,'type':'number'}",
                     ""),
               STATE("'pw':{'value':'new-secret','type':'string','sensitive':true},"
                     "'e':{'value':'prod','type':'string'},"
                     "'s':{'value':'added-secret','type':'string','sensitive':true}",
                     ""),
               "{'resources':[],'outputs':["
               "{'name':'e','action':'changed','old':'dev','new':'prod'},"
               "{'name':'gone','action':'removed','old':1},"
               "{'name':'pw','action':'changed','sensitive':true},"
               "{'name':'s','action':'added','sensitive':true}]}");
    /* Only the flag changed: still masked (it was sensitive on one side). */
    check_diff(STATE("'pw':{'value':'x','sensitive':true}", ""),
               STATE("'pw':{'value':'x','sensitive':false}", ""),
               "{'resources':[],'outputs':[{'name':'pw','action':'changed','sensitive':true}]}");
}

/* terraform 1.11 writes terraform_data's input as {"value":…,"type":…} and its sensitive path
 * without the "value" step. */
#define SENS_INGRESS                                                                               \
    "'sensitive_attributes':[[{'type':'get_attr','value':'input'},"                                \
    "{'type':'get_attr','value':'ingress'},"                                                       \
    "{'type':'index','value':{'value':0,'type':'number'}},"                                        \
    "{'type':'get_attr','value':'secret'}]]"

static void test_sensitive_attribute_in_list(void)
{
    const char *a = STATE(
        "", RES("terraform_data", "t",
                "{'attributes':{'input':{'value':{'ingress':[{'port':80,"
                "'secret':'S1'},{'port':1,'secret':'x'}]},'type':'dynamic'}}," SENS_INGRESS "}"));
    const char *b = STATE(
        "", RES("terraform_data", "t",
                "{'attributes':{'input':{'value':{'ingress':[{'port':81,"
                "'secret':'S2'},{'port':1,'secret':'y'}]},'type':'dynamic'}}," SENS_INGRESS "}"));
    json_t *d = diff_of(a, b);
    char *got = text_of(d);
    CHECK_STR(got, "{'resources':[{'address':'terraform_data.t','action':'changed','attributes':["
                   "{'path':'input.value.ingress[0].port','action':'changed','old':80,'new':81},"
                   "{'path':'input.value.ingress[0].secret','action':'changed','sensitive':true},"
                   "{'path':'input.value.ingress[1].secret','action':'changed','old':'x',"
                   "'new':'y'}]}],'outputs':[]}");
    CHECK(strstr(got, "S1") == NULL && strstr(got, "S2") == NULL);
    free(got);
    json_decref(d);
    /* A whole list added that holds a sensitive element is masked whole. */
    const char *c =
        STATE("", RES("terraform_data", "t",
                      "{'attributes':{'input':{'value':{},'type':'dynamic'}}," SENS_INGRESS "}"));
    d = diff_of(c, b);
    got = text_of(d);
    CHECK(strstr(got, "'path':'input.value.ingress','action':'added','sensitive':true") != NULL);
    CHECK(strstr(got, "S2") == NULL);
    free(got);
    json_decref(d);
}

static void test_sensitivity_rule(void)
{
    json_t *sens;
    struct statediff_step tags = {.key = "tags", .key_len = 4};
    struct statediff_step k = {.key = "k", .key_len = 1}, other = {.key = "j", .key_len = 1};
    struct statediff_step p1[] = {tags}, p2[] = {tags, k}, p3[] = {tags, other};
    struct statediff_step p4[] = {tags, k, {.index = 3, .is_index = true}};
    sens = json_loads("[[{\"type\":\"get_attr\",\"value\":\"tags\"},{\"type\":\"index\","
                      "\"value\":{\"value\":\"k\",\"type\":\"string\"}}]]",
                      0, NULL);
    CHECK_INT(statediff_sensitivity(sens, p1, 0), STATEDIFF_CONTAINS);
    CHECK_INT(statediff_sensitivity(sens, p1, 1), STATEDIFF_CONTAINS);
    CHECK_INT(statediff_sensitivity(sens, p2, 2), STATEDIFF_WITHIN);
    CHECK_INT(statediff_sensitivity(sens, p3, 2), STATEDIFF_CLEAR);
    CHECK_INT(statediff_sensitivity(sens, p4, 3), STATEDIFF_WITHIN);
    CHECK_INT(statediff_sensitivity(NULL, p2, 2), STATEDIFF_CLEAR);
    json_decref(sens);
    /* An unknown step shape matches anything: masks more, never less. */
    sens = json_loads("[[{\"type\":\"future_step\"}]]", 0, NULL);
    CHECK_INT(statediff_sensitivity(sens, p3, 1), STATEDIFF_WITHIN);
    json_decref(sens);
}

static void test_refused(void)
{
    struct err e = {0};
    const char *enc = "{\"serial\":2,\"lineage\":\"L\",\"meta\":{},\"encrypted_data\":\"AAAA\","
                      "\"encryption_version\":\"v0\"}";
    CHECK(statediff_load(enc, strlen(enc), "version B", &e) == NULL);
    CHECK_INT(e.code, ERR_INVALID);
    CHECK(strstr(e.msg, "version B is encrypted") != NULL);
    err_clear(&e);
    CHECK(statediff_load("{\"serial\":", 10, "A", &e) == NULL);
    CHECK_INT(e.code, ERR_INVALID);
    CHECK(strstr(e.msg, "not a readable JSON state") != NULL);
    err_clear(&e);
    CHECK(statediff_load("[1]", 3, "A", &e) == NULL);
    CHECK_INT(e.code, ERR_INVALID);
    err_clear(&e);
    const char *dup = "{\"outputs\":{\"a\":{\"sensitive\":true,\"sensitive\":false}}}";
    CHECK(statediff_load(dup, strlen(dup), "A", &e) == NULL);
    CHECK_INT(e.code, ERR_INVALID);
}

static void test_outputs_view(void)
{
    json_t *s = load(STATE("'a':{'value':[1,2],'type':['list','number']},"
                           "'pw':{'value':'hunter2','type':'string','sensitive':true}",
                           ""));
    json_t *o = statediff_outputs(s);
    char *got = text_of(o);
    CHECK_STR(got, "{'a':{'value':[1,2],'type':['list','number'],'sensitive':false},"
                   "'pw':{'value':null,'type':'string','sensitive':true}}");
    free(got);
    json_decref(o);
    json_decref(s);
}

/* Nesting past STATEDIFF_DEPTH_MAX is compared as one subtree. */
static void test_deep_nesting(void)
{
    struct buf a, b;
    struct err e = {0};
    buf_init(&a, 0);
    buf_init(&b, 0);
    for (int side = 0; side < 2; side++) {
        struct buf *s = side == 0 ? &a : &b;
        buf_append_str(s,
                       "{\"serial\":1,\"lineage\":\"L\",\"resources\":[{\"type\":\"x\","
                       "\"name\":\"d\",\"instances\":[{\"attributes\":",
                       &e);
        for (int i = 0; i < 200; i++)
            buf_append_str(s, "{\"k\":", &e);
        buf_append_str(s, side == 0 ? "1" : "2", &e);
        for (int i = 0; i < 200; i++)
            buf_append_str(s, "}", &e);
        buf_append_str(s, "}]}]}", &e);
    }
    json_t *ja = statediff_load(a.data, a.len, "A", &e),
           *jb = statediff_load(b.data, b.len, "B", &e);
    CHECK(ja != NULL && jb != NULL);
    json_t *d = statediff_compute(ja, jb);
    json_t *attrs =
        json_object_get(json_array_get(json_object_get(d, "resources"), 0), "attributes");
    CHECK_INT(json_array_size(attrs), 1);
    const char *path = json_string_value(json_object_get(json_array_get(attrs, 0), "path"));
    CHECK(path != NULL && strlen(path) == STATEDIFF_DEPTH_MAX * 2 - 1); /* k.k.….k */
    json_decref(d);
    json_decref(ja);
    json_decref(jb);
    buf_cleanup(&a);
    buf_cleanup(&b);
}

/* 20000 instances on each side, one changed: matched by address after sorting. */
static void test_many_instances(void)
{
    struct buf a, b;
    struct err e = {0};
    buf_init(&a, 0);
    buf_init(&b, 0);
    for (int side = 0; side < 2; side++) {
        struct buf *s = side == 0 ? &a : &b;
        buf_append_str(s,
                       "{\"serial\":1,\"lineage\":\"L\",\"resources\":[{\"type\":\"x\","
                       "\"name\":\"n\",\"instances\":[",
                       &e);
        for (int i = 0; i < 20000; i++)
            buf_printf(s, &e, "%s{\"index_key\":\"k%d\",\"attributes\":{\"v\":%d}}", i ? "," : "",
                       (i * 7919) % 20000, side == 1 && i == 123 ? -1 : i);
        buf_append_str(s, "]}]}", &e);
    }
    json_t *ja = statediff_load(a.data, a.len, "A", &e),
           *jb = statediff_load(b.data, b.len, "B", &e);
    json_t *d = statediff_compute(ja, jb);
    json_t *res = json_object_get(d, "resources");
    CHECK_INT(json_array_size(res), 1);
    char want[64];
    snprintf(want, sizeof(want), "x.n[\"k%d\"]", (123 * 7919) % 20000);
    CHECK_STR(json_string_value(json_object_get(json_array_get(res, 0), "address")), want);
    json_decref(d);
    json_decref(ja);
    json_decref(jb);
    buf_cleanup(&a);
    buf_cleanup(&b);
}

static void check_redact(const char *in_text, const char *want_text)
{
    struct buf out;
    struct err e = {0};
    char *in = q(in_text), *want = q(want_text);
    buf_init(&out, 0);
    CHECK_INT(statejson_redact(in, strlen(in), &out, &e), 0);
    CHECK_STR(out.data, want);
    buf_cleanup(&out);
    free(in);
    free(want);
}

static void test_redact(void)
{
    /* Formatting, number spellings and key order are kept; only the values go. */
    check_redact("{ 'version': 4, 'serial': 1, 'lineage': 'L',\n"
                 "  'outputs': { 'pw': { 'value': {'a': [1.50, 2e3]}, 'sensitive': true },\n"
                 "               'e': { 'value': 'dev', 'sensitive': false } },\n"
                 "  'resources': [ " RES("terraform_data", "t",
                                         "{'attributes':{'input':{'value':{'ingress':[{'port':80,"
                                         "'secret':'S1'},{'port':1,'secret':'x'}]},'type':"
                                         "'dynamic'},'n':3.10}," SENS_INGRESS "}") " ] }",
                 "{ 'version': 4, 'serial': 1, 'lineage': 'L',\n"
                 "  'outputs': { 'pw': { 'value': '(sensitive)', 'sensitive': true },\n"
                 "               'e': { 'value': 'dev', 'sensitive': false } },\n"
                 "  'resources': [ " RES("terraform_data", "t",
                                         "{'attributes':{'input':{'value':{'ingress':[{'port':80,"
                                         "'secret':'(sensitive)'},{'port':1,'secret':'x'}]},"
                                         "'type':'dynamic'},'n':3.10}," SENS_INGRESS "}") " ] }");
    /* A key written with an escape is the same key; a map key by a string index step. */
    check_redact(STATE("", RES("x", "a",
                               "{'sensitive_attributes':[[{'type':'get_attr','value':'tags'},"
                               "{'type':'index','value':{'value':'tok','type':'string'}}]],"
                               "'attributes':{'tags':{'t\\u006fk':'S','other':'o'}}}")),
                 STATE("", RES("x", "a",
                               "{'sensitive_attributes':[[{'type':'get_attr','value':'tags'},"
                               "{'type':'index','value':{'value':'tok','type':'string'}}]],"
                               "'attributes':{'tags':{'t\\u006fk':'(sensitive)','other':'o'}}}")));
    /* Nothing sensitive: the same bytes. */
    check_redact(STATE("'e':{'value':1}", RES("x", "a",
                                              "{'attributes':{'id':'1'},"
                                              "'sensitive_attributes':[]}")),
                 STATE("'e':{'value':1}", RES("x", "a",
                                              "{'attributes':{'id':'1'},"
                                              "'sensitive_attributes':[]}")));
}

/* What cannot be read is masked: sensitive_attributes of an unknown shape hide every attribute,
 * a sensitive path running below a scalar hides the scalar, an unknown output flag hides the
 * value. */
static void test_redact_unknown_shapes(void)
{
    check_redact(
        STATE("'o':{'value':'S','sensitive':'yes'}",
              RES("x", "a", "{'attributes':{'id':'1'},'sensitive_attributes':{}}") "," RES(
                  "x", "b",
                  "{'attributes':{'p':'S'},'sensitive_attributes':"
                  "[[{'type':'get_attr','value':'p'},"
                  "{'type':'get_attr','value':'deeper'}]]}")),
        STATE("'o':{'value':'(sensitive)','sensitive':'yes'}",
              RES("x", "a", "{'attributes':'(sensitive)','sensitive_attributes':{}}") "," RES(
                  "x", "b",
                  "{'attributes':{'p':'(sensitive)'},'sensitive_attributes':"
                  "[[{'type':'get_attr','value':'p'},"
                  "{'type':'get_attr','value':'deeper'}]]}")));
    json_t *d =
        diff_of(STATE("", RES("x", "a", "{'attributes':{'id':'S1'},'sensitive_attributes':1}")),
                STATE("", RES("x", "a", "{'attributes':{'id':'S2'},'sensitive_attributes':1}")));
    char *got = text_of(d);
    CHECK(strstr(got, "'path':'id','action':'changed','sensitive':true") != NULL);
    free(got);
    json_decref(d);
}

static void test_redact_refused(void)
{
    struct buf out;
    struct err e = {0};
    buf_init(&out, 0);
    const char *enc = "{\"serial\":2,\"lineage\":\"L\",\"encrypted_data\":\"AAAA\","
                      "\"encryption_version\":\"v0\"}";
    CHECK_INT(statejson_redact(enc, strlen(enc), &out, &e), -1);
    CHECK(strstr(e.msg, "encrypted") != NULL);
    err_clear(&e);
    CHECK_INT(statejson_redact("{\"serial\":1", 11, &out, &e), -1);
    CHECK_INT(e.code, ERR_INVALID);
    err_clear(&e);
    char *dup = q(STATE("'pw':{'value':'S','sensitive':false,'sensitive':true}", ""));
    CHECK_INT(statejson_redact(dup, strlen(dup), &out, &e), -1);
    CHECK_INT(e.code, ERR_INVALID);
    CHECK_INT(out.len, 0);
    free(dup);
    buf_cleanup(&out);
}

int main(void)
{
    RUN(test_nested_attribute);
    RUN(test_list_element);
    RUN(test_instances_added_removed);
    RUN(test_sensitive_output);
    RUN(test_sensitive_attribute_in_list);
    RUN(test_sensitivity_rule);
    RUN(test_refused);
    RUN(test_outputs_view);
    RUN(test_deep_nesting);
    RUN(test_many_instances);
    RUN(test_redact);
    RUN(test_redact_unknown_shapes);
    RUN(test_redact_refused);
    return t_report();
}
