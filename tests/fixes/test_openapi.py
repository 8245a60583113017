"""The OpenAPI schema describes what the API really answers.

Each GET endpoint is called on a production with data in it, and its JSON is validated against
the 200 response the schema documents (a page where it pages, a list where it lists)."""
import re

import jsonschema
import pytest




def _json_schema(node):
    """OpenAPI 3.0 to JSON Schema: `nullable: true` becomes a type that also allows null."""
    if isinstance(node, list):
        return [_json_schema(item) for item in node]
    if not isinstance(node, dict):
        return node
    node = {key: _json_schema(value) for key, value in node.items()}
    if node.pop("nullable", False):
        return {"anyOf": [node, {"type": "null"}]}
    return node


@pytest.fixture
def documented(client, world):
    client.force_login(world.producer)
    document = client.get("/api/schema/", {"format": "json"}).json()
    components = _json_schema(document["components"])

    def schema_of(template):
        response = document["paths"][template]["get"]["responses"]["200"]["content"]["application/json"]
        return {**_json_schema(response["schema"]), "components": components}

    return schema_of


def test_every_listed_answer_matches_its_documented_schema(client, world, tmp_path, documented):
    # given a production with a proposal, a comment, a session and audit events
    proposal = world.propose(world.removal(), tmp_path)
    code, version = world.production.code, world.plate.pk
    client.force_login(world.producer)
    client.post(f"/api/versions/{version}/comments/", {"text": "Boom at 1004", "frame": 3},
                content_type="application/json", HTTP_IDEMPOTENCY_KEY="c-1")
    client.post(f"/api/productions/{code}/review-sessions/", {"name": "Dailies", "versions": [version]},
                content_type="application/json")
    client.post("/api/tokens/", {"name": "conform"}, content_type="application/json")

    # when each GET is called, then its JSON is what the schema says
    calls = {
        "/api/productions/": "/api/productions/",
        "/api/productions/{code}/": f"/api/productions/{code}/",
        "/api/productions/{code}/members/": f"/api/productions/{code}/members/",
        "/api/productions/{code}/shots/": f"/api/productions/{code}/shots/",
        "/api/productions/{code}/fix-kinds/": f"/api/productions/{code}/fix-kinds/",
        "/api/productions/{code}/fixes/": f"/api/productions/{code}/fixes/",
        "/api/productions/{code}/proposals/{proposal_id}/": f"/api/productions/{code}/proposals/{proposal.pk}/",
        "/api/productions/{code}/fix-policy/changes/": f"/api/productions/{code}/fix-policy/changes/",
        "/api/versions/{version_id}/annotations/": f"/api/versions/{version}/annotations/",
        "/api/versions/{version_id}/comments/": f"/api/versions/{version}/comments/",
        "/api/productions/{code}/review-sessions/": f"/api/productions/{code}/review-sessions/",
        "/api/productions/{code}/audit/events/": f"/api/productions/{code}/audit/events/",
        "/api/productions/{code}/audit/checkpoints/": f"/api/productions/{code}/audit/checkpoints/",
        "/api/tokens/": "/api/tokens/",
    }
    client.force_login(world.producer)
    for template, url in calls.items():
        response = client.get(url)
        assert response.status_code == 200, (url, response.content[:200])
        schema = documented(template)
        try:
            jsonschema.validate(response.json(), schema)
        except jsonschema.ValidationError as error:
            pytest.fail(f"{url} does not match its schema: {error.message} at {list(error.absolute_path)}")
        if re.search(r"/(annotations|comments|review-sessions|events|checkpoints)/$", url):
            assert set(response.json()) == {"count", "next", "previous", "results"}, url
