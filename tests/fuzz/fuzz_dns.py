"""atheris harness: ``DnsBridge.answer`` on arbitrary bytes, over a real service
and a temporary SQLite store.

Run through :mod:`tests.fuzz.run`, or by hand:
``python -m tests.fuzz.fuzz_dns CORPUS_DIR -max_total_time=60``.
"""

from __future__ import annotations

import atheris

with atheris.instrument_imports(include=["dns", "resolver"]):
    from tests.fuzz.contract_dns import DnsTarget

from tests.fuzz.harness import fuzz

if __name__ == "__main__":
    # libFuzzer ends the process itself: the store's temporary directory lives
    # under TMPDIR, which tests.fuzz.run points at a directory it removes
    fuzz(DnsTarget().check)
