import pytest

from answerprint.accounts.models import Role
from answerprint.review import services
from answerprint.review.models import Annotation
from tests.factories import ProductionFactory, ShotFactory, VersionFactory, member

LINE = {"frame": 3, "shape": "line", "points": [[0.1, 0.2], [0.8, 0.9]]}


@pytest.fixture
def setup(db):
    production = ProductionFactory()
    version = VersionFactory(shot=ShotFactory(production=production, first_frame=1001, last_frame=1100))
    return {"production": production, "version": version,
            "producer": member(production, Role.PRODUCER), "supervisor": member(production, Role.SUPERVISOR),
            "compliance": member(production, Role.COMPLIANCE), "viewer": member(production, Role.VIEWER)}


def test_a_retried_post_with_the_same_idempotency_key_draws_once(client, setup):
    # given a supervisor's tool
    client.force_login(setup["supervisor"])
    url = f"/api/versions/{setup['version'].pk}/annotations/"

    # when it posts a drawing and retries with the same key
    first = client.post(url, LINE, content_type="application/json", headers={"Idempotency-Key": "tool-42"})
    retry = client.post(url, LINE, content_type="application/json", headers={"Idempotency-Key": "tool-42"})

    # then the first creates it and the retry gets the same drawing back
    assert (first.status_code, retry.status_code) == (201, 200)
    assert first.json()["id"] == retry.json()["id"]
    assert first["X-Room-Sequence"] == retry["X-Room-Sequence"] == "1"
    assert first.json()["points"] == [[0.1, 0.2, 1.0], [0.8, 0.9, 1.0]]
    assert Annotation.objects.count() == 1


def test_a_malformed_drawing_is_answered_with_the_field_at_fault(client, setup):
    client.force_login(setup["supervisor"])

    # when a polygon with two points and a frame past the shot are posted
    url = f"/api/versions/{setup['version'].pk}/annotations/"
    polygon = client.post(url, {**LINE, "shape": "polygon"}, content_type="application/json")
    past_end = client.post(url, {**LINE, "frame": 100}, content_type="application/json")

    # then both are 400 naming the field
    assert polygon.status_code == 400 and "points" in polygon.json()
    assert past_end.status_code == 400 and "frame" in past_end.json()


def test_annotations_are_listed_by_frame_in_a_fixed_number_of_queries(client, setup, django_assert_max_num_queries):
    # given twelve drawings by four people on frames 0-11, each two frames long
    people = [setup["producer"], setup["supervisor"]] + [member(setup["production"], Role.EDITOR) for _ in range(2)]
    for i in range(12):
        services.create_annotation(actor=people[i % 4], version=setup["version"], frame=i, duration=2,
                                   shape="line", points=[[0, 0], [1, 1]])
    client.force_login(setup["viewer"])

    # when a viewer lists them all, and those on screen at frame 5
    with django_assert_max_num_queries(9):  # 7 are session, user and access
        everything = client.get(f"/api/versions/{setup['version'].pk}/annotations/").json()
    at_five = client.get(f"/api/versions/{setup['version'].pk}/annotations/?frame=5").json()

    # then the list is complete and the frame filter keeps the shapes on screen there
    assert everything["count"] == 12
    assert sorted(a["frame"] for a in at_five["results"]) == [4, 5]


def test_comment_threads_nest_replies_in_a_fixed_number_of_queries(client, setup, django_assert_max_num_queries):
    # given five threads with two replies each, some mentioning people
    version = setup["version"]
    for i in range(5):
        root = services.create_comment(actor=setup["supervisor"], version=version, frame=i,
                                       body=f"Note {i} @{setup['producer'].username}").obj
        for author in (setup["producer"], setup["viewer"]):
            services.create_comment(actor=author, version=version, body=f"Reply to {i}", parent=root)
    services.resolve_comment(actor=setup["producer"], comment=root)
    client.force_login(setup["viewer"])

    # when the threads are listed
    with django_assert_max_num_queries(12):  # 7 are session, user and access
        threads = client.get(f"/api/versions/{version.pk}/comments/").json()
    open_only = client.get(f"/api/versions/{version.pk}/comments/?resolved=false").json()

    # then each thread carries its replies in order, and the filter leaves out the resolved one
    assert threads["count"] == 5
    assert [r["body"] for r in threads["results"][0]["replies"]] == ["Reply to 0", "Reply to 0"]
    assert threads["results"][0]["mentions"][0]["id"] == setup["producer"].pk
    assert open_only["count"] == 4


def test_an_outsider_gets_404_and_a_role_without_the_right_gets_403(client, setup):
    version_url = f"/api/versions/{setup['version'].pk}/annotations/"

    # when a producer of another production reads, and a compliance officer tries to draw
    client.force_login(member(ProductionFactory(), Role.PRODUCER))
    outsider = client.get(version_url)
    client.force_login(setup["compliance"])
    compliance = client.post(version_url, LINE, content_type="application/json")

    # then the outsider sees nothing there and compliance is refused
    assert outsider.status_code == 404
    assert compliance.status_code == 403


def test_earlier_texts_are_shown_to_the_author_and_compliance_but_not_to_other_members(client, setup):
    # given a comment edited once
    comment = services.create_comment(actor=setup["supervisor"], version=setup["version"], body="First try").obj
    client.force_login(setup["supervisor"])
    edited = client.patch(f"/api/comments/{comment.pk}/", {"body": "Second try", "reason": "clearer"},
                          content_type="application/json")
    url = f"/api/comments/{comment.pk}/revisions/"

    # when the author, compliance and a viewer ask for its history
    author_view = client.get(url)
    client.force_login(setup["compliance"])
    compliance_view = client.get(url)
    client.force_login(setup["viewer"])
    viewer_view = client.get(url)

    # then the first two see the earlier text and why it changed, the viewer does not
    assert edited.status_code == 200 and edited.json()["body"] == "Second try"
    assert [(r["body"], r["reason"]) for r in author_view.json()] == [("First try", "clearer")]
    assert compliance_view.json() == author_view.json()
    assert viewer_view.status_code == 403


def test_a_review_session_is_opened_listed_and_closed(client, setup):
    # given two versions of the production and one of another
    other = VersionFactory(shot=ShotFactory(production=setup["production"]))
    foreign = VersionFactory()
    client.force_login(setup["supervisor"])
    url = f"/api/productions/{setup['production'].code}/review-sessions/"

    # when a session is opened over the two, and one over the foreign version
    opened = client.post(url, {"title": "Dailies", "versions": [other.pk, setup["version"].pk]},
                         content_type="application/json")
    refused = client.post(url, {"title": "Bad", "versions": [foreign.pk]}, content_type="application/json")
    session_id = opened.json()["id"]
    closed = client.post(f"/api/review-sessions/{session_id}/close/", {"reason": "wrapped"},
                         content_type="application/json")

    # then the playlist keeps its order, the foreign version is refused, and closing is a room event
    assert opened.status_code == 201
    assert [e["version"] for e in opened.json()["playlist"]] == [other.pk, setup["version"].pk]
    assert opened.json()["room"] == f"/ws/review/sessions/{session_id}/"
    assert refused.status_code == 400 and "versions" in refused.json()
    assert closed.status_code == 200 and closed.json()["closed_at"]
    events = client.get(f"/api/review-sessions/{session_id}/room-events/?since=0").json()
    assert [e["event"] for e in events["events"]] == ["session.closed"]
    assert client.get(url).json()["count"] == 1


def test_a_tool_can_fetch_the_room_events_after_a_number(client, setup):
    # given three notes on a version
    for frame in range(3):
        services.create_annotation(actor=setup["supervisor"], version=setup["version"], frame=frame, shape="line",
                                   points=[[0, 0], [1, 1]], op=f"op-{frame}")
    client.force_login(setup["viewer"])

    # when a tool asks for what came after the first
    answer = client.get(f"/api/versions/{setup['version'].pk}/room-events/?since=1").json()

    # then it gets the other two, in order
    assert answer["last_sequence"] == 3
    assert [(e["seq"], e["data"]["frame"], e["op"]) for e in answer["events"]] == [(2, 1, "op-1"), (3, 2, "op-2")]


def test_the_api_schema_documents_the_review_endpoints(client, setup):
    client.force_login(setup["viewer"])

    # when the OpenAPI schema is generated
    response = client.get("/api/schema/", headers={"Accept": "application/vnd.oai.openapi+json"})

    # then the review endpoints are in it, with the idempotency header
    assert response.status_code == 200
    schema = response.json()
    assert "/api/versions/{version_id}/annotations/" in schema["paths"]
    assert "/api/comments/{comment_id}/resolve/" in schema["paths"]
    post = schema["paths"]["/api/versions/{version_id}/annotations/"]["post"]
    assert "Idempotency-Key" in [p["name"] for p in post["parameters"]]
