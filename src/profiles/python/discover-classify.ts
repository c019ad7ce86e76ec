/**
 * The Python side of discovery: which discovered items are work. Python's own `ast` parses every file of the tree
 * (one process for the whole tree); the files arrive on stdin as JSON, so the script opens nothing in the tree and
 * runs none of its code. For each item it answers with the first reason it is not work, or with the tests that
 * exercise it (the evidence that a change can be proven):
 *
 * - `test_helper`: the item is in a test file (tests/, test_*.py, *_test.py, conftest.py);
 * - `abstract`: the enclosing method is decorated `@abstractmethod` (or `@overload`), belongs to a `Protocol`, or
 *   is a body that only raises in a class deriving from `ABC` or with `metaclass=ABCMeta`;
 * - `base_default`: a `NotImplementedError` in a method that a subclass in the tree overrides, or whose message
 *   says subclasses provide it;
 * - `unsupported`: a `NotImplementedError` whose message names what is not supported (a mode, engine, platform,
 *   format, feature: "not supported", "only supported for", "does not support", "requires", "not available",
 *   "does not exist in", or a plan for a named engine, backend or phase);
 * - `no_evidence`: no test file imports the item's module (or a package above it) and refers to its function (and,
 *   for a method, to its class or a subclass).
 *
 * Classes are matched by name across the tree: a subclass names its base as written (`Base`, `mod.Base`).
 * Printed: `{"results": [{"reason"?, "why"?, "evidence"?}, …]}` in the order of the items.
 */
export const CLASSIFY_SCRIPT = String.raw`
import ast, json, re, sys

ABSTRACT_DECORATORS = {"abstractmethod", "abstractproperty", "abstractclassmethod", "abstractstaticmethod", "overload"}
UNSUPPORTED = re.compile(
    r"\b(?:not|never)\s+(?:yet\s+|currently\s+)?supported\b|\bunsupported\b|\bdo(?:es)?(?:n't|\s+not)\s+(?:yet\s+)?support\b"
    r"|\bonly\s+(?:be\s+)?(?:supported|available|works?)\b|\bnot\s+(?:yet\s+)?available\b|\brequires?\b"
    r"|\bdoes\s+not\s+exist\s+in\b", re.I)
PLANNED = re.compile(r"\bnot\s+yet\s+implemented\b|\bwill\s+be\s+implemented\b|\bnot\s+implemented\s+(?:for|in)\b", re.I)
SCOPE = re.compile(r"\b(?:engine|mode|backend|platform|format|dialect|server|phase|connection|driver)\b", re.I)
OVERRIDE = re.compile(r"\bsubclass|\bmust\s+(?:be\s+)?(?:implemented|overridden)|\boverride\b|\bconcrete\b", re.I)
IDENT = re.compile(r"^[A-Za-z_][\w.]*$")

def name_of(node):
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return node.attr
    if isinstance(node, (ast.Subscript, ast.Call)):
        return name_of(node.value if isinstance(node, ast.Subscript) else node.func)
    return None

def text_of(node):
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if isinstance(node, ast.JoinedStr):
        return "".join(text_of(v) if isinstance(v, ast.Constant) else "{}" for v in node.values)
    if isinstance(node, ast.BinOp) and isinstance(node.op, (ast.Add, ast.Mod)):
        return text_of(node.left) + text_of(node.right)
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "format":
        return text_of(node.func.value)
    return ""

def message_of(raise_node):
    exc = raise_node.exc
    if isinstance(exc, ast.Call) and name_of(exc.func) == "NotImplementedError":
        return " ".join(text_of(a) for a in exc.args[:1]).strip()
    return ""

data = json.load(sys.stdin)
files = {f["path"]: f for f in data["files"]}

def module_of(p):
    segs = p.split("/")
    i = len(segs) - 1
    while i > 0 and "/".join(segs[:i]) + "/__init__.py" in files:
        i -= 1
    mod = segs[i:]
    mod[-1] = mod[-1][:-3]
    if mod[-1] == "__init__" and len(mod) > 1:
        mod.pop()
    return ".".join(mod)

trees = {}
for p in files:
    try:
        trees[p] = ast.parse(files[p]["text"], p)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        pass

classes = {}
children = {}
functions = {}
raises = {}

def index(p, node, cls):
    for child in ast.iter_child_nodes(node):
        if isinstance(child, ast.ClassDef):
            bases = [name_of(b) for b in child.bases]
            meta = [name_of(k.value) for k in child.keywords if k.arg == "metaclass"]
            methods = {c.name for c in child.body if isinstance(c, (ast.FunctionDef, ast.AsyncFunctionDef))}
            classes.setdefault(child.name, []).append({"bases": bases, "meta": meta, "methods": methods})
            for b in bases:
                if b:
                    children.setdefault(b, set()).add(child.name)
            index(p, child, child)
        elif isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef)):
            functions.setdefault(p, []).append((child, cls))
            index(p, child, None)
        else:
            if isinstance(child, ast.Raise):
                raises.setdefault(p, {})[child.lineno] = child
            index(p, child, cls)

for p, tree in trees.items():
    index(p, tree, None)

def descendants(name):
    seen, todo = set(), [name]
    while todo:
        for c in children.get(todo.pop(), ()):
            if c not in seen:
                seen.add(c)
                todo.append(c)
    return seen

def enclosing(p, line):
    best = None
    for fn, cls in functions.get(p, ()):
        if fn.lineno <= line <= (fn.end_lineno or fn.lineno):
            if best is None or fn.lineno >= best[0].lineno:
                best = (fn, cls)
    return best

def only_raises(fn):
    body = fn.body
    if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant) and isinstance(body[0].value.value, str):
        body = body[1:]
    return len(body) == 1 and isinstance(body[0], ast.Raise)

tests = []
for p, tree in trees.items():
    if not files[p]["test"]:
        continue
    mod = module_of(p)
    pkg = mod.split(".") if p.endswith("__init__.py") else mod.split(".")[:-1]
    imports, names = set(), set()
    for n in ast.walk(tree):
        if isinstance(n, ast.Import):
            for a in n.names:
                imports.add(a.name)
                names.add((a.asname or a.name).split(".")[0])
        elif isinstance(n, ast.ImportFrom):
            base = n.module or ""
            if n.level:
                up = pkg[: len(pkg) - (n.level - 1)] if n.level > 1 else pkg
                base = ".".join(up + ([n.module] if n.module else []))
            imports.add(base)
            for a in n.names:
                imports.add(base + "." + a.name)
                names.add(a.name)
        elif isinstance(n, ast.Name):
            names.add(n.id)
        elif isinstance(n, ast.Attribute):
            names.add(n.attr)
        elif isinstance(n, ast.Constant) and isinstance(n.value, str) and IDENT.match(n.value):
            if "." in n.value:
                imports.add(n.value)
            names.update(n.value.split("."))
    tests.append((p, imports, names))

def reaches(imports, mod):
    return any(i == mod or mod.startswith(i + ".") or i.startswith(mod + ".") for i in imports)

def evidence(p, fn, cls):
    mod = module_of(p)
    wanted = fn.name if fn is not None and not (fn.name.startswith("__") and fn.name.endswith("__")) else None
    owners = ({cls.name} | descendants(cls.name)) if cls is not None else None
    out = []
    for t, imports, names in tests:
        if not reaches(imports, mod):
            continue
        if wanted is not None and wanted not in names:
            continue
        if owners is not None and not (owners & names):
            continue
        out.append(t)
    return sorted(out)

def classify(item):
    p, line = item["file"], item["line"]
    if files.get(p, {}).get("test"):
        return {"reason": "test_helper", "why": "in a test file"}
    if p not in trees:
        return {"reason": "no_evidence", "why": "the file does not parse"}
    found = enclosing(p, line)
    fn, cls = found if found else (None, None)
    raise_node = raises.get(p, {}).get(line) if item["kind"] == "not_implemented" else None
    if fn is not None:
        decorators = {name_of(d) for d in fn.decorator_list}
        if decorators & ABSTRACT_DECORATORS:
            return {"reason": "abstract", "why": "@" + sorted(decorators & ABSTRACT_DECORATORS)[0] + " " + fn.name + "()"}
        if cls is not None and raise_node is not None:
            infos = classes.get(cls.name, [])
            bases = {b for i in infos for b in i["bases"]}
            meta = {m for i in infos for m in i["meta"]}
            if "Protocol" in bases:
                return {"reason": "abstract", "why": fn.name + "() of the Protocol " + cls.name}
            if ("ABC" in bases or "ABCMeta" in meta) and only_raises(fn):
                return {"reason": "abstract", "why": fn.name + "() of the abstract class " + cls.name + " only raises"}
            overriders = sorted(d for d in descendants(cls.name) if any(fn.name in i["methods"] for i in classes.get(d, [])))
            if overriders:
                more = " and " + str(len(overriders) - 3) + " more" if len(overriders) > 3 else ""
                return {"reason": "base_default", "why": cls.name + "." + fn.name + "() is overridden in " + ", ".join(overriders[:3]) + more}
    if raise_node is not None:
        msg = message_of(raise_node)
        shown = json.dumps(msg[:160])
        if OVERRIDE.search(msg):
            return {"reason": "base_default", "why": "its message says subclasses provide it: " + shown}
        if UNSUPPORTED.search(msg) or (PLANNED.search(msg) and SCOPE.search(msg)):
            return {"reason": "unsupported", "why": "message: " + shown}
    ev = evidence(p, fn, cls)
    if not ev:
        target = (cls.name + "." if cls is not None else "") + (fn.name + "()" if fn is not None else "its code")
        return {"reason": "no_evidence", "why": "no test imports " + module_of(p) + " and refers to " + target}
    return {"evidence": ev}

json.dump({"results": [classify(i) for i in data["items"]]}, sys.stdout)
`;
