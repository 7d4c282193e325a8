#!/bin/bash
# tests/suites/60-modules.sh: the Scaleway modules and the stack generator.
#
#   - golden files of stackgen (tests/golden/run.sh), both formats and error cases;
#   - the committed examples are exactly what stackgen renders today, calling module/scaleway by
#     relative paths (--module-source) that all resolve; `terraform get` installs those modules
#     and, from a git repository at a tag, the versioned git source docs/stackgen.md documents;
#   - stackgen's exit codes (0 / 1 invalid / 2 usage), --version, where its reports go
#     (stdout on success, nothing with --quiet) and that no credential reaches a file;
#   - `terraform fmt -check` on module/, examples/ and fresh renders (SKIPPED without terraform);
#   - every scaleway_* resource, argument and block exists in the provider schema
#     (tests/modules/schema-check.sh with the vendored reduced schema; its own bad sample must
#     fail, so the checker is known to bite);
#   - a rendered backend block applied for real: terraform init + apply against a running
#     stated with the Scaleway resources replaced by a terraform_data resource.
# module/scaleway/state-backend and its bootstrap have their own suite, 64-bootstrap.sh.
set -u
. "$(dirname "$0")/../lib/testlib.sh"
. "$TOP/tests/lib/stated.sh"
SG=$BIN/stackgen
TF=${TERRAFORM:-/usr/local/bin/terraform}
[ -x "$TF" ] || TF=$(command -v terraform 2>/dev/null || true)
WORK=$(mktemp -d /tmp/stated-modules.XXXXXX)
trap 'stated_cleanup; rm -rf "$WORK"' EXIT
export TF_CLI_CONFIG_FILE=/dev/null TF_IN_AUTOMATION=1

# --- golden files -------------------------------------------------------------------------
"$TOP/tests/golden/run.sh" >"$WORK/golden.out" 2>&1
grep -E '^(PASS|FAIL|SKIPPED) ' "$WORK/golden.out"
while read -r _; do T_PASSED=$((T_PASSED + 1)); done < <(grep '^PASS ' "$WORK/golden.out")
while read -r _; do T_FAILED=$((T_FAILED + 1)); done < <(grep '^FAIL ' "$WORK/golden.out")
grep -q '^[0-9]* passed, 0 failed' "$WORK/golden.out" || grep -q '^FAIL ' "$WORK/golden.out" ||
  fail golden/runner "$(tail -n 3 "$WORK/golden.out" | tr '\n' ' ')"

# --- examples are up to date ----------------------------------------------------------------
render_example() { # NAME STACK OUTDIR ARGS...
  local name=$1 stack=$2 want=$3; shift 3
  if "$SG" render -q "$TOP/examples/stacks/$stack.json" -o "$WORK/ex/$name" "$@" 2>"$WORK/ex.err" &&
     d=$(diff -r "$want" "$WORK/ex/$name" 2>&1); then
    pass "examples/$name/up-to-date"
  else
    fail "examples/$name/up-to-date" "re-render examples (docs/stackgen.md): $(echo "${d:-}" | head -n 5 | tr '\n' ' ')$(cat "$WORK/ex.err")"
  fi
}
mkdir -p "$WORK/ex"
# Each example calls module/scaleway of this repository; the prefix is relative to its directory.
ROOT_MODS=../../../module/scaleway UNIT_MODS=../../module/scaleway
render_example dev dev "$TOP/examples/rendered/dev" --module-source $ROOT_MODS
render_example staging staging "$TOP/examples/rendered/staging" --backend-url https://stated.example.com --module-source $ROOT_MODS
render_example production production "$TOP/examples/rendered/production" --backend-url https://stated.example.com --module-source $ROOT_MODS
render_example terragrunt production "$TOP/examples/terragrunt" --format terragrunt --backend-url https://stated.example.com --module-source $UNIT_MODS

# Every relative module source in examples/ names a module of module/scaleway. Terragrunt's
# "dir//subdir" is the path dir/subdir.
bad= n=0
while IFS=$'\t' read -r file src; do
  n=$((n + 1))
  target=$(cd "$(dirname "$file")" && realpath -m "${src/\/\//\/}")
  case $target in
    "$TOP"/module/scaleway/*) [ -f "$target/main.tf" ] || bad="$bad ${file#"$TOP"/}:$src" ;;
    *) bad="$bad ${file#"$TOP"/}:$src(not-in-module/scaleway)" ;;
  esac
done < <(grep -rE --include='*.tf' --include='*.hcl' '^ *source *= *"\.\.?/' "$TOP/examples" |
         sed -E 's/^([^:]*):[^"]*"([^"]*)".*/\1\t\2/')
if [ -z "$bad" ] && [ "$n" -gt 0 ]; then pass examples/module-sources-resolve
else fail examples/module-sources-resolve "$n sources, unresolved:${bad:- none found}"; fi
[ -z "$(find "$TOP/examples" -type d -name modules)" ] && pass examples/no-module-copies ||
  fail examples/no-module-copies "$(find "$TOP/examples" -type d -name modules | tr '\n' ' ')"

# --- command line ---------------------------------------------------------------------------
"$SG" --help >/dev/null 2>&1; expect_eq stackgen/help-exit "$?" 0
"$SG" >/dev/null 2>&1; expect_eq stackgen/usage-exit "$?" 2
"$SG" render "$TOP/examples/stacks/dev.json" >/dev/null 2>&1; expect_eq stackgen/render-needs-o "$?" 2
"$SG" render "$TOP/examples/stacks/dev.json" -o "$WORK/x" --format pulumi >/dev/null 2>&1
expect_eq stackgen/bad-format-exit "$?" 2
"$SG" render "$TOP/examples/stacks/dev.json" -o "$WORK/x" --backend-url https://u:p@h >/dev/null 2>&1
expect_eq stackgen/backend-url-credentials-exit "$?" 2
"$SG" validate "$WORK/no-such.json" >/dev/null 2>&1; expect_eq stackgen/missing-file-exit "$?" 2
"$SG" validate "$TOP/examples/stacks/production.json" >"$WORK/valid.out" 2>"$WORK/valid.err"
expect_eq stackgen/validate-ok "$?" 0
expect_eq stackgen/validate-reports-on-stdout \
  "$(grep -c '^stack "platform" (production): valid, [0-9]* components: ' "$WORK/valid.out")/$(wc -c <"$WORK/valid.err")" "1/0"
# --version prints the release of common/version.h, like stated and statectl.
version=$(sed -n 's/^#define STATED_VERSION "\(.*\)"$/\1/p' "$TOP/common/version.h")
out=$("$SG" --version); expect_eq stackgen/version-exit "$?" 0
expect_eq stackgen/version "$out" "stackgen $version"
"$SG" --help | grep -q -- '--version'; expect_eq stackgen/help-mentions-version "$?" 0
# --quiet: nothing on stdout or stderr on success; problems are still reported.
out=$("$SG" validate --quiet "$TOP/examples/stacks/dev.json" 2>&1); expect_eq stackgen/validate-quiet "$?/$out" "0/"
out=$("$SG" render -q "$TOP/examples/stacks/dev.json" -o "$WORK/quiet" 2>&1); expect_eq stackgen/render-quiet "$?/$out" "0/"
"$SG" validate -q - <"$TOP/tests/golden/invalid-many/stack.json" 2>"$WORK/quiet.err"
expect_eq stackgen/quiet-still-reports-problems "$?/$(grep -c '^INFRA_001 ' "$WORK/quiet.err")" "1/$(grep -c '^INFRA_001 ' "$TOP/tests/golden/invalid-many/expected/error")"
# render lists every file it wrote, and the last line counts them.
"$SG" render "$TOP/examples/stacks/dev.json" -o "$WORK/listed" >"$WORK/listed.out" 2>&1
n=$(find "$WORK/listed" -maxdepth 1 -type f | wc -l)
if [ "$(grep -c '^wrote ' "$WORK/listed.out")" -eq "$n" ] &&
   tail -n 1 "$WORK/listed.out" | grep -q "^stack \"platform\" (dev): rendered as tofu in $WORK/listed, $n files written, "; then
  pass stackgen/render-reports-files
else
  fail stackgen/render-reports-files "$(tail -n 2 "$WORK/listed.out" | tr '\n' ' ') ($n files)"
fi
"$SG" validate - <"$TOP/tests/golden/invalid-many/stack.json" 2>"$WORK/many.err"
rc=$?
n=$(grep -c '^INFRA_001 \$' "$WORK/many.err")
if [ $rc -eq 1 ] && [ "$n" -ge 30 ] && [ "$n" -eq "$(wc -l <"$WORK/many.err")" ]; then
  pass stackgen/all-errors-at-once
else
  fail stackgen/all-errors-at-once "exit $rc, $n INFRA_001 lines"
fi
# Secrets given at apply time must never appear in a rendered file.
if grep -rqE 'hunter2|s3cret|TF_HTTP_PASSWORD *=|SCW_SECRET_KEY *=' "$TOP/examples/rendered" "$TOP/examples/terragrunt"; then
  fail stackgen/no-credentials-in-files "a credential-like value is in a rendered file"
else
  pass stackgen/no-credentials-in-files
fi

# --- terraform fmt --------------------------------------------------------------------------
if [ -z "$TF" ] || [ ! -x "$TF" ]; then
  skip modules/fmt "terraform not installed (looked for /usr/local/bin/terraform)"
  skip modules/apply "terraform not installed"
else
  check modules/fmt-module "$TF" fmt -check -recursive "$TOP/module"
  check modules/fmt-examples "$TF" fmt -check -recursive "$TOP/examples"
  check modules/fmt-golden "$TF" fmt -check -recursive "$TOP/tests/golden"
  check modules/fmt-fresh-renders "$TF" fmt -check -recursive "$WORK/ex"
  # terraform fmt -recursive only reads .tf files: feed each Terragrunt .hcl file on stdin.
  bad=
  while IFS= read -r f; do
    "$TF" fmt -check - <"$f" >/dev/null 2>&1 || bad="$bad $f"
  done < <(find "$TOP/examples/terragrunt" "$TOP/tests/golden" "$WORK/ex" -name '*.hcl')
  if [ -z "$bad" ]; then pass modules/fmt-terragrunt-hcl; else fail modules/fmt-terragrunt-hcl "not fmt-clean:$bad"; fi
fi

# --- module sources, as terraform reads them --------------------------------------------------
# `terraform get` installs modules without providers or network: on a copy of the examples next to
# module/, and on a render whose --module-source is a git repository at a tag, in the shape
# docs/stackgen.md documents (git::URL//module/scaleway?ref=TAG).
if [ -z "$TF" ] || [ ! -x "$TF" ]; then
  skip modules/terraform-get "terraform not installed"
elif ! command -v git >/dev/null; then
  skip modules/terraform-get-git "git not installed"
else
  mkdir -p "$WORK/tree" && cp -r "$TOP/examples" "$TOP/module" "$WORK/tree/"
  for e in dev staging production; do
    check "examples/$e/terraform-get" bash -c "cd '$WORK/tree/examples/rendered/$e' && timeout 120 '$TF' get -no-color"
  done
  G=$WORK/git
  mkdir -p "$G/src/module" && cp -r "$TOP/module/scaleway" "$G/src/module/" &&
    git -C "$G/src" init -q && git -C "$G/src" add -A &&
    git -C "$G/src" -c user.name=suite -c user.email=suite@localhost commit -qm modules &&
    git -C "$G/src" tag v0.0.1 && git clone -q --bare "$G/src" "$G/stated.git"
  "$SG" render -q "$TOP/examples/stacks/production.json" -o "$G/root" \
    --module-source "git::file://$G/stated.git//module/scaleway?ref=v0.0.1" 2>"$WORK/git.err"
  if (cd "$G/root" && timeout 120 "$TF" get -no-color >"$WORK/get.log" 2>&1) &&
     [ -f "$G/root/.terraform/modules/containers/module/scaleway/containers/main.tf" ]; then
    pass modules/terraform-get-git-ref
  else
    fail modules/terraform-get-git-ref "$(cat "$WORK/git.err"; tail -n 5 "$WORK/get.log" | tr '\n' ' ')"
  fi
fi

# --- provider schema ------------------------------------------------------------------------
SC=$TOP/tests/modules/schema-check.sh
if ! command -v awk >/dev/null; then
  skip modules/schema "awk not installed"
else
  out=$("$SC" -q "$TOP/tests/modules/bad.tf" 2>&1)
  n=$(printf '%s\n' "$out" | grep -c ': scaleway_')
  if [ "$n" -eq 9 ]; then pass modules/schema-checker-bites; else fail modules/schema-checker-bites "expected 9 findings on bad.tf, got $n: $out"; fi
  check modules/schema-module "$SC" "$TOP/module/scaleway"
  check modules/schema-examples "$SC" "$TOP/examples"
  check modules/schema-fresh-renders "$SC" "$WORK/ex"
  # Every resource type the modules use must be in the vendored schema (and vice versa).
  used=$(grep -rhoE '^resource "scaleway_[a-z0-9_]+"' "$TOP/module/scaleway" | cut -d'"' -f2 | sort -u)
  have=$(awk -F'\t' '$1 == "R" { print $2 }' "$TOP/tests/modules/scaleway-schema.tsv" | sort -u)
  expect_eq modules/schema-covers-used-types "$have" "$used"
fi

# --- module conventions ---------------------------------------------------------------------
bad=
for d in "$TOP"/module/scaleway/*/; do
  for f in versions.tf main.tf variables.tf outputs.tf README.md; do
    [ -f "$d$f" ] || bad="$bad $(basename "$d")/$f"
  done
  grep -q 'provider "' "$d"*.tf && bad="$bad $(basename "$d"):provider-block"
  # every variable has a type and a description; every output a description
  awk '/^variable "/ { name = $2; t = 0; d = 0 } /^  type *=/ { t = 1 } /^  description *=/ { d = 1 }
       /^}/ && name != "" { if (!t || !d) print name; name = "" }' "$d/variables.tf" | grep -q . && bad="$bad $(basename "$d"):variable-without-type-or-description"
  awk '/^output "/ { name = $2; d = 0 } /^  description *=/ { d = 1 } /^}/ && name != "" { if (!d) print name; name = "" }' \
    "$d/outputs.tf" | grep -q . && bad="$bad $(basename "$d"):output-without-description"
  vars=$(grep -oE '^variable "[^"]+"' "$d/variables.tf" | cut -d'"' -f2)
  [ "$vars" = "$(printf '%s\n' "$vars" | LC_ALL=C sort)" ] || bad="$bad $(basename "$d"):variables-not-sorted"
  # Modules stay usable from Terraform 1.5 (the stacks stackgen renders), except those with
  # ephemeral blocks or write-only (*_wo) arguments: they need Terraform 1.11 and a provider
  # that has them (scaleway 2.69: secret_version data_wo, rdb password_wo, the ephemeral
  # secret version), and must say so.
  if grep -qE '^ephemeral "|^ +[a-z_]+_wo +=' "$d"*.tf; then
    grep -q 'source  = "scaleway/scaleway"' "$d/versions.tf" && grep -q 'version = "~> 2.69"' "$d/versions.tf" &&
      grep -q 'required_version = ">= 1.11.0"' "$d/versions.tf" || bad="$bad $(basename "$d"):versions(write-only needs >= 1.11.0 and scaleway ~> 2.69)"
  else
    grep -q 'source  = "scaleway/scaleway"' "$d/versions.tf" && grep -q 'version = "~> 2.0"' "$d/versions.tf" &&
      grep -q 'required_version = ">= 1.5.0"' "$d/versions.tf" || bad="$bad $(basename "$d"):versions"
  fi
done
if [ -z "$bad" ]; then pass modules/layout; else fail modules/layout "$bad"; fi

# --- apply a rendered backend against a running stated -------------------------------------
if [ -n "$TF" ] && [ -x "$TF" ]; then
  if ! "$BIN/stated" --help >/dev/null 2>&1; then
    skip modules/apply "build/bin/stated is not built yet"
  elif ! stated_start embedded; then
    fail modules/apply "stated did not start"
  else
    A=$WORK/apply
    "$SG" render -q "$TOP/examples/stacks/dev.json" -o "$WORK/dev" --backend-url "$STATED_URL" &&
      mkdir -p "$A" && cp "$WORK/dev/backend.tf" "$A/" &&
      cat >"$A/main.tf" <<'TF'
resource "terraform_data" "probe" {
  input = "rendered backend works"
}
TF
    export TF_HTTP_USERNAME=admin TF_HTTP_PASSWORD=$ADMIN_TOKEN
    if (cd "$A" && timeout 120 "$TF" init -input=false -no-color >"$WORK/init.log" 2>&1); then
      pass modules/apply-init
      if (cd "$A" && timeout 120 "$TF" apply -input=false -auto-approve -no-color >"$WORK/apply.log" 2>&1); then
        pass modules/apply
        body=$(curl -s -u "admin:$ADMIN_TOKEN" "$STATED_URL/v1/states/platform/dev")
        case $body in *'"terraform_data"'*) pass modules/apply-state-stored ;;
          *) fail modules/apply-state-stored "GET /v1/states/platform/dev: $(echo "$body" | head -c 200)" ;; esac
        (cd "$A" && timeout 120 "$TF" destroy -input=false -auto-approve -no-color >"$WORK/destroy.log" 2>&1)
        expect_eq modules/apply-destroy "$?" 0
      else
        fail modules/apply "$(tail -n 5 "$WORK/apply.log" | tr '\n' ' ')"
      fi
    else
      fail modules/apply-init "$(tail -n 5 "$WORK/init.log" | tr '\n' ' ')"
    fi
    unset TF_HTTP_USERNAME TF_HTTP_PASSWORD
    stated_stop
  fi
fi

t_done
