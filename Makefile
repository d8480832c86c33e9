# Two commands matter: `make run` and `make test`. Both create the environment on first use.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
# Reinstall whenever pyproject.toml changes.
STAMP := $(VENV)/.installed-$(shell cat pyproject.toml | cksum | cut -d' ' -f1)
RUNTIME_DEPS = $(shell $(PY) -c "import tomllib;print(' '.join(tomllib.load(open('pyproject.toml','rb'))['project']['dependencies']))")

export JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION := 20
export PYTHONDONTWRITEBYTECODE := 1

.PHONY: install browser fonts run test fuzz lint format docs bench load synth invoke layer-deps build deploy clean

$(STAMP): pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[dev]'
	rm -f $(VENV)/.installed-*
	touch $@

install: $(STAMP) browser fonts

# The /docs test opens the page in Debian's Chromium (no Python driver that downloads a browser).
browser:
	@command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1 || { \
	  if command -v apt-get >/dev/null 2>&1 && [ "$$(id -u)" = 0 ]; then \
	    echo "installing Debian's chromium (tests/e2e/test_docs_page.py opens /docs in it)"; \
	    { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; } \
	      || echo "WARNING: apt-get could not install chromium: tests/e2e/test_docs_page.py will fail"; \
	  else \
	    echo "WARNING: chromium is missing and installing it needs root and apt-get: install your system's"; \
	    echo "  chromium package, or tests/e2e/test_docs_page.py will fail"; \
	  fi; }

# The SYS-008 simulator renders invoice PDFs with a CJK TrueType font: Debian's fonts-wqy-microhei.
fonts:
	@[ -f /usr/share/fonts/truetype/wqy/wqy-microhei.ttc ] || [ -n "$$WATERREV_CJK_FONT" ] || { \
	  if command -v apt-get >/dev/null 2>&1 && [ "$$(id -u)" = 0 ]; then \
	    echo "installing Debian's fonts-wqy-microhei (the SYS-008 simulator renders Chinese invoice PDFs)"; \
	    { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq fonts-wqy-microhei >/dev/null; } \
	      || echo "WARNING: apt-get could not install fonts-wqy-microhei: the SYS-008 simulator will refuse to start"; \
	  else \
	    echo "WARNING: no CJK font: install your system's fonts-wqy-microhei, or set WATERREV_CJK_FONT to a .ttf/.ttc,"; \
	    echo "  or the SYS-008 simulator (make run, the invoice tests) refuses to start"; \
	  fi; }

run: install  ## the local stack on http://127.0.0.1:$${WATERREV_PORT:-3000}
	$(BIN)/python -m waterrev.local.run

test: lint  ## lint, then unit + integration + infra + e2e on a real PostgreSQL, with coverage
	$(BIN)/coverage run -m pytest $(PYTEST_ARGS)
	$(BIN)/coverage report --sort=-cover | tail -n 25

fuzz: install  ## the API fuzz run of `make test`, deep: many more and new examples per operation
	WATERREV_FUZZ_EXAMPLES=$${EXAMPLES:-500} WATERREV_FUZZ_RANDOM=1 $(BIN)/python -m pytest tests/integration/test_fuzz_api.py

lint: install  ## ruff, mypy and the import contracts of docs/ARCHITECTURE.md
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy layers/core/python functions infra
	$(BIN)/lint-imports

format: install
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

docs: install  ## regenerate docs/INTERFACES.md and ERRORS.md (catalog), SCHEMA.md (a freshly migrated database)
	$(BIN)/python -m waterrev.local.docs_gen
	$(BIN)/python -m waterrev.local.schema_doc

bench: install build  ## figures, printed; never asserted
	$(BIN)/python benchmarks/run.py
	$(BIN)/python benchmarks/bill_run.py
	$(BIN)/python benchmarks/pay_notify.py
	$(BIN)/python benchmarks/invoice_compensate.py
	$(BIN)/python benchmarks/dues.py
	$(BIN)/python benchmarks/reminders.py
	$(BIN)/python benchmarks/withholding.py
	$(BIN)/python benchmarks/statistics.py

load: install  ## the local stack under a month-end mix for LOAD_SECONDS (300): p99 per route beside its database floor
	$(BIN)/python benchmarks/load.py

synth: install  ## CloudFormation into cdk.out, offline
	PATH=$(CURDIR)/$(BIN):$$PATH CDK_OUTDIR=cdk.out $(BIN)/python infra/app.py

invoke: install  ## make invoke FN=cs_bill_history EVENT=events/cs_bill_history/history.json
	$(BIN)/python -m waterrev.local.invoke $(FN) $(EVENT)

layer-deps:  ## the dependencies layer for Lambda (arm64, Python 3.11), from PyPI wheels
	rm -rf build/layers/deps && mkdir -p build/layers/deps/python
	$(PY) -m pip install -q --platform manylinux2014_aarch64 --implementation cp --python-version 3.11 \
		--only-binary=:all: --target build/layers/deps/python $(RUNTIME_DEPS)

build: install  ## deployable copies of functions/ and the core layer, with precompiled bytecode
	rm -rf build/functions build/layers/core && mkdir -p build/layers/core/python
	cp -r functions build/functions
	cp -r layers/core/python/waterrev build/layers/core/python/waterrev
	rm -rf build/layers/core/python/waterrev/local
	find build/functions build/layers/core -name __pycache__ -prune -exec rm -rf {} +
	$(BIN)/python -m compileall -q --invalidation-mode unchecked-hash build/functions build/layers/core

deploy: install layer-deps build synth  ## needs AWS credentials and the aws-cdk CLI
	npx aws-cdk@2 deploy --app cdk.out

clean:
	rm -rf $(VENV) cdk.out build .local .pgtest
