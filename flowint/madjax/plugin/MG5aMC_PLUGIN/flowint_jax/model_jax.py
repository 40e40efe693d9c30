"""Writes a UFO model's parameters and couplings as a pure JAX function of the external parameters.

The UFO expressions (Python/cmath syntax, as MadGraph stores them after applying the model restriction)
are parsed with :mod:`ast`, checked against the functions the runtime provides, and re-emitted so that
every derived parameter is computed inside JAX from the external ones: gradients with respect to G_F,
M_Z or α_s flow through M_W, sin θ_W and the couplings exactly.
"""

from __future__ import annotations

import ast

_FUNCTIONS = {
    "sqrt": "rt.sqrt", "exp": "rt.exp", "log": "rt.log", "sin": "rt.sin", "cos": "rt.cos", "tan": "rt.tan",
    "asin": "rt.asin", "acos": "rt.acos", "atan": "rt.atan", "sinh": "rt.sinh", "cosh": "rt.cosh",
    "tanh": "rt.tanh", "sec": "rt.sec", "csc": "rt.csc", "cot": "rt.cot", "asec": "rt.asec",
    "acsc": "rt.acsc", "complexconjugate": "rt.conj", "conjugate": "rt.conj", "re": "rt.re", "im": "rt.im",
    "abs": "rt.fabs", "fabs": "rt.fabs", "arg": "rt.arg", "cond": "rt.cond", "reglog": "rt.reglog",
}
_CONSTANTS = {"pi": "rt.pi"}


class ExpressionError(Exception):
    """A UFO expression uses something the JAX runtime cannot evaluate."""


class _ToJax(ast.NodeTransformer):
    def __init__(self, where):
        self.where = where
        self.names = set()

    def visit_Attribute(self, node):
        if isinstance(node.value, ast.Name) and node.value.id in ("cmath", "math"):
            if node.attr in _CONSTANTS:
                return ast.parse(_CONSTANTS[node.attr], mode="eval").body
            if node.attr in _FUNCTIONS:
                return ast.parse(_FUNCTIONS[node.attr], mode="eval").body
        raise ExpressionError("%s: unsupported attribute %s" % (self.where, ast.unparse(node)))

    def visit_Call(self, node):
        if isinstance(node.func, ast.Name) and node.func.id == "complex":
            args = [ast.literal_eval(a) for a in node.args]
            return ast.Constant(complex(*args))
        if isinstance(node.func, ast.Name):
            if node.func.id not in _FUNCTIONS:
                raise ExpressionError("%s: unsupported function %s()" % (self.where, node.func.id))
            node.func = ast.parse(_FUNCTIONS[node.func.id], mode="eval").body
            node.args = [self.visit(a) for a in node.args]
            return node
        node.func = self.visit(node.func)
        node.args = [self.visit(a) for a in node.args]
        return node

    def visit_Name(self, node):
        if node.id in _CONSTANTS:
            return ast.parse(_CONSTANTS[node.id], mode="eval").body
        self.names.add(node.id)
        return node


def translate(expr, where):
    """(JAX source, set of names it reads) for one UFO expression string."""
    tree = ast.parse(expr.strip(), mode="eval")
    visitor = _ToJax(where)
    tree = visitor.visit(tree)
    ast.fix_missing_locations(tree)
    return ast.unparse(tree), visitor.names


def lha_key(param):
    """(block, code) of an external parameter; block lower-case, code an int or a tuple of ints."""
    code = list(param.lhacode)
    return param.lhablock.lower(), (int(code[0]) if len(code) == 1 else tuple(int(c) for c in code))


def display_name(name):
    return name.removeprefix("mdl_")


def collect(model, wanted):
    """Externals, internal parameters and couplings needed to evaluate the names in ``wanted``.

    Returns (externals, internals, couplings): externals a list of MadGraph parameter objects (all of
    them, in model order: the full param card), internals/couplings lists of (name, jax_source, kind)
    (name, jax_source, type, names_read) in an order where every name is defined before it is read.
    """
    externals = list(model.get("parameters")[("external",)])
    external_names = {p.name for p in externals}
    definitions = {}
    order = []
    for key, params in model.get("parameters").items():
        if key == ("external",):
            continue
        for p in params:
            src, names = translate(p.expr, p.name)
            definitions[p.name] = (src, names, "param", p.type)
            order.append(p.name)
    for key, coups in model.get("couplings").items():
        for c in coups:
            src, names = translate(c.expr, c.name)
            definitions[c.name] = (src, names, "coupling", "complex")
            order.append(c.name)

    needed = set()
    stack = [w for w in wanted if w != "ZERO"]
    while stack:
        name = stack.pop()
        if name in needed or name in external_names:
            needed.add(name)
            continue
        if name not in definitions:
            raise ExpressionError("parameter %s is not defined by model %s" % (name, model.get("name")))
        needed.add(name)
        stack.extend(definitions[name][1])

    emitted = set(external_names) | {"ZERO"}
    pending = [n for n in order if n in needed and n != "ZERO"]
    internals, couplings = [], []
    while pending:
        progress = False
        for name in list(pending):
            src, names, kind, ptype = definitions[name]
            if names <= emitted:
                (couplings if kind == "coupling" else internals).append((name, src, ptype, names))
                emitted.add(name)
                pending.remove(name)
                progress = True
        if not progress:
            raise ExpressionError("circular parameter definitions: %s" % ", ".join(pending))
    return externals, internals, couplings


def write_parameters_module(model, wanted, header):
    """Source of ``parameters.py``: EXTERNAL (the param card) and ``compute(params)``."""
    externals, internals, couplings = collect(model, wanted)
    used = set(wanted).union(*(names for *_, names in internals + couplings))
    lines = [header, "from flowint.madjax import runtime as rt", "", "MODEL = %r" % model.get("name"), "",
             "# (block, code, name, default): the external parameters, i.e. the model's param card", "EXTERNAL = ("]
    for p in externals:
        block, code = lha_key(p)
        lines.append("    (%r, %r, %r, %r)," % (block, code, display_name(p.name), float(p.value.real)))
    lines += [")", "", "# the derived parameters and couplings that compute() returns",
              "PROVIDES = (%s)" % "".join("%r, " % w for w in sorted(set(wanted) - {"ZERO"})), "", "",
              "def compute(params):",
              '    """Derived parameters and couplings from the external parameters keyed by (block, code)."""']
    for p in externals:
        if p.name in used:
            lines.append("    %s = params[%r]" % (p.name, lha_key(p)))
    for name, src, ptype, _ in internals:
        if ptype == "real":
            lines.append("    %s = rt.real(%s)" % (name, src))
        else:
            lines.append("    %s = %s" % (name, src))
    for name, src, _, _ in couplings:
        lines.append("    %s = %s" % (name, src))
    lines.append("    return {")
    for w in sorted(set(wanted) - {"ZERO"}):
        lines.append("        %r: %s," % (w, w))
    lines.append("    }")
    return "\n".join(lines) + "\n"
