from __future__ import annotations

import logging
import subprocess
import sys

import cites_guard


def test_all_is_sorted_and_exported() -> None:
    """__all__ is sorted and every name in it is really exported."""
    assert list(cites_guard.__all__) == sorted(cites_guard.__all__)
    for name in cites_guard.__all__:
        assert hasattr(cites_guard, name), name


def test_public_names_are_in_all() -> None:
    """Every public class or function at the top level is listed in __all__."""
    public = {
        name
        for name, value in vars(cites_guard).items()
        if not name.startswith("_") and (isinstance(value, type) or callable(value))
    }
    assert public <= set(cites_guard.__all__)


def test_every_error_derives_from_the_base() -> None:
    """All exported exceptions share the CitesGuardError base."""
    errors = [getattr(cites_guard, n) for n in cites_guard.__all__ if n.endswith("Error")]
    assert errors
    for error in errors:
        assert issubclass(error, cites_guard.CitesGuardError)


def test_import_does_not_configure_logging() -> None:
    """Importing the library adds no handler to the root logger and only a NullHandler."""
    code = (
        "import logging; before = list(logging.getLogger().handlers); import cites_guard; "
        "assert logging.getLogger().handlers == before; "
        "hs = logging.getLogger('cites_guard').handlers; "
        "assert all(isinstance(h, logging.NullHandler) for h in hs), hs"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
    assert isinstance(logging.getLogger("cites_guard").handlers[0], logging.NullHandler)


def test_scoring_alone_does_not_import_the_reporting_stack() -> None:
    """A process that only scores (a batch worker) skips requests; reporting names still load."""
    code = (
        "import sys, cites_guard; from cites_guard import Guard; "
        "Guard(scorer=cites_guard.EvidenceScorer()).assess({'id': '1', 'title': 'ivory'}); "
        "assert 'requests' not in sys.modules, 'requests imported'; "
        "from cites_guard import Reporter; assert Reporter.__module__ == 'cites_guard.report'"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
