/* json_write.c — see json_write.h. */
#include "json_write.h"

#include <string.h>

/* Length of the UTF-8 sequence at p (lead and continuation bytes checked),
 * 0 if it is not one: such bytes are escaped, so the output stays valid JSON
 * text (RFC 8259 wants UTF-8). */
static int utf8_length(const unsigned char *p, const unsigned char *end) {
    int n = p[0] < 0x80 ? 1 : p[0] >= 0xc2 && p[0] <= 0xdf ? 2 : p[0] >= 0xe0 && p[0] <= 0xef ? 3
          : p[0] >= 0xf0 && p[0] <= 0xf4 ? 4 : 0;
    if (n == 0 || end - p < n) return 0;
    for (int k = 1; k < n; k++)
        if ((p[k] & 0xc0) != 0x80) return 0;
    return n;
}

void json_write_string(FILE *f, const char *s) {
    const unsigned char *p = (const unsigned char *)s, *end = p + strlen(s);
    fputc('"', f);
    while (p < end) {
        unsigned char c = *p;
        int len = utf8_length(p, end);
        if (c == '"' || c == '\\') fprintf(f, "\\%c", c);
        else if (c == '\n') fputs("\\n", f);
        else if (c == '\t') fputs("\\t", f);
        else if (c == '\r') fputs("\\r", f);
        else if (c < 0x20 || !len) fprintf(f, "\\u%04x", c);
        else {
            fwrite(p, 1, (size_t)len, f);
            p += len;
            continue;
        }
        p++;
    }
    fputc('"', f);
}
