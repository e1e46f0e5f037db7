# The README's two commands: `make demo` (set up, run the main job) and `make test` (set up,
# run every test). Both start from a fresh clone: all they need is python3 (3.11+), cargo and
# the package registries.

VENV ?= .venv
# First-party plugins are installable packages found through entry points, like a third party's.
PLUGINS := $(patsubst %/pyproject.toml,%,$(wildcard plugins/*/pyproject.toml))
PYTHON ?= python3
BIN := $(VENV)/bin

.PHONY: venv setup setup-test demo test check bubblewrap browser

# `make demo` installs only what the main job needs: the harness with its local model stack
# (torch, transformers, peft, TRL, matplotlib: the `local` extra), its Luigi tasks and the
# connections plugin. `make test` installs everything (setup-test): the test extra, every
# first-party plugin, bubblewrap. Re-running either only rebuilds what changed (the Rust
# extension included).
venv:
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

setup: venv
	$(BIN)/python -m pip install --quiet --editable '.[local]' --editable ./luigi_tasks \
	  --editable ./plugins/connections

setup-test: venv
	@command -v bwrap >/dev/null || $(MAKE) --no-print-directory bubblewrap
	$(BIN)/python -m pip install --quiet --editable '.[test]' --editable ./luigi_tasks \
	  $(addprefix --editable ./,$(PLUGINS))

# The sandbox's strongest isolation runs each sample under bubblewrap. Installed when apt-get is
# there and allowed; otherwise `harness sandbox check` says which level the machine gives.
bubblewrap:
	-(apt-get update -qq && apt-get install -y -qq bubblewrap) >/dev/null 2>&1 || \
	  echo "bubblewrap not installed: run 'harness sandbox check' to see the isolation level" >&2

# The viewer's tests load pages in a real headless browser, Debian's chromium. Only the tests
# need it, so only `make test` installs it (when apt-get is there and allowed); without it the
# viewer's browser tests fail, saying so.
browser:
	@command -v chromium >/dev/null || \
	  (apt-get update -qq && apt-get install -y -qq chromium) >/dev/null 2>&1 || \
	  echo "chromium not installed: the viewer's browser tests will fail (apt-get install chromium)" >&2

# The main job (docs/main_job.md): LoRA SFT of the embedded model on the oracle's Connections
# games, then its games before and after, verified, doctored and formatted, and a report. Luigi's
# own summary ends its output, so the job's summary (outputs, figures, the HTML report) is
# printed again after it. DEMO_ARGS passes parameters to both, e.g. DEMO_ARGS='--eval-puzzles 16'.
demo: setup
	$(BIN)/luigi --module luigi_tasks.demo MainJob --local-scheduler $(DEMO_ARGS)
	@$(BIN)/python -m luigi_tasks.demo $(DEMO_ARGS)

# The static checks, each from the project's own configuration (pyproject.toml, rustfmt.toml): ruff,
# mypy over the library and the plugins, the Rust extension's stub (_fastjsonl.pyi) against the
# built module, clippy (the PyO3 layer too) and rustfmt. `make test` runs them first.
check: setup-test
	$(BIN)/ruff check .
	$(BIN)/mypy
	$(BIN)/python -m mypy.stubtest harness._fastjsonl
	cargo clippy --workspace --all-targets --all-features --quiet -- -D warnings
	cargo fmt --check

# pytest exits 5 when it collects nothing: a suite that finds no test is broken, so say so.
test: setup-test browser check
	cargo test --workspace --quiet
	$(BIN)/python -m pytest; status=$$?; \
	  if [ $$status -eq 5 ]; then echo "pytest collected no tests: the suite is broken" >&2; exit 1; fi; \
	  exit $$status
