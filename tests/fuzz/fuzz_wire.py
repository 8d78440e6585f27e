"""atheris harness: Handle envelope + message decoding, TCP deframing, UDP reassembly.

Run through :mod:`tests.fuzz.run`, or by hand:
``python -m tests.fuzz.fuzz_wire CORPUS_DIR -max_total_time=60``.
"""

from __future__ import annotations

import atheris

with atheris.instrument_imports(include=["protocol"]):
    from tests.fuzz.contract_wire import check_wire

from tests.fuzz.harness import fuzz

if __name__ == "__main__":
    fuzz(check_wire)
