"""The MadGraph plugin: re-exporting every shipped process reproduces the committed files exactly.

Needs MadGraph5_aMC@NLO: set MG5_AMC to its ``bin/mg5_aMC`` (or its folder). Without it these tests
skip; the command-line error they would otherwise hide is tested here too.
"""

import os
import pathlib
import subprocess
import sys

import pytest

from flowint.madjax._library import SHIPPED_DIR
from flowint.madjax.export import find_mg5
from flowint.madjax.regenerate import CATALOG, regenerate

MG5 = find_mg5()
needs_madgraph = pytest.mark.skipif(MG5 is None, reason="MadGraph not available (set MG5_AMC)")


def _files(directory):
    root = pathlib.Path(directory)
    return sorted(p.relative_to(root) for p in root.rglob("*") if p.is_file() and "__pycache__" not in p.parts)


@needs_madgraph
@pytest.mark.madgraph
@pytest.mark.parametrize("name", sorted(CATALOG))
def test_reexport_reproduces_the_committed_files(name, tmp_path):
    regenerate(mg5=MG5, names=[name], into=tmp_path)
    committed, fresh = pathlib.Path(SHIPPED_DIR) / name, tmp_path / name
    assert _files(fresh) == _files(committed)
    for rel in _files(committed):
        assert (fresh / rel).read_text() == (committed / rel).read_text(), f"{name}/{rel} differs"


def test_export_without_madgraph_fails_with_a_clear_message(tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "MG5_AMC"}
    run = subprocess.run([sys.executable, "-m", "flowint.madjax.export", "generate e+ e- > mu+ mu-",  # noqa: PLW1510
                          "-o", str(tmp_path / "out"), "--mg5", str(tmp_path / "no-madgraph-here")],
                         capture_output=True, text=True, env=env)
    assert run.returncode == 1
    assert "MadGraph not found" in run.stderr
