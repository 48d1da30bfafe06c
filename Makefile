# Two commands on a fresh machine: `make app` starts the designer on the example job,
# `make test` runs every test. Both create the virtual environment on first use.

VENV := .venv
PYTHON := $(VENV)/bin/python
INSTALLED := $(VENV)/.installed

.PHONY: app test system-packages clean

app: $(INSTALLED)
	$(VENV)/bin/sparkcanvas app

test: $(INSTALLED) system-packages
	$(PYTHON) -m pytest

$(INSTALLED): pyproject.toml
	python3 -m venv $(VENV)
	$(PYTHON) -m pip install --quiet --upgrade pip
	$(PYTHON) -m pip install --quiet -e ".[test]"
	touch $(INSTALLED)

# Spark needs Java 17 or newer, the browser tests drive Debian's Chromium, and the database tests
# start Debian's PostgreSQL server and hand its JDBC driver to Spark.
system-packages:
	@bash scripts/install-system-packages

clean:
	rm -rf $(VENV) output .pytest_cache
