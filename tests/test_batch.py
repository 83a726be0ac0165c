"""Batch runs: inputs read and checked per line, runs a few at a time, results in order,
completed lines taken from the store the second time."""

from __future__ import annotations

import io
import json
from pathlib import Path

import anyio
import pytest

from runtime import Runtime, RuntimeConfig
from runtime.batch import KEY_TAG, BatchLine, BatchResult, load_batch, run_batch
from runtime.cli.batch import BatchDisplay, OrderedResults
from runtime.errors import InputValidationError
from runtime.events import CostEvent
from runtime.inspect import inspect_procedure
from runtime.store import SQLiteStore, StoreHandler
from tests.helpers import source
from tests.test_cli import tide

pytestmark = pytest.mark.anyio

COUNT = """
Procedure {
  input = { n = field.integer{ required = true }, label = field.string{ default = "x" } },
  function(input)
    if input.n == 13 then error("unlucky") end
    return { twice = input.n * 2, label = input.label }
  end
}
"""


def write(path: Path, *lines: str) -> Path:
    path.write_text("\n".join(lines) + "\n")
    return path


def test_bad_lines_are_all_reported_with_their_numbers(tmp_path: Path) -> None:
    proc = source(COUNT)
    info = inspect_procedure(proc)
    inputs = write(
        tmp_path / "in.jsonl",
        '{"n": 1}',
        "{nope",
        "",
        "[1, 2]",
        '{"n": "three"}',
        '{"m": 4}',
        '{"n": 5}',
    )
    with pytest.raises(InputValidationError) as caught:
        load_batch(inputs, info, proc, model=None, mock=True)
    message = caught.value.message
    assert message.startswith("4 bad input lines:")
    assert [line.split(":")[1] for line in message.splitlines()[1:]] == ["2", "4", "5", "6"]
    assert f"{inputs}:2: not JSON" in message
    assert f"{inputs}:4: expected a JSON object of inputs, got an array" in message
    assert f"{inputs}:6:" in message and "m: is not a declared input" in message
    with pytest.raises(InputValidationError, match="has no inputs"):
        load_batch(write(tmp_path / "empty.jsonl", "", "  "), info, proc, model=None, mock=True)
    with pytest.raises(InputValidationError, match="cannot read the inputs file"):
        load_batch(tmp_path / "missing.jsonl", info, proc, model=None, mock=True)


def test_keys_follow_inputs_source_model_and_mock(tmp_path: Path) -> None:
    proc = source(COUNT)
    info = inspect_procedure(proc)
    inputs = write(tmp_path / "in.jsonl", '{"n": 1}', '{"n": 1, "label": "x"}', '{"n": 2}')
    a, same, other = load_batch(inputs, info, proc, model=None, mock=True)
    assert a.key == same.key != other.key
    assert a.inputs == {"n": 1, "label": "x"}
    (real,) = load_batch(
        write(tmp_path / "one.jsonl", '{"n": 1}'), info, proc, model=None, mock=False
    )
    assert real.key != a.key
    changed = source(COUNT.replace("* 2", "* 3"))
    (edited,) = load_batch(tmp_path / "one.jsonl", info, changed, model=None, mock=True)
    assert edited.key != a.key


async def test_runs_at_most_n_at_once_and_resumes_from_the_store(tmp_path: Path) -> None:
    proc = source(COUNT)
    info = inspect_procedure(proc)
    lines = load_batch(
        write(tmp_path / "in.jsonl", *(json.dumps({"n": n}) for n in (1, 2, 13, 4, 5, 6))),
        info,
        proc,
        model=None,
        mock=True,
    )
    running = peak = 0
    heard: list[BatchResult] = []
    async with SQLiteStore.for_workspace(tmp_path) as store, Runtime(RuntimeConfig()) as runtime:

        async def run_line(line: BatchLine) -> BatchResult:
            nonlocal running, peak
            running += 1
            peak = max(peak, running)
            await anyio.sleep(0.01)
            result = await runtime.run(
                proc, line.inputs, mock=True, tags={KEY_TAG: line.key},
                handlers=[StoreHandler(store, mock=True)],
            )  # fmt: skip
            running -= 1
            return BatchResult(line.number, line.inputs, result.run_id, result.status,
                               output=result.output, error=result.error)  # fmt: skip

        results = await run_batch(
            lines, run_line, concurrency=2, on_result=heard.append, store=store
        )
        assert peak == 2
        assert [r.line for r in results] == [1, 2, 3, 4, 5, 6]
        assert [r.status for r in results] == ["completed"] * 2 + ["failed"] + ["completed"] * 3
        assert results[0].output == {"twice": 2, "label": "x"}
        assert "unlucky" in (results[2].error.message if results[2].error else "")
        assert sorted(r.line for r in heard) == [1, 2, 3, 4, 5, 6]
        await store.flush()

        again: list[BatchResult] = []
        rerun = await run_batch(lines, run_line, concurrency=2, on_result=again.append, store=store)
        assert [r.reused for r in rerun] == [True, True, False, True, True, True]
        assert [r.run_id for r in rerun if r.reused] == [r.run_id for r in results if r.ok]
        assert rerun[3].output == {"twice": 8, "label": "x"}


def test_results_are_written_in_input_order(tmp_path: Path) -> None:
    out = tmp_path / "out.jsonl"
    writer = OrderedResults(str(out), [1, 3, 4])
    writer.add(BatchResult(3, {}, "b", "completed"))
    assert out.read_text() == ""
    writer.add(BatchResult(1, {}, "a", "completed"))
    assert [json.loads(x)["line"] for x in out.read_text().splitlines()] == [1, 3]
    writer.add(BatchResult(4, {}, "c", "failed"))
    writer.close()
    assert [json.loads(x)["run_id"] for x in out.read_text().splitlines()] == ["a", "b", "c"]


def test_a_terminal_gets_a_progress_bar_and_a_pipe_gets_lines() -> None:
    cost = CostEvent(run_id="r", seq=1, agent="a", turn=1, model="m", provider="p",
                     total_tokens=120, cost_usd=0.25)  # fmt: skip
    screen = io.StringIO()
    with BatchDisplay(2, screen, terminal=True) as display:
        display.started(BatchLine(1, {}))
        display.usage(cost)
        display.finished(BatchResult(1, {}, "r1", "completed"))
        display.finished(BatchResult(2, {}, None, "completed", reused=True))
    shown = screen.getvalue()
    assert "2/2" in shown and "0 failed" in shown and "120 tokens" in shown
    assert "$0.2500" in shown and "0 running" in shown
    pipe = io.StringIO()
    with BatchDisplay(2, pipe, terminal=False) as display:
        display.finished(BatchResult(2, {}, "r2", "failed"))
    assert pipe.getvalue() == "[1/2] line 2: failed (run r2) · 0 tokens · $0\n"
    assert "1 failed" in display.summary("out.jsonl")


def test_tide_run_over_a_file(tmp_path: Path) -> None:
    (tmp_path / "count.tac").write_text(COUNT)
    write(tmp_path / "in.jsonl", '{"n": 1}', '{"n": 13}', '{"n": 3, "label": "y"}')
    first = tide(tmp_path, "run", "count.tac", "--over", "in.jsonl", "--out", "out.jsonl",
                 "--concurrency", "2", "--tag", "suite=nightly")  # fmt: skip
    assert first.returncode == 1, first.stderr
    assert "line 2: failed" in first.stderr and "unlucky" in first.stderr
    assert "3 inputs: 2 completed, 1 failed" in first.stderr
    results = [json.loads(x) for x in (tmp_path / "out.jsonl").read_text().splitlines()]
    assert [(r["line"], r["status"]) for r in results] == [
        (1, "completed"), (2, "failed"), (3, "completed")
    ]  # fmt: skip
    assert results[2]["output"] == {"twice": 6, "label": "y"}
    listed = tide(tmp_path, "runs", "--tag", "suite=nightly", "--json")
    assert len(json.loads(listed.stdout)) == 3

    (tmp_path / "in.jsonl").write_text('{"n": 1}\n{"n": 3, "label": "y"}\n')
    second = tide(tmp_path, "run", "count.tac", "--over", "in.jsonl", "--json")
    assert second.returncode == 0, second.stderr
    payload = json.loads(second.stdout)
    assert [r["reused"] for r in payload["results"]] == [True, True]
    assert [r["run_id"] for r in payload["results"]] == [results[0]["run_id"], results[2]["run_id"]]


def test_tide_run_over_usage_errors(tmp_path: Path) -> None:
    (tmp_path / "count.tac").write_text(COUNT)
    write(tmp_path / "bad.jsonl", '{"n": 1}', "oops")
    bad = tide(tmp_path, "run", "count.tac", "--over", "bad.jsonl")
    assert bad.returncode == 2
    assert "bad.jsonl:2: not JSON" in bad.stderr
    alone = tide(tmp_path, "run", "count.tac", "--concurrency", "3")
    assert alone.returncode == 2 and "go with --over" in alone.stderr
    zero = tide(tmp_path, "run", "count.tac", "--over", "bad.jsonl", "--concurrency", "0")
    assert zero.returncode == 2 and "at least 1" in zero.stderr
