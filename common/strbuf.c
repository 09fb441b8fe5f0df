/*  strbuf: growable buffer and escapings, see strbuf.h. */
#include "strbuf.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void
strbuf_init (strbuf_t *sb)
{
    sb->data = NULL;
    sb->len = 0;
    sb->cap = 0;
}

void
strbuf_free (strbuf_t *sb)
{
    free (sb->data);
    strbuf_init (sb);
}

void
strbuf_reset (strbuf_t *sb)
{
    sb->len = 0;
    if (sb->data)
        sb->data[0] = '\0';
}

void
strbuf_reserve (strbuf_t *sb, size_t extra)
{
    if (sb->len + extra + 1 <= sb->cap)
        return;
    size_t cap = sb->cap ? sb->cap : 256;
    while (cap < sb->len + extra + 1)
        cap *= 2;
    char *data = realloc (sb->data, cap);
    if (!data) {
        fprintf (stderr, "out of memory growing a buffer to %zu bytes\n", cap);
        abort ();
    }
    sb->data = data;
    sb->cap = cap;
}

void
strbuf_append (strbuf_t *sb, const void *data, size_t len)
{
    strbuf_reserve (sb, len);
    if (len) /* an empty buffer's data may be NULL: memcpy must not see it */
        memcpy (sb->data + sb->len, data, len);
    sb->len += len;
    sb->data[sb->len] = '\0';
}

void
strbuf_puts (strbuf_t *sb, const char *s)
{
    strbuf_append (sb, s, strlen (s));
}

void
strbuf_putc (strbuf_t *sb, char c)
{
    strbuf_reserve (sb, 1);
    sb->data[sb->len++] = c;
    sb->data[sb->len] = '\0';
}

void
strbuf_printf (strbuf_t *sb, const char *fmt, ...)
{
    va_list args;
    va_start (args, fmt);
    va_list copy;
    va_copy (copy, args);
    int n = vsnprintf (NULL, 0, fmt, copy);
    va_end (copy);
    strbuf_reserve (sb, n > 0 ? (size_t) n : 0);
    if (n > 0) {
        strbuf_reserve (sb, (size_t) n);
        vsnprintf (sb->data + sb->len, (size_t) n + 1, fmt, args);
        sb->len += (size_t) n;
    }
    va_end (args);
}

int
strbuf_double_digits (double v)
{
    char buf[40];
    for (int digits = 15; digits < 17; digits++) {
        snprintf (buf, sizeof buf, "%.*g", digits, v);
        if (strtod (buf, NULL) == v)
            return digits;
    }
    return 17;
}

void
strbuf_put_double (strbuf_t *sb, double v)
{
    /* 15 significant digits round-trip every decimal of up to 15 digits;
       a double that needs more (a computed value) gets 16 or 17 */
    char buf[40];
    snprintf (buf, sizeof buf, "%.*g", strbuf_double_digits (v), v);
    strbuf_puts (sb, buf);
}

void
strbuf_json_string (strbuf_t *sb, const char *s)
{
    static const char hex[] = "0123456789abcdef";
    size_t n = strlen (s);
    strbuf_reserve (sb, n + 2);
    strbuf_putc (sb, '"');
    for (const unsigned char *p = (const unsigned char *) s; *p; p++) {
        unsigned char c = *p;
        if (c == '"' || c == '\\') {
            strbuf_putc (sb, '\\');
            strbuf_putc (sb, (char) c);
        }
        else if (c < 0x20) {
            char esc[6] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 15]};
            strbuf_append (sb, esc, 6);
        }
        else
            strbuf_putc (sb, (char) c);
    }
    strbuf_putc (sb, '"');
}

void
strbuf_copy_field (strbuf_t *sb, const char *s, size_t len)
{
    strbuf_reserve (sb, 2 * len); /* worst case: every byte escaped */
    char *out = sb->data + sb->len;
    for (size_t i = 0; i < len; i++) {
        char c = s[i];
        switch (c) {
        case '\\':
            *out++ = '\\';
            *out++ = '\\';
            break;
        case '\t':
            *out++ = '\\';
            *out++ = 't';
            break;
        case '\n':
            *out++ = '\\';
            *out++ = 'n';
            break;
        case '\r':
            *out++ = '\\';
            *out++ = 'r';
            break;
        default: *out++ = c;
        }
    }
    sb->len = (size_t) (out - sb->data);
    sb->data[sb->len] = '\0';
}

size_t
utf8_char_len (const unsigned char *p)
{
    if (*p < 0x80)
        return 1;
    size_t n;
    unsigned cp;
    if ((*p & 0xE0) == 0xC0) {
        n = 2;
        cp = *p & 0x1F;
    }
    else if ((*p & 0xF0) == 0xE0) {
        n = 3;
        cp = *p & 0x0F;
    }
    else if ((*p & 0xF8) == 0xF0) {
        n = 4;
        cp = *p & 0x07;
    }
    else
        return 0;
    for (size_t i = 1; i < n; i++) {
        if ((p[i] & 0xC0) != 0x80)
            return 0;
        cp = (cp << 6) | (p[i] & 0x3F);
    }
    if ((n == 2 && cp < 0x80) || (n == 3 && cp < 0x800) || (n == 4 && cp < 0x10000)
        || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
        return 0;
    return n;
}

char *
utf8_safe_copy (char *out, size_t outlen, const char *s)
{
    static const char hex[] = "0123456789ABCDEF";
    const unsigned char *p = (const unsigned char *) s;
    size_t used = 0;
    while (*p) {
        size_t n = utf8_char_len (p);
        if (n == 0) {
            if (used + 4 >= outlen)
                break;
            out[used++] = '\\';
            out[used++] = 'x';
            out[used++] = hex[*p >> 4];
            out[used++] = hex[*p & 15];
            p++;
            continue;
        }
        if (used + n >= outlen)
            break;
        memcpy (out + used, p, n);
        used += n;
        p += n;
    }
    out[used] = '\0';
    return out;
}

void
strbuf_copy_bytea (strbuf_t *sb, const uint8_t *bytes, size_t len)
{
    static const char hex[] = "0123456789abcdef";
    strbuf_reserve (sb, 3 + 2 * len);
    /* COPY text unescapes "\\x" to "\x", which bytea reads as hex */
    strbuf_append (sb, "\\\\x", 3);
    for (size_t i = 0; i < len; i++) {
        sb->data[sb->len++] = hex[bytes[i] >> 4];
        sb->data[sb->len++] = hex[bytes[i] & 15];
    }
    sb->data[sb->len] = '\0';
}

bool
utf8_valid (const char *s)
{
    for (const unsigned char *p = (const unsigned char *) s; *p;) {
        size_t n = utf8_char_len (p);
        if (n == 0)
            return false;
        p += n;
    }
    return true;
}

void
strbuf_url_encode (strbuf_t *sb, const char *s)
{
    static const char hex[] = "0123456789ABCDEF";
    for (const unsigned char *p = (const unsigned char *) s; *p; p++) {
        if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9')
            || *p == '-' || *p == '_' || *p == '.' || *p == '~')
            strbuf_putc (sb, (char) *p);
        else
            strbuf_printf (sb, "%%%c%c", hex[*p >> 4], hex[*p & 15]);
    }
}

char *
str_dup (const char *s)
{
    if (!s)
        return NULL;
    char *d = strdup (s);
    if (!d)
        abort ();
    return d;
}
