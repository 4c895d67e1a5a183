# viewsite: `make run` to serve it locally, `make test` to check it. Both set themselves up.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# Local development only: DEBUG on, the development secret, SQLite under var/.
DEV_ENV := DJANGO_DEBUG=true
# Debian packages some targets need, installed when missing (defined before the rules that
# name them: make expands prerequisites as it reads each rule).
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
# Chromium and its driver, for the browser tests.
BROWSER := /usr/bin/chromium /usr/bin/chromedriver
# A CJK font (settings.VIEWSITE_PLOT_FONT): `retrain` draws the model card's Chinese plots in it,
# and Chromium renders the Chinese pages (and their screenshots) with it, not boxes.
CJK_FONT := /usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc
NGINX := /usr/sbin/nginx
# iproute2's `ip`: the scale-out test puts each app host in a network namespace of its own.
IPROUTE := /sbin/ip
# Prometheus: the e2e test scrapes /metrics with a real one (test_deploy_metrics.py).
PROMETHEUS := /usr/bin/prometheus
BENCH_TOOLS := /usr/bin/wrk /usr/bin/redis-server
# axe-core, the accessibility engine the browser tests run in Chromium, from npm into the venv.
AXE := $(VENV)/axe/node_modules/axe-core/axe.min.js
AXE_VERSION := 4.14.1
# GNU gettext: makemessages and the test that every string has its translation.
GETTEXT := /usr/bin/msgmerge

.PHONY: run test e2e fuzz chaos bench bench-in-process bench-audit lint format sample-data messages clean

run: $(VENV)/.installed $(CJK_FONT)
	$(DEV_ENV) $(BIN)/python manage.py migrate --noinput
	$(DEV_ENV) $(BIN)/python manage.py retrain --if-no-model
	$(DEV_ENV) $(BIN)/python manage.py runserver 127.0.0.1:8000

# Tests run in TEST_WORKERS processes (pytest-xdist), each taking the next test as it finishes one.
TEST_WORKERS ?= 2

test: $(VENV)/.installed $(BROWSER) $(CJK_FONT) $(AXE) $(GETTEXT)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/pytest --create-db -n $(TEST_WORKERS) --dist worksteal -m "not deploy and not fuzz and not chaos" $(PYTEST_ARGS)

# A schema-driven fuzz run of the whole API (schemathesis; fixed seed, bounded cases) against
# gunicorn with the production settings: no 5xx, answers match the schema, everything audited.
fuzz: $(VENV)/.installed
	$(BIN)/pytest -m fuzz -s $(PYTEST_ARGS)

# Faults under load through nginx and gunicorn (retrains, worker kills, a database outage, retrain
# faults, SQLite write contention); ends with a table of figures. A few minutes: each scenario
# waits for what it needs (answers, a replaced worker, 503s), not for a fixed time.
chaos: $(VENV)/.installed $(NGINX)
	$(BIN)/pytest -m chaos $(PYTEST_ARGS)

# The deployment end to end: real nginx (installed from Debian when missing), gunicorn with
# deploy/gunicorn.conf.py, TLS, and two app hosts on the PostgreSQL at 127.0.0.1:5432, each in a
# network namespace and folder of its own (needs root, for `ip netns`).
e2e: $(VENV)/.installed $(NGINX) $(IPROUTE) $(PROMETHEUS)
	$(BIN)/pytest -m deploy $(PYTEST_ARGS)

# Benchmark (bench/README.md): viewsite under gunicorn, in production configuration, against the
# course's Flask app, both loaded by Debian's wrk on loopback, viewsite's rate limits on a private
# redis-server. A few minutes; not run by CI. Flask (the baseline only) goes into the same
# virtualenv. e.g. make bench BENCH_ARGS=--quick
bench: $(VENV)/.installed $(BENCH_TOOLS)
	$(BIN)/python -m pip install --quiet -r bench/requirements.txt
	$(BIN)/python bench/run.py $(BENCH_ARGS)

# CPU per request with no server and no load generator (bench/in_process.py): steadier than
# throughput on a shared machine. About a minute.
bench-in-process: $(VENV)/.installed $(BENCH_TOOLS)
	$(BIN)/python -m pip install --quiet -r bench/requirements.txt
	$(BIN)/python bench/in_process.py $(BENCH_ARGS)

# seal_audit and verify_audit on a million audit rows loaded by SQL into a throwaway PostgreSQL
# database at 127.0.0.1:5432 (bench/seal_audit.py). A few minutes; not run by CI.
.PHONY: bench-seal
bench-seal: $(VENV)/.installed
	$(BIN)/python bench/seal_audit.py $(BENCH_ARGS)

# The audit trail at 1,000,000 and 10,000,000 rows (bench/audit.py): the admin, the staff API and
# the CSV export, in process and through gunicorn, on a throwaway PostgreSQL database at
# 127.0.0.1:5432. About half an hour on two cores; not run by CI. e.g. make bench-audit
# BENCH_ARGS="--sizes 100000,1000000 --repeat 3"
bench-audit: $(VENV)/.installed
	$(BIN)/python bench/audit.py $(BENCH_ARGS)

lint: $(VENV)/.installed
	$(BIN)/ruff check . && $(BIN)/ruff format --check .

format: $(VENV)/.installed
	$(BIN)/ruff check --fix . && $(BIN)/ruff format .

# The Chinese catalogue: extract every string of ours (English in the code), then compile it.
# Translate what is new in locale/zh_Hans/LC_MESSAGES/django.po, run this again, and commit both
# files; a test fails while any string has no translation. Needs GNU gettext.
messages: $(VENV)/.installed $(GETTEXT)
	$(DEV_ENV) $(BIN)/python manage.py makemessages -l zh_Hans --no-location --no-obsolete \
		$(foreach path,.venv var bench predictor/tests staticfiles,--ignore='$(path)/*')
	$(DEV_ENV) $(BIN)/python manage.py compilemessages -l zh_Hans --ignore='.venv/*'

# Re-create data/wechat_articles_sample.csv from its fixed seed.
sample-data: $(VENV)/.installed
	$(DEV_ENV) $(BIN)/python manage.py generate_sample_data

# The browser tests drive Debian's Chromium through its chromedriver; install them when missing.
$(BROWSER) &:
	$(SUDO) apt-get update -qq
	$(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver

$(CJK_FONT):
	$(SUDO) apt-get update -qq
	$(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq fonts-noto-cjk

$(AXE): $(VENV)/.installed
	command -v npm >/dev/null || { $(SUDO) apt-get update -qq && $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq npm; }
	npm install --silent --no-audit --no-fund --prefix $(VENV)/axe axe-core@$(AXE_VERSION)
	touch $@

$(GETTEXT):
	$(SUDO) apt-get update -qq
	$(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq gettext

$(NGINX):
	$(SUDO) apt-get update -qq
	$(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nginx openssl

$(IPROUTE):
	$(SUDO) apt-get update -qq
	$(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq iproute2

$(PROMETHEUS):
	$(SUDO) apt-get update -qq
	$(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq prometheus

$(BENCH_TOOLS) &:
	$(SUDO) apt-get update -qq
	$(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk redis-server

# The virtualenv is rebuilt whenever a requirements file changes.
$(VENV)/.installed: requirements.txt requirements-dev.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements-dev.txt
	touch $@

clean:
	rm -rf $(VENV) staticfiles .pytest_cache .ruff_cache
