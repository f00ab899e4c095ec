"""What the deployment tests share: s.yaml as text and its ``${env(...)}`` placeholders, the
environment variables the code reads, and the RAM/KMS actions it calls (static).

s.yaml *resolved* is the real Serverless Devs engine's (the ``s_engine`` fixture, tests/s_engine):
the hand-written resolver that used to live here read ``access: ${env(...)}`` as the engine
never does, and is gone."""
import ast
import re
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
FUNCTIONS = ROOT / "functions"
S_YAML = ROOT / "s.yaml"

_ENV = re.compile(r"\$\{env\(\s*'([A-Za-z_][A-Za-z0-9_]*)'\s*(?:,\s*'([^']*)'\s*)?\)\}")


def load_s_yaml():
    with open(S_YAML, encoding="utf-8") as fh:
        return yaml.safe_load(fh)


def env_placeholders(text=None):
    """Every ``${env('NAME', 'default')}`` in s.yaml: {NAME: default or None}."""
    text = S_YAML.read_text(encoding="utf-8") if text is None else text
    return {m.group(1): m.group(2) for m in _ENV.finditer(text)}


# -- what the code reads ------------------------------------------------------------------
def _python_files(root=FUNCTIONS):
    return sorted(p for p in root.rglob("*.py") if "__pycache__" not in p.parts)


def _is_environ(node):
    """``os.environ`` or a name conventionally bound to it (``env``, ``environ``)."""
    if isinstance(node, ast.Attribute) and node.attr == "environ":
        return True
    return isinstance(node, ast.Name) and node.id in ("env", "environ", "environment")


def _const_str(node):
    return node.value if isinstance(node, ast.Constant) and isinstance(node.value, str) else None


def env_vars_read(root=FUNCTIONS):
    """{NAME: "file:line"} for every environment variable the code reads:
    ``os.environ[...]``, ``os.environ.get(...)``, ``os.getenv(...)``, ``env.get(...)`` and helpers
    called as ``helper(env, "NAME", ...)``."""
    found = {}
    for path in _python_files(root):
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        for node in ast.walk(tree):
            names = []
            if isinstance(node, ast.Subscript) and _is_environ(node.value):
                names.append(_const_str(node.slice))
            elif isinstance(node, ast.Call):
                func = node.func
                if isinstance(func, ast.Attribute) and func.attr in ("get", "pop", "setdefault") \
                        and _is_environ(func.value) and node.args:
                    names.append(_const_str(node.args[0]))
                elif isinstance(func, ast.Attribute) and func.attr == "getenv" and node.args:
                    names.append(_const_str(node.args[0]))
                elif any(_is_environ(a) for a in node.args):
                    names.extend(_const_str(a) for a in node.args)
            for name in names:
                if name and re.fullmatch(r"[A-Z][A-Z0-9_]*", name):
                    found.setdefault(name, f"{path.relative_to(ROOT)}:{node.lineno}")
    return found


# -- what the code calls --------------------------------------------------------------------
SERVICES = ("ram", "kms")
BASE_CALLERS = {"ram": ("ram", 0), "try_ram": ("ram", 0), "kms": ("kms", 0), "try_kms": ("kms", 0)}


def _call_name(func):
    if isinstance(func, ast.Attribute):
        return func.attr
    if isinstance(func, ast.Name):
        return func.id
    return None


def _functions(trees):
    for path, tree in trees:
        for node in ast.walk(tree):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                yield path, node


def _params(fn):
    names = [a.arg for a in fn.args.posonlyargs + fn.args.args]
    if names and names[0] in ("self", "cls"):
        names = names[1:]
    return names


def _action_constants(node):
    """Literal action names an argument can take (a constant, or either branch of ``a if c else b``)."""
    if isinstance(node, ast.IfExp):
        return _action_constants(node.body) + _action_constants(node.orelse)
    value = _const_str(node)
    return [value] if value is not None else []


def actions_called(root=FUNCTIONS):
    """``({"ram:CreateUser", ...}, unresolved)`` from the source, following wrappers.

    A wrapper is any function passing one of its parameters as the action to ``ram``/``kms``/
    ``try_ram``/``try_kms`` (or to another wrapper): ``def _ignore(self, pred, action, **p):
    return self.ram(action, **p)`` makes ``_ignore(pred, "DeleteAccessKey")`` a DeleteAccessKey
    call. An action argument that is neither a literal nor a pass-through parameter is reported
    as unresolved (the policy could not be checked against it)."""
    trees = [(p, ast.parse(p.read_text(encoding="utf-8"), filename=str(p))) for p in _python_files(root)]
    callers = _wrappers(trees)
    return _actions(trees, callers)


def _wrappers(trees):
    """{function name: (service, index of its action parameter)}: the base callers and their wrappers."""
    callers = dict(BASE_CALLERS)
    changed = True
    while changed:   # fixpoint: wrappers of wrappers
        changed = False
        for _path, fn in _functions(trees):
            params = _params(fn)
            for node in ast.walk(fn):
                if not isinstance(node, ast.Call):
                    continue
                target = callers.get(_call_name(node.func))
                if target is None or len(node.args) <= target[1]:
                    continue
                arg = node.args[target[1]]
                if isinstance(arg, ast.Name) and arg.id in params:
                    entry = (target[0], params.index(arg.id))
                    if callers.get(fn.name) != entry and fn.name not in BASE_CALLERS:
                        callers[fn.name] = entry
                        changed = True
    return callers


def _actions(trees, callers):
    actions, unresolved = {}, []
    for path, tree in trees:
        # planned steps: ``_step("ram", "DeleteUser", ...)`` (any call whose first two arguments
        # are a literal service and action), executed later by a generic dispatcher
        for node in ast.walk(tree):
            if isinstance(node, ast.Call) and len(node.args) >= 2 and _const_str(node.args[0]) in SERVICES:
                for action in _action_constants(node.args[1]):
                    if re.fullmatch(r"[A-Z][A-Za-z0-9]+", action):
                        actions.setdefault(f"{_const_str(node.args[0])}:{action}",
                                           f"{path.relative_to(ROOT)}:{node.lineno}")
        parents = {}
        for fn in (n for n in ast.walk(tree) if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))):
            for child in ast.walk(fn):
                parents.setdefault(child, fn)
        for node in ast.walk(tree):
            if not isinstance(node, ast.Call):
                continue
            name = _call_name(node.func)
            target = callers.get(name)
            if target is None:
                continue
            where = f"{path.relative_to(ROOT)}:{node.lineno}"
            if len(node.args) <= target[1]:
                unresolved.append(f"{where}: {name}() without a positional action")
                continue
            arg = node.args[target[1]]
            literals = _action_constants(arg)
            if literals:
                for action in literals:
                    actions.setdefault(f"{target[0]}:{action}", where)
                continue
            enclosing = parents.get(node)
            if isinstance(arg, ast.Name) and enclosing is not None and arg.id in _params(enclosing):
                continue   # a wrapper passing its parameter through; its callers are scanned
            if isinstance(arg, ast.Attribute) and arg.attr == "action" and path.name == "steps.py":
                continue   # steps.execute dispatching a planned Step; the plans are scanned as calls
            unresolved.append(f"{where}: {name}() with a computed action")
    return actions, unresolved


# -- per function: what each deployed function can reach ----------------------------------------------------
# Method names of builtins (list.append, dict.get, str.join, ...): a call ``x.append(...)`` on an object of
# unknown type is not taken for a function of ours by that name (the ledger's ``append`` writes to KMS).
_BUILTIN_METHODS = frozenset({
    "append", "extend", "add", "get", "items", "values", "pop", "update", "setdefault", "sort", "join", "replace",
    "split", "rsplit", "partition", "strip", "startswith", "endswith", "format", "copy", "insert", "remove", "clear",
    "encode", "decode", "lower", "upper", "isoformat", "strftime", "total_seconds", "timestamp", "astimezone",
    "read_text", "discard", "index", "count", "findall", "match", "fullmatch", "sub", "search", "group"})


def _module_name(path, root=FUNCTIONS):
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def _resolve_from(module, node, modules):
    """``from ..x import y`` in ``module`` → the absolute module the names come from."""
    if node.level == 0:
        return node.module or ""
    base = module.split(".")
    is_package = modules.get(module, (None, False))[1]
    base = base if is_package else base[:-1]
    if node.level > 1:
        base = base[:len(base) - (node.level - 1)]
    return ".".join(base + ([node.module] if node.module else []))


def actions_by_function(root=FUNCTIONS):
    """``{function: {"ram:CreateUser": "where", ...}}`` for every deployed function (an entry file naming
    ``app.Function(...)``): the actions reachable from the workflows it names, following calls function by
    function (``self.x`` within the class, ``module.x`` through imports, a local made from a class, else
    every function of that name that is not a builtin's method). An over-approximation where the type of
    the called object is unknown; never an under-approximation of a literal call."""
    paths = _python_files(root)
    modules = {_module_name(p, root): (p, p.name == "__init__.py") for p in paths}
    trees = {m: ast.parse(p.read_text(encoding="utf-8"), filename=str(p)) for m, (p, _) in modules.items()}
    callers = _wrappers([(modules[m][0], t) for m, t in trees.items()])
    functions, by_name, classes = {}, {}, set()
    for module, tree in trees.items():
        for top in tree.body:
            if isinstance(top, ast.ClassDef):
                classes.add((module, top.name))
                for item in top.body:
                    if isinstance(item, (ast.FunctionDef, ast.AsyncFunctionDef)):
                        functions[(module, top.name, item.name)] = item
        for node in ast.walk(tree):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                key = next((k for k, v in functions.items() if v is node), (module, None, node.name))
                functions.setdefault(key, node)
    for key in functions:
        by_name.setdefault(key[2], []).append(key)

    def aliases(module):
        found = {}
        for node in ast.walk(trees[module]):
            if isinstance(node, ast.ImportFrom):
                source = _resolve_from(module, node, modules)
                for name in node.names:
                    target = f"{source}.{name.name}" if source else name.name
                    found[name.asname or name.name] = ("module", target) if target in modules else (
                        "name", source, name.name)
            elif isinstance(node, ast.Import):
                for name in node.names:
                    if name.name in modules:
                        found[name.asname or name.name] = ("module", name.name)
        return found

    module_aliases = {m: aliases(m) for m in trees}

    def named(module, name):
        """A name as seen in ``module``: [function keys] (a class: its __init__), and the class if one."""
        kind = module_aliases[module].get(name)
        where, what = (kind[1], kind[2]) if kind and kind[0] == "name" else (module, name)
        if (where, what) in classes:
            return [(where, what, "__init__")], (where, what)
        return ([(where, None, what)] if (where, None, what) in functions else []), None

    def callees(module, cls, fn):
        local_types = {}
        for node in ast.walk(fn):
            if isinstance(node, ast.Assign) and isinstance(node.value, ast.Call) \
                    and isinstance(node.value.func, ast.Name):
                _, made = named(module, node.value.func.id)
                if made is not None:
                    for target in node.targets:
                        if isinstance(target, ast.Name):
                            local_types[target.id] = made
        out = set()
        for node in ast.walk(fn):
            if not isinstance(node, ast.Call):
                continue
            func = node.func
            if isinstance(func, ast.Name):
                out.update(named(module, func.id)[0])
            elif isinstance(func, ast.Attribute):
                attr, value = func.attr, func.value
                if attr in BASE_CALLERS:
                    continue
                if isinstance(value, ast.Name) and value.id in ("self", "cls") and (module, cls, attr) in functions:
                    out.add((module, cls, attr))
                elif isinstance(value, ast.Name) and value.id in local_types:
                    owner = local_types[value.id]
                    out.update([(owner[0], owner[1], attr)] if (owner[0], owner[1], attr) in functions else [])
                elif isinstance(value, ast.Name) and module_aliases[module].get(value.id, ("",))[0] == "module":
                    target = module_aliases[module][value.id][1]
                    out.update([(target, None, attr)] if (target, None, attr) in functions else
                               named(target, attr)[0])
                elif attr not in _BUILTIN_METHODS:
                    out.update(by_name.get(attr, []))
        return out

    def direct(module, fn):
        found = {}
        where = modules[module][0].relative_to(ROOT)
        for node in ast.walk(fn):
            if not isinstance(node, ast.Call):
                continue
            if len(node.args) >= 2 and _const_str(node.args[0]) in SERVICES:
                for action in _action_constants(node.args[1]):
                    found.setdefault(f"{_const_str(node.args[0])}:{action}", f"{where}:{node.lineno}")
            target = callers.get(_call_name(node.func))
            if target is not None and len(node.args) > target[1]:
                for action in _action_constants(node.args[target[1]]):
                    if re.fullmatch(r"[A-Z][A-Za-z0-9]+", action):
                        found.setdefault(f"{target[0]}:{action}", f"{where}:{node.lineno}")
        return found

    result = {}
    for module, tree in trees.items():
        if "." in module:
            continue
        roots = set()
        for node in ast.walk(tree):
            if isinstance(node, ast.Call) and _call_name(node.func) == "Function":
                for arg in list(node.args) + [k.value for k in node.keywords]:
                    if isinstance(arg, ast.Name):
                        roots.update(named(module, arg.id)[0])
                    elif isinstance(arg, ast.Attribute) and isinstance(arg.value, ast.Name):
                        alias = module_aliases[module].get(arg.value.id)
                        if alias and alias[0] == "module":
                            roots.add((alias[1], None, arg.attr))
        if not roots:
            continue
        seen, todo, actions = set(), list(roots), {}
        while todo:
            key = todo.pop()
            if key in seen or key not in functions:
                continue
            seen.add(key)
            for action, where in direct(key[0], functions[key]).items():
                actions.setdefault(action, where)
            todo.extend(callees(key[0], key[1], functions[key]) - seen)
        result[module] = actions
    return result
