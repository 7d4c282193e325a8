/* statectl/args.c: the command table and the command-line parser.
 *
 * One table row per command (as tmux's cmd-*.c entries): its words, how many positional
 * arguments it takes, which options it accepts, its usage line and its help text. Options are
 * parsed by hand rather than with getopt_long so they may appear before or after the command
 * words ("statectl --output json states list" and "statectl states list --output json" both
 * work) and so unknown or misplaced options are reported per command. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "statectl/statectl.h"

#define B(o) (1ull << (o))
_Static_assert(OPT__COUNT <= 64, "an option set is one 64-bit word");
#define GLOBAL_OPTS                                                                                \
    (B(OPT_URL) | B(OPT_TOKEN) | B(OPT_CACERT) | B(OPT_CERT) | B(OPT_KEY) | B(OPT_OUTPUT) |        \
     B(OPT_HELP) | B(OPT_VERSION))

struct ctl_cmd {
    const char *noun, *verb; /* verb NULL: a one-word command */
    int min_pos, max_pos;
    unsigned long long opts; /* accepted options besides the global ones (B bits) */
    const char *args;
    const char *help;
};

/* What every command naming a version accepts (store_resolve_ref on the server). */
#define CTL_REF_HELP                                                                               \
    "REF: a snapshot ID as `snapshots list` prints it, a unique prefix of one (at least 6\n"       \
    "characters), latest, latest~N (N versions before the newest) or serial:N (the newest\n"       \
    "version with that serial)."

static const struct ctl_cmd cmds[] = {
    {"states", "list", 0, 0, B(OPT_PREFIX), "[--prefix P]",
     "List states: name, serial, size, last write and writer, lock holder. A read token sees\n"
     "only the states its pattern allows."},
    {"states", "show", 1, 1, 0, "NAME",
     "Show one state: serial, lineage, size, writer and last write, lock, number of versions\n"
     "and the names of its outputs."},
    {"states", "outputs", 1, 1, B(OPT_AT), "NAME [--at REF]",
     "The outputs of state NAME (or of version REF): name, type and value, sensitive ones shown\n"
     "as (sensitive). Allowed to every token that may read NAME, and to the outputs "
     "role.\n" CTL_REF_HELP},
    {"states", "delete", 1, 1, 0, "NAME",
     "Delete the current state of NAME; its versions are kept, so `snapshots restore NAME\n"
     "latest` brings it back. Refused while the state is locked. Needs a write or admin token."},
    {"states", "move", 2, 2, 0, "OLD NEW",
     "Rename state OLD to NEW with its whole history. Refused while either is locked and when\n"
     "NEW is a state already; an interrupted move finishes when run again. Admin only."},
    {"snapshots", "list", 1, 1, 0, "NAME",
     "List the versions of state NAME, newest first; a restored version is marked\n"
     "\"restored from ID by WHO: REASON\"."},
    {"snapshots", "show", 2, 2, B(OPT_OUTFILE) | B(OPT_REDACT), "NAME REF [-o FILE] [--redact]",
     "Write the bytes of one version to stdout (or FILE), exactly as stored; with --redact\n"
     "every sensitive value (sensitive outputs, sensitive_attributes) becomes "
     "\"(sensitive)\".\n" CTL_REF_HELP},
    {"snapshots", "diff", 3, 3, 0, "NAME A B",
     "What changed from version A to version B: resource instances and outputs added, removed\n"
     "and changed, and for a changed one each attribute with its old and new value (nested\n"
     "paths, lists by index). Sensitive values show as (sensitive). OpenTofu-encrypted\n"
     "versions cannot be looked into.\n" CTL_REF_HELP},
    {"snapshots", "restore", 2, 2, B(OPT_FORCE) | B(OPT_REASON) | B(OPT_DRY_RUN),
     "NAME REF [--reason TEXT] [--force] [--dry-run]",
     "Write REF's content as the new current state of NAME, with a serial one above the\n"
     "current one, so clients accept it. Refused while the state is locked unless --force\n"
     "(the lock is then left in place). --reason (at most 200 bytes) is kept with the new\n"
     "version and in the audit trail. Needs a write or admin token. --dry-run only prints\n"
     "the diff from the newest version to REF and changes nothing.\n" CTL_REF_HELP},
    {"snapshots", "delete", 2, 2, B(OPT_REASON), "NAME REF --reason TEXT",
     "Delete one version of NAME for good (a leaked secret): its bytes are removed from the\n"
     "storage, with every S3 object version of it. Never the current version. Audited with\n"
     "the version's SHA-256 and the reason (required, at most 200 bytes). Admin "
     "only.\n" CTL_REF_HELP},
    {"locks", "list", 0, 0, 0, "", "List live locks: state, lock ID, who, created, expires."},
    {"locks", "force-unlock", 1, 1, B(OPT_ID), "NAME [--id ID]",
     "Release the lock on NAME whoever holds it (with --id: only if ID still holds it).\n"
     "Audited as force-unlock. An admin always; another token only as the server's\n"
     "--force-unlock allows (by default: the token that took the lock)."},
    {"audit", "export", 0, 0,
     B(OPT_SINCE) | B(OPT_UNTIL) | B(OPT_STATE) | B(OPT_FORMAT) | B(OPT_OUTFILE),
     "[--since T] [--until T] [--state PATTERN] [--format jsonl|csv] [-o FILE]",
     "Stream audit events (T: RFC 3339 or YYYY-MM-DD) to stdout or FILE; progress on stderr\n"
     "when it is a terminal. PATTERN: '*' within a segment, '**' across segments."},
    {"audit", "verify", 0, 0, B(OPT_FILE) | B(OPT_FORMAT) | B(OPT_ANCHORS) | B(OPT_PUBLIC_KEY),
     "[--file EXPORT [--format jsonl|csv] [--anchors DIR [--public-key KEY]]]",
     "Check the audit hash chain; exits 7 naming the first broken event. The server checks\n"
     "it against the newest anchors in the object store too (truncation, rewrite). With\n"
     "--file, checks an exported file (JSON Lines or CSV, found from its first line unless\n"
     "--format) with no server: each event's hash and the chain from event 1; with --anchors,\n"
     "that it reaches the newest anchor in DIR and agrees with each; with --public-key, only\n"
     "anchors signed by that Ed25519 key (PEM) are accepted."},
    {"tokens", "create", 1, 1, B(OPT_ROLE) | B(OPT_STATES) | B(OPT_EXPIRES),
     "NAME --role ROLE --states PATTERN [--expires DURATION|TIME]",
     "Create a token; its secret is printed once and never again. ROLE: read, plan (read,\n"
     "lock and unlock its own locks: terraform plan), write, admin, outputs (only the outputs\n"
     "terraform_remote_state reads) or metrics. --expires: a duration such as 90s, 12h or 30d,\n"
     "or an RFC 3339 time; after it the token is refused (401)."},
    {"tokens", "list", 0, 0, 0, "",
     "List tokens: name, role, state pattern, source, expiry, last use (time and client\n"
     "address); never secrets."},
    {"tokens", "revoke", 1, 1, 0, "NAME", "Revoke a token at once."},
    {"webhooks", "list", 0, 0, 0, "",
     "List webhooks: name, receiver host, events, states, cursor (the audit seq handled up to),\n"
     "backlog (audit events after it) and the last delivery with its result. Admin only."},
    {"webhooks", "deliveries", 1, 1, B(OPT_FAILED), "NAME [--failed]",
     "The recent deliveries of webhook NAME, newest first: delivery ID, event, state, tries,\n"
     "HTTP status, result; --failed shows only those given up on. Admin only."},
    {"webhooks", "redeliver", 2, 2, 0, "NAME ID",
     "Send delivery ID of webhook NAME again (the same ID and body; one try). Admin only."},
    {"backend-config", NULL, 1, 1,
     B(OPT_FORMAT) | B(OPT_LAYOUT) | B(OPT_WITH_TOKEN) | B(OPT_USERNAME),
     "NAME [--format hcl|flags|terragrunt|env] [--layout default|gitlab] [--with-token]\n"
     "                      [--username U]",
     "Print client configuration for state NAME on this server: a backend \"http\" block (hcl),\n"
     "-backend-config= flags, a Terragrunt remote_state block, or TF_HTTP_* exports. Credentials\n"
     "are placeholders unless --with-token puts the current token in."},
    {"health", NULL, 0, 0, B(OPT_DEEP) | B(OPT_TIMEOUT), "[--deep] [--timeout DURATION]",
     "Ask stated whether it is healthy: GET /healthz, or with --deep /healthz?deep=1 (storage,\n"
     "locks and audit reachable). Exits 0 on stated's \"ok\", else non-zero with the reason on\n"
     "stderr. Sends no token (none is needed); the request is bounded by --timeout (default 5s).\n"
     "The container image's HEALTHCHECK runs it."},
    {"offline", "export", 0, 0,
     B(OPT_STORAGE) | B(OPT_DATA_DIR) | B(OPT_S3_ENDPOINT) | B(OPT_S3_REGION) |
         B(OPT_S3_CREDENTIALS_FILE) | B(OPT_S3_VIRTUAL_HOST) | B(OPT_ENCRYPTION_KEY_FILE) |
         B(OPT_TO) | B(OPT_ALL_VERSIONS) | B(OPT_FORCE),
     "(--storage s3://BUCKET[/PREFIX] | --data-dir DIR) --to DIR [--all-versions]\n"
     "                      [--encryption-key-file F]... [--s3-endpoint URL] [--s3-region R]\n"
     "                      [--s3-credentials-file F] [--s3-virtual-host] [--force]",
     "Disaster recovery with stated down: read the storage directly (read-only: nothing in it\n"
     "is changed) and write every current state as DIR/NAME.tfstate, with --all-versions\n"
     "every version as DIR/NAME/@versions/SNAPSHOT.tfstate, decrypted with the keys given (or\n"
     "STATED_ENCRYPTION_KEY_FILE / STATED_ENCRYPTION_KEY). S3 settings and credentials as for\n"
     "stated (STATED_S3_*, SCW_* or AWS_* variables). Refuses a non-empty DIR unless --force.\n"
     "No --url or token is needed. Runbook: docs/disaster-recovery.md."},
    {"import", NULL, 0, 0,
     B(OPT_FROM) | B(OPT_FROM_DIR) | B(OPT_KEY_PATTERN) | B(OPT_VERSIONS) | B(OPT_DRY_RUN) |
         B(OPT_S3_ENDPOINT) | B(OPT_S3_REGION) | B(OPT_S3_CREDENTIALS_FILE) |
         B(OPT_S3_VIRTUAL_HOST),
     "(--from s3://BUCKET[/PREFIX] [--versions] | --from-dir DIR) [--key-pattern P]\n"
     "                      [--dry-run] [S3 options as for offline export]",
     "Copy states written by terraform's backend \"s3\" (or a tree of state files) into this\n"
     "server. P maps a key to a state name (default '{name}/terraform.tfstate': the key\n"
     "net/prod/terraform.tfstate becomes the state net/prod; a workspace's key env:/WS/...\n"
     "becomes NAME.WS). Keys that give no valid state name are listed and skipped. With\n"
     "--versions every S3 object version becomes a version, oldest first. A version stated\n"
     "already has (same SHA-256) is not imported again. Admin token."},
};

static const struct {
    const char *name;
    char shortname;
    bool has_arg;
} opt_names[OPT__COUNT] = {
    [OPT_URL] = {"url", 0, true},
    [OPT_TOKEN] = {"token", 0, true},
    [OPT_CACERT] = {"cacert", 0, true},
    [OPT_CERT] = {"cert", 0, true},
    [OPT_KEY] = {"key", 0, true},
    [OPT_OUTPUT] = {"output", 0, true},
    [OPT_HELP] = {"help", 'h', false},
    [OPT_PREFIX] = {"prefix", 0, true},
    [OPT_FORCE] = {"force", 0, false},
    [OPT_ID] = {"id", 0, true},
    [OPT_SINCE] = {"since", 0, true},
    [OPT_UNTIL] = {"until", 0, true},
    [OPT_STATE] = {"state", 0, true},
    [OPT_FORMAT] = {"format", 0, true},
    [OPT_OUTFILE] = {"out", 'o', true},
    [OPT_ROLE] = {"role", 0, true},
    [OPT_STATES] = {"states", 0, true},
    [OPT_LAYOUT] = {"layout", 0, true},
    [OPT_WITH_TOKEN] = {"with-token", 0, false},
    [OPT_USERNAME] = {"username", 0, true},
    [OPT_VERSION] = {"version", 0, false},
    [OPT_EXPIRES] = {"expires", 0, true},
    [OPT_DEEP] = {"deep", 0, false},
    [OPT_TIMEOUT] = {"timeout", 0, true},
    [OPT_DRY_RUN] = {"dry-run", 0, false},
    [OPT_REDACT] = {"redact", 0, false},
    [OPT_AT] = {"at", 0, true},
    [OPT_REASON] = {"reason", 0, true},
    [OPT_FILE] = {"file", 0, true},
    [OPT_ANCHORS] = {"anchors", 0, true},
    [OPT_PUBLIC_KEY] = {"public-key", 0, true},
    [OPT_STORAGE] = {"storage", 0, true},
    [OPT_DATA_DIR] = {"data-dir", 0, true},
    [OPT_S3_ENDPOINT] = {"s3-endpoint", 0, true},
    [OPT_S3_REGION] = {"s3-region", 0, true},
    [OPT_S3_CREDENTIALS_FILE] = {"s3-credentials-file", 0, true},
    [OPT_S3_VIRTUAL_HOST] = {"s3-virtual-host", 0, false},
    [OPT_ENCRYPTION_KEY_FILE] = {"encryption-key-file", 0, true},
    [OPT_TO] = {"to", 0, true},
    [OPT_ALL_VERSIONS] = {"all-versions", 0, false},
    [OPT_FROM] = {"from", 0, true},
    [OPT_FROM_DIR] = {"from-dir", 0, true},
    [OPT_KEY_PATTERN] = {"key-pattern", 0, true},
    [OPT_VERSIONS] = {"versions", 0, false},
    [OPT_FAILED] = {"failed", 0, false},
};

int ctl_usage_error(const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, "statectl: %s: ", err_infra_code(ERR_INVALID));
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    return CTL_EXIT_USAGE;
}

const char *ctl_cmd_name(const struct ctl_cmd *cmd)
{
    static _Thread_local char name[64];
    snprintf(name, sizeof(name), "%s%s%s", cmd->noun, cmd->verb ? " " : "",
             cmd->verb ? cmd->verb : "");
    return name;
}

static int find_opt(const char *arg, size_t len, char shortname)
{
    for (int i = 0; i < OPT__COUNT; i++) {
        if (shortname != 0
                ? opt_names[i].shortname == shortname
                : strlen(opt_names[i].name) == len && strncmp(opt_names[i].name, arg, len) == 0)
            return i;
    }
    return -1;
}

#define NCMDS     (sizeof(cmds) / sizeof(cmds[0]))
#define MAX_WORDS 16

/* One parse: the command line, what has been read from it so far, and where a usage error
 * goes. */
struct parser {
    int argc;
    const char *const *argv;
    struct ctl_cmdline *cl;
    const char *words[MAX_WORDS]; /* command words and positional arguments, in order */
    int nwords;
    unsigned long long seen; /* options given, as B(opt) bits */
    char *errbuf;
    size_t errlen;
};

static int usage_error(struct parser *p, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static int usage_error(struct parser *p, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(p->errbuf, p->errlen, fmt, ap);
    va_end(ap);
    return CTL_EXIT_USAGE;
}

/* Reads the option at argv[*i]: "--name", "--name=value", "--name value" or "-x [value]".
 * Advances *i past a value taken from the next argument. */
static int read_option(struct parser *p, int *i)
{
    const char *a = p->argv[*i], *val = NULL;
    int o;
    if (a[1] == '-') {
        const char *eq = strchr(a + 2, '=');
        size_t n = eq ? (size_t)(eq - (a + 2)) : strlen(a + 2);
        o = find_opt(a + 2, n, 0);
        if (eq != NULL)
            val = eq + 1;
    } else {
        o = a[2] == '\0' ? find_opt("", 0, a[1]) : -1;
    }
    if (o < 0)
        return usage_error(p, "unknown option %s", a);
    if (opt_names[o].has_arg && val == NULL) {
        if (*i + 1 >= p->argc)
            return usage_error(p, "option --%s needs a value", opt_names[o].name);
        val = p->argv[++*i];
    } else if (!opt_names[o].has_arg) {
        if (val != NULL)
            return usage_error(p, "option --%s takes no value", opt_names[o].name);
        val = "1";
    }
    if (o == OPT_ENCRYPTION_KEY_FILE) {
        if (p->cl->nkeyfiles == (int)(sizeof(p->cl->keyfiles) / sizeof(p->cl->keyfiles[0])))
            return usage_error(p, "too many --encryption-key-file options");
        p->cl->keyfiles[p->cl->nkeyfiles++] = val;
    }
    p->cl->opt[o] = val;
    p->seen |= B(o);
    return 0;
}

/* Sorts argv into options and words; "--" makes every later argument a word. */
static int read_arguments(struct parser *p)
{
    bool opts_done = false;
    for (int i = 1; i < p->argc; i++) {
        const char *a = p->argv[i];
        int ex;
        if (opts_done || a[0] != '-' || a[1] == '\0') {
            if (p->nwords == MAX_WORDS)
                return usage_error(p, "too many arguments");
            p->words[p->nwords++] = a;
        } else if (strcmp(a, "--") == 0) {
            opts_done = true;
        } else if ((ex = read_option(p, &i)) != 0) {
            return ex;
        }
    }
    return 0;
}

static int read_output_format(struct parser *p)
{
    const char *out = p->cl->opt[OPT_OUTPUT];
    if (out == NULL || strcmp(out, "text") == 0)
        return 0;
    if (strcmp(out, "json") != 0)
        return usage_error(p, "--output must be text or json");
    p->cl->json = true;
    return 0;
}

/* The table row named by the first one or two words; *used receives how many it took. */
static const struct ctl_cmd *find_command(const char *const *words, int nwords, int *used)
{
    for (size_t k = 0; k < NCMDS; k++) {
        if (strcmp(cmds[k].noun, words[0]) != 0)
            continue;
        if (cmds[k].verb == NULL) {
            *used = 1;
            return &cmds[k];
        }
        if (nwords >= 2 && strcmp(cmds[k].verb, words[1]) == 0) {
            *used = 2;
            return &cmds[k];
        }
    }
    return NULL;
}

static bool is_noun(const char *word)
{
    for (size_t k = 0; k < NCMDS; k++)
        if (strcmp(cmds[k].noun, word) == 0)
            return true;
    return false;
}

/* No row matched: says whether the noun or the verb is wrong. "statectl snapshots --help" is
 * not an error, the global usage lists the verbs. */
static int unknown_command(struct parser *p)
{
    const char *noun = p->words[0];
    if (!is_noun(noun))
        return usage_error(p, "unknown command '%s'", noun);
    if (p->cl->opt[OPT_HELP])
        return 0;
    return usage_error(p, "unknown %s command '%s'", noun, p->nwords >= 2 ? p->words[1] : "(none)");
}

/* Every option given must be global or one the command takes. */
static int check_command_options(struct parser *p)
{
    const struct ctl_cmd *cmd = p->cl->cmd;
    for (int o = 0; o < OPT__COUNT; o++) {
        if ((p->seen & B(o)) && !((GLOBAL_OPTS | cmd->opts) & B(o)))
            return usage_error(p, "%s does not take --%s", ctl_cmd_name(cmd), opt_names[o].name);
    }
    return 0;
}

/* The words after the command's own are its positional arguments. */
static int take_positionals(struct parser *p, int used)
{
    struct ctl_cmdline *cl = p->cl;
    cl->npos = p->nwords - used;
    if (cl->npos < cl->cmd->min_pos || cl->npos > cl->cmd->max_pos)
        return usage_error(p, "%s takes %s%s", ctl_cmd_name(cl->cmd),
                           cl->cmd->max_pos == 0 ? "no arguments" : cl->cmd->args,
                           cl->npos < cl->cmd->min_pos ? " (missing argument)"
                                                       : " (too many arguments)");
    for (int k = 0; k < cl->npos; k++)
        cl->pos[k] = p->words[used + k];
    return 0;
}

int ctl_parse(int argc, const char *const *argv, struct ctl_cmdline *cl, char *errbuf,
              size_t errlen)
{
    struct parser p = {.argc = argc, .argv = argv, .cl = cl, .errbuf = errbuf, .errlen = errlen};
    int used = 0, ex;

    memset(cl, 0, sizeof(*cl));
    if ((ex = read_arguments(&p)) != 0 || (ex = read_output_format(&p)) != 0)
        return ex;
    if (p.nwords == 0) {
        if (cl->opt[OPT_HELP] || cl->opt[OPT_VERSION])
            return 0;
        return usage_error(&p, "no command given");
    }
    cl->cmd = find_command(p.words, p.nwords, &used);
    if (cl->cmd == NULL)
        return unknown_command(&p);
    if (cl->opt[OPT_HELP])
        return 0;
    if ((ex = check_command_options(&p)) != 0)
        return ex;
    return take_positionals(&p, used);
}

static const char global_usage[] =
    "Usage: statectl [global options] COMMAND [arguments] [options]\n"
    "\n"
    "Operate a stated state server through its admin API; verify an audit export or export\n"
    "the states from the storage itself with no server (audit verify --file, offline export).\n"
    "\n"
    "Commands:\n";

static const char global_opts[] =
    "\n"
    "Global options:\n"
    "  --url URL         server base URL (default $STATECTL_URL, else http://127.0.0.1:8080)\n"
    "  --token TOKEN     API token (default $STATECTL_TOKEN); prefer the variable, arguments\n"
    "                    are visible to other users in the process list\n"
    "  --cacert FILE     CA bundle to verify an https server\n"
    "  --cert FILE       client certificate (mutual TLS), with --key FILE\n"
    "  --output FORMAT   text (aligned tables, default) or json (for scripts)\n"
    "  -h, --help        this help; `statectl COMMAND --help` for one command\n"
    "  --version         print the version\n"
    "\n"
    "Exit codes: 0 ok, 1 server or operation error, 2 usage, 3 not found, 4 locked or\n"
    "conflict, 5 server unreachable, 6 permission denied, 7 audit chain broken.\n";

void ctl_usage(FILE *f, const struct ctl_cmd *cmd)
{
    if (cmd == NULL) {
        fputs(global_usage, f);
        for (size_t k = 0; k < NCMDS; k++) {
            char head[64];
            snprintf(head, sizeof(head), "%s", ctl_cmd_name(&cmds[k]));
            fprintf(f, "  %-22s%s\n", head, cmds[k].args);
        }
        fputs(global_opts, f);
        return;
    }
    fprintf(f, "Usage: statectl %s %s\n\n%s\n", ctl_cmd_name(cmd), cmd->args, cmd->help);
    fputs("\nGlobal options (--url, --token, --cacert, --cert, --key, --output json) apply; see\n"
          "`statectl --help`.\n",
          f);
}

int ctl_run(const struct ctl_cmd *cmd, const struct ctl_conn *c, const struct ctl_cmdline *cl)
{
    static const struct {
        const char *noun, *verb;
        int (*fn)(const struct ctl_conn *, const struct ctl_cmdline *);
    } run[] = {
        {"states", "list", ctl_cmd_states_list},
        {"states", "outputs", ctl_cmd_states_outputs},
        {"states", "show", ctl_cmd_states_show},
        {"states", "delete", ctl_cmd_states_delete},
        {"states", "move", ctl_cmd_states_move},
        {"snapshots", "list", ctl_cmd_snapshots_list},
        {"snapshots", "show", ctl_cmd_snapshots_show},
        {"snapshots", "diff", ctl_cmd_snapshots_diff},
        {"snapshots", "restore", ctl_cmd_snapshots_restore},
        {"snapshots", "delete", ctl_cmd_snapshots_delete},
        {"locks", "list", ctl_cmd_locks_list},
        {"locks", "force-unlock", ctl_cmd_locks_force_unlock},
        {"audit", "export", ctl_cmd_audit_export},
        {"audit", "verify", ctl_cmd_audit_verify},
        {"webhooks", "list", ctl_cmd_webhooks_list},
        {"webhooks", "deliveries", ctl_cmd_webhooks_deliveries},
        {"webhooks", "redeliver", ctl_cmd_webhooks_redeliver},
        {"tokens", "create", ctl_cmd_tokens_create},
        {"tokens", "list", ctl_cmd_tokens_list},
        {"tokens", "revoke", ctl_cmd_tokens_revoke},
        {"backend-config", NULL, ctl_cmd_backend_config},
        {"health", NULL, ctl_cmd_health},
        {"offline", "export", ctl_cmd_offline_export},
        {"import", NULL, ctl_cmd_import},
    };
    for (size_t k = 0; k < sizeof(run) / sizeof(run[0]); k++) {
        if (strcmp(run[k].noun, cmd->noun) == 0 &&
            (run[k].verb == NULL ? cmd->verb == NULL
                                 : cmd->verb != NULL && strcmp(run[k].verb, cmd->verb) == 0))
            return run[k].fn(c, cl);
    }
    return CTL_EXIT_USAGE;
}
