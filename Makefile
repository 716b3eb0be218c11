# multihead — the two commands are `make demo` and `make test` (see README.md).
SHELL := /bin/bash
PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
MODEL_DIR ?= models
export TF_CPP_MIN_LOG_LEVEL ?= 2
export PYTHONUNBUFFERED := 1

.PHONY: help setup system-deps proto models demo serve test lint bench k8s tensorboard clean

help:
	@echo "make demo   - install, train+export the default models if models/ is empty, serve them"
	@echo "make test   - install and run the whole test suite"
	@echo "make models - train and export the default models into $(MODEL_DIR)/"
	@echo "make serve  - start the gateway on the models already in $(MODEL_DIR)/"
	@echo "make bench  - benchmarks (gateway vs in-process vs naive Flask)"
	@echo "make k8s    - render the Kubernetes overlays into build/k8s/"
	@echo "make clean  - remove build outputs (keeps .venv and models/)"

$(STAMP): pyproject.toml clients/python/pyproject.toml
	@command -v $(PYTHON) >/dev/null || { echo "Python 3.11 is required ($(PYTHON) not found)"; exit 1; }
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	# compat mode puts the checkout itself on sys.path (training, serving, tests)
	$(PY) -m pip install --quiet -e '.[test]' --config-settings editable_mode=compat
	$(PY) -m pip install --quiet -e clients/python --config-settings editable_mode=compat
	touch $(STAMP)

setup: $(STAMP) system-deps proto

system-deps:
	@bash scripts/install-system-deps.sh

proto: $(STAMP)
	$(PY) scripts/gen_proto.py serving/grpc/_gen clients/python/multihead_client/_proto

models: setup
	@if [ -z "$$(ls -A $(MODEL_DIR) 2>/dev/null)" ]; then \
		$(PY) -m training all --model-dir $(MODEL_DIR) --out runs; \
	else echo "$(MODEL_DIR)/ already holds models: $$(ls $(MODEL_DIR) | tr '\n' ' ')"; fi

demo: models
	$(PY) -m serving demo --model-dir $(MODEL_DIR)

serve: setup
	$(PY) -m serving --model-dir $(MODEL_DIR)

test: setup
	$(PY) -m pytest

lint: setup
	$(PY) -m ruff check training serving clients tests scripts

bench: setup
	$(PY) -m tests.bench

k8s: setup
	$(PY) -m serving.tfserving_config --defaults --out k8s/base/tfserving
	mkdir -p build/k8s
	kubectl kustomize k8s/overlays/gpu > build/k8s/gpu.yaml
	kubectl kustomize k8s/overlays/cpu > build/k8s/cpu.yaml
	@echo "rendered build/k8s/gpu.yaml and build/k8s/cpu.yaml"

tensorboard: setup
	$(VENV)/bin/tensorboard --logdir runs --host 127.0.0.1 --port 6006

clean:
	rm -rf build .pytest_cache .ruff_cache
	find . -name __pycache__ -prune -exec rm -rf {} +
	rm -rf clients/python/build
	rm -f serving/grpc/_gen/*_pb2*.py* clients/python/multihead_client/_proto/*_pb2*.py*
