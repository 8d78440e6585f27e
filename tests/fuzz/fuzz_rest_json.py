"""atheris harness: REST JSON values (``values_from_json``) and the PUT body parser.

Run through :mod:`tests.fuzz.run`, or by hand:
``python -m tests.fuzz.fuzz_rest_json CORPUS_DIR -max_total_time=60``.
"""

from __future__ import annotations

import atheris

with atheris.instrument_imports(include=["protocol", "resolver"]):
    from tests.fuzz.contract_rest import check_rest_json

from tests.fuzz.harness import fuzz

if __name__ == "__main__":
    fuzz(check_rest_json)
