"""Reporting flows.

* ``daily-report`` (function ``build_report``): summarises the customer export
  for one region and writes ``out/report-<region>.json``. The flow name is set
  explicitly so the function can be renamed without breaking deployments.
* ``healthcheck``: a trivial flow the ops team schedules to prove that the
  work pool, the worker and the pull steps are all alive.

Paths are relative to the flow run's working directory (``examples/``).
Only ``prefect`` and the standard library are imported.
"""

import json
from collections import Counter
from datetime import datetime, timezone
from pathlib import Path

from prefect import flow, task

CUSTOMERS = "data/customers.json"


@task
def summarise(region: str, include_inactive: bool) -> dict:
    with Path(CUSTOMERS).open(encoding="utf-8") as fh:
        customers = json.load(fh)
    in_region = [c for c in customers if region == "all" or c.get("region") == region]
    selected = [c for c in in_region if include_inactive or c.get("active") is True]
    return {
        "region": region,
        "generated_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "include_inactive": include_inactive,
        "customers": len(selected),
        "active": sum(1 for c in selected if c.get("active") is True),
        "by_plan": dict(sorted(Counter(c.get("plan", "unknown") for c in selected).items())),
        "by_country": dict(sorted(Counter(c.get("country", "??") for c in selected).items())),
    }


@task
def publish(summary: dict, recipients: list[str]) -> str:
    out = Path("out") / f"report-{summary['region']}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
    # Sending mail is out of scope for the example; we only say who would get it.
    if recipients:
        print(f"would send {out} to: {', '.join(recipients)}")
    return str(out)


@flow(name="daily-report", log_prints=True)
def build_report(
    region: str = "eu",
    include_inactive: bool = False,
    recipients: list[str] | None = None,
) -> dict:
    """Build the customer summary for ``region`` ("eu", "us", "apac" or "all")."""
    summary = summarise(region, include_inactive)
    print(
        f"[{region}] {summary['customers']} customer(s), {summary['active']} active; "
        f"plans: {summary['by_plan']}"
    )
    publish(summary, recipients or [])
    return summary


@flow
def healthcheck() -> str:
    return "ok"


if __name__ == "__main__":
    print(build_report())
    print(healthcheck())
