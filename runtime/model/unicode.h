/* unicode.h — the Unicode categories that byte-level BPE's pre-tokenizers ask
 * about (letter, number, white space), of code points that utf8.h decodes. */
#ifndef LVK_UNICODE_H
#define LVK_UNICODE_H

#include <stddef.h>
#include <stdint.h>

#include "utf8.h"

typedef enum unicode_category {
    UNICODE_OTHER,  /* punctuation, symbols, marks, controls, unassigned */
    UNICODE_LETTER, /* \p{L} */
    UNICODE_NUMBER, /* \p{N} */
    UNICODE_SPACE,  /* \s: the White_Space property */
} unicode_category;

/* The category of code point cp (UNICODE_OTHER past U+10FFFF). */
unicode_category unicode_category_of(uint32_t cp);

#endif
