/* mapped_file.c — read-only memory mapping of whole files. */
#include "formats/mapped_file.h"
#include "status.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

lvk_status map_file(const char *path, mapped_file *m) {
    memset(m, 0, sizeof *m);
    int fd = open(path, O_RDONLY);
    if (fd < 0) return status_fail(LVK_ERR_IO, "cannot open '%s': %s", path, strerror(errno));
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        return status_fail(LVK_ERR_IO, "'%s' is not a regular file", path);
    }
    m->size = (uint64_t)st.st_size;
    m->dev = st.st_dev;
    m->ino = st.st_ino;
    if (m->size) {
        void *p = mmap(NULL, (size_t)m->size, PROT_READ, MAP_PRIVATE, fd, 0);
        if (p == MAP_FAILED) {
            int e = errno;
            close(fd);
            return status_fail(LVK_ERR_IO, "cannot map '%s': %s", path, strerror(e));
        }
        m->data = p;
    }
    close(fd);
    return LVK_OK;
}

void unmap_file(mapped_file *m) {
    if (m->data) munmap((void *)m->data, (size_t)m->size);
    m->data = NULL;
}

int mapped_file_is(const mapped_file *m, const char *path) {
    struct stat st;
    return stat(path, &st) == 0 && st.st_dev == m->dev && st.st_ino == m->ino;
}
