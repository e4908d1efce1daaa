/* json.h — a small, strict JSON reader (RFC 8259).
 *
 * The reader walks the text in place: the caller asks for what it expects
 * next (an object member, an array element, a string, a number) and skips
 * the rest. It reads prompt sets (api_prompts.c) and, for the converter, Hugging
 * Face's config.json, tokenizer.json and safetensors headers. Every reading
 * function returns 0 on success, or -1 after recording the first error in
 * r->error ("expected ':' after an object key, found '}'"). Strings it
 * returns come from mem_malloc: release them with mem_free. */
#ifndef LVK_JSON_H
#define LVK_JSON_H

#include "litevk.h"

#include <stddef.h>
#include <stdint.h>

typedef struct json_reader {
    const char *p, *end;
    int line;          /* line of p: the line given to json_init plus newlines passed */
    char error[160];   /* the first error, "" while there is none */
    int out_of_memory; /* the error is an allocation's */
} json_reader;

/* Reads text[0..n), whose first line is `line` (for messages). */
void json_init(json_reader *r, const char *text, size_t n, int line);
/* The next byte after whitespace, not consumed; -1 at the end. */
int json_peek(json_reader *r);
/* A string value, decoded to UTF-8 (escapes, \uXXXX and surrogate pairs);
 * *out is NUL-terminated, from mem_malloc, and the caller frees it with
 * mem_free. \u0000 is refused: the text could not be a C string. */
int json_string(json_reader *r, char **out);
/* A number, as the nearest double. */
int json_number(json_reader *r, double *out);
/* A number written as an integer (no fraction or exponent) in
 * INT64_MIN..INT64_MAX. */
int json_integer(json_reader *r, int64_t *out);
/* true or false, as 1 or 0. */
int json_bool(json_reader *r, int *out);
/* Any value (nested objects and arrays included), checked and discarded. */
int json_skip(json_reader *r);
/* Walks an object: call with *count = 0 at the '{', then again after reading
 * or skipping each member's value. Returns 1 when a member follows (its key
 * in *key, to be freed with mem_free, and the ':' consumed), 0 when the '}'
 * has been consumed, -1 on error. */
int json_object_next(json_reader *r, int *count, char **key);
/* Walks an array the same way: 1 when an element follows, 0 after the ']'. */
int json_array_next(json_reader *r, int *count);
/* 0 when nothing but whitespace is left; else -1 with an error. */
int json_end(json_reader *r);
/* Records an error of the caller's (a value of the wrong kind, say) the
 * way the reader records its own, and returns -1. */
int json_fail(json_reader *r, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;

/* Records "out of memory" (a caller's allocation failed) and returns -1. */
int json_out_of_memory(json_reader *r);
/* The library's status for the reader's error: LVK_ERR_OUT_OF_MEMORY or
 * LVK_ERR_FORMAT, with the message "NAME:LINE: ERROR". */
lvk_status json_status(const json_reader *r, const char *name);

#endif
