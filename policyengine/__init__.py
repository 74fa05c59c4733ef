"""policyengine: policy-as-code security evaluation for Azure Database for PostgreSQL."""

__version__ = "0.1.0"
