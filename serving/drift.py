"""Per-head drift: what each head predicts now, against what it predicted on the validation
split when it was exported, as a population stability index (PSI) per head and per input.

The model card's `drift` section (written at export, training/drift_stats.py) holds, for
each head, the counts of its predictions on the validation split per bin: the predicted
class of a multiclass head (bins = its labels), fixed-edge histograms for binary heads
(probability edges 0.1 .. 0.9) and regression heads (the deciles of the validation
predictions, so each bin held a tenth); and, for each text input, histograms of its token
count (deciles) and of its out-of-vocabulary rate (fixed edges). The same functions bin
both sides (`Series.bins_of`, `text_statistics`), so training and serving count alike.

The gateway keeps, per worker, the last `drift_window` predictions of each model version and
head (and the input statistics of one example in INPUT_EVERY: tokenizing text is the one
per-example cost) as counts per bin, updated once per model call (`DriftMonitor.record`, a
few microseconds of list arithmetic), and publishes the changed counts at most every
PUBLISH_S from a thread of its own (a gauge write costs an mmap update under a lock, too
much for every call). They are exported as gauges in `livesum` mode, so the scrape sums
the windows of every live worker into one pooled window (`multihead_drift_head_window`,
`multihead_drift_input_window`), beside the card's proportions
(`multihead_drift_*_training_ratio`, `livemax`: every worker sets the same values). The
PSI is computed at scrape time from those pooled counts (`psi_families`), never per worker:
PSI is not additive, and averaging per-worker PSIs over-states drift (each worker's sample
is smaller, and a small sample's PSI is biased upwards). Both proportions are smoothed
with half a count per bin (`SMOOTHING`), so an empty bin does not make PSI infinite;
under MIN_COUNT pooled observations no PSI is reported.

PSI = sum over bins of (live - training) * ln(live / training). Conventionally under 0.1
is stable and over 0.25 a shift (DRIFT_THRESHOLD, the alert rule's threshold).
"""

from __future__ import annotations

import logging
import math
import re
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from serving.metrics import Metrics
    from serving.types import ModelVersion

log = logging.getLogger(__name__)

# The punctuation TextVectorization's "lower_and_strip_punctuation" strips
# (keras/src/layers/preprocessing/text_vectorization.py); training/text.py uses the same.
STRIP_PUNCTUATION = re.compile(r'[!"#$%&()\*\+,-\./:;<=>?@\[\\\]^_`{|}~\']')
BINARY_EDGES = (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9)
OOV_EDGES = (0.02, 0.05, 0.1, 0.2, 0.4)
QUANTILE_BINS = 10
SMOOTHING = 0.5
MIN_COUNT = 100
DRIFT_THRESHOLD = 0.25
INPUT_EVERY = 8
PUBLISH_S = 1.0
STATISTICS = ("tokens", "oov_rate")


# -- binning (shared with training/drift_stats.py) ----------------------------------------


def tokens(text: Any) -> list[str]:
    """The model's own tokens of a text: lower-cased, punctuation stripped, whitespace split."""
    if isinstance(text, bytes):
        text = text.decode("utf-8", "replace")
    return STRIP_PUNCTUATION.sub("", str(text).lower()).split()


def text_statistics(texts: Iterable[Any], vocabulary: frozenset[str] | None
                    ) -> dict[str, np.ndarray]:
    """Per text: its token count and (with a vocabulary) its out-of-vocabulary rate."""
    counts, oov = [], []
    for text in texts:
        words = tokens(text)
        counts.append(len(words))
        if vocabulary is not None:
            known = sum(map(vocabulary.__contains__, words))  # a C loop: texts are long
            oov.append((len(words) - known) / len(words) if words else 0.0)
    out = {"tokens": np.asarray(counts, dtype=np.float64)}
    if vocabulary is not None:
        out["oov_rate"] = np.asarray(oov, dtype=np.float64)
    return out


def quantile_edges(values: np.ndarray, bins: int = QUANTILE_BINS) -> list[float]:
    """Inner edges that split `values` into `bins` bins of equal mass (duplicates merged)."""
    qs = np.quantile(np.asarray(values, dtype=np.float64), np.arange(1, bins) / bins)
    return sorted({round(float(q), 6) for q in qs})


def bin_labels(edges: Sequence[float]) -> tuple[str, ...]:
    bounds = ["-inf", *(f"{e:g}" for e in edges), "+inf"]
    return tuple(f"[{lo},{hi})" for lo, hi in zip(bounds, bounds[1:], strict=False))


@dataclass(frozen=True)
class Series:
    """One head's (or one input statistic's) bins and training counts."""

    bins: tuple[str, ...]                  # label of each bin
    training: tuple[float, ...]            # validation-split counts per bin
    edges: tuple[float, ...] | None = None  # None: the bins are class labels (argmax)

    def bins_of(self, values: np.ndarray) -> np.ndarray:
        values = np.asarray(values)
        if self.edges is None:  # class probabilities [n, k] (or [n] for two classes)
            if values.ndim >= 2:
                return np.argmax(values.reshape(values.shape[0], -1), axis=1)
            return (values.ravel() >= 0.5).astype(np.int64)
        return np.searchsorted(np.asarray(self.edges), values.ravel().astype(np.float64),
                               side="right")

    def expected(self) -> np.ndarray:
        return proportions(np.asarray(self.training, dtype=np.float64))

    @classmethod
    def from_json(cls, doc: Any) -> Series | None:
        try:
            counts = tuple(float(c) for c in doc["counts"])
            if "labels" in doc:
                bins, edges = tuple(str(x) for x in doc["labels"]), None
            else:
                edges = tuple(float(e) for e in doc["edges"])
                bins = bin_labels(edges)
        except (KeyError, TypeError, ValueError):
            return None
        return cls(bins, counts, edges) if len(bins) == len(counts) and counts else None


def proportions(counts: np.ndarray) -> np.ndarray:
    counts = np.asarray(counts, dtype=np.float64) + SMOOTHING
    return counts / counts.sum()


def psi(live_counts: np.ndarray, expected: np.ndarray) -> float:
    live = proportions(live_counts)
    return float(np.sum((live - expected) * np.log(live / expected)))


@dataclass(frozen=True)
class Profile:
    """The drift section of one version's card: head -> series, (input, statistic) ->
    series."""

    heads: Mapping[str, Series] = field(default_factory=dict)
    inputs: Mapping[tuple[str, str], Series] = field(default_factory=dict)

    @classmethod
    def from_card(cls, raw: Mapping[str, Any] | None) -> Profile | None:
        doc = (raw or {}).get("drift")
        if not isinstance(doc, dict):
            return None
        heads = {name: s for name, d in (doc.get("heads") or {}).items()
                 if (s := Series.from_json(d)) is not None}
        inputs = {(name, stat): s for name, stats in (doc.get("inputs") or {}).items()
                  if isinstance(stats, dict)
                  for stat, d in stats.items() if stat in STATISTICS
                  and (s := Series.from_json(d)) is not None}
        return cls(heads, inputs) if heads or inputs else None


# -- the live windows (per worker) --------------------------------------------------------


class Window:
    """The bins of the last `size` observations, as counts per bin (plain lists: a model
    call adds a handful, where numpy's per-call overhead would dominate)."""

    def __init__(self, n_bins: int, size: int) -> None:
        self.ring = [-1] * size
        self.pos = 0
        self.counts = [0] * n_bins

    def add(self, bins: Iterable[int]) -> set[int]:
        """Add observations; returns the bins whose count changed."""
        ring, counts, pos, size = self.ring, self.counts, self.pos, len(self.ring)
        changed = set()
        for b in list(bins)[-size:]:
            old = ring[pos]
            if old >= 0:
                counts[old] -= 1
                changed.add(old)
            ring[pos] = b
            counts[b] += 1
            changed.add(b)
            pos = pos + 1 if pos + 1 < size else 0
        self.pos = pos
        return changed


@dataclass
class _Version:
    profile: Profile
    vocabulary: frozenset[str] | None
    windows: dict[Any, Window] = field(default_factory=dict)
    seen: int = 0   # text examples so far (one in INPUT_EVERY is tokenized)


class DriftMonitor:
    """Feeds the drift gauges of one worker: windows updated once per model call, the
    changed counts published every PUBLISH_S by a thread started with the first call."""

    def __init__(self, metrics: Metrics, window: int,
                 vocabulary_of: Callable[[ModelVersion], frozenset[str] | None]) -> None:
        self._metrics = metrics
        self._window = window
        self._vocabulary_of = vocabulary_of
        self._versions: dict[tuple[str, int], _Version | None] = {}
        self._lock = threading.Lock()  # batches of one version may run at once
        self._flushing = threading.Lock()
        self._dirty: dict[tuple[Any, ...], Window] = {}  # gauge labels (less bin) -> window
        self._published: dict[tuple[Any, ...], list[int | None]] = {}  # flusher's own
        self._publisher: threading.Thread | None = None
        self._stopping = threading.Event()

    def record(self, mv: ModelVersion, outputs: Mapping[str, np.ndarray],
               inputs: Mapping[str, np.ndarray]) -> None:
        if self._window <= 0:
            return
        state = self._state(mv)
        if state is None:
            return
        version = str(mv.version)
        binned = [((mv.name, version, head), series, series.bins_of(outputs[head]).tolist())
                  for head, series in state.profile.heads.items() if head in outputs]
        for name in {name for name, _ in state.profile.inputs if name in inputs}:
            column = np.asarray(inputs[name]).ravel()
            if column.dtype.kind not in "OSU":  # token ids (the `ids` signature)
                continue
            first = -state.seen % INPUT_EVERY
            state.seen += len(column)
            sample = column[first::INPUT_EVERY]
            if not len(sample):
                continue
            for stat, values in text_statistics(sample, state.vocabulary).items():
                series = state.profile.inputs.get((name, stat))
                if series is not None:
                    binned.append(((mv.name, version, name, stat), series,
                                   series.bins_of(values).tolist()))
        with self._lock:
            for labels, series, bins in binned:
                window = state.windows.get(labels)
                if window is None:
                    window = state.windows[labels] = Window(len(series.bins), self._window)
                window.add(bins)
                self._dirty[labels] = window
        if self._publisher is None:
            self._start_publisher()

    def _state(self, mv: ModelVersion) -> _Version | None:
        key = (mv.name, mv.version)
        if key in self._versions:
            return self._versions[key]
        with self._lock:  # once per version, whichever call comes first
            if key in self._versions:
                return self._versions[key]
            profile = Profile.from_card(mv.card.raw if mv.card is not None else None)
            state = None
            if profile is not None:
                vocabulary = self._vocabulary_of(mv) if profile.inputs else None
                state = _Version(profile, vocabulary)
                self._publish_training(mv.name, str(mv.version), profile)
            self._versions[key] = state
            return state

    def _publish_training(self, model: str, version: str, profile: Profile) -> None:
        m = self._metrics
        for head, series in profile.heads.items():
            for label, p in zip(series.bins, series.expected(), strict=True):
                m.drift_head_training.labels(model, version, head, label).set(p)
        for (name, stat), series in profile.inputs.items():
            for label, p in zip(series.bins, series.expected(), strict=True):
                m.drift_input_training.labels(model, version, name, stat, label).set(p)

    def flush(self) -> None:
        """Publish the windows changed since the last flush (the publisher's job; tests
        and `stop` call it to publish at once)."""
        with self._flushing:
            with self._lock:
                dirty, self._dirty = self._dirty, {}
                snapshot = [(labels, list(window.counts)) for labels, window in dirty.items()]
            self._publish(snapshot)

    def _publish(self, snapshot: list[tuple[tuple[Any, ...], list[int]]]) -> None:
        m = self._metrics
        for labels, counts in snapshot:
            state = self._versions.get((labels[0], int(labels[1])))
            if state is None:
                continue
            profile = state.profile
            if len(labels) == 3:
                gauge, series = m.drift_head_window, profile.heads[labels[2]]
            else:
                gauge, series = m.drift_input_window, profile.inputs[(labels[2], labels[3])]
            published = self._published.setdefault(labels, [None] * len(counts))
            for i, count in enumerate(counts):
                if published[i] != count:
                    m.child(gauge, *labels, series.bins[i]).set(count)
                    published[i] = count

    def _start_publisher(self) -> None:
        with self._lock:
            if self._publisher is not None:
                return
            self._publisher = threading.Thread(target=self._publish_loop,
                                               name="drift-publisher", daemon=True)
        self._publisher.start()

    def _publish_loop(self) -> None:
        while not self._stopping.wait(PUBLISH_S):
            try:
                self.flush()
            except Exception:  # noqa: BLE001 - the publisher must survive anything
                log.exception("publishing the drift windows failed")

    def stop(self) -> None:
        self._stopping.set()
        self.flush()


# -- PSI at scrape time, from the pooled windows ------------------------------------------

HEAD_LABELS = ("model", "version", "head")
INPUT_LABELS = ("model", "version", "input", "statistic")


def pooled(families: Iterable[Any]) -> dict[str, dict[tuple[str, ...], dict[str, float]]]:
    """family name -> series labels (without `bin`) -> bin -> value, from collected
    families (the scrape's: every worker merged in multiprocess mode)."""
    wanted = {f"multihead_drift_{k}_{s}" for k in ("head", "input")
              for s in ("window", "training_ratio")}
    out: dict[str, dict[tuple[str, ...], dict[str, float]]] = {w: {} for w in wanted}
    for family in families:
        if family.name not in wanted:
            continue
        keys = HEAD_LABELS if "_head_" in family.name else INPUT_LABELS
        for sample in family.samples:
            series = tuple(sample.labels.get(k, "") for k in keys)
            out[family.name].setdefault(series, {})[sample.labels.get("bin", "")] = \
                sample.value
    return out


def report(families: Iterable[Any]) -> dict[str, list[dict[str, Any]]]:
    """Every series with its bins, training and live proportions, pooled count and PSI
    (None under MIN_COUNT): what the PSI gauges and the playground show."""
    data = pooled(families)
    out: dict[str, list[dict[str, Any]]] = {"heads": [], "inputs": []}
    for kind, keys in (("head", HEAD_LABELS), ("input", INPUT_LABELS)):
        live = data[f"multihead_drift_{kind}_window"]
        for series, training in sorted(data[f"multihead_drift_{kind}_training_ratio"].items()):
            bins = list(training)
            expected = np.asarray([training[b] for b in bins])
            counts = np.asarray([live.get(series, {}).get(b, 0.0) for b in bins])
            total = float(counts.sum())
            value = psi(counts, expected / expected.sum()) if total >= MIN_COUNT else None
            out[kind + "s"].append({
                **dict(zip(keys, series, strict=True)), "bins": bins,
                "training": expected.tolist(),
                "live": (counts / total).tolist() if total else [0.0] * len(bins),
                "count": int(total), "psi": value})
    return out


def psi_families(families: Iterable[Any]) -> list[Any]:
    """`multihead_drift_head_psi` and `multihead_drift_input_psi` gauges."""
    from prometheus_client.core import GaugeMetricFamily

    rows = report(families)
    heads = GaugeMetricFamily("multihead_drift_head_psi", "Population stability index of a "
                              "head's live predictions (every worker's window pooled) against "
                              "its validation-split distribution in the model card.",
                              labels=list(HEAD_LABELS))
    inputs = GaugeMetricFamily("multihead_drift_input_psi", "Population stability index of "
                               "an input statistic (tokens, oov_rate) against the model card.",
                               labels=list(INPUT_LABELS))
    for family, kind, keys in ((heads, "heads", HEAD_LABELS), (inputs, "inputs", INPUT_LABELS)):
        for row in rows[kind]:
            if row["psi"] is not None and math.isfinite(row["psi"]):
                family.add_metric([row[k] for k in keys], row["psi"])
    return [heads, inputs]
