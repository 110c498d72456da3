from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from cites_guard._automaton import Automaton


def _naive(patterns: list[str], text: str) -> list[tuple[int, int, int]]:
    """Every occurrence of every pattern, found the slow and obvious way."""
    return sorted(
        (i, i + len(p), pid)
        for pid, p in enumerate(patterns)
        for i in range(len(text) - len(p) + 1)
        if text.startswith(p, i)
    )


def test_finds_overlapping_patterns() -> None:
    """Every occurrence is found, overlapping ones included."""
    found = sorted(Automaton(["he", "she", "his", "hers"]).find("ushers"))
    assert found == [(1, 4, 1), (2, 4, 0), (2, 6, 3)]


@given(
    st.lists(st.text(alphabet="abc", min_size=1, max_size=4), min_size=1, max_size=8),
    st.text(alphabet="abc", max_size=40),
)
def test_agrees_with_naive_search(patterns: list[str], text: str) -> None:
    """The automaton finds exactly what a naive search finds."""
    assert sorted(Automaton(patterns).find(text)) == _naive(patterns, text)


@given(
    st.lists(st.text(alphabet="ab象牙", min_size=1, max_size=4), min_size=1, max_size=8),
    st.text(alphabet="ab象牙 ", max_size=40),
)
def test_agrees_with_naive_search_across_scripts(patterns: list[str], text: str) -> None:
    """Patterns in alphabetic and CJK scripts, in one text, are all found, in order of end."""
    found = list(Automaton(patterns).find(text))
    assert sorted(found) == _naive(patterns, text)
    assert [end for _, end, _ in found] == sorted(end for _, end, _ in found)
