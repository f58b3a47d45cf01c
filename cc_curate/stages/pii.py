"""PII masking: e-mail addresses and public IP addresses, as FineWeb2's final step (PIIFormatter).

Like datatrove, only addresses that identify someone are masked: an IP is replaced when
``ipaddress`` says it is global, so private, loopback, link-local, documentation and other
reserved ranges (10.x, 192.168.x, 127.x, fe80::, 2001:db8::, ...) stay, as do version numbers
that look like IPs but are not valid ones. The default replacements are datatrove's.

Differences from datatrove, on purpose:
* e-mails match case-insensitively (datatrove's pattern is lower-case only, so it misses
  ``John.Doe@Example.com``), the local part must start at a non-address character, and only
  windows around "@" are searched (linear time, cheap on text without addresses);
* IPv4 must stand alone (``1.2.3.4.5`` and ``10.0.0.1234`` are not addresses) and IPv6 is masked
  too (global unicast 2000::/3 only);
* with several replacements, the one used is chosen from a hash of the matched text, not by a
  counter carried across documents: the output depends on the document alone (deterministic,
  whatever the worker order).
"""

from __future__ import annotations

import ipaddress
import re
import zlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from cc_curate.params import setting
from cc_curate.stages.base import BatchContext, Document, Stage

DEFAULT_EMAIL_REPLACEMENT = ("email@example.com", "firstname.lastname@example.org")
# datatrove's list: random addresses that did not answer pings when it was made.
DEFAULT_IP_REPLACEMENT = (
    "22.214.171.124",
    "126.96.36.199",
    "188.8.131.52",
    "184.108.40.206",
    "220.127.116.11",
    "18.104.22.168",
)
# The documentation prefix: never global, so masking is idempotent.
DEFAULT_IPV6_REPLACEMENT = ("2001:db8::1",)

_LOCAL = r"[a-z0-9!#$%&'*+/=?^_`{|}~-]"
_EMAIL = re.compile(
    rf"(?<![a-z0-9.!#$%&'*+/=?^_`{{|}}~-]){_LOCAL}{{1,64}}(?:\.{_LOCAL}{{1,64}}){{0,15}}"
    r"@(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.){1,8}(?:[a-z]{2,63}|xn--[a-z0-9-]{1,59})(?![a-z0-9-])",
    re.IGNORECASE,
)
_NOT_LOCAL = re.compile(r"[^a-z0-9.!#$%&'*+/=?^_`{|}~-]", re.IGNORECASE)
# Longest local part and domain the pattern can match.
_MAX_LOCAL = 64 * 16 + 15
_MAX_DOMAIN = 64 * 8 + 63
# Candidates only; ipaddress decides what is an address (octets <= 255, no leading zeros).
# No lookbehind in the IPv4 pattern: a leading character class lets the regex engine skip
# through text fast; the "stands alone" check is done on the match instead.
_IPV4 = re.compile(r"[0-9]{1,3}(?:\.[0-9]{1,3}){3}")
_IPV6 = re.compile(
    r"(?<![0-9a-z:.])(?:[0-9a-f]{0,4}:){2,7}(?:[0-9a-f]{1,4}|[0-9]{1,3}(?:\.[0-9]{1,3}){3})?(?![0-9a-z:])",
    re.IGNORECASE,
)
_GLOBAL_UNICAST = ipaddress.ip_network("2000::/3")


def _replacements(value: str | Sequence[str] | None, default: tuple[str, ...]) -> tuple[str, ...]:
    if value is None:
        return default
    return (value,) if isinstance(value, str) else tuple(value)


def _pick(options: tuple[str, ...], matched: str) -> str:
    return options[0] if len(options) == 1 else options[zlib.crc32(matched.encode()) % len(options)]


def _stands_alone(match: re.Match[str]) -> bool:
    """Not part of a longer dotted number: ``1.2.3.4.5`` and ``10.0.0.1234`` are not IPs."""
    text, start, end = match.string, match.start(), match.end()
    before = text[start - 1] if start else ""
    after = text[end : end + 2]
    if before.isdigit() or before == ".":
        return False
    return not (after[:1].isdigit() or (after[:1] == "." and after[1:].isdigit()))


def _is_public(candidate: str) -> bool:
    try:
        ip = ipaddress.ip_address(candidate)
    except ValueError:
        return False
    if ip.version == 6:
        return ip.is_global and ip in _GLOBAL_UNICAST
    return ip.is_global


def _mask_emails(text: str, options: tuple[str, ...]) -> tuple[str, int]:
    """Replace e-mails, trying the pattern once per "@", where its local part must begin.

    A plain ``sub`` tries the pattern at every position of the text; anchoring on "@" makes
    text without addresses cost one ``str.find``, and since a local part cannot contain "@",
    the backward look from each "@" stops at the previous one: the whole scan is linear.
    """
    parts: list[str] = []
    count = last = pos = 0
    while (at := text.find("@", pos)) >= 0:
        floor, pos = pos, at + 1
        low = max(floor, at - _MAX_LOCAL - 1)
        before = _NOT_LOCAL.search(text[low:at][::-1])
        if before is not None:
            start = at - before.start()
        elif low == floor:
            start = floor
        else:  # a run of address characters longer than any local part
            continue
        match = _EMAIL.match(text, start, at + 1 + _MAX_DOMAIN)
        if match is None:
            continue
        parts += (text[last:start], _pick(options, match.group()))
        count += 1
        last = pos = match.end()
    parts.append(text[last:])
    return "".join(parts), count


def mask_pii(text: str, params: Mapping[str, Any]) -> tuple[str, int]:
    """The text with e-mails and public IPs replaced, and how many replacements were made.

    Params (recipe section ``pii``): ``enabled`` (true), ``email`` (true), ``ip`` (true),
    ``email_replacement``, ``ip_replacement``, ``ipv6_replacement`` (a string or a list).
    """
    if not params.get("enabled", True):
        return text, 0
    count = 0

    def replace_ip(options: tuple[str, ...]) -> Callable[[re.Match[str]], str]:
        def sub(match: re.Match[str]) -> str:
            nonlocal count
            found = match.group()
            if not _is_public(found) or not _stands_alone(match):
                return found
            count += 1
            return _pick(options, found)

        return sub

    if params.get("email", True) and "@" in text:
        emails = _replacements(params.get("email_replacement"), DEFAULT_EMAIL_REPLACEMENT)
        text, count = _mask_emails(text, emails)
    if params.get("ip", True):
        ipv4 = _replacements(params.get("ip_replacement"), DEFAULT_IP_REPLACEMENT)
        text = _IPV4.sub(replace_ip(ipv4), text)
        if "::" in text or text.count(":") >= 7:
            ipv6 = _replacements(params.get("ipv6_replacement"), DEFAULT_IPV6_REPLACEMENT)
            text = _IPV6.sub(replace_ip(ipv6), text)
    return text, count


@dataclass(frozen=True)
class PiiParams:
    enabled: bool = setting(True, "Mask personal data")
    email: bool = setting(True, "Mask e-mail addresses")
    ip: bool = setting(True, "Mask public IP addresses")


class Pii(Stage):
    """Masks e-mail addresses and public IPs in every document's text, kept or removed."""

    name = "pii"
    phase = "finish"
    doc = "PII masking (e-mail addresses, public IPs), FineWeb2's last step"
    Params = PiiParams
    per_language = True

    def process(self, doc: Document, params: PiiParams, context: BatchContext) -> None:
        if params.enabled:
            doc.text, masked = mask_pii(doc.text or "", {"email": params.email, "ip": params.ip})
            context.counters.add("pii.masked", masked)
