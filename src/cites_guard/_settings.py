"""Settings of enforcement reporting: endpoint, secrets, reporter identity, bounds.

Public through :mod:`cites_guard.report`; kept here so that the sender and the DSA client can
import them without importing the report models. Secrets are :class:`pydantic.SecretStr`:
they print as ``**********`` in reprs, logs and validation errors.
"""

from __future__ import annotations

import ipaddress
import json
import os
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal, Self
from urllib.parse import urlsplit

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)

from cites_guard.errors import ConfigError

__all__ = ["EU_MEMBER_STATES", "ReportSettings", "ReporterInfo"]

#: The 27 EU member states, the default DSA territorial scope of a removal.
EU_MEMBER_STATES: tuple[str, ...] = (
    "AT", "BE", "BG", "CY", "CZ", "DE", "DK", "EE", "ES", "FI", "FR", "GR", "HR", "HU",
    "IE", "IT", "LT", "LU", "LV", "MT", "NL", "PL", "PT", "RO", "SE", "SI", "SK",
)  # fmt: skip

ENV_URL = "CITES_GUARD_REPORT_URL"
ENV_SECRET = "CITES_GUARD_REPORT_SECRET"  # noqa: S105 - the variable's name, not a secret
ENV_SECRET_FILE = "CITES_GUARD_REPORT_SECRET_FILE"  # noqa: S105 - same
ENV_TOKEN = "CITES_GUARD_REPORT_TOKEN"  # noqa: S105 - same
ENV_ENVIRONMENT = "CITES_GUARD_REPORT_ENVIRONMENT"
ENV_OUTBOX = "CITES_GUARD_REPORT_OUTBOX"
ENV_PLATFORM = "CITES_GUARD_REPORTER_NAME"
ENV_LEGAL_URL = "CITES_GUARD_REPORTER_LEGAL_URL"
ENV_CONTACT = "CITES_GUARD_REPORTER_CONTACT"
ENV_DSA_TOKEN = "CITES_GUARD_DSA_TOKEN"  # noqa: S105 - same
ENV_DSA_URL = "CITES_GUARD_DSA_URL"


class ReporterInfo(BaseModel):
    """Who sends the report: the platform, its terms, and whom law enforcement should call."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    platform_name: str = Field(min_length=1, max_length=200)
    legal_url: str = Field(min_length=1, max_length=2000, description="Terms or legal notice.")
    law_enforcement_contact: str = Field(
        min_length=1, max_length=500, description="Mailbox or phone for law-enforcement requests."
    )


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class ReportSettings(BaseModel):
    """Everything a :class:`~cites_guard.report.Reporter` needs, validated once.

    Example:
        >>> s = ReportSettings(
        ...     endpoint_url="https://agency.example/reports",
        ...     secrets=["whsec_c2VjcmV0"],
        ...     reporter={"platform_name": "Shop", "legal_url": "https://shop.example/terms",
        ...               "law_enforcement_contact": "le@shop.example"},
        ... )
        >>> "c2VjcmV0" in repr(s)
        False
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    endpoint_url: str = Field(description="HTTPS URL the reports are POSTed to.")
    secrets: tuple[SecretStr, ...] = Field(
        min_length=1, description="Signing secrets; every one signs, so rotation is seamless."
    )
    bearer_token: SecretStr | None = None
    environment: Literal["test", "production"] = "test"
    reporter: ReporterInfo

    seller_enabled: bool = Field(default=False, description="Include a pseudonymous seller.")
    seller_key: SecretStr | None = Field(
        default=None, description="HMAC key of the seller pseudonym (required when enabled)."
    )
    seller_fields: tuple[str, ...] = Field(
        default=(), description="Seller attributes allowed in reports, e.g. country."
    )

    outbox_path: Path = Path("cites-guard-outbox.sqlite3")
    connect_timeout: float = Field(default=5.0, gt=0, le=120)
    read_timeout: float = Field(default=30.0, gt=0, le=600)
    ca_bundle: Path | None = Field(default=None, description="Extra CA bundle; TLS is always on.")

    max_attempts: int = Field(default=25, ge=1, le=10_000, description="Attempts before dead.")
    max_age_seconds: float = Field(
        default=7 * 86_400, gt=0, description="Age after which a failing report goes dead."
    )
    backoff_initial: float = Field(default=1.0, gt=0, description="First backoff, seconds.")
    backoff_max: float = Field(default=3600.0, gt=0, description="Longest backoff, seconds.")
    retry_after_max: float = Field(default=3600.0, gt=0, description="Cap on Retry-After.")
    attempts_per_flush: int = Field(
        default=3, ge=1, le=100, description="Attempts of one row within one flush."
    )
    in_flush_wait_max: float = Field(
        default=10.0, ge=0, description="Longest in-flush wait; longer waits defer the row."
    )
    lease_seconds: float = Field(default=120.0, gt=0)
    batch_size: int = Field(default=50, ge=1, le=10_000)

    dsa_base_url: str = "https://transparency.dsa.ec.europa.eu"
    dsa_token: SecretStr | None = None
    dsa_territorial_scope: tuple[str, ...] = EU_MEMBER_STATES
    dsa_category: Literal[
        "STATEMENT_CATEGORY_ANIMAL_WELFARE", "STATEMENT_CATEGORY_UNSAFE_AND_PROHIBITED_PRODUCTS"
    ] = "STATEMENT_CATEGORY_ANIMAL_WELFARE"
    dsa_legal_ground: str = Field(
        default=(
            "CITES; Council Regulation (EC) No 338/97 on the protection of species of wild"
            " fauna and flora by regulating trade therein"
        ),
        max_length=500,
    )

    @field_validator("endpoint_url", "dsa_base_url")
    @classmethod
    def _https_only(cls, value: str) -> str:
        """Refuse cleartext HTTP except to loopback, where the reference receiver runs."""
        parts = urlsplit(value)
        if parts.scheme == "https" and parts.hostname:
            return value
        if parts.scheme == "http" and parts.hostname and _is_loopback(parts.hostname):
            return value
        raise ValueError("must be an https:// URL (http:// is allowed only for loopback)")

    @field_validator("secrets", mode="before")
    @classmethod
    def _one_secret_is_a_list(cls, value: object) -> object:
        if isinstance(value, str | SecretStr):
            return (value,)
        return value

    @field_validator("secrets")
    @classmethod
    def _no_empty_secret(cls, value: tuple[SecretStr, ...]) -> tuple[SecretStr, ...]:
        if any(not s.get_secret_value() for s in value):
            raise ValueError("signing secrets must not be empty")
        return value

    @model_validator(mode="after")
    def _lease_outlives_a_request(self) -> Self:
        """A lease shorter than one request would let a second sender take a row in flight."""
        if self.lease_seconds <= self.connect_timeout + self.read_timeout:
            raise ValueError("lease_seconds must exceed connect_timeout + read_timeout")
        return self

    @model_validator(mode="after")
    def _seller_needs_key(self) -> Self:
        """A seller pseudonym without a key would be a plain, linkable seller id."""
        if self.seller_enabled and self.seller_key is None:
            raise ValueError("seller_enabled needs seller_key (the pseudonym's HMAC key)")
        return self

    def secret_values(self) -> list[str]:
        """Return the plain signing secrets, for the signer only."""
        return [s.get_secret_value() for s in self.secrets]

    @classmethod
    def load(cls, data: Mapping[str, Any], *, source: str = "settings") -> Self:
        """Validate a mapping; errors become :class:`ConfigError` without input values.

        Raises:
            ConfigError: A field is missing or invalid; each problem is listed by field.
        """
        try:
            return cls.model_validate(dict(data))
        except ValidationError as exc:
            # include_input=False: a misplaced secret must never reach an error message.
            problems = "; ".join(
                f"{'.'.join(str(p) for p in err['loc']) or '(settings)'}: {err['msg']}"
                for err in exc.errors(include_input=False, include_url=False)
            )
            raise ConfigError(f"invalid report {source}: {problems}") from None

    @classmethod
    def from_file(cls, path: str | Path) -> Self:
        """Read settings from a JSON or TOML file (chosen by the ``.toml`` suffix).

        A TOML file may hold the settings at top level or under ``[report]``.

        Raises:
            ConfigError: The file cannot be read or parsed, or the settings are invalid.
        """
        file = Path(path)
        try:
            text = file.read_text(encoding="utf-8")
            data: Any = tomllib.loads(text) if file.suffix == ".toml" else json.loads(text)
        except (OSError, ValueError) as exc:
            raise ConfigError(f"cannot read report config {file}: {exc}") from exc
        if not isinstance(data, dict):
            raise ConfigError(f"report config {file} must hold a table/object")
        if isinstance(data.get("report"), dict):
            data = data["report"]
        return cls.load(data, source=f"config {file}")

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Self:
        """Build settings from environment variables.

        ``CITES_GUARD_REPORT_URL`` and ``CITES_GUARD_REPORT_SECRET`` (or
        ``CITES_GUARD_REPORT_SECRET_FILE``, one secret per line) are required, as are
        ``CITES_GUARD_REPORTER_NAME``, ``..._LEGAL_URL`` and ``..._CONTACT``. Optional:
        ``CITES_GUARD_REPORT_TOKEN``, ``CITES_GUARD_REPORT_ENVIRONMENT``,
        ``CITES_GUARD_REPORT_OUTBOX``, ``CITES_GUARD_DSA_URL``, ``CITES_GUARD_DSA_TOKEN``.
        Several secrets in ``CITES_GUARD_REPORT_SECRET`` are separated by whitespace.

        Raises:
            ConfigError: A required variable is missing or a value is invalid.
        """
        env = os.environ if environ is None else environ
        missing = [
            name
            for name in (ENV_URL, ENV_PLATFORM, ENV_LEGAL_URL, ENV_CONTACT)
            if not env.get(name)
        ]
        if not env.get(ENV_SECRET) and not env.get(ENV_SECRET_FILE):
            missing.append(f"{ENV_SECRET} or {ENV_SECRET_FILE}")
        if missing:
            raise ConfigError("missing environment variables: " + ", ".join(missing))
        if env.get(ENV_SECRET):
            secrets = env[ENV_SECRET].split()
        else:
            secret_file = Path(env[ENV_SECRET_FILE])
            try:
                secrets = secret_file.read_text(encoding="utf-8").split()
            except OSError as exc:
                raise ConfigError(f"cannot read {ENV_SECRET_FILE} {secret_file}") from exc
        data: dict[str, Any] = {
            "endpoint_url": env[ENV_URL],
            "secrets": secrets,
            "reporter": {
                "platform_name": env[ENV_PLATFORM],
                "legal_url": env[ENV_LEGAL_URL],
                "law_enforcement_contact": env[ENV_CONTACT],
            },
        }
        optional = {
            ENV_TOKEN: "bearer_token",
            ENV_ENVIRONMENT: "environment",
            ENV_OUTBOX: "outbox_path",
            ENV_DSA_URL: "dsa_base_url",
            ENV_DSA_TOKEN: "dsa_token",
        }
        data.update({field: env[var] for var, field in optional.items() if env.get(var)})
        return cls.load(data, source="environment")
