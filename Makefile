# The two commands: `make run` and `make test`. Both install what they need first.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python

.PHONY: run test faults bench install clean

$(VENV)/.installed: requirements.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.txt
	touch $@

install: $(VENV)/.installed

run: install
	FLASK_APP=wsgi $(PY) -m scripts.run

test: install
	FLASK_APP=wsgi $(PY) -m pytest $(PYTEST_ARGS)

# The pipeline's fault tests (tests/faults): their own PostgreSQL and Redis stopped under load,
# three worker hosts in network namespaces with one cut off (needs root; skips elsewhere),
# a worker killed and restarted; about four minutes; .ci/run runs them after `make test`.
# (The web tier's fault tests, tests/test_faults_web.py, are part of `make test`.)
faults: install
	FLASK_APP=wsgi $(PY) -m pytest -m faults -s tests/faults $(PYTEST_ARGS)

# Every benchmark at a small size, a few minutes in all; bench/README.md says how to run them
# at full size. They use DATABASE_URL / REDIS_URL, by default the local servers.
bench: install
	$(PY) bench/logging_context.py --calls 1000
	$(PY) bench/seeding.py --rows 200000
	$(PY) bench/aggregate_reads.py --rows 200000 --runs 20
	$(PY) bench/pipeline_throughput.py --small
	$(PY) bench/calls_in_flight.py --small
	$(PY) bench/alert_evaluation.py --rows 200000 --runs 3
	$(PY) bench/dashboard_pages.py --rows 200000 --runs 10

clean:
	rm -rf $(VENV) instance .pytest_cache
