"""The one error of the templates package: a bad document, record or template file."""

from __future__ import annotations

from collections.abc import Sequence

from registry.errors import InvalidValue

MAX_PROBLEMS_IN_MESSAGE = 5


class TemplateError(InvalidValue):
    """A document, record or template file that does not conform.

    ``problems`` lists every failure found, each ``POINTER: what (rule)`` with
    ``POINTER`` a JSON pointer (RFC 6901) into the document and ``rule`` the
    JSON Schema keyword that failed, e.g.
    ``/energy_grade: 'X' is not one of ['A', 'B', ...] (enum)``.  The message
    is ``what: problem; problem ...`` (the first few problems).
    """

    def __init__(self, what: str, problems: Sequence[str] = ()) -> None:
        self.problems = tuple(problems)
        shown = "; ".join(self.problems[:MAX_PROBLEMS_IN_MESSAGE])
        more = len(self.problems) - MAX_PROBLEMS_IN_MESSAGE
        if more > 0:
            shown += f"; and {more} more"
        super().__init__(f"{what}: {shown}" if shown else what)
