r"""Unweighted events: hit-or-miss unweighting of importance-weighted points and Les Houches event files.

* :func:`unweight` keeps point :math:`i` with probability :math:`\min(1, w_i/w_\text{max})`; the kept
  points are distributed as :math:`f` (up to the overweights, which are reported).
* :func:`write_lhe` writes events in the Les Houches Event format, version 3.0 (Alwall et al.,
  hep-ph/0609017; Butterworth et al., arXiv:1405.1067), with unweighted-event conventions (IDWTUP = 3):
  every event carries the same weight, by default the cross section in pb.
* :func:`read_lhe_init` reads the ``<init>`` block back (for checks; the momenta can be read with
  :func:`flowint.phasespace.read_lhe` or ``pylhe``).

Limitations of the files written here: the colour flow (ICOLUP) is whatever the caller passes; by default
it is 0 0 for every particle, i.e. **not assigned**, which is fine for colourless processes and for
analysing the hard process, but a parton shower needs a valid colour flow for coloured partons. Helicities
(SPINUP) default to 9 (unknown / summed), lifetimes (VTIMUP) are 0, and only the hard process is
written (incoming with status -1, outgoing with status 1, no intermediate resonances).
"""

from __future__ import annotations

import gzip
import math
import numbers
from pathlib import Path

import numpy as np

from ._files import atomic_open
from ._metrics import _check_weights

__all__ = ["read_lhe_init", "unweight", "write_lhe"]

AQED_DEFAULT = 1.0 / 132.507
AQCD_DEFAULT = 0.118


def unweight(weights, w_max, seed_or_rng=0) -> tuple[np.ndarray, dict]:
    r"""Hit-or-miss unweighting: keep point :math:`i` with probability :math:`\min(1, w_i/w_\text{max})`.

    Parameters
    ----------
    weights : array_like, shape (N,)
        Finite, non-negative importance weights (zero for points removed by cuts: never kept).
    w_max : float
        The reference weight (> 0), e.g. ``weight_summary(weights)["w_max"]``. Points with
        :math:`w_i > w_\text{max}` ("overweights") are always kept and then carry the same unit weight as the
        others, so their excess :math:`w_i - w_\text{max}` is lost; the lost fraction of the cross section is
        reported.
    seed_or_rng : int or numpy.random.Generator
        Randomness of the accept/reject decisions (one uniform number per point, in order).

    Returns
    -------
    indices : numpy.ndarray of int64, shape (k,)
        The accepted points, ascending.
    info : dict
        ``n_in`` (N), ``n_accepted`` (k), ``n_overweight`` (the number of points with
        :math:`w_i > w_\text{max}`), ``overweight_fraction_of_xsec``
        :math:`= \sum_i \max(w_i - w_\text{max}, 0) / \sum_i w_i` (0 when all weights vanish) and ``w_max``.
    """
    w = _check_weights(weights, allow_empty=True)
    w_max = float(w_max)
    if not (math.isfinite(w_max) and w_max > 0):
        raise ValueError(f"w_max: expected a finite number > 0, got {w_max}")
    if isinstance(seed_or_rng, np.random.Generator):
        rng = seed_or_rng
    elif isinstance(seed_or_rng, numbers.Integral) and not isinstance(seed_or_rng, bool) and seed_or_rng >= 0:
        rng = np.random.default_rng(int(seed_or_rng))
    else:
        raise ValueError(
            f"seed_or_rng: expected a non-negative int or a numpy Generator, got {seed_or_rng!r}"
        )
    r = rng.random(w.size)  # in [0, 1): w_i >= w_max is always kept, w_i = 0 never
    indices = np.flatnonzero(r * w_max < w).astype(np.int64)
    total = float(np.sum(w))
    excess = float(np.sum(np.maximum(w - w_max, 0.0)))
    info = {
        "n_in": int(w.size),
        "n_accepted": int(indices.size),
        "n_overweight": int(np.count_nonzero(w > w_max)),
        "overweight_fraction_of_xsec": excess / total if total > 0 else 0.0,
        "w_max": w_max,
    }
    return indices, info


def _finite_float(name, value, positive=False, non_negative=False) -> float:
    try:
        v = float(value)
    except (TypeError, ValueError) as err:
        raise ValueError(f"{name}: expected a number, got {value!r}") from err
    if not math.isfinite(v):
        raise ValueError(f"{name}: expected a finite number, got {v}")
    if positive and v <= 0:
        raise ValueError(f"{name}: expected a number > 0, got {v}")
    if non_negative and v < 0:
        raise ValueError(f"{name}: expected a number >= 0, got {v}")
    return v


def _xml_comment(text: str) -> str:
    """``text`` as an XML comment ("--" is not allowed inside one)."""
    body = str(text)
    while "--" in body:
        body = body.replace("--", "- -")
    if body.endswith("-"):
        body += " "
    return f"<!--\n{body}\n-->\n"


def _cdata(text: str) -> str:
    """``text`` as a CDATA section (a "]]>" inside is split over two sections)."""
    return "<![CDATA[\n" + str(text).replace("]]>", "]]]]><![CDATA[>") + "\n]]>"


def _event_blocks(table: np.ndarray, template: str, chunk: int = 4096):
    """The ``<event>`` blocks, ``template % row`` for each row of ``table``, joined in chunks of events."""
    for start in range(0, table.shape[0], chunk):
        rows = table[start : start + chunk].tolist()
        yield "".join(template % tuple(row) for row in rows)


def write_lhe(
    path,
    momenta,
    pdg_codes,
    *,
    ninitial=2,
    masses=None,
    xsec_pb,
    xsec_err_pb,
    sqrt_s,
    process_id=1,
    event_weight=None,
    helicities=None,
    colours=None,
    comment=None,
    header_text=None,
    scale=None,
    aqed=AQED_DEFAULT,
    aqcd=AQCD_DEFAULT,
) -> Path:
    r"""Write unweighted events to a Les Houches Event file (version 3.0), atomically.

    Parameters
    ----------
    path : str or os.PathLike
        The output file; written gzip-compressed if the name ends with ``.gz``. The file is first written to
        a temporary file in the same directory and then moved onto ``path`` with :func:`os.replace`, so
        ``path`` never holds a partial file (an existing file stays untouched if writing fails).
    momenta : array_like, shape (N, nexternal, 4)
        Four-momenta in GeV, in the MadGraph order (E, px, py, pz) (written to the file as px, py, pz, E).
        All entries must be finite. ``N = 0`` writes a file without events.
    pdg_codes : sequence of int, length nexternal
        PDG ids of the external particles, incoming first.
    ninitial : int
        Number of incoming particles, 2 (scattering) or 1 (decay). Incoming particles get status -1 and
        mothers 0 0; outgoing ones status 1 and mothers ``1 ninitial`` (``1 2`` for scattering).
    masses : sequence of float, length nexternal, optional
        Masses in GeV written as the fifth momentum component. Default: :math:`\sqrt{\max(E^2-\vec p^2, 0)}`
        per particle and event, with :math:`E^2-\vec p^2 < 10^{-12}E^2` (float64 rounding of a massless
        momentum) written as exactly 0.
    xsec_pb, xsec_err_pb : float
        Cross section and its error in pb, written on the process line of ``<init>``.
    sqrt_s : float
        Collision energy in GeV: each beam energy in ``<init>`` is ``sqrt_s / 2`` (beam ids are the PDG ids
        of the two incoming particles; PDF group and set ids 0). For ``ninitial=1`` beam A is the decaying
        particle with energy ``sqrt_s`` and beam B is id 0 with energy 0.
    process_id : int
        IDPRUP / LPRUP of the (single) process.
    event_weight : float or array_like of shape (N,), optional
        XWGTUP of the events. Default: ``xsec_pb`` for every event (the usual IDWTUP = 3 convention of
        unweighted events). XMAXUP in ``<init>`` is the largest ``abs(event_weight)``. IDWTUP stays 3, so
        per-event weights should all be equal in magnitude.
    helicities : array_like, shape (N, nexternal), optional
        SPINUP (cosine of the angle between spin and momentum, or helicity); default 9 (unknown).
    colours : array_like of int, shape (N, nexternal, 2), optional
        ICOLUP(1), ICOLUP(2) (colour and anticolour tags, >= 0). Default: 0 0 for every particle, i.e. the
        colour flow is **not assigned** (a parton shower of coloured partons needs it).
    comment : str, optional
        Free text written as an XML comment right after the opening tag.
    header_text : str, optional
        Free text (e.g. a YAML or JSON dump of the run configuration) written inside ``<header>`` as
        ``<flowint><![CDATA[ ... ]]></flowint>``.
    scale, aqed, aqcd : float, optional
        SCALUP (default ``sqrt_s``), AQEDUP (default 1/132.507) and AQCDUP (default 0.118) of every event.

    Returns
    -------
    pathlib.Path
        ``path``.

    Notes
    -----
    Floating-point numbers are written with ``%+.16e`` (17 significant digits), so reading the file back
    reproduces every float64 exactly.
    """
    path = Path(path)
    codes = [int(c) for c in pdg_codes]
    nexternal = len(codes)
    if ninitial not in (1, 2):
        raise ValueError(f"ninitial: expected 1 or 2, got {ninitial!r}")
    if nexternal <= ninitial:
        raise ValueError(f"pdg_codes: need more than ninitial={ninitial} particles, got {nexternal}")
    p = np.asarray(momenta, dtype=np.float64)
    if p.ndim != 3 or p.shape[1:] != (nexternal, 4):
        raise ValueError(
            f"momenta: expected shape (N, {nexternal}, 4) for {nexternal} pdg_codes, got {p.shape}"
        )
    n_events = p.shape[0]
    bad = int(np.count_nonzero(~np.isfinite(p)))
    if bad:
        raise ValueError(f"momenta: {bad} entries are not finite (NaN or inf)")
    xsec = _finite_float("xsec_pb", xsec_pb)
    xerr = _finite_float("xsec_err_pb", xsec_err_pb, non_negative=True)
    sqrt_s = _finite_float("sqrt_s", sqrt_s, positive=True)
    scale = sqrt_s if scale is None else _finite_float("scale", scale, non_negative=True)
    aqed = _finite_float("aqed", aqed, non_negative=True)
    aqcd = _finite_float("aqcd", aqcd, non_negative=True)
    if not isinstance(process_id, numbers.Integral) or isinstance(process_id, bool):
        raise ValueError(f"process_id: expected an int, got {process_id!r}")  # noqa: TRY004

    if event_weight is None:
        xwgt = np.full(n_events, xsec)
    else:
        xwgt = np.asarray(event_weight, dtype=np.float64)
        if xwgt.ndim == 0:
            xwgt = np.full(n_events, float(xwgt))
        if xwgt.shape != (n_events,):
            raise ValueError(f"event_weight: expected a number or shape ({n_events},), got {xwgt.shape}")
        if not np.all(np.isfinite(xwgt)):
            raise ValueError(
                f"event_weight: {int(np.count_nonzero(~np.isfinite(xwgt)))} entries are not finite"
            )
    xmax = float(np.max(np.abs(xwgt))) if n_events else abs(xsec)

    if masses is None:
        m2 = p[..., 0] ** 2 - np.sum(p[..., 1:] ** 2, axis=-1)
        mass = np.where(m2 < 1e-12 * p[..., 0] ** 2, 0.0, np.sqrt(np.maximum(m2, 0.0)))
    else:
        m = np.asarray(masses, dtype=np.float64)
        if m.shape != (nexternal,):
            raise ValueError(
                f"masses: expected shape ({nexternal},) for {nexternal} pdg_codes, got {m.shape}"
            )
        if not np.all(np.isfinite(m) & (m >= 0)):
            raise ValueError(f"masses: expected finite values >= 0, got {m.tolist()}")
        mass = np.broadcast_to(m, (n_events, nexternal))

    if helicities is None:
        spin = np.full((n_events, nexternal), 9.0)
    else:
        spin = np.asarray(helicities, dtype=np.float64)
        if spin.shape != (n_events, nexternal):
            raise ValueError(f"helicities: expected shape ({n_events}, {nexternal}), got {spin.shape}")
        if not np.all(np.isfinite(spin)):
            raise ValueError(
                f"helicities: {int(np.count_nonzero(~np.isfinite(spin)))} entries are not finite"
            )
    if colours is None:
        col = np.zeros((n_events, nexternal, 2))
    else:
        col_in = np.asarray(colours)
        if col_in.shape != (n_events, nexternal, 2):
            raise ValueError(f"colours: expected shape ({n_events}, {nexternal}, 2), got {col_in.shape}")
        if col_in.dtype.kind not in "iu" or np.any(col_in < 0):
            raise ValueError(f"colours: expected non-negative integer tags, got dtype {col_in.dtype}")
        col = col_in.astype(np.float64)

    # one row of numbers per event, formatted by one %-template
    status = [-1] * ninitial + [1] * (nexternal - ninitial)
    mothers = [(0, 0)] * ninitial + [(1, ninitial)] * (nexternal - ninitial)
    f = "%+.16e"
    template = (
        f"<event>\n%d %d {f} {f} {f} {f}\n"
        + "".join(
            f"{code:9d} {st:2d} {m1:4d} {m2_:4d} %4d %4d {f} {f} {f} {f} {f} 0.0000e+00 %.4e\n"
            for code, st, (m1, m2_) in zip(codes, status, mothers, strict=True)
        )
        + "</event>\n"
    )
    per_particle = np.stack(
        [col[..., 0], col[..., 1], p[..., 1], p[..., 2], p[..., 3], p[..., 0], mass, spin], axis=-1
    ).reshape(n_events, nexternal * 8)
    head = np.column_stack(
        [
            np.full(n_events, nexternal, dtype=np.float64),
            np.full(n_events, int(process_id), dtype=np.float64),
            xwgt,
            np.full(n_events, scale),
            np.full(n_events, aqed),
            np.full(n_events, aqcd),
        ]
    )
    table = np.concatenate([head, per_particle], axis=1)

    if ninitial == 2:
        beams = (codes[0], codes[1], sqrt_s / 2, sqrt_s / 2)
    else:
        beams = (codes[0], 0, sqrt_s, 0.0)
    lines = ['<LesHouchesEvents version="3.0">\n']
    if comment is not None:
        lines.append(_xml_comment(comment))
    lines.append("<header>\n")
    if header_text is not None:
        lines.append(f"<flowint>\n{_cdata(header_text)}\n</flowint>\n")
    lines.append("</header>\n")
    lines.append("<init>\n")
    lines.append(f"{beams[0]:d} {beams[1]:d} {beams[2]:+.16e} {beams[3]:+.16e} 0 0 0 0 3 1\n")
    lines.append(f"{xsec:+.16e} {xerr:+.16e} {xmax:+.16e} {int(process_id):d}\n")
    lines.append("</init>\n")
    preamble = "".join(lines)

    with atomic_open(path) as raw:
        if path.name.endswith(".gz"):
            stream = gzip.GzipFile(filename=path.name[:-3], mode="wb", fileobj=raw, compresslevel=6, mtime=0)
        else:
            stream = raw
        try:
            stream.write(preamble.encode())
            for block in _event_blocks(table, template):
                stream.write(block.encode())
            stream.write(b"</LesHouchesEvents>\n")
        finally:
            if stream is not raw:
                stream.close()
    return path


def read_lhe_init(path) -> dict:
    """The ``<init>`` block (and the number of events) of an LHE file, plain or gzipped.

    Returns
    -------
    dict
        ``beam_ids`` (2 ints), ``beam_energies`` (2 floats, GeV), ``pdf_groups``, ``pdf_sets`` (2 ints each),
        ``idwtup``, ``n_processes``, and for the first process ``xsec_pb``, ``xsec_err_pb``, ``xmax``,
        ``process_id``; ``processes``: a list of ``(xsec_pb, xsec_err_pb, xmax, process_id)`` for all of
        them; ``n_events``: the number of ``<event>`` blocks.
    """
    path = Path(path)
    opener = gzip.open if path.name.endswith(".gz") else open
    info = None
    n_events = 0
    with opener(path, "rt") as fh:
        lines = iter(fh)
        for line in lines:
            tag = line.lstrip()
            if tag.startswith("<event"):
                n_events += 1
            elif tag.startswith("<init") and info is None:
                beam = next(lines).split()
                if len(beam) < 10:
                    raise ValueError(f"{path}: malformed <init> beam line {' '.join(beam)!r}")
                nproc = int(beam[9])
                processes = []
                for _ in range(nproc):
                    f = next(lines).split()
                    processes.append((float(f[0]), float(f[1]), float(f[2]), int(f[3])))
                info = {
                    "beam_ids": (int(beam[0]), int(beam[1])),
                    "beam_energies": (float(beam[2]), float(beam[3])),
                    "pdf_groups": (int(beam[4]), int(beam[5])),
                    "pdf_sets": (int(beam[6]), int(beam[7])),
                    "idwtup": int(beam[8]),
                    "n_processes": nproc,
                    "processes": processes,
                }
                if processes:
                    info.update(
                        xsec_pb=processes[0][0],
                        xsec_err_pb=processes[0][1],
                        xmax=processes[0][2],
                        process_id=processes[0][3],
                    )
    if info is None:
        raise ValueError(f"{path}: no <init> block found")
    info["n_events"] = n_events
    return info
