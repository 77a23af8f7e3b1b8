# Two commands set everything up on a fresh Debian/Ubuntu machine:
#   make run    simulate a day of Almaty through a private broker into the gateway; outputs in out/
#   make test   build and run the test suite against real brokers
SHELL := /bin/bash
SWIFT ?= swift
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
# Debian packages the build and the tests need: the libmosquitto headers, the broker the tool
# starts, pkg-config to find the library, openssl to make test certificates, iproute2 (ss) to see the sockets,
# postgresql for the PostgreSQL store's tests (they start a server of their own), nats-server
# for the clustered broker's test (a three-node cluster of its own).
PACKAGES := libmosquitto-dev mosquitto mosquitto-clients pkg-config openssl iproute2 postgresql nats-server

.PHONY: deps build release run test bench fuzz clean cluster

deps:
	@missing=""; \
	for p in $(PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
		echo "installing:$$missing"; \
		$(SUDO) apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq $$missing; \
	fi

	@# Python's jsonschema checks the published contract in the tests: Debian's package, or pip
	@# where the python3 on the path is not Debian's.
	@python3 -c 'import jsonschema' 2>/dev/null || \
		( $(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq python3 python3-jsonschema && python3 -c 'import jsonschema' ) 2>/dev/null || \
		python3 -m pip install -q jsonschema

build: deps
	$(SWIFT) build

release: deps
	$(SWIFT) build -c release

run: release
	$(SWIFT) run -c release smartcity run Scenarios/almaty.yaml --out out

test: deps
	ulimit -n 20000 2>/dev/null || ulimit -n $$(ulimit -Hn); $(SWIFT) build --build-tests && $(SWIFT) test --skip-build
	.build/debug/SenMLFuzz Tests/Corpus/payloads Tests/Corpus/http

# libFuzzer on the SenML reader and the topic parser, seeded with the bad-input corpus; the
# inputs it finds stay in .build/fuzz-corpus, a failing one is saved as .build/fuzz-crash-*.
FUZZ_SECONDS ?= 300
fuzz: deps
	$(SWIFT) build -c release --product SenMLFuzz --build-path .build/fuzz -Xswiftc -sanitize=fuzzer,address -Xswiftc -DFUZZING
	mkdir -p .build/fuzz-corpus
	for d in Tests/Corpus/payloads/*/; do for f in $$d*.json; do cp "$$f" ".build/fuzz-corpus/$$(basename $$d)-$$(basename $$f)"; done; done
	n=0; while IFS=$$'\t' read -r outcome topic; do [[ $$outcome == \#* ]] && continue; n=$$((n+1)); printf '%s' "$$topic" > .build/fuzz-corpus/topic-$$n; done < Tests/Corpus/topics.tsv
	.build/fuzz/release/SenMLFuzz .build/fuzz-corpus -max_total_time=$(FUZZ_SECONDS) -max_len=8192 -print_final_stats=1 -artifact_prefix=.build/fuzz-

# A three-node NATS cluster with JetStream and MQTT on 1884, 1885 and 1886, until Ctrl-C.
cluster: deps
	Scripts/nats-cluster.sh .build/nats-cluster

bench: release
	$(SWIFT) run -c release smartcity bench mqtt --messages 200000
	$(SWIFT) run -c release smartcity bench sim
	$(SWIFT) run -c release smartcity bench gateway
	$(SWIFT) run -c release smartcity bench overload

clean:
	rm -rf .build
