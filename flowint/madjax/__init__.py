"""Differentiable tree-level matrix elements: flowint's MadGraph-to-JAX exporter and its runtime.

>>> from flowint.madjax import load_process
>>> proc = load_process("ee_mumu")              # a shipped process, or the path of an `output jax` directory
>>> proc.pdg_codes
(-11, 11, -13, 13)
>>> me2 = proc.me2(momenta)                       # momenta (N, 4, 4) -> (N,), MadGraph's SMATRIX

Parameters are a flat dict keyed by SLHA ``(block, code)`` (``("mass", 23)`` = MZ, ``("sminputs", 2)`` =
G_F, ``("decay", 6)`` = WT); derived parameters (MW, couplings) are computed inside JAX, so
``jax.grad(lambda p: proc.me2(x, p).sum())(params)`` is exact. ``params=None`` means the model defaults.
"""

from __future__ import annotations

import flowint  # noqa: F401  (enables float64)
from flowint.madjax import _library
from flowint.madjax._param_card import format_param_card, parse_slha
from flowint.madjax._process import Process, normalize_key

__all__ = [
    "MadJax",
    "Process",
    "format_param_card",
    "load_library",
    "load_process",
    "normalize_key",
    "parse_slha",
    "shipped_processes",
]

_cache: dict = {}


def shipped_processes():
    """Names accepted by :func:`load_process` without a path."""
    return _library.shipped_names()


def load_library(name_or_path):
    """Every process of a process directory: {name: Process}."""
    directory = _library.resolve(name_or_path)
    manifest = _library.read_manifest(directory)
    names = [manifest["name"]] if len(manifest["processes"]) == 1 else [e["name"] for e in manifest["processes"]]
    return {name: load_process(directory, process=name) for name in names}


def load_process(name_or_path, process=None) -> Process:
    """Load a shipped process by name (``"ee_mumu"``) or an exported directory by path.

    A directory holding several matrix elements (``generate ...; add process ...``) needs ``process=``,
    one of the names in its manifest. Loaded processes are cached: loading twice returns the same object.
    """
    directory = _library.resolve(name_or_path)
    manifest = _library.read_manifest(directory)
    entries = manifest["processes"]
    if process is None:
        if len(entries) > 1:
            raise ValueError(f"{name_or_path!r} holds {len(entries)} processes; choose one with process=: "
                             + ", ".join(e["name"] for e in entries))
        entry = entries[0]
    else:
        matches = [e for e in entries if process in (e["name"], e["module"])
                   or (len(entries) == 1 and process == manifest["name"])]
        if not matches:
            raise ValueError(f"{name_or_path!r} has no process {process!r}; it has "
                             + ", ".join(e["name"] for e in entries))
        entry = matches[0]
    key = (directory, entry["module"])
    if key not in _cache:
        package = _library.import_package(directory)
        _cache[key] = Process(package, manifest, entry, directory)
    return _cache[key]


def __getattr__(name):
    # The seed's MadJax interface combines a process with the flat phase-space generator, a higher layer;
    # it is imported only when asked for, so that this package never imports flowint.phasespace.
    if name == "MadJax":
        from flowint.phasespace import MadJax

        return MadJax
    raise AttributeError(f"module 'flowint.madjax' has no attribute {name!r}")
