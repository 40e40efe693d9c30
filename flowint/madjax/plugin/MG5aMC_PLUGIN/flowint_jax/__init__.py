"""flowint's MadGraph5_aMC@NLO plugin: ``output jax DIR`` writes a JAX process directory.

Put the folder that contains ``MG5aMC_PLUGIN`` on PYTHONPATH (``python -m flowint.madjax.export`` does this)
or copy/link ``flowint_jax`` into MadGraph's ``PLUGIN`` directory.
"""

from .exporter import JaxExporter

new_output = {"jax": JaxExporter}

minimal_mg5amcnlo_version = (3, 5, 0)
maximal_mg5amcnlo_version = (3, 1000, 1000)
latest_validated_version = (3, 5, 7)
