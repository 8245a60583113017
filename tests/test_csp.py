"""Pages carry a Content-Security-Policy, and every inline script or style block its nonce."""
import re

import pytest

from answerprint.accounts.models import Role
from tests.factories import ProductionFactory, ShotFactory, member

INLINE = re.compile(r"<(script|style)\b([^>]*)>", re.I)


@pytest.fixture
def producer(db, client):
    production = ProductionFactory(code="show")
    ShotFactory(production=production, name="SC010_SH010")
    user = member(production, Role.PRODUCER)
    client.force_login(user)
    return user


@pytest.mark.parametrize("url", ["/", "/p/show/", "/p/show/grid/", "/p/show/shots/SC010_SH010/", "/p/show/fixes/",
                                 "/p/show/fixes/new/", "/p/show/approvals/", "/p/show/consents/", "/p/show/audit/",
                                 "/api/docs/"])
def test_each_page_has_a_policy_and_every_inline_block_its_nonce(client, producer, url):
    # when the page is opened
    response = client.get(url)

    # then its policy allows scripts only from here or with this response's nonce
    assert response.status_code == 200
    policy = response["Content-Security-Policy"]
    directives = dict(part.strip().split(" ", 1) for part in policy.split(";") if part.strip())
    assert directives["script-src"].startswith("'self'") and "unsafe-inline" not in directives["script-src"]
    assert directives["object-src"] == "'none'" and directives["frame-ancestors"] == "'none'"
    nonce = re.search(r"'nonce-([^']+)'", directives["script-src"])
    # and every inline <script> or <style> (one without src) carries that nonce
    for tag, attributes in INLINE.findall(response.content.decode()):
        if tag.lower() == "script" and "src=" in attributes:
            continue
        assert nonce and f'nonce="{nonce.group(1)}"' in attributes, (tag, attributes)


def test_the_log_in_page_has_a_policy_too(client, db):
    assert "script-src 'self'" in client.get("/login/")["Content-Security-Policy"]
