"""CPU one anonymous authentication step may cost the node, before and after issue 18.

Run: ``.venv/bin/python -m benchmarks.auth_cost``.  Measures with
``time.process_time`` (CPU, not wall time): a 4096-bit Handle session setup
with a full-size exponent (the old code) and with the 256-bit exponent of
:mod:`protocol.dh_groups`; the dearest PBKDF2 answer the node now admits and
the one F3 described (100 000 iterations x 4096 bits against 20 planted keys).
Prints a verdict against the goal that no anonymous step costs more than
``GOAL_MS`` of CPU.  A measurement, not a test.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable

from protocol import auth
from protocol.auth import MAX_PBKDF2_ITERATIONS
from protocol.constants import KEY_EXCHANGE_DH
from protocol.dh_groups import GROUPS
from protocol.public_key import DHKeyNumbers, encode_key_numbers
from resolver.core.service import MAX_ANSWER_WORK
from resolver.handle.key_exchange import dh_session_key

GOAL_MS = 250.0
NONCE, DIGEST, KEY = b"n" * 16, b"d" * 20, b"secret"


def cpu_ms(fn: Callable[[], object], repeat: int = 3) -> float:
    """Mean CPU milliseconds of ``fn``."""
    start = time.process_time()
    for _ in range(repeat):
        fn()
    return (time.process_time() - start) * 1000 / repeat


def main() -> None:
    """Print the measurements and the verdict."""
    p = GROUPS[4096]
    peer = pow(2, secrets.randbits(256), p)
    client_key = encode_key_numbers(DHKeyNumbers(p=p, g=2, y=peer))

    def old_setup() -> None:
        x = secrets.randbelow(p - 3) + 2
        pow(peer, x, p)
        pow(2, x, p)

    old_dh = cpu_ms(old_setup)
    new_dh = cpu_ms(lambda: dh_session_key(KEY_EXCHANGE_DH, client_key), 10)
    admitted = auth.secret_key_answer(NONCE, DIGEST, KEY, iterations=MAX_PBKDF2_ITERATIONS)
    per_key = cpu_ms(lambda: auth.verify_secret_key_answer(NONCE, DIGEST, KEY, admitted))
    new_answer = per_key * MAX_ANSWER_WORK / MAX_PBKDF2_ITERATIONS
    wide = auth.secret_key_answer(NONCE, DIGEST, KEY, iterations=100_000, key_bits=4096)
    old_answer = cpu_ms(lambda: auth.verify_secret_key_answer(NONCE, DIGEST, KEY, wide), 1) * 20
    print(f"DH 4096-bit setup:   before {old_dh:8.1f} ms   now {new_dh:6.1f} ms")
    print(f"PBKDF2 answer (max): before {old_answer:8.1f} ms   now {new_answer:6.1f} ms")
    worst = max(new_dh, new_answer)
    verdict = "PASS" if worst <= GOAL_MS else "FAIL"
    print(f"{verdict}: dearest anonymous step now {worst:.1f} ms CPU (goal <= {GOAL_MS:.0f} ms)")


if __name__ == "__main__":
    main()
