"""The `newsflow` console script: `flows.cli` loaded behind a Ctrl-C guard.

Loading the CLI takes about half a second (typer, rich, pydantic); a Ctrl-C then printed a
20-line traceback. Once the CLI runs, its commands say it themselves (`flows.cli`).
"""

from __future__ import annotations

import sys

INTERRUPTED_BEFORE_THE_RUN = "interrupted before the run started: nothing was written"


def main() -> None:
    try:
        from flows.cli import app
    except KeyboardInterrupt:
        sys.stderr.write(f"error: {INTERRUPTED_BEFORE_THE_RUN}\n")
        raise SystemExit(130) from None
    app()
