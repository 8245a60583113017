import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _check(tmp_path, **overrides):
    env = {key: value for key, value in os.environ.items() if key not in ("DATABASE_URL", "DEBUG", "DJANGO_ALLOW_ASYNC_UNSAFE")}
    env.update({"ANSWERPRINT_VAR_DIR": str(tmp_path), "PYTHONPATH": f"{ROOT / 'platform'}:{ROOT}", **overrides})
    return subprocess.run([sys.executable, str(ROOT / "manage.py"), "check", "--deploy", "--fail-level", "WARNING"],
                          env=env, capture_output=True, text=True, timeout=120)


def test_the_documented_production_variables_pass_the_deploy_check(tmp_path):
    # given the production variables the README documents
    result = _check(tmp_path, DEBUG="0", SECRET_KEY="k" * 20 + "a-long-random-production-secret-" + "9" * 20,
                    ALLOWED_HOSTS="review.example.com", CSRF_TRUSTED_ORIGINS="https://review.example.com")

    # then Django's deployment checks find nothing, not even a warning
    assert result.returncode == 0, result.stdout + result.stderr


def test_production_refuses_to_start_without_a_secret_key(tmp_path):
    result = _check(tmp_path, DEBUG="0", SECRET_KEY="", ALLOWED_HOSTS="review.example.com")
    assert result.returncode != 0 and "SECRET_KEY must be set" in result.stderr
