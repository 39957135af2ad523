# jobreport: plain GNU Makefile. `make check` installs what it needs (scripts/install-deps.sh),
# then re-runs make so that pkg-config sees the freshly installed libraries.

PREFIX  ?= /usr/local
DESTDIR ?=
BUILD   ?= build
WERROR  ?= 1
CFLAGS  ?= -O2 -g
LDFLAGS ?=

# Quiet build lines; `make V=1` shows the full commands.
ifeq ($(V),1)
Q =
else
Q = @
endif

PKGS      = libpq libcurl libcrypto jansson expat
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   := $(shell pkg-config --libs $(PKGS) 2>/dev/null) -lcsv -lpthread
CMOCKA_LIBS := $(shell pkg-config --libs cmocka 2>/dev/null)

WARNINGS = -Wall -Wextra -Wformat=2 -Wshadow -Wstrict-prototypes -Wmissing-prototypes \
	-Wold-style-definition -Wvla -Wwrite-strings -Wpointer-arith -Wcast-qual -Wundef \
	-Wconversion -Wno-sign-conversion -Wimplicit-fallthrough -fno-common
ifeq ($(WERROR),1)
WARNINGS += -Werror
endif

VERSION := $(shell cat VERSION 2>/dev/null || echo 0.0.0)
ALL_CFLAGS = -std=c11 -D_GNU_SOURCE -DJR_VERSION='"$(VERSION)"' $(WARNINGS) $(PKG_CFLAGS) \
	-Isrc -Icmd -MMD -MP $(CFLAGS)

SRC  := $(sort $(wildcard src/*.c src/s3/*.c))
CMDS := $(sort $(wildcard cmd/*.c))
OBJ  := $(SRC:%.c=$(BUILD)/%.o)
CMD_OBJ := $(CMDS:%.c=$(BUILD)/%.o)
LIB  := $(BUILD)/libjr.a
BIN  := $(BUILD)/jobreport

UNIT_SRC   := $(sort $(wildcard tests/unit/test_*.c))
UNIT_BINS  := $(UNIT_SRC:tests/unit/%.c=$(BUILD)/tests/%)
ITEST_SRC  := $(sort $(wildcard tests/integration/*.c))
ITEST_BINS := $(ITEST_SRC:tests/integration/%.c=$(BUILD)/tests/integration/%)
MOCK_SRC   := $(sort $(wildcard tests/mocks/*.c))
MOCK_OBJ   := $(MOCK_SRC:%.c=$(BUILD)/%.o)

# Per-test extra link flags (libpq mocks by --wrap) and the mock objects a test links (MOCKS_<test>;
# other tests link none). Tests link the objects they use from libjr.a. test_pg wraps every PQ*
# function src/pg.c calls: one left out would reach the real libpq with a mock connection.
LDFLAGS_test_pg = \
	-Wl,--wrap=PQconnectdbParams,--wrap=PQstatus,--wrap=PQerrorMessage,--wrap=PQfinish \
	-Wl,--wrap=PQsetNoticeProcessor,--wrap=PQsendQuery,--wrap=PQsendQueryParams,--wrap=PQisBusy \
	-Wl,--wrap=PQconsumeInput,--wrap=PQsocket,--wrap=PQgetResult,--wrap=PQresultStatus \
	-Wl,--wrap=PQresultErrorField,--wrap=PQresultErrorMessage,--wrap=PQntuples,--wrap=PQgetvalue \
	-Wl,--wrap=PQgetisnull,--wrap=PQclear,--wrap=PQgetCopyData,--wrap=PQsetnonblocking \
	-Wl,--wrap=PQfreemem,--wrap=PQgetCancel,--wrap=PQcancel,--wrap=PQfreeCancel,--wrap=PQescapeLiteral
MOCKS_test_pg   = $(BUILD)/tests/mocks/mock_libpq.o
# Built through the test pattern rule only: keep them (not intermediate files to delete).
.SECONDARY: $(MOCK_OBJ)

.PHONY: all check static-checks deps check-unit check-cli asan demo bench install uninstall clean \
	check-headers check-format format man-lint lint

all: $(BIN) jobreport

jobreport: $(BIN)
	ln -sf $(BIN) $@

$(BIN): $(CMD_OBJ) $(LIB)
	@echo "  LINK    $@"
	$(Q)$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $(CMD_OBJ) $(LIB) $(PKG_LIBS)

$(LIB): $(OBJ)
	@rm -f $@
	$(Q)ar rcs $@ $(OBJ)

$(BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	@echo "  CC      $<"
	$(Q)$(CC) $(ALL_CFLAGS) -c -o $@ $<

$(BUILD)/tests/%: tests/unit/%.c $(LIB) $(MOCK_OBJ)
	@mkdir -p $(dir $@)
	@echo "  CC      $<"
	$(Q)$(CC) $(ALL_CFLAGS) -Itests -o $@ $< $(MOCKS_$*) $(LDFLAGS_$*) $(LDFLAGS) $(LIB) \
		$(PKG_LIBS) $(CMOCKA_LIBS)

# Integration test programs: run by the CLI tests against the live local servers.
$(BUILD)/tests/integration/%: tests/integration/%.c $(LIB)
	@mkdir -p $(dir $@)
	@echo "  CC      $<"
	$(Q)$(CC) $(ALL_CFLAGS) -Itests -o $@ $< $(LDFLAGS) $(LIB) $(PKG_LIBS) $(CMOCKA_LIBS)

# The one test command (README, .ci/run): dependencies, unit and CLI tests, then the same tests
# under AddressSanitizer + UndefinedBehaviorSanitizer.
check: deps
	$(MAKE) --no-print-directory static-checks
	$(MAKE) --no-print-directory all check-unit check-cli
	$(MAKE) --no-print-directory asan

# Formatting, self-contained headers, the man page and cppcheck: cheap, so every check runs them.
static-checks: check-format check-headers man-lint lint

deps:
	scripts/install-deps.sh

check-unit: $(UNIT_BINS)
	@fail=0; for t in $(UNIT_BINS); do \
		echo "== $$t"; \
		JR_TESTDATA=$(CURDIR)/tests/fixtures JR_SHARED=$(CURDIR)/../shared $$t || fail=1; \
	done; test $$fail = 0

check-cli: $(BIN) $(ITEST_BINS)
	JOBREPORT=$(CURDIR)/$(BIN) JR_TESTBIN=$(CURDIR)/$(BUILD)/tests tests/cli/run.sh

asan:
	$(MAKE) --no-print-directory BUILD=build-asan \
		CFLAGS="-O1 -g -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer" \
		LDFLAGS="-fsanitize=address,undefined" check-unit check-cli

demo: deps
	$(MAKE) --no-print-directory all
	scripts/demo.sh

bench: deps
	$(MAKE) --no-print-directory all
	scripts/bench.sh

check-headers:
	@for h in $(wildcard src/*.h src/s3/*.h cmd/*.h); do \
		echo "#include \"$$h\"" | $(CC) $(filter-out -MMD -MP,$(ALL_CFLAGS)) -x c -fsyntax-only -I. - || exit 1; \
	done

check-format:
	@clang-format --dry-run --Werror $(SRC) $(CMDS) $(wildcard src/*.h src/s3/*.h cmd/*.h) $(UNIT_SRC) $(ITEST_SRC) \
		$(MOCK_SRC) $(wildcard tests/mocks/*.h)

format:
	clang-format -i $(SRC) $(CMDS) $(wildcard src/*.h src/s3/*.h cmd/*.h) $(UNIT_SRC) $(ITEST_SRC) \
		$(MOCK_SRC) $(wildcard tests/mocks/*.h)

man-lint:
	@mandoc -Tlint -Wwarning man/jobreport.1

lint:
	@cppcheck --enable=warning,style,performance,portability --std=c11 --error-exitcode=1 \
		--inline-suppr --quiet -D_GNU_SOURCE -Isrc -Icmd cmd src

install: $(BIN)
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/share/man/man1
	install -m 0755 $(BIN) $(DESTDIR)$(PREFIX)/bin/jobreport
	install -m 0644 man/jobreport.1 $(DESTDIR)$(PREFIX)/share/man/man1/jobreport.1

uninstall:
	rm -f $(DESTDIR)$(PREFIX)/bin/jobreport $(DESTDIR)$(PREFIX)/share/man/man1/jobreport.1

clean:
	rm -rf build build-asan jobreport

-include $(OBJ:.o=.d) $(CMD_OBJ:.o=.d) $(MOCK_OBJ:.o=.d)
