# Top-level Makefile of axs: delegates building to core/ (the library the
# others link), extension/ (PGXS), feeder/ and tools/, and runs the test
# suites, the demo and the benchmarks.  It holds no build rules of its own;
# each folder's Makefile owns its build.
#
#   make            install missing Debian packages, build the core, the
#                   extension, the feeder and the tools
#   make install    install the extension into PostgreSQL 15, and axs-feeder,
#                   axs-broker and axs-loadgen into $(PREFIX)/bin
#   make test       build, install, run every suite (scripts/test.sh)
#   make demo       build, install, run the demo (scripts/demo.sh)
#   make bench      build, install, run the benchmarks (bench/run.sh)
#   make clean      remove build output and the scratch clusters in .scratch/

TOP := $(abspath $(dir $(lastword $(MAKEFILE_LIST))))
PG_CONFIG ?= /usr/lib/postgresql/15/bin/pg_config
PREFIX ?= /usr/local


.PHONY: all deps install test demo bench clean help

all: deps
	$(MAKE) -C core
	$(MAKE) -C extension PG_CONFIG=$(PG_CONFIG)
	$(MAKE) -C feeder
	$(MAKE) -C tools

deps:
	@$(TOP)/scripts/install-deps.sh

install: all
	$(MAKE) -C extension PG_CONFIG=$(PG_CONFIG) install
	$(MAKE) -C feeder install PREFIX=$(PREFIX)
	$(MAKE) -C tools install PREFIX=$(PREFIX)

test: install
	$(TOP)/scripts/test.sh

demo: install
	$(TOP)/scripts/demo.sh

bench: install
	$(TOP)/bench/run.sh

clean:
	@for dir in $(TOP)/.scratch/*/; do \
		if [ -f "$$dir/data/postmaster.pid" ]; then $(TOP)/scripts/cluster.sh stop "$$dir"; fi; \
	done
	rm -rf $(TOP)/.scratch
	$(MAKE) -C extension PG_CONFIG=$(PG_CONFIG) clean
	$(MAKE) -C feeder clean
	$(MAKE) -C tools clean
	$(MAKE) -C core clean
	$(MAKE) -C tests/unit clean
	$(MAKE) -C bench clean

help:
	@sed -n '/^#   make/p' $(TOP)/Makefile | sed 's/^# *//'
