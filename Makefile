# ctrace-bpf build. `make` builds ./ctrace-bpf; `make demo` and `make test`
# first install any missing Debian packages (scripts/deps.sh).
CLANG ?= clang
BPFTOOL ?= bpftool
CC ?= gcc
PYTHON ?= python3
O := build

CFLAGS ?= -O2 -g
CFLAGS += -std=gnu11 -Wall -Wextra -Werror -Wno-unused-parameter \
	  -Wno-missing-field-initializers -D_GNU_SOURCE -I$(O) -Iuser -I.
LDLIBS += -lbpf -lelf -ldw -lz -lzstd
BPF_CFLAGS := -g -O2 -target bpf -mcpu=v3 -D__TARGET_ARCH_x86 -Wall -Werror -I$(O)

BPF_SRCS := $(wildcard bpf/*.bpf.c)
BPF_OBJS := $(patsubst bpf/%.bpf.c,$(O)/%.bpf.o,$(BPF_SRCS))
SKELS := $(patsubst bpf/%.bpf.c,$(O)/%.skel.h,$(BPF_SRCS))
# user/ is laid out as the pipeline (docs/architecture.md); one folder deep.
USER_SRCS := $(wildcard user/*.c user/*/*.c)
USER_OBJS := $(patsubst user/%.c,$(O)/user/%.o,$(USER_SRCS))
# Protobuf field numbers, named from the schemas the tests decode with.
PROTO_HDRS := $(O)/perfetto_fields.h $(O)/pprof_fields.h

.SECONDARY:
.PHONY: all clean deps demo test bench format vmlinux
all: ctrace-bpf

# Prefer the running kernel's BTF; the committed copy serves machines without it.
$(O)/vmlinux.h: vmlinux/vmlinux.h | $(O)
	@if [ -r /sys/kernel/btf/vmlinux ] && $(BPFTOOL) btf dump file /sys/kernel/btf/vmlinux format c >$@.tmp 2>/dev/null; then \
		mv $@.tmp $@; \
	else rm -f $@.tmp; cp vmlinux/vmlinux.h $@; fi

vmlinux:
	$(BPFTOOL) btf dump file /sys/kernel/btf/vmlinux format c >vmlinux/vmlinux.h

$(O):
	mkdir -p $@

$(O)/%.bpf.o: bpf/%.bpf.c bpf/*.h $(O)/vmlinux.h | $(O)
	$(CLANG) $(BPF_CFLAGS) -c $< -o $@

$(O)/%.skel.h: $(O)/%.bpf.o
	$(BPFTOOL) gen skeleton $< >$@.tmp && mv $@.tmp $@

$(O)/perfetto_fields.h: tests/proto/ctrace_perfetto.proto scripts/gen-proto-fields.py | $(O)
	$(PYTHON) scripts/gen-proto-fields.py --prefix PF -o $@ $<

$(O)/pprof_fields.h: tests/proto/profile.proto scripts/gen-proto-fields.py | $(O)
	$(PYTHON) scripts/gen-proto-fields.py --prefix PPROF -o $@ $<

# -MMD: each object depends on the headers it includes; the skeletons and
# field headers are generated first since no .d file names them before the
# first build.
$(O)/user/%.o: user/%.c | $(SKELS) $(PROTO_HDRS)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -MMD -MP -c $< -o $@

ctrace-bpf: $(USER_OBJS)
	$(CC) $(CFLAGS) $^ -o $@ $(LDLIBS)

-include $(USER_OBJS:.o=.d)

deps:
	@scripts/deps.sh

demo: deps
	@$(MAKE) --no-print-directory all
	@tests/demo.sh

test: deps
	@$(MAKE) --no-print-directory all
	@tests/run.sh

bench: deps
	@$(MAKE) --no-print-directory all
	@tests/bench/run.sh

format:
	clang-format -i bpf/*.c bpf/*.h user/*.c user/*/*.[ch] tests/workloads/*.c tests/go/*.c scripts/*.c

clean:
	rm -rf $(O) ctrace-bpf
