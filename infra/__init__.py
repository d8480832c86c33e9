"""CDK app for waterrev: see docs/INFRA.md."""
