"""The log line shapes: the dictConfig gunicorn applies in the master (and the workers
inherit) gives JSON or text lines, with the id of the request being served."""

from __future__ import annotations

import json
import logging
import logging.config
import re
from collections.abc import Callable

import pytest

from serving import logs, request_context
from serving.config import Settings
from serving.request_context import RequestRecord


@pytest.fixture
def configured(capsys: pytest.CaptureFixture[str]):  # noqa: ANN201
    """Apply a Settings' logconfig (its console is stderr); `read()` what it wrote."""
    saved = logging.root.handlers[:], logging.root.level

    def apply(**settings: object) -> Callable[[], str]:
        logging.config.dictConfig(logs.logconfig(Settings(**settings)))
        return lambda: capsys.readouterr().err

    yield apply
    logging.root.handlers[:] = saved[0]
    logging.root.setLevel(saved[1])


def served(record_id: str, logger: str, message: str) -> None:
    token = request_context.enter(RequestRecord(id=record_id))
    try:
        logging.getLogger(logger).warning(message)
    finally:
        request_context.leave(token)


def test_json_lines_for_gunicorn_and_the_gateway_alike(configured) -> None:  # noqa: ANN001
    read = configured(log_format="json")
    logging.getLogger("gunicorn.error").info("Booting worker with pid: 7")
    served("rid-1", "serving.core.service", "inside a request")
    try:
        raise ValueError("boom")
    except ValueError:
        logging.getLogger("serving.x").exception("failed")
    lines = [json.loads(line) for line in read().splitlines()]
    assert [(d["logger"], d["id"], d["message"]) for d in lines] == [
        ("gunicorn.error", "", "Booting worker with pid: 7"),
        ("serving.core.service", "rid-1", "inside a request"),
        ("serving.x", "", "failed")]
    assert "ValueError: boom" in lines[2]["error"]
    assert all({"time", "level", "pid"} <= set(d) for d in lines)


def test_text_lines_carry_the_id_too(configured) -> None:  # noqa: ANN001
    read = configured(log_format="text")
    served("rid-2", "serving.core.service", "inside a request")
    line = read().strip()
    assert re.fullmatch(r"\S+ \S+ \[\d+\] WARNING serving\.core\.service \[rid-2\]: "
                        r"inside a request", line), line


def test_an_unknown_format_is_refused_before_any_process_starts() -> None:
    with pytest.raises(ValueError, match="log_format must be one of json, text"):
        logs.logconfig(Settings(log_format="xml"))


@pytest.mark.parametrize("value, usable", [
    ("abc-123", True), ("x" * 128, True), ("x" * 129, False), ("", False),
    ("with space", False), ("tab\\there", True), ("line\nbreak", False), ("é", False),
    (None, False), (7, False)])
def test_which_client_ids_are_used(value: object, usable: bool) -> None:
    assert bool(request_context.usable_id(value)) is usable
    record = RequestRecord.open(value)
    assert (record.id == value) is usable and record.given is usable
    assert len(record.id) == 32 or usable
