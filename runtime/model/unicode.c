/* unicode.c — a binary search in the generated category table. */
#include "model/unicode.h"

typedef struct unicode_range {
    uint32_t first;
    uint8_t category;
} unicode_range;

#include "model/unicode_table.h"

unicode_category unicode_category_of(uint32_t cp) {
    if (cp > 0x10ffff) return UNICODE_OTHER;
    /* the last range whose first code point is <= cp (the first is 0) */
    size_t lo = 0, hi = sizeof unicode_ranges / sizeof unicode_ranges[0];
    while (hi - lo > 1) {
        size_t mid = lo + (hi - lo) / 2;
        if (unicode_ranges[mid].first <= cp) lo = mid;
        else hi = mid;
    }
    return (unicode_category)unicode_ranges[lo].category;
}
