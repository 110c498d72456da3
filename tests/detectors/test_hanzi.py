"""The Traditional-to-Simplified table keeps offsets and never chains."""

from __future__ import annotations

from cites_guard._hanzi import SIMPLIFIED, has_traditional


def test_the_table_maps_characters_one_to_one_without_chains() -> None:
    assert len(SIMPLIFIED) > 400
    assert all(key != value for key, value in SIMPLIFIED.items())
    assert not set(SIMPLIFIED.values()) & set(SIMPLIFIED)  # 龍 -> 龙, never 龙 -> ...


def test_translation_keeps_length_and_leaves_other_scripts_alone() -> None:
    text = "象牙手鐲 ivory 熊膽 べっ甲 상아 งาช้าง"
    assert len(text.translate(SIMPLIFIED)) == len(text)
    assert text.translate(SIMPLIFIED) == "象牙手镯 ivory 熊胆 べっ甲 상아 งาช้าง"
    assert has_traditional(text)
    assert not has_traditional("象牙手镯 熊胆 ivory")
