"""CIDR functions: https://learn.microsoft.com/azure/azure-resource-manager/templates/template-functions-cidr

As documented: an IPv4 range's usable hosts exclude the network and broadcast addresses
(``cidrHost('192.168.1.0/24', 0)`` is ``192.168.1.1``); an IPv6 range has no broadcast and its
``firstUsable`` is the network address, yet ``cidrHost`` still starts after it.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from policyengine.sources.arm.values import FunctionError, need_int, need_str

if TYPE_CHECKING:
    from policyengine.sources.arm.evaluator import Evaluator

Args = Sequence[Any]
Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def _network(value: Any) -> Network:
    text = need_str(value, "network")
    if "/" not in text:
        raise FunctionError(f"{text!r} is not in CIDR notation (address/prefix)")
    try:
        return ipaddress.ip_network(text.strip(), strict=False)
    except ValueError as exc:
        raise FunctionError(f"{text!r} is not in CIDR notation: {exc}") from None


def parse_cidr(_: Evaluator, args: Args) -> dict[str, Any]:
    net = _network(args[0])
    out: dict[str, Any] = {"network": str(net.network_address), "netmask": str(net.netmask)}
    if net.version == 4:
        small = net.prefixlen >= 31  # point-to-point and host routes have no network or broadcast to skip
        out["broadcast"] = str(net.broadcast_address)
        out["firstUsable"] = str(net.network_address + (0 if small else 1))
        out["lastUsable"] = str(net.broadcast_address - (0 if small else 1))
    else:
        out["firstUsable"] = str(net.network_address)
        out["lastUsable"] = str(net.broadcast_address)
    out["cidr"] = net.prefixlen
    return out


def cidr_subnet(_: Evaluator, args: Args) -> str:
    net = _network(args[0])
    prefix, index = need_int(args[1], "newCIDR"), need_int(args[2], "subnetIndex")
    if not net.prefixlen <= prefix <= net.max_prefixlen:
        raise FunctionError(f"newCIDR must be from {net.prefixlen} to {net.max_prefixlen}, not {prefix}")
    count = 1 << (prefix - net.prefixlen)
    if not 0 <= index < count:
        raise FunctionError(f"subnetIndex must be from 0 to {count - 1}, not {index}")
    start = net.network_address + index * (1 << (net.max_prefixlen - prefix))
    return f"{start}/{prefix}"


def cidr_host(_: Evaluator, args: Args) -> str:
    net = _network(args[0])
    index = need_int(args[1], "hostIndex")
    last = net.broadcast_address - (1 if net.version == 4 and net.prefixlen < 31 else 0)
    first = net.network_address + (1 if net.prefixlen < net.max_prefixlen - 1 else 0)
    if index < 0 or int(first) + index > int(last):
        usable = int(last) - int(first) + 1
        raise FunctionError(f"hostIndex {index} is outside the range's {usable} usable hosts")
    return str(first + index)
