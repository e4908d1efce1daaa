// The Node side of compare-llama-cpp.sh: llama.cpp measurements through node-llama-cpp
// 3.x, and the comparison's table. Three modes:
//
//   node llama-cpp-driver.mjs --node-modules DIR --model FILE --backend cpu|vulkan
//        [--threads N] [--prompt TEXT] [--n-predict M] [--ctx N] [--batch N]
//     loads the model, evaluates the prompt, decodes M tokens greedily one at a time
//     and prints one JSON line: {"ok":true,...figures} or {"ok":false,"error":...}
//     (exit status 1).
//   node llama-cpp-driver.mjs --node-modules DIR --model FILE --make-prompt N [--phrase TEXT]
//     prints {"ok":true,"prompt":TEXT,"n_prompt":N'}: the phrase repeated as often as
//     fits in N tokens with BOS, by the model's tokenizer (no weights are loaded).
//   node llama-cpp-driver.mjs --report RUNS.jsonl [--json OUT]
//     prints the table of a comparison's runs (one JSON object a line, as the script
//     writes them) and, with --json, writes them and the summary to OUT.
//
// DIR is the node_modules folder that holds node-llama-cpp and its prebuilt binaries
// (@node-llama-cpp/linux-x64 and linux-x64-vulkan). The driver never builds llama.cpp
// and never downloads: getLlama runs with build "never" and skipDownload, so a
// missing or unusable binary is an error, not a compile. The Vulkan device is
// llama.cpp's choice among those GGML_VK_VISIBLE_DEVICES lets it see; the script sets
// it to LiteVK's device, which is also how a CPU Vulkan device such as Mesa's
// lavapipe becomes visible: without it llama.cpp's Vulkan backend skips CPU devices.
//
// The figures mean what `litevk run --json`'s summary means:
//   load_ms             loading the model and making the context and its sequence
//   first_token_ms      from the start of loading to the first new token of the
//                       process's first evaluation of the prompt (cold)
//   prompt_ms           a second evaluation of the prompt, warm, up to the first new
//                       token; prompt_tokens_per_s = n_prompt / prompt_ms
//   decode_tokens_per_s n_gen single-token evaluations after that first new token
//                       (each one forward pass and a greedy choice) per second
//   init_ms             getLlama (loading the binary, initialising the backend),
//                       apart: node-llama-cpp first tests its binaries in a child
//                       process, which is none of llama.cpp's cost
import fs from "node:fs";
import path from "node:path";
import { pathToFileURL } from "node:url";
import { performance } from "node:perf_hooks";

const args = {
    nodeModules: null, model: null, backend: "cpu", threads: 2,
    prompt: "Once upon a time, there", phrase: "Once upon a time, there", makePrompt: 0,
    nPredict: 16, ctx: 512, batch: 512, report: null, json: null,
};

function usage(message) {
    if (message) process.stderr.write(`llama-cpp-driver: ${message}\n`);
    process.stderr.write(
        "usage: node llama-cpp-driver.mjs --node-modules DIR --model FILE --backend cpu|vulkan\n" +
        "         [--threads N] [--prompt TEXT] [--n-predict M] [--ctx N] [--batch N]\n" +
        "       node llama-cpp-driver.mjs --node-modules DIR --model FILE --make-prompt N [--phrase TEXT]\n" +
        "       node llama-cpp-driver.mjs --report RUNS.jsonl [--json OUT]\n");
    process.exit(2);
}

function positiveInt(name, value) {
    const n = Number(value);
    if (!Number.isInteger(n) || n < 1) usage(`${name} wants a positive integer, not "${value}"`);
    return n;
}

const argv = process.argv.slice(2);
for (let i = 0; i < argv.length; i++) {
    const key = argv[i];
    const value = argv[++i];
    if (value === undefined) usage(`${key} wants a value`);
    switch (key) {
        case "--node-modules": args.nodeModules = value; break;
        case "--model": args.model = value; break;
        case "--backend":
            if (value !== "cpu" && value !== "vulkan") usage(`--backend is cpu or vulkan, not "${value}"`);
            args.backend = value;
            break;
        case "--threads": args.threads = positiveInt(key, value); break;
        case "--prompt": args.prompt = value; break;
        case "--phrase": args.phrase = value; break;
        case "--make-prompt": args.makePrompt = positiveInt(key, value); break;
        case "--n-predict": args.nPredict = positiveInt(key, value); break;
        case "--ctx": args.ctx = positiveInt(key, value); break;
        case "--batch": args.batch = positiveInt(key, value); break;
        case "--report": args.report = value; break;
        case "--json": args.json = value; break;
        default: usage(`unknown option ${key}`);
    }
}
if (!args.report && (!args.nodeModules || !args.model)) usage("--node-modules and --model are required");

const result = { ok: false };
const round = (x) => Math.round(x * 100) / 100;

// llama.cpp's log lines would mix with the JSON line: its warnings and errors (which
// explain a failure) go to stderr, the rest nowhere.
function logger(level, message) {
    if (level === "error" || level === "fatal" || level === "warn")
        process.stderr.write(`llama.cpp ${level}: ${message.trimEnd()}\n`);
}

async function loadNodeLlamaCpp() {
    const entry = path.join(args.nodeModules, "node-llama-cpp", "dist", "index.js");
    if (!fs.existsSync(entry)) throw new Error(`no node-llama-cpp in ${args.nodeModules}`);
    return import(pathToFileURL(entry).href);
}

// BOS first, as LiteVK feeds prompts, when the model asks for it (llama.cpp's
// tokenize() leaves it to the caller).
function promptTokens(model, text) {
    const tokens = model.tokenize(text);
    if (model.tokens.shouldPrependBosToken && model.tokens.bos != null) tokens.unshift(model.tokens.bos);
    return tokens;
}

async function makePrompt() {
    const { getLlama } = await loadNodeLlamaCpp();
    const llama = await getLlama({ gpu: false, build: "never", skipDownload: true, logLevel: "warn", logger });
    const model = await llama.loadModel({ modelPath: args.model, vocabOnly: true });
    // The phrase repeated k times, k as large as fits (at least once).
    let text = args.phrase, n = promptTokens(model, text).length;
    for (;;) {
        const longer = `${text} ${args.phrase}`;
        const m = promptTokens(model, longer).length;
        if (m > args.makePrompt) break;
        text = longer;
        n = m;
    }
    Object.assign(result, { ok: true, prompt: text, n_prompt: n });
    await model.dispose();
    await llama.dispose();
}

async function measure() {
    Object.assign(result, { runtime: `llama-${args.backend}`, model: args.model, threads: args.threads });
    const { getLlama, NoBinaryFoundError } = await loadNodeLlamaCpp();

    const tInit = performance.now();
    let llama;
    try {
        llama = await getLlama({
            // a named GPU type fails rather than falling back to the CPU
            gpu: args.backend === "vulkan" ? "vulkan" : false,
            build: "never",
            skipDownload: true,
            maxThreads: args.threads,
            logLevel: "warn",
            logger,
        });
    } catch (err) {
        // node-llama-cpp runs each prebuilt binary once in a child process before it
        // uses it, and calls a failure there "no binary found"
        if (err instanceof NoBinaryFoundError) {
            const visible = process.env.GGML_VK_VISIBLE_DEVICES;
            throw new Error(`node-llama-cpp's test run of its prebuilt ${args.backend === "vulkan" ? "Vulkan" : "CPU"} ` +
                "binary failed" + (args.backend === "vulkan" ? " (no Vulkan loader, or no device llama.cpp accepts" +
                (visible !== undefined ? `; GGML_VK_VISIBLE_DEVICES=${visible}` : "") + ")" : ""));
        }
        throw err;
    }
    result.init_ms = round(performance.now() - tInit);
    result.llama_cpp_release = llama.llamaCppRelease.release;
    if (args.backend === "vulkan") {
        const devices = await llama.getGpuDeviceNames();
        if (devices.length === 0)
            throw new Error("llama.cpp's Vulkan backend sees no device (it skips CPU devices such as " +
                "lavapipe unless GGML_VK_VISIBLE_DEVICES names them)");
        result.device = devices.join(", ");
    }

    const tLoad = performance.now();
    const model = await llama.loadModel({
        modelPath: args.model,
        // every layer on the Vulkan device ("max" fails rather than offloading fewer);
        // none on the CPU backend
        gpuLayers: args.backend === "vulkan" ? "max" : 0,
    });
    const context = await model.createContext({
        contextSize: args.ctx,
        batchSize: args.batch,
        sequences: 1,
        // exactly this many threads: "min" keeps node-llama-cpp from lending fewer
        threads: { ideal: args.threads, min: args.threads },
    });
    const sequence = context.getSequence();
    const tLoaded = performance.now();
    Object.assign(result, {
        gpu_layers: model.gpuLayers,
        context_size: context.contextSize,
        batch_size: context.batchSize,
    });

    const tokens = promptTokens(model, args.prompt);
    if (tokens.length + args.nPredict + 1 > context.contextSize)
        throw new Error(`${tokens.length} prompt tokens and ${args.nPredict} new ones do not fit the context ` +
            `of ${context.contextSize}`);
    const options = {
        temperature: 0, // greedy
        // The end-of-text token is yielded like any other and decoding goes on after
        // it: this measures speed, not stories.
        yieldEogToken: true,
    };

    // Two evaluations of the prompt. The first, in a fresh process, is what a user
    // waits for: it gives the time to the first token, and it compiles what the
    // graphs need (llama.cpp's Vulkan backend makes a pipeline the first time a graph
    // uses it; on lavapipe that takes seconds, or tens of them before Mesa's shader
    // cache holds them). After one decode step it is forgotten, and the second
    // evaluation gives the prompt and decode rates, warm, as llama-bench measures
    // after its warm-up run and as LiteVK measures after running every kernel once
    // while it loads.
    const cold = sequence.evaluate(tokens, options);
    const coldFirst = await cold.next();
    const tColdFirst = performance.now();
    if (coldFirst.done) throw new Error("the evaluation ended before the first token");
    await cold.next();
    await cold.return();
    await sequence.clearHistory();

    const generator = sequence.evaluate(tokens, options);
    const tPrompt = performance.now();
    const first = await generator.next(); // the prompt's evaluation and the first new token
    const tFirst = performance.now();
    if (first.done) throw new Error("the evaluation ended before the first token");
    const ids = [first.value];
    let nGen = 0;
    for (; nGen < args.nPredict; nGen++) {
        const step = await generator.next(); // one token's forward pass and choice
        if (step.done) break;
        ids.push(step.value);
    }
    const tEnd = performance.now();
    await generator.return();

    Object.assign(result, {
        ok: true,
        n_prompt: tokens.length,
        n_gen: nGen,
        load_ms: round(tLoaded - tLoad),
        cold_prompt_ms: round(tColdFirst - tLoaded),
        prompt_ms: round(tFirst - tPrompt),
        first_token_ms: round(tColdFirst - tLoad),
        prompt_tokens_per_s: round(tokens.length / ((tFirst - tPrompt) / 1e3)),
        decode_tokens_per_s: nGen > 0 ? round(nGen / ((tEnd - tFirst) / 1e3)) : 0,
        ids, // the greedy tokens chosen, the first new one included
    });
    await context.dispose();
    await model.dispose();
    await llama.dispose();
}

// ---- the report ---------------------------------------------------------------

const RUNTIME_NAMES = { "litevk": "LiteVK", "llama-cpu": "llama.cpp CPU", "llama-vulkan": "llama.cpp Vulkan" };
// the columns: key in a run, heading; all four are compared as LiteVK / llama.cpp
const METRICS = [
    ["decode_tokens_per_s", "decode tok/s"],
    ["prompt_tokens_per_s", "prompt tok/s"],
    ["load_ms", "load ms"],
    ["first_token_ms", "first token ms"],
];

function median(xs) {
    const s = [...xs].sort((a, b) => a - b);
    const m = s.length >> 1;
    return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

function stats(xs) {
    return xs.length ? { median: median(xs), min: Math.min(...xs), max: Math.max(...xs), n: xs.length } : null;
}

// three significant figures or so, without exponents
function num(x) {
    const a = Math.abs(x);
    return a >= 100 ? x.toFixed(0) : a >= 10 ? x.toFixed(1) : a >= 1 ? x.toFixed(2) : x.toFixed(3);
}

function cell(st, suffix = "") {
    if (!st) return "-";
    if (st.n === 1 || st.min === st.max) return num(st.median) + suffix;
    return `${num(st.median)}${suffix} (${num(st.min)}-${num(st.max)})`;
}

function spread(values) {
    const s = [...new Set(values)].sort((a, b) => a - b);
    return s.length === 1 ? String(s[0]) : `${s[0]}-${s[s.length - 1]}`;
}

function table(rows) {
    const widths = rows[0].map((_, c) => Math.max(...rows.map((r) => (r[c] ?? "").length)));
    return rows.map((r) => r.map((v, c) => (c === 0 ? v.padEnd(widths[c]) : v.padStart(widths[c]))).join("  ")
        .trimEnd()).join("\n");
}

function report() {
    const lines = fs.readFileSync(args.report, "utf8").split("\n").filter((l) => l.trim());
    const records = lines.map((l) => JSON.parse(l));
    const setup = records.find((r) => r.kind === "setup") ?? {};
    const runs = records.filter((r) => r.kind === "run");
    const models = [...new Set(runs.map((r) => r.model))];
    const runtimes = Object.keys(RUNTIME_NAMES).filter((rt) => runs.some((r) => r.runtime === rt));
    const summary = [];
    const out = [];

    for (const model of models) {
        const of = (rt) => runs.filter((r) => r.model === model && r.runtime === rt);
        const reps = new Set(runs.filter((r) => r.model === model).map((r) => r.rep)).size;
        out.push(`${path.basename(model)}  (median (min-max) of ${reps} repetition${reps === 1 ? "" : "s"})`);
        const rows = [["", "prompt", "decoded", ...METRICS.map(([, h]) => h)]];
        const notes = [];
        const entry = { model, runtimes: {}, ratios: {} };
        for (const rt of runtimes) {
            const all = of(rt), ok = all.filter((r) => r.ok);
            const failed = all.filter((r) => !r.ok);
            const st = Object.fromEntries(METRICS.map(([k]) => [k, stats(ok.map((r) => r[k]))]));
            entry.runtimes[rt] = { ok: ok.length, failed: failed.length, ...st };
            if (failed.length) entry.runtimes[rt].errors = [...new Set(failed.map((r) => r.error))];
            if (!ok.length) {
                // the reason goes under the table, where its length widens no column
                rows.push([RUNTIME_NAMES[rt], "-", "-", ...METRICS.map(() => "-")]);
                notes.push(`  ${RUNTIME_NAMES[rt]} unavailable: ${failed[0]?.error ?? "not run"}`);
                continue;
            }
            rows.push([RUNTIME_NAMES[rt], spread(ok.map((r) => r.n_prompt)), spread(ok.map((r) => r.n_gen)),
                ...METRICS.map(([k]) => cell(st[k]))]);
            if (failed.length)
                notes.push(`  ${RUNTIME_NAMES[rt]} failed in ${failed.length} of ${all.length} repetitions: ` +
                    failed[0].error);
            // which device llama.cpp's Vulkan backend ran on, in its own words
            const devices = [...new Set(ok.map((r) => r.device).filter(Boolean))];
            if (devices.length) notes.push(`  ${RUNTIME_NAMES[rt]} device: ${devices.join("; ")}`);
        }
        // ratios within each repetition, where both runs of it succeeded
        for (const rt of runtimes.filter((r) => r !== "litevk")) {
            const ratios = Object.fromEntries(METRICS.map(([k]) => [k, []]));
            for (const lv of of("litevk").filter((r) => r.ok)) {
                const ll = of(rt).find((r) => r.ok && r.rep === lv.rep);
                if (!ll) continue;
                for (const [k] of METRICS) if (ll[k] > 0) ratios[k].push(lv[k] / ll[k]);
            }
            const st = Object.fromEntries(METRICS.map(([k]) => [k, stats(ratios[k])]));
            if (!st[METRICS[0][0]] && !st[METRICS[2][0]]) continue;
            entry.ratios[rt] = st;
            rows.push([`LiteVK / ${RUNTIME_NAMES[rt]}`, "", "", ...METRICS.map(([k]) => cell(st[k], "x"))]);
        }
        // greedy agreement: the same file and prompt should give the same tokens, up to
        // near-ties that the two runtimes' arithmetic resolves differently
        for (const rt of runtimes.filter((r) => r !== "litevk")) {
            const prefixes = [];
            let compared = 0;
            for (const lv of of("litevk").filter((r) => r.ok && r.ids)) {
                const ll = of(rt).find((r) => r.ok && r.ids && r.rep === lv.rep);
                if (!ll) continue;
                const n = Math.min(lv.ids.length, ll.ids.length);
                let same = 0;
                while (same < n && lv.ids[same] === ll.ids[same]) same++;
                prefixes.push(same);
                compared = n;
            }
            if (!prefixes.length) continue;
            entry.ratios[rt] = Object.assign(entry.ratios[rt] ?? {}, { same_greedy_prefix: spread(prefixes), compared });
            notes.push(`  greedy tokens: LiteVK and ${RUNTIME_NAMES[rt]} agree on the first ${spread(prefixes)} of ${compared}`);
        }
        summary.push(entry);
        out.push(table(rows).split("\n").map((l) => "  " + l).join("\n"));
        out.push(...notes, "");
    }
    out.push("Ratios are LiteVK's figure divided by llama.cpp's, taken within each repetition (the runs of");
    out.push("a repetition are back to back) and then summarised: above 1 LiteVK is faster in the tok/s");
    out.push("columns and slower in the ms columns.");
    process.stdout.write(out.join("\n") + "\n");

    if (args.json) {
        const doc = { setup, runs, summary };
        fs.writeFileSync(args.json, JSON.stringify(doc, null, 2) + "\n");
    }
}

if (args.report) {
    report();
    process.exit(0);
}
try {
    await (args.makePrompt ? makePrompt() : measure());
} catch (err) {
    result.ok = false;
    // the first line says what failed; node-llama-cpp's stack adds nothing a reader needs
    result.error = String(err && err.message ? err.message : err).split("\n")[0];
}
process.stdout.write(JSON.stringify(result) + "\n");
process.exit(result.ok ? 0 : 1);
