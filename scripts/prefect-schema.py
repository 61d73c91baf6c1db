"""Prints the parameter schema `prefect deploy` sends for one or more flows.

Used only by test/integration/parameter-schema-conformance.test.ts, with the pinned
.prefect-venv interpreter:

    .prefect-venv/bin/python scripts/prefect-schema.py FILE:FUNC [FILE:FUNC ...]

Each flow is loaded the way `prefect deploy` loads it (`load_flow_from_entrypoint`, which
imports the file by path), and its schema is made the way `prefect deploy` makes it:
`parameter_schema(flow)`, sent as `parameter_openapi_schema` by RunnerDeployment, which dumps it
with `model_dump(exclude_unset=True)`. Prints one JSON object mapping each FILE:FUNC to that
schema, or to {"error": "..."} when loading or generating fails.
"""

import json
import sys
import warnings

from prefect.flows import load_flow_from_entrypoint
from prefect.utilities.callables import parameter_schema


def schema_for(entrypoint: str) -> dict:
    try:
        flow = load_flow_from_entrypoint(entrypoint)
        return parameter_schema(flow).model_dump(exclude_unset=True)
    except Exception as exc:  # reported per flow so one failure does not hide the others
        return {"error": f"{type(exc).__name__}: {exc}"}


def main(entrypoints: list[str]) -> int:
    if not entrypoints or any(":" not in e for e in entrypoints):
        print("usage: prefect-schema.py FILE:FUNC [FILE:FUNC ...]", file=sys.stderr)
        return 2
    # pydantic warns about defaults it cannot serialise (and leaves them out): expected here.
    warnings.simplefilter("ignore")
    print(json.dumps({entrypoint: schema_for(entrypoint) for entrypoint in entrypoints}))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
