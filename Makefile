# Two commands matter: `make run` (the chat on the embedded default) and `make test` (all tests).
PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
# Two stamps in one venv: `make run` installs the runtime requirements only (RUN_STAMP); the targets
# of developers (test, lint, bench, proto) add the dev tools on top (STAMP).
STAMP := $(VENV)/.installed
RUN_STAMP := $(VENV)/.installed-run
# `make run PORT=8001` when 8000 is taken (runchat refuses a taken port before it starts anything).
PORT ?= 8000
# The packages of the product, lowest layer first (docs/architecture.md).
APPS := kernel storage events domain messaging rooms streaming web chatproject

# The services that the test suite talks to (started by scripts/services.sh).
# DJANGO_DEBUG=1: the suites run on the development secrets (DEBUG itself is off inside tests, as
# Django's test runner sets it); tests of the production settings set their own environment.
TEST_ENV := DJANGO_DEBUG=1 DATABASE_URL=postgres://chat:chat@127.0.0.1:5432/chat \
	REDIS_URL=redis://127.0.0.1:6379/0 \
	NATS_URL=nats://127.0.0.1:4222

# The `scylla` back end (CHAT_STORAGE=scylla) on a real Cassandra node (scripts/cassandra.sh): the storage
# contract suite and the API and stream suites. The read-state tests of the postgres back end and
# its outbox admin and participant list pages read the ORM tables: postgres only.
SCYLLA_TEST_ENV := $(TEST_ENV) CHAT_STORAGE=scylla CASSANDRA_KEYSPACE=chat_ci
SCYLLA_SUITES := tests/storage tests/events tests/domain tests/rooms tests/messaging tests/streaming \
	tests/chatproject/test_api_schema.py tests/chatproject/test_health.py \
	--deselect tests/storage/test_postgres_read_state.py --deselect tests/storage/test_postgres_membership.py \
	--deselect tests/streaming/test_push.py::test_the_outbox_admin_lists_events_and_schedules_a_retry \
	--deselect tests/rooms/test_admin.py::test_participant_list_and_its_actions

.PHONY: venv run test test-postgres test-scylla services lint proto clean bench

venv: $(STAMP)

$(STAMP): requirements.txt requirements-dev.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -r requirements-dev.txt
	touch $(STAMP) $(RUN_STAMP)

$(RUN_STAMP): requirements.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -r requirements.txt
	touch $(RUN_STAMP)

# The embedded development chat: DEBUG on (and with it the development secrets) unless set otherwise.
run: export DJANGO_DEBUG ?= 1
run: $(RUN_STAMP)
	$(PY) manage.py migrate --noinput
	if [ "$$CHAT_STORAGE" = scylla ]; then $(PY) manage.py sync_cassandra; fi
	$(PY) manage.py runchat --port $(PORT)

services: venv
	bash scripts/services.sh
	bash scripts/chromium.sh

# Every suite on the postgres back end (incl. the browser tests), then the storage contract, API and
# stream suites again on the scylla back end.
test: test-postgres test-scylla

# The Cassandra outage tests belong to the scylla pass only (they would skip here).
SCYLLA_ONLY := --ignore=tests/storage/test_scylla_outage.py --ignore=tests/streaming/test_replay_outage.py

test-postgres: venv services
	$(TEST_ENV) $(PY) -m pytest $(SCYLLA_ONLY) $(PYTEST_ARGS)

test-scylla: venv services
	bash scripts/cassandra.sh start
	$(SCYLLA_TEST_ENV) $(PY) -m pytest $(SCYLLA_SUITES) $(PYTEST_ARGS)

# The scenarios on the real services beside a baseline chat (bench/README.md); e.g. make bench BENCH_ARGS="--quick"
bench: venv services
	ulimit -n 20000 2>/dev/null || true; $(PY) bench/run.py $(BENCH_ARGS)

lint: venv
	$(VENV)/bin/ruff check .
	$(VENV)/bin/lint-imports --no-logo
	# mypy's Django plugin loads the settings: the development ones.
	DJANGO_DEBUG=1 $(VENV)/bin/mypy $(APPS)

proto: venv
	$(PY) -m grpc_tools.protoc -Ievents/proto --python_out=events/proto --pyi_out=events/proto events/proto/chat.proto

clean:
	rm -rf data .pytest_cache
