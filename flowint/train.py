"""Command line: ``python -m flowint.train --config FILE [--set key=value ...] [--output DIR] [--resume]``.

Trains a flow proposal for the configured process, integrates with it, runs the VEGAS baseline at the same
number of integrand calls, and writes ``results.json``, ``events.lhe.gz``, the checkpoint, the resolved
``config.yaml`` and PNG plots into DIR (default ``runs/<config name>``); the comparison table goes to
stdout at the end. A thin layer over :func:`flowint.integrate.run`.

Exit codes: 0 success, 2 a configuration or input problem (one line on stderr), 130 interrupted (a
checkpoint is written first; continue with ``--resume``).
"""

from __future__ import annotations

import argparse
import os
import sys


def _parser():
    p = argparse.ArgumentParser(
        prog="python -m flowint.train",
        description="Train a flow proposal, integrate, and compare with VEGAS at the same number of calls.",
    )
    p.add_argument("--config", required=True, help="YAML configuration file (see configs/)")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                   help="override a config value, dotted keys, e.g. --set training.steps=200 (repeatable)")
    p.add_argument("--output", default=None, help="output directory (default: runs/<config file name>)")
    p.add_argument("--resume", action="store_true", help="continue from the checkpoint in the output directory")
    p.add_argument("--quiet", action="store_true", help="no progress bar or log lines, only the final table")
    return p


def main(argv=None) -> int:
    args = _parser().parse_args(argv)
    import jax

    jax.config.update("jax_enable_x64", True)
    from flowint.integrate import ConfigError, load_config
    from flowint.integrate._run import comparison_table, run

    def fail(message):
        print(f"flowint.train: error: {message}", file=sys.stderr)
        return 2

    try:
        config = load_config(args.config, args.overrides)
    except ConfigError as exc:
        return fail(exc)
    output = args.output or os.path.join("runs", os.path.splitext(os.path.basename(args.config))[0])
    log = (lambda line: None) if args.quiet else (lambda line: print(line, file=sys.stderr, flush=True))
    try:
        results = run(config, output, resume=args.resume, log=log, progress=False if args.quiet else None)
    except KeyboardInterrupt:
        print(f"flowint.train: interrupted; resume with --resume --output {output}", file=sys.stderr)
        return 130
    except (ConfigError, FileNotFoundError) as exc:
        return fail(exc)
    except FloatingPointError as exc:
        return fail(exc)
    print(comparison_table(results))
    print(f"results written to {os.path.join(output, 'results.json')}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
