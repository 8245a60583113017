"""Every page runs under its Content-Security-Policy in a real browser without one violation."""
import pytest

pytestmark = pytest.mark.e2e

# Collects the browser's own reports of blocked scripts, styles, images, connections.
LISTEN = """
window.__cspViolations = [];
document.addEventListener('securitypolicyviolation', (event) => {
  window.__cspViolations.push(`${event.violatedDirective} ${event.blockedURI} ${event.sourceFile}:${event.lineNumber}`);
});
"""


def _pages(world):
    code = world["production"]
    return ["/", f"/p/{code}/", f"/p/{code}/grid/", f"/p/{code}/shots/{world['shot']}/", f"/p/{code}/fixes/",
            f"/p/{code}/fixes/new/?version={world['version']}", f"/p/{code}/fixes/{world['fix']}/",
            f"/p/{code}/approvals/", f"/p/{code}/consents/", f"/p/{code}/audit/", f"/p/{code}/playlists/",
            f"/p/{code}/deliveries/", f"/p/{code}/webhooks/", "/inbox/",
            "/account/two-step/", "/api/docs/", "/admin/"]


def test_no_page_violates_its_content_security_policy(reviewers, world):
    # given the producer in a browser that reports every violation
    producer = reviewers("producer")
    page = producer.page
    page.add_init_script(LISTEN)
    console = []
    page.on("console", lambda message: console.append(message.text)
            if "Content Security Policy" in message.text else None)

    # when they open every page and let its scripts run
    headers = {}
    for url in _pages(world):
        response = page.goto(url)
        page.wait_for_load_state("networkidle")
        headers[url] = response.headers.get("content-security-policy", "")
        violations = page.evaluate("() => window.__cspViolations")
        # then nothing was blocked, and the policy was there with a nonce for scripts
        assert violations == [], (url, violations)
        assert "script-src 'self'" in headers[url] and "unsafe-inline" not in headers[url].split("script-src")[1] \
            .split(";")[0], (url, headers[url])
    assert console == [] and producer.errors == []

    # and the listening works: an inline script without the nonce is blocked and reported
    page.evaluate("() => { const s = document.createElement('script'); s.textContent = 'window.__ran = 1';"
                  " document.body.append(s); }")
    page.wait_for_function("() => window.__cspViolations.length > 0", timeout=5000)
    assert page.evaluate("() => window.__ran") is None
