"""A failed sign-in is one line, with what to do, exit code 3; the SDK's detail (each
credential's reason, what azure-identity logs) only under -v. Real azure-identity credentials:
DefaultAzureCredential where nothing can sign in (no variables, no Azure CLI, an empty HOME),
and a client secret that the loopback authority refuses."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import pytest

from policyengine.sources.azure.signin import sign_in_failure, sign_in_reason
from tests.azurefake.server import FakeAzure
from tests.conftest import Result

Cli = Callable[..., Result]
Start = Callable[..., FakeAzure]
CLIENT = "00000000-0000-0000-0000-00000000c1d0"
#: What lets a credential of DefaultAzureCredential's chain find something to sign in with.
FOUND_BY = ("POLICYENGINE_ACCESS_TOKEN", "AZURE_CLIENT_ID", "AZURE_TENANT_ID", "AZURE_CLIENT_SECRET",
            "AZURE_CLIENT_CERTIFICATE_PATH", "AZURE_USERNAME", "AZURE_PASSWORD", "AZURE_FEDERATED_TOKEN_FILE",
            "AZURE_AUTHORITY_HOST", "IDENTITY_ENDPOINT", "IDENTITY_HEADER", "MSI_ENDPOINT", "MSI_SECRET",
            "IMDS_ENDPOINT", "AZURE_POD_IDENTITY_AUTHORITY_HOST", "AZURE_TOKEN_CREDENTIALS")
NO_CREDENTIAL = ("policyengine: cannot sign in to Azure (DefaultAzureCredential): no credential available — "
                 "run 'az login', or set AZURE_CLIENT_ID/AZURE_TENANT_ID/AZURE_CLIENT_SECRET")


@pytest.fixture
def nothing_to_sign_in_with(azure_env: Start, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> FakeAzure:
    """The fake Azure, and an environment where no credential finds anything: no variables,
    no Azure CLI, PowerShell or azd on PATH, an empty HOME (no token cache)."""
    fake = azure_env()
    for name in FOUND_BY:
        monkeypatch.delenv(name, raising=False)
    (tmp_path / "bin").mkdir()
    monkeypatch.setenv("PATH", str(tmp_path / "bin"))
    monkeypatch.setenv("HOME", str(tmp_path))
    return fake


@pytest.fixture
def client_secret(azure_env: Start, monkeypatch: pytest.MonkeyPatch) -> Callable[[str], FakeAzure]:
    """The fake Azure as the sign-in authority too, granting a token for the secret "right";
    the service principal's variables set, with the secret given."""

    def start(secret: str) -> FakeAzure:
        fake = azure_env(client_secret="right")
        monkeypatch.delenv("POLICYENGINE_ACCESS_TOKEN")
        monkeypatch.setenv("AZURE_AUTHORITY_HOST", fake.endpoint)
        monkeypatch.setenv("AZURE_TENANT_ID", "contoso")
        monkeypatch.setenv("AZURE_CLIENT_ID", CLIENT)
        monkeypatch.setenv("AZURE_CLIENT_SECRET", secret)
        return fake

    return start


def test_no_credential_available_is_one_line(cli: Cli, nothing_to_sign_in_with: FakeAzure) -> None:
    result = cli("scan", "--azure", "--timeout", "3")
    assert result.code == 3 and result.out == ""
    assert result.err == NO_CREDENTIAL + "; -v shows each credential's reason\n"
    assert nothing_to_sign_in_with.count("GET", ".") == 0  # no token, no request


def test_verbose_shows_each_credentials_reason(cli: Cli, nothing_to_sign_in_with: FakeAzure) -> None:
    result = cli("scan", "--azure", "--timeout", "3", "-v")
    assert result.code == 3
    lines = result.err.splitlines()
    assert lines[-1] == NO_CREDENTIAL
    detail = "\n".join(lines[:-1])
    assert "Attempted credentials:" in detail
    assert re.search(r"^ +EnvironmentCredential: .*unavailable", detail, re.MULTILINE)
    assert re.search(r"^ +AzureCliCredential: ", detail, re.MULTILINE)
    # The SDK's log, through one handler: its records named, its tabs made spaces.
    assert lines[0].startswith("policyengine: azure.identity.") and "\t" not in result.err


def test_doctor_says_no_credential_in_its_sign_in_line(cli: Cli, nothing_to_sign_in_with: FakeAzure) -> None:
    result = cli("doctor", "--azure", "--timeout", "3")
    assert result.code == 3
    sign_in = result.out.splitlines()[0]
    assert sign_in.startswith("FAIL  sign-in: no token for ") and "no credential available — fix: " in sign_in
    assert "Attempted credentials" not in result.out + result.err  # the SDK's log stays quiet


def test_a_refused_client_secret_is_one_line(cli: Cli, client_secret: Callable[[str], FakeAzure]) -> None:
    client_secret("not-the-secret")
    result = cli("scan", "--azure", "--auth", "env", "--timeout", "5")
    assert result.code == 3 and result.out == ""
    assert result.err == (
        "policyengine: cannot sign in to Azure (EnvironmentCredential): AADSTS7000215: Invalid client "
        "secret provided. — check AZURE_CLIENT_ID/AZURE_TENANT_ID/AZURE_CLIENT_SECRET (the secret's value, "
        "not its id); -v shows the SDK's detail\n")


def test_verbose_shows_the_authoritys_answer(cli: Cli, client_secret: Callable[[str], FakeAzure]) -> None:
    client_secret("not-the-secret")
    result = cli("scan", "--azure", "--auth", "env", "--timeout", "5", "-v")
    assert result.code == 3
    assert "Trace ID: " in result.err and "Ensure the secret being sent" in result.err
    assert "\r" not in result.err and "\t" not in result.err
    assert result.err.splitlines()[-1].startswith("policyengine: cannot sign in to Azure (EnvironmentCredential)")
    assert "not-the-secret" not in result.err


def test_the_right_client_secret_signs_in_at_the_authority_given(
        cli: Cli, client_secret: Callable[[str], FakeAzure]) -> None:
    fake = client_secret("right")
    result = cli("scan", "--azure", "--auth", "env", "--format", "json", "--timeout", "5")
    assert result.code in (0, 1), result.err
    assert fake.count("GET", r"^/subscriptions$") == 1


def test_default_credential_names_the_credential_refused(cli: Cli, client_secret: Callable[[str], FakeAzure],
                                                          monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    client_secret("not-the-secret")
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("PATH", str(tmp_path))
    result = cli("scan", "--azure", "--timeout", "5")
    assert result.code == 3
    assert result.err == (
        "policyengine: cannot sign in to Azure (DefaultAzureCredential): EnvironmentCredential: AADSTS7000215: "
        "Invalid client secret provided. — check AZURE_CLIENT_ID/AZURE_TENANT_ID/AZURE_CLIENT_SECRET (the "
        "secret's value, not its id); -v shows each credential's reason\n")


def test_a_chain_names_the_credential_that_was_refused(client_secret: Callable[[str], FakeAzure],
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    """In a chain, one credential that tried and was refused is the news, not the others that
    had nothing to try with."""
    from azure.core.exceptions import ClientAuthenticationError
    from azure.identity import ChainedTokenCredential, ClientSecretCredential, EnvironmentCredential

    for name in FOUND_BY:
        monkeypatch.delenv(name, raising=False)
    unconfigured = EnvironmentCredential()  # reads the variables now: there are none
    fake = client_secret("wrong")
    refused = ClientSecretCredential("contoso", CLIENT, "wrong", authority=fake.endpoint,
                                     disable_instance_discovery=True)
    chain = ChainedTokenCredential(unconfigured, refused)
    with pytest.raises(ClientAuthenticationError) as caught:
        chain.get_token("https://management.azure.com/.default")
    assert sign_in_reason(caught.value).startswith(
        "ClientSecretCredential: AADSTS7000215: Invalid client secret provided.")
    assert sign_in_failure(caught.value, "ChainedTokenCredential", verbose=True).endswith(
        "Invalid client secret provided. — run 'az login' (or choose a credential with --auth), or put a "
        "token in POLICYENGINE_ACCESS_TOKEN")
