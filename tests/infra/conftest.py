"""Synthesize the CDK app once per session (a synth costs seconds) and share the result."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
for _path in (str(REPO_ROOT), str(REPO_ROOT / "layers" / "core" / "python")):
    if _path not in sys.path:
        sys.path.insert(0, _path)
os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")

from aws_cdk import App  # noqa: E402
from aws_cdk.assertions import Template  # noqa: E402

from infra.app import build_app  # noqa: E402
from infra.assets import SourcePaths  # noqa: E402
from infra.stack import WaterRevStack  # noqa: E402
from waterrev import catalog  # noqa: E402


@dataclass(frozen=True)
class Synth:
    app: App
    stack: WaterRevStack
    template: Template
    outdir: Path
    synth_error: str | None  # what app.synth() raised: validation plugins (cdk-nag) failing


def _functions_dir(tmp: Path, interfaces: Sequence[catalog.Interface]) -> Path:
    """The real functions/ once every built interface has its folder; stub handlers until then."""
    real = REPO_ROOT / "functions"
    folders = [i.function for i in interfaces if i.function]
    if all((real / f / "handler.py").is_file() for f in folders):
        return real
    for folder in folders:
        (tmp / folder).mkdir(parents=True)
        (tmp / folder / "handler.py").write_text("def handler(event, context):\n    return {}\n")
    return tmp


@pytest.fixture(scope="session")
def synth(tmp_path_factory: pytest.TempPathFactory) -> Synth:
    src = tmp_path_factory.mktemp("src")
    # A fresh, empty deps layer: packaging a real one (tens of MB) would only slow the suite down.
    paths = SourcePaths(
        functions=_functions_dir(src / "functions", catalog.built()),
        deps_layer=src / "deps",
    )
    outdir = tmp_path_factory.mktemp("cdk.out")
    app, stack = build_app(str(outdir), paths=paths)
    try:
        app.synth()
        error = None
    except RuntimeError as exc:  # the templates are written before the validation plugins run
        error = str(exc)
    template_json = json.loads((outdir / stack.template_file).read_text(encoding="utf-8"))
    return Synth(app, stack, Template.from_json(with_nested(outdir, stack, template_json)), outdir, error)


def _substitute(value: Any, parameters: dict[str, Any]) -> Any:
    if isinstance(value, dict):
        if set(value) == {"Ref"} and value["Ref"] in parameters:
            return parameters[value["Ref"]]
        return {k: _substitute(v, parameters) for k, v in value.items()}
    if isinstance(value, list):
        return [_substitute(v, parameters) for v in value]
    return value


def with_nested(outdir: Path, stack: Any, template_json: dict[str, Any]) -> dict[str, Any]:
    """The stack's template with its nested stacks' resources folded in, as one template would hold them:
    a nested stack's parameter references become the parent's expressions it is passed, and its resources
    wait for what the nested stack resource waits for. The assertions then read the deployed shape
    whichever stack a resource lives in (the API's routes sit in a nested stack: 500 resources a stack)."""
    assets = json.loads((outdir / f"{stack.artifact_id}.assets.json").read_text(encoding="utf-8"))
    files = {h: f["source"]["path"] for h, f in assets.get("files", {}).items()}
    resources = template_json["Resources"]
    for logical_id, nested in list(resources.items()):
        if nested["Type"] != "AWS::CloudFormation::Stack":
            continue
        url = json.dumps(nested["Properties"]["TemplateURL"])
        (path,) = (p for h, p in files.items() if h in url)
        inner = json.loads((outdir / path).read_text(encoding="utf-8"))
        parameters = nested["Properties"].get("Parameters", {})
        for inner_id, resource in inner["Resources"].items():
            assert inner_id not in resources, inner_id
            folded = _substitute(resource, parameters)
            folded["DependsOn"] = sorted(
                {*folded.get("DependsOn", []), *nested.get("DependsOn", []), logical_id}
            )
            resources[inner_id] = folded
    return template_json


@pytest.fixture(scope="session")
def template(synth: Synth) -> Template:
    return synth.template
