"""What the engine costs: a whole ``tide run``, a sandbox, a Lua→Python agent call, and many
runs at once in one process.

    python bench/engine.py [procedures/hello.tac] [--repeat 7] [--calls 2000] [--sizes 1,100,1000]

Prints JSON:

- ``cli``: wall time, CPU time and peak RSS of ``tide run FILE --mock`` as a whole process
  (median of ``--repeat`` runs, each child's own CPU and peak from ``wait4``), as a ratio of the
  targets (0.3 s, 50 MiB: under 1 is under the target). The children write their bytecode
  (``PYTHONDONTWRITEBYTECODE`` is dropped), as a user's first run does: a run that compiles
  every module measures the compiler. On a busy machine the wall time waits for a core; the
  CPU time says what the run itself cost;
- ``sandbox``: time to create a bare ``Sandbox`` and a ``Host`` (the DSL over a sandbox);
- ``agent_call``: microseconds per Lua→Python agent call with a mock, from a procedure that
  calls its agent ``--calls`` times (the run's fixed cost subtracted), without and with a
  handler attached (which turns streaming on), beside a plain Lua→Python call (``State.get``);
- ``concurrent``: for each size N, N mocked runs of FILE in one event loop, each size in a
  fresh process: total time, time per run, RSS idle / at peak / after, the peak's growth per
  run, and errors (must be 0);
- ``executors``: a mocked run in an executor process (``runtime.executor``, as ``tide ide``
  runs them) one at a time beside the same run in-process (median, p99, added
  cost), then ``--executors``' CONCURRENT runs with AT_ONCE running at a time: total
  time and the peak memory of the whole process tree (RSS, and PSS, which counts the pages forked
  processes share once); each with an executor per run
  (``own_process``) and with executors that take several runs of the procedure (``shared_by_N``,
  ``tide ide``'s default).

Other work on the machine skews every figure; the load average is reported with them.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import anyio

# Read when litellm is imported: otherwise it fetches its price list from the network.
os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

DEFAULT_PROCEDURE = ROOT / "procedures" / "hello.tac"
TIDE = Path(sys.executable).with_name("tide")
MIB = 1024 * 1024
TARGET_WALL_S = 0.3
TARGET_RSS_MIB = 50.0

CALLS = """
echo = Agent { model = "bench/echo" }
Mocks { echo = { message = "ok" } }
Procedure {
  input = { n = field.integer{ default = 0 }, kind = field.string{ default = "agent" } },
  function(input)
    if input.kind == "agent" then
      for i = 1, input.n do echo("hi") end
    else
      for i = 1, input.n do State.get("k") end
    end
    return { n = input.n }
  end
}
"""


def median(values: list[float]) -> float:
    return statistics.median(values)


def timed(function: Callable[[], Any], repeat: int) -> float:
    """Median seconds of ``function()`` over ``repeat`` calls."""
    samples = []
    for _ in range(repeat):
        started = time.perf_counter()
        function()
        samples.append(time.perf_counter() - started)
    return median(samples)


# -- a whole process ----------------------------------------------------------------------------


# Linux carries a process's peak RSS across exec, so a child started straight from this
# (by then large) process would report this process's peak as its own. A small launcher starts
# it instead, and reports its wall time, its peak RSS (KiB) and its exit code.
LAUNCHER = """
import json, os, sys, time
null = os.open(os.devnull, os.O_WRONLY)
started = time.perf_counter()
pid = os.posix_spawn(sys.argv[1], sys.argv[1:], os.environ,
                     file_actions=[(os.POSIX_SPAWN_DUP2, null, 1), (os.POSIX_SPAWN_DUP2, null, 2)])
_, status, usage = os.wait4(pid, 0)
print(json.dumps([time.perf_counter() - started, usage.ru_maxrss,
                  os.waitstatus_to_exitcode(status), usage.ru_utime + usage.ru_stime]))
"""


def child(args: list[str], cwd: Path) -> tuple[float, float, int, float]:
    """Run a command; return its wall seconds, its own peak RSS in MiB, its exit code and its
    CPU seconds."""
    env = {**os.environ, "TIDE_WORKER": "off"}  # the process itself, not a warm worker's child
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    done = subprocess.run(
        [sys.executable, "-S", "-c", LAUNCHER, *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    wall, peak_kib, code, cpu = json.loads(done.stdout)
    return wall, peak_kib / 1024, code, cpu


def bench_cli(procedure: Path, repeat: int) -> dict[str, Any]:
    command = [str(TIDE), "run", str(procedure), "--mock"]
    with tempfile.TemporaryDirectory() as workdir:
        child(command, Path(workdir))  # warm the file cache and bytecode
        samples = [child(command, Path(workdir)) for _ in range(repeat)]
    walls = [s[0] for s in samples]
    rss = [s[1] for s in samples]
    cpus = [s[3] for s in samples]
    wall, peak = median(walls), median(rss)
    return {
        "command": "tide run " + os.path.relpath(procedure, ROOT) + " --mock",
        "runs": repeat,
        "exit_codes": sorted({s[2] for s in samples}),
        "wall_s_median": round(wall, 4),
        "wall_s_min": round(min(walls), 4),
        "wall_s_max": round(max(walls), 4),
        "cpu_s_median": round(median(cpus), 4),
        "cpu_s_min": round(min(cpus), 4),
        "peak_rss_mib_median": round(peak, 1),
        "wall_vs_target": round(wall / TARGET_WALL_S, 2),
        "cpu_vs_target": round(median(cpus) / TARGET_WALL_S, 2),
        "rss_vs_target": round(peak / TARGET_RSS_MIB, 2),
    }


# -- a sandbox ------------------------------------------------------------------------------------


def bench_sandbox(repeat: int) -> dict[str, Any]:
    from runtime.host import Host
    from runtime.inspect import _Inspecting
    from runtime.sandbox import Sandbox
    from runtime.source import ProcedureSource

    source = ProcedureSource.from_text(CALLS, name="bench.tac")
    sandbox_s = timed(lambda: Sandbox({}), repeat)
    host_s = timed(lambda: Host(source, _Inspecting()), repeat)
    return {
        "samples": repeat,
        "sandbox_ms_median": round(sandbox_s * 1000, 3),
        "host_ms_median": round(host_s * 1000, 3),
    }


# -- a Lua→Python agent call ------------------------------------------------------------------------


async def _run_calls(n: int, kind: str, handlers: list[Any]) -> float:
    from runtime import Runtime
    from runtime.source import ProcedureSource

    source = ProcedureSource.from_text(CALLS, name="bench.tac")
    async with Runtime() as runtime:
        started = time.perf_counter()
        result = await runtime.run(source, {"n": n, "kind": kind}, handlers=handlers, mock=True)
        elapsed = time.perf_counter() - started
    if not result.ok:
        raise RuntimeError(f"the benchmark procedure failed: {result.error}")
    return elapsed


def per_call_us(calls: int, kind: str, repeat: int, handler: bool) -> float:
    from runtime import MemoryHandler

    def one(n: int) -> float:
        return anyio.run(lambda: _run_calls(n, kind, [MemoryHandler()] if handler else []))

    base = median([one(0) for _ in range(repeat)])
    full = median([one(calls) for _ in range(repeat)])
    return (full - base) / calls * 1e6


def bench_agent_call(calls: int, repeat: int) -> dict[str, Any]:
    agent = per_call_us(calls, "agent", repeat, handler=False)
    streamed = per_call_us(calls, "agent", repeat, handler=True)
    plain = per_call_us(calls, "state", repeat, handler=False)
    return {
        "calls": calls,
        "agent_call_us": round(agent, 1),
        "agent_call_streaming_us": round(streamed, 1),
        "host_call_us": round(plain, 2),
        "agent_vs_host_call": round(agent / plain, 1) if plain > 0 else None,
        "streaming_vs_not": round(streamed / agent, 2) if agent > 0 else None,
    }


# -- many runs at once -------------------------------------------------------------------------------


def memory_mib() -> tuple[float, float]:
    """This process's (current, peak) RSS. The peak is this program's own (``VmHWM``), not the
    peak carried over from the process that started it."""
    try:
        status = Path("/proc/self/status").read_text()
    except OSError:
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        return peak, peak
    values = {}
    for line in status.splitlines():
        key, _, rest = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            values[key] = int(rest.split()[0]) / 1024
    return values["VmRSS"], values["VmHWM"]


async def _concurrent(procedure: Path, size: int) -> dict[str, Any]:
    from runtime import Runtime
    from runtime.source import ProcedureSource

    source = ProcedureSource.from_path(procedure)
    statuses: list[str] = []
    errors: list[str] = []
    async with Runtime() as runtime:
        # One run first, so imports and caches are not counted as the runs' memory.
        await runtime.run(source, mock=True)
        idle, _ = memory_mib()

        async def one() -> None:
            try:
                result = await runtime.run(source, mock=True)
                statuses.append(result.status)
                if not result.ok:
                    errors.append(str(result.error))
            except Exception as exc:
                errors.append(f"{type(exc).__name__}: {exc}")

        started = time.perf_counter()
        async with anyio.create_task_group() as group:
            for _ in range(size):
                group.start_soon(one)
        elapsed = time.perf_counter() - started
        after, peak = memory_mib()
    return {
        "runs": size,
        "completed": statuses.count("completed"),
        "errors": len(errors),
        "first_error": errors[0] if errors else None,
        "total_s": round(elapsed, 4),
        "ms_per_run": round(elapsed / size * 1000, 3),
        "idle_rss_mib": round(idle, 1),
        "peak_rss_mib": round(peak, 1),
        "rss_after_mib": round(after, 1),
        "peak_growth_mib": round(peak - idle, 1),
        "peak_kib_per_run": round((peak - idle) * 1024 / size, 1),
    }


def bench_concurrent(procedure: Path, sizes: list[int]) -> list[dict[str, Any]]:
    results = []
    for size in sizes:
        done = subprocess.run(
            [sys.executable, __file__, str(procedure), "--one-concurrent", str(size)],
            capture_output=True,
            text=True,
            check=False,
        )
        if done.returncode != 0:
            results.append({"runs": size, "errors": size, "failure": done.stderr[-2000:]})
            continue
        results.append(json.loads(done.stdout))
    first = results[0] if results and "ms_per_run" in results[0] else None
    for result in results:
        if first is not None and "ms_per_run" in result:
            result["ms_per_run_vs_single"] = round(result["ms_per_run"] / first["ms_per_run"], 3)
    return results


# -- executors -------------------------------------------------------------------------------------------


def tree_memory_mib(pid: int) -> tuple[float, float]:
    """Memory of ``pid`` and all its descendants: resident (RSS, which counts the pages forked
    processes share once in each) and proportional (PSS, which splits them: what they take)."""
    rss = pss = 0
    pending = [pid]
    while pending:
        current = pending.pop()
        try:
            rollup = Path(f"/proc/{current}/smaps_rollup").read_text()
            children = Path(f"/proc/{current}/task/{current}/children").read_text().split()
        except OSError:
            continue
        for line in rollup.splitlines():
            if line.startswith("Rss:"):
                rss += int(line.split()[1])
            elif line.startswith("Pss:"):
                pss += int(line.split()[1])
        pending += [int(c) for c in children]
    return rss / 1024, pss / 1024


def tree_rss_mib(pid: int) -> float:
    return tree_memory_mib(pid)[0]


async def _executors(procedure: Path, starts: int, concurrent: int, slots: int) -> dict[str, Any]:
    """Both ways ``tide ide`` can place runs: an executor per run, and executors that take
    several runs of one procedure (its default)."""
    from runtime.executor.pool import RUNS_PER_EXECUTOR

    own = await _executors_with(procedure, starts, concurrent, slots, 1)
    shared = await _executors_with(procedure, starts, concurrent, slots, RUNS_PER_EXECUTOR)
    return {"own_process": own, f"shared_by_{RUNS_PER_EXECUTOR}": shared}


async def _executors_with(
    procedure: Path, starts: int, concurrent: int, slots: int, runs_per_executor: int
) -> dict[str, Any]:
    from runtime import MemoryHandler, Runtime, RuntimeConfig
    from runtime.executor import ExecutorPool, ExecutorRun
    from runtime.source import ProcedureSource

    source = ProcedureSource.from_path(procedure)
    pool = ExecutorPool(runs_per_executor=runs_per_executor)
    async with Runtime(RuntimeConfig()) as runtime, pool:

        async def one(index: int) -> str:
            events = MemoryHandler()
            run = ExecutorRun(
                pool, runtime, source, {}, handlers=[events], mock=True, run_id=f"b{index}"
            )
            await run.prepare()
            await run.execute()
            return events.events[-1].type

        await one(-1)  # the fork server's start is not a run's
        in_process, in_executor = [], []
        for index in range(starts):
            began = time.perf_counter()
            await runtime.run(source, mock=True)
            in_process.append(time.perf_counter() - began)
            began = time.perf_counter()
            await one(index)
            in_executor.append(time.perf_counter() - began)
        in_executor.sort()
        ends: list[str] = []
        limiter = anyio.CapacityLimiter(slots)
        idle = peak = tree_memory_mib(os.getpid())

        async def limited(index: int) -> None:
            async with limiter:
                ends.append(await one(index))

        async def sample(scope: anyio.CancelScope) -> None:
            nonlocal peak
            while not scope.cancel_called:
                rss, pss = tree_memory_mib(os.getpid())
                peak = (max(peak[0], rss), max(peak[1], pss))
                await anyio.sleep(0.05)

        began = time.perf_counter()
        async with anyio.create_task_group() as group:
            group.start_soon(sample, group.cancel_scope)
            async with anyio.create_task_group() as runs:
                for index in range(concurrent):
                    runs.start_soon(limited, starts + index)
            group.cancel_scope.cancel()
        total = time.perf_counter() - began
    return {
        "runs_per_executor": runs_per_executor,
        "start": {
            "runs": starts,
            "in_process_median_ms": round(median(in_process) * 1000, 1),
            "executor_median_ms": round(median(in_executor) * 1000, 1),
            "executor_p99_ms": round(
                in_executor[min(len(in_executor) - 1, int(0.99 * len(in_executor)))] * 1000, 1
            ),
            "added_median_ms": round((median(in_executor) - median(in_process)) * 1000, 1),
        },
        "concurrent": {
            "runs": concurrent,
            "runs_at_once": slots,
            "completed": ends.count("run_completed"),
            "total_s": round(total, 2),
            "tree_rss_idle_mib": round(idle[0], 1),
            "tree_rss_peak_mib": round(peak[0], 1),
            "tree_pss_idle_mib": round(idle[1], 1),
            "tree_pss_peak_mib": round(peak[1], 1),
        },
    }


def bench_executors(procedure: Path, starts: int, concurrent: int, slots: int) -> dict[str, Any]:
    done = subprocess.run(
        [
            sys.executable,
            __file__,
            str(procedure),
            "--one-executors",
            f"{starts},{concurrent},{slots}",
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        return {"failure": done.stderr[-2000:]}
    result: dict[str, Any] = json.loads(done.stdout)
    return result


# -- main ----------------------------------------------------------------------------------------------


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("procedure", nargs="?", default=str(DEFAULT_PROCEDURE))
    parser.add_argument("--repeat", type=int, default=7, help="samples per median (at least 5)")
    parser.add_argument("--calls", type=int, default=2000, help="agent calls per procedure")
    parser.add_argument("--sizes", default="1,100,1000", help="concurrent run counts")
    parser.add_argument("--one-concurrent", type=int, help=argparse.SUPPRESS)
    parser.add_argument(
        "--executors",
        default="50,500,16",
        help="executor runs: STARTS (one at a time, vs in-process), CONCURRENT, AT_ONCE",
    )
    parser.add_argument("--one-executors", help=argparse.SUPPRESS)
    args = parser.parse_args()
    procedure = Path(args.procedure).resolve()
    if not procedure.is_file():
        print(f"bench/engine.py: no procedure at {procedure}", file=sys.stderr)
        return 2
    if args.one_executors is not None:
        starts, concurrent, slots = (int(x) for x in args.one_executors.split(","))
        print(json.dumps(anyio.run(_executors, procedure, starts, concurrent, slots)))
        return 0
    if args.one_concurrent is not None:
        print(json.dumps(anyio.run(_concurrent, procedure, args.one_concurrent)))
        return 0
    repeat = max(5, args.repeat)
    report = {
        "procedure": os.path.relpath(procedure, ROOT),
        "python": sys.version.split()[0],
        "cpus": os.cpu_count(),
        "load_average_before": [round(x, 2) for x in os.getloadavg()],
        "cli": bench_cli(procedure, repeat),
        "sandbox": bench_sandbox(200),
        "agent_call": bench_agent_call(args.calls, repeat),
        "concurrent": bench_concurrent(procedure, [int(s) for s in args.sizes.split(",")]),
        "executors": bench_executors(procedure, *(int(x) for x in args.executors.split(","))),
        "load_average_after": [round(x, 2) for x in os.getloadavg()],
    }
    print(json.dumps(report, indent=2))
    failed = any(r.get("errors") for r in report["concurrent"]) or report["cli"]["exit_codes"] != [
        0
    ]
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
