/* common/hcl.h: HCL string literals, for everything that writes Terraform/OpenTofu or
 * Terragrunt configuration (stackgen's renderer, statectl backend-config).
 *
 * A value written through these functions reads back as exactly the same string: it is never
 * taken as a template, so "${var.x}" in a stack description stays the text "${var.x}". */
#ifndef STATED_COMMON_HCL_H
#define STATED_COMMON_HCL_H

#include "common/buf.h"

/* Appends s escaped for the inside of an HCL quoted string: `\` and `"` backslashed, \n \r \t
 * as such, other control characters and DEL as \uXXXX, `${` written `$${` and `%{` written
 * `%%{`. Nothing is added around it, so a caller can continue the literal with a template
 * sequence of its own. UTF-8 passes through unchanged. */
void hcl_escape(struct buf *out, const char *s);
/* Appends the whole literal: `"`, hcl_escape(s), `"`. */
void hcl_quote(struct buf *out, const char *s);

#endif
