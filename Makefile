# The two commands a newcomer needs: `make demo` and `make test`.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(VENV)/bin/pip
PORT ?= 8000
LOG := var/log
WORKER := $(PY) -m celery -A r1web worker -Q cpu --pool solo --concurrency 1 --loglevel INFO

.PHONY: install browser sandbox demo stop worker test bench

$(VENV)/.installed: requirements.txt requirements-test.txt
	$(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --upgrade pip
	$(PIP) install --quiet -r requirements-test.txt
	touch $@

install: $(VENV)/.installed sandbox

# Browser tests drive Debian's Chromium (never a downloaded browser build).
browser:
	@command -v chromium >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium; }

# Programs from model completions (code rewards) run isolated by Debian's bubblewrap.
sandbox:
	@command -v bwrap >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq bubblewrap; }

# Embedded mode: SQLite under var/ and a file-based Celery broker; no servers needed.
demo: install
	@mkdir -p $(LOG)
	$(PY) manage.py migrate --verbosity 0
	$(PY) manage.py create_user demo --role operator --password demo-password --if-missing
	$(PY) manage.py tiny_base
	@$(MAKE) --no-print-directory stop >/dev/null 2>&1 || true
	nohup $(WORKER) > $(LOG)/worker.log 2>&1 & echo $$! > var/worker.pid
	nohup $(PY) -m gunicorn r1web.wsgi --bind 127.0.0.1:$(PORT) --workers 2 --threads 4 \
		> $(LOG)/web.log 2>&1 & echo $$! > var/web.pid
	$(PY) manage.py run_recipe r1-zero --name "R1-Zero demo"
	@echo
	@echo "r1web is up: http://127.0.0.1:$(PORT)/  (sign in as demo / demo-password)"
	@echo "Logs in $(LOG)/; stop it with: make stop"

stop:
	-@for name in web worker; do \
		[ -f var/$$name.pid ] && kill $$(cat var/$$name.pid) 2>/dev/null; rm -f var/$$name.pid; \
	done; true

# The worker alone, restarted: SIGTERM hands its running stage back at the next step (with a
# checkpoint), the old worker exits within R1WEB_SHUTDOWN_SECONDS, the new one resumes it.
worker:
	@mkdir -p $(LOG)
	-@if [ -f var/worker.pid ]; then pid=$$(cat var/worker.pid); kill $$pid 2>/dev/null; \
		while kill -0 $$pid 2>/dev/null; do sleep 1; done; rm -f var/worker.pid; fi
	nohup $(WORKER) >> $(LOG)/worker.log 2>&1 & echo $$! > var/worker.pid

test: install browser
	$(PY) -m pytest -q

bench: install
	$(PIP) install --quiet -r requirements-bench.txt
	$(PY) bench/grpo_overhead.py
	$(PY) bench/trace_browser.py
	$(PY) bench/load.py
