"""The bundled text model: its manifest, integrity check, ONNX session and scorer.

A model directory holds ``model.onnx``, ``tokenizer.json`` and ``manifest.json`` (version,
label set, opset, SHA-256 of each file, calibration, training seed and metrics). Loading
checks every checksum first and refuses a file that differs: a tampered model could wave
trafficked wildlife through.

The model reads the *normalised* text of a listing (see :func:`model_text`), so the
obfuscations the normaliser undoes never reach it.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
from collections.abc import Iterator, Mapping, Sequence
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from cites_guard._encoding import WordCachedEncoder
from cites_guard.errors import ModelError, ModelIntegrityError
from cites_guard.fusion import Fusion, sigmoid
from cites_guard.normalize import NormalizedText
from cites_guard.scoring import Prepared, Score, top_group

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt
    import onnxruntime as ort
    from tokenizers import Tokenizer

__all__ = [
    "FIELD_SEPARATOR",
    "ModelManifest",
    "OnnxScorer",
    "bundled_model_dir",
    "load_manifest",
    "model_text",
    "verify_model_dir",
]

#: Joins the normalised fields of a listing into the model's input text.
FIELD_SEPARATOR = " | "
MODEL_FILES = ("model.onnx", "tokenizer.json")


class Calibration(BaseModel):
    """Temperature scaling fitted on held-out data: ``p = sigmoid(logit / T + b)``."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    temperature: float = Field(gt=0.0)
    bias: float = 0.0

    def probability(self, logit: float) -> float:
        """The calibrated probability of a raw model logit."""
        return sigmoid(logit / self.temperature + self.bias)


class ModelManifest(BaseModel):
    """What a model directory contains and how it was made."""

    model_config = ConfigDict(frozen=True, extra="forbid", protected_namespaces=())

    name: str
    version: str
    created: str
    opset: int
    files: dict[str, str] = Field(description="File name -> SHA-256 (hex).")
    groups: tuple[str, ...] = Field(description="Labels of the group head, in output order.")
    inputs: tuple[str, ...] = ("input_ids",)
    outputs: tuple[str, ...] = ("logit", "group_logits")
    calibration: Calibration
    fusion: Fusion | None = Field(
        default=None,
        description="Fitted fusion of the model and the evidence; absent: the hand-set rule.",
    )
    threshold: float = Field(ge=0.0, le=1.0, description="Suggested review threshold.")
    licence: str = "Apache-2.0"
    training: dict[str, Any] = Field(default_factory=dict)
    metrics: dict[str, Any] = Field(default_factory=dict)


def bundled_model_dir() -> Path:
    """The directory of the model shipped with the package.

    Installed wheels carry it as ``cites_guard/_bundled_model``; a source checkout uses the
    repository's ``models/`` folder.
    """
    packaged = Path(str(resources.files("cites_guard"))) / "_bundled_model"
    if (packaged / "manifest.json").exists():
        return packaged
    return Path(__file__).resolve().parents[2] / "models"


def load_manifest(directory: Path) -> ModelManifest:
    """Read and validate ``manifest.json`` of a model directory.

    Raises:
        ModelError: The manifest is missing or invalid.
    """
    path = directory / "manifest.json"
    try:
        return ModelManifest.model_validate_json(path.read_bytes())
    except OSError as exc:
        raise ModelError(
            f"{path}: no model manifest. Reinstall cites-guard, or point model.path at a "
            "directory written by 'cites-guard train'."
        ) from exc
    except ValidationError as exc:
        raise ModelError(f"{path}: invalid model manifest: {exc}") from exc


def file_sha256(path: Path) -> str:
    """Hex SHA-256 of a file, read in chunks."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def verify_model_dir(directory: Path, manifest: ModelManifest) -> None:
    """Check every model file against the manifest's SHA-256.

    Raises:
        ModelError: A file named by the manifest is missing.
        ModelIntegrityError: A file's checksum differs from the manifest.
    """
    for name in MODEL_FILES:
        if name not in manifest.files:
            raise ModelError(f"{directory}: manifest lists no checksum for {name}")
    for name, expected in manifest.files.items():
        path = directory / name
        if not path.exists():
            raise ModelError(f"{path}: model file missing")
        actual = file_sha256(path)
        if actual != expected:
            raise ModelIntegrityError(
                f"{path}: SHA-256 {actual[:16]}... does not match the manifest "
                f"({expected[:16]}...). The file was altered; reinstall or retrain."
            )


@contextlib.contextmanager
def _onnxruntime_errors(what: str) -> Iterator[None]:
    """Convert onnxruntime's exceptions into :class:`ModelError` at one point."""
    try:
        yield
    except ModelError:
        raise
    except Exception as exc:  # onnxruntime raises its own untyped pybind errors
        if type(exc).__module__.startswith("onnxruntime") or isinstance(exc, RuntimeError):
            raise ModelError(f"{what}: {exc}") from exc
        raise


def create_session(path: Path, *, intra_op_threads: int = 0) -> ort.InferenceSession:
    """Build the one ONNX Runtime session cites-guard uses (the reviewed place for options).

    CPU only (the product runs on marketplace CPUs; a GPU provider is never picked up by
    accident), all graph optimisations on, sequential execution (the graph is a short chain),
    intra-op threads as configured (0 = onnxruntime's default), no inter-op pool.
    """
    import onnxruntime as ort  # noqa: PLC0415 - heavy import kept off the import path

    available = ort.get_available_providers()
    if "CPUExecutionProvider" not in available:
        raise ModelError(f"onnxruntime has no CPU provider (available: {available})")
    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.intra_op_num_threads = intra_op_threads
    options.inter_op_num_threads = 1
    options.log_severity_level = 3
    with _onnxruntime_errors(f"{path}: cannot load the ONNX model"):
        return ort.InferenceSession(
            str(path), sess_options=options, providers=["CPUExecutionProvider"]
        )


def load_tokenizer(path: Path) -> Tokenizer:
    """Load ``tokenizer.json`` with the truncation and padding it was saved with.

    Raises:
        ModelError: The file is not a valid tokenizer, or it lacks a truncation setting
            (unbounded inputs would make latency unbounded).
    """
    from tokenizers import Tokenizer  # noqa: PLC0415

    try:
        tokenizer = Tokenizer.from_file(str(path))
    except Exception as exc:  # tokenizers raises a bare Exception on parse errors
        raise ModelError(f"{path}: cannot load the tokenizer: {exc}") from exc
    if tokenizer.truncation is None or tokenizer.padding is None:
        raise ModelError(f"{path}: the tokenizer must be saved with truncation and padding")
    return tokenizer


#: Texts per session run. The pooled tensors of 16 ads of 192 tokens (about 0.8 MB) stay in
#: a core's L2 cache; on the speed benchmark's ads the graph took 26-33 µs an ad in runs of
#: 8 to 24, 39 in runs of 64 and 45 in runs of 128.
ROWS_PER_RUN = 16

#: Occurrences of one word the model reads; more is keyword stuffing, which would otherwise
#: let a single repeated word dominate the pooled representation.
MAX_REPEATS = 3


def model_text(views: Mapping[str, NormalizedText]) -> str:
    """The model's input: the listing's normalised fields joined in field order.

    Each word is kept at most :data:`MAX_REPEATS` times across the listing.

    Example:
        >>> from cites_guard.normalize import normalize
        >>> model_text({"title": normalize("1v0ry"), "category": normalize("Antiques")})
        'ivory | antiques'
        >>> model_text({"title": normalize("grey sofa " * 5)})
        'grey sofa grey sofa grey sofa'
    """
    seen: dict[str, int] = {}
    fields = []
    for view in views.values():
        kept = []
        for word in view.text.split():
            count = seen.get(word, 0)
            if count < MAX_REPEATS:
                kept.append(word)
            seen[word] = count + 1
        if kept:
            fields.append(" ".join(kept))
    return FIELD_SEPARATOR.join(fields)


class ModelProbabilities(NamedTuple):
    """What the model says of one text."""

    risk: float
    """Calibrated probability that the ad offers a CITES specimen."""
    groups: dict[str, float]
    """Probability of each taxon group, should it be an offer."""
    appendix_one: float | None
    """Probability that the offered taxon is in Appendix I (``None``: older model)."""


class OnnxScorer:
    """Scores listings with an ONNX model directory (the bundled one by default).

    One scorer is safe to share across threads: onnxruntime sessions and ``tokenizers``
    encoders are both re-entrant. Worker processes each build their own from the path.
    """

    name = "model"

    def __init__(self, directory: Path | None = None, *, intra_op_threads: int = 0) -> None:
        """Verify and load the model in ``directory``.

        Raises:
            ModelError: Files missing or invalid.
            ModelIntegrityError: A checksum differs from the manifest.
        """
        self.directory = directory or bundled_model_dir()
        self.manifest = load_manifest(self.directory)
        verify_model_dir(self.directory, self.manifest)
        self._tokenizer = load_tokenizer(self.directory / "tokenizer.json")
        self._encoder = WordCachedEncoder(self._tokenizer)
        self._session = create_session(
            self.directory / "model.onnx", intra_op_threads=intra_op_threads
        )
        self._input_names = [i.name for i in self._session.get_inputs()]
        if list(self.manifest.inputs) != self._input_names:
            raise ModelError(
                f"{self.directory}: model inputs {self._input_names} differ from the "
                f"manifest's {list(self.manifest.inputs)}"
            )
        outputs = {o.name for o in self._session.get_outputs()}
        missing = [name for name in self.manifest.outputs if name not in outputs]
        if missing:
            raise ModelError(
                f"{self.directory}: the manifest names outputs {missing} that the model does "
                f"not have ({sorted(outputs)}); the files come from different builds"
            )
        widths = {o.name: o.shape[-1] for o in self._session.get_outputs() if o.shape}
        width = widths.get("group_logits")
        if isinstance(width, int) and width != len(self.manifest.groups):
            raise ModelError(
                f"{self.directory}: the model has {width} group outputs but the manifest names "
                f"{len(self.manifest.groups)} groups; the files come from different builds"
            )

    @property
    def version(self) -> str:
        """The model's version from its manifest."""
        return self.manifest.version

    @property
    def fusion(self) -> Fusion | None:
        """The fusion fitted with this model, if its manifest has one."""
        return self.manifest.fusion

    @property
    def groups(self) -> tuple[str, ...]:
        """Group labels, in the order of the group head."""
        return self.manifest.groups

    def logits(self, texts: Sequence[str]) -> tuple[npt.NDArray[np.float32], ...]:
        """Raw model outputs for texts, run :data:`ROWS_PER_RUN` at a time.

        Each run pads its texts to its own longest one.
        """
        import numpy as np  # noqa: PLC0415

        names = list(self.manifest.outputs)
        parts = []
        for start in range(0, max(len(texts), 1), ROWS_PER_RUN):  # no text: one empty run
            ids = self._encoder.encode(texts[start : start + ROWS_PER_RUN])
            with _onnxruntime_errors("model inference failed"):
                parts.append(self._session.run(names, {"input_ids": ids}))
        return tuple(
            np.concatenate([np.asarray(part[k], dtype=np.float32) for part in parts])
            for k in range(len(names))
        )

    def probabilities(self, texts: Sequence[str]) -> list[ModelProbabilities]:
        """Calibrated probability, group distribution and Appendix I probability per text."""
        if not texts:
            return []
        import numpy as np  # noqa: PLC0415

        logit, group_logits, *rest = self.logits(texts)
        # Models built before the Appendix I head have two outputs.
        appendix: list[float | None] = (
            [sigmoid(float(v)) for v in rest[0].reshape(-1).tolist()]
            if rest
            else [None] * len(texts)
        )
        calibration = self.manifest.calibration
        # Softmax over groups for the whole batch at once, in float64 like the scalar code.
        wide = group_logits.astype(np.float64)
        shifted = np.exp(wide - wide.max(axis=1, keepdims=True))
        distributions = (shifted / shifted.sum(axis=1, keepdims=True)).tolist()
        groups = self.groups
        return [
            ModelProbabilities(
                calibration.probability(float(row)),
                dict(zip(groups, distribution, strict=True)),
                appendix_one,
            )
            for row, distribution, appendix_one in zip(
                logit.reshape(-1).tolist(), distributions, appendix, strict=True
            )
        ]

    def score(self, batch: Sequence[Prepared]) -> list[Score]:
        """Score prepared listings with the model; empty listings score 0."""
        texts = [model_text(item.views) for item in batch]
        present = [i for i, t in enumerate(texts) if t]
        scores = [Score(0.0, {}, "no text") for _ in batch]
        for index, (risk, groups, appendix_one) in zip(
            present, self.probabilities([texts[i] for i in present]), strict=True
        ):
            detail = f"model {self.version}; top group {top_group(groups)}"
            scores[index] = Score(risk, groups, detail, appendix_one)
        return scores


def read_manifest_json(directory: Path) -> dict[str, Any]:
    """The raw manifest as a dict (for tools that print or rewrite it)."""
    data: dict[str, Any] = json.loads((directory / "manifest.json").read_text("utf-8"))
    return data
