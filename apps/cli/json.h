/* json.h — a small, strict JSON reader (RFC 8259) for prompt files, and a
 * string writer for the commands' --json output.
 *
 * The reader walks the text in place: the caller asks for what it expects
 * next (an object member, an array element, a string) and skips the rest.
 * Every reading function returns 0 on success, or -1 after recording the
 * first error in r->error ("expected ':' after an object key, found '}'"). */
#ifndef LVK_CLI_JSON_H
#define LVK_CLI_JSON_H

#include <stddef.h>
#include <stdio.h>

typedef struct json_reader {
    const char *p, *end;
    int line;         /* line of p: the line given to json_init plus newlines passed */
    char error[160];  /* the first error, "" while there is none */
} json_reader;

/* Reads text[0..n), whose first line is `line` (for messages). */
void json_init(json_reader *r, const char *text, size_t n, int line);
/* The next byte after whitespace, not consumed; -1 at the end. */
int json_peek(json_reader *r);
/* A string value, decoded to UTF-8 (escapes, \uXXXX and surrogate pairs);
 * *out is malloc'd and the caller frees it. */
int json_string(json_reader *r, char **out);
/* Any value (nested objects and arrays included), checked and discarded. */
int json_skip(json_reader *r);
/* Walks an object: call with *count = 0 at the '{', then again after reading
 * or skipping each member's value. Returns 1 when a member follows (its key
 * in *key, malloc'd, and the ':' consumed), 0 when the '}' has been consumed,
 * -1 on error. */
int json_object_next(json_reader *r, int *count, char **key);
/* Walks an array the same way: 1 when an element follows, 0 after the ']'. */
int json_array_next(json_reader *r, int *count);
/* 0 when nothing but whitespace is left; else -1 with an error. */
int json_end(json_reader *r);

/* Writes s as a JSON string: valid UTF-8 sequences as they are, other bytes
 * (a token piece can be half a character) as \u00XX. */
void json_write_string(FILE *f, const char *s);

#endif
