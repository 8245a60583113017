# The two commands a newcomer needs:  make run   and   make test
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
export PYTHONPATH := $(CURDIR)/platform:$(CURDIR)

.PHONY: setup lock run test browser fonts clean

setup: $(VENV)/.installed fonts

# The fonts PDF reports embed (AUDIT_REPORT_FONTS): DejaVu Sans for Latin, Greek and Cyrillic,
# Lohit for Devanagari, Droid Sans Fallback for Chinese, Japanese and Korean.
REPORT_FONTS := /usr/share/fonts/truetype/dejavu/DejaVuSans.ttf \
	/usr/share/fonts/truetype/lohit-devanagari/Lohit-Devanagari.ttf \
	/usr/share/fonts/truetype/droid/DroidSansFallbackFull.ttf
fonts:
	@ls $(REPORT_FONTS) >/dev/null 2>&1 || (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq fonts-dejavu-core fonts-lohit-deva fonts-droid-fallback >/dev/null) || echo "report fonts not installed: PDF reports need them (see README, Reports)"

# Everything is installed from the lock file with hashes (requirements/test.lock: the app, the
# worker and the test tools), then the project itself without dependencies. torch is locked to
# 2.13.0+cpu: anything else pulls gigabytes of CUDA wheels.
$(VENV)/.installed: pyproject.toml requirements/test.lock
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade "pip>=24,<27"
	$(BIN)/python -m pip install -q --require-hashes -r requirements/test.lock
	$(BIN)/python -m pip install -q --no-deps -e .
	touch $@

# Re-resolve the lock files after a change to pyproject.toml's dependencies. Pins that still
# satisfy pyproject.toml are kept; `make lock LOCK_ARGS=--upgrade` moves everything to the newest
# allowed release, `LOCK_ARGS="--upgrade-package redis"` one package.
LOCK_VENV := $(VENV)-lock
LOCK_ARGS ?=
PIP_COMPILE = $(LOCK_VENV)/bin/pip-compile -q --generate-hashes --allow-unsafe --strip-extras \
	--no-emit-index-url --no-emit-find-links $(LOCK_ARGS)
lock:
	test -x $(LOCK_VENV)/bin/pip-compile || ($(PYTHON) -m venv $(LOCK_VENV) && $(LOCK_VENV)/bin/pip install -q "pip-tools>=7.4,<8")
	$(PIP_COMPILE) --extra worker -o requirements/app.lock pyproject.toml
	$(PIP_COMPILE) --extra worker --extra test -o requirements/test.lock pyproject.toml

run: setup
	$(BIN)/python manage.py serve_local

# Debian's chromium for the end-to-end tests (Playwright's own browser download does not work here).
browser:
	@command -v chromium >/dev/null || (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null) || echo "chromium not installed: end-to-end tests will be skipped"

test: setup browser
	$(BIN)/python -m answerprint.localredis $(BIN)/python -m pytest $(PYTEST_ARGS)

clean:
	rm -rf $(VENV) $(LOCK_VENV) var test-artifacts
