"""Coverage-guided fuzzing (atheris) of the wire decoder, the REST JSON parser and
the DNS bridge; see :mod:`tests.fuzz.run` and the ``contract_*`` modules."""
