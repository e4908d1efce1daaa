/* progress.h — a progress bar on stderr for commands that work through a
 * prompt set. It is drawn only when stderr is a terminal, so that logs and
 * pipes get no carriage returns. */
#ifndef LVK_CLI_PROGRESS_H
#define LVK_CLI_PROGRESS_H

#include <stdint.h>

typedef struct progress {
    const char *label;
    int total;
    double t0_ms;
    int on; /* stderr is a terminal */
} progress;

void progress_start(progress *p, const char *label, int total);
/* Redraws the bar: prompts done of total, tokens per second since the start. */
void progress_show(const progress *p, int done, uint64_t tokens);
/* Erases the bar, so that a message can take its line; the next show redraws it. */
void progress_clear(const progress *p);
/* Leaves the last bar drawn on its own line. */
void progress_end(const progress *p);

#endif
