"""Every audited action is registered, and every registered action is written somewhere."""
import ast
import re
from pathlib import Path

import pytest
from django.contrib.auth import authenticate
from django.db import transaction
from django.test import RequestFactory

import answerprint
from answerprint.accounts import services as accounts
from answerprint.audit.actions import ACTIONS
from answerprint.audit.models import AuditEvent
from answerprint.audit.services import create_checkpoint, record_event, verify_audit_log
from tests.factories import PASSWORD, ProductionFactory, UserFactory

SOURCE = Path(answerprint.__file__).parent
# Functions that pass their first argument on to record_event as the action.
_WRITERS = {"record_event"}


def _name(func):
    return func.id if isinstance(func, ast.Name) else func.attr if isinstance(func, ast.Attribute) else ""


def _forwarders(trees):
    """Functions whose first parameter becomes record_event's action (e.g. fixes' _audit_alone)."""
    found = set()
    for tree in trees:
        for node in ast.walk(tree):
            if isinstance(node, ast.FunctionDef) and node.args.args and node.name not in _WRITERS:
                first = node.args.args[0].arg
                for call in ast.walk(node):
                    if (isinstance(call, ast.Call) and _name(call.func) in _WRITERS and call.args
                            and isinstance(call.args[0], ast.Name) and call.args[0].id == first):
                        found.add(node.name)
    return found


def _strings(node):
    return [n.value for n in ast.walk(node) if isinstance(n, ast.Constant) and isinstance(n.value, str)]


def written_actions():
    """(exact action names, patterns of f-string actions, calls whose action cannot be read)."""
    trees = {path: ast.parse(path.read_text(), str(path)) for path in SOURCE.rglob("*.py")
             if "migrations" not in path.parts}
    writers = _WRITERS | _forwarders(trees.values())
    exact, patterns, unreadable = set(), set(), []
    for path, tree in trees.items():
        enclosing = {}
        for function in ast.walk(tree):
            if isinstance(function, (ast.FunctionDef, ast.AsyncFunctionDef)):
                for node in ast.walk(function):
                    enclosing[node] = function  # inner functions come later in the walk and win
        for call in ast.walk(tree):
            if not (isinstance(call, ast.Call) and _name(call.func) in writers and call.args):
                continue
            function = enclosing.get(call, tree)
            parameters = {a.arg for a in function.args.args} if function is not tree else set()
            action = call.args[0]
            if isinstance(action, ast.JoinedStr):
                patterns.add("".join(re.escape(v.value) if isinstance(v, ast.Constant) else r"[a-z_]+"
                                     for v in action.values))
            elif isinstance(action, ast.Name) and action.id in parameters and getattr(function, "name", "") in writers:
                continue  # the forwarder itself: its callers are read instead
            elif isinstance(action, ast.Name):
                values = [node.value for node in ast.walk(function) if isinstance(node, ast.Assign)
                          and any(isinstance(t, ast.Name) and t.id == action.id for t in node.targets)]
                names = [name for value in values for name in _strings(value)]
                if names:
                    exact.update(names)
                else:
                    unreadable.append(f"{path.relative_to(SOURCE)}:{call.lineno}")
            elif _strings(action):
                exact.update(_strings(action))
            else:
                unreadable.append(f"{path.relative_to(SOURCE)}:{call.lineno}")
    return exact, patterns, sorted(set(unreadable))


def test_every_action_the_code_writes_is_registered():
    # given every action name found in calls that write audit events
    exact, patterns, unreadable = written_actions()

    # then each is in the registry, and none is computed beyond reading
    assert unreadable == [], f"record_event calls whose action cannot be read: {unreadable}"
    assert sorted(exact - set(ACTIONS)) == [], "written but not registered in audit/actions.py"
    for pattern in patterns:
        assert any(re.fullmatch(pattern, name) for name in ACTIONS), f"no registered action matches {pattern}"


def test_every_registered_action_is_written_somewhere():
    # given the registry and the actions found in the code
    exact, patterns, _ = written_actions()

    # then no registered action is left that nothing writes
    unwritten = [name for name in ACTIONS
                 if name not in exact and not any(re.fullmatch(p, name) for p in patterns)]
    assert unwritten == [], "registered in audit/actions.py but written nowhere"


@pytest.mark.django_db
def test_the_accounts_services_each_record_their_registered_event():
    # given a staff member and a colleague
    staff, colleague = UserFactory(is_staff=True), UserFactory()

    # when each accounts service runs once
    with transaction.atomic():
        production = accounts.create_production(actor=staff, code="regtest", title="Reg Test")
        accounts.update_production(actor=staff, production=production, title="Reg Test 2", reason="typo")
        membership = accounts.add_member(actor=staff, production=production, user=colleague, role="viewer")
        accounts.add_member(actor=staff, production=production, user=colleague, role="editor", reason="promoted")
        accounts.revoke_member(actor=staff, membership=membership, reason="left the show")

    # then each left its event, naming the target, with the reason where one was given
    events = list(AuditEvent.objects.all())
    assert [e.action for e in events] == ["production.created", "production.updated", "membership.granted",
                                          "membership.changed", "membership.revoked"]
    assert all(e.action in ACTIONS and e.actor == staff and e.production == production for e in events)
    assert events[1].before == {"title": "Reg Test"} and events[1].reason == "typo"
    assert events[3].before["role"] == "viewer" and events[3].after["role"] == "editor"
    assert events[4].reason == "left the show" and events[4].after["revoked_at"] is not None


@pytest.mark.django_db
def test_sign_ins_and_refused_sign_ins_are_recorded_without_the_password():
    # given a user
    user = UserFactory(username="dana")
    request = RequestFactory().post("/login/")

    # when they sign in with a wrong and then the right password
    assert authenticate(request, username="dana", password="wrong-password") is None
    assert authenticate(request, username="dana", password=PASSWORD) == user
    from django.contrib.auth import login
    from django.contrib.sessions.backends.db import SessionStore

    request.session = SessionStore()
    login(request, user)

    # then both are on the record, and the password is nowhere in it
    failed, logged_in = AuditEvent.objects.all()
    assert failed.action == "auth.login_failed" and failed.after["username"] == "dana"
    assert logged_in.action == "auth.logged_in" and logged_in.actor == user
    assert "wrong-password" not in str(failed.after) + failed.reason


@pytest.mark.django_db
def test_the_audit_services_record_their_own_registered_events():
    # given a compliance officer and some history
    officer = UserFactory()
    production = ProductionFactory()
    with transaction.atomic():
        record_event("production.updated", actor=officer, production=production)

    # when they sign a checkpoint and verify the log
    create_checkpoint(actor=officer, reason="quarterly review")
    report, missing = verify_audit_log(actor=officer, production=production)

    # then both requests are on the record
    actions = list(AuditEvent.objects.all().values_list("action", flat=True))
    assert actions[-2:] == ["audit.checkpoint_created", "audit.verified"]
    assert report.ok and missing == []
    assert AuditEvent.objects.get(action="audit.verified").after["ok"] is True
