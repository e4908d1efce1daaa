"""Per-head reports: what each exit head is worth to early exit and to
self-speculative decoding.

For every head (the exits, then the final head) over a set of sequences:

- ce: the mean cross-entropy of the data's target tokens (teacher forcing);
- agreement: the share of those positions where the head's top-1 token is
  the final head's (what LITE's early exit needs: a confident exit that
  agrees costs nothing);
- acceptance: the share of a greedy drafter's tokens that the full model
  would accept. The full model writes a greedy continuation of each prompt;
  at every position of it the exit head's top-1 token is compared with the
  token the full model wrote. That is what self-speculative decoding at that
  exit sees: after each verification the context is the full model's own
  output, so a draft is accepted exactly when the exit's greedy token equals
  the full model's on the full model's path.
"""

import torch
import torch.nn.functional as F

import data


@torch.no_grad()
def teacher_forced(net, sequences, exit_layers, batch_size, pad_id, device):
    """(tokens, ce per head, agreement per head) over the targets of sequences."""
    n_heads = len(exit_layers) + 1
    ce, agree, n = [0.0] * n_heads, [0] * n_heads, 0
    for i in range(0, len(sequences), batch_size):
        inputs, targets, mask = (t.to(device) for t in data.collate(sequences[i:i + batch_size], pad_id))
        logits = net(inputs, exit_layers, select=mask)
        final = logits[-1].argmax(-1)
        for h, l in enumerate(logits):
            ce[h] += F.cross_entropy(l.float(), targets[mask], reduction="sum").item()
            agree[h] += (l.argmax(-1) == final).sum().item()
        n += int(mask.sum())
    return n, [c / n for c in ce], [a / n for a in agree]


def draft_prompt(tokens, mask, min_len):
    """The prompt a sequence gives the drafter: everything before its first
    target (an instruction), at least min_len tokens of it (plain text)."""
    first_target = next((i for i, m in enumerate(mask) if m and i > 0), len(tokens))
    return tokens[:max(first_target, min(min_len, len(tokens)))]


@torch.no_grad()
def drafter_acceptance(net, sequences, exit_layers, n_prompts, n_tokens, prompt_len, device):
    """(positions, acceptance per exit) on the full model's greedy
    continuations of the first n_prompts sequences' prompts."""
    accepted, n = [0] * len(exit_layers), 0
    for tokens, mask in sequences[:n_prompts]:
        ids = draft_prompt(tokens, mask, prompt_len)[:net.c.n_ctx - n_tokens]
        x = torch.tensor([ids], device=device)
        for _ in range(n_tokens):  # the full model's greedy continuation
            x = torch.cat((x, net(x, [])[-1][:, -1:].argmax(-1)), dim=1)
        heads = net(x[:, :-1], exit_layers)
        written = x[0, len(ids):]
        for e, l in enumerate(heads[:-1]):
            accepted[e] += (l[0, len(ids) - 1:].argmax(-1) == written).sum().item()
        n += n_tokens
    return n, [a / n if n else 0.0 for a in accepted]


def evaluate(net, sequences, exit_layers, args, pad_id, device):
    """The report of every head on sequences, as a dict: tokens, ce,
    agreement (per head, the final head's agreement is 1), and, when
    args.draft_prompts > 0, draft_tokens and acceptance (per exit)."""
    was_training = net.training
    net.eval()
    n, ce, agreement = teacher_forced(net, sequences, exit_layers, args.batch_size, pad_id, device)
    result = {"tokens": n, "ce": ce, "agreement": agreement}
    if args.draft_prompts > 0:
        result["draft_tokens"], result["acceptance"] = drafter_acceptance(
            net, sequences, exit_layers, args.draft_prompts, args.draft_tokens, args.draft_prompt_len, device)
    net.train(was_training)
    return result


def to_json(result, exit_layers, n_layers):
    """Per-head records, exits then the final head."""
    heads = []
    for h, layer in enumerate(exit_layers + [n_layers]):
        head = {"layer": layer, "ce": result["ce"][h]}
        if layer == n_layers:
            head["final"] = True
        else:
            head["agreement"] = result["agreement"][h]
            if "acceptance" in result:
                head["acceptance"] = result["acceptance"][h]
        heads.append(head)
    out = {"tokens": result["tokens"], "heads": heads}
    if "draft_tokens" in result:
        out["draft_tokens"] = result["draft_tokens"]
    return out


def print_table(result, exit_layers, n_layers, title):
    drafts = "acceptance" in result
    print(title)
    print("head after block   CE       agreement with final" + ("   drafter acceptance" if drafts else ""))
    for h, layer in enumerate(exit_layers):
        print("%16d   %7.4f  %5.1f%%" % (layer, result["ce"][h], 100 * result["agreement"][h])
              + ("                 %5.1f%%" % (100 * result["acceptance"][h]) if drafts else ""))
    print("%16d   %7.4f  (final)" % (n_layers, result["ce"][-1]))
    print("%d target tokens%s" % (result["tokens"], ", %d greedy draft positions" % result["draft_tokens"]
                                  if drafts else ""), flush=True)
