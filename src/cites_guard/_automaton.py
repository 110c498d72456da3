"""Aho-Corasick multi-pattern search: every term of the taxonomy in one pass over the text.

A loop of regular expressions costs one pass per term; an automaton costs one pass per
text, whatever the number of terms (tens of thousands across 19 languages).

Two automata share the work, because the scripts differ in one way that matters:
- Alphabetic scripts (Latin, Cyrillic, Arabic, Thai...) have a few dozen letters. Their
  terms go to pyahocorasick's automaton, written in C: about 10 µs for an 80-word ad.
- CJK and Hangul have thousands of characters, and about a thousand of them start a term.
  pyahocorasick looks a character up among a node's children one by one, so on Chinese
  text it spent 110 µs per ad at the root alone. Terms that start with such a character
  go to a small automaton of dictionaries, whose look-ups cost the same for any number of
  children, and it only runs on text that holds such characters.
"""

from __future__ import annotations

import re
from collections import deque
from collections.abc import Iterable, Iterator

import ahocorasick

__all__ = ["Automaton"]

#: Characters of the scripts with thousands of letters: CJK, kana, Hangul and beyond.
_LARGE_SCRIPTS = re.compile("[\u2e80-\U0010ffff]")


class Automaton:
    """Find every occurrence of a fixed set of patterns.

    Example:
        >>> automaton = Automaton(["he", "she", "hers", "象牙"])
        >>> sorted(automaton.find("ushers 象牙"))
        [(1, 4, 1), (2, 4, 0), (2, 6, 2), (7, 9, 3)]
    """

    __slots__ = ("_alphabetic", "_count", "_large")

    def __init__(self, patterns: Iterable[str]) -> None:
        """Build both automata. Pattern ids are positions; empty patterns never match."""
        ids: dict[str, list[int]] = {}
        count = 0
        for pattern_id, pattern in enumerate(patterns):
            count += 1
            if pattern:
                ids.setdefault(pattern, []).append(pattern_id)
        self._count = count
        large = {p: tuple(same) for p, same in ids.items() if _LARGE_SCRIPTS.match(p)}
        self._large = _DictAutomaton(large)
        self._alphabetic = ahocorasick.Automaton()
        for pattern, same in ids.items():
            if pattern not in large:
                self._alphabetic.add_word(pattern, tuple((len(pattern) - 1, 1, p) for p in same))
        if len(self._alphabetic):
            self._alphabetic.make_automaton()

    def __len__(self) -> int:
        """Number of patterns."""
        return self._count

    def find(self, text: str) -> list[tuple[int, int, int]]:
        """Return ``(start, end, pattern_id)`` for every occurrence, overlapping ones included.

        Occurrences come in order of their end, longer ones first among those that end
        together.
        """
        found: list[tuple[int, int, int]] = []
        if self._alphabetic.kind == ahocorasick.AHOCORASICK:
            # Each stored value is (start offset from the last character, end offset, id)
            # per pattern, so an occurrence costs two additions and no generator.
            append = found.append
            for last, occurrences in self._alphabetic.iter(text):
                for back, forward, pattern_id in occurrences:
                    append((last - back, last + forward, pattern_id))
        if self._large and _LARGE_SCRIPTS.search(text) is not None:
            if found:
                found.extend(self._large.find(text))
                found.sort(key=lambda hit: (hit[1], hit[0]))
            else:
                found = list(self._large.find(text))
        return found


class _DictAutomaton:
    """Aho-Corasick over dictionaries: one hashed look-up per character, however many."""

    __slots__ = ("_fail", "_goto", "_out")

    def __init__(self, patterns: dict[str, tuple[int, ...]]) -> None:
        self._goto: list[dict[str, int]] = [{}]
        # Per node: (length, pattern ids) of every pattern that ends there.
        self._out: list[tuple[tuple[int, tuple[int, ...]], ...]] = [()]
        for pattern, pattern_ids in patterns.items():
            node = 0
            for char in pattern:
                nxt = self._goto[node].get(char)
                if nxt is None:
                    nxt = len(self._goto)
                    self._goto[node][char] = nxt
                    self._goto.append({})
                    self._out.append(())
                node = nxt
            self._out[node] = (*self._out[node], (len(pattern), pattern_ids))
        self._fail = [0] * len(self._goto)
        self._link()

    def __bool__(self) -> bool:
        return len(self._goto) > 1

    def _link(self) -> None:
        queue: deque[int] = deque(self._goto[0].values())
        while queue:
            node = queue.popleft()
            for char, child in self._goto[node].items():
                queue.append(child)
                fallback = self._fail[node]
                while fallback and char not in self._goto[fallback]:
                    fallback = self._fail[fallback]
                target = self._goto[fallback].get(char, 0)
                self._fail[child] = target if target != child else 0
                if self._out[self._fail[child]]:
                    self._out[child] = self._out[child] + self._out[self._fail[child]]

    def find(self, text: str) -> Iterator[tuple[int, int, int]]:
        goto = self._goto
        fail = self._fail
        out = self._out
        node = 0
        for index, char in enumerate(text):
            while node and char not in goto[node]:
                node = fail[node]
            node = goto[node].get(char, 0)
            if out[node]:
                end = index + 1
                for length, pattern_ids in out[node]:
                    for pattern_id in pattern_ids:
                        yield end - length, end, pattern_id
