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


def _imports(tree):
    """Import nodes of a module, at any depth, except those under ``if TYPE_CHECKING:``."""
    stack = list(tree.body)
    while stack:
        node = stack.pop()
        if isinstance(node, ast.If) and isinstance(node.test, ast.Name) and node.test.id == "TYPE_CHECKING":
            stack.extend(node.orelse)
            continue
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            yield node
        stack.extend(ast.iter_child_nodes(node))


def _module_file(root, dotted):
    base = root.joinpath(*dotted.split("."))
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def module_closure(entries, root=FUNCTIONS):
    """The files under ``root`` an FC function's handler module(s) can import: the entry files, and
    every module of ours they import at any depth (imports inside functions too; TYPE_CHECKING-only
    ones not), with the packages on the way. Which code one function's role must cover."""
    todo = [root / e for e in entries]
    seen = set()
    while todo:
        path = todo.pop()
        if path in seen:
            continue
        seen.add(path)
        rel = path.relative_to(root).with_suffix("")
        package = list(rel.parts[:-1]) if rel.name != "__init__" else list(rel.parts[:-1])
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        for node in _imports(tree):
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            else:
                base = package[:len(package) - node.level + 1] if node.level else []
                module = ".".join(base + ([node.module] if node.module else []))
                targets = [module] + [f"{module}.{alias.name}" if module else alias.name for alias in node.names]
            for dotted in targets:
                parts = dotted.split(".")
                for i in range(1, len(parts) + 1):        # the packages on the way run too
                    found = _module_file(root, ".".join(parts[:i]))
                    if found is not None:
                        todo.append(found)
    return seen


def actions_called(root=FUNCTIONS, files=None):
    """``({"ram:CreateUser", ...}, unresolved)`` from the source, following wrappers.

    A wrapper is any function passing one of its parameters as the action to ``ram``/``kms``/
    ``try_ram``/``try_kms`` (or to another wrapper): ``def _ignore(self, pred, action, **p):
    return self.ram(action, **p)`` makes ``_ignore(pred, "DeleteAccessKey")`` a DeleteAccessKey
    call. An action argument that is neither a literal nor a pass-through parameter is reported
    as unresolved (the policy could not be checked against it)."""
    paths = _python_files(root) if files is None else sorted(files)
    trees = [(p, ast.parse(p.read_text(encoding="utf-8"), filename=str(p))) for p in paths]
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
