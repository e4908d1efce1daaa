/* test_chat_format.c — the library's chat formats: each format's text for a
 * conversation against llama.cpp's expected outputs, detection from the
 * distinctive parts of real models' templates, tokenization (markers
 * become special tokens, content never does, a turn at a time as whole),
 * and a session that ends at a chat format's end-of-turn token. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "litevk.h"
#include "synth.h"

/* The conversation of llama.cpp's tests/test-chat-template.cpp: a system
 * message and three user turns, a reply with white space around it. */
static const lvk_chat_message conversation[] = {
    {"system", "You are a helpful assistant"},
    {"user", "Hello"},
    {"assistant", "Hi there"},
    {"user", "Who are you"},
    {"assistant", "   I am an assistant   "},
    {"user", "Another question"},
};
enum { N_CONVERSATION = sizeof conversation / sizeof conversation[0] };

/* What each format makes of it with the assistant's turn opened. Where
 * llama.cpp has the format, its expected output (llama2: its Jinja engine's
 * output for a Llama 2 template with BOS and EOS around every exchange,
 * llama.cpp's own "llama2-sys-bos" writing neither space around the reply). */
static const struct {
    const char *format, *text;
} expected[] = {
    {"raw", "You are a helpful assistantHelloHi thereWho are you   I am an assistant   Another question"},
    {"alpaca", "You are a helpful assistant\n\n### Instruction:\nHello\n\n### Response:\nHi there\n\n### Instruction:\n"
               "Who are you\n\n### Response:\n   I am an assistant   \n\n### Instruction:\nAnother question\n\n"
               "### Response:\n"},
    {"llama2", "[INST] <<SYS>>\nYou are a helpful assistant\n<</SYS>>\n\nHello [/INST] Hi there </s><s>[INST] Who are "
               "you [/INST]    I am an assistant    </s><s>[INST] Another question [/INST]"},
    {"mistral-v1", " [INST] You are a helpful assistant\n\nHello [/INST] Hi there</s> [INST] Who are you [/INST]    I "
                   "am an assistant   </s> [INST] Another question [/INST]"},
    {"mistral-v3", "[INST] You are a helpful assistant\n\nHello[/INST] Hi there</s>[INST] Who are you[/INST] I am an "
                   "assistant</s>[INST] Another question[/INST]"},
    {"mistral-v7", "[SYSTEM_PROMPT] You are a helpful assistant[/SYSTEM_PROMPT][INST] Hello[/INST] Hi there</s>[INST] "
                   "Who are you[/INST]    I am an assistant   </s>[INST] Another question[/INST]"},
    {"llama3", "<|start_header_id|>system<|end_header_id|>\n\nYou are a helpful assistant<|eot_id|><|start_header_id|>"
               "user<|end_header_id|>\n\nHello<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\nHi there"
               "<|eot_id|><|start_header_id|>user<|end_header_id|>\n\nWho are you<|eot_id|><|start_header_id|>"
               "assistant<|end_header_id|>\n\nI am an assistant<|eot_id|><|start_header_id|>user<|end_header_id|>\n\n"
               "Another question<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n"},
    {"chatml", "<|im_start|>system\nYou are a helpful assistant<|im_end|>\n<|im_start|>user\nHello<|im_end|>\n"
               "<|im_start|>assistant\nHi there<|im_end|>\n<|im_start|>user\nWho are you<|im_end|>\n<|im_start|>"
               "assistant\n   I am an assistant   <|im_end|>\n<|im_start|>user\nAnother question<|im_end|>\n"
               "<|im_start|>assistant\n"},
    /* TinyLlama-1.1B-Chat's template rendered (llama.cpp's "zephyr" ends
     * messages with StableLM's <|endoftext|> instead) */
    {"zephyr", "<|system|>\nYou are a helpful assistant</s>\n<|user|>\nHello</s>\n<|assistant|>\nHi there</s>\n"
               "<|user|>\nWho are you</s>\n<|assistant|>\n   I am an assistant   </s>\n<|user|>\nAnother question</s>\n"
               "<|assistant|>\n"},
    {"phi3", "<|system|>\nYou are a helpful assistant<|end|>\n<|user|>\nHello<|end|>\n<|assistant|>\nHi there<|end|>\n"
             "<|user|>\nWho are you<|end|>\n<|assistant|>\n   I am an assistant   <|end|>\n<|user|>\nAnother question"
             "<|end|>\n<|assistant|>\n"},
    {"gemma", "<start_of_turn>user\nYou are a helpful assistant\n\nHello<end_of_turn>\n<start_of_turn>model\nHi there"
              "<end_of_turn>\n<start_of_turn>user\nWho are you<end_of_turn>\n<start_of_turn>model\nI am an assistant"
              "<end_of_turn>\n<start_of_turn>user\nAnother question<end_of_turn>\n<start_of_turn>model\n"},
};
enum { N_EXPECTED = sizeof expected / sizeof expected[0] };

/* The text of a conversation in a format; the caller frees it. */
static char *apply(const char *format, const lvk_chat_message *messages, int n, int add_assistant) {
    size_t len = 0;
    assert_int_equal(lvk_chat_apply_template(format, messages, n, add_assistant, NULL, 0, &len), LVK_OK);
    char *text = malloc(len + 1);
    assert_non_null(text);
    size_t again = 0;
    assert_int_equal(lvk_chat_apply_template(format, messages, n, add_assistant, text, len + 1, &again), LVK_OK);
    assert_int_equal(again, len);
    assert_int_equal(strlen(text), len);
    return text;
}

static void test_every_format_matches_llama_cpp(void **state) {
    (void)state;
    int n_formats = 0;
    while (lvk_chat_format_name(n_formats)) n_formats++;
    assert_int_equal(n_formats, N_EXPECTED); /* every format is checked */
    for (int i = 0; i < N_EXPECTED; i++) {
        assert_string_equal(lvk_chat_format_name(i), expected[i].format);
        char *text = apply(expected[i].format, conversation, N_CONVERSATION, 1);
        if (strcmp(text, expected[i].text)) fail_msg("%s:\n%s\nexpected:\n%s", expected[i].format, text, expected[i].text);
        free(text);
    }
}

/* The conversation up to a user message with the assistant's turn opened,
 * then with the reply: the first is where the model starts, so it must be a
 * prefix of the second (a reply continues its prompt). */
static void test_reply_continues_its_prompt(void **state) {
    (void)state;
    for (int i = 0; i < N_EXPECTED; i++) {
        char *prompt = apply(expected[i].format, conversation, 4, 1);
        char *whole = apply(expected[i].format, conversation, 5, 0);
        if (strncmp(prompt, whole, strlen(prompt))) fail_msg("%s: '%s' does not start '%s'", expected[i].format, whole, prompt);
        free(prompt);
        free(whole);
    }
}

static void test_alpaca_preamble_and_llama2_turns(void **state) {
    (void)state;
    /* without a system message, Alpaca's preamble opens the first instruction (LITE's training format) */
    char *text = apply("alpaca", conversation + 1, 3, 1);
    assert_string_equal(text, "Below is an instruction that describes a task. Write a response that appropriately "
                              "completes the request.\n\n### Instruction:\nHello\n\n### Response:\nHi there\n\n"
                              "### Instruction:\nWho are you\n\n### Response:\n");
    free(text);
    /* Llama 2 without a system message: BOS and EOS around every exchange but the first BOS (the tokenizer's) */
    text = apply("llama2", conversation + 1, 3, 1);
    assert_string_equal(text, "[INST] Hello [/INST] Hi there </s><s>[INST] Who are you [/INST]");
    free(text);
    /* no messages: nothing, or the opening of the assistant's turn */
    text = apply("chatml", NULL, 0, 1);
    assert_string_equal(text, "<|im_start|>assistant\n");
    free(text);
}

static void test_apply_truncates_and_checks(void **state) {
    (void)state;
    char buf[8];
    size_t len = 0;
    assert_int_equal(lvk_chat_apply_template("chatml", conversation + 1, 1, 0, buf, sizeof buf, &len), LVK_OK);
    assert_int_equal(len, strlen("<|im_start|>user\nHello<|im_end|>\n"));
    assert_string_equal(buf, "<|im_st"); /* as snprintf: size - 1 bytes and a NUL */

    const lvk_chat_message tool[] = {{"user", "hi"}, {"tool", "42"}};
    assert_int_equal(lvk_chat_apply_template("chatml", tool, 2, 1, buf, sizeof buf, &len), LVK_ERR_INVALID_ARGUMENT);
    assert_non_null(strstr(lvk_last_error(), "message 1 has role 'tool'"));
    const lvk_chat_message missing[] = {{"user", NULL}};
    assert_int_equal(lvk_chat_apply_template("chatml", missing, 1, 1, buf, sizeof buf, &len), LVK_ERR_INVALID_ARGUMENT);
    assert_int_equal(lvk_chat_apply_template(NULL, conversation, 1, 1, buf, sizeof buf, &len), LVK_ERR_INVALID_ARGUMENT);
    assert_int_equal(lvk_chat_apply_template("chatml", conversation, -1, 1, buf, sizeof buf, &len),
                     LVK_ERR_INVALID_ARGUMENT);
}

/* Distinctive parts of real models' tokenizer.chat_template, and the format each is. */
static const struct {
    const char *jinja, *format;
} templates[] = {
    /* Qwen2 */
    {"{% for message in messages %}{% if loop.first and messages[0]['role'] != 'system' %}{{ '<|im_start|>system\\nYou "
     "are a helpful assistant<|im_end|>\\n' }}{% endif %}{{'<|im_start|>' + message['role'] + '\\n' + "
     "message['content'] + '<|im_end|>' + '\\n'}}{% endfor %}",
     "chatml"},
    /* Llama-2-7b-chat */
    {"{% if loop.index0 == 0 and system_message != false %}{% set content = '<<SYS>>\\n' + system_message + "
     "'\\n<</SYS>>\\n\\n' + message['content'] %}{% endif %}{% if message['role'] == 'user' %}{{ bos_token + '[INST] ' "
     "+ content.strip() + ' [/INST]' }}{% elif message['role'] == 'assistant' %}{{ ' ' + content.strip() + ' ' + "
     "eos_token }}{% endif %}",
     "llama2"},
    /* Mistral-7B-Instruct-v0.2 with Mistral's v1 template */
    {"{%- if message['role'] == 'user' %}{%- if loop.first and system_message is defined %}{{- ' [INST] ' + "
     "system_message + '\\n\\n' + message['content'] + ' [/INST]' }}{%- else %}{{- ' [INST] ' + message['content'] + "
     "' [/INST]' }}{%- endif %}",
     "mistral-v1"},
    /* Mistral-Large-Instruct-2407 (v3) */
    {"{{- \"[AVAILABLE_TOOLS] [\" }}{%- if loop.last and system_message is defined %}{{- \"[INST] \" + "
     "system_message + \"\\n\\n\" + message[\"content\"] + \"[/INST]\" }}",
     "mistral-v3"},
    /* Mistral-Large-Instruct-2411 (v7) */
    {"{% if message['role'] == 'user' %}{{ '[INST] ' + message['content'] + '[/INST]' }}{% elif message['role'] == "
     "'system' %}{{ '[SYSTEM_PROMPT] ' + message['content'] + '[/SYSTEM_PROMPT]' }}",
     "mistral-v7"},
    /* Meta-Llama-3-8B-Instruct */
    {"{% set content = '<|start_header_id|>' + message['role'] + '<|end_header_id|>\\n\\n'+ message['content'] | "
     "trim + '<|eot_id|>' %}{% if loop.index0 == 0 %}{% set content = bos_token + content %}{% endif %}",
     "llama3"},
    /* Phi-3-mini-4k-instruct */
    {"{% if (message['role'] == 'user') %}{{'<|user|>' + '\\n' + message['content'] + '<|end|>' + '\\n' + "
     "'<|assistant|>' + '\\n'}}{% elif (message['role'] == 'assistant') %}{{message['content'] + '<|end|>' + "
     "'\\n'}}{% endif %}",
     "phi3"},
    /* TinyLlama-1.1B-Chat-v1.0 (Zephyr's format) */
    {"{% if message['role'] == 'user' %}\\n{{ '<|user|>\\n' + message['content'] + eos_token }}\\n{% elif "
     "message['role'] == 'assistant' %}\\n{{ '<|assistant|>\\n'  + message['content'] + eos_token }}",
     "zephyr"},
    /* gemma-7b-it */
    {"{{ '<start_of_turn>' + role + '\\n' + message['content'] | trim + '<end_of_turn>\\n' }}{% endfor %}{% if "
     "add_generation_prompt %}{{'<start_of_turn>model\\n'}}{% endif %}",
     "gemma"},
    /* an Alpaca-style template */
    {"{% if message['role'] == 'user' %}{{ '### Instruction:\\n' + message['content'] + '\\n\\n### Response:\\n' }}",
     "alpaca"},
    /* names are names */
    {"mistral-v3", "mistral-v3"},
    {"raw", "raw"},
};

static void test_detection_from_real_templates(void **state) {
    (void)state;
    for (size_t i = 0; i < sizeof templates / sizeof templates[0]; i++) {
        const char *name = NULL;
        if (lvk_chat_format_detect(templates[i].jinja, &name) != LVK_OK)
            fail_msg("%s: %s", templates[i].format, lvk_last_error());
        assert_string_equal(name, templates[i].format);
        const char *const *stops = lvk_chat_format_stop_strings(templates[i].jinja);
        assert_non_null(stops);
        assert_ptr_equal(stops, lvk_chat_format_stop_strings(name));
    }
    /* a template none knows, Mistral's v3-tekken and Phi-4's ChatML variant */
    const char *name = NULL;
    const char *unknown[] = {"{{ 'User: ' + message['content'] + '\\n\\nAssistant:' }}",
                             "{{- \"[AVAILABLE_TOOLS][\" }}{{- \"[INST]\" + message[\"content\"] + \"[/INST]\" }}",
                             "{{'<|im_start|>' + message['role'] + '<|im_sep|>' + message['content']}}"};
    for (size_t i = 0; i < sizeof unknown / sizeof unknown[0]; i++) {
        assert_int_equal(lvk_chat_format_detect(unknown[i], &name), LVK_ERR_UNSUPPORTED);
        assert_non_null(strstr(lvk_last_error(), "the chat template is none of the formats LiteVK knows (raw, alpaca, "));
    }
    /* an unknown name lists the known ones */
    assert_int_equal(lvk_chat_format_detect("chatml2", &name), LVK_ERR_INVALID_ARGUMENT);
    assert_string_equal(lvk_last_error(), "chat format 'chatml2' is unknown: LiteVK knows raw, alpaca, llama2, "
                                          "mistral-v1, mistral-v3, mistral-v7, llama3, chatml, zephyr, phi3, gemma "
                                          "(or a Jinja chat template written for one of them)");
    assert_null(lvk_chat_format_stop_strings("chatml2"));
    assert_null(lvk_chat_format_stop_strings(NULL));
    assert_null(lvk_chat_format_stop_strings("raw")[0]);
    assert_string_equal(lvk_chat_format_stop_strings("chatml")[0], "<|im_end|>");
    assert_null(lvk_chat_format_name(-1));
}

/* ---- tokenizing, on a synthetic model -------------------------------------------------- */

/* Controls of the synthetic vocabulary: ChatML's markers (its 300 tokens
 * have <s> 1 and </s> 2 as control tokens already). */
enum { IM_START = 290, IM_END = 291 };
static const synth_token chatml_markers[] = {{IM_START, "<|im_start|>"}, {IM_END, "<|im_end|>"}};

typedef struct fixture {
    lvk_context *ctx;
    lvk_model *model; /* ChatML's markers, and ChatML's template */
} fixture;

static lvk_model *load_synthetic(lvk_context *ctx, const char *name, const synth_token *controls, int n_controls,
                                  const char *chat_template) {
    synth_params p = synth_default_params();
    p.controls = controls;
    p.n_controls = n_controls;
    p.chat_template = chat_template;
    char path[512];
    snprintf(path, sizeof path, "%s/%s", LITEVK_TMP_DIR, name);
    lvk_model *model = NULL;
    if (synth_llama_gguf(&p, path) != LVK_OK || lvk_model_load(ctx, path, NULL, &model) != LVK_OK)
        fprintf(stderr, "%s: %s\n", name, lvk_last_error());
    return model;
}

static int setup(void **state) {
    static fixture f;
    if (lvk_context_create(NULL, &f.ctx) != LVK_OK) return -1;
    f.model = load_synthetic(f.ctx, "chat_chatml.gguf", chatml_markers, 2, "{{'<|im_start|>' + message['role'] + '\\n'}}");
    *state = &f;
    return f.model ? 0 : -1;
}

static int teardown(void **state) {
    fixture *f = *state;
    uint32_t messages = lvk_context_validation_messages(f->ctx);
    lvk_model_free(f->model);
    lvk_context_free(f->ctx);
    return messages == 0 ? 0 : -1;
}

static int count(const int32_t *ids, int n, int32_t id) {
    int k = 0;
    for (int i = 0; i < n; i++) k += ids[i] == id;
    return k;
}

static void test_content_is_never_parsed(void **state) {
    fixture *f = *state;
    /* the user writes ChatML's end of turn */
    const lvk_chat_message says_end[] = {{"user", "say <|im_end|> now"}};
    int32_t ids[256];
    int n = 0;
    assert_int_equal(lvk_chat_tokenize(f->model, "chatml", says_end, 1, 1, ids, 256, &n), LVK_OK);
    assert_true(n > 6 && n < 256);
    assert_int_equal(ids[0], 1); /* BOS: a SentencePiece vocabulary wants it */
    assert_int_equal(ids[1], IM_START);
    assert_int_equal(count(ids, n, IM_START), 2); /* the user's turn and the assistant's */
    assert_int_equal(count(ids, n, IM_END), 1);   /* the format's, not the user's */
    /* the same text tokenized whole with special tokens parsed would end the turn twice */
    char text[256];
    size_t len;
    assert_int_equal(lvk_chat_apply_template("chatml", says_end, 1, 1, text, sizeof text, &len), LVK_OK);
    int32_t naive[256];
    int n_naive = 0;
    assert_int_equal(lvk_tokenize_ex(f->model, text, LVK_TOKENIZE_PARSE_SPECIAL, naive, 256, &n_naive), LVK_OK);
    assert_int_equal(count(naive, n_naive, IM_END), 2);

    /* Llama 2: the reply's EOS and the next exchange's BOS are tokens, the user's "</s>" and "<s>" text */
    const lvk_chat_message exchange[] = {{"user", "a </s> b <s>"}, {"assistant", "c"}, {"user", "d"}};
    assert_int_equal(lvk_chat_tokenize(f->model, "llama2", exchange, 3, 1, ids, 256, &n), LVK_OK);
    assert_int_equal(ids[0], 1);
    assert_int_equal(count(ids, n, 1), 2); /* the first BOS and the second exchange's */
    assert_int_equal(count(ids, n, 2), 1); /* the reply's EOS */

    /* sizing with capacity 0, and errors */
    int needed = 0;
    assert_int_equal(lvk_chat_tokenize(f->model, "llama2", exchange, 3, 1, NULL, 0, &needed), LVK_OK);
    assert_int_equal(needed, n);
    assert_int_equal(lvk_chat_tokenize(f->model, "nope", exchange, 3, 1, ids, 256, &n), LVK_ERR_INVALID_ARGUMENT);
    const lvk_chat_message invalid_utf8[] = {{"user", "\xff"}};
    assert_int_equal(lvk_chat_tokenize(f->model, "chatml", invalid_utf8, 1, 1, ids, 256, &n), LVK_ERR_INVALID_ARGUMENT);
    assert_non_null(strstr(lvk_last_error(), "not valid UTF-8"));
}

static void test_model_format(void **state) {
    fixture *f = *state;
    const char *name = NULL;
    assert_int_equal(lvk_model_chat_format(f->model, &name), LVK_OK);
    assert_string_equal(name, "chatml");
    /* NULL is the model's format */
    int32_t by_model[128], by_name[128];
    int n_model = 0, n_name = 0;
    assert_int_equal(lvk_chat_tokenize(f->model, NULL, conversation, 2, 1, by_model, 128, &n_model), LVK_OK);
    assert_int_equal(lvk_chat_tokenize(f->model, "chatml", conversation, 2, 1, by_name, 128, &n_name), LVK_OK);
    assert_int_equal(n_model, n_name);
    assert_memory_equal(by_model, by_name, (size_t)n_name * sizeof *by_name);

    /* no template: raw; one none knows: an error that says so */
    lvk_model *plain = load_synthetic(f->ctx, "chat_plain.gguf", chatml_markers, 2, NULL);
    lvk_model *odd = load_synthetic(f->ctx, "chat_odd.gguf", chatml_markers, 2, "{{ 'User: ' + message['content'] }}");
    assert_non_null(plain);
    assert_non_null(odd);
    assert_int_equal(lvk_model_chat_format(plain, &name), LVK_OK);
    assert_string_equal(name, "raw");
    assert_int_equal(lvk_model_chat_format(odd, &name), LVK_ERR_UNSUPPORTED);
    assert_non_null(strstr(lvk_last_error(), "the model's tokenizer.chat_template: the chat template is none of"));
    lvk_session *s;
    assert_int_equal(lvk_session_create(odd, NULL, &s), LVK_OK);
    assert_int_equal(lvk_session_feed_chat(s, NULL, conversation, 2, 0, 1), LVK_ERR_UNSUPPORTED);
    assert_int_equal(lvk_session_feed_chat(s, "chatml", conversation, 2, 0, 1), LVK_OK); /* a name overrides it */
    lvk_session_free(s);
    lvk_model_free(plain);
    lvk_model_free(odd);
}

/* Tokens a text is with special tokens parsed and no BOS. */
static int tokens_of(const lvk_model *model, const char *text) {
    int n = 0;
    assert_int_equal(lvk_tokenize_ex(model, text, LVK_TOKENIZE_PARSE_SPECIAL, NULL, 0, &n), LVK_OK);
    return n;
}

/* A conversation fed a turn at a time: the first turn is the whole text;
 * after a reply, the next turn starts with the reply's end of turn. */
static void test_feed_a_turn_at_a_time(void **state) {
    fixture *f = *state;
    lvk_session *s;
    assert_int_equal(lvk_session_create(f->model, NULL, &s), LVK_OK);
    lvk_chat_message chat[4] = {{"system", "Be brief."}, {"user", "Hello"}};
    assert_int_equal(lvk_session_feed_chat(s, NULL, chat, 2, 0, 1), LVK_OK);
    int whole = 0;
    assert_int_equal(lvk_chat_tokenize(f->model, NULL, chat, 2, 1, NULL, 0, &whole), LVK_OK);
    assert_int_equal(lvk_session_n_past(s), whole);

    /* a reply of three tokens, then the next user turn */
    for (int i = 0; i < 3; i++) {
        lvk_token_info t;
        assert_int_equal(lvk_session_step(s, &t), LVK_OK);
    }
    int before = lvk_session_n_past(s);
    chat[2] = (lvk_chat_message){"assistant", "(the reply)"};
    chat[3] = (lvk_chat_message){"user", "And then?"};
    assert_int_equal(lvk_session_feed_chat(s, NULL, chat, 4, 3, 1), LVK_OK);
    assert_int_equal(lvk_session_n_past(s) - before,
                     tokens_of(f->model, "<|im_end|>\n<|im_start|>user\nAnd then?<|im_end|>\n<|im_start|>assistant\n"));

    /* history fed without opening a reply: the next turn has no closing to add */
    lvk_session_reset(s);
    assert_int_equal(lvk_session_feed_chat(s, NULL, chat, 3, 0, 0), LVK_OK);
    before = lvk_session_n_past(s);
    assert_int_equal(lvk_session_feed_chat(s, NULL, chat, 4, 3, 1), LVK_OK);
    assert_int_equal(lvk_session_n_past(s) - before,
                     tokens_of(f->model, "<|im_start|>user\nAnd then?<|im_end|>\n<|im_start|>assistant\n"));

    /* nothing new, or a first message outside the conversation */
    assert_int_equal(lvk_session_feed_chat(s, NULL, chat, 4, 4, 0), LVK_ERR_INVALID_ARGUMENT);
    assert_non_null(strstr(lvk_last_error(), "nothing to feed"));
    assert_int_equal(lvk_session_feed_chat(s, NULL, chat, 4, 5, 1), LVK_ERR_INVALID_ARGUMENT);
    lvk_session_free(s);
}

/* Greedy tokens after a prompt, until `n` or an end of generation (is_eog
 * set on the last); returns how many. */
static int generate(lvk_model *model, int32_t *out, lvk_token_info *last, int n) {
    static const int32_t prompt[] = {1, 270, 280, 265};
    lvk_session *s;
    assert_int_equal(lvk_session_create(model, NULL, &s), LVK_OK); /* greedy */
    assert_int_equal(lvk_session_feed_tokens(s, prompt, 4), LVK_OK);
    int k = 0;
    while (k < n) {
        assert_int_equal(lvk_session_step(s, last), LVK_OK);
        out[k++] = last->id;
        if (last->is_eog) break;
    }
    if (last->is_eog) assert_int_equal(lvk_session_step(s, last), LVK_ERR_STATE); /* nothing to continue */
    lvk_session_free(s);
    return k;
}

/* A session stops at a chat format's end of turn in the vocabulary: the
 * synthetic model's weights are the same whatever the tokens' texts, so a
 * token it generates is renamed "<|im_end|>", and generation ends there. */
static void test_session_stops_at_end_of_turn(void **state) {
    fixture *f = *state;
    int32_t ids[16];
    lvk_token_info last;
    assert_int_equal(generate(f->model, ids, &last, 16), 16);
    int k = 0; /* the first generated token that is not a special one already */
    while (k < 16 && (ids[k] < 3 || ids[k] == IM_START || ids[k] == IM_END)) k++;
    assert_true(k < 16);
    const synth_token renamed[] = {{ids[k], "<|im_end|>"}};
    lvk_model *ends = load_synthetic(f->ctx, "chat_renamed_end.gguf", renamed, 1, NULL);
    assert_non_null(ends);
    assert_true(lvk_token_is_eog(ends, ids[k]));
    assert_false(lvk_token_is_eog(f->model, ids[k]));
    assert_true(lvk_token_is_eog(f->model, IM_END));
    assert_true(lvk_token_is_eog(f->model, 2)); /* EOS */
    assert_false(lvk_token_is_eog(f->model, -1));
    int32_t until[16];
    assert_int_equal(generate(ends, until, &last, 16), k + 1);
    assert_memory_equal(until, ids, (size_t)(k + 1) * sizeof *ids);
    assert_true(last.is_eog);
    assert_string_equal(last.piece, ""); /* a control token: nothing to show */
    lvk_model_free(ends);
}

int main(void) {
    const struct CMUnitTest text_tests[] = {
        cmocka_unit_test(test_every_format_matches_llama_cpp),
        cmocka_unit_test(test_reply_continues_its_prompt),
        cmocka_unit_test(test_alpaca_preamble_and_llama2_turns),
        cmocka_unit_test(test_apply_truncates_and_checks),
        cmocka_unit_test(test_detection_from_real_templates),
    };
    const struct CMUnitTest model_tests[] = {
        cmocka_unit_test(test_content_is_never_parsed),
        cmocka_unit_test(test_model_format),
        cmocka_unit_test(test_feed_a_turn_at_a_time),
        cmocka_unit_test(test_session_stops_at_end_of_turn),
    };
    int failed = cmocka_run_group_tests_name("formats", text_tests, NULL, NULL);
    return failed + cmocka_run_group_tests_name("tokens", model_tests, setup, teardown);
}
