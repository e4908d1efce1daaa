/* json_write.h — the CLI's JSON output (run --json, bench --json): strings
 * escaped for JSON. The CLI writes JSON only; what it reads as JSON (prompt
 * sets, tokenize --jsonl lines) the library parses. */
#ifndef LVK_CLI_JSON_WRITE_H
#define LVK_CLI_JSON_WRITE_H

#include <stdio.h>

/* Writes s as a JSON string: valid UTF-8 sequences as they are, other bytes
 * (a token piece can be half a character) as \u00XX. */
void json_write_string(FILE *f, const char *s);

#endif
