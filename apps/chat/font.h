/* font.h — finding a font file at run time. */
#ifndef LVK_CHAT_FONT_H
#define LVK_CHAT_FONT_H

#include <stddef.h>

/* A sans-serif TrueType font: fontconfig's choice (`fc-match`), else DejaVu
 * Sans or Liberation Sans at the usual paths of Debian, Fedora, Arch and
 * macOS. Returns 0 with the path in out, or -1 when none is found. */
int font_find(char *out, size_t size);

#endif
