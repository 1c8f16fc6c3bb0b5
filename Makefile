# django-expect: `make demo` serves the demo project; `make test` runs every test.
# Both set everything up first (a virtualenv in .venv), on a machine with Python 3.11+, make, curl.

# The newest Python found (what a new user's `pip install` runs on): 3.13, else 3.12, else python3.
PYTHON ?= $(firstword $(foreach p,python3.13 python3.12 python3,$(shell $(p) -c "" >/dev/null 2>&1 && echo $(p))))
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
DEMO_BIND ?= 127.0.0.1:8000

.PHONY: setup setup-unit demo demo-asgi test test-unit test-fast lint typecheck clean test-matrix matrix prerelease wheel-check docs coverage bench bench-smoke bench-asgi bench-latency bench-browsers profile stress soak

$(STAMP): pyproject.toml requirements-dev.txt requirements-matrix.txt requirements-unit.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -r requirements-dev.txt -e .
	touch $(STAMP)

setup: $(STAMP)

# The one-minute loop's own virtualenv: requirements-unit.txt only (no server, client, browser,
# uWSGI, Go or Node), so `make test-unit` works on a machine without any of them.
UNIT_VENV  ?= .venv-unit
UNIT_STAMP := $(UNIT_VENV)/.installed

$(UNIT_STAMP): pyproject.toml requirements-unit.txt
	$(PYTHON) -m venv $(UNIT_VENV)
	$(UNIT_VENV)/bin/python -m pip install -q --upgrade pip
	$(UNIT_VENV)/bin/python -m pip install -q -r requirements-unit.txt -e .
	touch $(UNIT_STAMP)

setup-unit: $(UNIT_STAMP)

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
	@echo "  curl -v -u demo:demo -H 'Expect: 100-continue' --data-binary @/tmp/50MB.bin http://$(DEMO_BIND)/drf/documents/  # DRF action: 413"
	@echo "  curl -v -H 'Expect: 100-continue' -F file=@/tmp/50MB.bin http://$(DEMO_BIND)/ninja/documents  # ninja operation: 413"
	@echo "  admin: http://$(DEMO_BIND)/admin/ (demo / demo)"
	@echo ""
	cd testproject && DEMO_BIND=$(DEMO_BIND) ../$(BIN)/gunicorn -c gunicorn.conf.py

# The same demo under uvicorn (ASGI), through django_expect.asgi (docs/howto/asgi.md).
demo-asgi: setup
	cd testproject && ../$(BIN)/python manage.py migrate --noinput -v0
	cd testproject && ../$(BIN)/python manage.py demo_setup
	@echo ""
	@echo "django-expect demo on http://$(DEMO_BIND)/ (uvicorn + django_expect.asgi). Try:"
	@echo "  head -c 50000000 /dev/zero > /tmp/50MB.bin"
	@echo "  curl -v -T /tmp/50MB.bin http://$(DEMO_BIND)/objects/big      # 413 before any body byte"
	@echo "  head -c 5000000 /dev/urandom > /tmp/5MB.bin"
	@echo "  curl -v -T /tmp/5MB.bin http://$(DEMO_BIND)/objects/small     # 100 Continue, then 200 + ETag"
	@echo ""
	cd testproject && ../$(BIN)/python -m uvicorn --host $(firstword $(subst :, ,$(DEMO_BIND))) \
	  --port $(lastword $(subst :, ,$(DEMO_BIND))) testproject.asgi:application

# The whole suite under coverage (the gunicorn workers the tests start are measured too); prints
# the package's branch coverage at the end. `make coverage` adds an HTML report in htmlcov/.
test: setup lint
	@$(BIN)/python -c "import sys, django, gunicorn; print('make test: Python', sys.version.split()[0], 'x Django', django.get_version(), 'x gunicorn', gunicorn.__version__)"
	rm -f .coverage .coverage.*
	$(BIN)/coverage run -m pytest --durations=25
	$(BIN)/coverage combine -q
	$(BIN)/coverage report

coverage: test
	$(BIN)/coverage html -q
	@echo "HTML report: htmlcov/index.html"

# tests/unit alone (the decision core, the Django adapter in process, checks, admin, policies):
# no server process, under a minute (a quarter of the property tests' examples; `make test` runs
# them all); its own venv (.venv-unit). Run it on every change.
test-unit: $(UNIT_STAMP)
	DJANGO_EXPECT_QUICK=1 $(UNIT_VENV)/bin/pytest tests/unit -q -p no:cacheprovider

test-fast: setup
	$(BIN)/pytest -x -q

# ruff, ruff format, mypy --strict and whitespace checks: .pre-commit-config.yaml.
lint: setup
	$(BIN)/pre-commit run --all-files --show-diff-on-failure

typecheck: setup
	$(BIN)/mypy

# The manual (docs/, MkDocs): warnings, broken links and anchors are errors.
docs: setup
	$(BIN)/mkdocs build --strict --quiet
	@echo "built site/index.html"

# Every supported (Python, Django) cell but the newest (make test's): Django 5.2 on 3.11-3.13,
# 6.0 and 6.1 on 3.12-3.13; unit, wire core under gunicorn 25-27, runserver, ASGI (noxfile.py),
# in two lanes side by side (MATRIX_LANES=1: one after another). One cell: nox -r -s "matrix(3.12-6.0)".
MATRIX_LANES ?= 2
matrix: setup
	$(BIN)/python noxfile.py $(MATRIX_LANES)

# The newest Django pre-release on PyPI, if any (CI reports it and does not fail on it).
prerelease: setup
	$(BIN)/nox -r -s prerelease

# Build sdist + wheel, twine check, every package file in the wheel, e2e smoke against the wheel.
wheel-check: setup
	$(BIN)/nox -r -s wheel

# Benchmarks (bench/): stock gunicorn vs django-expect vs uvicorn, the browsers, and the ASGI
# handlers. `make bench` (~20 min) rewrites bench/results.{md,png,json}, bench/browsers.{md,json}
# bench/asgi_results.{md,json} (with the ASGI small-request rows), bench/latency_results.{md,json}
# (the decision latency explained) and bench/tus_results.{md,json} (the tus endpoint: refused at
# creation vs accept-then-check, tus vs a plain PUT); `make bench-smoke` runs every scenario once at tiny sizes.
BENCH_STAMP := $(VENV)/.bench-installed

$(BENCH_STAMP): $(STAMP) requirements-bench.txt
	$(BIN)/python -m pip install -q -r requirements-bench.txt
	touch $(BENCH_STAMP)

# `make bench BENCH_DJANGO=5.2`: the same bench on another Django series, in a virtualenv of its
# own (.venv-django5.2: requirements-dev + requirements-bench, then Django 5.2.*); its results go
# to bench/django-5.2/ and the docs pages are left alone, except that the performance page (next
# time it is written) shows that run's targets beside the main run's.
BENCH_DJANGO ?=
ifeq ($(strip $(BENCH_DJANGO)),)
BENCH_PY   := $(BIN)/python
BENCH_DEPS := $(BENCH_STAMP)
else
BENCH_PY   := .venv-django$(BENCH_DJANGO)/bin/python
BENCH_DEPS := .venv-django$(BENCH_DJANGO)/.installed
export BENCH_RESULTS_DIR := bench/django-$(BENCH_DJANGO)
endif

.venv-django%/.installed: pyproject.toml requirements-dev.txt requirements-matrix.txt requirements-bench.txt
	$(PYTHON) -m venv .venv-django$*
	.venv-django$*/bin/python -m pip install -q --upgrade pip
	.venv-django$*/bin/python -m pip install -q -r requirements-dev.txt -r requirements-bench.txt -e .
	.venv-django$*/bin/python -m pip install -q "Django==$*.*"
	touch $@

bench: $(BENCH_DEPS)
	$(BENCH_PY) -m bench.run
	$(BENCH_PY) -m bench.browsers
	$(BENCH_PY) -m bench.asgi
	$(BENCH_PY) -m bench.breakdown
	$(BENCH_PY) -m bench.tus
	@if [ -n "$(BENCH_RESULTS_DIR)" ] && [ -f bench/results.json ]; then $(BENCH_PY) -m bench.report; fi

bench-smoke: $(BENCH_DEPS)
	$(BENCH_PY) -m bench.run --smoke
	$(BENCH_PY) -m bench.browsers --smoke
	$(BENCH_PY) -m bench.asgi --smoke
	$(BENCH_PY) -m bench.breakdown --smoke
	$(BENCH_PY) -m bench.tus --smoke

# The decision latency explained alone (part of `make bench`, a few minutes): stock's eager 100,
# Django reaching the view without django-expect, django-expect, and the package's own share
# timed inside the worker (bench/breakdown.py): bench/latency_results.{md,json}.
bench-latency: $(BENCH_STAMP)
	$(BIN)/python -m bench.breakdown

# Where a small GET and POST spend their time, with and without django-expect: cProfile of the
# hooks + middleware, py-spy sampling live gunicorn (sync, gthread) and uvicorn workers
# (bench/profile.py; bench/.work/profile/). `make profile PROFILE_ARGS=--smoke`: a quick pass.
profile: $(BENCH_STAMP)
	$(BIN)/python -m bench.profile $(PROFILE_ARGS)

# The browser section alone (real Chromium and Firefox, ~5 min): bench/browsers.{md,json}.
bench-browsers: $(BENCH_STAMP)
	$(BIN)/python -m bench.browsers

# The ASGI part alone (part of `make bench`): Django's ASGI handler vs django-expect's on uvicorn
# and gunicorn -k asgi, rejected PUTs and form, accepted 1 GiB (docs/howto/asgi.md):
# bench/asgi_results.{md,json}.
bench-asgi: $(BENCH_STAMP)
	$(BIN)/python -m bench.asgi

clean:
	rm -rf $(VENV) $(UNIT_VENV) .venv-apache .nox site htmlcov .coverage .coverage.* .mypy_cache .ruff_cache .pytest_cache testproject/db.sqlite3 testproject/media tests/.db.sqlite3 tests/.media

# Kept for muscle memory: the version matrix is `make matrix` (nox).
test-matrix: matrix

# The large runs behind the Reliability figures (100,000 fuzz exchanges, 1,000 concurrent rejections,
# slowloris, 100 MB never-wait clients); about 10 minutes on 2 CPUs. Figures: stress/results.json,
# rendered into docs/explanation/reliability-figures.md. Fails when any section's own checks fail.
stress: setup
	$(BIN)/python -m pip install -q -r stress/requirements.txt
	$(BIN)/python -m stress.run; status=$$?; $(BIN)/python -m stress.report; exit $$status

# A bounded soak under mixed hostile load on gunicorn gthread, gevent and uvicorn (stress/soak.py):
# ~10 minutes (SOAK_SECONDS to change), fails on any wrong answer or a resource that grows.
soak: setup
	$(BIN)/python -m stress.soak
