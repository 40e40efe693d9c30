"""Regenerate every process shipped with flowint from a MadGraph5_aMC@NLO installation.

    python -m flowint.madjax.regenerate --mg5 PATH/bin/mg5_aMC [--only ee_mumu ...] [--into DIR]

Each process is exported into a temporary folder and then moved into place, so a failed export never
leaves a half-written process behind. The MadGraph commands are those of the reference data
(tests/data/reference/README.md).
"""

from __future__ import annotations

import argparse
import os
import shutil
import tempfile

from flowint.madjax._library import SHIPPED_DIR
from flowint.madjax.export import ExportError, export

_CHAIN = "generate u u~ > t t~, (t > b w+, w+ > u d~), (t~ > b~ w-, w- > u~ d)"

CATALOG = {
    "ee_mumu": ("sm", ["generate e+ e- > mu+ mu-"]),
    "mumu_ee": ("sm", ["generate mu+ mu- > e+ e-"]),
    "uux_ttx": ("sm", ["generate u u~ > t t~"]),
    "uux_ttx_QCDEW": ("sm", ["generate u u~ > t t~ QED<=2"]),
    "gg_ttx": ("sm", ["generate g g > t t~"]),
    "ee_uuxg": ("sm", ["generate e+ e- > u u~ g"]),
    "uux_ttx_chain_bbqqqq": ("sm", [_CHAIN]),
    "uux_ttx_chain_bbqqqq_nobmass": ("sm-no_b_mass", [_CHAIN]),
}
"""name -> (model, MadGraph commands) of every shipped process."""


def regenerate(mg5=None, names=None, into=SHIPPED_DIR):
    names = list(CATALOG) if not names else list(names)
    unknown = [n for n in names if n not in CATALOG]
    if unknown:
        raise ValueError(f"unknown shipped process(es) {unknown}; known: {', '.join(CATALOG)}")
    os.makedirs(into, exist_ok=True)
    written = []
    for name in names:
        model, commands = CATALOG[name]
        with tempfile.TemporaryDirectory(prefix="flowint-regen-", dir=into) as work:
            staged = export(commands, os.path.join(work, name), mg5=mg5, model=model)
            target = os.path.join(into, name)
            if os.path.isdir(target):
                shutil.rmtree(target)
            os.replace(staged, target)
        written.append(target)
        print(f"{name}: {' ; '.join(commands)} (model {model})")
    return written


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m flowint.madjax.regenerate", description=__doc__.split("\n")[0])
    parser.add_argument("--mg5", help="MadGraph's bin/mg5_aMC (or its folder); default $MG5_AMC")
    parser.add_argument("--only", nargs="*", help="regenerate only these processes")
    parser.add_argument("--into", default=SHIPPED_DIR, help="target folder (default: the package's processes/)")
    args = parser.parse_args(argv)
    try:
        regenerate(args.mg5, args.only, args.into)
    except (ExportError, ValueError) as error:
        parser.exit(1, f"error: {error}\n")


if __name__ == "__main__":
    main()
