# django-expect: `make demo` serves the demo project; `make test` runs every test.
# Both set everything up first (a virtualenv in .venv), on a machine with Python 3.11+, make, curl.

PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
DEMO_BIND ?= 127.0.0.1:8000

.PHONY: setup demo test test-fast lint typecheck clean

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
	$(BIN)/ruff check django_expect tests testproject
	$(BIN)/ruff format --check django_expect

typecheck: setup
	cd testproject && ../$(BIN)/mypy --config-file ../pyproject.toml ../django_expect

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache testproject/db.sqlite3 testproject/media

# The large runs behind docs/reliability.md (100,000 fuzz exchanges, 1,000 concurrent rejections,
# slowloris, 100 MB never-wait clients); about 10 minutes on 2 CPUs. Figures: stress/results.json.
.PHONY: stress
stress: setup
	$(BIN)/python -m pip install -q -r stress/requirements.txt
	$(BIN)/python -m stress.run
