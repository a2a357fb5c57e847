# wildduck-c: plain GNU make, no autotools.
#   make            build everything into build/
#   make check      unit, store and end-to-end tests
#   make check SANITIZE=1   the same under ASan+UBSan (objects in build-san/)
#   make run        start the suite in the foreground with conf/dev.yaml
#   make install PREFIX=/usr DESTDIR=/tmp/x
#   make fuzz FUZZ_SECONDS=60   every libFuzzer target (make -j2 fuzz: two at a time)
#   make valgrind   memcheck of a short e2e session
#   make bench      every load generator, one table

PREFIX     ?= /usr/local
BINDIR     ?= $(PREFIX)/bin
SBINDIR    ?= $(PREFIX)/sbin
LIBEXECDIR ?= $(PREFIX)/lib/wildduck
MANDIR     ?= $(PREFIX)/share/man
SYSCONFDIR ?= $(if $(filter /usr,$(PREFIX)),/etc,$(PREFIX)/etc)
UNITDIR    ?= $(PREFIX)/lib/systemd/system
DESTDIR    ?=

ifeq ($(SANITIZE),1)
BUILD ?= build-san
SAN_FLAGS = -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
else
BUILD ?= build
SAN_FLAGS =
endif

CC  ?= cc
OPT ?= -O2 -g
PKGS = libevent_core libevent_extra libevent_openssl libevent_pthreads openssl \
       yaml-0.1 sqlite3 libmongoc-1.0 libbson-1.0 hiredis zlib libzstd libidn2 \
       jansson libcrypt libargon2 libcurl
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   := $(shell pkg-config --libs $(PKGS) 2>/dev/null)
CHECK_LIBS := $(shell pkg-config --libs check 2>/dev/null)

WD_CFLAGS = -std=c17 -D_GNU_SOURCE -Wall -Wextra -Werror -Wshadow -Wno-unused-parameter \
	    $(OPT) $(SAN_FLAGS) -MMD -MP -Ilib $(PKG_CFLAGS) \
	    -DWD_LIBEXECDIR='"$(LIBEXECDIR)"' -DWD_SYSCONFDIR='"$(SYSCONFDIR)"' $(CFLAGS)
WD_LDFLAGS = $(SAN_FLAGS) $(LDFLAGS)
# --as-needed: each binary keeps only the libraries it really calls.
WD_LIBS = -Wl,--as-needed $(PKG_LIBS) -lunistring -lpthread -lm

# Daemons: wd-<dir> built from <dir>/*.c; their non-main objects also go
# into an archive so unit tests can link a daemon's modules.
DAEMONS := $(sort $(patsubst %/main.c,%,$(wildcard imap/main.c pop3/main.c lmtp/main.c api/main.c auth/main.c indexer/main.c)))

LIB_SRC   := $(wildcard lib/*.c lib/*/*.c)
LIB_OBJ   := $(LIB_SRC:%.c=$(BUILD)/%.o)
LIBWD     := $(BUILD)/libwd.a

MASTER_SRC := $(filter-out master/wdctl.c master/wdctl_import.c,$(wildcard master/*.c))
MASTER_OBJ := $(MASTER_SRC:%.c=$(BUILD)/%.o)

UNIT_SRC  := $(wildcard t/unit/test_*.c)
UNIT_BIN  := $(UNIT_SRC:t/unit/%.c=$(BUILD)/t/unit/%)
STORE_SRC := $(wildcard t/store/*.c)
STORE_BIN := $(if $(STORE_SRC),$(BUILD)/t/store/store_contract)
BENCH_SRC := $(wildcard t/bench/*.c)
BENCH_BIN := $(BENCH_SRC:t/bench/%.c=$(BUILD)/t/bench/%)

DAEMON_BINS := $(DAEMONS:%=$(BUILD)/wd-%)
DAEMON_ARS  := $(DAEMONS:%=$(BUILD)/libwd-%.a)
BINS := $(BUILD)/wildduck $(BUILD)/wdctl $(DAEMON_BINS)

.PHONY: all deps check check-unit check-e2e run install clean fuzz fuzz-build bench valgrind tests mongo-test-server
all: $(BINS)

tests: $(UNIT_BIN) $(STORE_BIN) $(BENCH_BIN)

$(BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(WD_CFLAGS) -c $< -o $@

$(LIBWD): $(LIB_OBJ)
	@rm -f $@
	ar rcs $@ $^

$(BUILD)/wildduck: $(MASTER_OBJ) $(LIBWD)
	$(CC) $(WD_LDFLAGS) -o $@ $^ $(WD_LIBS)

$(BUILD)/wdctl: $(BUILD)/master/wdctl.o $(BUILD)/master/wdctl_import.o $(LIBWD)
	$(CC) $(WD_LDFLAGS) -o $@ $^ $(WD_LIBS)

define daemon_rules
$(1)_OBJ := $$(patsubst %.c,$(BUILD)/%.o,$$(wildcard $(1)/*.c))
$(BUILD)/wd-$(1): $$($(1)_OBJ) $(LIBWD)
	$$(CC) $$(WD_LDFLAGS) -o $$@ $$^ $$(WD_LIBS)
$(BUILD)/libwd-$(1).a: $$(filter-out $(BUILD)/$(1)/main.o,$$($(1)_OBJ))
	@rm -f $$@
	ar rcs $$@ $$^
endef
$(foreach d,$(DAEMONS),$(eval $(call daemon_rules,$(d))))

$(BUILD)/t/unit/%: t/unit/%.c $(DAEMON_ARS) $(LIBWD)
	@mkdir -p $(dir $@)
	$(CC) $(WD_CFLAGS) $(WD_LDFLAGS) -It/unit -o $@ $< $(DAEMON_ARS) $(LIBWD) $(CHECK_LIBS) $(WD_LIBS)

$(BUILD)/t/store/store_contract: $(STORE_SRC) $(LIBWD)
	@mkdir -p $(dir $@)
	$(CC) $(WD_CFLAGS) $(WD_LDFLAGS) -It/store -o $@ $(STORE_SRC) $(LIBWD) $(CHECK_LIBS) $(WD_LIBS)

$(BUILD)/t/bench/%: t/bench/%.c $(LIBWD)
	@mkdir -p $(dir $@)
	$(CC) $(WD_CFLAGS) $(WD_LDFLAGS) -o $@ $< $(LIBWD) $(WD_LIBS)

# Debian packages the suite builds against and tests with.
DEB_PKGS = gcc make pkg-config python3 libssl-dev libevent-dev libmongoc-dev libbson-dev \
	   libhiredis-dev zlib1g-dev libidn2-dev libyaml-dev check libsqlite3-dev \
	   libunistring-dev libjansson-dev libcrypt-dev libargon2-dev libzstd-dev libcurl4-openssl-dev \
	   redis-server sqlite3 openssl fetchmail isync valgrind clang libclang-rt-14-dev
deps:
	@missing=$$(dpkg-query -W -f='$${Package} $${Status}\n' $(DEB_PKGS) 2>/dev/null | \
		awk '$$4 != "installed" {print $$1}'; \
		for p in $(DEB_PKGS); do dpkg-query -W $$p >/dev/null 2>&1 || echo $$p; done); \
	missing=$$(echo $$missing | tr ' ' '\n' | sort -u | tr '\n' ' '); \
	if [ -z "$${missing% }" ]; then exit 0; fi; \
	if [ "$$(id -u)" = 0 ]; then \
		echo "installing: $$missing"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing; \
	else \
		echo "missing packages; as root run: apt-get install -y $$missing"; exit 1; \
	fi

check: deps
	$(MAKE) all tests
	BUILD=$(BUILD) python3 t/run_tests.py

check-unit: all tests
	BUILD=$(BUILD) python3 t/run_tests.py --unit

check-e2e: all tests
	BUILD=$(BUILD) python3 t/run_tests.py --e2e

run: deps
	$(MAKE) all
	@sh conf/dev-run.sh $(BUILD)

install: all
	install -d $(DESTDIR)$(SBINDIR) $(DESTDIR)$(LIBEXECDIR) $(DESTDIR)$(MANDIR)/man5 \
		$(DESTDIR)$(MANDIR)/man8 $(DESTDIR)$(SYSCONFDIR)/wildduck $(DESTDIR)$(UNITDIR)
	install -m 0755 $(BUILD)/wildduck $(BUILD)/wdctl $(DESTDIR)$(SBINDIR)/
	$(if $(DAEMON_BINS),install -m 0755 $(DAEMON_BINS) $(DESTDIR)$(LIBEXECDIR)/)
	install -m 0644 man/*.5 $(DESTDIR)$(MANDIR)/man5/
	install -m 0644 man/*.8 $(DESTDIR)$(MANDIR)/man8/
	[ -e $(DESTDIR)$(SYSCONFDIR)/wildduck/wildduck.yaml ] || \
		install -m 0640 conf/wildduck.yaml $(DESTDIR)$(SYSCONFDIR)/wildduck/wildduck.yaml
	sed -e 's|@SBINDIR@|$(SBINDIR)|g' -e 's|@SYSCONFDIR@|$(SYSCONFDIR)|g' \
		conf/systemd/wildduck.service > $(DESTDIR)$(UNITDIR)/wildduck.service

# libFuzzer targets: t/fuzz/fuzz_*.c, built with clang against an archive of
# lib/ compiled for fuzzing (build-fuzz/libwd.a), so each target links only
# the modules it calls.  A target that needs a daemon's sources lists them in
# FUZZ_EXTRA_<target> (e.g. FUZZ_EXTRA_fuzz_x = pop3/pop3_parse.c).
# `make fuzz FUZZ_SECONDS=N` runs every target N seconds (in parallel with
# -j); `make fuzz-<target>` runs one.  Seeds: t/fuzz/seeds/<target>/; the
# grown corpus and logs stay in build-fuzz/.
FUZZ_SECONDS ?= 60
FUZZ_CC ?= clang
FUZZ_SAN = -fsanitize=address,undefined -fno-sanitize-recover=undefined
FUZZ_CFLAGS = -std=c17 -D_GNU_SOURCE -g -O1 -fno-omit-frame-pointer $(FUZZ_SAN) -Ilib $(PKG_CFLAGS)
FUZZ_SRC := $(wildcard t/fuzz/fuzz_*.c)
FUZZ_NAMES := $(FUZZ_SRC:t/fuzz/%.c=%)
FUZZ_BIN := $(FUZZ_NAMES:%=build-fuzz/%)
FUZZ_LIB_OBJ := $(LIB_SRC:%.c=build-fuzz/obj/%.o)
build-fuzz/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer-no-link -MMD -MP -c $< -o $@
build-fuzz/libwd.a: $(FUZZ_LIB_OBJ)
	@rm -f $@
	ar rcs $@ $^
.SECONDEXPANSION:
build-fuzz/%: t/fuzz/%.c build-fuzz/libwd.a $$(FUZZ_EXTRA_$$*)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer -o $@ $< $(FUZZ_EXTRA_$*) \
		build-fuzz/libwd.a $(WD_LIBS)
fuzz-%: build-fuzz/%
	@n=$*; mkdir -p build-fuzz/corpus-$$n; \
	echo "fuzz: $$n for $(FUZZ_SECONDS)s"; \
	if ! build-fuzz/$$n -max_total_time=$(FUZZ_SECONDS) -print_final_stats=1 \
		-rss_limit_mb=2048 -artifact_prefix=build-fuzz/$$n- \
		build-fuzz/corpus-$$n $$( [ -d t/fuzz/seeds/$$n ] && echo t/fuzz/seeds/$$n ) \
		>build-fuzz/$$n.log 2>&1; then \
		tail -60 build-fuzz/$$n.log; echo "fuzz: $$n FAILED (build-fuzz/$$n.log)"; exit 1; \
	fi; \
	echo "fuzz: $$n ok, $$(sed -n 's/^stat::number_of_executed_units: *//p' build-fuzz/$$n.log) runs"
fuzz-build: $(FUZZ_BIN)
fuzz: $(FUZZ_NAMES:%=fuzz-%)

# The MongoDB-wire test server (FerretDB v1.24 embedded, SQLite backend):
# test-only, needs the Go toolchain and module proxy; always in build/.
# t/run_tests.py runs the store contract suite against it when it exists.
mongo-test-server: build/ferretdb-test
build/ferretdb-test: t/mongo/main.go t/mongo/go.mod t/mongo/go.sum
	@mkdir -p build
	cd t/mongo && go build -trimpath -o ../../build/ferretdb-test .

bench: all tests
	BUILD=$(BUILD) python3 t/bench/run.py

# Memcheck of a short e2e session: the master and every worker under
# valgrind (through WD_WORKER_WRAPPER); any error or definite leak fails.
valgrind: all tests
	BUILD=$(BUILD) python3 t/valgrind/session.py

clean:
	rm -rf build build-san build-fuzz

-include $(shell find $(BUILD) build-fuzz/obj -name '*.d' 2>/dev/null)
