"""/docs works without internet (Swagger UI served from vendored files), and a browser gets
HTML 404 and 500 pages (bilingual, with a link home, no traceback) where the API keeps JSON."""
from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient

HTML = {"Accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"}


@pytest.mark.parametrize("store", ["sqlite"], indirect=True)
def test_docs_reference_only_same_origin_assets_and_they_are_served(api):
    page = api.get("/docs")
    assert page.status_code == 200
    urls = re.findall(r"""(?:src|href)=["']([^"']+)["']""", page.text) + re.findall(r"""url: *['"]([^'"]+)['"]""", page.text)
    assert "/static/vendor/swagger-ui/swagger-ui-bundle.js" in urls and "/static/vendor/swagger-ui/swagger-ui.css" in urls
    assert "http://" not in page.text and "https://" not in page.text and "cdn" not in page.text.lower()
    for url in urls:
        assert url.startswith("/") and not url.startswith("//"), url
        assert api.get(url).status_code == 200, url
    assert '"validatorUrl": null' in page.text  # the badge would be an image from validator.swagger.io
    assert api.get("/docs/oauth2-redirect").status_code == 200
    assert api.get("/static/vendor/swagger-ui/LICENSE").status_code == 200
    assert api.get("/redoc").status_code == 404  # ReDoc would load from a CDN: not offered


@pytest.mark.parametrize("store", ["sqlite"], indirect=True)
def test_unknown_page_is_an_html_404_for_a_browser_and_json_for_the_api(api):
    page = api.get("/no-such-page", headers=HTML)
    assert page.status_code == 404 and page.headers["content-type"].startswith("text/html")
    assert "Page not found" in page.text and 'href="/"' in page.text and 'lang="en"' in page.text  # the client asks for English
    zh = api.get("/no-such-page", headers={**HTML, "Accept-Language": "zh-CN"})
    assert zh.status_code == 404 and "页面不存在" in zh.text and '<html lang="zh-CN">' in zh.text
    assert "script-src 'self'" in page.headers["content-security-policy"]
    # API paths and clients that do not ask for HTML keep the JSON error.
    for path, headers in (("/api/v1/no-such-thing", HTML), ("/no-such-page", {"Accept": "application/json"}), ("/no-such-page", {})):
        r = api.get(path, headers=headers)
        assert r.status_code == 404 and r.json() == {"detail": "Not Found"}, (path, headers)
    # A resource the API does not find is still its JSON answer, not the page.
    assert api.get("/api/v1/applications/nope", params={"access_token": "0" * 40}, headers=HTML).headers["content-type"].startswith("application/json")


@pytest.mark.parametrize("store", ["sqlite"], indirect=True)
def test_a_crash_is_an_html_500_without_traceback_for_a_browser_and_json_for_the_api(api):
    def boom():
        raise RuntimeError("secret-internal-detail in /srv/healthpass/cases/store.py")

    api.app.add_api_route("/test-only/boom", boom, include_in_schema=False)
    api.app.add_api_route("/api/v1/test-only/boom", boom, include_in_schema=False)
    client = TestClient(api.app, raise_server_exceptions=False)
    page = client.get("/test-only/boom", headers=HTML)
    assert page.status_code == 500 and page.headers["content-type"].startswith("text/html")
    assert "服务器出错" in page.text and 'href="/"' in page.text  # Chinese first
    assert "Something went wrong" in client.get("/test-only/boom", headers={**HTML, "Accept-Language": "en"}).text
    assert "secret-internal-detail" not in page.text and "Traceback" not in page.text and "RuntimeError" not in page.text
    r = client.get("/api/v1/test-only/boom", headers=HTML)
    assert r.status_code == 500 and r.json() == {"detail": "Internal Server Error"}
    assert client.get("/test-only/boom").json() == {"detail": "Internal Server Error"}
