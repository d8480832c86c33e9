"""Where the deployable code lives on disk, and the placeholder that keeps synth offline."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]

# The Lambda runtime the dependencies layer is built for: `make layer-deps` must pass
# `--python-version 3.12` to pip, because pydantic-core and friends ship per-version wheels.
PYTHON_VERSION = "3.12"

# Bytecode and packaging leftovers never ship; neither does `waterrev.local` (the local stack).
CODE_EXCLUDE = ("**/__pycache__", "**/*.pyc", "**/*.egg-info")
CORE_LAYER_EXCLUDE = (*CODE_EXCLUDE, "**/local", "**/local/**")

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

    def function_code(self, function: str) -> Path:
        return self.functions / function


def ensure_deps_layer(path: Path) -> Path:
    """Return the dependencies layer folder, creating an empty layer layout if it is missing."""
    python_dir = path / "python"
    if not python_dir.is_dir():
        python_dir.mkdir(parents=True)
        (path / "README").write_text(_DEPS_PLACEHOLDER, encoding="utf-8")
    return path
