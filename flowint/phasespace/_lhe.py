"""Read momenta of MadGraph (LHE) events, e.g. to map them back to the cube for forward-KL training.

Only the external particles are kept (status -1: incoming, 1: outgoing), in the order of the event
record, which for MadGraph is the process's particle order; intermediate resonances (status 2) are
dropped. Gzipped files are read transparently.
"""

from __future__ import annotations

import gzip
from typing import NamedTuple

import numpy as np


class LHEEvents(NamedTuple):
    """momenta (N, nexternal, 4) [E, px, py, pz] GeV; pdg_codes; weights (N,); the header's cross section."""

    momenta: np.ndarray
    pdg_codes: tuple
    weights: np.ndarray
    xsec_pb: float
    xsec_error_pb: float


def read_lhe(path, process=None) -> LHEEvents:
    """Parse an LHE file. With ``process`` given, its ``pdg_codes`` must match every event's."""
    opener = gzip.open if str(path).endswith(".gz") else open
    events, weights, codes = [], [], None
    xsec = err = float("nan")
    with opener(path, "rt") as fh:
        lines = iter(fh)
        for line in lines:
            tag = line.strip()
            if tag.startswith("<init>"):
                next(lines)  # beam line
                fields = next(lines).split()
                xsec, err = float(fields[0]), float(fields[1])
            elif tag.startswith("<event"):
                head = next(lines).split()
                nup, weight = int(head[0]), float(head[2])
                moms, pdgs = [], []
                for _ in range(nup):
                    f = next(lines).split()
                    if int(f[1]) in (-1, 1):
                        pdgs.append(int(f[0]))
                        moms.append([float(f[9]), float(f[6]), float(f[7]), float(f[8])])
                pdgs = tuple(pdgs)
                if codes is None:
                    codes = pdgs
                elif pdgs != codes:
                    raise ValueError(f"{path}: events with different particle content {codes} and {pdgs}")
                events.append(moms)
                weights.append(weight)
    if codes is None:
        raise ValueError(f"{path}: no <event> blocks found")
    if process is not None and tuple(process.pdg_codes) != codes:
        raise ValueError(
            f"{path}: event particles {codes} do not match the process {tuple(process.pdg_codes)}"
        )
    return LHEEvents(np.asarray(events, dtype=np.float64), codes, np.asarray(weights), xsec, err)


def read_lhe_momenta(path, process=None) -> np.ndarray:
    """Momenta (N, nexternal, 4) of the external particles of every event in an LHE file."""
    return read_lhe(path, process).momenta
