# client.mk
#	Included by the Makefiles of what links the core library: feeder/,
#	tools/, tests/unit/ and bench/.  The including Makefile sets TOP (the
#	repository root, relative to it) first, and may set SRCDIR (where its
#	.c files are) and PROGRAMS (what "make install" installs).
#
# It gives them the core's include path and library, the rule that has
# core/Makefile bring the library up to date (the library's date then
# decides what relinks), and the conventions they share: compiler flags,
# objects in obj/, static libraries, installing programs.

CORE_DIR = $(TOP)/core
CORE_LIBRARY = $(CORE_DIR)/libaxscore.a
CORE_HEADERS = $(wildcard $(CORE_DIR)/*.h)
CORE_CPPFLAGS = -I$(CORE_DIR) $(shell pkg-config --cflags json-c)

CFLAGS ?= -std=gnu11 -O2 -g -Wall -Wextra -Werror -Wmissing-prototypes

DESTDIR ?=
PREFIX ?= /usr/local
BINDIR = $(DESTDIR)$(PREFIX)/bin

OBJDIR = obj

# The rules below are not the goal of a plain "make".
.DEFAULT_GOAL := all

.PHONY: FORCE

$(CORE_LIBRARY): FORCE
	$(MAKE) -C $(CORE_DIR)

$(OBJDIR):
	mkdir -p $@

# A static library of the objects its own rule lists as prerequisites.
%.a:
	rm -f $@
	$(AR) rcs $@ $^

ifdef SRCDIR
# Few headers: any change rebuilds every object.
$(OBJDIR)/%.o: $(SRCDIR)/%.c $(wildcard $(SRCDIR)/*.h) $(CORE_HEADERS) | $(OBJDIR)
	$(CC) $(CPPFLAGS) $(CFLAGS) -c -o $@ $<
endif

ifdef PROGRAMS
.PHONY: install
install: all
	install -d $(BINDIR)
	install -m 755 $(PROGRAMS) $(BINDIR)
endif
