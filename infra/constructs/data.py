"""Network and database: a VPC, Aurora PostgreSQL Serverless v2 and an RDS Proxy."""

from __future__ import annotations

from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_logs as logs
from aws_cdk import aws_rds as rds
from aws_cdk import aws_secretsmanager as secretsmanager
from constructs import Construct

DB_NAME = "waterrev"
DB_PORT = 5432
DB_ADMIN_USER = "waterrev_admin"
HTTPS_PORT = 443
ISOLATED_SUBNETS = "isolated"
PUBLIC_SUBNETS = "public"
EGRESS_SUBNETS = "egress"
# One NAT gateway for both AZs: the egress functions lose the internet (not the database) while its
# AZ is down. Set it to the number of AZs for one per AZ; each egress subnet then routes to its own.
NAT_GATEWAYS = 1


class Data(Construct):
    """Everything a function needs to reach PostgreSQL, and the one way out to the internet.

    The database and almost every function sit in isolated subnets (no route out): the AWS APIs
    they call are served by interface endpoints. The path to the database is Lambda SG -> Proxy
    SG -> DB SG, on 5432 only. The few functions that call SYS-009 run in the egress subnets
    (through the NAT gateway) and add `egress_sg`, which allows HTTPS out and nothing else.
    """

    def __init__(self, scope: Construct, construct_id: str, *, env_name: str) -> None:
        super().__init__(scope, construct_id)
        self.db_name = DB_NAME
        self.vpc = self._vpc()
        self.subnets = ec2.SubnetSelection(subnet_group_name=ISOLATED_SUBNETS)
        self.egress_subnets = ec2.SubnetSelection(subnet_group_name=EGRESS_SUBNETS)

        self.lambda_sg = self._security_group("LambdaSg", "Lambda functions: out to the proxy and endpoints")
        proxy_sg = self._security_group("ProxySg", "RDS Proxy: in from functions, out to the cluster")
        db_sg = self._security_group("DbSg", "Aurora cluster: in from the proxy and secret rotation")
        rotation_sg = self._security_group("RotationSg", "Secret rotation: out to the cluster and endpoint")
        endpoint_sg = self._security_group("EndpointSg", "Secrets Manager endpoint: in over HTTPS")
        self.egress_sg = self._security_group("EgressSg", "SYS-009 callers: out over HTTPS only")
        # SYS-009 publishes a host name, not an address range; TLS (and the request signature)
        # authenticate the far end, so the rule can name the port but not the peer.
        self.egress_sg.add_egress_rule(ec2.Peer.any_ipv4(), ec2.Port.tcp(HTTPS_PORT), "HTTPS to SYS-009")

        self.secrets_endpoint = self.vpc.add_interface_endpoint(
            "SecretsManager",
            service=ec2.InterfaceVpcEndpointAwsService.SECRETS_MANAGER,
            subnets=self.subnets,
            security_groups=[endpoint_sg],
            open=False,
        )
        self.secrets_endpoint.connections.allow_default_port_from(
            self.lambda_sg, "functions read the DB secret"
        )
        self.secrets_endpoint.connections.allow_default_port_from(
            rotation_sg, "rotation updates the DB secret"
        )

        self.cluster = self._cluster(env_name, db_sg)
        self.secret: secretsmanager.ISecret = self._required_secret()
        self.cluster.add_rotation_single_user(
            automatically_after=Duration.days(30),
            vpc_subnets=self.subnets,
            endpoint=self.secrets_endpoint,
            security_group=rotation_sg,
        )

        self.proxy = self.cluster.add_proxy(
            "Proxy",
            secrets=[self.secret],
            vpc=self.vpc,
            vpc_subnets=self.subnets,
            security_groups=[proxy_sg],
            require_tls=True,
            # Functions log in with the secret's credentials; see docs/INFRA.md to move to IAM auth.
            iam_auth=False,
            idle_client_timeout=Duration.minutes(15),
        )
        proxy_sg.connections.allow_from(self.lambda_sg, ec2.Port.tcp(DB_PORT), "functions to proxy")

    @property
    def db_host(self) -> str:
        return self.proxy.endpoint

    def _vpc(self) -> ec2.Vpc:
        vpc = ec2.Vpc(
            self,
            "Vpc",
            ip_addresses=ec2.IpAddresses.cidr("10.40.0.0/16"),
            max_azs=2,
            nat_gateways=NAT_GATEWAYS,
            # Subnet CIDRs are allocated in this order: the isolated group stays first so its
            # subnets keep 10.40.0.0/22 and 10.40.4.0/22 (the database and endpoints live there).
            subnet_configuration=[
                ec2.SubnetConfiguration(
                    name=ISOLATED_SUBNETS, subnet_type=ec2.SubnetType.PRIVATE_ISOLATED, cidr_mask=22
                ),
                # Holds the NAT gateway only; nothing launched here gets a public address.
                ec2.SubnetConfiguration(
                    name=PUBLIC_SUBNETS,
                    subnet_type=ec2.SubnetType.PUBLIC,
                    cidr_mask=24,
                    map_public_ip_on_launch=False,
                ),
                ec2.SubnetConfiguration(
                    name=EGRESS_SUBNETS, subnet_type=ec2.SubnetType.PRIVATE_WITH_EGRESS, cidr_mask=22
                ),
            ],
        )
        # Rejected flows only: the record that matters when a security group blocks a path,
        # without paying to ingest every accepted packet.
        vpc.add_flow_log(
            "FlowLog",
            destination=ec2.FlowLogDestination.to_cloud_watch_logs(
                logs.LogGroup(self, "FlowLogs", retention=logs.RetentionDays.ONE_MONTH)
            ),
            traffic_type=ec2.FlowLogTrafficType.REJECT,
        )
        return vpc

    def _security_group(self, construct_id: str, description: str) -> ec2.SecurityGroup:
        return ec2.SecurityGroup(
            self, construct_id, vpc=self.vpc, description=description, allow_all_outbound=False
        )

    def _cluster(self, env_name: str, db_sg: ec2.SecurityGroup) -> rds.DatabaseCluster:
        cluster_identifier = f"waterrev-{env_name}"
        # Created by us, not by RDS on first export, so that it has a retention period.
        postgres_logs = logs.LogGroup(
            self,
            "PostgresLogs",
            log_group_name=f"/aws/rds/cluster/{cluster_identifier}/postgresql",
            retention=logs.RetentionDays.THREE_MONTHS,
        )
        cluster = rds.DatabaseCluster(
            self,
            "Cluster",
            engine=rds.DatabaseClusterEngine.aurora_postgres(
                version=rds.AuroraPostgresEngineVersion.VER_16_11
            ),
            cluster_identifier=cluster_identifier,
            default_database_name=DB_NAME,
            credentials=rds.Credentials.from_generated_secret(DB_ADMIN_USER),
            writer=rds.ClusterInstance.serverless_v2("Writer"),
            # 0.5 ACU floor: auto-pause (0 ACU) does not happen behind RDS Proxy, which keeps connections.
            serverless_v2_min_capacity=0.5,
            serverless_v2_max_capacity=4,
            vpc=self.vpc,
            vpc_subnets=self.subnets,
            security_groups=[db_sg],
            port=DB_PORT,
            storage_encrypted=True,
            deletion_protection=True,
            iam_authentication=True,
            backup=rds.BackupProps(retention=Duration.days(14), preferred_window="18:00-19:00"),
            preferred_maintenance_window="sun:19:00-sun:20:00",
            cloudwatch_logs_exports=["postgresql"],
            removal_policy=RemovalPolicy.SNAPSHOT,
        )
        cluster.node.add_dependency(postgres_logs)
        return cluster

    def _required_secret(self) -> secretsmanager.ISecret:
        secret = self.cluster.secret
        if secret is None:
            raise RuntimeError("the cluster was created without generated credentials")
        return secret
