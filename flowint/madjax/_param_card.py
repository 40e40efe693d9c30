"""Reading and writing SLHA parameter cards for the external parameters of a model.

Keys are ``(block, code)`` with a lower-case block name (``("mass", 23)``, ``("sminputs", 2)``) and widths
under the block ``"decay"`` (``("decay", 6)``), as in the rest of flowint.
"""

from __future__ import annotations

import os
import tempfile


def _parse_number(text, where):
    try:
        return float(text.replace("d", "e").replace("D", "e"))
    except ValueError:
        raise ValueError(f"{where}: {text!r} is not a number") from None


def parse_slha(text, source="param card"):
    """All numeric entries of an SLHA text: {(block, code): value}; code an int or a tuple of ints."""
    values = {}
    block = None
    for lineno, raw in enumerate(text.splitlines(), start=1):
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        words = line.split()
        head = words[0].lower()
        where = f"{source}, line {lineno}"
        if head == "block":
            if len(words) < 2:
                raise ValueError(f"{where}: BLOCK without a name")
            block = words[1].lower()
            continue
        if head == "decay":
            if len(words) < 3:
                raise ValueError(f"{where}: DECAY needs a PDG code and a width")
            try:
                pdg = int(words[1])
            except ValueError:
                raise ValueError(f"{where}: {words[1]!r} is not a PDG code") from None
            values[("decay", pdg)] = _parse_number(words[2], where)
            block = ("decay-branchings",)  # what follows are branching ratios: not parameters
            continue
        if block is None:
            raise ValueError(f"{where}: entry outside of any BLOCK")
        if isinstance(block, tuple):
            continue
        if block == "qnumbers":
            continue
        try:
            codes = [int(w) for w in words[:-1]]
        except ValueError:
            raise ValueError(f"{where}: cannot read entry {raw.strip()!r} of block {block.upper()}") from None
        if not codes:
            continue  # a block with a single unindexed value (e.g. a scale): not an external parameter
        code = codes[0] if len(codes) == 1 else tuple(codes)
        values[(block, code)] = _parse_number(words[-1], where)
    return values


def read_param_card(path, externals):
    """Values of the external parameters ``externals`` (list of (block, code, name, default)) from a card.

    Entries of the card that are not external parameters (dependent masses such as MW, zero widths of
    stable particles) are ignored, as MadGraph does. A missing block or entry is an error.
    """
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise ValueError(f"param card {path!r} does not exist")
    with open(path) as handle:
        found = parse_slha(handle.read(), source=f"param card {os.path.basename(path)!r}")
    blocks = {key[0] for key in found}
    missing_blocks = {}
    missing = []
    for block, code, name, _ in externals:
        if block not in blocks:
            missing_blocks.setdefault(block, []).append(name)
        elif (block, code) not in found:
            missing.append(f"{block.upper()} {code} ({name})")
    if missing_blocks:
        block, names = min(missing_blocks.items())
        what = "DECAY entries" if block == "decay" else f"BLOCK {block.upper()}"
        raise ValueError(f"param card {os.path.basename(path)!r} has no {what} (needed for {', '.join(names)})")
    if missing:
        raise ValueError(f"param card {os.path.basename(path)!r} lacks {', '.join(missing)}")
    return {(block, code): found[(block, code)] for block, code, _, _ in externals}


def format_param_card(values, externals, title="flowint"):
    """SLHA text for the external parameters (values keyed by (block, code))."""
    lines = [f"# SLHA param card written by {title}", "# external parameters only; derived ones are computed"]
    by_block = {}
    for block, code, name, _ in externals:
        by_block.setdefault(block, []).append((code, name))
    for block in sorted(b for b in by_block if b != "decay"):
        lines.append(f"BLOCK {block.upper()}")
        for code, name in sorted(by_block[block], key=lambda e: e[0] if isinstance(e[0], tuple) else (e[0],)):
            codes = " ".join(str(c) for c in (code if isinstance(code, tuple) else (code,)))
            lines.append(f"  {codes:>6} {float(values[(block, code)]):.16e} # {name}")
    for code, name in sorted(by_block.get("decay", [])):
        lines.append(f"DECAY {code:>6} {float(values[('decay', code)]):.16e} # {name}")
    return "\n".join(lines) + "\n"


def write_param_card(path, values, externals, title="flowint"):
    """Write the card atomically (a temporary file renamed into place)."""
    path = os.fspath(path)
    text = format_param_card(values, externals, title)
    directory = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(dir=directory, prefix=".param_card.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w") as handle:
            handle.write(text)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
