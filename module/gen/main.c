/* module/gen/main.c: the stackgen command line.
 *
 *   stackgen validate STACK.json [-q]
 *   stackgen render STACK.json -o DIR [--format tofu|terragrunt] [--backend-url URL]
 *                   [--modules-dir DIR | --module-source PREFIX] [-q]
 *   stackgen --help | --version
 *
 * Success is reported on stdout (validate: one line; render: a line per file written or module
 * copied, then one line), problems on stderr: nothing stackgen renders goes to stdout, so stdout
 * is free for the report, and scripts can keep the two apart. --quiet drops the report.
 * Exit status: 0 success, 1 invalid stack (every problem on stderr, one INFRA_001 line each)
 * or a failed write, 2 usage error. */
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/file.h"
#include "common/util.h"
#include "common/version.h"
#include "module/gen/stackgen.h"

#define DEFAULT_BACKEND_URL "http://127.0.0.1:8080"

static void usage(FILE *f)
{
    fputs(
        "usage: stackgen validate STACK.json [-q]\n"
        "       stackgen render STACK.json -o DIR [--format tofu|terragrunt]\n"
        "                       [--backend-url URL] [--modules-dir DIR | --module-source PREFIX]\n"
        "                       [-q]\n"
        "       stackgen --help | --version\n"
        "\n"
        "validate  check a stack description; every problem is printed as\n"
        "          \"INFRA_001 <json path>: <message>\" on stderr (exit 1); a valid stack\n"
        "          gets one line on stdout: stack \"NAME\" (ENV): valid, N components: ...\n"
        "render    validate, then write an OpenTofu root (--format tofu, the default) or a\n"
        "          Terragrunt tree (--format terragrunt) to DIR, with backend \"http\" pointing\n"
        "          at stated, and a copy of the used modules under DIR/modules/ unless\n"
        "          --module-source names where they are; stdout lists each file written and\n"
        "          module copied, then stack \"NAME\" (ENV): rendered as FORMAT in DIR, ...\n"
        "\n"
        "  -o, --output DIR       output directory (created if missing; files are overwritten)\n"
        "  -f, --format FORMAT    tofu (default) or terragrunt\n"
        "  -b, --backend-url URL  base URL of stated (default " DEFAULT_BACKEND_URL ");\n"
        "                         states are URL/v1/states/<stack>/<environment>[/<unit>]\n"
        "  -m, --modules-dir DIR  module sources (default: $STACKGEN_MODULES_DIR, then\n"
        "                         module/scaleway next to the build, then\n"
        "                         ../share/stated/scaleway next to the binary)\n"
        "  -s, --module-source PREFIX\n"
        "                         call the modules where they are instead of copying them:\n"
        "                         a path relative to DIR starting with ./ or ../ (such as\n"
        "                         ../../module/scaleway), or a remote source such as\n"
        "                         git::https://HOST/stated.git//module/scaleway?ref=vX.Y.Z;\n"
        "                         /<component> is added to its path, before any ?query\n"
        "  -q, --quiet            print nothing on success (problems still go to stderr)\n"
        "  -h, --help             this help\n"
        "  -V, --version          print \"stackgen VERSION\" and exit\n"
        "\n"
        "Credentials never go into the files: use TF_HTTP_USERNAME/TF_HTTP_PASSWORD for\n"
        "stated, SCW_ACCESS_KEY/SCW_SECRET_KEY for Scaleway, and TF_VAR_secret_values\n"
        "(tofu) or STACK_SECRET_VALUES (terragrunt) for secret values.\n"
        "Exit status: 0 success, 1 invalid stack or write failure, 2 usage error.\n",
        f);
}

static bool is_dir(const char *p)
{
    struct stat st;
    return stat(p, &st) == 0 && S_ISDIR(st.st_mode);
}

/* The module sources: next to a build tree (build/bin/../../module/scaleway) or an install
 * (bin/../share/stated/scaleway). Returns a malloc'd path or NULL. */
static char *find_modules_dir(void)
{
    const char *env = getenv("STACKGEN_MODULES_DIR");
    if (env && *env)
        return xstrdup(env);
    char exe[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
    if (n <= 0)
        return NULL;
    exe[n] = '\0';
    char *slash = strrchr(exe, '/');
    if (!slash)
        return NULL;
    *slash = '\0';
    static const char *const rel[] = {"/../../module/scaleway", "/../share/stated/scaleway"};
    for (size_t i = 0; i < sizeof(rel) / sizeof(rel[0]); i++) {
        char *p = xasprintf("%s%s", exe, rel[i]);
        if (is_dir(p))
            return p;
        free(p);
    }
    return NULL;
}

/* Writes a report to stdout unless quiet, and frees it. */
static void print_report(struct buf *report, bool quiet)
{
    if (!quiet && report->len)
        fwrite(report->data, 1, report->len, stdout);
    buf_cleanup(report);
}

/* Loads and validates; prints every problem. Returns the stack or NULL (exit status in *rc). */
static struct stack *load(const char *path, int *rc)
{
    struct buf text, errors;
    buf_init(&text, 0);
    buf_init(&errors, 0);
    struct err e = {0};
    if (file_read(path, &text, &e) != 0) {
        fprintf(stderr, "stackgen: cannot read %s\n", path);
        buf_cleanup(&text);
        *rc = 2;
        return NULL;
    }
    struct stack *s = stack_load(text.data ? text.data : "", text.len, &errors);
    if (!s) {
        fwrite(errors.data, 1, errors.len, stderr);
        *rc = 1;
    }
    buf_cleanup(&text);
    buf_cleanup(&errors);
    return s;
}

struct args {
    const char *cmd, *path; /* "validate" or "render", STACK.json */
    const char *out, *format, *backend_url, *modules_dir, *module_source;
    bool quiet;
};

/* "out/" and "out" name the same directory; without the slash the report's paths read
 * "out/main.tf", not "out//main.tf". */
static char *trim_slashes(char *dir)
{
    for (size_t n = strlen(dir); n > 1 && dir[n - 1] == '/'; n--)
        dir[n - 1] = '\0';
    return dir;
}

/* Reads the command line into *a. Returns -1 to go on, or the exit status when there is nothing
 * more to do (--help, or a usage error already reported). */
static int parse_args(int argc, char **argv, struct args *a)
{
    static const struct option opts[] = {{"output", required_argument, NULL, 'o'},
                                         {"format", required_argument, NULL, 'f'},
                                         {"backend-url", required_argument, NULL, 'b'},
                                         {"modules-dir", required_argument, NULL, 'm'},
                                         {"module-source", required_argument, NULL, 's'},
                                         {"quiet", no_argument, NULL, 'q'},
                                         {"help", no_argument, NULL, 'h'},
                                         {"version", no_argument, NULL, 'V'},
                                         {NULL, 0, NULL, 0}};
    int c;
    *a = (struct args){.format = "tofu", .backend_url = DEFAULT_BACKEND_URL};
    while ((c = getopt_long(argc, argv, "o:f:b:m:s:qhV", opts, NULL)) != -1) {
        switch (c) {
        case 'o':
            a->out = trim_slashes(optarg);
            break;
        case 'f':
            a->format = optarg;
            break;
        case 'b':
            a->backend_url = optarg;
            break;
        case 'm':
            a->modules_dir = optarg;
            break;
        case 's':
            a->module_source = optarg;
            break;
        case 'q':
            a->quiet = true;
            break;
        case 'h':
            usage(stdout);
            return 0;
        case 'V':
            printf("stackgen %s\n", STATED_VERSION);
            return 0;
        default:
            usage(stderr);
            return 2;
        }
    }
    if (argc - optind != 2) {
        usage(stderr);
        return 2;
    }
    a->cmd = argv[optind];
    a->path = argv[optind + 1];
    return -1;
}

static int run_validate(const struct args *a)
{
    int rc = 0;
    if (a->out) {
        fputs("stackgen: validate takes no -o\n", stderr);
        return 2;
    }
    struct stack *s = load(a->path, &rc);
    if (s) {
        struct buf report;
        buf_init(&report, 0);
        stack_report_valid(s, &report);
        print_report(&report, a->quiet);
    }
    stack_free(s);
    return rc;
}

/* The render options from the command line; 0, or 2 after reporting a usage error. */
static int render_opts(const struct args *a, struct stack_render_opts *o)
{
    struct err err = {0};
    *o = (struct stack_render_opts){.backend_url = a->backend_url,
                                    .module_source = a->module_source};
    if (strcmp(a->format, "tofu") == 0) {
        o->format = STACK_FORMAT_TOFU;
    } else if (strcmp(a->format, "terragrunt") == 0) {
        o->format = STACK_FORMAT_TERRAGRUNT;
    } else {
        fputs("stackgen: --format must be tofu or terragrunt\n", stderr);
        return 2;
    }
    if (!a->out) {
        fputs("stackgen: render needs -o DIR\n", stderr);
        return 2;
    }
    if (stack_backend_url_check(a->backend_url, &err) != 0) {
        fprintf(stderr, "stackgen: --backend-url: %s\n", err.msg);
        return 2;
    }
    if (a->module_source && a->modules_dir) {
        fputs("stackgen: --module-source and --modules-dir exclude each other (nothing is "
              "copied with --module-source)\n",
              stderr);
        return 2;
    }
    if (a->module_source && stack_module_source_check(a->module_source, &err) != 0) {
        fprintf(stderr, "stackgen: --module-source: %s\n", err.msg);
        return 2;
    }
    return 0;
}

/* The module sources to copy; NULL, reported, when they are not found. */
static char *locate_modules(const struct args *a)
{
    char *found = a->modules_dir ? xstrdup(a->modules_dir) : find_modules_dir();
    if (found && is_dir(found))
        return found;
    fputs("stackgen: module sources not found; pass --modules-dir DIR\n", stderr);
    free(found);
    return NULL;
}

static int run_render(const struct args *a)
{
    struct stack_render_opts o;
    struct err err = {0};
    char *found = NULL;
    int rc = render_opts(a, &o);
    if (rc)
        return rc;
    if (!a->module_source && !(found = locate_modules(a)))
        return 2;
    o.modules_dir = found;
    struct stack *s = load(a->path, &rc);
    struct buf report;
    struct stack_written w = {.log = &report};
    buf_init(&report, 0);
    if (s && stackgen_render_dir(s, &o, a->out, &w, &err) != 0) {
        print_report(&report, a->quiet); /* what was written before the failure */
        fprintf(stderr, "stackgen: %s %s\n", err_infra_code(err.code), err.msg);
        rc = 1;
    } else if (s) {
        stack_report_written(s, &o, a->out, &w, &report);
        print_report(&report, a->quiet);
    }
    buf_cleanup(&report);
    stack_free(s);
    free(found);
    return rc;
}

int main(int argc, char **argv)
{
    struct args a;
    int rc = parse_args(argc, argv, &a);
    if (rc >= 0)
        return rc;
    if (strcmp(a.cmd, "validate") == 0)
        return run_validate(&a);
    if (strcmp(a.cmd, "render") == 0)
        return run_render(&a);
    fprintf(stderr, "stackgen: unknown command %s\n", a.cmd);
    usage(stderr);
    return 2;
}
