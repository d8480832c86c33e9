"""CDK entry point: `python3 infra/app.py` (what cdk.json runs) synthesizes into CDK_OUTDIR or cdk.out."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

_REPO_ROOT = Path(__file__).resolve().parents[1]
# Run as a script, Python puts infra/ first on sys.path, where infra/constructs would shadow the
# `constructs` library that aws_cdk imports: the repo root takes its place. The catalog is read
# from the layer's source folder, so synth needs no installed waterrev package.
if sys.path and Path(sys.path[0]).resolve() == _REPO_ROOT / "infra":
    sys.path[0] = str(_REPO_ROOT)
for _path in (str(_REPO_ROOT), str(_REPO_ROOT / "layers" / "core" / "python")):
    if _path not in sys.path:
        sys.path.insert(0, _path)

from aws_cdk import App  # noqa: E402

from infra.assets import SourcePaths  # noqa: E402
from infra.nag import add_checks  # noqa: E402
from infra.stack import WaterRevStack  # noqa: E402
from waterrev import catalog  # noqa: E402

ENV_CONTEXT_KEY = "waterrev:env"


def cdk_json_context() -> dict[str, object]:
    """The context block of cdk.json, so that a plain `python3 infra/app.py` sees the same feature
    flags as the CDK CLI (which passes them through the environment instead)."""
    context = json.loads((_REPO_ROOT / "cdk.json").read_text(encoding="utf-8")).get("context", {})
    return dict(context)


def build_app(outdir: str | None = None, *, paths: SourcePaths | None = None) -> tuple[App, WaterRevStack]:
    app = App(outdir=outdir, context=cdk_json_context())
    env_name = str(app.node.try_get_context(ENV_CONTEXT_KEY) or "dev")
    stack = WaterRevStack(
        app,
        f"WaterRev-{env_name}",
        env_name=env_name,
        interfaces=catalog.built(),
        paths=paths or SourcePaths.for_deploy(),
        description="waterrev: water-utility revenue platform (HTTP API, Lambda, Aurora PostgreSQL)",
    )
    add_checks(app)
    return app, stack


def main() -> None:
    app, _ = build_app(os.environ.get("CDK_OUTDIR") or str(_REPO_ROOT / "cdk.out"))
    app.synth()


if __name__ == "__main__":
    main()
