# Thin wrappers around the go command and test.sh.
.PHONY: test build dev fuzz docs

test:
	./test.sh

build:
	CGO_ENABLED=0 go build -o posthorn ./cmd/posthorn

dev:
	go run ./cmd/posthorn dev

docs:
	go generate ./internal/config
