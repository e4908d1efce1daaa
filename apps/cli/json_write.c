/* json_write.c — see json_write.h. */
#include "json_write.h"
#include "litevk.h"

#include <string.h>

void json_write_string(FILE *f, const char *s) {
    const unsigned char *p = (const unsigned char *)s, *end = p + strlen(s);
    fputc('"', f);
    while (p < end) {
        unsigned char c = *p;
        /* bytes that are not UTF-8 are escaped, so the output stays valid JSON text
         * (RFC 8259 wants UTF-8) */
        int len = (int)lvk_utf8_char_length((const char *)p, (size_t)(end - p));
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
