/* example.c — embedding LiteVK: the README's example, built and run by ctest. */
#include <litevk.h>
#include <stdio.h>

int main(int argc, char **argv) {
    lvk_context *ctx; lvk_model *model; lvk_session *session; lvk_token_info t;
    if (lvk_context_create(NULL, &ctx) || lvk_model_load(ctx, argc > 1 ? argv[1] : "assets/stories260K.gguf", NULL, &model) ||
        lvk_session_create(model, NULL, &session) || lvk_session_feed(session, "Once upon a time", 1)) {
        fprintf(stderr, "litevk: %s\n", lvk_last_error());
        return 1;
    }
    for (int i = 0; i < 40 && lvk_session_step(session, &t) == LVK_OK && !t.is_eog; i++)
        printf("%s", t.piece);
    printf("\n");
    lvk_session_free(session); lvk_model_free(model); lvk_context_free(ctx);
    return 0;
}
