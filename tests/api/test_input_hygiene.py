"""Input the databases or the webhook worker cannot take is refused with the field named."""

from __future__ import annotations

from tests.api.conftest import Api


def test_nul_in_query_body_and_path_is_a_422_naming_the_field(api: Api) -> None:
    query = api.get("sponsor", "/api/audit", params={"actor": "\x00"})
    assert query.status_code == 422
    assert query.json()["errors"][0]["field"] == "query.actor"
    body = api.post("sponsor", "/api/webhooks", {"url": "http://127.0.0.1:9/x\u0000"})
    assert body.status_code == 422
    assert body.json()["errors"][0]["field"] == "body.url"
    path = api.get("sponsor", "/api/trials/A%00B")
    assert path.status_code == 422
    assert path.json()["errors"][0]["field"] == "path.trial_id"


def test_text_without_nul_is_untouched(api: Api) -> None:
    assert api.get("sponsor", "/api/audit", params={"actor": "someone"}).status_code == 200


def test_webhook_url_urllib_cannot_split_is_a_field_error(api: Api) -> None:
    response = api.post("sponsor", "/api/webhooks", {"url": "https://F]j/x"})
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "body.url"
    assert "not a usable URL" in response.json()["errors"][0]["message"]
