"""Write docs/schemas/<task-name>.json from the contract's Pydantic payload models.

    .venv/bin/python scripts/gen_schemas.py          # (re)generate
    .venv/bin/python scripts/gen_schemas.py --check  # exit 1 if docs/schemas drifted

tests/unit/publishing/test_schemas.py fails when the committed files drift from the models.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ragtasks_core.contract.registry import json_schemas, render

OUT = Path(__file__).resolve().parents[1] / "docs" / "schemas"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="only compare; exit 1 on drift")
    args = parser.parse_args()
    wanted = {f"{task}.json": render(schema) for task, schema in json_schemas().items()}
    present = {p.name: p.read_text() for p in OUT.glob("*.json")} if OUT.exists() else {}
    if args.check:
        drift = sorted(n for n in wanted.keys() | present.keys() if wanted.get(n) != present.get(n))
        for name in drift:
            print(f"drifted: docs/schemas/{name}", file=sys.stderr)
        return 1 if drift else 0
    OUT.mkdir(parents=True, exist_ok=True)
    for name in present.keys() - wanted.keys():
        (OUT / name).unlink()
    for name, text in wanted.items():
        (OUT / name).write_text(text)
    print(f"wrote {len(wanted)} schemas to {OUT}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
