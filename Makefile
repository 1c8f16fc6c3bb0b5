# django-expect: `make demo` serves the demo project; `make test` runs every test.
# Both set everything up first (a virtualenv in .venv), on a machine with Python 3.11+, make, curl.

PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
DEMO_BIND ?= 127.0.0.1:8000

.PHONY: setup demo test test-fast lint typecheck clean test-matrix bench bench-smoke stress

$(STAMP): pyproject.toml requirements-dev.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -r requirements-dev.txt -e .
	touch $(STAMP)

setup: $(STAMP)

demo: setup
	cd testproject && ../$(BIN)/python manage.py migrate --noinput -v0
	cd testproject && ../$(BIN)/python manage.py demo_setup
	@echo ""
	@echo "django-expect demo on http://$(DEMO_BIND)/ (gunicorn + the django_expect hooks). Try:"
	@echo "  head -c 50000000 /dev/zero > /tmp/50MB.bin"
	@echo "  curl -v -T /tmp/50MB.bin http://$(DEMO_BIND)/objects/big      # 413 before any body byte"
	@echo "  head -c 5000000 /dev/urandom > /tmp/5MB.bin"
	@echo "  curl -v -T /tmp/5MB.bin http://$(DEMO_BIND)/objects/small     # 100 Continue, then 200 + ETag"
	@echo "  curl -v -T /tmp/5MB.bin http://$(DEMO_BIND)/api/uploads        # 401: log in first"
	@echo "  curl -v -T /tmp/5MB.bin -H 'Authorization: Token demo-token' http://$(DEMO_BIND)/api/uploads"
	@echo "  admin: http://$(DEMO_BIND)/admin/ (demo / demo)"
	@echo ""
	cd testproject && DEMO_BIND=$(DEMO_BIND) ../$(BIN)/gunicorn -c gunicorn.conf.py

test: setup lint typecheck
	$(BIN)/pytest

test-fast: setup
	$(BIN)/pytest -x -q

lint: setup
	$(BIN)/ruff check django_expect tests testproject bench stress
	$(BIN)/ruff format --check django_expect

typecheck: setup
	cd testproject && ../$(BIN)/mypy --config-file ../pyproject.toml ../django_expect

# Benchmarks (bench/): stock gunicorn vs django-expect vs uvicorn. `make bench` (< 10 min) rewrites
# bench/results.{md,png,json}; `make bench-smoke` runs every scenario once at tiny sizes.
BENCH_STAMP := $(VENV)/.bench-installed

$(BENCH_STAMP): $(STAMP) requirements-bench.txt
	$(BIN)/python -m pip install -q -r requirements-bench.txt
	touch $(BENCH_STAMP)

bench: $(BENCH_STAMP)
	$(BIN)/python -m bench.run

bench-smoke: $(BENCH_STAMP)
	$(BIN)/python -m bench.run --smoke

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache testproject/db.sqlite3 testproject/media

# The end-to-end tests on each supported gunicorn major version, each in its own virtualenv
# (.venv-gunicornNN). `make test-matrix GUNICORN_VERSIONS=27` runs one.
GUNICORN_VERSIONS ?= 25 26 27
E2E_TESTS ?= tests/test_e2e_core.py tests/test_clients.py tests/test_proxies.py tests/test_tls.py

test-matrix:
	@set -e; for v in $(GUNICORN_VERSIONS); do \
	  venv=.venv-gunicorn$$v; \
	  if [ ! -x $$venv/bin/pytest ]; then \
	    $(PYTHON) -m venv $$venv; \
	    $$venv/bin/python -m pip install -q --upgrade pip; \
	    $$venv/bin/python -m pip install -q -r requirements-dev.txt -e .; \
	  fi; \
	  $$venv/bin/python -m pip install -q "gunicorn[gevent,http2]==$$v.*"; \
	  echo "== gunicorn $$($$venv/bin/python -c 'import gunicorn; print(gunicorn.__version__)')"; \
	  $$venv/bin/pytest -q -p no:cacheprovider $(E2E_TESTS); \
	done

# The large runs behind the Reliability figures (100,000 fuzz exchanges, 1,000 concurrent rejections,
# slowloris, 100 MB never-wait clients); about 10 minutes on 2 CPUs. Figures: stress/results.json,
# rendered into docs/reliability-figures.md. Fails when any section's own checks fail.
stress: setup
	$(BIN)/python -m pip install -q -r stress/requirements.txt
	$(BIN)/python -m stress.run; status=$$?; $(BIN)/python -m stress.report; exit $$status
