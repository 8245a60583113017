# The two commands a newcomer needs:  make run   and   make test
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
export PYTHONPATH := $(CURDIR)/platform:$(CURDIR)

.PHONY: setup run test browser fonts clean

setup: $(VENV)/.installed fonts

# The fonts PDF reports embed (AUDIT_REPORT_FONTS): DejaVu Sans for Latin, Greek and Cyrillic,
# Lohit for Devanagari, Droid Sans Fallback for Chinese, Japanese and Korean.
REPORT_FONTS := /usr/share/fonts/truetype/dejavu/DejaVuSans.ttf \
	/usr/share/fonts/truetype/lohit-devanagari/Lohit-Devanagari.ttf \
	/usr/share/fonts/truetype/droid/DroidSansFallbackFull.ttf
fonts:
	@ls $(REPORT_FONTS) >/dev/null 2>&1 || (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq fonts-dejavu-core fonts-lohit-deva fonts-droid-fallback >/dev/null) || echo "report fonts not installed: PDF reports need them (see README, Reports)"

# torch is installed first, pinned: 2.13.0 is the CPU build on these machines, and anything
# unpinned pulls gigabytes of CUDA wheels.
$(VENV)/.installed: pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q torch==2.13.0
	$(BIN)/python -m pip install -q -e ".[worker,test]"
	touch $@

run: setup
	$(BIN)/python manage.py serve_local

# Debian's chromium for the end-to-end tests (Playwright's own browser download does not work here).
browser:
	@command -v chromium >/dev/null || (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null) || echo "chromium not installed: end-to-end tests will be skipped"

test: setup browser
	$(BIN)/python -m answerprint.localredis $(BIN)/python -m pytest $(PYTEST_ARGS)

clean:
	rm -rf $(VENV) var test-artifacts
