"""HiGHS instances that print nothing on standard output.

HiGHS writes its banner ("Running HiGHS 1.16.0 ... Copyright ...") straight to
the process's file descriptor 1 when the first ``highspy.Highs`` of a process
is made, before any option can switch its output off. A command asked for
``--json`` must print nothing but JSON there, so :func:`quiet_highs` makes that
first instance with descriptor 1 pointed at standard error for the moment of
construction, and every instance with ``output_flag`` off.

Part of the foundation: imports only highspy and the standard library; the pure
solvers (placement, patrol) make their HiGHS instances here.
"""

from __future__ import annotations

import os
import sys
import threading

import highspy

__all__ = ["quiet_highs"]

_FIRST = threading.Lock()
_made = False


def quiet_highs() -> highspy.Highs:
    """Return a new ``highspy.Highs`` with its output off; its banner, if any, went to stderr."""
    global _made  # noqa: PLW0603 (once per process: the banner is printed only once)
    if not _made:
        with _FIRST:
            if not _made:
                sys.stdout.flush()
                saved = os.dup(1)
                try:
                    os.dup2(2, 1)
                    h = highspy.Highs()  # type: ignore[no-untyped-call]
                finally:
                    os.dup2(saved, 1)
                    os.close(saved)
                _made = True
                h.setOptionValue("output_flag", False)
                return h
    h = highspy.Highs()  # type: ignore[no-untyped-call]
    h.setOptionValue("output_flag", False)
    return h
