"""Packages that import their public names on first use: each name is listed once (under
``TYPE_CHECKING``), resolves to the object its module defines, and importing a part of the
package imports nothing else of it."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from runtime.lazy import lazy_exports

PACKAGES = ["runtime", "runtime.executor", "runtime.worker", "ide_backend"]


@pytest.mark.parametrize("package", PACKAGES)
def test_every_listed_name_resolves_to_its_modules_object(package: str) -> None:
    module = __import__(package, fromlist=["_"])
    assert module.__all__ == sorted(module.__all__)
    assert sorted(dir(module)) == sorted(module.__all__)
    for name in module.__all__:
        assert getattr(module, name) is not None
    with pytest.raises(AttributeError, match="no attribute 'nothing_here'"):
        module.nothing_here  # noqa: B018


def test_names_come_from_the_type_checking_imports_only(tmp_path: Path) -> None:
    init = tmp_path / "__init__.py"
    init.write_text(
        textwrap.dedent(
            """
            from typing import TYPE_CHECKING
            import json
            if TYPE_CHECKING:
                from json import dumps as to_text, loads
            """
        )
    )
    namespace: dict[str, object] = {}
    getattr_, dir_, names = lazy_exports("pkg", str(init), namespace, "VERSION")
    assert names == ["VERSION", "loads", "to_text"] and dir_() == names
    import json

    assert getattr_("to_text") is json.dumps
    assert namespace["to_text"] is json.dumps  # kept: the next lookup is a plain global
    with pytest.raises(AttributeError):
        getattr_("json")


def test_a_part_of_a_package_imports_without_the_rest() -> None:
    code = textwrap.dedent(
        """
        import sys
        import runtime.executor.watchdog, runtime.worker.client
        heavy = [m for m in ("runtime.api", "runtime.executor.run", "runtime.worker._server")
                 if m in sys.modules]
        print(heavy)
        """
    )
    ran = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert ran.stdout.strip() == "[]"
