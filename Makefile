# Two commands on a fresh machine:
#   make demo   start (or use) a Label Studio, export a project, write Parquet, summarise;
#               installs the library alone (no test tools, torch, pyspark or Sphinx) and,
#               unless LABEL_STUDIO_URL names a server, Label Studio in its own venv
#   make test   lint, type-check, build the docs and run the whole suite against a real
#               Label Studio; installs everything it needs
# and, while working on the code:
#   make check  lint, type-check, the docs and every test that needs no server
#               (no Label Studio installed or started; a few minutes)
#   make docs   the user guide and the API reference, into docs/_build/html
#   make bench  every benchmark (against LABEL_STUDIO_URL, else a Label Studio it starts), one
#               table; BENCH=flatten,masks runs only those
# Another Label Studio release: `make test LS_VERSION=1.17.0` (installed once into
# .venv-labelstudio-1.17.0). `make compat` runs the real-server export, load_project, sync
# and panel tests (marker `compat`) against every release in COMPAT_VERSIONS in turn, each
# with a fresh server of its own.
PYTHON ?= python3
VENV := .venv
# The pinned release (ls_frames.testing.DEFAULT_VERSION) lives in .venv-labelstudio.
LS_DEFAULT_VERSION := 1.23.2
LS_VERSION ?= $(LS_DEFAULT_VERSION)
LS_VENV := $(if $(filter $(LS_DEFAULT_VERSION),$(LS_VERSION)),.venv-labelstudio,.venv-labelstudio-$(LS_VERSION))
# The releases `make compat` tests (ls_frames.transport.capabilities.TESTED_VERSIONS).
COMPAT_VERSIONS := 1.13.1 1.17.0 1.20.0 1.23.2
BIN := $(VENV)/bin
OUT ?= demo-output
PYTEST_ARGS ?=

export LS_FRAMES_LABEL_STUDIO := $(CURDIR)/$(LS_VENV)/bin/label-studio
# The suite reuses a running server (LS_FRAMES_TEST_URL, ...) only when it runs this release.
export LS_FRAMES_LS_VERSION := $(LS_VERSION)

.PHONY: test check demo lint typecheck docs docs-check bench clean install compat compat-one

# Two stamps, one venv. .installed-lib: the library and its own dependencies, all `make
# demo` needs. .installed: the extras, the development tools and torch on top, for make
# test and make check. One venv rather than two, so that a machine that runs both holds
# one copy of pandas and pyarrow, and `make test` after `make demo` only adds what is missing.
$(BIN)/.installed-lib: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet -e .
	touch $@

$(BIN)/.installed: $(BIN)/.installed-lib
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test,widgets,train,delta,plot]' --group dev
	# the CPU build of torch, for the datasets' torch format test (a local wheel here)
	$(BIN)/python -m pip install --quiet torch==2.13.0
	touch $@

# Label Studio lives in its own environment: its many pins never meet the library's. The
# installer needs the library only, not the test tools.
$(LS_VENV)/.installed-$(LS_VERSION): $(BIN)/.installed-lib
	$(BIN)/python -m ls_frames.testing install $(LS_VENV) --version $(LS_VERSION)
	touch $@

install: $(BIN)/.installed $(LS_VENV)/.installed-$(LS_VERSION)

# ruff's formatter decides the layout (`ruff format ls_frames tests benchmarks conftest.py docs`).
lint: $(BIN)/.installed
	$(BIN)/ruff check ls_frames tests benchmarks notebooks conftest.py docs
	$(BIN)/ruff format --check ls_frames tests benchmarks conftest.py docs

# ls_frames, tests/, benchmarks/, conftest.py and docs/conf.py ([tool.mypy] files).
typecheck: $(BIN)/.installed
	$(BIN)/mypy

# The user guide (docs/*.rst) and the API reference from the docstrings; -W: a warning in
# a guide page or a docstring fails the build.
SPHINX := $(BIN)/sphinx-build -q -W --keep-going -j 1
docs: $(BIN)/.installed
	$(SPHINX) -b html docs docs/_build/html
	@echo "user guide and API reference: docs/_build/html/index.html"

docs-check: $(BIN)/.installed
	$(SPHINX) -b dummy docs docs/_build/dummy

# The panel's browser test drives Debian's chromium (Playwright cannot fetch a browser of
# its own here); installed once, nothing to do when it is there.
CHROMIUM := /usr/bin/chromium
$(CHROMIUM):
	apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium

# pyspark (the test extra) runs on Java 17 or later: Debian's headless runtime, installed once.
JAVA := /usr/bin/java
$(JAVA):
	apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q openjdk-17-jre-headless

test: install lint typecheck docs-check $(CHROMIUM) $(JAVA)
	mkdir -p test-output
	$(BIN)/python -m pytest --nbval-lax -p no:cacheprovider \
		--nbval-sanitize-with notebooks/sanitize.cfg tests notebooks $(PYTEST_ARGS)

# No server: the reuse variables are dropped and LS_FRAMES_NO_SERVER makes a test that asks
# for Label Studio fail instead of starting one; the notebooks (which all need it) are left out.
# The generated (fuzz) tests run a fifth of their cases here; make test runs them all.
check: $(BIN)/.installed lint typecheck docs-check
	env -u LS_FRAMES_TEST_URL -u LS_FRAMES_TEST_LEGACY_TOKEN -u LS_FRAMES_TEST_ACCESS_TOKEN \
		-u LS_FRAMES_TEST_LOCAL_FILES_ROOT -u LS_FRAMES_TEST_LS_VERSION \
		-u LS_FRAMES_LABEL_STUDIO LS_FRAMES_NO_SERVER=1 LS_FRAMES_QUICK_FUZZ=1 \
		$(BIN)/python -m pytest -p no:cacheprovider -m "not server" tests $(PYTEST_ARGS)

# One release after another, each with a fresh server; a failing release does not stop
# the others. Per-release results and the total time go to test-output/compat.txt.
compat: $(BIN)/.installed
	mkdir -p test-output
	@start=$$(date +%s); status=0; : > test-output/compat.txt; \
	for v in $(COMPAT_VERSIONS); do \
		t=$$(date +%s); \
		if $(MAKE) --no-print-directory compat-one LS_VERSION=$$v; then r=passed; \
		else r=FAILED; status=1; fi; \
		echo "Label Studio $$v: $$r in $$(( $$(date +%s) - t )) s" >> test-output/compat.txt; \
	done; \
	echo "make compat: $$(( $$(date +%s) - start )) s in all" >> test-output/compat.txt; \
	cat test-output/compat.txt; exit $$status

compat-one: install
	env -u LS_FRAMES_TEST_URL -u LS_FRAMES_TEST_LEGACY_TOKEN -u LS_FRAMES_TEST_ACCESS_TOKEN \
		-u LS_FRAMES_TEST_LOCAL_FILES_ROOT -u LS_FRAMES_TEST_LS_VERSION \
		$(BIN)/python -m pytest -p no:cacheprovider -m compat \
		tests $(PYTEST_ARGS)

# The main job with the library alone; Label Studio is installed only when the demo starts
# one (no LABEL_STUDIO_URL given).
DEMO_NEEDS := $(BIN)/.installed-lib $(if $(LABEL_STUDIO_URL),,$(LS_VENV)/.installed-$(LS_VERSION))
demo: $(DEMO_NEEDS)
	$(BIN)/ls-frames demo --out $(OUT) $(if $(PROJECT),--project $(PROJECT),)

# Every benchmark that needs no server, and those that do when LABEL_STUDIO_URL (and
# LABEL_STUDIO_API_KEY) name one; one table at the end, full outputs in test-output/bench.
bench: install
	$(BIN)/python benchmarks/run_all.py --server $(if $(BENCH),--only $(BENCH),)

clean:
	rm -rf $(VENV) $(LS_VENV) test-output demo-output docs/_build .pytest_cache .mypy_cache .ruff_cache
