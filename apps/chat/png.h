/* png.h — writing an RGB(A) image as a PNG file (uncompressed deflate blocks:
 * no zlib needed; screenshots are small). */
#ifndef LVK_CHAT_PNG_H
#define LVK_CHAT_PNG_H

#include <stdint.h>

/* pixels: rows of width * 4 bytes in R, G, B, A order, `pitch` bytes apart.
 * Returns 0, or -1 with errno set when the file cannot be written. */
int png_write_rgba(const char *path, const uint8_t *pixels, int width, int height, int pitch);

#endif
