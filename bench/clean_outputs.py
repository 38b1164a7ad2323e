"""Every field of the Document clean_fetch makes of each real page, in each mode: a change meant
to cut the clean's CPU must leave this output as it was.

Run once before the change (--write before.json) and once after (--compare before.json): the
second run lists every page and field that differ and exits 1 if any does.

Run: python -m bench.clean_outputs (--write out.json | --compare before.json) [--pages 0]
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import asdict
from pathlib import Path

from bench.clean_cost import ours_call, real_pages
from tasks.settings import ExtractionMode


def outputs(pages: int = 0) -> dict[str, dict[str, dict]]:
    """By mode, then by page path: the Document's fields (the fetch left out), dates as text."""
    chosen = real_pages()
    if pages:
        chosen = chosen[:: max(1, len(chosen) // pages)][:pages]
    found: dict[str, dict[str, dict]] = {}
    for mode in ExtractionMode:
        found[mode.value] = {}
        for page in chosen:
            doc = ours_call(page, mode)()
            fields = {key: value for key, value in asdict(doc).items() if key != "fetch"}
            found[mode.value][page.path] = json.loads(json.dumps(fields, default=str))
    return found


def differences(before: dict[str, dict[str, dict]], after: dict[str, dict[str, dict]]) -> list[str]:
    """One line per mode, page and field whose value is not what it was."""
    lines = []
    for mode, pages in before.items():
        for path, fields in pages.items():
            now = after.get(mode, {}).get(path)
            if now is None:
                lines.append(f"{mode} {path}: not cleaned now")
                continue
            for key, value in fields.items():
                if now.get(key) != value:
                    lines.append(f"{mode} {path} {key}: {value!r:.80} -> {now.get(key)!r:.80}")
    return lines


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    action = parser.add_mutually_exclusive_group(required=True)
    action.add_argument("--write", type=Path, help="write the outputs here")
    action.add_argument("--compare", type=Path, help="compare the outputs with this file's")
    parser.add_argument(
        "--pages", type=int, default=0, help="every k-th real page, this many (0: all)"
    )
    args = parser.parse_args(argv)
    found = outputs(args.pages)
    if args.write:
        args.write.write_text(json.dumps(found, indent=1, ensure_ascii=False))
        print(f"{sum(len(pages) for pages in found.values())} documents written to {args.write}")
        return
    changed = differences(json.loads(args.compare.read_text()), found)
    print("\n".join(changed) or f"all {sum(len(p) for p in found.values())} documents unchanged")
    sys.exit(1 if changed else 0)


if __name__ == "__main__":
    main()
