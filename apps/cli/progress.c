/* progress.c — see progress.h. */
#include "progress.h"
#include "cli.h"

#include <stdio.h>
#include <unistd.h>

enum { BAR_WIDTH = 24 };

void progress_start(progress *p, const char *label, int total) {
    *p = (progress){.label = label, .total = total, .t0_ms = cli_now_ms(), .on = isatty(2)};
    progress_show(p, 0, 0);
}

void progress_show(const progress *p, int done, uint64_t tokens) {
    if (!p->on) return;
    char bar[BAR_WIDTH + 1];
    int filled = p->total > 0 ? done * BAR_WIDTH / p->total : BAR_WIDTH;
    for (int i = 0; i < BAR_WIDTH; i++) bar[i] = i < filled ? '#' : '.';
    bar[BAR_WIDTH] = 0;
    double seconds = (cli_now_ms() - p->t0_ms) / 1e3;
    fprintf(stderr, "\rlitevk: %s [%s] %d/%d prompts, %.1f tokens/s\033[K", p->label, bar, done, p->total,
            seconds > 0 ? (double)tokens / seconds : 0.0);
    fflush(stderr);
}

void progress_clear(const progress *p) {
    if (p->on) fputs("\r\033[K", stderr);
}

void progress_end(const progress *p) {
    if (p->on) fputc('\n', stderr);
}
