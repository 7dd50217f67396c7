# Two commands on a fresh machine: `make run` and `make test`. Both create .venv themselves.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
export HEALTHPASS_TEST_POSTGRES_URL ?= postgresql://postgres@127.0.0.1:5432/postgres

.PHONY: run test test-fast bench venv migrate seed reset clean messages

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e ".[test]"
	touch $(STAMP)

venv: $(STAMP)

migrate: $(STAMP)
	$(BIN)/healthpass db upgrade

seed: migrate
	$(BIN)/healthpass seed

## The whole system with demo data: API + UI :8000, Prefect UI :4200, a healthpass worker.
run: seed
	$(BIN)/healthpass serve

## The whole suite, slow end-to-end tests included (SQLite and PostgreSQL).
test: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/python -m pytest -q -p no:cacheprovider

## Everything but the slow end-to-end tests.
test-fast: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/python -m pytest -q -m "not slow"

.PHONY: test-browser screenshots

## Only the browser tests (Playwright + Debian's chromium: `apt-get install chromium`; tests/browser/README.md).
test-browser: $(STAMP)
	$(BIN)/python -m pytest -q -p no:cacheprovider -m browser tests/browser

## The browser tests, writing docs/screenshots/<actor>-<step>.png (shown in the README).
screenshots: $(STAMP)
	HEALTHPASS_SCREENSHOTS=1 $(BIN)/python -m pytest -q -p no:cacheprovider -m browser tests/browser

## Benchmarks -> BENCHMARKS.md (< 15 min). py-spy profiles the unmet targets; wrk (apt) is used when present.
bench: $(STAMP)
	$(BIN)/python -m pip install -q py-spy
	$(BIN)/python -m bench.run

## Translations (README, Language): m.bi -> gettext, extract every message, update the Chinese catalogue, compile.
## New msgids arrive untranslated in ui/locale/zh_CN/LC_MESSAGES/messages.po: translate them, then `make messages` again.
messages: $(STAMP)
	$(BIN)/python -m ops.i18n_convert
	$(BIN)/pybabel extract -F babel.cfg -k N_ -k msg -k Word:1c,2 --no-wrap --sort-output --project=healthpass -o ui/locale/messages.pot .
	$(BIN)/pybabel update -i ui/locale/messages.pot -d ui/locale -D messages -l zh_CN --no-fuzzy-matching --no-wrap --ignore-obsolete
	$(BIN)/python -m ops.i18n_convert  # compiles messages.mo (Babel's write_mo, as tests/ui/test_i18n.py checks)

## Forget the demo data (SQLite store, Prefect history, keys) and start again with `make run`.
reset:
	rm -rf var

clean: reset
	rm -rf $(VENV) *.egg-info
