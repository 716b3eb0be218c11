"""The log line shapes: the dictConfig gunicorn applies in the master (and the workers
inherit) gives JSON or text lines, with the id of the request being served."""

from __future__ import annotations

import io
import json
import logging
import re
from collections.abc import Callable, Iterator

import pytest

from serving import logs, request_context
from serving.config import Settings
from serving.request_context import RequestRecord


@pytest.fixture
def configured() -> Iterator[Callable[..., Callable[[], str]]]:
    """The console handler of `logs.logconfig(settings)`, built as dictConfig builds it
    (its formatter factory and filter), on the loggers the tests write to; applying the
    document itself would replace the test run's own handlers (the real gateway applies it:
    tests/integration/test_observability.py reads its lines)."""
    attached: list[tuple[logging.Logger, logging.Handler, int]] = []

    def apply(**settings: object) -> Callable[[], str]:
        doc = logs.logconfig(Settings(**settings))
        console = doc["handlers"]["console"]
        assert doc["root"]["handlers"] == ["console"] and console["filters"] == ["request_id"]
        assert all(doc["loggers"][n] == {**doc["loggers"][n], "handlers": [], "propagate": True}
                   for n in ("gunicorn.error", "gunicorn.access", logs.ACCESS_LOGGER))
        spec = dict(doc["formatters"][console["formatter"]])
        assert spec.pop("()") == "serving.logs.formatter"
        stream = io.StringIO()
        handler = logging.StreamHandler(stream)
        handler.setFormatter(logs.formatter(**spec))
        handler.addFilter(logs.RequestIdFilter())
        for name in ("gunicorn.error", "serving"):
            logger = logging.getLogger(name)
            attached.append((logger, handler, logger.level))
            logger.addHandler(handler)
            logger.setLevel(logging.INFO)
        return stream.getvalue

    yield apply
    for logger, handler, level in attached:
        logger.removeHandler(handler)
        logger.setLevel(level)


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
