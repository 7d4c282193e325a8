/* common/hcl.c: see hcl.h.
 *
 * HCL string literals take JSON's escapes plus two of their own. A quoted string is a template:
 * "${" starts an interpolation and "%{" a directive, and the only way to write either as plain
 * text is to double the first character ("$${", "%%{"), which HCL reads back as "${" and "%{".
 * A lone "$" or "%" is already literal, so only the pair is doubled. For example the stack value
 *     say "hi"<TAB>${USER} 100%{x}
 * where <TAB> is a tab character, becomes the literal
 *     "say \"hi\"\t$${USER} 100%%{x}"
 * Control characters without a short escape are written \u00XX (HCL reads \uXXXX like JSON);
 * DEL is one of them, because terraform fmt would otherwise leave an invisible byte in a file
 * people review. Bytes from 0x80 up are UTF-8 and pass through. */
#include "common/hcl.h"

/* The escape for one byte, or NULL when it stands for itself. */
static const char *short_escape(unsigned char ch)
{
    switch (ch) {
    case '\\':
        return "\\\\";
    case '"':
        return "\\\"";
    case '\n':
        return "\\n";
    case '\r':
        return "\\r";
    case '\t':
        return "\\t";
    default:
        return NULL;
    }
}

void hcl_escape(struct buf *out, const char *s)
{
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        const char *esc = short_escape(*p);
        if (esc) {
            buf_append_str(out, esc, NULL);
        } else if (*p < 0x20 || *p == 0x7f) {
            buf_printf(out, NULL, "\\u%04x", *p);
        } else {
            buf_append(out, p, 1, NULL);
            if ((*p == '$' || *p == '%') && p[1] == '{')
                buf_append(out, p, 1, NULL); /* "${" -> "$${", "%{" -> "%%{" */
        }
    }
}

void hcl_quote(struct buf *out, const char *s)
{
    buf_append_str(out, "\"", NULL);
    hcl_escape(out, s);
    buf_append_str(out, "\"", NULL);
}
