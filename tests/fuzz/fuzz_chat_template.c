/* fuzz_chat_template.c — the library's chat formats (detection, the text of
 * a conversation, its tokens) and the stop-string matcher that ends a
 * reply (apps/cli/reply.c). The input:
 *   byte 0: the format, by index; one past the last: the text field below
 *           names it (or is a Jinja template)
 *   byte 1: bit 0 opens the assistant's turn; bits 1-3: messages (0-7)
 *   a NUL-terminated text: detected (lvk_chat_format_detect)
 *   the messages, each NUL-terminated: a role byte (system, user,
 *           assistant, or one no format knows), then the content
 *   the reply's pieces, each a length byte and that many bytes, fed to the
 *           matcher with the format's stop strings. */
#include "alloc.h"
#include "model/chat_format.h"
#include "fuzz.h"
#include "reply.h"

#include <string.h>

/* A NUL-terminated field at *p (the rest of the input when there is no NUL);
 * moves *p past it. */
static char *field(const uint8_t **p, const uint8_t *end) {
    const uint8_t *nul = memchr(*p, 0, (size_t)(end - *p));
    size_t n = (size_t)((nul ? nul : end) - *p);
    char *s = malloc(n + 1);
    FUZZ_CHECK(s);
    memcpy(s, *p, n);
    s[n] = 0;
    *p = nul ? nul + 1 : end;
    return s;
}

/* Where the first stop string starts in text[0..len), or -1. */
static long first_stop(const char *const *stops, const char *text, size_t len) {
    long best = -1;
    for (; *stops; stops++) {
        const char *hit = memmem(text, len, *stops, strlen(*stops));
        if (hit && (best < 0 || hit - text < best)) best = hit - text;
    }
    return best;
}

/* The conversation's text, checked against a smaller buffer's; NULL when
 * the library refused the conversation. */
static char *apply(const char *format, const lvk_chat_message *messages, int n, int add_assistant) {
    size_t len = 0, again = 0;
    if (FUZZ_CALL(lvk_chat_apply_template(format, messages, n, add_assistant, NULL, 0, &len)) != LVK_OK) return NULL;
    char *text = malloc(len + 1), half[64];
    FUZZ_CHECK(text);
    FUZZ_CHECK(lvk_chat_apply_template(format, messages, n, add_assistant, text, len + 1, &again) == LVK_OK);
    FUZZ_CHECK(again == len && strlen(text) <= len);
    FUZZ_CHECK(lvk_chat_apply_template(format, messages, n, add_assistant, half, sizeof half, &again) == LVK_OK);
    FUZZ_CHECK(!strncmp(half, text, sizeof half - 1)); /* a truncated text is the start of the whole */
    return text;
}

static int is_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'; }

/* Whether the content, trimmed as some formats trim it, is in the text
 * (contents may hold NULs: up to the first, as the library reads them). */
static int contains_content(const char *text, const char *content) {
    size_t start = 0, end = strlen(content);
    while (start < end && is_space(content[start])) start++;
    while (end > start && is_space(content[end - 1])) end--;
    return memmem(text, strlen(text), content + start, end - start) != NULL;
}

static const text_tokenizer *default_tokenizer(void) {
    static text_tokenizer *t;
    if (!t) {
        gguf_file *f;
        FUZZ_CHECK(gguf_open(LITEVK_ASSETS_DIR "/stories260K.gguf", &f) == LVK_OK);
        FUZZ_CHECK(tokenizer_load(f, &t) == LVK_OK);
        gguf_close(f);
    }
    return t;
}

/* The conversation's tokens: markers parsed, content never. For raw, all
 * of it is content: the tokens are the text's without special tokens. */
static void check_tokens(const char *format, const lvk_chat_message *messages, int n, int add_assistant,
                         const char *text) {
    const chat_format *f;
    FUZZ_CHECK(chat_format_find(format, strlen(format), &f) == LVK_OK);
    chat_pieces pieces = {0};
    FUZZ_CHECK(chat_format_render(f, messages, n, add_assistant, &pieces) == LVK_OK);
    int32_t *ids;
    int n_ids;
    if (FUZZ_CALL(chat_pieces_encode(default_tokenizer(), pieces.items, pieces.n, 0, &ids, &n_ids)) == LVK_OK) {
        if (!strcmp(chat_format_name(f), "raw")) {
            int n_plain = 0;
            FUZZ_CHECK(tokenizer_encode(default_tokenizer(), text, strlen(text), 0, NULL, 0, &n_plain) == LVK_OK);
            int32_t *plain = malloc(sizeof *plain * ((size_t)n_plain + 1));
            FUZZ_CHECK(plain);
            FUZZ_CHECK(tokenizer_encode(default_tokenizer(), text, strlen(text), 0, plain, n_plain, &n_plain) == LVK_OK);
            FUZZ_CHECK(n_plain == n_ids && !memcmp(plain, ids, sizeof *ids * (size_t)n_ids));
            free(plain);
        }
        mem_free(ids);
    }
    chat_pieces_free(&pieces);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 2) return 0;
    int n_formats = 0;
    while (lvk_chat_format_name(n_formats)) n_formats++;
    int pick = data[0] % (n_formats + 1), add_assistant = data[1] & 1, n = (data[1] >> 1) & 7;
    const uint8_t *p = data + 2, *end = data + size;

    /* detection: a known name, or an error that says why */
    char *text = field(&p, end);
    const char *detected = NULL;
    int found = FUZZ_CALL(lvk_chat_format_detect(text, &detected)) == LVK_OK;
    int known = 0;
    for (int i = 0; i < n_formats; i++) known |= found && detected == lvk_chat_format_name(i);
    FUZZ_CHECK(found == known && (lvk_chat_format_stop_strings(text) != NULL) == found);
    for (int i = 0; i < n_formats; i++)
        if (!strcmp(text, lvk_chat_format_name(i))) FUZZ_CHECK(detected == lvk_chat_format_name(i));
    const char *format = pick < n_formats ? lvk_chat_format_name(pick) : found ? detected : "raw";

    /* the conversation */
    static const char *const roles[] = {"system", "user", "assistant", "tool"};
    lvk_chat_message messages[7];
    char *contents[7];
    int bad_role = 0;
    for (int i = 0; i < n; i++) {
        contents[i] = field(&p, end);
        const char *role = roles[(uint8_t)contents[i][0] % 4];
        bad_role |= !strcmp(role, "tool");
        messages[i] = (lvk_chat_message){.role = role, .content = contents[i][0] ? contents[i] + 1 : contents[i]};
    }
    char *whole = apply(format, messages, n, add_assistant);
    FUZZ_CHECK((whole == NULL) == bad_role);
    if (whole) {
        /* every content is in the text, but Gemma's system messages that no user message follows */
        for (int i = 0; i < n; i++) {
            int folded_away = !strcmp(format, "gemma") && !strcmp(messages[i].role, "system");
            for (int k = i + 1; k < n && folded_away; k++) folded_away = strcmp(messages[k].role, "user") != 0;
            FUZZ_CHECK(folded_away || contains_content(whole, messages[i].content));
        }
        /* the model's prompt before a reply is where the conversation with the reply starts */
        if (n > 0 && !strcmp(messages[n - 1].role, "assistant")) {
            char *prompt = apply(format, messages, n - 1, 1);
            char *closed = apply(format, messages, n, 0);
            FUZZ_CHECK(prompt && closed && !strncmp(prompt, closed, strlen(prompt)));
            free(prompt);
            free(closed);
        }
        check_tokens(format, messages, n, add_assistant, whole);
    }
    free(whole);
    for (int i = 0; i < n; i++) free(contents[i]);
    free(text);

    /* The matcher shows a growing prefix of the reply and stops exactly at the
     * first stop string of everything fed (no stop string of these formats
     * can start inside another, so the first to complete is the first to start). */
    const char *const *stops = lvk_chat_format_stop_strings(format);
    FUZZ_CHECK(stops);
    stop_matcher m;
    stop_matcher_init(&m, stops);
    char *all = malloc(size + 1);
    FUZZ_CHECK(all);
    size_t n_all = 0;
    long shown = 0;
    while (p < end) {
        size_t len = *p++;
        if (len > (size_t)(end - p)) len = (size_t)(end - p);
        long now = stop_matcher_feed(&m, (const char *)p, len);
        FUZZ_CHECK(now >= shown && (size_t)now <= n_all + len);
        shown = now;
        memcpy(all + n_all, p, len);
        n_all += len;
        p += len;
    }
    long stop = first_stop(stops, all, n_all);
    FUZZ_CHECK(m.stopped == (stop >= 0));
    FUZZ_CHECK(!m.stopped || (m.stop_at == (size_t)stop && shown == stop));
    FUZZ_CHECK(m.stopped || first_stop(stops, all, (size_t)shown) < 0);
    free(all);
    stop_matcher_free(&m);
    return 0;
}
