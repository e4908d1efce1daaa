/* json.c — a small, strict JSON reader and a string writer; see json.h. */
#include "formats/json.h"

#include "alloc.h"
#include "status.h"
#include "utf8.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Deeper nesting is refused rather than recursed into. */
#define JSON_MAX_DEPTH 64

int json_fail(json_reader *r, const char *fmt, ...) {
    if (!r->error[0]) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(r->error, sizeof r->error, fmt, ap);
        va_end(ap);
    }
    return -1;
}

int json_out_of_memory(json_reader *r) {
    if (!r->error[0]) r->out_of_memory = 1;
    return json_fail(r, "out of memory");
}

lvk_status json_status(const json_reader *r, const char *name) {
    return status_fail(r->out_of_memory ? LVK_ERR_OUT_OF_MEMORY : LVK_ERR_FORMAT, "%s:%d: %s", name, r->line,
                    r->error);
}

/* "expected X, found Y", Y being the byte at the reading position. */
static int expected(json_reader *r, const char *what) {
    if (r->p >= r->end) return json_fail(r, "expected %s, found the end of the input", what);
    unsigned char c = (unsigned char)*r->p;
    if (c >= 0x20 && c < 0x7f) return json_fail(r, "expected %s, found '%c'", what, c);
    return json_fail(r, "expected %s, found byte 0x%02x", what, c);
}

void json_init(json_reader *r, const char *text, size_t n, int line) {
    r->p = text;
    r->end = text + n;
    r->line = line;
    r->error[0] = 0;
    r->out_of_memory = 0;
}

int json_peek(json_reader *r) {
    while (r->p < r->end && (*r->p == ' ' || *r->p == '\t' || *r->p == '\r' || *r->p == '\n')) {
        if (*r->p == '\n') r->line++;
        r->p++;
    }
    return r->p < r->end ? (unsigned char)*r->p : -1;
}

/* The four hex digits at p as a number, -1 if they are not. */
static long hex4(const char *p, const char *end) {
    if (end - p < 4) return -1;
    long v = 0;
    for (int k = 0; k < 4; k++) {
        char c = p[k];
        int d = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
        if (d < 0) return -1;
        v = v * 16 + d;
    }
    return v;
}

/* Decodes the escape after the backslash at r->p into UTF-8 at dst (when not
 * NULL); advances r->p past it and returns the bytes written, -1 on error. */
static int read_escape(json_reader *r, char *dst) {
    char tmp[4], *out = dst ? dst : tmp;
    const char *e = r->p + 1;
    if (e >= r->end) return json_fail(r, "unterminated string");
    switch (*e) {
    case '"': case '\\': case '/': *out = *e; break;
    case 'b': *out = '\b'; break;
    case 'f': *out = '\f'; break;
    case 'n': *out = '\n'; break;
    case 'r': *out = '\r'; break;
    case 't': *out = '\t'; break;
    case 'u': {
        long cp = hex4(e + 1, r->end);
        if (cp < 0) return json_fail(r, "expected 4 hex digits after \\u");
        r->p = e + 5;
        if (cp >= 0xdc00 && cp <= 0xdfff) return json_fail(r, "unpaired surrogate \\u%04lX in a string", cp);
        if (cp >= 0xd800 && cp <= 0xdbff) {
            /* characters beyond the BMP come as a high + low surrogate pair */
            long lo = r->end - r->p >= 2 && r->p[0] == '\\' && r->p[1] == 'u' ? hex4(r->p + 2, r->end) : -1;
            if (lo < 0xdc00 || lo > 0xdfff) return json_fail(r, "unpaired surrogate \\u%04lX in a string", cp);
            cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
            r->p += 6;
        }
        /* strings become C strings: a NUL would silently cut them short */
        if (cp == 0) return json_fail(r, "\\u0000 is not allowed in a string");
        return (int)utf8_encode((uint32_t)cp, out);
    }
    default:
        r->p = e;
        return expected(r, "an escape (\\\" \\\\ \\/ \\b \\f \\n \\r \\t \\uXXXX)");
    }
    r->p = e + 1;
    return 1;
}

/* Reads the string at r->p, writing its UTF-8 to dst (NUL-terminated) when
 * dst is not NULL; dst needs at most as many bytes as the string's source. */
static int read_string(json_reader *r, char *dst) {
    if (json_peek(r) != '"') return expected(r, "a string");
    r->p++;
    size_t n = 0;
    for (;;) {
        if (r->p >= r->end) return json_fail(r, "unterminated string");
        unsigned char c = (unsigned char)*r->p;
        if (c == '"') break;
        if (c < 0x20) return json_fail(r, "control character 0x%02x in a string (write it as an escape)", c);
        int len;
        if (c == '\\') {
            if ((len = read_escape(r, dst ? dst + n : NULL)) < 0) return -1;
        } else {
            uint32_t cp;
            if (!(len = (int)utf8_decode((const uint8_t *)r->p, (size_t)(r->end - r->p), &cp)))
                return json_fail(r, "invalid UTF-8 in a string (byte 0x%02x)", c);
            if (dst) memcpy(dst + n, r->p, (size_t)len);
            r->p += len;
        }
        n += (size_t)len;
    }
    r->p++;
    if (dst) dst[n] = 0;
    return 0;
}

int json_string(json_reader *r, char **out) {
    *out = NULL;
    if (json_peek(r) != '"') return expected(r, "a string");
    /* The decoded text is never longer than its source: size the buffer by
     * the source up to the closing quote. */
    const char *q = r->p + 1;
    while (q < r->end && *q != '"') q += *q == '\\' && q + 1 < r->end ? 2 : 1;
    char *s = mem_malloc((size_t)(q - r->p) + 1);
    if (!s) return json_out_of_memory(r);
    if (read_string(r, s)) {
        mem_free(s);
        return -1;
    }
    *out = s;
    return 0;
}

static int skip_digits(json_reader *r, const char *what) {
    if (r->p >= r->end || *r->p < '0' || *r->p > '9') return expected(r, what);
    while (r->p < r->end && *r->p >= '0' && *r->p <= '9') r->p++;
    return 0;
}

static int skip_number(json_reader *r) {
    if (*r->p == '-') r->p++;
    if (r->p < r->end && *r->p == '0') r->p++; /* no leading zeros */
    else if (skip_digits(r, "a digit")) return -1;
    if (r->p < r->end && *r->p == '.') {
        r->p++;
        if (skip_digits(r, "a digit after '.'")) return -1;
    }
    if (r->p < r->end && (*r->p == 'e' || *r->p == 'E')) {
        r->p++;
        if (r->p < r->end && (*r->p == '+' || *r->p == '-')) r->p++;
        if (skip_digits(r, "a digit in the exponent")) return -1;
    }
    return 0;
}

static int skip_literal(json_reader *r, const char *word) {
    size_t n = strlen(word);
    if ((size_t)(r->end - r->p) < n || memcmp(r->p, word, n)) return expected(r, "a value");
    r->p += n;
    return 0;
}

/* The longest number json_number converts: far beyond a double's 17
 * significant digits, and a bound for the copy strtod needs. */
#define JSON_MAX_NUMBER 64

int json_number(json_reader *r, double *out) {
    int c = json_peek(r);
    if (c != '-' && (c < '0' || c > '9')) return expected(r, "a number");
    const char *start = r->p;
    if (skip_number(r)) return -1;
    size_t n = (size_t)(r->p - start);
    if (n > JSON_MAX_NUMBER) return json_fail(r, "a number of more than %d characters", JSON_MAX_NUMBER);
    char text[JSON_MAX_NUMBER + 1];
    memcpy(text, start, n);
    text[n] = 0;
    *out = strtod(text, NULL); /* the syntax is JSON's, a subset of strtod's */
    return 0;
}

int json_integer(json_reader *r, int64_t *out) {
    int c = json_peek(r);
    if (c != '-' && (c < '0' || c > '9')) return expected(r, "an integer");
    const char *start = r->p;
    if (skip_number(r)) return -1;
    int shown = r->p - start > 40 ? 40 : (int)(r->p - start);
    int64_t v = 0;
    int negative = *start == '-';
    for (const char *d = start + negative; d < r->p; d++) {
        if (*d < '0' || *d > '9') return json_fail(r, "expected an integer, found %.*s", shown, start);
        int digit = *d - '0';
        /* accumulate towards the sign so that INT64_MIN is reachable */
        if (negative ? v < (INT64_MIN + digit) / 10 : v > (INT64_MAX - digit) / 10)
            return json_fail(r, "integer %.*s is out of range", shown, start);
        v = v * 10 + (negative ? -digit : digit);
    }
    *out = v;
    return 0;
}

int json_bool(json_reader *r, int *out) {
    int c = json_peek(r);
    if (c == 't' && skip_literal(r, "true") == 0) *out = 1;
    else if (c == 'f' && skip_literal(r, "false") == 0) *out = 0;
    else return expected(r, "true or false");
    return 0;
}

static int skip_value(json_reader *r, int depth) {
    int c = json_peek(r), count = 0, more;
    char *key;
    if (depth > JSON_MAX_DEPTH) return json_fail(r, "values nested more than %d deep", JSON_MAX_DEPTH);
    switch (c) {
    case '"': return read_string(r, NULL);
    case '{':
        while ((more = json_object_next(r, &count, &key)) == 1) {
            mem_free(key);
            if (skip_value(r, depth + 1)) return -1;
        }
        return more;
    case '[':
        while ((more = json_array_next(r, &count)) == 1)
            if (skip_value(r, depth + 1)) return -1;
        return more;
    case 't': return skip_literal(r, "true");
    case 'f': return skip_literal(r, "false");
    case 'n': return skip_literal(r, "null");
    default:
        if (c == '-' || (c >= '0' && c <= '9')) return skip_number(r);
        return expected(r, "a value");
    }
}

int json_skip(json_reader *r) { return skip_value(r, 0); }

int json_object_next(json_reader *r, int *count, char **key) {
    *key = NULL;
    int c = json_peek(r);
    if (*count == 0) {
        if (c != '{') return expected(r, "'{'");
        r->p++;
        if (json_peek(r) == '}') {
            r->p++;
            return 0;
        }
    } else {
        if (c == '}') {
            r->p++;
            return 0;
        }
        if (c != ',') return expected(r, "',' or '}' after an object member");
        r->p++;
    }
    if (json_peek(r) != '"') return expected(r, *count ? "a key after ','" : "a key or '}'");
    if (json_string(r, key)) return -1;
    if (json_peek(r) != ':') {
        mem_free(*key);
        *key = NULL;
        return expected(r, "':' after an object key");
    }
    r->p++;
    ++*count;
    return 1;
}

int json_array_next(json_reader *r, int *count) {
    int c = json_peek(r);
    if (*count == 0) {
        if (c != '[') return expected(r, "'['");
        r->p++;
        if (json_peek(r) == ']') {
            r->p++;
            return 0;
        }
    } else {
        if (c == ']') {
            r->p++;
            return 0;
        }
        if (c != ',') return expected(r, "',' or ']' after an array element");
        r->p++;
    }
    ++*count;
    return 1;
}

int json_end(json_reader *r) {
    if (json_peek(r) < 0) return 0;
    return expected(r, "nothing more after the value");
}
