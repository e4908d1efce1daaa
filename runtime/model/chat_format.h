/* chat_format.h — chat formats: a conversation of messages (role, content)
 * as the text a model was trained on, in pieces that keep the format's own
 * text (its markers, whose special tokens are parsed) apart from the
 * messages' content (never parsed: a user typing "</s>" writes text). */
#ifndef LVK_CHAT_FORMAT_H
#define LVK_CHAT_FORMAT_H

#include "litevk.h"
#include "model/tokenizer.h"

typedef struct chat_format chat_format;

/* Where a piece stands in its message. */
typedef enum chat_part {
    CHAT_OPENING, /* the markers before the content (and, where a turn opens, the turn's) */
    CHAT_CONTENT, /* a message's content: never parsed for special tokens */
    CHAT_CLOSING, /* the markers after the content */
} chat_part;

typedef struct chat_piece {
    const char *text; /* a format's string or a message's content: not a copy */
    size_t len;
    int message; /* the message it belongs to; n_messages for the assistant's opening */
    chat_part part;
} chat_piece;

typedef struct chat_pieces {
    chat_piece *items;
    size_t n, cap;
} chat_pieces;

/* The formats, in the order lvk_chat_format_name counts them. */
extern const chat_format *const chat_formats[];
extern const int n_chat_formats;

/* The format named `text`, else the one whose markers the Jinja template
 * `text` (len bytes, not NUL-terminated) shows; LVK_ERR_UNSUPPORTED naming
 * the known formats when neither. */
lvk_status chat_format_find(const char *text, size_t len, const chat_format **out);
const char *chat_format_name(const chat_format *f);
/* Text that ends a reply when the model writes it out (NULL-terminated). */
const char *const *chat_format_stop_strings(const chat_format *f);

/* The conversation's pieces in order, appended to *out (free with
 * chat_pieces_free); add_assistant appends the opening of the assistant's
 * turn. Roles must be "system", "user" or "assistant". */
lvk_status chat_format_render(const chat_format *f, const lvk_chat_message *messages, int n_messages,
                              int add_assistant, chat_pieces *out);
void chat_pieces_free(chat_pieces *p);

/* Tokenizes pieces[0..n) as one text, with special tokens parsed in the
 * format's text and never in content, and `flags` (LVK_TOKENIZE_BOS or 0).
 * *ids is allocated (free with mem_free), *n_ids its length. */
lvk_status chat_pieces_encode(const text_tokenizer *t, const chat_piece *pieces, size_t n, unsigned flags,
                              int32_t **ids, int *n_ids);

#endif
