"""The package's layering, checked from the source (run by ``make lint``).

``core`` and ``lang`` are pure: they import nothing that does I/O and no
process's package. The daemon (``northd``) is imported by nobody but the
command that starts it, and the gateway by no other CLI module. The code
cites no design file that is not in the repository.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[2] / "ovn_inject"
REPO = PACKAGE.parent

#: Modules whose import means I/O (or a process's own machinery).
IO_MODULES = {
    "asyncio",
    "fastapi",
    "http",
    "os",
    "ovs",
    "ovsdbapp",
    "selectors",
    "shutil",
    "starlette",
    "subprocess",
    "threading",
    "urllib",
    "uvicorn",
}
PROCESS_PACKAGES = {
    "cli", "daemonize", "db", "demo", "direct", "gate", "gateway", "launcher", "northd", "ofswitch",
    "sandbox", "units", "unixctl", "vlog",
}  # fmt: skip
PURE_PACKAGES = ("core", "lang")


def _imports(path: Path) -> set[str]:
    """Every module ``path`` imports, anywhere in it (lazy imports count too)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
    return found


def _modules(package: str) -> list[Path]:
    return sorted((PACKAGE / package).rglob("*.py"))


def _own_package(module: str) -> str | None:
    parts = module.split(".")
    return parts[1] if parts[0] == "ovn_inject" and len(parts) > 1 else None


def test_core_and_lang_import_no_io_and_no_process() -> None:
    problems = []
    for package in PURE_PACKAGES:
        for path in _modules(package):
            for module in _imports(path):
                if module.split(".")[0] in IO_MODULES or _own_package(module) in PROCESS_PACKAGES:
                    problems.append(f"{path.relative_to(REPO)} imports {module}")
    assert not problems, "\n".join(problems)


def test_lang_does_not_import_core() -> None:
    problems = [
        f"{path.relative_to(REPO)} imports {module}"
        for path in _modules("lang")
        for module in _imports(path)
        if _own_package(module) == "core"
    ]
    assert not problems, "\n".join(problems)


def test_only_the_northd_command_imports_the_daemon() -> None:
    launcher = PACKAGE / "cli" / "northd_cmd.py"
    problems = [
        f"{path.relative_to(REPO)} imports {module}"
        for path in sorted(PACKAGE.rglob("*.py"))
        if path != launcher and not path.is_relative_to(PACKAGE / "northd")
        for module in _imports(path)
        if _own_package(module) == "northd"
    ]
    assert not problems, "\n".join(problems)


def test_gateway_and_gate_import_no_cli_or_sandbox() -> None:
    problems = [
        f"{path.relative_to(REPO)} imports {module}"
        for package in ("gateway", "gate", "db", "ofswitch")
        for path in _modules(package)
        for module in _imports(path)
        if _own_package(module) in {"cli", "sandbox", "demo"}
    ]
    assert not problems, "\n".join(problems)


def test_the_launcher_imports_little_before_it_knows_where_the_command_runs() -> None:
    """The program's entry point: with OVN_INJECT_DAEMON set, a call imports neither click nor the CLI.

    Only in a function (``main``'s fallback: no daemon, or a command the daemon sends back) may it
    import the CLI, or the click-free flow-add.
    """
    path = PACKAGE / "launcher.py"
    tree = ast.parse(path.read_text(), str(path))
    light = {"__future__", "_socket", "os", "sys", "ovn_inject.cjson", "ovn_inject.constants"}

    def imported(nodes: list[ast.AST]) -> set[str]:
        found = set()
        for node in nodes:
            if isinstance(node, ast.Import):
                found.update(a.name for a in node.names)
            elif isinstance(node, ast.ImportFrom):
                found.add(node.module or "")
        return found

    top = imported(list(tree.body))
    anywhere = imported(list(ast.walk(tree)))
    assert top <= light, top - light
    later = {"gc", "ovn_inject.cli", "ovn_inject.direct.dispatch", "typing"}  # typing: for mypy only
    assert anywhere <= light | later, anywhere - light


def test_cited_documents_exist() -> None:
    """Comments may point at docs/*.md and schemas/, never at a file the repository lacks."""
    cited = re.compile(r"\b((?:docs/)?[\w.-]+\.md|schemas/[\w.-]+)\b")
    problems = []
    for path in sorted(PACKAGE.rglob("*.py")):
        for number, line in enumerate(path.read_text().splitlines(), 1):
            for name in cited.findall(line):
                if not (REPO / name).exists():
                    problems.append(f"{path.relative_to(REPO)}:{number} cites {name}, not in the repository")
    assert not problems, "\n".join(problems)


def test_the_cli_never_imports_the_gateway() -> None:
    """What the CLI shares with the gateway (dry runs, validation) lives in core or db.

    ``cli/gateway_cmd.py`` runs the gateway and ``cli/ofswitch_cmd.py`` the OpenFlow daemon, which
    keeps its connections in the gateway's state: they alone may.
    """
    problems = [
        f"{path.relative_to(REPO)} imports {module}"
        for path in _modules("cli")
        if path.name not in ("gateway_cmd.py", "ofswitch_cmd.py")
        for module in sorted(_imports(path))
        if _own_package(module) == "gateway"
    ]
    assert not problems, problems
