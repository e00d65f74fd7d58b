#!/usr/bin/python3
"""The layering check: the arrows between folders run one way (ctest `layering`).

Reads every #include of src/, lib/, include/, plugins/, examples/ and tools/, resolves it the
way the build does (include roots src/, lib/ and include/; a plugin's, example's or tool's own
headers in its own folder) and reports, one line per problem:

  wrong-way include  a folder includes one that tools/layering/layers.txt does not allow it
  include cycle      modules (a .c with its .h, and its NAME_internal.h) that include each
                     other, any length
  unresolved include a quoted header found nowhere (a typo), or found only beside the file
                     under src/ or lib/, where includes name their folder
  ambiguous include  a header found at two places, so the include path decides which
  unlisted folder    a folder that has no line in layers.txt
  cmake              src/**/CMakeLists.txt names a path under plugins/ or a target a plugin
                     folder defines; lib/, plugins/ or tools/ CMakeLists.txt names a path
                     under src/ or a library target src/ defines
  docs               docs/architecture.md shows the table otherwise than layers.txt, or does
                     not name a source file of src/ or lib/

Problems listed in tools/layering/known_violations.txt (the wrong-way includes and cycles
that are being removed) are allowed; one listed there that no longer occurs fails too, so
that list only shrinks. Standard library only; exit 0 when clean, 1 on any problem, 2 on a
broken table.

usage: check_layers.py [SOURCE_DIR] [--known FILE]
"""

import os
import re
import sys

SCANNED = ("src", "lib", "include", "plugins", "examples", "tools")
ROOTS = ("src", "lib", "include")  # the include roots, in the build's order
OWN_FOLDER_TREES = ("plugins", "examples", "tools")  # their own headers need no folder
HOST_ONLY = "src"  # what nothing under lib/, plugins/, examples/, tools/ may reach
INCLUDE_RE = re.compile(r'^\s*#\s*include\s*([<"])([^>"]+)[>"]')


class TableError(Exception):
    pass


def read_table(path):
    """layers.txt -> list of (folder pattern, [allowed patterns], why)."""
    rules = []
    with open(path, encoding="utf-8") as f:
        for number, raw in enumerate(f, 1):
            line = raw.split("#", 1)[0].strip()
            if not line:
                continue
            if ":" not in line:
                raise TableError(f"{path}:{number}: no ':' (FOLDER : MAY INCLUDE ...)")
            if "#" not in raw:
                raise TableError(f"{path}:{number}: every line says why, after a '#'")
            folder, allowed = line.split(":", 1)
            rules.append((folder.strip(), allowed.split(), raw.split("#", 1)[1].strip()))
    return rules


def matches(pattern, folder):
    if pattern == "*":
        return True
    if pattern.endswith("/*"):
        return folder.startswith(pattern[:-1]) and "/" not in folder[len(pattern) - 1 :]
    return pattern == folder


def check_table(rules):
    """The table's own arrows: none from outside the host into src/, and no cycle."""
    for folder, allowed, _ in rules:
        top = folder.split("/")[0]
        if top not in (HOST_ONLY, "*") and any(a.split("/")[0] == HOST_ONLY for a in allowed):
            raise TableError(f"layers.txt gives {folder} a folder of src/: only the host may")
    edges = {}
    for f, allowed, _ in rules:
        if f != "*":
            edges.setdefault(f, []).extend(a for a in allowed if a != f)
    state = {}

    def visit(node, path):
        state[node] = "open"
        for target in edges.get(node, []):
            for other in edges:
                if other != node and matches(target, other):
                    if state.get(other) == "open":
                        ring = path[path.index(other) :] + [other]
                        raise TableError("layers.txt has a cycle: " + " -> ".join(ring))
                    if other not in state:
                        visit(other, path + [other])
        state[node] = "done"

    for node in sorted(edges):
        if node not in state:
            visit(node, [node])


def folder_of(rel):
    """src/base/log.c -> src/base (the unit of the table)."""
    parts = rel.split("/")
    return "/".join(parts[:2]) if len(parts) > 2 else parts[0]


def source_files(root):
    found = []
    for top in SCANNED:
        for dirpath, dirnames, filenames in os.walk(os.path.join(root, top)):
            dirnames.sort()
            for name in sorted(filenames):
                if name.endswith((".c", ".h")):
                    found.append(os.path.relpath(os.path.join(dirpath, name), root))
    return found


def includes_of(root, rel):
    with open(os.path.join(root, rel), encoding="utf-8", errors="replace") as f:
        for line in f:
            m = INCLUDE_RE.match(line)
            if m:
                yield m.group(1), m.group(2)


def resolve(root, rel, quote, name):
    """Where an include lands: (project file or None, problem or None)."""
    here = os.path.dirname(rel)
    beside = os.path.normpath(os.path.join(here, name))
    own_tree = rel.split("/")[0] in OWN_FOLDER_TREES
    candidates = []
    if quote == '"' and own_tree and os.path.isfile(os.path.join(root, beside)):
        candidates.append(beside)
    for r in ROOTS:
        p = os.path.normpath(os.path.join(r, name))
        if os.path.isfile(os.path.join(root, p)) and p not in candidates:
            candidates.append(p)
    if len(candidates) > 1:
        where = " and ".join(candidates)
        return None, f'ambiguous include: {rel} includes "{name}", found as {where}'
    if candidates:
        return candidates[0], None
    if quote == "<":
        return None, None  # a system header
    if os.path.isfile(os.path.join(root, beside)):
        folder = here.split("/", 1)[1] if "/" in here else here
        return None, (
            f'unresolved include: {rel} includes "{name}", which names no folder:'
            f' write "{folder}/{name}"'
        )
    return None, f'unresolved include: {rel} includes "{name}", found nowhere'


def module_of(rel):
    """A .c and its .h are one module: src/config/config.c -> src/config/config. A private
    header NAME_internal.h (what a module's files share beyond its public header, as libuv's
    uv-common.h) belongs to module NAME: it extends the public header, it is no module of its
    own that the public one could form a cycle with."""
    stem = rel[:-2] if rel.endswith((".c", ".h")) else rel
    return stem[: -len("_internal")] if stem.endswith("_internal") else stem


def knots(graph):
    """The strongly connected components of more than one module (Tarjan), each sorted."""
    index, low, on_stack, stack, found = {}, {}, set(), [], []

    def visit(v):
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def cycles(graph):
    """For every module in a knot, the shortest cycle through it (breadth first), each cycle
    once and starting at its smallest module. Every module of a knot is named, and the output
    stays one line per cycle worth cutting instead of every path around the knot."""
    out = []
    for knot in knots(graph):
        members = set(knot)
        for start in knot:
            parent, queue, back = {start: None}, [start], None
            while queue and back is None:
                node = queue.pop(0)
                for nxt in sorted(graph.get(node, ())):
                    if nxt == start:
                        back = node
                        break
                    if nxt in members and nxt not in parent:
                        parent[nxt] = node
                        queue.append(nxt)
            ring = []
            while back is not None:
                ring.append(back)
                back = parent[back]
            ring.reverse()
            i = ring.index(min(ring))
            ring = ring[i:] + ring[:i]
            if ring not in out:
                out.append(ring)
    return sorted(out)


def cmake_problems(root):
    problems = []

    def code_of(path):
        with open(os.path.join(root, path), encoding="utf-8") as f:
            return f.read()

    def without_comments(text):
        return "\n".join(line.split("#", 1)[0] for line in text.splitlines())

    def cmakelists(top):
        return [p for p in source_tree(root, top) if os.path.basename(p) == "CMakeLists.txt"]

    defines = re.compile(r"^\s*(?:add_library|bppipe_add_plugin)\(\s*([A-Za-z0-9_.+-]+)", re.M)

    # src/CMakeLists.txt defines its libraries through bppipe_layer(NAME ...): bppipe_NAME.
    layers = re.compile(r"^\s*bppipe_layer\(\s*([A-Za-z0-9_]+)", re.M)

    def targets(files):
        out = set()
        for p in files:
            code = without_comments(code_of(p))
            out.update(defines.findall(code))
            out.update("bppipe_" + name for name in layers.findall(code))
        return out

    def names(code, target):
        return re.search(r"(^|[^A-Za-z0-9_-])" + re.escape(target) + r"([^A-Za-z0-9_-]|$)", code)

    plugin_targets = targets(cmakelists("plugins"))
    for cm in cmakelists("src"):
        text = code_of(cm)
        # Comments too, as the old core_layering.sh did: a note about a plugin's file is
        # usually the trace of a build that compiles it.
        for path in sorted(set(re.findall(r"plugins/[^\s\"')]*", text))):
            problems.append(f"cmake: {cm} names {path}, a path under plugins/")
        code = without_comments(text)
        for t in sorted(plugin_targets):
            if names(code, t):
                problems.append(f"cmake: {cm} names {t}, a target defined under plugins/")

    # The other way: code outside the host reaches src/ neither by path nor by target.
    host_libraries = targets(cmakelists("src"))
    src_path = re.compile(r"(\}|\.\.)/src([/\"\s)]|$)")
    for top in ("lib", "plugins", "tools"):
        for cm in cmakelists(top):
            code = without_comments(code_of(cm))
            if src_path.search(code):
                problems.append(f"cmake: {cm} names a path under src/")
            for t in sorted(host_libraries):
                if names(code, t):
                    problems.append(f"cmake: {cm} names {t}, a library target defined under src/")
    return problems


def source_tree(root, top):
    out = []
    for dirpath, dirnames, filenames in os.walk(os.path.join(root, top)):
        dirnames.sort()
        for name in sorted(filenames):
            out.append(os.path.relpath(os.path.join(dirpath, name), root))
    return out


DOC = "docs/architecture.md"
DOC_MARK = "<!-- tools/layering/layers.txt"


def docs_problems(root, table_path, files):
    """docs/architecture.md against the tree: the code block after DOC_MARK holds the rule lines
    of layers.txt, the same words in the same order (spacing aside), and every file of src/ and
    lib/ is named on the page."""
    path = os.path.join(root, DOC)
    if not os.path.isfile(path):
        return []  # a tree without its docs (the self-test's copy)

    def rules_of(lines):
        return [" ".join(l.split()) for l in lines if l.strip() and not l.lstrip().startswith("#")]

    with open(table_path, encoding="utf-8") as f:
        want = rules_of(f.read().splitlines())
    with open(path, encoding="utf-8") as f:
        lines = f.read().splitlines()
    start = next((i for i, l in enumerate(lines) if l.strip().startswith(DOC_MARK)), None)
    if start is None:
        return [f"docs: {DOC} no longer shows tools/layering/layers.txt (no {DOC_MARK} mark)"]
    fences = [i for i in range(start + 1, len(lines)) if lines[i].startswith("```")][:2]
    if len(fences) < 2:
        return [f"docs: {DOC} has no code block after its {DOC_MARK} mark"]
    got = rules_of(lines[fences[0] + 1 : fences[1]])
    problems = []
    for i in range(max(len(want), len(got))):
        w = want[i] if i < len(want) else "(nothing)"
        g = got[i] if i < len(got) else "(nothing)"
        if w != g:
            problems.append(
                f"docs: {DOC} shows the table otherwise than tools/layering/layers.txt:"
                f' rule {i + 1} is "{g}" there, "{w}" in layers.txt'
            )
            break
    # Every source file of the host and of lib/ is findable from the page (its file tables).
    text = "\n".join(lines)
    for rel in files:
        if rel.split("/")[0] in ("src", "lib"):
            name = os.path.basename(rel)
            if not re.search(r"(?<![\w.])" + re.escape(name) + r"(?!\w)", text):
                problems.append(f"docs: {rel} is not named in {DOC} (its folder's file table)")
    return problems


def read_known(path):
    """known_violations.txt -> {violation: line number}; every line carries a comment."""
    known = {}
    if not os.path.isfile(path):
        return known
    with open(path, encoding="utf-8") as f:
        for number, raw in enumerate(f, 1):
            text = raw.split("  #", 1)[0].strip()
            if text and not text.startswith("#"):
                known[text] = number
    return known


def main(argv):
    args = list(argv[1:])
    here = os.path.dirname(os.path.abspath(__file__))
    known_path = None
    if "--known" in args:
        i = args.index("--known")
        known_path = args[i + 1]
        del args[i : i + 2]
    root = args[0] if args else os.environ.get("BPPIPE_SOURCE_DIR")
    root = os.path.abspath(root or os.path.join(here, "..", ".."))
    table_path = os.path.join(root, "tools", "layering", "layers.txt")
    known_path = known_path or os.path.join(root, "tools", "layering", "known_violations.txt")

    try:
        rules = read_table(table_path)
        check_table(rules)
    except TableError as e:
        print(f"FAIL {e}")
        return 2

    problems = []
    files = source_files(root)
    edges = {}  # module -> {included module: the first include that makes the edge}
    count = 0
    for rel in files:
        folder = folder_of(rel)
        own = [r for r in rules if r[0] != "*" and matches(r[0], folder)]
        if not own:
            problems.append(f"unlisted folder: {folder} has no line in tools/layering/layers.txt")
            continue
        allowed = [a for p, al, _ in rules if matches(p, folder) for a in al]
        # A wildcard line (plugins/*) says what its folders are: worth repeating in the message.
        why = f" ({own[0][2]})" if own[0][0].endswith("/*") else ""
        for quote, name in includes_of(root, rel):
            target, problem = resolve(root, rel, quote, name)
            if problem:
                problems.append(problem)
            if target is None:
                continue
            count += 1
            to = folder_of(target)
            if to != folder and not any(matches(a, to) for a in allowed):
                problems.append(
                    f'wrong-way include: {rel} includes "{name}":'
                    f" {folder} may not include {to}{why}"
                )
            a, b = module_of(rel), module_of(target)
            if a != b:
                edges.setdefault(a, {}).setdefault(b, f'{rel} includes "{name}"')

    details = {}
    for cycle in cycles(edges):
        text = "include cycle: " + " -> ".join(cycle + [cycle[0]])
        ring = cycle + [cycle[0]]
        details[text] = "; ".join(edges[ring[i]][ring[i + 1]] for i in range(len(cycle)))
        problems.append(text)

    problems += cmake_problems(root)
    problems += docs_problems(root, table_path, files)

    known = read_known(known_path)
    known_name = os.path.relpath(known_path, root)
    seen = set()
    new = []
    for p in problems:
        if p in seen:
            continue
        seen.add(p)
        if p not in known:
            new.append(p)
    gone = [k for k in known if k not in seen]

    for p in new:
        print(f"FAIL {p}")
        if p in details:
            print(f"       ({details[p]})")
    for k in gone:
        print(f"FAIL no longer occurs, remove it from {known_name} (line {known[k]}): {k}")
    still = len(known) - len(gone)
    print(
        f"layering: {len(files)} files, {count} project includes, {len(new)} new problems,"
        f" {still} known violations still allowed ({known_name})"
    )
    if new or gone:
        return 1
    print("ok   the arrows run one way (tools/layering/layers.txt)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
