# The README's two commands: `make demo` (set up, run the main job) and `make test` (set up,
# run every test). Both start from a fresh clone: all they need is python3 (3.11+), cargo and
# the package registries.

VENV ?= .venv
# First-party plugins are installable packages found through entry points, like a third party's.
PLUGINS := $(patsubst %/pyproject.toml,%,$(wildcard plugins/*/pyproject.toml))
PYTHON ?= python3
BIN := $(VENV)/bin

.PHONY: setup demo test check bubblewrap browser

# Creates the virtual environment and installs the harness (building the Rust extension), its
# Luigi tasks and first-party plugins, with the test dependencies. Re-running it only rebuilds
# what changed.
setup:
	@command -v bwrap >/dev/null || $(MAKE) --no-print-directory bubblewrap
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
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

# The main job: rollouts of the Connections environment with the embedded default model.
demo: setup
	$(BIN)/luigi --module luigi_tasks.rollouts GenerateRollouts --env connections --limit 4 \
	  --max-turns 4 --max-tokens 64 --local-scheduler
	$(BIN)/harness jsonl count-by data/rollouts/connections,*/shard-*.jsonl --key /outcome/reason

# The static checks, each from the project's own configuration (pyproject.toml, rustfmt.toml): ruff,
# mypy over the library and the plugins, the Rust extension's stub (_fastjsonl.pyi) against the
# built module, clippy (the PyO3 layer too) and rustfmt. `make test` runs them first.
check: setup
	$(BIN)/ruff check .
	$(BIN)/mypy
	$(BIN)/python -m mypy.stubtest harness._fastjsonl
	cargo clippy --workspace --all-targets --all-features --quiet -- -D warnings
	cargo fmt --check

# pytest exits 5 when it collects nothing: a suite that finds no test is broken, so say so.
test: setup browser check
	cargo test --workspace --quiet
	$(BIN)/python -m pytest; status=$$?; \
	  if [ $$status -eq 5 ]; then echo "pytest collected no tests: the suite is broken" >&2; exit 1; fi; \
	  exit $$status
