/* png.c — see png.h.
 *
 * A PNG (RFC 2083) is an 8-byte signature and chunks: IHDR (the size and pixel
 * format), IDAT (the pixels, as a zlib stream, RFC 1950) and IEND. Each row
 * of pixels is preceded by its filter type, 0 (none), and the zlib stream
 * holds them in stored deflate blocks (RFC 1951 section 3.2.4): up to 65535
 * bytes copied as they are, behind a 5-byte header. */
#include "png.h"

#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_STORED 65535 /* the most bytes a stored block holds: its length is 16 bits */

static void put_be32(uint8_t *p, uint32_t v) {
    p[0] = (uint8_t)(v >> 24), p[1] = (uint8_t)(v >> 16), p[2] = (uint8_t)(v >> 8), p[3] = (uint8_t)v;
}

/* The CRC-32 of PNG and zlib (polynomial 0xEDB88320, reflected), a byte at a
 * time from a table of the CRCs of all bytes. */
static void crc_table_init(uint32_t table[256]) {
    for (uint32_t n = 0; n < 256; n++) {
        uint32_t c = n;
        for (int k = 0; k < 8; k++) c = c & 1 ? 0xEDB88320u ^ (c >> 1) : c >> 1;
        table[n] = c;
    }
}

static uint32_t crc_update(const uint32_t table[256], uint32_t crc, const uint8_t *p, size_t n) {
    for (size_t i = 0; i < n; i++) crc = table[(crc ^ p[i]) & 0xFF] ^ (crc >> 8);
    return crc;
}

/* Writes a chunk: length, type, data, and the CRC of type and data. */
static int write_chunk(FILE *f, const uint32_t crc_table[256], const char *type, const uint8_t *data, size_t n) {
    uint8_t head[8], tail[4];
    put_be32(head, (uint32_t)n);
    memcpy(head + 4, type, 4);
    uint32_t crc = crc_update(crc_table, 0xFFFFFFFFu, head + 4, 4);
    crc = crc_update(crc_table, crc, data, n);
    put_be32(tail, crc ^ 0xFFFFFFFFu);
    if (fwrite(head, 1, 8, f) != 8 || (n && fwrite(data, 1, n, f) != n) || fwrite(tail, 1, 4, f) != 4) return -1;
    return 0;
}

/* zlib's checksum of the uncompressed data (RFC 1950 section 8.2). */
static uint32_t adler32(const uint8_t *p, size_t n) {
    uint32_t a = 1, b = 0;
    for (size_t i = 0; i < n; i++) {
        a = (a + p[i]) % 65521;
        b = (b + a) % 65521;
    }
    return b << 16 | a;
}

/* The zlib stream of n > 0 raw bytes in stored blocks; *size is set to its length. */
static uint8_t *zlib_stored(const uint8_t *raw, size_t n, size_t *size) {
    size_t n_blocks = (n + MAX_STORED - 1) / MAX_STORED;
    *size = 2 + 5 * n_blocks + n + 4;
    uint8_t *z = malloc(*size), *p = z;
    if (!z) return NULL;
    /* CMF 0x78: deflate with a 32K window; FLG 0x01: no dictionary, fastest
     * level, and a check value making CMF * 256 + FLG a multiple of 31. */
    *p++ = 0x78, *p++ = 0x01;
    for (size_t at = 0, b = 0; b < n_blocks; b++) {
        size_t len = n - at < MAX_STORED ? n - at : MAX_STORED;
        *p++ = b == n_blocks - 1; /* BFINAL on the last block; BTYPE 00: stored */
        *p++ = (uint8_t)len, *p++ = (uint8_t)(len >> 8);
        *p++ = (uint8_t)~len, *p++ = (uint8_t)(~len >> 8); /* NLEN: the one's complement of LEN */
        memcpy(p, raw + at, len);
        p += len, at += len;
    }
    put_be32(p, adler32(raw, n));
    return z;
}

int png_write_rgba(const char *path, const uint8_t *pixels, int width, int height, int pitch) {
    if (width <= 0 || height <= 0) { /* PNG has no empty images */
        errno = EINVAL;
        return -1;
    }
    /* The rows, each behind its filter byte. */
    size_t row = 1 + 4 * (size_t)width, n_raw = row * (size_t)height;
    uint8_t *raw = malloc(n_raw);
    if (!raw) return -1;
    for (int y = 0; y < height; y++) {
        raw[(size_t)y * row] = 0;
        memcpy(raw + (size_t)y * row + 1, pixels + (ptrdiff_t)y * pitch, row - 1);
    }
    size_t n_idat;
    uint8_t *idat = zlib_stored(raw, n_raw, &n_idat);
    free(raw);
    if (!idat) return -1;

    uint8_t ihdr[13];
    put_be32(ihdr, (uint32_t)width);
    put_be32(ihdr + 4, (uint32_t)height);
    ihdr[8] = 8;  /* bits per channel */
    ihdr[9] = 6;  /* colour type: RGBA */
    ihdr[10] = 0; /* compression: deflate */
    ihdr[11] = 0; /* filtering: the five basic filters */
    ihdr[12] = 0; /* no interlacing */
    static const uint8_t signature[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1A, '\n'};
    uint32_t crc_table[256];
    crc_table_init(crc_table);

    FILE *f = fopen(path, "wb");
    if (!f) {
        free(idat);
        return -1;
    }
    int failed = fwrite(signature, 1, 8, f) != 8 || write_chunk(f, crc_table, "IHDR", ihdr, 13) ||
                 write_chunk(f, crc_table, "IDAT", idat, n_idat) || write_chunk(f, crc_table, "IEND", NULL, 0);
    free(idat);
    if (fclose(f) != 0) failed = 1;
    if (failed) {
        /* no half-written file is left behind, and errno stays fwrite's or fclose's */
        int saved = errno;
        remove(path);
        errno = saved;
        return -1;
    }
    return 0;
}
