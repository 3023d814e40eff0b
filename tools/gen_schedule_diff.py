#!/usr/bin/python3
"""Writes tests/data/schedule_diff.jsonl: random prompts over the characters that matter to
A1111's prompt editing ( [ ] ( ) : | \\ ), the words AND and BREAK, numbers and words, with
what A1111 makes of them, for the differential test in tests/spec/schedule_diff_spec.lua.

A1111 (modules/prompt_parser.py) splits a prompt on the word AND and reads a trailing
":weight" of each part (get_multicond_prompt_list, two regular expressions), then gives each
part's schedule (get_learned_conditioning_prompt_schedules): it parses the part with a lark
Earley grammar, collects the steps of the tree (every [..|..] adds all steps, every
[from:to:when] adds min(steps, int(when)) when that is >= 1, a number with '.' being a
fraction of steps) and renders the tree at each collected step. A part lark cannot parse is
one entry [steps, part]. The grammar below is A1111's, parsed by lark itself; the AND split,
the step collection and the rendering are written here from that description, so that the
fixture does not need A1111 (or torch) installed.

lark resolves ambiguities with sets whose order follows Python's string hash, and A1111's
grammar is ambiguous in a few places (a [from:to:when] directly followed by a stray bracket
or ':' at the top level, see core/prompt/prompt_schedule.c): there A1111's own result
changes from one run to the next. Every prompt is therefore evaluated under several
PYTHONHASHSEED values; rows whose results differ carry "variants" (every result seen)
instead of "parts", and the test accepts any of them.

Rows (JSON, one per line; the first line is {"meta": ...}):
  {"prompt": P, "steps": N, "parts": [{"prompt": T, "weight": W,
                                       "schedule": [[until_step, text], ...]}, ...]}
  a part whose step collection raises (int() of an infinite float) has "error" instead of
  "schedule".

Regenerate (needs Debian's python3-lark, with /usr/bin/python3; deterministic):

    apt-get install -y python3-lark
    /usr/bin/python3 tools/gen_schedule_diff.py > tests/data/schedule_diff.jsonl
"""
import json
import os
import random
import re
import subprocess
import sys

import lark

# A1111's grammar (modules/prompt_parser.py, v1.6 and later), unchanged.
GRAMMAR = r"""
!start: (prompt | /[][():]/+)*
prompt: (emphasized | scheduled | alternate | plain | WHITESPACE)*
!emphasized: "(" prompt ")"
        | "(" prompt ":" prompt ")"
        | "[" prompt "]"
scheduled: "[" [prompt ":"] prompt ":" [WHITESPACE] NUMBER [WHITESPACE] "]"
alternate: "[" prompt ("|" [prompt])+ "]"
WHITESPACE: /\s+/
plain: /([^\\\[\]():|]|\\.)+/
%import common.SIGNED_NUMBER -> NUMBER
"""

# get_multicond_prompt_list's two expressions
RE_AND = re.compile(r"\bAND\b")
RE_WEIGHT = re.compile(r"^((?:\s|.)*?)(?:\s*:\s*([-+]?(?:\d+\.?|\d*\.\d+)))?\s*$")

SEED = 12
COUNT = 1200
HASH_SEEDS = [str(i) for i in range(40)]

# Hand-written rows first: escapes inside every construct.
FIXED = [
    (r"[x\|y|z]", 2), (r"[x\\|y|z]", 2), (r"[x|y\|z]", 3), (r"[\||\|]", 2),
    (r"[a\:b:c:3]", 4), (r"[a:b\:c:3]", 4), (r"[a\::3]", 4), (r"[\:b:3]", 4),
    (r"[a:b:\3]", 4), (r"[a\]:b:2]", 3), (r"[a:\[b:2]", 3), (r"[a\|b:2]", 3),
    (r"(a\:b)", 2), (r"(a\|b)", 2), (r"(a\):2)", 2), (r"[a\]]", 2), (r"\[a|b]", 2),
    (r"[a|b\]", 2), (r"[a|b\\]", 2), (r"[[x\|y|z]:w:2]", 3), (r"[w:[x\|y|z]:2]", 4),
    (r"[[a\:b:c:1]|d]", 3), (r"[(x\|y:1.5)|z]", 2), (r"x\|y", 2), (r"[a:b\|c:3]", 4),
    (r"\AND [a|b]", 2), (r"a \AND b", 1), (r"[a|b] AND [c\|d|e] :0.5", 2),
    (r"[a:b:2] BREAK [c\|d|e]", 3), (r"[a\\:b:2]", 3), (r"[a|\\]", 2), (r"[a|\]", 2),
    ("[a|b\\\n]", 2), ("[a|b\\", 2), (r"[a|b]\ ", 2), (r"[\(|\)]", 2), (r"[a:b:2\ ]", 3),
]

WORDS = ["a", "cat", "dog", "x", "y", "red", "AND", "BREAK", "ANDY", "e", "E", "é", "１"]
NUMS = ["1", "2", "3", "0", "-1", "+2", ".5", "0.25", "1.0", "2.", "1e1", "0.5e1", "12",
        " 2 ", "2 ", " 3", "\u30002", "x", ""]
ESCAPED = "[]():|\\ a1n"


def gen_escape(r):
    return "\\" + r.choice(ESCAPED)


def gen_seq(r, depth):
    out = []
    for _ in range(r.randint(0, 3)):
        k = r.random()
        if k < 0.25:
            out.append(r.choice(WORDS))
        elif k < 0.35:
            out.append(r.choice([" ", "  ", ", ", "\n"]))
        elif k < 0.5:
            out.append(gen_escape(r))
        elif k < 0.55:
            out.append(r.choice(["[", "]", "(", ")", ":", "|"]))  # noise
        elif k < 0.6:
            out.append(r.choice([" AND ", " BREAK ", " AND ", " :0.7 AND "]))
        elif depth < 2:
            out.append(gen_construct(r, depth + 1))
        else:
            out.append(r.choice(WORDS))
    return "".join(out)


def gen_construct(r, depth):
    k = r.random()
    if k < 0.35:
        opts = [gen_seq(r, depth) for _ in range(r.randint(2, 4))]
        return "[" + "|".join(opts) + "]"
    if k < 0.55:
        return "[" + gen_seq(r, depth) + ":" + gen_seq(r, depth) + ":" + r.choice(NUMS) + "]"
    if k < 0.7:
        return "[" + gen_seq(r, depth) + ":" + r.choice(NUMS) + "]"
    if k < 0.8:
        return "(" + gen_seq(r, depth) + ":" + r.choice(NUMS) + ")"
    if k < 0.9:
        return "(" + gen_seq(r, depth) + ")"
    return "[" + gen_seq(r, depth) + "]"


def gen_soup(r):
    alphabet = ["[", "]", "(", ")", ":", "|", "\\", " AND ", " BREAK ", "1", "2", ".", "a",
                "b", " ", "\\|", "\\[", "\\]", "\\:"]
    return "".join(r.choice(alphabet) for _ in range(r.randint(1, 14)))


def prompts():
    r = random.Random(SEED)
    rows = list(FIXED)
    while len(rows) < COUNT:
        p = gen_soup(r) if r.random() < 0.3 else gen_seq(r, 0) + gen_construct(r, 1) + gen_seq(r, 0)
        rows.append((p, r.choice([1, 2, 3, 4, 5, 7, 10, 20])))
    return rows


# --- A1111's semantics, evaluated in a child process (one per hash seed) ---------------

def collect_steps(tree, steps):
    """Steps of the schedule, and the resolved step of every [from:to:when] node."""
    res = {steps}
    when = {}
    for sub in tree.iter_subtrees():
        if sub.data == "scheduled":
            s = str(sub.children[-2])  # children: before|None, after, ws|None, NUMBER, ws|None
            v = float(s)
            if "." in s:
                v = v * steps
            t = min(steps, int(v))  # int() of inf raises OverflowError, as in A1111
            when[id(sub)] = t
            if t >= 1:
                res.add(t)
        elif sub.data == "alternate":
            res.update(range(1, steps + 1))
    return sorted(res), when


def render(node, step, when):
    if node is None:
        return ""
    if isinstance(node, lark.Token):
        return str(node)
    if node.data == "scheduled":
        assert len(node.children) == 5
        return render(node.children[0] if step <= when[id(node)] else node.children[1], step, when)
    if node.data == "alternate":
        return render(node.children[(step - 1) % len(node.children)], step, when)
    return "".join(render(c, step, when) for c in node.children)


def schedule(parser, text, steps):
    try:
        tree = parser.parse(text)
    except lark.exceptions.LarkError:
        return [[steps, text]]
    at, when = collect_steps(tree, steps)
    return [[t, render(tree, t, when)] for t in at]


def evaluate(rows):
    parser = lark.Lark(GRAMMAR)
    out = []
    for p, steps in rows:
        parts = []
        for sub in RE_AND.split(p):
            m = RE_WEIGHT.search(sub)
            text, weight = m.groups() if m is not None else (sub, None)
            part = {"prompt": text, "weight": float(weight) if weight is not None else 1.0}
            try:
                part["schedule"] = schedule(parser, text, steps)
            except (OverflowError, ValueError) as e:
                part["error"] = type(e).__name__
            parts.append(part)
        out.append(parts)
    return out


def main():
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        json.dump(evaluate(json.load(sys.stdin)), sys.stdout)
        return
    rows = prompts()
    results = []
    for k in range(0, len(HASH_SEEDS), 2):  # two children at a time
        kids = [subprocess.Popen([sys.executable, __file__, "--child"], stdin=subprocess.PIPE,
                                 stdout=subprocess.PIPE, text=True,
                                 env=dict(os.environ, PYTHONHASHSEED=hs))
                for hs in HASH_SEEDS[k:k + 2]]
        for kid in kids:
            out, _ = kid.communicate(json.dumps(rows))
            if kid.returncode:
                sys.exit("child failed")
            results.append(json.loads(out))
    print(json.dumps({"meta": {"generator": "tools/gen_schedule_diff.py", "seed": SEED,
                               "lark": lark.__version__, "python": sys.version.split()[0],
                               "hash_seeds": HASH_SEEDS}}))
    nvar = 0
    for i, (p, steps) in enumerate(rows):
        row = {"prompt": p, "steps": steps}
        seen = []
        for res in results:
            if res[i] not in seen:
                seen.append(res[i])
        if len(seen) == 1:
            row["parts"] = seen[0]
        else:
            row["variants"] = seen
            nvar += 1
        print(json.dumps(row))
    print("%d rows, %d depend on the hash seed" % (len(rows), nvar), file=sys.stderr)


if __name__ == "__main__":
    main()
