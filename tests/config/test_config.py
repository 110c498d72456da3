from __future__ import annotations

from pathlib import Path

import pytest

from cites_guard import ConfigError, Settings
from cites_guard.assessment import Evidence, Match
from cites_guard.config import PolicySettings
from cites_guard.policy import Policy


def test_toml_file_is_read_with_relative_paths(tmp_path: Path) -> None:
    """Settings files may be TOML; relative paths are taken from the file's folder."""
    path = tmp_path / "settings.toml"
    path.write_text('[policy]\nreview_threshold = 0.4\n[taxonomy]\nextra_files = ["t.jsonl"]\n')
    settings = Settings.from_file(path)
    assert settings.policy.review_threshold == 0.4
    assert settings.taxonomy.extra_files == (tmp_path / "t.jsonl",)


@pytest.mark.parametrize(
    "content",
    [
        '{"policy": {"review_threshold": 2}}',
        '{"policy": {"review_treshold": 0.3}}',
        '{"policy": {"review_threshold": 0.9, "block_threshold": 0.5}}',
        "not json",
        "[1, 2]",
    ],
)
def test_broken_settings_raise_config_error(tmp_path: Path, content: str) -> None:
    """Out-of-range, misspelt, inconsistent or unreadable settings raise ConfigError."""
    path = tmp_path / "settings.json"
    path.write_text(content)
    with pytest.raises(ConfigError):
        Settings.from_file(path)


def test_appendix_one_blocks_at_a_lower_risk() -> None:
    """An Appendix I match blocks at its own lower threshold."""
    match = Match(taxon="Manis", rank="genus", group="pangolins", appendix="I", confidence=0.9)
    policy = Policy(PolicySettings())
    assert policy.decide(0.85, [match])[0] == "block"
    assert policy.decide(0.85, [match.model_copy(update={"appendix": "II"})])[0] == "review"


def test_block_without_a_named_taxon_goes_to_review() -> None:
    """A moderator must see what was blocked, so a high risk without a taxon is reviewed."""
    assert Policy(PolicySettings()).decide(0.99, [])[0] == "review"


def _named_match(confidence: float, *, spans: bool = True) -> Match:
    evidence = (
        (
            Evidence(
                field="title",
                start=0,
                end=13,
                text="ivory netsuke",
                term="ivory netsuke",
                kind="product",
                language="en",
            ),
        )
        if spans
        else ()
    )
    return Match(
        taxon="Elephantidae",
        rank="family",
        group="elephants",
        appendix="I",
        confidence=confidence,
        evidence=evidence,
    )


def test_a_taxon_named_outright_is_reviewed_whatever_the_risk() -> None:
    """ "ivory netsuke" is never allowed on a low model risk, unless a cue explains it away,
    the match is weak, the model alone inferred it, or the marketplace turned the rule off."""
    policy = Policy(PolicySettings())
    decision, rule = policy.decide(0.04, [_named_match(0.85)])
    assert decision == "review"
    assert "names Elephantidae outright (ivory netsuke)" in rule
    assert policy.decide(0.04, [_named_match(0.85)], cued=True)[0] == "allow"
    assert policy.decide(0.04, [_named_match(0.55)])[0] == "allow"
    assert policy.decide(0.04, [_named_match(0.9, spans=False)])[0] == "allow"
    off = Policy(PolicySettings(review_named_at=None))
    assert off.decide(0.04, [_named_match(0.97)])[0] == "allow"


def test_with_threshold_keeps_block_above_review() -> None:
    """Lowering or raising the review threshold keeps the block thresholds consistent."""
    settings = Settings().with_threshold(0.95)
    assert settings.policy.block_threshold >= 0.95
    assert settings.policy.block_threshold_by_appendix["I"] >= 0.95
