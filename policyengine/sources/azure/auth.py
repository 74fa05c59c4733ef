"""Clouds, endpoints and credentials for live scans.

Any object with ``get_token(*scopes, **kwargs) -> AccessToken`` is a credential for the
Azure SDK; azure-identity's are imported only when chosen.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlparse

from policyengine.errors import UsageError

TOKEN_ENV = "POLICYENGINE_ACCESS_TOKEN"
ENDPOINT_ENV = "POLICYENGINE_ARM_ENDPOINT"


@dataclass(frozen=True)
class Cloud:
    name: str
    arm_endpoint: str
    authority: str

    @property
    def audience(self) -> str:
        """The token scope for ARM (and Resource Graph, which ARM serves)."""
        return self.arm_endpoint.rstrip("/") + "/.default"


# ARM endpoints and authorities of the national clouds
# (https://learn.microsoft.com/azure/azure-government/compare-azure-government-global-azure,
#  https://learn.microsoft.com/azure/china/resources-developer-guide).
CLOUDS = {
    "AzureCloud": Cloud("AzureCloud", "https://management.azure.com", "login.microsoftonline.com"),
    "AzureChinaCloud": Cloud("AzureChinaCloud", "https://management.chinacloudapi.cn",
                             "login.chinacloudapi.cn"),
    "AzureUSGovernment": Cloud("AzureUSGovernment", "https://management.usgovcloudapi.net",
                               "login.microsoftonline.us"),
}
AUTH_MODES = ("default", "cli", "env", "managed-identity", "device-code")


def resolve_cloud(name: str, endpoint: str | None) -> Cloud:
    """The cloud, with its ARM endpoint overridden by ``--arm-endpoint`` or the environment."""
    cloud = CLOUDS[name]
    endpoint = endpoint or os.environ.get(ENDPOINT_ENV)
    if not endpoint:
        return cloud
    parsed = urlparse(endpoint)
    if parsed.scheme != "https" or not parsed.netloc:
        # Bearer tokens are only ever sent over TLS (azure-core refuses http:// too).
        raise UsageError(f"the ARM endpoint must be an https:// URL, not {endpoint!r}")
    return Cloud(cloud.name, endpoint.rstrip("/"), cloud.authority)


class StaticTokenCredential:
    """A bearer token obtained elsewhere (a pipeline's ``az account get-access-token``)."""

    def __init__(self, token: str, lifetime: int = 3600) -> None:
        self._token = token
        self._expires = int(time.time()) + lifetime

    def get_token(self, *scopes: str, **kwargs: Any) -> Any:
        from azure.core.credentials import AccessToken

        return AccessToken(self._token, self._expires)

    def __repr__(self) -> str:  # never show the token
        return "StaticTokenCredential(<redacted>)"


#: The SDK's variable for the sign-in authority (a national cloud's, Azure Stack's).
AUTHORITY_ENV = "AZURE_AUTHORITY_HOST"


def make_credential(mode: str, cloud: Cloud) -> Any:
    """The credential for ``--auth MODE``; a token in POLICYENGINE_ACCESS_TOKEN wins. The
    authority is the cloud's, or ``AZURE_AUTHORITY_HOST`` if set (as the SDK itself reads it)."""
    token = os.environ.get(TOKEN_ENV)
    if token:
        return StaticTokenCredential(token.strip())
    from azure import identity

    authority = os.environ.get(AUTHORITY_ENV) or cloud.authority
    # Instance discovery asks Microsoft whether it knows the authority, which it cannot for
    # an authority of one's own (Azure Stack Hub): one set by hand is taken as given.
    known = urlparse(authority if "//" in authority else f"https://{authority}").hostname in {
        c.authority for c in CLOUDS.values()}
    options: dict[str, Any] = {"authority": authority}
    if not known:
        options["disable_instance_discovery"] = True
    if mode == "cli":
        return identity.AzureCliCredential()
    if mode == "env":
        return identity.EnvironmentCredential(**options)
    if mode == "managed-identity":
        return identity.ManagedIdentityCredential()
    if mode == "device-code":
        return identity.DeviceCodeCredential(**options)
    return identity.DefaultAzureCredential(**options)


def credential_name(credential: Any) -> str:
    """What the sign-in used, for a message: the credential's class, or the variable the
    token came from."""
    if isinstance(credential, StaticTokenCredential):
        return TOKEN_ENV
    return type(credential).__name__
