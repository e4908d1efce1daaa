/* fuzz_chat_template.c — the chat app's prompt templates and its stop-string
 * matcher. The input: a template number byte, a "first turn" byte, then
 * NUL-terminated fields: a name / Jinja text (template_parse and
 * template_detect), the user's text (template_user_turn), and then the reply's
 * pieces, each a length byte and that many bytes, fed to the matcher with the
 * template's stop strings. */
#include "fuzz.h"
#include "template.h"

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

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 2) return 0;
    /* one value past the last template: out-of-range values fall back to raw */
    chat_template t = (chat_template)(data[0] % (TEMPLATE_CHATML + 2));
    int first = data[1] & 1;
    const uint8_t *p = data + 2, *end = data + size;

    char *name = field(&p, end);
    int parsed = template_parse(name);
    FUZZ_CHECK(parsed == -1 || !strcmp(template_name((chat_template)parsed), name));
    FUZZ_CHECK(template_detect(name) <= TEMPLATE_CHATML);
    free(name);

    char *user = field(&p, end);
    char *turn = template_user_turn(t, user, first);
    FUZZ_CHECK(turn && strstr(turn, user));
    free(turn);
    free(user);

    /* The matcher shows a growing prefix of the reply and stops exactly at the
     * first stop string of everything fed (no stop string of these templates
     * can start inside another, so the first to complete is the first to start). */
    const char *const *stops = template_stops(t);
    stop_matcher m;
    stop_matcher_init(&m, stops);
    char *all = malloc(size + 1);
    FUZZ_CHECK(all);
    size_t n_all = 0;
    long shown = 0;
    while (p < end) {
        size_t n = *p++;
        if (n > (size_t)(end - p)) n = (size_t)(end - p);
        long now = stop_matcher_feed(&m, (const char *)p, n);
        FUZZ_CHECK(now >= shown && (size_t)now <= n_all + n);
        shown = now;
        memcpy(all + n_all, p, n);
        n_all += n;
        p += n;
    }
    long stop = first_stop(stops, all, n_all);
    FUZZ_CHECK(m.stopped == (stop >= 0));
    FUZZ_CHECK(!m.stopped || (m.stop_at == (size_t)stop && shown == stop));
    FUZZ_CHECK(m.stopped || first_stop(stops, all, (size_t)shown) < 0);
    free(all);
    stop_matcher_free(&m);
    return 0;
}
