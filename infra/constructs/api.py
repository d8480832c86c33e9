"""The HTTP API: one function per built catalog interface, one route per catalog route."""

from __future__ import annotations

import json
from collections.abc import Collection, Mapping, Sequence

import jsii
from aws_cdk import Fn, NestedStack, Stack
from aws_cdk import aws_apigateway as apigw
from aws_cdk import aws_apigatewayv2 as apigwv2
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_secretsmanager as secretsmanager
from constructs import Construct

from infra.constructs.function_factory import FunctionFactory, FunctionSettings, InterfaceSpec, RouteSpec
from infra.nag import acknowledge

THROTTLE_RATE_PER_S = 50
THROTTLE_BURST = 100
# Routes without a token (login, token refresh, channel login) are what a credential-stuffing script
# calls: each is throttled on its own, well below the stage, so it cannot starve the signed-in routes.
PUBLIC_RATE_PER_S = 10
PUBLIC_BURST = 20

# Why each caller kind's routes carry no API Gateway authorizer (cdk-nag AwsSolutions-APIG4).
_NO_AUTHORIZER_REASON = {
    "public": "Public by design (login, token refresh, channel login): no credential exists yet. The "
    "stage throttles it and the function audits every attempt.",
    "admin": "Authorized in the function: the catalog marks the route 'admin', and the auth middleware "
    "checks the back-office bearer token (stored hashed in PostgreSQL), the route's permission and the "
    "department data scope. An API Gateway authorizer would duplicate that lookup on every call.",
    "customer": "Authorized in the function: the catalog marks the route 'customer', and the auth "
    "middleware checks the customer-channel bearer token (stored hashed in PostgreSQL) and limits "
    "results to the customer's bound accounts.",
    "webhook": "Called by an outside payment or invoice platform that cannot hold our tokens: the "
    "function verifies the platform's signature over the raw body and a replay window.",
}

_ACCESS_LOG_FIELDS = {
    "requestId": "$context.requestId",
    "ip": "$context.identity.sourceIp",
    "requestTime": "$context.requestTime",
    "routeKey": "$context.routeKey",
    "path": "$context.path",
    "status": "$context.status",
    "protocol": "$context.protocol",
    "responseLength": "$context.responseLength",
    "responseLatency": "$context.responseLatency",
    "integrationError": "$context.integrationErrorMessage",
}


@jsii.implements(apigwv2.IAccessLogSettings)
class _AccessLogSettings:
    def __init__(self, log_group: logs.ILogGroup) -> None:
        self._destination = apigwv2.LogGroupLogDestination(log_group)

    @property
    def destination(self) -> apigwv2.IAccessLogDestination:
        return self._destination

    @property
    def format(self) -> apigw.AccessLogFormat:
        return apigw.AccessLogFormat.custom(json.dumps(_ACCESS_LOG_FIELDS))


class Api(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        env_name: str,
        interfaces: Sequence[InterfaceSpec],
        function_settings: FunctionSettings,
        interface_secrets: Mapping[str, Mapping[str, secretsmanager.ISecret]],
        egress_interfaces: Collection[str] = (),
    ) -> None:
        """`egress_interfaces`: the interfaces whose functions call outside systems (FunctionFactory's
        `egress`); every other function stays isolated."""
        super().__init__(scope, construct_id)
        self._interfaces = {i.if_id: i for i in interfaces}
        self._public_routes: dict[str, apigwv2.HttpRoute] = {}
        self.http_api = apigwv2.HttpApi(
            self, "HttpApi", api_name=f"waterrev-{env_name}", create_default_stage=False
        )
        access_logs = logs.LogGroup(self, "AccessLogs", retention=logs.RetentionDays.THREE_MONTHS)
        self.stage = apigwv2.HttpStage(
            self,
            "DefaultStage",
            http_api=self.http_api,
            stage_name="$default",
            auto_deploy=True,
            throttle=apigwv2.ThrottleSettings(rate_limit=THROTTLE_RATE_PER_S, burst_limit=THROTTLE_BURST),
            access_log_settings=_AccessLogSettings(access_logs),
        )

        # The routes and their integrations live in a nested stack: CloudFormation allows 500 resources a
        # stack, and a route per catalog route (over a hundred) with an integration per function would take
        # the stack past it. References to the API and the functions become the nested stack's parameters.
        self._routes_scope = NestedStack(
            self, "Routes", description="waterrev HTTP API routes and integrations"
        )
        factory = FunctionFactory(Construct(self, "Functions"), function_settings)
        self.functions: dict[str, lambda_.Function] = {}
        for interface in interfaces:
            fn = factory.create(
                interface,
                secrets=interface_secrets.get(interface.if_id),
                egress=interface.if_id in egress_interfaces,
            )
            self.functions[interface.if_id] = fn
            integration = _OnePermissionIntegration(
                f"{interface.if_id}-Integration",
                fn,
                payload_format_version=apigwv2.PayloadFormatVersion.VERSION_2_0,
            )
            # One invoke permission per function for this API (not one per route, as the stock integration
            # adds): CloudFormation allows 500 resources a stack, and a permission per route was 91 of them.
            fn.add_permission(
                "ApiInvoke",
                principal=iam.ServicePrincipal("apigateway.amazonaws.com"),
                source_arn=Stack.of(self).format_arn(
                    service="execute-api", resource=self.http_api.api_id, resource_name="*"
                ),
            )
            for route in interface.routes:
                self._add_route(route, integration)
        self._throttle_public_routes()

    @property
    def url(self) -> str:
        return self.stage.url

    def route_url(
        self, if_id: str, method: str = "POST", caller: str | None = None, path: str | None = None
    ) -> str:
        """The public URL of an interface's route (the one with `method`, and `caller` or `path` when it
        has several), for an outside platform to call.

        Built from the API's endpoint, not from the stage or a route: a function that carries it
        then depends on the HttpApi alone, which depends on no function, so no cycle can form.
        """
        (path,) = {
            r.path
            for r in self._interfaces[if_id].routes
            if r.method == method
            and (caller is None or str(r.caller) == caller)
            and (path is None or r.path == path)
        }
        return Fn.join("", [self.http_api.api_endpoint, path])

    def _add_route(self, route: RouteSpec, integration: apigwv2.HttpRouteIntegration) -> None:
        http_route = apigwv2.HttpRoute(
            self._routes_scope,
            f"{route.method}{route.path}",
            http_api=self.http_api,
            route_key=apigwv2.HttpRouteKey.with_(route.path, apigwv2.HttpMethod(route.method)),
            integration=integration,
        )
        acknowledge(http_route, "AwsSolutions-APIG4", _NO_AUTHORIZER_REASON[str(route.caller)])
        if str(route.caller) == "public":
            self._public_routes[f"{route.method} {route.path}"] = http_route

    def _throttle_public_routes(self) -> None:
        """Stage route settings for each public route; the stage waits for those routes (a route setting
        naming a route that does not exist yet fails the deployment)."""
        if not self._public_routes:
            return
        stage = self.stage.node.default_child
        assert isinstance(stage, apigwv2.CfnStage)
        stage.route_settings = {
            key: {"ThrottlingBurstLimit": PUBLIC_BURST, "ThrottlingRateLimit": PUBLIC_RATE_PER_S}
            for key in sorted(self._public_routes)
        }
        for http_route in self._public_routes.values():
            stage.node.add_dependency(http_route)


class _OnePermissionIntegration(apigwv2.HttpRouteIntegration):
    """A Lambda proxy integration (payload 2.0) without the stock integration's per-route invoke
    permission: the Api construct grants one per function, one resource instead of one per route."""

    def __init__(
        self,
        integration_id: str,
        handler: lambda_.IFunction,
        *,
        payload_format_version: apigwv2.PayloadFormatVersion,
    ) -> None:
        super().__init__(integration_id)
        self._handler = handler
        self._payload = payload_format_version

    def bind(self, *, route: apigwv2.IHttpRoute, scope: Construct) -> apigwv2.HttpRouteIntegrationConfig:
        return apigwv2.HttpRouteIntegrationConfig(
            type=apigwv2.HttpIntegrationType.AWS_PROXY,
            uri=self._handler.function_arn,
            payload_format_version=self._payload,
        )
