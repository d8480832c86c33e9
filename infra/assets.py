"""Where the deployable code lives on disk, and the placeholder that keeps synth offline."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]

# The Lambda runtime: the interpreter every test runs on (3.11), so what is tested is what runs.
# `make layer-deps` passes it to pip (pydantic-core ships per-version wheels) and `make build`
# precompiles our code's bytecode with it (bytecode is per-version too).
PYTHON_VERSION = "3.11"

# Packaging leftovers never ship, nor does `waterrev.local` (the local stack). Bytecode ships only
# from `make build` output, where it was compiled for the runtime; a source tree's stray .pyc never.
_LEFTOVERS = ("**/*.egg-info",)
_BYTECODE = ("**/__pycache__", "**/*.pyc")
_LOCAL = ("**/local", "**/local/**")

_DEPS_PLACEHOLDER = (
    "Placeholder written by infra/assets.py so that synth works before `make layer-deps` ran.\n"
    "Deploying this empty layer would break every function: `make deploy` builds it first.\n"
)


@dataclass(frozen=True)
class SourcePaths:
    """The folders the stack packages; tests point them at temporary copies."""

    functions: Path = REPO_ROOT / "functions"
    core_layer: Path = REPO_ROOT / "layers" / "core"
    deps_layer: Path = REPO_ROOT / "build" / "layers" / "deps"
    precompiled: bool = False

    @property
    def code_exclude(self) -> tuple[str, ...]:
        return _LEFTOVERS if self.precompiled else (*_LEFTOVERS, *_BYTECODE)

    @property
    def core_layer_exclude(self) -> tuple[str, ...]:
        return (*self.code_exclude, *_LOCAL)

    @classmethod
    def for_deploy(cls) -> SourcePaths:
        """`make build` output when present: the same code with precompiled bytecode, so a cold start
        does not compile our modules on Lambda's read-only file system; the sources otherwise."""
        built = REPO_ROOT / "build"
        if (built / "functions").is_dir() and (built / "layers" / "core" / "python").is_dir():
            return cls(functions=built / "functions", core_layer=built / "layers" / "core", precompiled=True)
        return cls()

    def function_code(self, function: str) -> Path:
        return self.functions / function


def ensure_deps_layer(path: Path) -> Path:
    """Return the dependencies layer folder, creating an empty layer layout if it is missing."""
    python_dir = path / "python"
    if not python_dir.is_dir():
        python_dir.mkdir(parents=True)
        (path / "README").write_text(_DEPS_PLACEHOLDER, encoding="utf-8")
    return path
