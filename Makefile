# Two commands set everything up on a fresh Debian/Ubuntu machine:
#   make run    simulate a day of Almaty through a private broker into the gateway; outputs in out/
#   make test   build and run the test suite against real brokers
SHELL := /bin/bash
SWIFT ?= swift
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
# Debian packages the build and the tests need: the libmosquitto headers, the broker the tool
# starts, pkg-config to find the library, openssl to make test certificates.
PACKAGES := libmosquitto-dev mosquitto mosquitto-clients pkg-config openssl

.PHONY: deps build release run test bench clean

deps:
	@missing=""; \
	for p in $(PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
		echo "installing:$$missing"; \
		$(SUDO) apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq $$missing; \
	fi

build: deps
	$(SWIFT) build

release: deps
	$(SWIFT) build -c release

run: release
	$(SWIFT) run -c release smartcity run Scenarios/almaty.yaml --out out

test: deps
	ulimit -n 20000 2>/dev/null || ulimit -n $$(ulimit -Hn); $(SWIFT) build --build-tests && $(SWIFT) test --skip-build

bench: release
	$(SWIFT) run -c release smartcity bench mqtt --messages 200000
	$(SWIFT) run -c release smartcity bench sim
	$(SWIFT) run -c release smartcity bench gateway

clean:
	rm -rf .build
