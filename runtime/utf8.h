/* utf8.h — UTF-8 decoding and encoding (RFC 3629), for the JSON reader, the
 * tokenizers and lvk_utf8_char_length. */
#ifndef LVK_UTF8_H
#define LVK_UTF8_H

#include <stddef.h>
#include <stdint.h>

/* Length of the UTF-8 character at s[0..n) (n >= 1), with its code point in
 * *cp, or 0 when it is malformed: truncated, a stray continuation byte,
 * overlong, a surrogate or past U+10FFFF (RFC 3629). */
size_t utf8_decode(const uint8_t *s, size_t n, uint32_t *cp);

/* Bytes of the UTF-8 of code point cp (at most U+10FFFF): 1..4. */
size_t utf8_length(uint32_t cp);

/* Writes the UTF-8 of code point cp (at most U+10FFFF, not a surrogate) to
 * out and returns its length, 1..4. */
size_t utf8_encode(uint32_t cp, char out[4]);

#endif
