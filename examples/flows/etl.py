"""Customer ETL: keep the active customers from a JSON export.

Deployed as flow ``etl-pipeline`` (the name Prefect derives from the function
name, because the decorator below sets no explicit name).

Paths are relative to the working directory of the flow run. The deployments
in this repository set that to the ``examples/`` directory with a
``set_working_directory`` pull step, so ``data/customers.json`` resolves to
``examples/data/customers.json``.

Only ``prefect`` and the standard library are imported, so a plain
``pip install prefect`` worker can run it.
"""

import json
from pathlib import Path
from typing import Any

from prefect import flow, task

Record = dict[str, Any]


@task(retries=2, retry_delay_seconds=5)
def extract(source: str) -> list[Record]:
    """Load the list of customer records from a JSON file."""
    with Path(source).open(encoding="utf-8") as fh:
        records = json.load(fh)
    if not isinstance(records, list):
        raise ValueError(f"{source}: expected a JSON array of records, got {type(records).__name__}")
    print(f"extracted {len(records)} record(s) from {source}")
    return records


@task
def transform(records: list[Record]) -> list[Record]:
    """Keep only records whose ``active`` flag is literally ``true``."""
    active = [r for r in records if isinstance(r, dict) and r.get("active") is True]
    print(f"kept {len(active)} active record(s), dropped {len(records) - len(active)}")
    return active


@task
def load(records: list[Record], output: str) -> str:
    """Write the records as pretty-printed JSON, creating parent directories."""
    out = Path(output)
    out.parent.mkdir(parents=True, exist_ok=True)
    # Write to a temp file and rename, so readers never see a half-written file.
    tmp = out.with_name(out.name + ".tmp")
    tmp.write_text(json.dumps(records, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    tmp.replace(out)
    print(f"wrote {len(records)} record(s) to {out}")
    return str(out)


@flow(log_prints=True)
def etl_pipeline(
    source: str = "data/customers.json",
    output: str = "out/active_customers.json",
    min_records: int = 0,
) -> int:
    """Extract customers, keep the active ones, load them; return how many were kept.

    Fails (rather than writing a suspiciously small file) when fewer than
    ``min_records`` active customers remain.
    """
    records = extract(source)
    active = transform(records)
    if len(active) < min_records:
        raise ValueError(
            f"only {len(active)} active record(s), expected at least {min_records}; not writing {output}"
        )
    load(active, output)
    return len(active)


if __name__ == "__main__":
    # Local smoke test: `cd examples && python flows/etl.py`
    print(etl_pipeline())
