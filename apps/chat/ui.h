/* ui.h — the chat window: transcript, input box, controls and the exit panel. */
#ifndef LVK_CHAT_UI_H
#define LVK_CHAT_UI_H

#include "worker.h"

typedef struct ui_options {
    const char *font_path;  /* NULL = font_find */
    const char *model_path; /* shown until the model is loaded */
    const char *script;     /* --script FILE: one user turn per line, then screenshot and exit */
    const char *screenshot; /* --screenshot OUT.png */
    int width, height;      /* initial window size in points */
} ui_options;

/* Runs the window until it is closed (or the script ends); returns the exit status. */
int ui_run(const ui_options *o, worker *w);

#endif
