"""Export processes from MadGraph5_aMC@NLO to JAX with flowint's plugin.

    python -m flowint.madjax.export --mg5 PATH/bin/mg5_aMC 'generate e+ e- > mu+ mu-' -o DIR
    python -m flowint.madjax.export --mg5 PATH/bin/mg5_aMC --model sm-no_b_mass \\
        'generate u u~ > t t~, (t > b w+, w+ > u d~), (t~ > b~ w-, w- > u~ d)' -o DIR

Each positional argument is one MadGraph command (``generate``, ``add process``, ``define``, ...).
MadGraph runs under this Python interpreter with the plugin folder on PYTHONPATH, so ``output jax DIR``
finds the plugin and the exported code's helicity scan can import flowint. The MadGraph path can also
come from the environment variable ``MG5_AMC`` (the ``bin/mg5_aMC`` script or MadGraph's folder).
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile

from flowint.madjax import _library
from flowint.madjax.plugin import PLUGIN_PATH


class ExportError(RuntimeError):
    """MadGraph did not produce a process directory."""


def find_mg5(path=None):
    """The ``bin/mg5_aMC`` script from an explicit path or $MG5_AMC; None if neither is usable."""
    candidate = path or os.environ.get("MG5_AMC")
    if not candidate:
        return None
    if os.path.isdir(candidate):
        candidate = os.path.join(candidate, "bin", "mg5_aMC")
    return os.path.abspath(candidate) if os.path.isfile(candidate) else None


def export(commands, output, mg5=None, model="sm", force=False, quiet=True):
    """Run MadGraph on ``commands`` and write the JAX process directory ``output``; returns its path."""
    script = find_mg5(mg5)
    if script is None:
        raise ExportError("MadGraph not found: pass --mg5 PATH/bin/mg5_aMC or set MG5_AMC")
    if isinstance(commands, str):
        commands = [commands]
    commands = [c.strip() for c in commands if c.strip()]
    if not any(c.startswith("generate") for c in commands):
        raise ExportError("no 'generate ...' command given")
    output = os.path.abspath(output)
    if os.path.exists(output) and not force:
        raise ExportError(f"{output} exists; pass --force to overwrite it")
    lines = [] if any(c.startswith("import model") for c in commands) else [f"import model {model}"]
    lines += commands
    lines.append(f"output jax {output} -f")
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([PLUGIN_PATH] + [p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p])
    env["PYTHONHASHSEED"] = "0"  # MadGraph iterates over sets: fix the order so exports are reproducible
    with tempfile.TemporaryDirectory(prefix="flowint-mg5-") as work:
        card = os.path.join(work, "commands.mg5")
        with open(card, "w") as handle:
            handle.write("\n".join(lines) + "\n")
        if os.path.isdir(output) and force:
            shutil.rmtree(output)
        run = subprocess.run([sys.executable, script, card], cwd=work, env=env, text=True, check=False,
                             stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    tail = "\n".join(run.stdout.splitlines()[-30:])
    if run.returncode != 0 or not os.path.isfile(os.path.join(output, "manifest.json")):
        raise ExportError(f"MadGraph failed to export {commands!r}:\n{tail}")
    manifest = _library.read_manifest(output)
    if any(entry["helicities"]["nonzero"] is None for entry in manifest["processes"]):
        raise ExportError(f"the helicity scan of {output} did not complete:\n{tail}")
    if not quiet:
        print(run.stdout)
    return output


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m flowint.madjax.export", description=__doc__.split("\n")[0])
    parser.add_argument("commands", nargs="+", help="MadGraph commands, e.g. 'generate e+ e- > mu+ mu-'")
    parser.add_argument("-o", "--output", required=True, help="process directory to write")
    parser.add_argument("--mg5", help="MadGraph's bin/mg5_aMC (or its folder); default $MG5_AMC")
    parser.add_argument("--model", default="sm", help="UFO model (with restriction), default sm")
    parser.add_argument("--force", action="store_true", help="overwrite an existing output directory")
    parser.add_argument("--verbose", action="store_true", help="print MadGraph's output")
    args = parser.parse_args(argv)
    try:
        path = export(args.commands, args.output, args.mg5, args.model, args.force, quiet=not args.verbose)
    except ExportError as error:
        parser.exit(1, f"error: {error}\n")
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
