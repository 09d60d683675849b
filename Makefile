# The two commands a newcomer needs:
#   make run    set everything up and run the assistant: case backend, action server, Rasa server
#               (embedded default: SQLite, local uploads, in-memory tracker, demo data)
#   make test   set everything up and run all tests (SQLite and the PostgreSQL on 127.0.0.1:5432)
#   make prod   production mode: PostgreSQL, Redis, several workers and Rasa instances; secrets from
#               the environment (README "Production mode")
SHELL := /bin/bash
VENV ?= .venv
PY := $(VENV)/bin/python
PORT ?= 8000

.PHONY: run run-backend prod test setup train migrate seed bench clean

setup:
	@./scripts/setup-services.sh
	@./scripts/setup-bot.sh

train: setup
	@./scripts/train.sh

migrate: setup
	@$(PY) -m backend.cli migrate

seed: migrate
	@$(PY) -m backend.cli seed-demo

run: seed train
	@$(PY) scripts/stack.py

prod: train
	@$(PY) scripts/prod.py $(PROD_ARGS)

run-backend: seed
	@echo ""
	@echo "Case backend:       http://127.0.0.1:$(PORT)/api/v1   (service token: dev-service-token)"
	@echo "API documentation:  http://127.0.0.1:$(PORT)/docs"
	@echo "Health:             http://127.0.0.1:$(PORT)/readyz"
	@echo ""
	@$(PY) -m backend.cli serve --port $(PORT)

test: setup
	@./scripts/test.sh

bench: setup
	@$(PY) bench/eligibility_http.py

clean:
	rm -rf var .pytest_cache
