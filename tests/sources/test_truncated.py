"""A file cut short anywhere is an input error at its place, never a crash: every prefix of an
export and of a template is scanned."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.conftest import Result

EXPORT = json.dumps({"data": [{"id": "/subscriptions/s/resourceGroups/g/providers/Microsoft.DBforPostgreSQL/"
                                     "flexibleServers/a", "type": "microsoft.dbforpostgresql/flexibleservers",
                               "name": "a", "properties": {"state": "Ready"}}], "count": 1})
TEMPLATE = json.dumps({"$schema": "https://schema.management.azure.com/schemas/2019-04-01/deploymentTemplate.json#",
                       "contentVersion": "1.0.0.0", "resources": [
                           {"type": "Microsoft.DBforPostgreSQL/flexibleServers", "apiVersion": "2022-12-01",
                            "name": "a", "location": "westeurope", "properties": {}}]})


@pytest.mark.parametrize("text", [EXPORT, TEMPLATE], ids=["export", "template"])
def test_every_prefix_is_judged_or_an_input_error(cli: Callable[..., Result], tmp_path: Path, text: str) -> None:
    path = tmp_path / "cut.json"
    # Cut after each structural character and after each space: where one value ends or the
    # next should begin (a cut inside a word is the same case to the reader as one after it).
    for end in [i + 1 for i, char in enumerate(text[:-1]) if char in '{}[]:," ']:
        path.write_text(text[:end], encoding="utf-8")
        result = cli("scan", str(path), "--format", "json", "-q")
        assert "internal error" not in result.err and "Traceback" not in result.err, (end, result.err)
        assert result.code == 2, (end, text[:end], result.err)
        errors = json.loads(result.out)["scan"]["inputErrors"]
        assert errors and errors[0]["file"] == str(path) and errors[0]["line"] >= 1, (end, errors)
