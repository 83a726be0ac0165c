"""The ``tide`` command, end to end, as a user runs it: a subprocess, exit codes, what it prints.

No user mistake may show a Python traceback: ``tide()`` checks that for every call.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import jsonschema
import pytest

from runtime.chunks import ChunkViews, chunk_of
from runtime.events import parse_event

TIDE = Path(sys.executable).with_name("tide")

HELLO = """
greeter = Agent {
  model = "openai/gpt-4o-mini",
  system_prompt = "You greet {input.name}.",
}
Mocks { greeter = { message = "Hello there, Ada! Lovely to meet you." } }
Procedure {
  input = { name = field.string{ default = "Ada" } },
  output = { greeting = field.string{ required = true } },
  function(input)
    local r = greeter({ message = "Greet " .. input.name })
    return { greeting = r.output }
  end
}
"""

TYPED = """
Procedure {
  input = {
    n = field.integer{ required = true },
    ratio = field.number{ default = 1.5 },
    loud = field.boolean{ default = false },
    tags = field.array{},
    mode = field.string{ enum = { "fast", "slow" }, default = "fast" },
  },
  function(input)
    return { n = input.n, doubled = input.n * 2, ratio = input.ratio, loud = input.loud,
             tags = input.tags, mode = input.mode, n_type = math.type(input.n) }
  end
}
"""

FILES = {
    "hello.tac": HELLO,
    "typed.tac": TYPED,
    "syntax.tac": "Procedure {\n  function(input)\n    return { x = }\n  end\n}\n",
    "runtime.tac": 'Procedure {\n  function(input)\n    local t = {}\n    error("it broke")\n  end\n}\n',
    "invalid_output.tac": (
        "Procedure {\n"
        "  output = { title = field.string{ required = true }, score = field.integer{} },\n"
        '  function(input) return { score = "high", note = "kept" } end\n'
        "}\n"
    ),
    "loop.tac": "Procedure { function(input) while true do end end }\n",
    "empty.tac": "  \n\n",
    "undefined_agent.tac": (
        'writer = Agent { model = "openai/gpt-4o-mini" }\n'
        'Procedure {\n  function(input)\n    return { r = writter({ message = "x" }).output }\n  end\n}\n'
    ),
    "bad_key.tac": (
        'writer = Agent { modle = "openai/gpt-4o-mini" }\n'
        "Procedure { function(input) return {} end }\n"
    ),
    "bad_field.tac": (
        "Procedure {\n  input = { topic = field.strin{ required = true } },\n"
        "  function(input) return {} end\n}\n"
    ),
}


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("cli")
    for name, text in FILES.items():
        (root / name).write_text(text)
    (root / "binary.tac").write_bytes(b"\x1bLuaT\x00\x19\x93\r\n\x1a\n\x04\x08\x08")
    (root / "folder.tac").mkdir()
    return root


def tide(workdir: Path, *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "LITELLM_LOCAL_MODEL_COST_MAP": "True",
        "NO_COLOR": "1",
        "TERM": "dumb",
        "COLUMNS": "200",
    }
    env.pop("TIDE_MODEL", None)
    env.pop("OPENAI_API_KEY", None)
    done = subprocess.run(
        [str(TIDE), *args],
        cwd=workdir,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        stdin=subprocess.DEVNULL,
    )
    assert "Traceback" not in done.stdout + done.stderr, done.stdout + done.stderr
    return done


# -- tide run -------------------------------------------------------------------------------------


def test_run_with_mocks_streams_and_succeeds(workdir: Path) -> None:
    done = tide(workdir, "run", "hello.tac", "--mock")
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0].startswith("▶ hello.tac run ")
    assert "greeter (turn 1 · openai/gpt-4o-mini)" in lines
    assert "Hello there, Ada! Lovely to meet you." in lines
    assert any(line.startswith("✓ completed") for line in lines)
    assert '  "greeting": "Hello there, Ada! Lovely to meet you."' in lines
    assert "\x1b[" not in done.stdout


def test_run_json(workdir: Path) -> None:
    done = tide(workdir, "run", "hello.tac", "--mock", "--json")
    assert done.returncode == 0
    result = json.loads(done.stdout)
    assert result["status"] == "completed"
    assert result["output"] == {"greeting": "Hello there, Ada! Lovely to meet you."}
    assert result["error"] is None
    assert result["totals"]["agent_turns"] == 1
    # The live view goes to stderr, so stdout stays parseable.
    assert "Hello there, Ada!" in done.stderr


def test_run_quiet_prints_only_the_output(workdir: Path) -> None:
    done = tide(workdir, "run", "hello.tac", "--mock", "--quiet", "--param", "name=Grace")
    assert done.returncode == 0
    assert json.loads(done.stdout) == {"greeting": "Hello there, Ada! Lovely to meet you."}


def test_params_are_converted_to_the_declared_types(workdir: Path) -> None:
    done = tide(
        workdir,
        "run",
        "typed.tac",
        "--json",
        "--param",
        "n=3",
        "-p",
        "ratio=0.25",
        "--param",
        "loud=yes",
        "--param",
        'tags=["a", "b"]',
        "--param",
        "mode=slow",
    )
    assert done.returncode == 0, done.stderr
    output = json.loads(done.stdout)["output"]
    assert output == {
        "n": 3,
        "doubled": 6,
        "ratio": 0.25,
        "loud": True,
        "tags": ["a", "b"],
        "mode": "slow",
        "n_type": "integer",
    }


def test_boolean_false_and_comma_separated_arrays(workdir: Path) -> None:
    done = tide(
        workdir, "run", "typed.tac", "--json", "-p", "n=1", "-p", "loud=false", "-p", "tags=x,y"
    )
    output = json.loads(done.stdout)["output"]
    assert output["loud"] is False
    assert output["tags"] == ["x", "y"]


def test_bad_params_exit_2_naming_every_field(workdir: Path) -> None:
    done = tide(
        workdir,
        "run",
        "typed.tac",
        *("--param", "colour=red", "--param", "n=three"),
        *("--param", "loud=maybe", "--param", "mode=medium"),
    )
    assert done.returncode == 2
    assert done.stdout == ""
    assert "colour: is not a declared input" in done.stderr
    assert "n: Input should be a valid integer" in done.stderr
    assert "loud: Input should be a valid boolean" in done.stderr
    assert "mode: Input should be 'fast' or 'slow'" in done.stderr


def test_a_missing_required_input_exits_2(workdir: Path) -> None:
    done = tide(workdir, "run", "typed.tac")
    assert done.returncode == 2
    assert "n: Field required" in done.stderr


def test_a_param_without_a_value(workdir: Path) -> None:
    done = tide(workdir, "run", "typed.tac", "--param", "n")
    assert done.returncode == 2
    assert "--param expects NAME=VALUE" in done.stderr


def test_lua_syntax_error_exits_2_with_file_and_line(workdir: Path) -> None:
    done = tide(workdir, "run", "syntax.tac", "--mock")
    assert done.returncode == 2
    assert "syntax.tac:3: unexpected symbol near '}'" in done.stderr


def test_runtime_error_exits_1_with_file_and_line(workdir: Path) -> None:
    done = tide(workdir, "run", "runtime.tac")
    assert done.returncode == 1
    assert "✗ failed runtime.tac:4: it broke" in done.stdout


def test_runtime_error_in_json_mode(workdir: Path) -> None:
    done = tide(workdir, "run", "runtime.tac", "--json")
    assert done.returncode == 1
    error = json.loads(done.stdout)["error"]
    assert (error["kind"], error["file"], error["line"]) == ("runtime", "runtime.tac", 4)


def test_output_validation_failure_exits_1_showing_the_output(workdir: Path) -> None:
    done = tide(workdir, "run", "invalid_output.tac")
    assert done.returncode == 1
    lines = done.stdout.splitlines()
    assert "  ✗ procedure output does not match its declaration:" in lines
    assert "    title: Field required" in lines
    assert any(line.startswith("    score: ") for line in lines)
    assert "  unvalidated output:" in lines
    # Lua tables have no key order: look for the field, not the line.
    assert '"note": "kept"' in done.stdout
    done = tide(workdir, "run", "invalid_output.tac", "--json")
    result = json.loads(done.stdout)
    assert result["status"] == "failed"
    assert result["output"] == {"score": "high", "note": "kept"}
    assert result["error"]["kind"] == "output_validation"


def test_timeout_exits_1(workdir: Path) -> None:
    done = tide(workdir, "run", "loop.tac", "--timeout", "0.3", "--json")
    assert done.returncode == 1
    assert json.loads(done.stdout)["error"]["kind"] == "timeout"


def test_missing_credentials_stop_the_run_before_any_call(workdir: Path) -> None:
    done = tide(workdir, "run", "hello.tac")
    assert done.returncode == 2
    assert "OPENAI_API_KEY" in done.stderr
    assert "--model local/smollm2" in done.stderr
    assert "▶" not in done.stdout  # it never started


def test_the_model_override_runs_any_procedure_on_the_scripted_model(workdir: Path) -> None:
    done = tide(workdir, "run", "hello.tac", "--model", "scripted/default", "--json", timeout=120)
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["status"] == "completed"
    assert result["totals"]["completion_tokens"] > 0
    assert result["output"]["greeting"]


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("missing.tac", "missing.tac: no such file"),
        ("folder.tac", "folder.tac is a directory, not a procedure file"),
        ("binary.tac", "binary.tac is a binary file, not Lua source"),
        ("empty.tac", "empty.tac is empty"),
    ],
)
def test_files_that_are_not_procedures_exit_2(workdir: Path, name: str, message: str) -> None:
    done = tide(workdir, "run", name, "--mock")
    assert done.returncode == 2
    assert message in done.stderr
    assert done.stderr.startswith("error: ")


def test_events_file_round_trips(workdir: Path, tmp_path: Path) -> None:
    path = tmp_path / "events.jsonl"
    done = tide(workdir, "run", "hello.tac", "--mock", "--quiet", "--events", str(path))
    assert done.returncode == 0
    events = [parse_event(line) for line in path.read_text().splitlines()]
    assert [e.seq for e in events] == list(range(1, len(events) + 1))
    assert events[0].type == "run_started"
    assert events[-1].type == "run_completed"
    views = ChunkViews()
    chunks = [views.view(chunk_of(e), e.run_id) for e in events if e.type == "agent_stream_chunk"]
    assert chunks[-1].accumulated_text == "Hello there, Ada! Lovely to meet you."
    assert {e.run_id for e in events} == {events[0].run_id}


# -- tide validate ----------------------------------------------------------------------------------


def test_validate_a_good_file(workdir: Path) -> None:
    done = tide(workdir, "validate", "hello.tac")
    assert done.returncode == 0
    assert "✓ hello.tac is valid (procedure: 1 agents, 1 inputs, 0 specifications)" in done.stdout


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        (
            "undefined_agent.tac",
            [
                "undefined_agent.tac:4:18: error: 'writter' is called but never defined",
                "  hint: did you mean 'writer'?",
            ],
        ),
        (
            "bad_key.tac",
            ["bad_key.tac:1:18: error: unknown agent key 'modle'", "  hint: did you mean 'model'?"],
        ),
        ("bad_field.tac", ["bad_field.tac:2:21: error: unknown field type 'field.strin'"]),
        ("syntax.tac", ["syntax.tac:3:18: error: unexpected symbol near '}'"]),
    ],
)
def test_validate_bad_files(workdir: Path, name: str, expected: list[str]) -> None:
    done = tide(workdir, "validate", name)
    assert done.returncode == 2
    lines = done.stdout.splitlines()
    for line in expected:
        assert any(printed.startswith(line) for printed in lines), (line, lines)


def test_validate_json_and_several_files(workdir: Path) -> None:
    done = tide(workdir, "validate", "--json", "hello.tac", "bad_key.tac", "missing.tac")
    assert done.returncode == 2
    reports = json.loads(done.stdout)
    assert [r["ok"] for r in reports] == [True, False, False]
    assert reports[1]["diagnostics"][0]["hint"] == "did you mean 'model'?"
    assert "no such file" in reports[2]["diagnostics"][0]["message"]


# -- tide events ------------------------------------------------------------------------------------


def test_events_schema_is_json_schema(workdir: Path) -> None:
    done = tide(workdir, "events", "--schema")
    assert done.returncode == 0
    schema = json.loads(done.stdout)
    jsonschema.Draft202012Validator.check_schema(schema)
    assert schema["discriminator"]["propertyName"] == "type"
    assert "AgentStreamChunkEvent" in schema["$defs"]


def test_no_command_prints_help(workdir: Path) -> None:
    done = tide(workdir)
    assert done.returncode == 2
    assert "usage: tide" in done.stdout


_CONSOLE = """
import atexit, sys
from runtime.cli import console_main

def report():
    loader = sys.modules.get("pydantic.plugin._loader")
    scanned = loader is not None and loader._plugins is not None
    print("plugins scanned" if scanned else "plugins not scanned", file=sys.stderr)

atexit.register(report)
sys.argv = ["tide", *sys.argv[1:]]
console_main()
"""


@pytest.mark.parametrize("setting", [None, ""])
def test_the_command_exits_with_its_status_and_scans_pydantic_plugins_only_if_asked(
    tmp_path: Path, setting: str | None
) -> None:
    (tmp_path / "hello.tac").write_text(HELLO)
    env = {**os.environ, "TIDE_WORKER": "off", "LITELLM_LOCAL_MODEL_COST_MAP": "True"}
    env.pop("PYDANTIC_DISABLE_PLUGINS", None)
    if setting is not None:
        env["PYDANTIC_DISABLE_PLUGINS"] = setting  # set, even empty: the user's choice
    ran = subprocess.run(
        [sys.executable, "-c", _CONSOLE, "run", "hello.tac", "--mock", "--no-store"],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert ran.returncode == 0, ran.stderr
    assert "Lovely to meet you" in ran.stdout
    expected = "plugins not scanned" if setting is None else "plugins scanned"
    assert ran.stderr.strip().endswith(expected), ran.stderr
    usage = subprocess.run(
        [sys.executable, "-c", _CONSOLE, "run", "missing.tac"],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert usage.returncode == 2, usage.stderr
    assert "Traceback" not in usage.stderr
