/* mapped_file.h — a whole file memory-mapped read-only, with clear errors. */
#ifndef LVK_MAPPED_FILE_H
#define LVK_MAPPED_FILE_H

#include "litevk.h"

#include <stdint.h>
#include <sys/types.h>

typedef struct mapped_file {
    const uint8_t *data; /* NULL for an empty file */
    uint64_t size;
    dev_t dev; /* identity, to refuse writing over an input */
    ino_t ino;
} mapped_file;

lvk_status map_file(const char *path, mapped_file *m);
void unmap_file(mapped_file *m);
/* Whether `path` names the mapped file (writing over it would truncate it
 * under the mapping: SIGBUS). */
int mapped_file_is(const mapped_file *m, const char *path);

#endif
