"""``/api/files``: list, read, write, create, rename and delete the workspace's procedures."""

from __future__ import annotations

from functools import partial

import anyio.to_thread
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from ide_backend.bodies import optional, read_json, required
from ide_backend.services import services
from ide_backend.workspace import iso_mtime


async def list_files(request: Request) -> JSONResponse:
    entries = await services(request).catalog.files()
    return JSONResponse(
        {
            "files": [
                {
                    "path": info.path,
                    "size": info.size,
                    "modified": info.modified,
                    "valid": validity.valid,
                    "errors": validity.errors,
                }
                for info, validity in entries
            ]
        }
    )


async def read_file(request: Request) -> JSONResponse:
    workspace = services(request).workspace
    path = request.path_params["path"]
    resolved, text, mtime = await anyio.to_thread.run_sync(workspace.read, path)
    return JSONResponse({"path": resolved.rel, "content": text, "modified": iso_mtime(mtime)})


async def save_file(request: Request) -> JSONResponse:
    ide = services(request)
    path = ide.workspace.check(request.path_params["path"])
    data = await read_json(request, ide.settings.max_body_bytes)
    content = required(data, "content", str)
    rel, mtime = await anyio.to_thread.run_sync(partial(ide.workspace.write, path, content))
    return JSONResponse({"path": rel, "modified": iso_mtime(mtime)})


async def create_file(request: Request) -> JSONResponse:
    ide = services(request)
    data = await read_json(request, ide.settings.max_body_bytes)
    path = required(data, "path", str)
    content = optional(data, "content", str) or ""
    write = partial(ide.workspace.write, path, content, create=True)
    rel, mtime = await anyio.to_thread.run_sync(write)
    return JSONResponse({"path": rel, "modified": iso_mtime(mtime)}, status_code=201)


async def rename_file(request: Request) -> JSONResponse:
    ide = services(request)
    data = await read_json(request, ide.settings.max_body_bytes)
    source, destination = required(data, "from", str), required(data, "to", str)
    rel = await anyio.to_thread.run_sync(ide.workspace.rename, source, destination)
    return JSONResponse({"path": rel})


async def delete_file(request: Request) -> Response:
    workspace = services(request).workspace
    await anyio.to_thread.run_sync(workspace.delete, request.path_params["path"])
    return Response(status_code=204)


routes = [
    Route("/api/files", list_files, methods=["GET"]),
    Route("/api/files", create_file, methods=["POST"]),
    Route("/api/files/rename", rename_file, methods=["POST"]),
    Route("/api/files/{path:path}", read_file, methods=["GET"]),
    Route("/api/files/{path:path}", save_file, methods=["PUT"]),
    Route("/api/files/{path:path}", delete_file, methods=["DELETE"]),
]
