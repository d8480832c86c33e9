"""The two Lambda layers every function carries: the waterrev core and its third-party dependencies."""

from __future__ import annotations

from aws_cdk import aws_lambda as lambda_
from constructs import Construct

from infra.assets import SourcePaths, ensure_deps_layer
from infra.constructs.function_factory import ARCHITECTURE, RUNTIME


class Layers(Construct):
    def __init__(self, scope: Construct, construct_id: str, *, paths: SourcePaths) -> None:
        super().__init__(scope, construct_id)
        self.core = lambda_.LayerVersion(
            self,
            "Core",
            code=lambda_.Code.from_asset(str(paths.core_layer), exclude=list(paths.core_layer_exclude)),
            compatible_runtimes=[RUNTIME],
            compatible_architectures=[ARCHITECTURE],
            description="waterrev domain, services, adapters and interface catalog",
        )
        self.deps = lambda_.LayerVersion(
            self,
            "Deps",
            code=lambda_.Code.from_asset(str(ensure_deps_layer(paths.deps_layer))),
            compatible_runtimes=[RUNTIME],
            compatible_architectures=[ARCHITECTURE],
            description="third-party packages from pyproject.toml, built for manylinux2014_aarch64",
        )

    @property
    def all(self) -> list[lambda_.ILayerVersion]:
        return [self.core, self.deps]
