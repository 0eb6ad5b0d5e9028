"""Alert text cannot put links, images or tags into the WeCom group (issue 10): only listed hosts link."""

from __future__ import annotations

import re

import pytest

from ragtasks_alerter.format import AlertView, MessageStyle, markdown
from ragtasks_alerter.markup import allowed, defang, safe_markdown

GRAFANA = frozenset({"grafana.example.com", "grafana.local:3000"})
STYLE = MessageStyle("en", "UTC", GRAFANA)
# A markdown link or image whose target is anything but the listed Grafana.
FOREIGN_LINK = re.compile(r"!?\[[^\]\n]*\]\((?!https://grafana\.example\.com/|http://grafana\.local:3000/)")

HOSTILE = [
    "[SSO](http://evil.example/login)",
    "![x](http://evil.example/pixel.png)",
    "[click](javascript:alert(1))",
    "[click](JaVaScRiPt:alert(document.cookie))",
    "[click]( javascript:alert(1) )",
    "[data](data:text/html;base64,PHNjcmlwdD4=)",
    "<http://evil.example/login>",
    "<javascript:alert(1)>",
    "see http://evil.example/login now",
    "www.evil.example/login",
    '[SSO](<http://evil.example/login> "title")',
    "[Grafana](https://grafana.example.com@evil.example/login)",
    "[Grafana](https://grafana.example.com.evil.example/login)",
    "[Grafana](http://grafana.local/login)",  # listed with :3000 only
    "[x][1]\n[1]: http://evil.example/login",
    '<font color="red">x</font><a href="http://evil.example">y</a>',
    "[[nested](http://evil.example)](http://evil.example)",
]


def hostile_alert(text: str) -> AlertView:
    return AlertView(
        id="al-1",
        fingerprint="fp",
        status="firing",
        severity="critical",
        title=text,
        body=f"annotation: {text}",
        source=text,
        labels={"runbook": text},
    )


@pytest.mark.parametrize("text", HOSTILE)
def test_hostile_markdown_reaches_the_group_as_plain_text(text: str) -> None:
    content = markdown(text, [hostile_alert(text)], STYLE)  # as group key, title, body, label and source
    assert not FOREIGN_LINK.search(content), content
    assert "http://evil.example" not in content and "<http" not in content, content
    assert "javascript:" not in content.lower() and "data:text" not in content, content
    assert "<a " not in content and '<font color="red">' not in content, content


def test_a_link_to_a_listed_host_stays_a_link() -> None:
    text = "see [dashboard](https://grafana.example.com/d/abc?from=now-1h) and http://grafana.local:3000/d/x"
    content = markdown("g", [hostile_alert(text)], STYLE)
    assert "[dashboard](https://grafana.example.com/d/abc?from=now-1h)" in content
    assert "[http://grafana.local:3000/d/x](http://grafana.local:3000/d/x)" in content


def test_without_listed_hosts_nothing_links() -> None:
    content = markdown("g", [hostile_alert("[dashboard](https://grafana.example.com/d/abc)")], MessageStyle("en"))
    assert not re.search(r"\]\(", content), content
    assert "dashboard (hxxps://grafana［.］example［.］com/d/abc)" in content


def test_foreign_links_keep_their_words_and_a_defanged_address() -> None:
    assert safe_markdown("[SSO](http://evil.example/login)", GRAFANA) == "SSO (hxxp://evil［.］example/login)"
    assert safe_markdown("![x](http://evil.example/p.png)") == "x (hxxp://evil［.］example/p.png)"
    assert safe_markdown("<http://evil.example/a>") == "hxxp://evil［.］example/a"
    assert safe_markdown("[click](javascript:alert(1))") == "click"
    assert safe_markdown("www.evil.example/x") == "www［.］evil［.］example/x"


def test_an_image_of_a_listed_host_becomes_a_plain_link() -> None:
    assert safe_markdown("![panel](https://grafana.example.com/render/x.png)", GRAFANA) == (
        "[panel](https://grafana.example.com/render/x.png)"
    )


def test_ordinary_text_is_left_alone() -> None:
    text = "检索结果为空 (kb=faq) 比例 55% — HTTP 503, p99 1.5s! **注意**"
    assert safe_markdown(text) == text


def test_brackets_and_angles_become_inert_look_alikes() -> None:
    assert safe_markdown("[a] <b> `c`") == "［a］ ‹b› 'c'"


@pytest.mark.parametrize(
    ("url", "ok"),
    [
        ("https://grafana.example.com/d/x", True),
        ("HTTPS://Grafana.Example.com/d/x", True),
        ("http://grafana.local:3000/d", True),
        ("http://grafana.local/d", False),
        ("https://grafana.example.com@evil.example/", False),
        ("https://evil.example/?grafana.example.com", False),
        ("ftp://grafana.example.com/x", False),
        ("https://grafana.example.com:99999/x", False),
        ("https://grafana.example.com\\@evil.example/", False),
        ("https://grafana.example.com/a(b)", False),
    ],
)
def test_allowed(url: str, ok: bool) -> None:
    assert allowed(url, GRAFANA) is ok


def test_defang() -> None:
    assert defang("https://a.b.example:8080/x.y?z=1") == "hxxps://a［.］b［.］example:8080/x.y?z=1"
    assert defang("//evil.example/a") == "//evil［.］example/a"
