"""Coverage-guided fuzzing (atheris) of the wire decoder, the REST JSON parser and
the DNS bridge.

Each target has a contract module (``contract_<target>``), free of atheris: the
atheris harness (``fuzz_<target>``, run by :mod:`tests.fuzz.run`) calls it from
its instrumented subprocess, and the short pytest run replays the seed corpus
and past findings through it in-process.  A check returns quietly when the code
under test behaved (answered, or raised only its own error type) and lets
anything else escape, which the fuzzer reports as a crash.
"""
