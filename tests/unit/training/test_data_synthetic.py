"""The synthetic generators and the `Examples` container.

Besides shapes and determinism, each generator is checked for the structure
its docstring promises, with a hand-written rule over the words (no model):
if the rule can find the targets in the inputs, a model can learn them.
"""

from __future__ import annotations

import re
import time

import numpy as np
import pytest

from training.data import Examples
from training.models import generate
from training.models.headline import data as hl
from training.models.profiler import data as prof
from training.models.qa import data as sqa
from training.models.similarity import data as sim

pytestmark = pytest.mark.timeout(120)

SPEC = {  # model -> (text inputs, float inputs {name: dim}, heads {name: kind})
    "qa": (["text", "question"], {}, {"answer": "multiclass"}),
    "profiler": (["posts"], {}, {"age": "regression", "income": "multiclass", "gender": "binary"}),
    "similarity": (["left", "right"], {}, {"similarity": "binary"}),
    "headline": (["headline"], {"aux": 5}, {"main_output": "binary", "aux_output": "binary"}),
}
MODELS = sorted(SPEC)


def auc(y: np.ndarray, score: np.ndarray) -> float:
    """ROC AUC by the rank-sum formula, ties counted half."""
    y = np.asarray(y) >= 0.5
    pos, neg = score[y], score[~y]
    greater = (pos[:, None] > neg[None, :]).sum() + 0.5 * (pos[:, None] == neg[None, :]).sum()
    return float(greater / (len(pos) * len(neg)))


@pytest.mark.parametrize("model", MODELS)
def test_same_seed_same_examples_other_seed_others(model: str) -> None:
    a, b, c = generate(model, 200, seed=3), generate(model, 200, seed=3), generate(model, 200, 4)
    for name in a.inputs:
        assert np.array_equal(a.inputs[name], b.inputs[name])
        assert not np.array_equal(a.inputs[name], c.inputs[name])
    for head in a.targets:
        assert np.array_equal(a.targets[head], b.targets[head])
    assert a.description == {"source": "synthetic", "seed": 3, "examples": 200,
                             "generator": f"training.models.{model}.data.{model}"}


@pytest.mark.parametrize("model", MODELS)
def test_names_shapes_dtypes_and_labels(model: str) -> None:
    texts, floats, heads = SPEC[model]
    ex = generate(model, 300, seed=0)
    assert len(ex) == 300
    assert set(ex.inputs) == set(texts) | set(floats)
    for name in texts:
        arr = ex.inputs[name]
        assert arr.dtype == object and arr.shape == (300,)
        assert all(type(s) is str and s for s in arr)
    for name, dim in floats.items():
        assert ex.inputs[name].dtype == np.float32 and ex.inputs[name].shape == (300, dim)
    assert ex.kinds == heads
    assert set(ex.targets) == set(ex.labels) == set(heads)
    for head, kind in heads.items():
        y = ex.targets[head]
        assert y.shape == (300,)
        if kind == "multiclass":
            assert y.dtype == np.int32
            labels = ex.labels[head]
            assert labels and len(set(labels)) == len(labels)
            assert 0 <= y.min() and y.max() < len(labels)
            assert len(np.unique(y)) >= min(len(labels), 10)  # classes are all used
        else:
            assert y.dtype == np.float32
        if kind == "binary":
            assert set(np.unique(y)) == {0.0, 1.0}
            assert 0.3 < y.mean() < 0.7
    if model == "profiler":
        assert ex.labels == {"age": None, "income": ["low", "lower-middle", "upper-middle", "high"],
                             "gender": ["female", "male"]}
        assert 18 <= ex.targets["age"].min() and ex.targets["age"].max() <= 75


def test_unknown_model_and_bad_size_are_refused() -> None:
    with pytest.raises(ValueError, match="'bogus'; expected one of"):
        generate("bogus", 10)
    with pytest.raises(ValueError, match="positive"):
        generate("qa", 0)


@pytest.mark.parametrize("model", MODELS)
def test_generating_5000_examples_is_fast(model: str) -> None:
    start = time.perf_counter()
    generate(model, 5000, seed=1)
    # ~0.3 s each on an idle core; the bound leaves room for a busy CI machine
    assert time.perf_counter() - start < 6.0


def test_qa_answer_is_a_word_of_the_text_about_the_asked_person() -> None:
    ex = generate("qa", 500, seed=0)
    assert 20 <= len(ex.labels["answer"]) <= 50
    for text, question, y in zip(ex.inputs["text"], ex.inputs["question"],
                                 ex.targets["answer"], strict=True):
        answer = ex.labels["answer"][y]
        person = next(w for w in re.findall(r"[a-z]+", question) if w in sqa.NAMES)
        # the fact that answers the question names the person and the answer
        facts = [f for f in text.rstrip(".").split(". ") if re.search(rf"\b{person}\b", f)]
        assert any(re.search(rf"\b{answer}\b", f) for f in facts), (text, question, answer)


def test_profiler_posts_carry_gender_income_and_age() -> None:
    ex = generate("profiler", 600, seed=0)
    tokens = [p.split() for p in ex.inputs["posts"]]
    assert all(40 <= len(t) <= 200 for t in tokens)
    assert all(2 <= len(p.split("\n")) <= 6 for p in ex.inputs["posts"])

    def votes(pools: list[list[str]], words: list[str]) -> np.ndarray:
        return np.array([sum(w in pool for w in words) for pool in pools])

    gender = np.array([votes(prof.GENDER_WORDS, t).argmax() for t in tokens])
    assert np.mean(gender == ex.targets["gender"]) > 0.85
    income = np.array([votes(prof.INCOME_WORDS, t).argmax() for t in tokens])
    assert np.mean(income == ex.targets["income"]) > 0.7  # majority class: ~0.25
    centres = np.array([c for c, _ in prof.AGE_STAGES])
    guess = np.array([votes([w for _, w in prof.AGE_STAGES], t) @ centres
                      / votes([w for _, w in prof.AGE_STAGES], t).sum() for t in tokens])
    age = ex.targets["age"]
    assert np.mean(np.abs(guess - age)) < 0.6 * np.mean(np.abs(age - age.mean()))


def test_similarity_paraphrases_share_meaning_not_words() -> None:
    ex = generate("similarity", 600, seed=0)
    slots = {f: f"<{t}{i}>" for t, cs in sim.SLOTS.items() for i, c in enumerate(cs) for f in c}
    canon = {w: f"[{group}]" for group, words in sim.WORDS.items() for w in words} | slots
    vocab = {w for s in (*ex.inputs["left"], *ex.inputs["right"]) for w in s.split()}
    assert len(vocab) < 400

    def jaccard(a: set[str], b: set[str]) -> float:
        return len(a & b) / len(a | b)

    alternatives = "|".join(sorted(canon, key=len, reverse=True))  # multi-word forms first
    forms = re.compile(rf"\b({alternatives})\b")

    def meaning(s: str) -> set[str]:
        """The sentence's words with every synonym replaced by its group's name."""
        return set(forms.sub(lambda m: canon[m.group(1)], s).split())

    pairs = list(zip(ex.inputs["left"], ex.inputs["right"], strict=True))
    y = ex.targets["similarity"]
    surface = np.array([jaccard(set(a.split()), set(b.split())) for a, b in pairs])
    sense = np.array([jaccard(meaning(a), meaning(b)) for a, b in pairs])
    same_slots = np.array([{w for w in meaning(a) if w[0] == "<"} == {w for w in meaning(b)
                           if w[0] == "<"} for a, b in pairs])
    assert auc(y, surface) < 0.85  # shared words alone do not tell paraphrases
    assert same_slots[y == 1].all() and same_slots[y == 0].mean() < 0.1
    assert auc(y, sense + same_slots) > 0.95  # synonyms + slot identity do
    assert np.mean(sense[y == 0] > 0.5) > 0.1  # hard negatives: near-identical wording


def test_headline_targets_follow_the_words_and_aux() -> None:
    ex = generate("headline", 2000, seed=0)
    score = np.array([sum(w in hl.CATCHY for w in h.split()) - sum(w in hl.DULL for w in h.split())
                      for h in ex.inputs["headline"]], dtype=np.float32)
    aux = ex.inputs["aux"]
    main, side = ex.targets["main_output"], ex.targets["aux_output"]
    assert auc(side, score) > 0.9
    assert auc(main, hl.HEADLINE_WEIGHT * score + aux @ hl.AUX_WEIGHTS) > 0.95
    assert auc(main, score) < 0.9 and auc(main, aux @ hl.AUX_WEIGHTS) < 0.9  # needs both
    assert abs(auc(main, aux[:, 4]) - 0.5) < 0.05  # a noise feature


# ---------------------------------------------------------------- Examples


def numbered(n: int) -> Examples:
    return Examples(
        inputs={"text": np.array([f"t{i}" + " w" * (i % 4) for i in range(n)], dtype=object),
                "aux": np.arange(n * 2, dtype=np.float32).reshape(n, 2)},
        targets={"y": np.arange(n) % 3, "p": (np.arange(n) % 2).astype(np.float32)},
        labels={"y": ["a", "b", "c"]},
        description={"source": "test"},
    )


def test_examples_normalizes_types_and_infers_kinds() -> None:
    ex = Examples(inputs={"t": np.array(["a", "b"]), "f": [[1, 2], [3, 4]]},
                  targets={"c": [0, 1], "b": [0.0, 1.0], "r": [3.5, 40.0]},
                  labels={"c": ["x", "y"]}, description={})
    assert ex.inputs["t"].dtype == object and ex.inputs["f"].dtype == np.float32
    assert ex.targets["c"].dtype == np.int32 and ex.targets["r"].dtype == np.float32
    assert ex.kinds == {"c": "multiclass", "b": "binary", "r": "regression"}
    assert ex.labels == {"c": ["x", "y"], "b": None, "r": None}


@pytest.mark.parametrize("kwargs, message", [
    ({"inputs": {"t": np.array(["a", "b"])}, "targets": {"y": [0.0]}}, "same length"),
    ({"inputs": {"t": np.array([["a"]])}, "targets": {"y": [0.0]}}, "must be 1-D"),
    ({"inputs": {"f": np.zeros(2)}, "targets": {"y": [0.0, 1.0]}}, r"2-D \[n, d\]"),
    ({"inputs": {"t": np.array(["a"])}, "targets": {"y": [3]}, "labels": {"y": ["a"]}},
     "index its 1 labels"),
    ({"inputs": {"t": np.array(["a"])}, "targets": {"y": [0]}, "labels": {}}, "needs labels"),
])
def test_examples_rejects_inconsistent_arrays(kwargs: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        Examples(**{"labels": {}, "description": {}, **kwargs})


def test_split_is_disjoint_complete_sized_and_seeded() -> None:
    ex = numbered(100)
    train, val, test = ex.split(validation=0.15, test=0.15, seed=0)
    assert (len(train), len(val), len(test)) == (70, 15, 15)
    ids = [set(part.inputs["text"]) for part in (train, val, test)]
    assert not (ids[0] & ids[1] or ids[0] & ids[2] or ids[1] & ids[2])
    assert ids[0] | ids[1] | ids[2] == set(ex.inputs["text"])
    # rows stay aligned across inputs and targets
    for part in (train, val, test):
        i = np.array([int(s.split()[0][1:]) for s in part.inputs["text"]])
        assert np.array_equal(part.inputs["aux"][:, 0], 2 * i)
        assert np.array_equal(part.targets["y"], i % 3)
        assert part.labels == ex.labels and part.kinds == ex.kinds
    again = ex.split(0.15, 0.15, seed=0)[1]
    other = ex.split(0.15, 0.15, seed=1)[1]
    assert list(again.inputs["text"]) == list(val.inputs["text"])
    assert list(other.inputs["text"]) != list(val.inputs["text"])
    with pytest.raises(ValueError):
        ex.split(0.6, 0.5)


def test_baseline_and_summary() -> None:
    ex = Examples(inputs={"t": np.array(["a"] * 4)},
                  targets={"r": [1.0, 2.0, 3.0, 6.0], "c": [1, 1, 0, 2], "b": [1.0, 1.0, 1.0, 0.0]},
                  labels={"c": ["x", "y", "z"]}, description={}, kinds={"b": "binary"})
    assert ex.baseline() == {"r_mae": 1.5, "c_accuracy": 0.5, "b_accuracy": 0.75}
    assert ex.summary()["heads"]["c"] == {"x": 1, "y": 2, "z": 1}


def test_to_dataset_batches_pads_and_keeps_order() -> None:
    import tensorflow as tf

    ex = numbered(10)

    def vectorize(x: dict[str, tf.Tensor]) -> dict[str, tf.Tensor]:
        words = tf.strings.split(x["text"])
        return {"text": tf.strings.to_hash_bucket_fast(words, 50) + 1, "aux": x["aux"]}

    batches = list(ex.to_dataset(4, shuffle=False, vectorize=vectorize))
    assert [len(b[0]["aux"]) for b in batches] == [4, 4, 2]
    x, y = batches[0]
    assert set(x) == {"text", "aux"} and set(y) == {"y", "p"}
    lengths = [1 + i % 4 for i in range(4)]  # "t0", "t1 w", "t2 w w", ...
    assert x["text"].shape == (4, max(lengths)) and x["text"].dtype == tf.int64
    for row, n in zip(x["text"].numpy(), lengths, strict=True):
        assert (row[:n] > 0).all() and (row[n:] == 0).all()  # 0 pads, as TextVectorization
    assert np.array_equal(x["aux"].numpy(), ex.inputs["aux"][:4])
    assert y["y"].dtype == tf.int32 and np.array_equal(y["y"].numpy(), [0, 1, 2, 0])
    assert y["p"].dtype == tf.float32

    raw = next(iter(ex.to_dataset(10, shuffle=True, seed=1)))[0]["text"].numpy()
    texts = [s.decode() for s in raw]
    assert sorted(texts) == sorted(ex.inputs["text"]) and texts != list(ex.inputs["text"])
    again = next(iter(ex.to_dataset(10, shuffle=True, seed=1)))[0]["text"].numpy()
    assert list(again) == list(raw)

    repeated = ex.to_dataset(4, shuffle=True, repeat=True).take(6)
    assert sum(len(b[1]["y"]) for b in repeated) == 24  # more than one pass
