"""``POST /api/validate`` and ``GET /api/models``."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from ide_backend.bodies import optional, read_json, required
from ide_backend.services import services
from runtime.models.providers import example_models
from runtime.source import ProcedureSource

UNSAVED_NAME = "untitled.tac"


async def validate(request: Request) -> JSONResponse:
    ide = services(request)
    data = await read_json(request, ide.settings.max_body_bytes)
    text = required(data, "source", str) or ""
    path = optional(data, "path", str)
    if not text.strip():
        return JSONResponse(
            {
                "ok": False,
                "diagnostics": [
                    {
                        "severity": "error",
                        "message": "the procedure is empty",
                        "line": 1,
                        "column": 1,
                        "hint": "a procedure declares agents and a Procedure { ... }",
                    }
                ],
                "procedure": None,
            }
        )
    if path is not None:
        source = ide.workspace.source(path, text)
    else:
        source = ProcedureSource(text, UNSAVED_NAME, project_root=ide.workspace.root)
    report = await ide.validator.validate(source, ide.settings.runtime.inspect_timeout_s)
    return JSONResponse(report)


async def models(request: Request) -> JSONResponse:
    ide = services(request)
    if ide.manager.executors is not None:
        # The editor asks which models it can run: runs of real models are likely soon.
        ide.manager.executors.warm_models()
    names = set(await ide.catalog.models()) | set(example_models())
    body: dict[str, Any] = {"models": sorted(names), "default": ide.settings.runtime.model}
    return JSONResponse(body)


routes = [
    Route("/api/validate", validate, methods=["POST"]),
    Route("/api/models", models, methods=["GET"]),
]
