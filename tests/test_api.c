/* test_api.c — the public API end to end: greedy generation equals the
 * reference forward token for token, and every kind of bad input or
 * out-of-order call returns a clear status (never a crash). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "litevk.h"
#include "forward/reference.h"
#include "synth.h"

#define MODEL LITEVK_ASSETS_DIR "/stories260K.gguf"

typedef struct fixture {
    lvk_context *ctx;
    lvk_model *model;
} fixture;

static int setup(void **state) {
    static fixture f;
    if (lvk_context_create(NULL, &f.ctx) != LVK_OK || lvk_model_load(f.ctx, MODEL, NULL, &f.model) != LVK_OK) {
        fprintf(stderr, "setup: %s\n", lvk_last_error());
        return -1;
    }
    *state = &f;
    return 0;
}

static int teardown(void **state) {
    fixture *f = *state;
    uint32_t messages = lvk_context_validation_messages(f->ctx);
    lvk_model_free(f->model);
    lvk_context_free(f->ctx);
    return messages == 0 ? 0 : -1; /* any validation message fails the suite */
}

static void expect_error(lvk_status got, lvk_status want) {
    assert_int_equal(got, want);
    assert_true(strlen(lvk_last_error()) > 0);
}

/* What the reference forward (llama2.c's algorithm) chooses greedily after
 * the prompt ids, n tokens, with llama.cpp's repeat penalty over the last
 * last_n tokens of the context (penalty 1: none), written here on its own. */
static void reference_greedy(const int32_t *ids, int n_ids, int n, float penalty, int last_n, int32_t *out) {
    host_model *hm;
    ref_state *ref;
    assert_int_equal(host_model_open(MODEL, &hm), LVK_OK);
    assert_int_equal(ref_create(hm, 128, &ref), LVK_OK);
    int32_t context[128];
    const float *logits = NULL;
    for (int i = 0; i < n_ids; i++) {
        assert_int_equal(ref_forward(ref, ids[i], i, &logits), LVK_OK);
        context[i] = ids[i];
    }
    float *penalized = malloc((size_t)hm->hp.n_vocab * sizeof *penalized);
    assert_non_null(penalized);
    for (int g = 0, pos = n_ids; g < n; g++, pos++) {
        memcpy(penalized, logits, (size_t)hm->hp.n_vocab * sizeof *penalized);
        for (int v = 0; v < hm->hp.n_vocab; v++) {
            int recent = 0;
            for (int k = pos - last_n < 0 ? 0 : pos - last_n; k < pos; k++) recent |= context[k] == v;
            if (recent) penalized[v] = penalized[v] > 0 ? penalized[v] / penalty : penalized[v] * penalty;
        }
        int best = 0;
        for (int v = 1; v < hm->hp.n_vocab; v++)
            if (penalized[v] > penalized[best]) best = v;
        out[g] = context[pos] = best;
        assert_int_equal(ref_forward(ref, best, pos, &logits), LVK_OK);
    }
    free(penalized);
    ref_free(ref);
    host_model_free(hm);
}

/* `litevk run -p "Once upon a time" -n 60 --temp 0` must generate what the
 * reference forward generates from the same tokens. */
static void test_greedy_matches_reference(void **state) {
    fixture *f = *state;
    const char *prompt = "Once upon a time";
    int32_t ids[64];
    int n = 0;
    assert_int_equal(lvk_tokenize(f->model, prompt, 1, ids, 64, &n), LVK_OK);
    assert_int_equal(ids[0], 1); /* BOS */
    int32_t want[60];
    reference_greedy(ids, n, 60, 1.0f, 0, want);

    lvk_session *s;
    assert_int_equal(lvk_session_create(f->model, NULL, &s), LVK_OK);
    assert_int_equal(lvk_session_feed(s, prompt, 1), LVK_OK);
    char text[2048] = "";
    for (int g = 0; g < 60; g++) {
        lvk_token_info t;
        assert_int_equal(lvk_session_step(s, &t), LVK_OK);
        if (t.id != want[g]) fail_msg("token %d: GPU %d, reference %d", g, t.id, want[g]);
        assert_int_equal(t.layer, 5);
        assert_int_equal(t.n_layers, 5);
        assert_true(t.confidence > 0 && t.confidence <= 1.0001f);
        strncat(text, t.piece, sizeof text - strlen(text) - 1);
    }
    printf("  %s%s\n", prompt, text);

    /* reset: the same prompt gives the same tokens again */
    assert_int_equal(lvk_session_reset(s), LVK_OK);
    assert_int_equal(lvk_session_n_past(s), 0);
    assert_int_equal(lvk_session_feed(s, prompt, 1), LVK_OK);
    lvk_token_info t;
    assert_int_equal(lvk_session_step(s, &t), LVK_OK);
    assert_int_equal(t.id, want[0]);
    lvk_session_free(s);
}

/* Greedy decoding under a repeat penalty (the logits read back and the
 * argmax taken on the host) chooses what the reference does under llama.cpp's
 * rule, and it is not what greedy decoding chooses without one. */
static void test_repeat_penalty_matches_reference(void **state) {
    fixture *f = *state;
    int32_t ids[64];
    int n = 0;
    assert_int_equal(lvk_tokenize(f->model, "Once upon a time", 1, ids, 64, &n), LVK_OK);
    int32_t want[40], plain[40];
    reference_greedy(ids, n, 40, 1.5f, 8, want);
    reference_greedy(ids, n, 40, 1.0f, 0, plain);
    assert_memory_not_equal(want, plain, sizeof want);

    lvk_session_params p = lvk_session_default_params();
    p.repeat_penalty = 1.5f;
    p.repeat_last_n = 8;
    lvk_session *s;
    assert_int_equal(lvk_session_create(f->model, &p, &s), LVK_OK);
    assert_int_equal(lvk_session_feed_tokens(s, ids, n), LVK_OK);
    for (int g = 0; g < 40; g++) {
        lvk_token_info t;
        assert_int_equal(lvk_session_step(s, &t), LVK_OK);
        if (t.id != want[g]) fail_msg("token %d: GPU %d, reference %d", g, t.id, want[g]);
    }
    lvk_session_free(s);

    /* out of range, and with speculation (whose output must be full depth's) */
    p.repeat_penalty = 0;
    expect_error(lvk_session_create(f->model, &p, &s), LVK_ERR_INVALID_ARGUMENT);
    assert_non_null(strstr(lvk_last_error(), "repeat penalty 0 is outside (0, 100]"));
    p.repeat_penalty = 1.1f;
    p.repeat_last_n = -2;
    expect_error(lvk_session_create(f->model, &p, &s), LVK_ERR_INVALID_ARGUMENT);
    p.repeat_last_n = -1; /* the whole context */
    lvk_exit_config exits;
    assert_int_equal(lvk_model_exit_config(f->model, &exits, NULL), LVK_OK);
    assert_int_equal(lvk_session_create(f->model, &p, &s), LVK_OK);
    exits.decode = LVK_DECODE_SPECULATE;
    exits.draft_exit = exits.layers[0];
    expect_error(lvk_session_set_exits(s, &exits), LVK_ERR_INVALID_ARGUMENT);
    assert_non_null(strstr(lvk_last_error(), "cannot be combined with speculative decoding"));
    lvk_session_free(s);
    p.exits = &exits;
    expect_error(lvk_session_create(f->model, &p, &s), LVK_ERR_INVALID_ARGUMENT);
}

/* llama2.c's doc/stories260K.md prints what its run.c generates greedily from
 * this checkpoint with no prompt (BOS only). */
static const char llama2c_greedy[] =
    "Once upon a time, there was a little girl named Lily. She loved to play outside in the park. One day, she "
    "saw a big, red ball. She wanted to play with it, but it was too high.\nLily's mom said, \"Lily, let's go to "
    "the park.\" Lily was sad and didn't know what to do. She said, \"I want to play with your ball, but I can't "
    "find it.\"\nLily was sad and didn't know what to do. She said, \"I'm sorry, Lily. I didn't know what to "
    "do.\"\nLily didn't want to help her mom, so she said, \"I'm sorry, mom. I didn't know what to do.\" Her mom "
    "said, \"Don't worry, Lily. We can help you.";

static void test_greedy_matches_llama2c(void **state) {
    fixture *f = *state;
    lvk_session *s;
    assert_int_equal(lvk_session_create(f->model, NULL, &s), LVK_OK);
    int32_t bos = 1;
    assert_int_equal(lvk_session_feed_tokens(s, &bos, 1), LVK_OK);
    char text[4096] = "";
    for (int g = 0; g < 300 && strlen(text) < strlen(llama2c_greedy); g++) {
        lvk_token_info t;
        assert_int_equal(lvk_session_step(s, &t), LVK_OK);
        assert_false(t.is_eog);
        /* run.c drops the leading space of the first piece after BOS */
        strncat(text, g == 0 && t.piece[0] == ' ' ? t.piece + 1 : t.piece, sizeof text - strlen(text) - 1);
    }
    if (strncmp(text, llama2c_greedy, strlen(llama2c_greedy)) != 0)
        fail_msg("greedy text (%zu bytes) differs from llama2.c's (%zu):\n%s", strlen(text), strlen(llama2c_greedy), text);
    lvk_session_free(s);
}

static void test_sampling_is_seeded(void **state) {
    fixture *f = *state;
    lvk_session_params p = lvk_session_default_params();
    p.temperature = 1.0f;
    p.top_k = 40;
    p.top_p = 0.9f;
    p.seed = 42;
    int32_t first[2][30];
    for (int run = 0; run < 2; run++) {
        lvk_session *s;
        assert_int_equal(lvk_session_create(f->model, &p, &s), LVK_OK);
        assert_int_equal(lvk_session_feed(s, "Once upon a time", 1), LVK_OK);
        for (int g = 0; g < 30; g++) {
            lvk_token_info t;
            assert_int_equal(lvk_session_step(s, &t), LVK_OK);
            first[run][g] = t.id;
            if (t.is_eog) break;
        }
        lvk_session_free(s);
    }
    assert_memory_equal(first[0], first[1], sizeof first[0]);
}


static void test_bad_calls(void **state) {
    fixture *f = *state;
    lvk_session *s;
    lvk_token_info t;
    lvk_session_params p = lvk_session_default_params();
    p.n_ctx = 16;
    assert_int_equal(lvk_session_create(f->model, &p, &s), LVK_OK);

    expect_error(lvk_session_step(s, &t), LVK_ERR_STATE);                 /* step before any prompt */
    expect_error(lvk_session_feed(s, "", 0), LVK_ERR_INVALID_ARGUMENT);   /* empty prompt */
    expect_error(lvk_session_feed(s, "bad \xff utf-8", 1), LVK_ERR_INVALID_ARGUMENT);
    expect_error(lvk_session_feed(s, "Once upon a time there was a dog and a cat and a bird", 1),
                 LVK_ERR_CONTEXT_FULL);                                    /* longer than the context */
    assert_int_equal(lvk_session_n_past(s), 0);                            /* nothing was lost */
    int32_t bad_id = 99999;
    expect_error(lvk_session_feed_tokens(s, &bad_id, 1), LVK_ERR_INVALID_ARGUMENT);

    /* generation past the end of the context stops with CONTEXT_FULL */
    assert_int_equal(lvk_session_feed(s, "Once upon a time", 1), LVK_OK);
    lvk_status st = LVK_OK;
    int steps = 0;
    while (st == LVK_OK && steps < 100) {
        st = lvk_session_step(s, &t);
        if (st == LVK_OK && t.is_eog) st = lvk_session_feed(s, "Then", 0);
        steps++;
    }
    expect_error(st, LVK_ERR_CONTEXT_FULL);
    assert_int_equal(lvk_session_n_past(s), 16);
    assert_int_equal(lvk_session_reset(s), LVK_OK);
    assert_int_equal(lvk_session_feed(s, "Once", 1), LVK_OK);            /* usable again */

    /* NULL arguments */
    expect_error(lvk_session_step(NULL, &t), LVK_ERR_INVALID_ARGUMENT);
    expect_error(lvk_session_step(s, NULL), LVK_ERR_INVALID_ARGUMENT);
    expect_error(lvk_session_feed(s, NULL, 1), LVK_ERR_INVALID_ARGUMENT);
    expect_error(lvk_session_feed(NULL, "x", 1), LVK_ERR_INVALID_ARGUMENT);
    expect_error(lvk_session_reset(NULL), LVK_ERR_INVALID_ARGUMENT);
    expect_error(lvk_session_create(NULL, NULL, &s), LVK_ERR_INVALID_ARGUMENT);
    expect_error(lvk_model_load(f->ctx, NULL, NULL, NULL), LVK_ERR_INVALID_ARGUMENT);
    expect_error(lvk_context_create(NULL, NULL), LVK_ERR_INVALID_ARGUMENT);
    expect_error(lvk_tokenize(NULL, "x", 1, NULL, 0, NULL), LVK_ERR_INVALID_ARGUMENT);
    char buf[8];
    expect_error(lvk_token_piece(f->model, -1, buf, sizeof buf), LVK_ERR_INVALID_ARGUMENT);
    lvk_session_free(NULL);
    lvk_model_free(NULL);
    lvk_context_free(NULL);

    /* bad session parameters */
    lvk_session *s2;
    p = lvk_session_default_params();
    p.n_ctx = 100000;
    expect_error(lvk_session_create(f->model, &p, &s2), LVK_ERR_INVALID_ARGUMENT);
    p = lvk_session_default_params();
    p.top_p = 0;
    expect_error(lvk_session_create(f->model, &p, &s2), LVK_ERR_INVALID_ARGUMENT);
    lvk_session_free(s);
}

/* lvk_tokenize_ex's flags and lvk_session_feed_ex: BOS as the model wants it
 * (the default model's SentencePiece vocabulary adds it), special tokens'
 * texts as those tokens only when asked, BOS only at the start of a session. */
static void test_tokenize_flags(void **state) {
    fixture *f = *state;
    int32_t ids[16], plain[16];
    int n, n_plain;
    assert_int_equal(lvk_tokenize_ex(f->model, "Once", LVK_TOKENIZE_ADD_SPECIAL, ids, 16, &n), LVK_OK);
    assert_int_equal(lvk_tokenize(f->model, "Once", 1, plain, 16, &n_plain), LVK_OK);
    assert_int_equal(n, n_plain);
    assert_memory_equal(ids, plain, (size_t)n * sizeof *ids);
    assert_int_equal(ids[0], 1);

    assert_int_equal(lvk_tokenize(f->model, "Once", 0, plain, 16, &n_plain), LVK_OK);
    assert_int_equal(lvk_tokenize_ex(f->model, "<s>Once", LVK_TOKENIZE_PARSE_SPECIAL, ids, 16, &n), LVK_OK);
    assert_int_equal(n, n_plain + 1);
    assert_int_equal(ids[0], 1); /* "<s>" is BOS's text */
    assert_memory_equal(ids + 1, plain, (size_t)n_plain * sizeof *ids);
    assert_int_equal(lvk_tokenize_ex(f->model, "<s>Once", 0, ids, 16, &n), LVK_OK);
    for (int i = 0; i < n; i++) assert_int_not_equal(ids[i], 1);
    expect_error(lvk_tokenize_ex(f->model, "Once", 1u << 9, ids, 16, &n), LVK_ERR_INVALID_ARGUMENT);

    lvk_session *s;
    assert_int_equal(lvk_session_create(f->model, NULL, &s), LVK_OK);
    assert_int_equal(lvk_session_feed_ex(s, "Once", LVK_TOKENIZE_ADD_SPECIAL), LVK_OK);
    assert_int_equal(lvk_session_n_past(s), n_plain + 1);
    assert_int_equal(lvk_tokenize(f->model, " upon", 0, plain, 16, &n_plain), LVK_OK);
    int before = lvk_session_n_past(s);
    assert_int_equal(lvk_session_feed_ex(s, " upon", LVK_TOKENIZE_ADD_SPECIAL | LVK_TOKENIZE_BOS), LVK_OK);
    assert_int_equal(lvk_session_n_past(s), before + n_plain); /* no BOS in the middle */
    expect_error(lvk_session_feed_ex(s, "x", 1u << 9), LVK_ERR_INVALID_ARGUMENT);
    lvk_session_free(s);
}

/* vocab_only: the vocabulary without a device or weights; it tokenizes as
 * the full model does, loads a vocabulary file of an architecture LiteVK
 * does not run (llama.cpp's GPT-2 vocabulary), and cannot run. */
static void test_vocab_only(void **state) {
    fixture *f = *state;
    lvk_model_params params = lvk_model_default_params();
    lvk_model *vocab, *gpt2;
    expect_error(lvk_model_load(NULL, MODEL, NULL, &vocab), LVK_ERR_INVALID_ARGUMENT); /* a full load needs ctx */
    params.vocab_only = 1;
    assert_int_equal(lvk_model_load(NULL, MODEL, &params, &vocab), LVK_OK);

    int32_t ids[32], full[32];
    int n, n_full;
    const char *text = "Once upon a time </s>";
    unsigned flags = LVK_TOKENIZE_ADD_SPECIAL | LVK_TOKENIZE_PARSE_SPECIAL;
    assert_int_equal(lvk_tokenize_ex(vocab, text, flags, ids, 32, &n), LVK_OK);
    assert_int_equal(lvk_tokenize_ex(f->model, text, flags, full, 32, &n_full), LVK_OK);
    assert_int_equal(n, n_full);
    assert_memory_equal(ids, full, (size_t)n * sizeof *ids);
    lvk_model_info info;
    assert_int_equal(lvk_model_get_info(vocab, &info), LVK_OK);
    assert_int_equal(info.n_vocab, 512);
    assert_int_equal(info.bos_id, 1);
    assert_int_equal(info.n_layers, 0);
    lvk_session *s;
    expect_error(lvk_session_create(vocab, NULL, &s), LVK_ERR_STATE);
    assert_non_null(strstr(lvk_last_error(), "vocab_only"));
    lvk_model_free(vocab);

    /* "Hello world" is 15496 995 in GPT-2's vocabulary; it adds no BOS */
    assert_int_equal(lvk_model_load(NULL, LITEVK_FIXTURES "/ggml-vocab-gpt-2.gguf", &params, &gpt2), LVK_OK);
    assert_int_equal(lvk_tokenize_ex(gpt2, "Hello world", LVK_TOKENIZE_ADD_SPECIAL, ids, 32, &n), LVK_OK);
    assert_int_equal(n, 2);
    assert_int_equal(ids[0], 15496);
    assert_int_equal(ids[1], 995);
    lvk_model_free(gpt2);
    expect_error(lvk_model_load(f->ctx, LITEVK_FIXTURES "/ggml-vocab-gpt-2.gguf", NULL, &gpt2), LVK_ERR_UNSUPPORTED);
}

/* Copies the default model with `patch` applied at the first occurrence of `find`. */
/* Writes `src` to `path` with n bytes at `offset` past the first `find` replaced by `patch`. */
static void write_patched_from(const char *src, const char *path, const char *find, size_t offset, const void *patch,
                               size_t n) {
    FILE *in = fopen(src, "rb");
    assert_non_null(in);
    fseek(in, 0, SEEK_END);
    long size = ftell(in);
    fseek(in, 0, SEEK_SET);
    char *data = malloc((size_t)size);
    assert_int_equal(fread(data, 1, (size_t)size, in), (size_t)size);
    fclose(in);
    char *hit = memmem(data, (size_t)size, find, strlen(find));
    assert_non_null(hit);
    memcpy(hit + offset, patch, n);
    FILE *out = fopen(path, "wb");
    assert_non_null(out);
    fwrite(data, 1, (size_t)size, out);
    fclose(out);
    free(data);
}

static void write_patched(const char *path, const char *find, size_t offset, const void *patch, size_t n) {
    write_patched_from(MODEL, path, find, offset, patch, n);
}

static void expect_load_error(fixture *f, const char *path, lvk_status want, const char *keyword) {
    lvk_model *m = NULL;
    expect_error(lvk_model_load(f->ctx, path, NULL, &m), want);
    assert_null(m);
    if (!strstr(lvk_last_error(), keyword)) fail_msg("message '%s' lacks '%s'", lvk_last_error(), keyword);
}

/* What a file says of its architecture and RoPE, each wrong in turn: a
 * qwen2 model (biases, key_length, linear RoPE) and a llama one with
 * rope_freqs, as the synthetic models write them. */
static void test_bad_architectures(void **state) {
    fixture *f = *state;
    char qwen[512], llama3[512], path[512];
    snprintf(qwen, sizeof qwen, "%s/api_qwen2.gguf", LITEVK_TMP_DIR);
    snprintf(llama3, sizeof llama3, "%s/api_llama3.gguf", LITEVK_TMP_DIR);
    snprintf(path, sizeof path, "%s/api_bad_arch.gguf", LITEVK_TMP_DIR);
    synth_params p = synth_default_params();
    p.arch = "qwen2", p.head_dim = 24, p.rope_scale = 2.0f;
    assert_int_equal(synth_llama_gguf(&p, qwen), LVK_OK);
    p = synth_default_params();
    p.rope_freqs = 1;
    assert_int_equal(synth_llama_gguf(&p, llama3), LVK_OK);
    lvk_model *m = NULL;
    assert_int_equal(lvk_model_load(f->ctx, qwen, NULL, &m), LVK_OK); /* as written, they load */
    lvk_model_free(m);
    assert_int_equal(lvk_model_load(f->ctx, llama3, NULL, &m), LVK_OK);
    lvk_model_free(m);

    write_patched_from(qwen, path, "blk.1.attn_v.bias", 16, "X", 1); /* "blk.1.attn_v.biaX" */
    expect_load_error(f, path, LVK_ERR_FORMAT, "tensor 'blk.1.attn_v.bias' is missing");
    write_patched_from(qwen, path, "general.architecture", 0, "general.architecturX", 20); /* no architecture key */
    expect_load_error(f, path, LVK_ERR_FORMAT, "general.architecture");
    write_patched_from(qwen, path, "qwen2", 0, "qwen9", 5); /* the first "qwen2": the architecture's value */
    expect_load_error(f, path, LVK_ERR_UNSUPPORTED, "architecture 'qwen9' is not supported (LiteVK runs llama and qwen2");
    write_patched_from(qwen, path, "linear", 0, "yarn__", 6);
    expect_load_error(f, path, LVK_ERR_UNSUPPORTED, "RoPE scaling 'yarn__' is not supported");
    float factor = 0.5f; /* the key is followed by its type (4 bytes), then the f32 */
    write_patched_from(qwen, path, "rope.scaling.factor", strlen("rope.scaling.factor") + 4, &factor, 4);
    expect_load_error(f, path, LVK_ERR_FORMAT, "RoPE scaling factor 0.5 is out of range");
    uint32_t value_length = 16;
    write_patched_from(qwen, path, "attention.value_length", strlen("attention.value_length") + 4, &value_length, 4);
    expect_load_error(f, path, LVK_ERR_UNSUPPORTED, "value heads of 16 dimensions and key heads of 24");
    uint64_t pairs = 7; /* rope_freqs holds head_dim / 2 = 8 factors; the name is followed by n_dims, then ne[0] */
    write_patched_from(llama3, path, "rope_freqs.weight", strlen("rope_freqs.weight") + 4, &pairs, 8);
    expect_load_error(f, path, LVK_ERR_FORMAT, "tensor 'rope_freqs.weight' has shape [7, 1]");
}

static void test_bad_models(void **state) {
    fixture *f = *state;
    char path[512];
    snprintf(path, sizeof path, "%s/api_bad.gguf", LITEVK_TMP_DIR);
    /* a missing tensor: rename blk.0.ffn_up */
    write_patched(path, "blk.0.ffn_up.weight", 10, "X", 1);
    expect_load_error(f, path, LVK_ERR_FORMAT, "blk.0.ffn_up.weight");
    /* a shape mismatch: blk.1.attn_q's rows (ne[1]) 64 -> 32; the name is
     * followed by n_dims (4 bytes) and ne[0] (8 bytes) */
    uint64_t rows = 32;
    write_patched(path, "blk.1.attn_q.weight", strlen("blk.1.attn_q.weight") + 12, &rows, 8);
    expect_load_error(f, path, LVK_ERR_FORMAT, "shape");
    /* an unsupported tensor type (q8_1 = 9, ggml's activation type) on a matrix */
    uint32_t type = 9;
    write_patched(path, "blk.0.attn_k.weight", strlen("blk.0.attn_k.weight") + 4 + 16, &type, 4);
    expect_load_error(f, path, LVK_ERR_UNSUPPORTED,
                      "has type q8_1; LiteVK runs f32, f16, bf16, q8_0, q4_0, q4_1, q5_0, q5_1, q4_k, q5_k and q6_k matrices");
    /* a K-quant (q4_k = 12) on rows of 64: K-quant rows are whole 256-blocks */
    type = 12;
    write_patched(path, "blk.0.attn_k.weight", strlen("blk.0.attn_k.weight") + 4 + 16, &type, 4);
    expect_load_error(f, path, LVK_ERR_FORMAT, "blk.0.attn_k.weight': row length 64 is not a multiple of q4_k's block of 256");
    /* another architecture */
    write_patched(path, "llama", 0, "gpt-2", 5);
    expect_load_error(f, path, LVK_ERR_UNSUPPORTED, "architecture");
    /* not a file at all */
    expect_load_error(f, LITEVK_TMP_DIR "/does-not-exist.gguf", LVK_ERR_IO, "cannot open");
}

static void test_many_sessions_on_one_model(void **state) {
    fixture *f = *state;
    lvk_session *a, *b;
    assert_int_equal(lvk_session_create(f->model, NULL, &a), LVK_OK);
    assert_int_equal(lvk_session_create(f->model, NULL, &b), LVK_OK);
    assert_int_equal(lvk_session_feed(a, "Once upon a time", 1), LVK_OK);
    assert_int_equal(lvk_session_feed(b, "The dog", 1), LVK_OK);
    lvk_token_info ta, tb;
    for (int i = 0; i < 10; i++) {
        assert_int_equal(lvk_session_step(a, &ta), LVK_OK);
        assert_int_equal(lvk_session_step(b, &tb), LVK_OK);
    }
    /* interleaving must not leak state: a alone gives the same 11th token */
    lvk_session *c;
    assert_int_equal(lvk_session_create(f->model, NULL, &c), LVK_OK);
    assert_int_equal(lvk_session_feed(c, "Once upon a time", 1), LVK_OK);
    lvk_token_info tc;
    for (int i = 0; i < 10; i++) assert_int_equal(lvk_session_step(c, &tc), LVK_OK);
    assert_int_equal(tc.id, ta.id);
    lvk_session_free(a);
    lvk_session_free(b);
    lvk_session_free(c);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_greedy_matches_reference),
        cmocka_unit_test(test_repeat_penalty_matches_reference),
        cmocka_unit_test(test_greedy_matches_llama2c),
        cmocka_unit_test(test_sampling_is_seeded),
        cmocka_unit_test(test_bad_calls),
        cmocka_unit_test(test_tokenize_flags),
        cmocka_unit_test(test_vocab_only),
        cmocka_unit_test(test_bad_models),
        cmocka_unit_test(test_bad_architectures),
        cmocka_unit_test(test_many_sessions_on_one_model),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
