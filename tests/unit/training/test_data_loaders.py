"""`load_file`: each format read from a file the test writes, and broken files
rejected with `<path>:<line>:` and the field in the message."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from training.data import DataFileError
from training.models import load_file

pytestmark = pytest.mark.timeout(60)


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def jsonl(*records: object) -> str:
    return "".join(json.dumps(r) + "\n" for r in records)


def test_quora_csv_with_extra_columns_and_quoted_fields(tmp_path: Path) -> None:
    path = write(tmp_path, "quora.csv", (
        "id,qid1,qid2,question1,question2,is_duplicate\n"
        '0,1,2,"How do I learn Python, fast?",How can I learn Python quickly?,1\n'
        '1,3,4,"What is ""AI""?","Where is\nParis?",0\n'
    ))
    ex = load_file("similarity", path)
    assert list(ex.inputs["left"]) == ["How do I learn Python, fast?", 'What is "AI"?']
    assert list(ex.inputs["right"]) == ["How can I learn Python quickly?", "Where is\nParis?"]
    assert ex.targets["similarity"].dtype == np.float32
    assert ex.targets["similarity"].tolist() == [1.0, 0.0]
    assert ex.labels == {"similarity": None} and ex.kinds == {"similarity": "binary"}
    assert ex.description == {"source": "file", "path": str(path), "format": "quora",
                              "examples": 2}


def test_quora_tsv_as_published(tmp_path: Path) -> None:
    path = write(tmp_path, "quora_duplicate_questions.tsv", (
        "id\tqid1\tqid2\tquestion1\tquestion2\tis_duplicate\n"
        "0\t1\t2\tWhat is the step by step guide?\tWhat is the guide?\t0\n"
        "\n"
        "1\t3\t4\tWhy am I sad?\tWhy do I feel sad?\t1\n"
    ))
    ex = load_file("similarity", path)
    assert ex.targets["similarity"].tolist() == [0.0, 1.0]
    assert ex.inputs["left"][1] == "Why am I sad?"


def test_stsb_tsv_scores_become_probabilities_and_quotes_stay(tmp_path: Path) -> None:
    # GLUE's STS-B layout, with a sentence holding an unbalanced quote
    path = write(tmp_path, "sts-dev.tsv", (
        "index\tgenre\tfilename\tyear\told_index\tsource1\tsource2\tsentence1\tsentence2\tscore\n"
        "0\tmain-captions\tMSRvid\t2012test\t0001\tnone\tnone\t"
        "A man plays.\tA man is playing.\t5.000\n"
        '1\tmain-news\tx\t2012\t2\tnone\tnone\t"Quoted start of a sentence\tAnother one\t1.5\n'
    ))
    ex = load_file("similarity", path)
    assert ex.targets["similarity"].tolist() == pytest.approx([1.0, 0.3])
    assert ex.inputs["left"][1] == '"Quoted start of a sentence'
    assert ex.description["format"] == "stsb"


def test_profiler_jsonl(tmp_path: Path) -> None:
    path = write(tmp_path, "authors.jsonl", jsonl(
        {"posts": ["first post", "second post"], "age": 31, "income": "upper-middle",
         "gender": "female", "id": "ignored"},
        {"posts": ["only one"], "age": 62.5, "income": 0, "gender": 1},
    ) + "\n")
    ex = load_file("profiler", path)
    assert list(ex.inputs["posts"]) == ["first post\nsecond post", "only one"]
    assert ex.targets["age"].tolist() == [31.0, 62.5] and ex.targets["age"].dtype == np.float32
    assert ex.targets["income"].tolist() == [2, 0] and ex.targets["income"].dtype == np.int32
    assert ex.targets["gender"].tolist() == [0.0, 1.0]
    assert ex.labels["income"] == ["low", "lower-middle", "upper-middle", "high"]
    assert ex.labels["gender"] == ["female", "male"]
    assert ex.kinds == {"age": "regression", "income": "multiclass", "gender": "binary"}


def test_qa_jsonl_labels_are_the_sorted_answers(tmp_path: Path) -> None:
    path = write(tmp_path, "qa.jsonl", jsonl(
        {"text": "anna's dog is called rex.", "question": "what is anna's dog called?",
         "answer": "rex"},
        {"text": "ben lives in oslo.", "question": "where does ben live?", "answer": "oslo"},
        {"text": "carl's dog is rex.", "question": "what is carl's dog called?", "answer": "rex"},
    ))
    ex = load_file("qa", path)
    assert ex.labels == {"answer": ["oslo", "rex"]}
    assert ex.targets["answer"].tolist() == [1, 0, 1]
    assert ex.inputs["question"][1] == "where does ben live?"


def test_headline_jsonl(tmp_path: Path) -> None:
    path = write(tmp_path, "headlines.ndjson", jsonl(
        {"headline": "shocking truth revealed", "aux": [0.5, -1, 2, 0, 1e-3],
         "main_output": 1, "aux_output": 0},
        {"headline": "committee minutes", "aux": [0, 0, 0, 0, 0],
         "main_output": False, "aux_output": 1.0},
    ))
    ex = load_file("headline", path)
    assert ex.inputs["aux"].dtype == np.float32 and ex.inputs["aux"].shape == (2, 5)
    assert ex.inputs["aux"][0].tolist() == pytest.approx([0.5, -1, 2, 0, 1e-3])
    assert ex.targets["main_output"].tolist() == [1.0, 0.0]
    assert ex.targets["aux_output"].tolist() == [0.0, 1.0]


def test_loaded_examples_split_and_train_like_synthetic_ones(tmp_path: Path) -> None:
    rows = "".join(f"q{i},r{i},{i % 2}\n" for i in range(20))
    path = write(tmp_path, "p.csv", "question1,question2,is_duplicate\n" + rows)
    ex = load_file("similarity", path)
    train, val, test = ex.split(0.2, 0.2, seed=0)
    assert (len(train), len(val), len(test)) == (12, 4, 4)


PROFILER_OK = {"posts": ["a post"], "age": 30, "income": "low", "gender": "male"}
HEADLINE_OK = {"headline": "h", "aux": [0, 0, 0, 0, 0], "main_output": 1, "aux_output": 0}
QA_OK = {"text": "t", "question": "q", "answer": "a"}
QUORA_HEADER = "id,qid1,qid2,question1,question2,is_duplicate\n"
STSB_HEADER = "sentence1\tsentence2\tscore\n"

BROKEN = [  # (model, file name, content, line, words the message must hold)
    ("profiler", "a.jsonl", "", 1, ["no examples", "posts, age, income, gender"]),
    ("profiler", "a.jsonl", "\n  \n", 1, ["no examples"]),
    ("profiler", "a.jsonl", jsonl(PROFILER_OK) + '{"posts": ["x"], "age": 3', 2, ["invalid JSON"]),
    ("profiler", "a.jsonl", jsonl(PROFILER_OK, ["not", "an", "object"]), 2, ["JSON object"]),
    ("profiler", "a.jsonl", jsonl(PROFILER_OK, {**PROFILER_OK, "age": "abc"}), 2,
     ["field 'age' must be a number, got 'abc'"]),
    ("profiler", "a.jsonl", jsonl({**PROFILER_OK, "age": True}), 1, ["field 'age'", "number"]),
    ("profiler", "a.jsonl", jsonl({**PROFILER_OK, "age": -4}), 1, ["field 'age'", "from 0 to"]),
    ("profiler", "a.jsonl", '{"posts": ["x"], "age": NaN, "income": 0, "gender": 0}\n', 1,
     ["field 'age'", "number"]),
    ("profiler", "a.jsonl", jsonl({k: v for k, v in PROFILER_OK.items() if k != "gender"}), 1,
     ["field 'gender' is missing"]),
    ("profiler", "a.jsonl", jsonl({**PROFILER_OK, "gender": "other"}), 1,
     ["field 'gender'", "'female', 'male', 0 or 1", "'other'"]),
    ("profiler", "a.jsonl", jsonl({**PROFILER_OK, "income": "rich"}), 1,
     ["field 'income'", "lower-middle", "'rich'"]),
    ("profiler", "a.jsonl", jsonl({**PROFILER_OK, "income": 4}), 1, ["field 'income'", "0-3"]),
    ("profiler", "a.jsonl", jsonl({**PROFILER_OK, "posts": []}), 1,
     ["field 'posts'", "non-empty list of strings"]),
    ("profiler", "a.jsonl", jsonl({**PROFILER_OK, "posts": ["ok", 3]}), 1, ["field 'posts'"]),
    ("profiler", "a.json", jsonl(PROFILER_OK), None, [".jsonl or .ndjson", "'.json'"]),
    ("qa", "q.jsonl", jsonl(QA_OK, {**QA_OK, "text": 5}), 2,
     ["field 'text' must be a string, got 5"]),
    ("qa", "q.jsonl", jsonl({"text": "t", "answer": "a"}), 1, ["field 'question' is missing"]),
    ("qa", "q.jsonl", jsonl({**QA_OK, "answer": " "}), 1, ["field 'answer'", "non-empty"]),
    ("headline", "h.jsonl", jsonl({**HEADLINE_OK, "aux": [1, 2, 3]}), 1,
     ["field 'aux' must be a list of 5 numbers", "[1, 2, 3]"]),
    ("headline", "h.jsonl", jsonl({**HEADLINE_OK, "aux": [1, 2, 3, 4, "5"]}), 1,
     ["field 'aux' must be a number", "'5'"]),
    ("headline", "h.jsonl", jsonl(HEADLINE_OK, HEADLINE_OK, {**HEADLINE_OK, "main_output": 2}), 3,
     ["field 'main_output' must be 0 or 1, got 2"]),
    ("headline", "h.jsonl", jsonl({**HEADLINE_OK, "aux_output": "yes"}), 1,
     ["field 'aux_output'"]),
    ("similarity", "s.csv", "", 1, ["empty", "question1, question2, is_duplicate"]),
    ("similarity", "s.csv", "left,right,label\na,b,1\n", 1,
     ["sentence1, sentence2, score", "['left', 'right', 'label']"]),
    ("similarity", "s.csv", QUORA_HEADER, 2, ["no examples"]),
    ("similarity", "s.csv", QUORA_HEADER + "0,1,2,a,b,1\n1,3,4,c,d,yes\n", 3,
     ["field 'is_duplicate' must be 0 or 1, got 'yes'"]),
    ("similarity", "s.csv", QUORA_HEADER + "0,1,2,a,b,1\n1,3,4,c\n", 3,
     ["field 'question2' is missing"]),
    ("similarity", "s.csv", QUORA_HEADER + '0,1,2,"a\nb",c,1\n1,3,4,c,d,0.5\n', 4,
     ["field 'is_duplicate'"]),
    ("similarity", "s.tsv", STSB_HEADER + "a\tb\t5.1\n", 2,
     ["field 'score' must be a number from 0 to 5, got '5.1'"]),
    ("similarity", "s.tsv", STSB_HEADER + "a\tb\t4\nc\td\tnan\n", 3, ["field 'score'"]),
    ("similarity", "s.tsv", STSB_HEADER + "a\tb\n", 2, ["field 'score' is missing"]),
    ("similarity", "s.jsonl", "{}", None, [".csv or .tsv"]),
]


@pytest.mark.parametrize(("model", "name", "content", "line", "words"), BROKEN,
                         ids=[f"{b[0]}-{i}" for i, b in enumerate(BROKEN)])
def test_broken_files_name_the_line_and_field(
    tmp_path: Path, model: str, name: str, content: str, line: int | None, words: list[str]
) -> None:
    path = write(tmp_path, name, content)
    with pytest.raises(DataFileError) as info:
        load_file(model, path)
    message = str(info.value)
    prefix = f"{path}:{line}: " if line is not None else f"{path}: "
    assert message.startswith(prefix), message
    assert info.value.line == line and info.value.path == str(path)
    for word in words:
        assert word in message, message
    assert isinstance(info.value, ValueError)


def test_non_utf8_file_is_a_data_file_error(tmp_path: Path) -> None:
    path = tmp_path / "a.jsonl"
    path.write_bytes(json.dumps(PROFILER_OK).encode() + b"\n" + b'{"posts": ["caf\xe9"]}\n')
    with pytest.raises(DataFileError, match=r"a\.jsonl:2: .*UTF-8"):
        load_file("profiler", path)


def test_non_utf8_csv_names_the_line(tmp_path: Path) -> None:
    path = tmp_path / "s.csv"
    path.write_bytes(QUORA_HEADER.encode() + b"0,1,2,a,b,1\n" * 3000 + b"1,3,4,caf\xe9,d,0\n")
    with pytest.raises(DataFileError, match=r"s\.csv:3002: .*UTF-8"):
        load_file("similarity", path)


def test_byte_order_mark_is_ignored(tmp_path: Path) -> None:
    path = tmp_path / "s.csv"
    path.write_bytes(b"\xef\xbb\xbf" + QUORA_HEADER.encode() + b"0,1,2,a,b,1\n")
    assert load_file("similarity", path).targets["similarity"].tolist() == [1.0]
    path = tmp_path / "q.jsonl"
    path.write_bytes(b"\xef\xbb\xbf" + jsonl(QA_OK).encode())
    assert load_file("qa", path).labels == {"answer": ["a"]}


def test_unknown_model_and_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="'bogus'"):
        load_file("bogus", tmp_path / "x.jsonl")
    with pytest.raises(FileNotFoundError):
        load_file("qa", tmp_path / "missing.jsonl")
