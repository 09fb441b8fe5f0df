/*  strbuf: a growable byte buffer, with the two escapings onenet writes on
    its hot path: JSON string literals and PostgreSQL COPY text fields.

    Allocation failure aborts (the hub cannot do anything useful without
    memory, and every buffer is bounded by the message size limits). */
#ifndef ONENET_STRBUF_H
#define ONENET_STRBUF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct {
    char *data; /* bytes, always NUL-terminated after the last one */
    size_t len; /* bytes in use, not counting the NUL */
    size_t cap; /* bytes allocated */
} strbuf_t;

void strbuf_init (strbuf_t *sb);
void strbuf_free (strbuf_t *sb);
/* Empties the buffer but keeps its memory for reuse. */
void strbuf_reset (strbuf_t *sb);
void strbuf_reserve (strbuf_t *sb, size_t extra);
void strbuf_append (strbuf_t *sb, const void *data, size_t len);
void strbuf_puts (strbuf_t *sb, const char *s);
void strbuf_putc (strbuf_t *sb, char c);
void strbuf_printf (strbuf_t *sb, const char *fmt, ...)
    __attribute__ ((format (printf, 2, 3)));
/* Appends s percent-encoded for a URL's query string (RFC 3986: every byte
   but A-Z a-z 0-9 - _ . ~ as %XX). */
void strbuf_url_encode (strbuf_t *sb, const char *s);
/* A malloc'd copy of s, NULL for NULL; aborts when memory runs out (the
   hub and the adapters do not carry on without it). */
char *str_dup (const char *s);
/* Appends s as a quoted JSON string ("a\"b"), escaping controls. */
void strbuf_json_string (strbuf_t *sb, const char *s);
/* Appends a finite double as the shortest decimal that reads back as the
   same double: 2718.44 as "2718.44", not "2718.4400000000001", so that an
   amount an agency wrote with up to 15 significant digits is stored digit
   for digit. */
void strbuf_put_double (strbuf_t *sb, double v);
/* Significant digits (15, 16 or 17) of the shortest %g form that reads
   back as v: 15 for every decimal of up to 15 digits. */
int strbuf_double_digits (double v);
/* Appends len bytes of s escaped for COPY ... FROM STDIN text format
   (backslash, tab, newline, carriage return). */
void strbuf_copy_field (strbuf_t *sb, const char *s, size_t len);
/* Length in bytes (1-4) of the well-formed UTF-8 character at p, or 0 when
   p starts no such character (a stray continuation byte, an overlong
   form, a surrogate, past U+10FFFF). p points at a NUL-terminated string. */
size_t utf8_char_len (const unsigned char *p);

/* True when S (NUL-terminated) is valid UTF-8 throughout. */
bool utf8_valid (const char *s);

/* Copies s into out (outlen bytes, NUL included) for quoting in a message
   or storing as text: never cuts a UTF-8 character in half, and writes
   bytes that are not UTF-8 as \xNN, so out is valid UTF-8 whatever came
   over the wire. Returns out. */
char *utf8_safe_copy (char *out, size_t outlen, const char *s);
/* Appends bytes as a COPY text field of type bytea (\\x hex form). */
void strbuf_copy_bytea (strbuf_t *sb, const uint8_t *bytes, size_t len);

#endif
