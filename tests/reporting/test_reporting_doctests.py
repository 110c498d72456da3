import doctest
import importlib

import pytest

MODULES = [
    "cites_guard.report",
    "cites_guard.outbox",
    "cites_guard.dsa",
    "cites_guard.receiver",
    "cites_guard._delivery",
    "cites_guard._signing",
    "cites_guard._cli_reports",
    "cites_guard._settings",
    "cites_guard._specimens",
]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples_run(name):
    """Every example in the reporting modules' docstrings runs as written."""
    result = doctest.testmod(importlib.import_module(name), optionflags=doctest.ELLIPSIS)
    assert result.failed == 0
