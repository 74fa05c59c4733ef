"""Live Azure: Resource Graph queries and ARM reads with the real Azure SDK clients.

Nothing here is imported by an offline scan or ``--help``: the CLI imports it only for
``--azure`` (docs/architecture.md, "Bars": start-up imports no Azure SDK).
"""
