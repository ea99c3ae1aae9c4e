# capplan: `make demo` and `make test` are all a new user needs.
PYTHON ?= python3.11
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
export DO_NOT_TRACK := 1
export PREFECT_SERVER_ANALYTICS_ENABLED := false
export GX_ANALYTICS_ENABLED := false
export MLFLOW_DISABLE_TELEMETRY := true

.PHONY: demo test test-all bench lint ui screenshots install clean lock

$(PY):
	$(PYTHON) -m venv $(VENV)

# Reinstall only when the dependency pins change.
$(STAMP): pyproject.toml requirements.lock | $(PY)
	$(PY) -m pip install --quiet --upgrade "pip>=24"
	$(PY) -m pip install --quiet -c requirements.lock -e ".[dev]"
	@touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(VENV)/bin/capplan demo

test: $(STAMP)
	$(PY) -m pytest -m "not slow" -q

test-all: $(STAMP)
	$(PY) -m pytest -q

bench: $(STAMP)
	$(PY) benchmarks/run_all.py

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

# A Prefect server (127.0.0.1:4200) and an MLflow server (127.0.0.1:5000, SQLite under mlruns/);
# Ctrl+C stops both. PREFECT_PORT=4201 MLFLOW_PORT=5001 make ui for other ports.
ui: $(STAMP)
	$(VENV)/bin/capplan ui --prefect-port $${PREFECT_PORT:-4200} --mlflow-port $${MLFLOW_PORT:-5000}

# The Prefect and MLflow UIs after a real run, as PNG files under demo/screenshots/ (needs chromium).
screenshots: $(STAMP)
	$(PY) -m capplan.screenshots --out demo/screenshots

# Refresh requirements.lock from the current environment.
lock: $(STAMP)
	$(PY) -m pip freeze --exclude-editable | sed 's/^torch==2.13.0+cpu/torch==2.13.0/' > requirements.lock

clean:
	rm -rf data/demo data/*.duckdb data/exports mlruns/mlflow.db mlruns/artifacts
