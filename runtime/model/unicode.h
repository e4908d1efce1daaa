/* unicode.h — UTF-8 decoding and encoding, and the Unicode categories that
 * byte-level BPE's pre-tokenizers ask about (letter, number, white space). */
#ifndef LVK_UNICODE_H
#define LVK_UNICODE_H

#include <stddef.h>
#include <stdint.h>

typedef enum unicode_category {
    UNICODE_OTHER,  /* punctuation, symbols, marks, controls, unassigned */
    UNICODE_LETTER, /* \p{L} */
    UNICODE_NUMBER, /* \p{N} */
    UNICODE_SPACE,  /* \s: the White_Space property */
} unicode_category;

/* Length of the UTF-8 character at s[0..n) (n >= 1), with its code point in
 * *cp, or 0 when it is malformed: truncated, a stray continuation byte,
 * overlong, a surrogate or past U+10FFFF (RFC 3629). */
size_t utf8_decode(const uint8_t *s, size_t n, uint32_t *cp);

/* Bytes of the UTF-8 of code point cp (at most U+10FFFF): 1..4. */
size_t utf8_length(uint32_t cp);

/* Writes the UTF-8 of code point cp (at most U+10FFFF, not a surrogate) to
 * out and returns its length, 1..4. */
size_t utf8_encode(uint32_t cp, char out[4]);

/* The category of code point cp (UNICODE_OTHER past U+10FFFF). */
unicode_category unicode_category_of(uint32_t cp);

#endif
