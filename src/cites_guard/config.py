"""Settings: thresholds, policy per appendix, extra terms and taxa, model options.

Settings come from code (``Settings(...)``), from a JSON or TOML file
(:meth:`Settings.from_file`), or both (``Settings.from_file(path).model_copy(update=...)``).
Every field has a safe default, so ``Settings()`` is a working configuration. Unknown keys
in a file are errors, because a misspelt threshold silently ignored is a policy nobody chose.
"""

from __future__ import annotations

import json
import tomllib
from pathlib import Path
from typing import Any, Literal, Self

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from cites_guard.assessment import Appendix, Decision
from cites_guard.errors import ConfigError

__all__ = ["ExtraTerm", "ModelSettings", "PolicySettings", "Settings", "TaxonomySettings"]

_STRICT = ConfigDict(extra="forbid", frozen=True)


class PolicySettings(BaseModel):
    """How risk becomes a decision.

    ``review`` from ``review_threshold``; ``block`` from ``block_threshold``, or from the
    appendix's own threshold when the top match is in an appendix listed in
    ``block_threshold_by_appendix`` (by default Appendix I, whose commercial trade is
    prohibited, blocks at a lower bar). A block needs a named taxon unless
    ``block_requires_match`` is off: a moderator should see *what* was blocked. An ad that
    names a taxon outright ("ivory netsuke": a match of at least ``review_named_at`` from
    its own words) with no look-alike or negation cue is reviewed whatever the risk, so the
    guard never passes what a keyword list would have caught.
    """

    model_config = _STRICT

    review_threshold: float = Field(default=0.5, ge=0.0, le=1.0)
    block_threshold: float = Field(default=0.9, ge=0.0, le=1.0)
    block_threshold_by_appendix: dict[Appendix, float] = Field(
        default_factory=lambda: dict[Appendix, float]({"I": 0.8})
    )
    block_requires_match: bool = True
    review_named_at: float | None = Field(
        default=0.85,
        ge=0.0,
        le=1.0,
        description="Match confidence from the ad's own words that is always reviewed "
        "when no look-alike or negation cue is present; None: the risk alone decides.",
    )
    report_decisions: tuple[Decision, ...] = ("block",)

    @model_validator(mode="after")
    def _ordered(self) -> Self:
        if self.block_threshold < self.review_threshold:
            raise ValueError("block_threshold must be at least review_threshold")
        for appendix, value in self.block_threshold_by_appendix.items():
            if not self.review_threshold <= value <= 1.0:
                raise ValueError(
                    f"block_threshold_by_appendix[{appendix}] must lie between "
                    "review_threshold and 1"
                )
        return self


class ExtraTerm(BaseModel):
    """A marketplace's own term: a local code word, a brand that is a look-alike..."""

    model_config = _STRICT

    term: str = Field(min_length=1)
    kind: Literal["species", "product", "code_word", "negation", "lookalike"]
    target: str = Field(
        min_length=1,
        description="Scientific name for species/product/code_word; a label otherwise.",
    )
    language: str | None = None


class TaxonomySettings(BaseModel):
    """Additions to the bundled taxonomy."""

    model_config = _STRICT

    extra_files: tuple[Path, ...] = ()
    extra_terms: tuple[ExtraTerm, ...] = ()


class ModelSettings(BaseModel):
    """Which model scores, and how it runs."""

    model_config = _STRICT

    enabled: bool = Field(default=True, description="False scores from evidence alone.")
    path: Path | None = Field(default=None, description="Model directory; None = bundled.")
    intra_op_threads: int = Field(default=0, ge=0, description="0 lets onnxruntime choose.")
    batch_size: int = Field(default=64, ge=1, le=4096)


class Settings(BaseModel):
    """Everything a :class:`~cites_guard.guard.Guard` can be told.

    Example:
        >>> Settings().policy.review_threshold
        0.5
        >>> Settings.model_validate({"policy": {"review_threshold": 0.4}}).policy.block_threshold
        0.9
    """

    model_config = _STRICT

    policy: PolicySettings = PolicySettings()
    taxonomy: TaxonomySettings = TaxonomySettings()
    model: ModelSettings = ModelSettings()
    reporting: dict[str, Any] | None = Field(
        default=None, description="Report endpoint settings (see docs/reporting.md)."
    )

    @classmethod
    def from_file(cls, path: str | Path) -> Settings:
        """Read settings from a ``.json`` or ``.toml`` file.

        Relative paths inside the file are taken relative to the file's folder.

        Raises:
            ConfigError: The file cannot be read or a value is invalid; the message names
                the field.
        """
        source = Path(path)
        try:
            raw = source.read_bytes()
            data: dict[str, Any] = (
                tomllib.loads(raw.decode("utf-8"))
                if source.suffix.lower() == ".toml"
                else json.loads(raw)
            )
        except (OSError, UnicodeDecodeError, ValueError) as exc:
            raise ConfigError(f"{source}: cannot read settings: {exc}") from exc
        if not isinstance(data, dict):
            raise ConfigError(f"{source}: settings must be a table/object at the top level")
        _resolve_paths(data, source.parent)
        try:
            return cls.model_validate(data)
        except ValidationError as exc:
            problems = "; ".join(
                f"{'.'.join(str(p) for p in err['loc'])}: {err['msg']}" for err in exc.errors()
            )
            raise ConfigError(f"{source}: invalid settings: {problems}") from exc

    def with_threshold(self, review_threshold: float) -> Settings:
        """A copy whose review threshold is ``review_threshold`` (block stays >= it)."""
        policy = self.policy.model_dump()
        policy["review_threshold"] = review_threshold
        policy["block_threshold"] = max(policy["block_threshold"], review_threshold)
        policy["block_threshold_by_appendix"] = {
            k: max(v, review_threshold) for k, v in policy["block_threshold_by_appendix"].items()
        }
        try:
            return self.model_copy(update={"policy": PolicySettings.model_validate(policy)})
        except ValidationError as exc:
            raise ConfigError(f"invalid threshold {review_threshold}: {exc}") from exc


def _resolve_paths(data: dict[str, Any], base: Path) -> None:
    taxonomy = data.get("taxonomy")
    if isinstance(taxonomy, dict) and isinstance(taxonomy.get("extra_files"), list):
        taxonomy["extra_files"] = [str(base / p) for p in taxonomy["extra_files"]]
    model = data.get("model")
    if isinstance(model, dict) and isinstance(model.get("path"), str):
        model["path"] = str(base / model["path"])
