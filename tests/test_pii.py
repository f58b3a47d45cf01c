"""PII masking: e-mails, public IPv4/IPv6 masked; private and reserved addresses kept."""

from __future__ import annotations

import time

from cc_curate.stages.pii import DEFAULT_EMAIL_REPLACEMENT, DEFAULT_IP_REPLACEMENT, mask_pii

ON = {"enabled": True, "email": True, "ip": True}


def test_emails_masked_case_insensitively() -> None:
    text, n = mask_pii("Write to John.Doe@Example.COM or info@sub.example.org.", ON)
    assert n == 2
    assert "Example" not in text and "info@" not in text
    assert text.endswith(".")
    assert all(part in DEFAULT_EMAIL_REPLACEMENT for part in (text.split()[2], text.split()[4].rstrip(".")))


def test_email_boundaries() -> None:
    text, n = mask_pii("请联系info@example.com谢谢", ON)
    assert n == 1 and text.startswith("请联系") and text.endswith("谢谢") and "info" not in text
    assert mask_pii("not an address: a@b and @home and x@localhost", ON)[1] == 0
    too_long = "x" * 65 + "@example.com"
    assert mask_pii(too_long, ON) == (too_long, 0)


def test_custom_replacement_and_determinism() -> None:
    params = {**ON, "email_replacement": "<EMAIL>", "ip_replacement": ["<IP1>", "<IP2>"]}
    text, n = mask_pii("a@example.com 8.8.8.8 1.1.1.1", params)
    assert n == 3
    assert text.startswith("<EMAIL> <IP")
    assert mask_pii("8.8.8.8", params) == mask_pii("8.8.8.8", params)


def test_public_ipv4_masked_private_kept() -> None:
    kept = ["10.1.2.3", "192.168.0.1", "127.0.0.1", "172.16.5.4", "169.254.1.1", "192.0.2.7", "0.0.0.0"]
    text, n = mask_pii("dns 8.8.8.8; lan " + " ".join(kept), ON)
    assert n == 1
    assert "8.8.8.8" not in text
    assert text.split("; lan ")[0].split()[1] in DEFAULT_IP_REPLACEMENT
    for ip in kept:
        assert ip in text


def test_ip_lookalikes_untouched() -> None:
    for text in ["version 1.2.3.4.5", "build 8.8.8.8888", "octets 300.1.1.1", "zero 08.8.8.8"]:
        assert mask_pii(text, ON) == (text, 0), text
    assert mask_pii("at 8.8.8.8.", ON)[1] == 1  # sentence end is fine


def test_ipv6() -> None:
    text, n = mask_pii("host 2a00:1450:4001:82b::200e and fe80::1 and ::1 and 2001:db8::5", ON)
    assert n == 1
    assert "2a00" not in text and "fe80::1" in text and "::1" in text and "2001:db8::5" in text
    assert mask_pii("std::vector<int> at 12:30:45", ON)[1] == 0


def test_flags() -> None:
    text = "a@example.com 8.8.8.8"
    assert mask_pii(text, {"enabled": False}) == (text, 0)
    assert mask_pii(text, {"email": False})[0].startswith("a@example.com ")
    assert mask_pii(text, {"ip": False})[0].endswith(" 8.8.8.8")


def test_linear_on_adversarial_text() -> None:
    start = time.perf_counter()
    mask_pii("abc+def/ghi=" * 50_000 + "@x.com " + "a@" * 50_000, ON)
    assert time.perf_counter() - start < 5
