"""Process libraries: directories written by ``output jax DIR`` and the processes shipped with flowint."""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import json
import os
import re
import sys
import tempfile

import numpy as np

FORMAT = "flowint.madjax.process"
SUPPORTED_FORMAT_VERSIONS = (1,)
SHIPPED_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "processes")

_REQUIRED = {
    "format": str, "format_version": int, "name": str, "model": str, "generator": dict,
    "external_parameters": list, "processes": list,
}
_REQUIRED_PROCESS = {
    "name": str, "module": str, "process": str, "ninitial": int, "nexternal": int, "pdg_codes": list,
    "particles": list, "resonances": list, "denominator": int, "helicities": dict,
}


def shipped_names():
    """Names of the processes shipped inside the package (loadable by name)."""
    if not os.path.isdir(SHIPPED_DIR):
        return []
    return sorted(d for d in os.listdir(SHIPPED_DIR)
                  if os.path.isfile(os.path.join(SHIPPED_DIR, d, "manifest.json")))


def resolve(name_or_path):
    """Directory of a process library given a shipped name or a path."""
    if not isinstance(name_or_path, (str, os.PathLike)):
        raise ValueError(f"a process is named by a string or a path, got {type(name_or_path).__name__}")  # noqa: TRY004 (one error type for bad input)
    text = os.fspath(name_or_path)
    if os.path.isdir(text):
        if not os.path.isfile(os.path.join(text, "manifest.json")):
            raise ValueError(f"{text!r} is not a flowint process directory (no manifest.json)")
        return os.path.abspath(text)
    if text in shipped_names():
        return os.path.join(SHIPPED_DIR, text)
    raise ValueError(f"unknown process {text!r}: not a directory and not one of the shipped processes "
                     f"({', '.join(shipped_names()) or 'none'})")


def _check_fields(obj, required, where):
    for key, kind in required.items():
        if key not in obj:
            raise ValueError(f"malformed manifest {where}: missing key {key!r}")
        if not isinstance(obj[key], kind) or (kind is int and isinstance(obj[key], bool)):
            raise ValueError(f"malformed manifest {where}: {key!r} must be {kind.__name__}, "
                             f"got {type(obj[key]).__name__}")


def read_manifest(directory):
    """The validated manifest of a process directory (clear ValueError on anything malformed)."""
    path = os.path.join(directory, "manifest.json")
    where = repr(path)
    try:
        with open(path) as handle:
            manifest = json.load(handle)
    except json.JSONDecodeError as error:
        raise ValueError(f"malformed manifest {where}: not valid JSON ({error.msg} at line {error.lineno})") from None
    if not isinstance(manifest, dict):
        raise ValueError(f"malformed manifest {where}: the top level must be an object")  # noqa: TRY004 (one error type for bad input)
    _check_fields(manifest, _REQUIRED, where)
    if manifest["format"] != FORMAT:
        raise ValueError(f"malformed manifest {where}: format {manifest['format']!r} is not {FORMAT!r}")
    if manifest["format_version"] not in SUPPORTED_FORMAT_VERSIONS:
        raise ValueError(f"manifest {where} has format version {manifest['format_version']}; this flowint "
                         f"reads versions {SUPPORTED_FORMAT_VERSIONS}: re-export the process")
    if not manifest["processes"]:
        raise ValueError(f"malformed manifest {where}: it lists no process")
    for i, entry in enumerate(manifest["processes"]):
        if not isinstance(entry, dict):
            raise ValueError(f"malformed manifest {where}: processes[{i}] must be an object")  # noqa: TRY004 (one error type for bad input)
        _check_fields(entry, _REQUIRED_PROCESS, f"{where} (processes[{i}])")
        if len(entry["pdg_codes"]) != entry["nexternal"] or len(entry["particles"]) != entry["nexternal"]:
            raise ValueError(f"malformed manifest {where}: processes[{i}] lists {len(entry['pdg_codes'])} PDG "
                             f"codes for {entry['nexternal']} external particles")
        if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", entry["module"]):
            raise ValueError(f"malformed manifest {where}: module name {entry['module']!r} is not an identifier")
        if not os.path.isfile(os.path.join(directory, entry["module"] + ".py")):
            raise ValueError(f"malformed manifest {where}: module {entry['module']}.py is missing")
    for i, par in enumerate(manifest["external_parameters"]):
        if not isinstance(par, dict) or not {"block", "code", "name", "value"} <= set(par):
            raise ValueError(f"malformed manifest {where}: external_parameters[{i}] needs block, code, name, value")
    return manifest


def import_package(directory):
    """Import a process directory as a package with a name unique to its absolute path."""
    directory = os.path.abspath(directory)
    if os.path.dirname(directory) == SHIPPED_DIR:
        return importlib.import_module("flowint.madjax.processes." + os.path.basename(directory))
    stem = re.sub(r"\W", "_", os.path.basename(directory)) or "process"
    name = f"_flowint_process_{stem}_{hashlib.sha1(directory.encode()).hexdigest()[:12]}"
    if name in sys.modules:
        return sys.modules[name]
    init = os.path.join(directory, "__init__.py")
    if not os.path.isfile(init):
        raise ValueError(f"malformed process directory {directory!r}: no __init__.py")
    spec = importlib.util.spec_from_file_location(name, init, submodule_search_locations=[directory])
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except BaseException:
        del sys.modules[name]
        raise
    return module


def import_submodule(package, name):
    return importlib.import_module(f"{package.__name__}.{name}")


def externals_from_manifest(manifest):
    """[(block, code, name, default)] with codes as ints (or tuples of ints for multi-index entries)."""
    out = []
    for par in manifest["external_parameters"]:
        code = par["code"]
        code = tuple(code) if isinstance(code, list) else int(code)
        out.append((str(par["block"]).lower(), code, str(par["name"]), float(par["value"])))
    return out


def write_json_atomic(path, obj):
    directory = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(dir=directory, prefix=".manifest.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w") as handle:
            json.dump(obj, handle, indent=1)
            handle.write("\n")
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def scan_and_store_helicities(directory, npoints=6, seed=20261204):
    """Find the helicity combinations that vanish identically and record the others in the manifest.

    Used by the MadGraph plugin right after export. A combination is kept when its |M_h|² is non-zero
    at any of ``npoints`` random phase-space points (default parameters); combinations that vanish
    there vanish for structural reasons (chirality of massless fermions, helicity conservation) and
    dropping them does not change |M|².
    """
    from flowint.madjax._process import Process  # late: the plugin imports this module inside MadGraph

    manifest = read_manifest(directory)
    package = import_package(directory)
    for entry in manifest["processes"]:
        entry["helicities"]["nonzero"] = None
        process = Process(package, manifest, entry, directory)
        entry["helicities"]["nonzero"] = [int(i) for i in process.find_nonzero_helicities(npoints, seed)]
    write_json_atomic(os.path.join(directory, "manifest.json"), manifest)
    return manifest


def random_points(masses, sqrt_s, n, rng):
    """n random momenta (n, len(masses), 4) in the CM frame: two beams along ±z, RAMBO final state.

    A small NumPy generator for internal checks (helicity scans): flat in the massless n-body phase
    space, then rescaled to the final-state masses (Kleiss, Stirling, Ellis, Comput. Phys. Commun. 40
    (1986) 359). Not meant for integration: use flowint.phasespace for that.
    """
    masses = np.asarray(masses, dtype=float)
    m_in, m_out = masses[:2], masses[2:]
    nf = len(m_out)
    e_beam = (sqrt_s ** 2 + m_in[0] ** 2 - m_in[1] ** 2) / (2 * sqrt_s)
    p_beam = np.sqrt(max(e_beam ** 2 - m_in[0] ** 2, 0.0))
    out = np.zeros((n, len(masses), 4))
    out[:, 0] = [e_beam, 0, 0, p_beam]
    out[:, 1] = [sqrt_s - e_beam, 0, 0, -p_beam]
    for k in range(n):
        cos_t = 2 * rng.random(nf) - 1
        phi = 2 * np.pi * rng.random(nf)
        energy = -np.log(rng.random(nf) * rng.random(nf))
        sin_t = np.sqrt(1 - cos_t ** 2)
        q = np.stack([energy, energy * sin_t * np.cos(phi), energy * sin_t * np.sin(phi), energy * cos_t], 1)
        total = q.sum(0)
        mass = np.sqrt(total[0] ** 2 - total[1:] @ total[1:])
        b = -total[1:] / mass
        x = sqrt_s / mass
        gamma = total[0] / mass
        a = 1 / (1 + gamma)
        bq = q[:, 1:] @ b
        p = np.empty_like(q)
        p[:, 0] = x * (gamma * q[:, 0] + bq)
        p[:, 1:] = x * (q[:, 1:] + b[None, :] * q[:, :1] + a * bq[:, None] * b[None, :])
        if np.any(m_out > 0):
            xi = np.sqrt(1 - (m_out.sum() / sqrt_s) ** 2)
            for _ in range(60):
                e = np.sqrt(m_out ** 2 + (xi * p[:, 0]) ** 2)
                f = e.sum() - sqrt_s
                df = (xi * p[:, 0] ** 2 / e).sum()
                xi -= f / df
            p[:, 1:] *= xi
            p[:, 0] = np.sqrt(m_out ** 2 + (p[:, 1:] ** 2).sum(1))
        out[k, 2:] = p
    return out
